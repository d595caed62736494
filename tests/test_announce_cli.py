"""`samtal announce`: the figures and a question first, then queued through the same code as
/utskick, progress until done, and a clear word when nothing is being delivered."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from adapters.console.app import ConsoleGateway
from bot.announcements.model import AnnouncementStatus
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.demo.seed import seed_demo
from bot.domain.people import Affiliation, Consent, Identity, Person, Status
from bot.settings import Settings
from samtal import announce_cli
from samtal.usage import exit_status
from storage.database import Database
from tests.conftest import START
from tests.test_cli import samtal


def test_it_asks_first_then_queues_for_the_bot_to_send(env: dict[str, str]) -> None:
    assert samtal(env, "demo").returncode == 0
    text = "Medlemsmöte torsdag kl. 18!"
    declined = samtal(
        env, "announce", "--org", "sandviken", "--text", text, "--audience", "members", stdin="n\n"
    )
    assert declined.returncode == 1
    assert declined.stdout.splitlines() == [
        "Announcement from Sandvikens arbetarekommun to members in it and the organisations "
        "below it:",
        "  recipients: 5",
        "  console: 5 private messages",
        "  sending takes less than a minute at the platforms' pace",
        "Send it? [y/N] Nothing was sent.",
    ]
    queued = samtal(
        env,
        "announce",
        "--org",
        "sandviken",
        "--text",
        text,
        "--audience",
        "members",
        "--yes",
        "--no-wait",
    )
    assert queued.returncode == 0, queued.stderr
    assert "Queued announcement #1: 5 private messages; 0 not reachable." in queued.stdout
    # The bot sends it when it runs (here a transcript replay, whose clock then moves on).
    delivered = samtal(env, "console", "--script", "-", stdin="@clock: +2m\n")
    assert delivered.stdout.count(f"Utskick från Sandvikens arbetarekommun\n\n   {text}") == 4
    assert (
        f"-> oliver: Announcement from Sandvikens arbetarekommun\n\n   {text}" in delivered.stdout
    )
    assert "-> david:" not in delivered.stdout  # a guest


async def _database(tmp_path: Path) -> tuple[Database, VirtualClock]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'samtal.db'}")
    await database.upgrade()
    clock = VirtualClock(START)
    await seed_demo(database.unit_of_work, clock)
    return database, clock


def _args(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "org": "sandviken",
        "text": "Hej!",
        "audience": "members",
        "interest": None,
        "yes": True,
        "no_wait": False,
    }
    values.update(changes)
    return argparse.Namespace(**values)


async def test_it_prints_progress_until_the_bot_has_delivered_everything(tmp_path: Path) -> None:
    database, clock = await _database(tmp_path)
    lines: list[str] = []
    watching = asyncio.create_task(
        announce_cli.run(
            database,
            clock,
            Settings(),
            _args(),
            write=lines.append,
            poll=0.01,
            print_every=0.0,
            stall_after=0.3,
        )
    )
    while not any("Nothing has been delivered" in line for line in lines):
        await asyncio.sleep(0.02)  # no bot runs yet: the command says so, and waits
    gateway = ConsoleGateway(lambda line: None)
    bot = Samtal(database.unit_of_work, clock, build_registry(), {"console": gateway})
    await bot.start()
    await bot.run_due()  # the bot starts: it delivers what the command queued
    assert await asyncio.wait_for(watching, 5) == 0
    assert lines[-1] == "Done. Delivered: 5; unreachable: 0."
    assert "Sent 0 of 5, less than a minute left." in lines
    assert sorted(d.chat_id for d in gateway.delivered) == [
        "anna",
        "bertil",
        "cecilia",
        "erik",
        "oliver",
    ]
    async with database.unit_of_work() as uow:
        announcement = await uow.announcements.get(1)
        assert announcement is not None and announcement.status is AnnouncementStatus.DONE
        assert announcement.author_id is None  # from the command line
    await database.dispose()


async def test_ctrl_c_stops_the_watching_not_the_sending(tmp_path: Path) -> None:
    database, clock = await _database(tmp_path)
    async with database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        for number in range(3):
            person = await uow.people.add(Person(f"T{number}", status=Status.MEMBER))
            assert person.id is not None
            await uow.people.add_identity(Identity(person.id, "telegram", f"{100 + number}"))
            await uow.people.affiliate(Affiliation(person.id, sandviken.id, since=START))
            await uow.people.add_consent(Consent(person.id, "1", given_at=START))
        await uow.commit()
    lines: list[str] = []
    settings = Settings(paid_broadcast_orgs=("sandviken",), paid_broadcast_min_recipients=3)
    watching = asyncio.create_task(
        announce_cli.run(
            database,
            clock,
            settings,
            _args(audience=None),
            write=lines.append,
            poll=0.01,
            stall_after=0.2,
        )
    )
    while not any("Ctrl-C stops watching" in line for line in lines):
        await asyncio.sleep(0.02)
    watching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watching
    assert "  telegram: 3 private messages" in lines
    assert (
        "  paid broadcast: 0.3 Telegram Stars (0.1 Star a message, up to 1000 messages a second)"
        in lines
    )
    assert lines[-1] == "Stopped watching. The messages stay queued and `samtal run` sends them."
    async with database.unit_of_work() as uow:
        announcement = await uow.announcements.get(1)
        assert announcement is not None
        progress = await uow.announcements.progress(announcement)
    assert (progress.pending, progress.sent) == (9, 0)  # six demo people and three on Telegram
    await database.dispose()


async def test_bad_input_is_refused_before_anything_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database, clock = await _database(tmp_path)
    for changes, problem in (
        ({"org": "nowhere"}, "no organisation with the slug 'nowhere'; see `samtal orgs`"),
        ({"text": " \n "}, "the announcement's text is empty"),
        ({"text": "x" * 3001}, "the text has 3001 characters; an announcement can have at most"),
        ({"interest": "klimat"}, "give --audience or --interest, not both"),
        ({"audience": None, "interest": "astrology"}, "no interest 'astrology'; choose one of"),
        ({"text": "-", "yes": False}, "--text - reads the text from standard input"),
    ):
        lines: list[str] = []
        assert (
            await exit_status(
                announce_cli.run(database, clock, Settings(), _args(**changes), write=lines.append)
            )
            == 2
        )
        assert problem in capsys.readouterr().err
        assert lines == []
    async with database.unit_of_work() as uow:
        assert await uow.announcements.get(1) is None
    lines = []
    answers: list[str] = []

    async def no(question: str) -> bool:
        answers.append(question)
        return False

    assert (
        await announce_cli.run(
            database,
            clock,
            Settings(),
            _args(yes=False, audience=None, interest="Klimat"),
            write=lines.append,
            confirm=no,
        )
        == 1
    )
    assert lines == [
        "Announcement from Sandvikens arbetarekommun to people interested in Climate in it "
        "and the organisations below it:",
        "  recipients: 0",
        "  sending takes less than a minute at the platforms' pace",
        "No one in that audience can get a message from the bot yet. Nothing was sent.",
    ]
    assert answers == []
    await database.dispose()
