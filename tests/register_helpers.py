"""Shared by the member register's tests: importing in-process and reading the outbox."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.context import Effects
from bot.messages import OutgoingMessage
from bot.register.model import ImportReport, RegisterEntry
from bot.register.reader import read_register
from bot.register.service import JoinLinks, import_register
from bot.settings import Settings
from storage import tables
from storage.register import register_entries
from tests.conftest import Console

KEY = b"a test key"
LINKS = JoinLinks("samtal_bot", "https://discord.gg/samtal")
DEMO = Path(__file__).resolve().parent.parent / "bot/demo/register.csv"
HEADER = "medlemsnummer,förnamn,efternamn,e-post,förening,inträdesdatum,betald t.o.m."


async def import_file(
    console: Console,
    data: bytes | str,
    *,
    name: str = "register.csv",
    org: str = "sandviken",
    full: bool = True,
    commit: bool = True,
    settings: Settings | None = None,
) -> ImportReport:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    async with console.database.unit_of_work() as uow:
        found = await uow.orgs.by_slug(org)
        assert found is not None
        report = await import_register(
            Effects(uow, console.clock, settings),
            found,
            read_register(raw, name),
            key=KEY,
            links=LINKS,
            full=full,
        )
        if commit:
            await uow.commit()
    return report


async def import_demo(console: Console) -> ImportReport:
    return await import_file(console, DEMO.read_bytes())


async def outbox(console: Console, platform: str = "email") -> list[tuple[str, str]]:
    """(chat id, plain text) of every message queued for a platform, oldest first."""
    o = tables.outbox.c
    async with console.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(o.chat_id, o.payload).where(o.platform == platform).order_by(o.id)
        )
        return [(chat, OutgoingMessage.from_json(payload).plain_text) for chat, payload in rows]


async def entry(console: Console, number: str) -> RegisterEntry:
    async with console.database.unit_of_work() as uow:
        query = sa.select(RegisterEntry).where(register_entries.c.member_number == number)
        found = (await uow.session.scalars(query)).first()
    assert found is not None
    return found
