"""The last place, pressed for by many at the same instant: a meeting's "coming", a study
circle's sign-up and a campaign shift's "I'm in" give out exactly as many places as there
are and put the rest on the waitlist; and those with a place leaving at the same instant
move as many up, not one person twice. On SQLite units of work take turns; on PostgreSQL
they run side by side, and the meeting, circle or shift is locked before counting."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import date, datetime, timedelta

from bot.campaigns import views as campaign_views
from bot.campaigns.model import Campaign, CampaignKind, Shift, SignupState
from bot.campaigns.service import add_shift, create_campaign
from bot.circles.model import EnrolmentState
from bot.context import Effects
from bot.domain.delivery import ButtonAction
from bot.domain.people import Affiliation, Consent, Identity, Person, Status
from bot.events import ButtonPressed, Chat, Sender
from bot.meetings.model import Answer
from bot.membership.model import CONSENT_VERSION
from tests.conftest import START, Console

PRESSING = 8
PLACES = 2


async def _members(console: Console) -> list[int]:
    """PRESSING consenting members of Sandviken, each with a console identity `racerN`."""
    ids = []
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        for n in range(PRESSING):
            person = await uow.people.add(
                Person(display_name=f"Racer {n}", status=Status.MEMBER, created_at=START)
            )
            assert person.id is not None
            await uow.people.add_identity(Identity(person.id, "console", f"racer{n}"))
            await uow.people.affiliate(Affiliation(person.id, org.id, since=START))
            await uow.people.add_consent(Consent(person.id, CONSENT_VERSION, given_at=START))
            ids.append(person.id)
        await uow.commit()
    return ids


async def _limit_places(console: Console, places: int) -> None:
    """Gives the demo's meeting 1 and study circle 1 `places` places each."""
    async with console.database.unit_of_work() as uow:
        meeting = await uow.meetings.get(1)
        circle = await uow.circles.get(1)
        assert meeting is not None and circle is not None
        meeting.capacity = circle.max_participants = places
        await uow.commit()


async def _shift(console: Console, places: int, start: datetime) -> int:
    """A door-knocking shift of Sandviken's with `places` places, starting at `start`."""
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        campaign = await create_campaign(
            fx, Campaign(org.id, "Vecka", CampaignKind.DOOR, date(2026, 3, 2), date(2026, 3, 6))
        )
        shift = await add_shift(
            fx, campaign, Shift(0, start, start + timedelta(hours=2), "Norr", capacity=places)
        )
        await uow.commit()
    assert shift.id is not None
    return shift.id


def _token(name: str, args: list[str], n: int) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", "-".join([name, *args, str(n)]))


async def _press_at_once(
    console: Console, name: str, args: list[str], racers: range | list[int] = range(PRESSING)
) -> None:
    """These racers press a button for `name(args)` in their private chats, all at once,
    through the core like a platform's button press."""
    async with console.database.unit_of_work() as uow:
        for n in racers:
            await uow.buttons.add(
                ButtonAction(_token(name, args, n), name, args, "console", f"racer{n}", START)
            )
        await uow.commit()
    presses = [
        console.samtal.handle(
            ButtonPressed(
                f"press-{_token(name, args, n)}",
                Sender("console", f"racer{n}", f"Racer {n}"),
                Chat("console", f"racer{n}", is_private=True),
                _token(name, args, n),
            )
        )
        for n in racers
    ]
    await asyncio.gather(*presses)


def _holding(racers: list[int], states: dict[int, object], holds: object) -> list[int]:
    """The racers (by number) whose state is `holds`."""
    return [n for n, person_id in enumerate(racers) if states.get(person_id) == holds]


def _counts(states: dict[int, object]) -> Counter[object]:
    return Counter(states.values())


async def test_a_meeting_with_two_places_gives_out_two_and_two_leaving_promote_two(
    console: Console,
) -> None:
    racers = await _members(console)
    await _limit_places(console, PLACES)

    async def answers() -> dict[int, object]:
        async with console.database.unit_of_work() as uow:
            return {r.person_id: r.answer for r in await uow.meetings.rsvps(1)}

    await _press_at_once(console, "meeting.rsvp", ["1", Answer.COMING])
    first = await answers()
    assert _counts(first) == {Answer.COMING: PLACES, Answer.WAITLISTED: PRESSING - PLACES}
    # Both with a place give it up at the same instant: two people move up, not one twice.
    leaving = _holding(racers, first, Answer.COMING)
    await _press_at_once(console, "meeting.rsvp", ["1", Answer.DECLINED], leaving)
    assert _counts(await answers()) == {
        Answer.COMING: PLACES,
        Answer.WAITLISTED: PRESSING - 2 * PLACES,
        Answer.DECLINED: PLACES,
    }


async def test_a_circle_with_two_places_gives_out_two_and_two_leaving_promote_two(
    console: Console,
) -> None:
    racers = await _members(console)
    await _limit_places(console, PLACES)

    async def states() -> dict[int, object]:
        async with console.database.unit_of_work() as uow:
            return {e.person_id: e.state for e in await uow.circles.enrolments(1)}

    await _press_at_once(console, "circle.consent", ["1", "yes"])
    first = await states()
    assert _counts(first) == {
        EnrolmentState.ENROLLED: PLACES,
        EnrolmentState.WAITLISTED: PRESSING - PLACES,
    }
    leaving = _holding(racers, first, EnrolmentState.ENROLLED)
    await _press_at_once(console, "circle.leave", ["1"], leaving)
    assert _counts(await states()) == {
        EnrolmentState.ENROLLED: PLACES,
        EnrolmentState.WAITLISTED: PRESSING - 2 * PLACES,
        EnrolmentState.WITHDRAWN: PLACES,
    }


async def test_a_shift_with_two_places_gives_out_two_and_two_leaving_promote_two(
    console: Console,
) -> None:
    racers = await _members(console)
    shift_id = await _shift(console, PLACES, START + timedelta(days=1))

    async def states() -> dict[int, object]:
        async with console.database.unit_of_work() as uow:
            return {s.person_id: s.state for s in await uow.campaigns.signups(shift_id)}

    await _press_at_once(console, campaign_views.SIGNUP, [str(shift_id)])
    first = await states()
    assert _counts(first) == {SignupState.SIGNED_UP: PLACES, SignupState.WAITING: PRESSING - PLACES}
    leaving = _holding(racers, first, SignupState.SIGNED_UP)
    await _press_at_once(console, campaign_views.WITHDRAW, [str(shift_id)], leaving)
    # A withdrawn sign-up is removed.
    assert _counts(await states()) == {
        SignupState.SIGNED_UP: PLACES,
        SignupState.WAITING: PRESSING - 2 * PLACES,
    }
