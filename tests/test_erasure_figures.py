"""After someone is erased, every result and figure stays what it was, and nothing names them.

Anonymous poll votes stay counted and were never linked; visible votes stay
counted without a name; meeting attendance and ratings stay as counts.
"""

from __future__ import annotations

from datetime import timedelta
from statistics import mean

from bot.context import Effects
from bot.insights.service import gather
from bot.meetings.model import Answer, Attendance, Feedback
from bot.meetings.service import MeetingDraft, answer, create_meeting
from bot.polls.model import Poll, PollKind
from bot.polls.service import cast, tally_of
from bot.welcome.model import Share
from tests.conftest import START, Console

VOTES = {"anna": 0, "cecilia": 1, "oliver": 1, "bertil": 0}


async def _figures(console: Console, meeting_id: int, poll_ids: list[int]) -> dict[str, object]:
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        attendance = await uow.meetings.attendance_in([org.id], START, START + timedelta(days=30))
        ratings = [f.rating for f in await uow.meetings.feedback(meeting_id)]
        results = []
        for poll_id in poll_ids:
            poll = await uow.polls.get(poll_id)
            assert poll is not None
            results.append((await tally_of(fx, poll)).counts)
        return {"attended": len(attendance), "rating": mean(ratings), "polls": results}


async def test_results_and_figures_survive_an_erasure(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        people = {name: await uow.people.by_identity("console", name) for name in VOTES}
        start = START + timedelta(days=1)
        meeting = await create_meeting(
            fx, org, MeetingDraft("Skolan", start, start + timedelta(hours=2)), announce=False
        )
        assert meeting.id is not None
        polls = []
        for anonymous in (True, False):
            poll = await uow.polls.add(
                Poll(
                    org.id,
                    PollKind.SINGLE,
                    "Vilket tema?",
                    ["Skolan", "Vården"],
                    START + timedelta(days=3),
                    anonymous=anonymous,
                    created_at=START,
                )
            )
            assert poll.id is not None
            if anonymous:
                await uow.polls.set_secret(poll.id, "ab" * 32)
            polls.append(poll)
        for rating, (name, person) in enumerate(people.items(), start=2):
            assert person is not None and person.id is not None
            await answer(fx, meeting, person, Answer.COMING)
            await uow.meetings.add_attendance(Attendance(meeting.id, person.id, start))
            await uow.meetings.add_feedback(Feedback(meeting.id, person.id, rating, start, "bra"))
            for poll in polls:
                await cast(fx, poll, person.id, [VOTES[name]])
        await uow.commit()
    poll_ids = [p.id for p in polls if p.id is not None]
    before = await _figures(console, meeting.id, poll_ids)
    assert before == {"attended": 4, "rating": 3.5, "polls": [[2, 2], [2, 2]]}

    output = await console.run("@anna: /glom_mig\n@anna: [Ja, radera allt]")
    assert "Jag har raderat allt om dig" in output

    assert await _figures(console, meeting.id, poll_ids) == before
    anna = people["anna"]
    assert anna is not None
    async with console.database.unit_of_work() as uow:
        assert await uow.people.get(anna.id or 0) is None
        for poll_id in poll_ids:
            assert all(b.person_id != anna.id for b in await uow.polls.ballots(poll_id))
        assert all(a.person_id != anna.id for a in await uow.meetings.attendance(meeting.id))
        feedback = await uow.meetings.feedback(meeting.id)
        assert [f.comment for f in feedback if f.person_id is None] == [None]  # her words are gone


async def _welcome_figures(console: Console) -> tuple[object, ...]:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        figures = await gather(uow, org, console.clock.now())
    return figures.new_members_this_year, figures.guests_joined, figures.welcome


async def test_erasing_new_members_keeps_them_in_the_figures(console: Console) -> None:
    # David, a guest since the demo began, and Nora, new today, join; both are contacted.
    await console.run(
        "@clock: +2d\n@nora: /start member_sandviken\n@nora: [Jag godkänner]\n"
        "@nora: [Ja, jag har precis gått med]\n@cecilia: [Bekräfta medlemskapet]\n"
        "@clock: +1d\n@cecilia: [Jag har tagit kontakt]\n"
        "@bertil: /ny_medlem david\n@clock: +1d\n@cecilia: [Jag har tagit kontakt]"
    )
    before = await _welcome_figures(console)
    new, guests, welcome = before
    assert (new, guests) == (2, 1) and welcome.contacted == Share(2, 2)  # type: ignore[attr-defined]

    await console.run("@nora: /glom_mig\n@nora: [Ja, radera allt]")
    await console.run("@david: /glom_mig\n@david: [Ja, radera allt]")

    assert await _welcome_figures(console) == before
    listing = await console.said("@cecilia: /nya_medlemmar")
    assert "Nora" not in listing and "David" not in listing
    assert "Personligt kontaktade: 2/2 (100 %)" in listing
