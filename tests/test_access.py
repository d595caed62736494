"""Who may see what, and who is stored: members-only meetings, group chatter, the flood limit."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.events import Chat, Sender, TextReceived
from bot.settings import Settings
from samtal.web import build_app
from storage import feeds as storage_feeds
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


# --- Calendar feeds: the public one lists open meetings, members have their own ---------------

FEED = re.compile(r"https://samtal\.example\.org/calendar/me/([A-Za-z0-9_-]+)\.ics")
MEMBERS_LINK = b"sandviken-medlemsmote"


async def _get(console: Console, path: str) -> tuple[int, bytes]:
    app = build_app(console.database.unit_of_work, console.clock)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path)
        return response.status, await response.read()


async def test_the_public_feed_lists_only_open_meetings(console: Console) -> None:
    status, data = await _get(console, "/calendar/sandviken.ics")
    assert status == 200
    assert "Bostäder för unga" in data.decode()
    assert "Medlemsmöte" not in data.decode() and MEMBERS_LINK not in data


def _token(output: str) -> str:
    found = FEED.findall(output)
    assert len(found) == 1, output
    return str(found[0])


async def test_kalender_says_kindly_when_the_web_server_is_off(console: Console) -> None:
    assert "inte påslagna" in await console.said("@anna: /kalender")


async def test_a_member_gets_a_personal_feed_that_can_be_renewed_and_stopped(
    console: Console,
) -> None:
    console.samtal.settings = Settings(calendar_url="https://samtal.example.org")
    # In the group the link goes privately; the group learns nothing.
    output = await console.run("@anna#allmant: /kalender")
    assert "-> #allmant" not in output and "Jag har svarat dig" not in output
    assert "#allmant: https" not in output and "/calendar/me/" not in output.split("-> anna")[0]
    token = _token(output)
    status, data = await _get(console, f"/calendar/me/{token}.ics")
    assert status == 200
    assert "Medlemsmöte: verksamhetsplan" in data.decode() and MEMBERS_LINK in data
    assert "Bostäder för unga" in data.decode()
    # Only a fingerprint is stored.
    async with console.database.unit_of_work() as uow:
        rows = (await uow.session.execute(sa.select(storage_feeds.calendar_feeds))).all()
    assert len(rows) == 1 and token not in str(rows[0])
    # Guests and strangers get no feed; a wrong or malformed token gets nothing.
    assert "för medlemmar" in await console.said("@david: /kalender")
    assert (await _get(console, f"/calendar/me/{token[:-1]}x.ics"))[0] == 404
    assert (await _get(console, "/calendar/me/..%2Fsandviken.ics"))[0] == 404
    # A member elsewhere sees the open meeting in their feed, not Sandviken's members' meeting.
    fatima = _token(await console.run("@fatima: /kalender"))
    status, data = await _get(console, f"/calendar/me/{fatima}.ics")
    assert status == 200 and MEMBERS_LINK not in data and b"Medlemsm" not in data
    # Asking again offers a new link, which replaces the old one.
    again = await console.said("@anna: /kalender")
    assert "Du har redan en kalenderlänk" in again and not FEED.search(again)
    renewed = _token(await console.run("@anna: [Gör en ny länk]"))
    assert renewed != token
    assert (await _get(console, f"/calendar/me/{token}.ics"))[0] == 404
    assert (await _get(console, f"/calendar/me/{renewed}.ics"))[0] == 200
    # Stopping it, and erasure, revoke it.
    assert "fungerar inte längre" in await console.said("@anna: [Stäng av länken]")
    assert (await _get(console, f"/calendar/me/{renewed}.ics"))[0] == 404
    last = _token(await console.run("@anna: /kalender"))
    assert (await _get(console, f"/calendar/me/{last}.ics"))[0] == 200
    await console.run("@anna: /glom_mig\n@anna: [Ja, radera allt]")
    assert (await _get(console, f"/calendar/me/{last}.ics"))[0] == 404
    async with console.database.unit_of_work() as uow:
        assert await uow.feeds.of_person(await _id(uow, "fatima")) is not None
        assert len((await uow.session.execute(sa.select(storage_feeds.calendar_feeds))).all()) == 1


async def _id(uow: Any, name: str) -> int:
    person = await uow.people.by_identity("console", name)
    assert person is not None and person.id is not None
    return int(person.id)


def test_the_feed_address_comes_from_the_web_configuration() -> None:
    import pytest

    from samtal.config import ConfigError, parse_config
    from samtal.runtime import core_settings

    def url(web: dict[str, Any]) -> str:
        return core_settings(parse_config({"web": web}, "test"), flood_limit=False).calendar_url

    assert url({}) == ""  # no web server: /kalender says so
    assert url({"enabled": True, "port": 8081}) == "http://127.0.0.1:8081"
    public = {"enabled": True, "public_url": "https://samtal.example.org"}
    assert url(public) == "https://samtal.example.org"
    with pytest.raises(ConfigError, match="public_url"):  # the address carries a secret
        parse_config({"web": {"public_url": "http://samtal.example.org"}}, "test")
