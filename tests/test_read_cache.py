"""The read cache (storage/read_cache.py): a press reads organisations, channels and button
actions from it, and still sees every change committed before it began, whether another
unit of work, another process on the same database, a purge or an erasure made it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.actions import STALE_BUTTON
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.context import Context, Effects
from bot.core import Samtal
from bot.demo.seed import seed_demo
from bot.domain.channels import EMAIL
from bot.domain.delivery import ButtonAction, ProcessedEvent
from bot.domain.organisations import Channel
from bot.domain.people import Affiliation, Identity
from bot.events import ButtonPressed, Chat, Sender
from bot.i18n import Translator
from bot.messages import Action, Button, message
from bot.registry import Access
from storage import tables
from storage.database import Database

PLATFORM = "telegram"
GROUP = "-100777"


@dataclass
class Seen:
    """What the test action saw of its context, press by press."""

    orgs: list[str | None] = field(default_factory=list)
    lineages: list[list[str]] = field(default_factory=list)


@dataclass
class World:
    database: Database
    samtal: Samtal
    clock: VirtualClock
    seen: Seen
    serial: itertools.count[int]

    async def press(self, token: str, *, who: str = "501", group: bool = True) -> str | None:
        chat = Chat(PLATFORM, GROUP, is_private=False) if group else Chat(PLATFORM, who, True)
        sender = Sender(PLATFORM, who, f"Medlem {who}", language="sv")
        event = ButtonPressed(f"e{next(self.serial)}", sender, chat, token)
        return (await self.samtal.handle(event)).toast

    async def button(self, token: str, *, person_id: int | None = None, group: bool = True) -> None:
        async with self.database.unit_of_work() as uow:
            chat_id = GROUP if group else "501"
            await uow.buttons.add(
                ButtonAction(token, "test.look", [], PLATFORM, chat_id, self.clock.now(), person_id)
            )
            await uow.commit()

    async def org_id(self, slug: str) -> int:
        async with self.database.unit_of_work() as uow:
            org = await uow.orgs.by_slug(slug)
            assert org is not None and org.id is not None
            return org.id


@pytest.fixture
async def world(database: Database, clock: VirtualClock) -> AsyncIterator[World]:
    seen = Seen()

    async def look(ctx: Context, _args: tuple[Any, ...]) -> None:
        seen.orgs.append(ctx.org.name if ctx.org else None)
        assert ctx.org is None or ctx.org.id is not None
        lineage = await ctx.uow.orgs.lineage(ctx.org.id) if ctx.org and ctx.org.id else []
        seen.lineages.append([org.name for org in lineage])

    registry = build_registry()
    registry.action("test.look", look, Access.ANYONE)
    samtal = Samtal(database.unit_of_work, clock, registry)
    await seed_demo(database.unit_of_work, clock)
    world = World(database, samtal, clock, seen, itertools.count())
    sandviken = await world.org_id("sandviken")
    async with database.unit_of_work() as uow:
        await uow.orgs.bind_channel(Channel(PLATFORM, GROUP, sandviken, "Sandviken"))
        await uow.commit()
    yield world


async def _twice(world: World, token: str, **kwargs: Any) -> None:
    """Two presses: the first by a new person (no cache), the second fills the cache."""
    await world.press(token, **kwargs)
    await world.press(token, **kwargs)


async def _rename(database: Database, slug: str, name: str) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            sa.update(tables.organisations)
            .where(tables.organisations.c.slug == slug)
            .values(name=name)
        )
        await uow.commit()


@pytest.mark.parametrize("elsewhere", [False, True], ids=["unit of work", "other process"])
async def test_a_renamed_organisation_is_seen_by_the_next_press(
    world: World, database_url: str, elsewhere: bool
) -> None:
    await world.button("t1")
    await _twice(world, "t1")
    cached = world.database.read_cache
    sandviken = await world.org_id("sandviken")
    assert sandviken in cached.orgs, "the press should have filled the cache"
    assert world.seen.orgs[-1] == "Sandvikens arbetarekommun"
    # Another Database on the same file (or server) is what a CLI command or replica is.
    other = Database(database_url) if elsewhere else world.database
    try:
        await _rename(other, "sandviken", "Sandviken (nytt namn)")
        await _rename(other, "gavleborg", "Gävleborg (nytt namn)")
    finally:
        if elsewhere:
            await other.dispose()
    await world.press("t1")
    assert world.seen.orgs[-1] == "Sandviken (nytt namn)"
    assert "Gävleborg (nytt namn)" in world.seen.lineages[-1]
    assert cached.orgs[sandviken]["name"] == "Sandviken (nytt namn)"


@pytest.mark.parametrize("elsewhere", [False, True], ids=["unit of work", "other process"])
async def test_a_rebound_channel_is_seen_by_the_next_press(
    world: World, database_url: str, elsewhere: bool
) -> None:
    await world.button("t1")
    await _twice(world, "t1")
    assert world.seen.orgs[-1] == "Sandvikens arbetarekommun"
    assert (PLATFORM, GROUP) in world.database.read_cache.channels
    other = Database(database_url) if elsewhere else world.database
    try:
        async with other.unit_of_work() as uow:
            gavle = await uow.orgs.by_slug("gavle")
            assert gavle is not None and gavle.id is not None
            await uow.orgs.bind_channel(Channel(PLATFORM, GROUP, gavle.id, "Gävle"))
            await uow.commit()
    finally:
        if elsewhere:
            await other.dispose()
    await world.press("t1")
    assert world.seen.orgs[-1] == "Gävle arbetarekommun"


async def test_a_chat_bound_after_a_press_is_seen_by_the_next(world: World) -> None:
    """A chat bound to no organisation is remembered as such, until a channel is added."""
    async with world.database.unit_of_work() as uow:
        await uow.session.execute(sa.delete(tables.channels))
        await uow.commit()
    await world.button("t1")
    await _twice(world, "t1")
    assert world.seen.orgs[-1] is None
    assert world.database.read_cache.channels[(PLATFORM, GROUP)] is None
    sandviken = await world.org_id("sandviken")
    async with world.database.unit_of_work() as uow:
        await uow.orgs.bind_channel(Channel(PLATFORM, GROUP, sandviken, "Sandviken"))
        await uow.commit()
    await world.press("t1")
    assert world.seen.orgs[-1] == "Sandvikens arbetarekommun"


async def test_the_home_organisation_comes_with_the_sender(world: World) -> None:
    await world.button("t1", group=False)
    await world.press("t1", group=False)  # a new person: in no organisation yet
    assert world.seen.orgs[-1] is None
    jarbo = await world.org_id("jarbo")
    async with world.database.unit_of_work() as uow:
        person = await uow.people.by_identity(PLATFORM, "501")
        assert person is not None and person.id is not None
        await uow.people.affiliate(Affiliation(person.id, jarbo, since=world.clock.now()))
        await uow.commit()
    await world.press("t1", group=False)
    assert world.seen.orgs[-1] == "S-föreningen Järbo"
    assert world.seen.lineages[-1][:2] == ["S-föreningen Järbo", "Sandvikens arbetarekommun"]


async def test_a_purged_button_no_longer_works(world: World, database_url: str) -> None:
    await world.button("old")
    await _twice(world, "old")
    assert "old" in world.database.read_cache.buttons
    other = Database(database_url)  # the nightly purge, in another process
    try:
        async with other.unit_of_work() as uow:
            assert await uow.buttons.purge(world.clock.now() + timedelta(seconds=1)) == 1
            await uow.commit()
    finally:
        await other.dispose()
    stale = Translator("sv")(STALE_BUTTON)
    assert await world.press("old") == stale


async def test_an_erased_persons_button_no_longer_works(world: World) -> None:
    await world.button("first")
    await world.press("first", who="777")  # creates the person
    async with world.database.unit_of_work() as uow:
        person = await uow.people.by_identity(PLATFORM, "777")
        assert person is not None and person.id is not None
        person_id = person.id
    await world.button("theirs", person_id=person_id)
    await world.press("theirs", who="777")
    assert "theirs" in world.database.read_cache.buttons
    async with world.database.unit_of_work() as uow:
        await Effects(uow, world.clock).erase_person(person_id)
        await uow.commit()
    # They come back as someone new: their old button is gone, not "someone else's".
    stale = Translator("sv")(STALE_BUTTON)
    assert await world.press("theirs", who="777") == stale
    assert await world.press("theirs", who="777") == stale


async def test_what_a_press_gets_from_the_cache_is_written_through_its_session(
    world: World,
) -> None:
    """An organisation served from the cache is the session's own: a change to it is saved."""
    await world.button("t1")
    await _twice(world, "t1")

    async def rename(ctx: Context, _args: tuple[Any, ...]) -> None:
        assert ctx.org is not None
        ctx.org.name = "Omdöpt"

    world.samtal.registry.action("test.rename", rename, Access.ANYONE)
    async with world.database.unit_of_work() as uow:
        await uow.buttons.add(
            ButtonAction("t2", "test.rename", [], PLATFORM, GROUP, world.clock.now())
        )
        await uow.commit()
    await world.press("t2")
    async with world.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.name == "Omdöpt"
    await world.press("t1")
    assert world.seen.orgs[-1] == "Omdöpt"


