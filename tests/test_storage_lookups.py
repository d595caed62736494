"""The look-ups every event makes, made cheaper: they must still answer exactly as before."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.domain.organisations import Organisation
from bot.domain.people import Affiliation
from bot.meetings.model import Answer, Rsvp
from storage.database import Database
from tests.conftest import START, Console


async def _walk_up(database: Database, org_id: int) -> list[str]:
    """The lineage the plain way, one organisation at a time."""
    chain: list[str] = []
    async with database.unit_of_work() as uow:
        current = await uow.orgs.get(org_id)
        while current is not None:
            chain.append(current.slug)
            current = await uow.orgs.get(current.parent_id) if current.parent_id else None
    return chain


async def test_lineage_and_subtree_match_the_tree_whatever_is_loaded(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    async with database.unit_of_work() as uow:
        everything = list(await uow.orgs.list_all())
    for org in everything:
        assert org.id is not None
        expected = await _walk_up(database, org.id)
        async with database.unit_of_work() as uow:
            cold = [o.slug for o in await uow.orgs.lineage(org.id)]
            # Now partly loaded: the walk starts in the session and the database does the rest.
            await uow.orgs.get(org.id)
            warm = [o.slug for o in await uow.orgs.lineage(org.id)]
            below = [o.slug for o in await uow.orgs.subtree(org.id)]
        assert cold == warm == expected
        # Breadth first, siblings by id, as the tree was always walked.
        children: dict[int | None, list[Organisation]] = {}
        for o in sorted(everything, key=lambda o: o.id or 0):
            children.setdefault(o.parent_id, []).append(o)
        walked = [org]
        for o in walked:
            walked.extend(children.get(o.id, []))
        assert below == [o.slug for o in walked]
    async with database.unit_of_work() as uow:
        assert await uow.orgs.lineage(10_000) == []
        assert await uow.orgs.subtree(10_000) == []


async def test_sender_is_identity_person_and_consent_in_one(database: Database) -> None:
    clock = VirtualClock(START)
    await seed_demo(database.unit_of_work, clock)
    async with database.unit_of_work() as uow:
        found = await uow.people.sender("console", "anna")
        assert found is not None
        identity, person, consented = found
        assert (identity.external_id, person.display_name, consented) == ("anna", "Anna", True)
        assert identity.person_id == person.id
        for consent in await uow.people.consents_of(person.id or 0):
            consent.withdrawn_at = clock.now()
        await uow.commit()
    async with database.unit_of_work() as uow:
        withdrawn = await uow.people.sender("console", "anna")
        assert withdrawn is not None and withdrawn[2] is False
        assert await uow.people.sender("console", "nobody") is None
        assert await uow.people.sender("telegram", "anna") is None


async def test_answers_filtered_by_kind_keep_the_waitlist_order(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    async with database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        meeting = (await uow.meetings.of_org(org.id))[0]
        assert meeting.id is not None
        kinds = [Answer.WAITLISTED, Answer.COMING, Answer.MAYBE, Answer.WAITLISTED, Answer.DECLINED]
        for minute, name in enumerate(("anna", "bertil", "cecilia", "david", "oliver")):
            person = await uow.people.by_identity("console", name)
            assert person is not None and person.id is not None
            answered = START + timedelta(minutes=10 - minute)  # later people answered first
            await uow.meetings.add_rsvp(Rsvp(meeting.id, person.id, kinds[minute], answered))
        everyone = await uow.meetings.rsvps(meeting.id)
        assert [r.answer for r in everyone] == kinds[::-1]
        for answers in ((Answer.WAITLISTED,), (Answer.COMING, Answer.WAITLISTED), tuple(Answer)):
            assert list(await uow.meetings.rsvps(meeting.id, answers)) == [
                r for r in everyone if r.answer in answers
            ]


async def test_units_of_work_on_sqlite_take_turns(database: Database) -> None:
    """Overlapping read-then-write transactions: none fails, none overwrites another."""
    if not database.is_sqlite:
        pytest.skip("PostgreSQL runs transactions side by side; this is about SQLite")
    await seed_demo(database.unit_of_work, VirtualClock(START))

    async def rename() -> None:
        async with database.unit_of_work() as uow:
            anna = await uow.people.by_identity("console", "anna")
            assert anna is not None
            await asyncio.sleep(0)  # let the others start theirs meanwhile
            anna.display_name += "!"
            await uow.commit()

    await asyncio.gather(*(rename() for _ in range(20)))
    async with database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        assert anna is not None and anna.display_name == "Anna" + "!" * 20

    async def nested() -> str:  # a unit of work inside one the same task holds goes ahead
        async with database.unit_of_work(), database.unit_of_work() as inner:
            found = await inner.people.by_identity("console", "bertil")
            return found.display_name if found else ""

    assert await asyncio.wait_for(nested(), timeout=5) == "Bertil"


async def test_affiliations_read_once_still_show_every_change(database: Database) -> None:
    # Read once per transaction, and forgotten by every write that moves them.
    clock = VirtualClock(START)
    await seed_demo(database.unit_of_work, clock)
    async with database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        gavle = await uow.orgs.by_slug("gavle")
        assert anna is not None and anna.id is not None and gavle is not None
        assert gavle.id is not None
        anna_id, gavle_id = anna.id, gavle.id  # a rollback expires the loaded objects
        before = [a.org_id for a in await uow.people.affiliations_of(anna_id)]
        assert gavle_id not in before
        await uow.people.affiliate(Affiliation(anna_id, gavle_id, since=clock.now()))
        assert [a.org_id for a in await uow.people.affiliations_of(anna_id)] == [
            *before,
            gavle_id,
        ]
        await uow.people.leave(anna_id, [gavle_id])
        assert [a.org_id for a in await uow.people.affiliations_of(anna_id)] == before
        await uow.people.affiliate(Affiliation(anna_id, gavle_id, since=clock.now()))
        assert len(await uow.people.affiliations_of(anna_id)) == len(before) + 1
        await uow.rollback()
        assert [a.org_id for a in await uow.people.affiliations_of(anna_id)] == before


async def test_names_with_a_capital_a_ring_or_o_umlaut_are_found(console: Console) -> None:
    # SQLite's lower() folds only ASCII, so "Örjan Åberg" was never found by name.
    from adapters.console.app import PLATFORM, chat_for
    from bot.events import ButtonPressed, Sender, TextReceived

    orjan = Sender(PLATFORM, "orjan", display_name="Örjan Åberg", username=None)
    await console.samtal.handle(
        TextReceived("o1", orjan, chat_for("orjan", None), "/start join_sandviken")
    )
    await console.samtal.run_due()
    found = console.gateway.find_button("orjan", None, "Jag godkänner")
    assert found is not None
    await console.samtal.handle(ButtonPressed("o2", orjan, chat_for("orjan", None), found[1]))
    await console.samtal.run_due()

    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        for typed in ("örjan åberg", "ÖRJAN ÅBERG", "Örjan Åberg"):
            names = [p.display_name for p in await uow.people.find_in_orgs([sandviken.id], typed)]
            assert names == ["Örjan Åberg"], typed
        for typed in ("åberg", "ÅBERG", "örjan", "rjan å"):
            assert [p.display_name for p in await uow.people.search(typed)] == ["Örjan Åberg"]
        assert await uow.people.search("%") == []  # a LIKE wildcard is a plain character
        # Anna is found by her username as before, whatever the case.
        assert [p.display_name for p in await uow.people.find_in_orgs([sandviken.id], "ANNA")] == [
            "Anna"
        ]

    said = await console.said("@cecilia#allmant: /ny_medlem örjan åberg")
    assert "I found no one" not in said and "hittade ingen" not in said
    said = await console.said("@bertil#allmant: /ta_bort ÖRJAN ÅBERG")
    assert "Örjan Åberg" in said and "hittade ingen" not in said
