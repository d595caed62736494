"""An erased person's place is not lost: before their data goes, each capability's
`before_erase` hook gives up what they held, so the first one waiting moves up and is told.
A meeting and a study circle through the real /glom_mig button, a campaign shift through
the nightly retention; nothing queued afterwards is addressed to the erased person."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.campaigns import views as campaign_views
from bot.campaigns.model import SignupState
from bot.circles.model import EnrolmentState
from bot.meetings.model import Answer
from storage import tables
from tests.conftest import START, Console
from tests.test_last_place import _limit_places, _members, _press_at_once, _shift

A, B = 0, 1  # racers: A takes the one place, B waits for it


async def _queued_to(console: Console, racer: int) -> list[tuple[str, int | None]]:
    """(key, person id) of every message queued to a racer's private chat, oldest first."""
    o = tables.outbox.c
    async with console.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(o.key, o.person_id).where(o.chat_id == f"racer{racer}").order_by(o.id)
        )
        return [(key, person_id) for key, person_id in rows]


async def _erase_through_glom_mig(console: Console, racers: list[int]) -> None:
    await _press_at_once(console, "privacy.erase", [], [A])
    async with console.database.unit_of_work() as uow:
        assert await uow.people.get(racers[A]) is None


async def _nothing_for(console: Console, racers: list[int]) -> None:
    """Nothing queued names the erased person; their chat got only the anonymous answer
    to the erasure itself (or nothing at all, when retention erased them)."""
    o = tables.outbox.c
    async with console.database.engine.connect() as connection:
        named = await connection.scalar(
            sa.select(sa.func.count()).where(
                sa.or_(o.person_id == racers[A], o.about_id == racers[A])
            )
        )
    assert named == 0
    to_a = await _queued_to(console, A)
    assert all(person_id is None and key.startswith("reply:") for key, person_id in to_a)
    assert len(to_a) <= 1


async def _promotion_for_b(console: Console, racers: list[int]) -> None:
    keys = [key for key, person_id in await _queued_to(console, B) if person_id == racers[B]]
    assert any(":promoted:" in key for key in keys), keys


async def test_a_meeting_place_of_someone_erased_goes_to_the_first_waiting(
    console: Console,
) -> None:
    racers = await _members(console)
    await _limit_places(console, 1)
    await _press_at_once(console, "meeting.rsvp", ["1", Answer.COMING], [A])
    await _press_at_once(console, "meeting.rsvp", ["1", Answer.COMING], [B])

    await _erase_through_glom_mig(console, racers)

    async with console.database.unit_of_work() as uow:
        answers = {r.person_id: r.answer for r in await uow.meetings.rsvps(1)}
    assert answers == {racers[B]: Answer.COMING}
    await _promotion_for_b(console, racers)
    await _nothing_for(console, racers)


async def test_a_circle_place_of_someone_erased_goes_to_the_first_waiting(
    console: Console,
) -> None:
    racers = await _members(console)
    await _limit_places(console, 1)
    await _press_at_once(console, "circle.consent", ["1", "yes"], [A])
    await _press_at_once(console, "circle.consent", ["1", "yes"], [B])

    await _erase_through_glom_mig(console, racers)

    async with console.database.unit_of_work() as uow:
        states = {e.person_id: e.state for e in await uow.circles.enrolments(1)}
    assert states == {racers[B]: EnrolmentState.ENROLLED}
    await _promotion_for_b(console, racers)
    await _nothing_for(console, racers)


async def test_a_shift_place_of_someone_erased_at_night_goes_to_the_first_waiting(
    console: Console,
) -> None:
    racers = await _members(console)
    shift_id = await _shift(console, 1, START + timedelta(days=3))
    await _press_at_once(console, campaign_views.SIGNUP, [str(shift_id)], [A])
    await _press_at_once(console, campaign_views.SIGNUP, [str(shift_id)], [B])

    # A leaves the party and has not been seen for long: the night's retention erases them.
    async with console.database.unit_of_work() as uow:
        a = await uow.people.get(racers[A])
        org = await uow.orgs.by_slug("sandviken")
        assert a is not None and org is not None and org.id is not None
        await uow.people.leave(racers[A], [org.id])
        a.last_seen_at = START - timedelta(days=100)
        await uow.commit()
    await console.run("@clock: +1d")

    async with console.database.unit_of_work() as uow:
        assert await uow.people.get(racers[A]) is None
        states = {s.person_id: s.state for s in await uow.campaigns.signups(shift_id)}
    assert states == {racers[B]: SignupState.SIGNED_UP}
    await _promotion_for_b(console, racers)
    await _nothing_for(console, racers)