async def test_a_unit_of_work_that_writes_a_channel_stops_using_the_cache(world: World) -> None:
    """What it reads after its own write could be rolled back: none of it is kept."""
    await world.button("t1")
    await _twice(world, "t1")
    cache = world.database.read_cache
    gavle = await world.org_id("gavle")
    async with world.database.unit_of_work() as uow:
        assert await uow.people.sender(PLATFORM, "501") is not None
        assert uow._cache.live is not None
        await uow.orgs.bind_channel(Channel(PLATFORM, "-100888", gavle, "Gävle"))
        assert uow._cache.live is None
        channel = await uow.orgs.channel(PLATFORM, "-100888")
        assert channel is not None and channel.org_id == gavle
        await uow.rollback()
    assert (PLATFORM, "-100888") not in cache.channels
    async with world.database.unit_of_work() as uow:
        await uow.people.sender(PLATFORM, "501")
        assert await uow.orgs.channel(PLATFORM, "-100888") is None


async def test_a_senders_accounts_come_with_the_sender_only_when_they_have_one(
    world: World,
) -> None:
    """A private answer to the sender needs their accounts: one account comes with the
    sender look-up; a second, added before or during the unit of work, is read."""
    await world.button("t1")
    await world.press("t1")
    async with world.database.unit_of_work() as uow:
        found = await uow.people.sender(PLATFORM, "501")
        assert found is not None
        identity, person, _ = found
        assert person.id is not None
        assert list(await uow.people.identities_of(person.id)) == [identity]
        email = Identity(person.id, EMAIL, "medlem@example.org", created_at=world.clock.now())
        await uow.people.add_identity(email)
        assert {i.platform for i in await uow.people.identities_of(person.id)} == {PLATFORM, EMAIL}
        await uow.commit()
    async with world.database.unit_of_work() as uow:
        found = await uow.people.sender(PLATFORM, "501")
        assert found is not None
        assert len(await uow.people.identities_of(person.id)) == 2


