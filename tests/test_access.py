"""Who may see what, and who is stored: members-only meetings, group chatter, the flood limit."""

from __future__ import annotations

import sqlalchemy as sa

from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.events import Chat, Sender, TextReceived
from bot.settings import Settings
from storage import tables
from storage.database import Database
from tests.conftest import START, Console
from tests.test_delivery import RecordingGateway

# --- Group chatter stores no one ----------------------------------------------------------


async def _count(database: Database, table: sa.Table) -> int:
    async with database.unit_of_work() as uow:
        return int(await uow.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_stranger_chatting_in_a_group_is_not_stored(console: Console) -> None:
    people = await _count(console.database, tables.people)
    identities = await _count(console.database, tables.identities)
    output = await console.run("@zed#allmant: Hej allihop, när ses vi nästa gång?")
    assert "-> " not in output  # the bot has nothing to say to chatter
    assert await _count(console.database, tables.people) == people
    assert await _count(console.database, tables.identities) == identities
    async with console.database.unit_of_work() as uow:
        assert await uow.people.by_identity("console", "zed") is None


async def test_a_stranger_who_uses_the_bot_in_a_group_is_stored(console: Console) -> None:
    await console.run("@zed#allmant: /hjalp")
    async with console.database.unit_of_work() as uow:
        assert await uow.people.by_identity("console", "zed") is not None


# --- The flood limit counts only what the bot handles ----------------------------------------


def _line(number: int, who: str, text: str, chat: Chat) -> TextReceived:
    return TextReceived(f"f{number}", Sender("console", who, who.capitalize()), chat, text)


async def test_group_chatter_does_not_count_towards_the_flood_limit(database: Database) -> None:
    clock = VirtualClock(START)
    gateway = RecordingGateway()
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        {"console": gateway},
        Settings(flood_limit=25),
    )
    await samtal.start()
    from bot.demo.seed import seed_demo

    await seed_demo(database.unit_of_work, clock)
    group = Chat("console", "allmant", False, "allmant")
    for number in range(40):  # a lively discussion
        await samtal.handle(_line(number, "anna", f"Jag tycker {number}", group))
    await samtal.handle(_line(100, "anna", "/moten", group))
    await samtal.run_due()
    texts = [text for _chat, text in gateway.sent]
    assert not any("väldigt mycket" in text for text in texts), texts
    assert any("Bostäder för unga" in text for text in texts), texts
    # Commands still count: a flood of them is still stopped.
    for number in range(200, 230):
        await samtal.handle(_line(number, "anna", "/hjalp", group))
    await samtal.run_due()
    assert sum("väldigt mycket" in text for _chat, text in gateway.sent) == 1