async def test_the_sender_read_with_the_events_mark_is_the_sender_read_alone(
    world: World,
) -> None:
    """The mark's RETURNING brings the sender as JSON: the same values and types (aware
    instants, enums) and the same affiliations, oldest first, as the look-up alone."""
    await world.button("t1")
    await world.press("t1")
    jarbo, gavle = await world.org_id("jarbo"), await world.org_id("gavle")
    async with world.database.unit_of_work() as uow:
        found = await uow.people.sender(PLATFORM, "501")
        assert found is not None and found[1].id is not None
        person_id = found[1].id
        later = world.clock.now() + timedelta(minutes=1)
        await uow.people.affiliate(Affiliation(person_id, gavle, since=later))
        await uow.people.affiliate(Affiliation(person_id, jarbo, since=world.clock.now()))
        await uow.commit()

    def seen(found: Any, affiliations: Any) -> Any:
        identity, person, consented = found
        return (
            {k: v for k, v in vars(identity).items() if not k.startswith("_")},
            {k: v for k, v in vars(person).items() if not k.startswith("_")},
            consented,
            [(a.org_id, a.since) for a in affiliations],
        )

    async with world.database.unit_of_work() as uow:
        alone = await uow.people.sender(PLATFORM, "501")
        assert alone is not None
        expected = seen(alone, await uow.people.affiliations_of(person_id))
    event = ProcessedEvent(PLATFORM, "with-the-mark", world.clock.now())
    async with world.database.unit_of_work() as uow:
        assert await uow.events.first_time(event, (PLATFORM, "501"))
        with_mark = await uow.people.sender(PLATFORM, "501")
        assert with_mark is not None
        assert seen(with_mark, await uow.people.affiliations_of(person_id)) == expected
        assert with_mark[0].created_at is not None and with_mark[0].created_at.tzinfo is not None
        assert [org_id for org_id, _ in expected[3]] == [jarbo, gavle]
        await uow.commit()
    async with world.database.unit_of_work() as uow:  # a redelivery: no row, no sender
        assert not await uow.events.first_time(event, (PLATFORM, "501"))
    async with world.database.unit_of_work() as uow:  # someone unknown: found as no one
        assert await uow.events.first_time(
            ProcessedEvent(PLATFORM, "stranger", world.clock.now()), (PLATFORM, "999")
        )
        assert await uow.people.sender(PLATFORM, "999") is None


async def test_a_button_sent_in_a_reply_is_pressed_without_reading_it(
    database: Database, clock: VirtualClock
) -> None:
    """The outbox writes a reply's buttons (one INSERT with the entry); once the press that
    sent them commits they are in the cache, so pressing one reads no button row."""
    registry = build_registry()

    async def offer(ctx: Context, _args: tuple[Any, ...]) -> None:
        await ctx.reply(message("Vill du?", buttons=[[Button("Ja", Action("test.noop"))]]))

    async def noop(_ctx: Context, _args: tuple[Any, ...]) -> None:
        pass

    registry.action("test.offer", offer, Access.ANYONE)
    registry.action("test.noop", noop, Access.ANYONE)
    samtal = Samtal(database.unit_of_work, clock, registry)
    await seed_demo(database.unit_of_work, clock)
    async with database.unit_of_work() as uow:
        await uow.buttons.add(ButtonAction("o1", "test.offer", [], PLATFORM, "501", clock.now()))
        await uow.commit()
    sender = Sender(PLATFORM, "501", "Medlem 501", language="sv")
    chat = Chat(PLATFORM, "501", is_private=True)
    # The first press makes the person (no generation read, no cache); the second, by
    # someone known, caches the buttons it sent once it commits.
    for serial in range(2):
        await samtal.handle(ButtonPressed(f"offer{serial}", sender, chat, "o1"))
    async with database.unit_of_work() as uow:
        sent = await uow.session.scalars(
            sa.select(tables.button_actions.c.token).where(
                tables.button_actions.c.name == "test.noop"
            )
        )
        tokens = list(sent)
    cached = [token for token in tokens if token in database.read_cache.buttons]
    assert len(tokens) == 2 and len(cached) == 1
    read: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        read.append(statement)

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", note)
    try:
        await samtal.handle(ButtonPressed("yes", sender, chat, cached[0]))
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", note)
    assert read and not [s for s in read if "FROM button_actions" in s]
