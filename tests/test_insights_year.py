"""A virtual year in Sandviken: activity through the real core and storage, then every figure
and every arrow checked against values worked out by hand in the comments.

Time line (Europe/Stockholm; the demo is seeded on 1 January 2026 at 09:00, so the five demo
members of Sandviken and its association, and the guest David, joined then):

- 1 Jan 09:00  Bertil sets Sandviken's goals: 500 conversations, 30 members, 60 % taking part.
               Fatima sets Gävle's: 300 conversations.
- 10 Jan       Anna reports 20 conversations (typed).          Sandviken: 20
- 20 Jan       Bertil reports 5 (the button).                   25
               Meeting 1 (Sandviken): Oliver there, rates it 4.
- 1 Feb        Fatima reports 40 (Gävle).
- 5 Feb        Nora joins through the member link (a new account: not a guest first);
               Cecilia confirms at 10:00 and contacts her on 7 Feb 10:00 (2 days).
- 10 Feb       Bertil registers the guest David as a member at 10:00; Cecilia contacts him on
               11 Feb 16:00 (1.25 days). Meeting 2: Anna and Bertil there, ratings 5 and 3.
- 14 Feb       Anna reports 10 (button), door knocking, jobs and housing.   35
- 20 Feb       Cecilia reports 15. Circle session 1 (135 min = 3 study hours): Cecilia, Nora. 50
- 25 Feb       Oliver reports 30 (in English). Gävle's circle: 90 min (2 h), Fatima.      80
- 1 Mar 00:00  CHECK 1
- 5 Mar        Circle session 2 (3 h): Cecilia.   1 Apr: session 3, nobody came (not held).
- 15 Apr 100, 10 Jun 120, 5 Sep 80 (Oliver), 20 Oct 40 reported.       80 + 340 = 420
- 10 Oct       Circle session 4 (180 min = 4 h): Nora, David.
- 15 Oct       Meeting 3 (Sandviken Centrum, below Sandviken): David there, rates it 2.
- 1 Nov 00:00  CHECK 2
- 2 Jan 2027   CHECK 3: the deadline has passed.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.circles.model import Circle, CircleSession, EducationKind, SessionAttendance
from bot.clock import VirtualClock
from bot.i18n import Translator
from bot.insights.model import Arrow, GoalKind
from bot.insights.service import Figures, gather
from bot.insights.views import DONE, PLACE, TOPIC, charts
from bot.meetings.model import Attendance, Feedback, Meeting
from bot.welcome.model import Share
from storage.database import Database
from tests.conftest import STOCKHOLM, Console
from tests.forged_buttons import STALE, forge_buttons, press_with

JAN1 = datetime(2026, 1, 1, 9, 0, tzinfo=STOCKHOLM)
DAY = 86400


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


async def _ids(console: Console) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with console.database.unit_of_work() as uow:
        for name in ("anna", "bertil", "cecilia", "oliver", "david", "nora", "fatima"):
            person = await uow.people.by_identity("console", name)
            if person is not None and person.id is not None:
                ids[name] = person.id
        for slug in ("sandviken", "sandviken-centrum", "gavle", "gavleborg"):
            org = await uow.orgs.by_slug(slug)
            assert org is not None and org.id is not None
            ids[slug] = org.id
    return ids


async def _meeting(console: Console, org: int, starts: datetime, present: dict[int, int]) -> None:
    """A meeting, who was there and the rating each gave."""
    async with console.database.unit_of_work() as uow:
        meeting = await uow.meetings.add(
            Meeting(org, "Tematräff", starts, starts + timedelta(hours=2), created_at=JAN1)
        )
        assert meeting.id is not None
        for person, rating in present.items():
            await uow.meetings.add_attendance(Attendance(meeting.id, person, starts))
            await uow.meetings.add_feedback(Feedback(meeting.id, person, rating, starts))
        await uow.commit()


async def _circle(console: Console, org: int) -> int:
    async with console.database.unit_of_work() as uow:
        circle = await uow.circles.add(
            Circle(org, "Medlemsutbildning steg 1", EducationKind.MEMBER_EDUCATION_1, 3, 12, JAN1)
        )
        await uow.commit()
    assert circle.id is not None
    return circle.id


async def _session(
    console: Console, circle: int, starts: datetime, minutes: int, present: list[int]
) -> None:
    async with console.database.unit_of_work() as uow:
        session = await uow.circles.add_session(
            CircleSession(circle, starts, starts + timedelta(minutes=minutes))
        )
        assert session.id is not None
        for person in present:
            await uow.circles.add_attendance(SessionAttendance(session.id, person, starts))
        await uow.commit()


async def _figures(console: Console, slug: str) -> Figures:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug(slug)
        assert org is not None
        return await gather(uow, org, console.clock.now())


def _arrows(figures: Figures) -> dict[GoalKind, Arrow]:
    return {g.goal.kind: g.progress.arrow for g in figures.goals}


def _projected(figures: Figures, kind: GoalKind) -> float:
    status = figures.goal(kind)
    assert status is not None
    return status.progress.projected


@pytest.fixture
async def year(database: Database) -> Console:
    console = Console(database, VirtualClock(JAN1))
    await console.samtal.start()
    await console.seed_demo()
    return console


async def test_a_year_of_activity_gives_the_hand_computed_figures_and_arrows(
    year: Console,
) -> None:
    console = year
    await console.run(
        "@bertil: /mal samtal 500\n@bertil: /mal medlemmar 30\n@bertil: /mal deltagande 60\n"
        "@fatima: /mal samtal 300"
    )
    ids = await _ids(console)
    sandviken, gavle = ids["sandviken"], ids["gavle"]
    circle = await _circle(console, sandviken)
    gavle_circle = await _circle(console, gavle)

    await console.run("@clock: 2026-01-10T12:00\n@anna: /samtal\n@anna: 20")
    await console.run("@clock: 2026-01-20T12:00\n@bertil: /samtal\n@bertil: [5]")
    await _meeting(console, sandviken, at(1, 20, 18), {ids["oliver"]: 4})
    await console.run("@clock: 2026-02-01T12:00\n@fatima: /samtal 40")
    await console.run(
        "@clock: 2026-02-05T09:00\n@nora: /start member_sandviken\n@nora: [Jag godkänner]\n"
        "@nora: [Ja, jag har precis gått med]\n@clock: 2026-02-05T10:00\n"
        "@cecilia: [Bekräfta medlemskapet]\n@clock: 2026-02-07T10:00\n"
        "@cecilia: [Jag har tagit kontakt]"
    )
    await console.run("@clock: 2026-02-10T10:00\n@bertil: /ny_medlem david")
    ids = await _ids(console)
    await _meeting(console, sandviken, at(2, 10, 18), {ids["anna"]: 5, ids["bertil"]: 3})
    await console.run("@clock: 2026-02-11T16:00\n@cecilia: [Jag har tagit kontakt]")
    await console.run(
        "@clock: 2026-02-14T12:00\n@anna: /samtal\n@anna: [10]\n@anna: [Dörrknackning]\n"
        "@anna: [Jobb]\n@anna: [Bostäder]\n@anna: [Klart]"
    )
    await console.run("@clock: 2026-02-20T12:00\n@cecilia: /samtal 15")
    await _session(console, circle, at(2, 20, 18), 135, [ids["cecilia"], ids["nora"]])
    await console.run("@clock: 2026-02-25T12:00\n@oliver: /conversations 30")
    await _session(console, gavle_circle, at(2, 25, 18), 90, [ids["fatima"]])
    await console.run("@clock: 2026-03-01T00:00")

    # --- CHECK 1, 1 March 00:00 ------------------------------------------------------------
    f = await _figures(console, "sandviken")
    # Members: Anna, Bertil, Cecilia, Erik (in the association), Oliver, Nora, David.
    assert f.members == 7
    # Last 30 days [30 Jan, 1 Mar): meeting 2 (Anna, Bertil), session 1 (Cecilia, Nora).
    assert f.took_part == Share(4, 7)
    assert f.new_members_this_year == 2
    assert f.guests_joined == 1  # David was a guest since 1 Jan; Nora came on the day she joined
    assert f.welcome.contacted == Share(2, 2)
    assert f.welcome.median_days_to_contact == pytest.approx((2 + 1.25) / 2)
    assert f.welcome.introduced_within_month == Share(0, 0)  # nobody joined a month ago yet
    assert f.welcome.education_offered_within_six_months == Share(0, 0)
    assert f.conversations == 20 + 5 + 10 + 15 + 30
    assert f.study_hours == pytest.approx(3.0)
    assert f.rating == pytest.approx((4 + 5 + 3) / 3) and f.ratings == 3
    # By month, out of today's members who had joined by the month's end:
    # January: Oliver of the six there then (Nora came in February); February: 4 of 7.
    assert [s for _, s in f.by_month[-3:]] == [Share(1, 6), Share(4, 7), Share(0, 7)]
    assert f.by_month[0][1] == Share(0, 0)  # March 2025: nobody yet
    assert f.accumulated[-1][1] == 80 and len(f.accumulated) == 60  # 1 Jan .. 1 Mar

    # Conversations: 80 in 59 days, projected over the year (365 days less a second):
    # 80 × (365 × 86400 − 1) / (59 × 86400) = 494.915… ; 494.9 / 500 = 99 % → at risk.
    assert _projected(f, GoalKind.CONVERSATIONS) == pytest.approx(494.915, abs=0.001)
    # Members: from 5 (1 Jan 09:00) to 7 in 58 days 15 hours; 306 days less a second left:
    # 7 + 2 × 306 / 58.625 = 17.439… ; (17.44 − 5) / (30 − 5) = 50 % → off track.
    assert _projected(f, GoalKind.MEMBERS) == pytest.approx(17.439, abs=0.001)
    # Taking part: from 0 % to 57.1 %, far beyond 60 % at that pace, capped at 100 % → on track.
    assert _projected(f, GoalKind.PARTICIPATION) == pytest.approx(100.0)
    assert _arrows(f) == {
        GoalKind.CONVERSATIONS: Arrow.AT_RISK,
        GoalKind.MEMBERS: Arrow.OFF_TRACK,
        GoalKind.PARTICIPATION: Arrow.ON_TRACK,
    }

    # Gävle: 40 × 365 / 59 = 247.46 of 300 = 82 % → off track.
    g = await _figures(console, "gavle")
    assert g.conversations == 40 and g.members == 1 and g.took_part == Share(1, 1)
    assert _projected(g, GoalKind.CONVERSATIONS) == pytest.approx(247.457, abs=0.001)
    assert _arrows(g) == {GoalKind.CONVERSATIONS: Arrow.OFF_TRACK}

    # The district adds up its branches: Sara and Fatima besides Sandviken's seven.
    d = await _figures(console, "gavleborg")
    assert d.members == 9
    assert d.took_part == Share(5, 9)
    assert d.conversations == 120
    assert d.study_hours == pytest.approx(5.0)
    assert d.new_members_this_year == 2 and d.guests_joined == 1
    assert d.rating == pytest.approx(4.0)
    assert d.goals == []  # the district has set no goals of its own

    # The same in chat, for the organiser.
    said = await console.said("@bertil: /statistik")
    assert "Medlemmar: 7" in said
    assert "Deltog i en aktivitet de senaste 30 dagarna: 4/7 (57 %)" in said
    assert "Nya medlemmar i år: 2, varav 1 var gäst här först" in said
    assert "Väljarsamtal i år: 80 (mål 500)" in said
    assert "Snittbetyg på träffar: 4,0 av 5 (3 betyg)" in said
    assert "→ Väljarsamtal: 80 av 500 till 31 dec. 2026, risk att missa målet" in said
    assert "↘ Medlemmar: 7 av 30" in said and "↗ Deltog de senaste 30 dagarna: 57 %" in said
    assert "participation-sandviken.png" in said and "conversations-sandviken.png" in said

    # --- the rest of the year ---------------------------------------------------------------
    await _session(console, circle, at(3, 5, 18), 135, [ids["cecilia"]])
    await _session(console, circle, at(4, 1, 18), 135, [])
    for moment, who, count in (
        ("2026-04-15T12:00", "anna", 100),
        ("2026-06-10T12:00", "bertil", 120),
        ("2026-09-05T12:00", "oliver", 80),
        ("2026-10-20T12:00", "anna", 40),
    ):
        command = "/conversations" if who == "oliver" else "/samtal"
        await console.run(f"@clock: {moment}\n@{who}: {command} {count}")
    await _session(console, circle, at(10, 10, 18), 180, [ids["nora"], ids["david"]])
    await _meeting(console, ids["sandviken-centrum"], at(10, 15, 18), {ids["david"]: 2})
    await console.run("@clock: 2026-11-01T00:00")

    # --- CHECK 2, 1 November 00:00 ----------------------------------------------------------
    f = await _figures(console, "sandviken")
    assert f.members == 7
    assert f.took_part == Share(2, 7)  # [2 Oct, 1 Nov): Nora and David (David twice)
    assert f.welcome.introduced_within_month == Share(2, 2)  # the check-in on day 30 ended both
    assert f.welcome.education_offered_within_six_months == Share(2, 2)  # day 15
    assert f.conversations == 420
    assert f.study_hours == pytest.approx(3 + 3 + 4)  # session 3 had nobody: not held
    assert f.rating == pytest.approx((4 + 5 + 3 + 2) / 4)
    # 420 × 365 / 304 = 504.276… ≥ 500 → on track.
    assert _projected(f, GoalKind.CONVERSATIONS) == pytest.approx(504.276, abs=0.001)
    # 7 + 2 × 61 / 303.625 = 7.402 → (7.4 − 5) / 25 = 10 % → off track.
    assert _projected(f, GoalKind.MEMBERS) == pytest.approx(7.402, abs=0.001)
    # 2/7 = 28.571 %; + 28.571 × 61 / 303.625 = 34.312 % of 60 % = 57 % → off track.
    assert _projected(f, GoalKind.PARTICIPATION) == pytest.approx(34.312, abs=0.001)
    assert _arrows(f) == {
        GoalKind.CONVERSATIONS: Arrow.ON_TRACK,
        GoalKind.MEMBERS: Arrow.OFF_TRACK,
        GoalKind.PARTICIPATION: Arrow.OFF_TRACK,
    }
    images = charts(Translator("sv"), f)
    if os.environ.get("SAMTAL_SAVE_CHARTS"):  # to look at them: the directory to write to
        for image in images:
            (Path(os.environ["SAMTAL_SAVE_CHARTS"]) / image.filename).write_bytes(image.data)
    assert [a.filename for a in images] == [
        "participation-sandviken.png",
        "conversations-sandviken.png",
    ]

    # --- CHECK 3, after the deadline: the value reached decides --------------------------
    await console.run("@clock: 2027-01-02T12:00")
    f = await _figures(console, "sandviken")
    status = f.goal(GoalKind.CONVERSATIONS)
    assert status is not None
    assert status.progress.current == 420 and status.progress.projected == 420
    assert status.progress.arrow is Arrow.OFF_TRACK  # 420 / 500 = 84 % < 85 %
    assert f.conversations == 0  # a new year


async def test_reports_store_place_and_topics_and_outlive_the_reporter(year: Console) -> None:
    console = year
    await console.run(
        "@anna: /samtal\n@anna: [10]\n@anna: [Arbetsplats]\n@anna: [Vården]\n@anna: [Klart]"
    )
    # The count button works once: a second press does not count the conversations again.
    again = await console.said("@anna: [10]")
    assert "redan noterat" in again
    ids = await _ids(console)
    async with console.database.unit_of_work() as uow:
        reports = await uow.insights.reports_in([ids["sandviken"]], JAN1, JAN1 + timedelta(days=1))
    assert [(r.count, r.place, r.topics, r.person_id) for r in reports] == [
        (10, "workplace", ["care"], ids["anna"])
    ]
    # Reported in a group: the follow-up questions are personal, so they come to her privately
    # and the others in the group never see them.
    await console.run("@anna#allmant: /samtal 3")
    assert "sees no button" in await console.said("@bertil#allmant: [Telefon]")
    assert "-> anna:" in await console.said("@anna: [Telefon]")
    await console.run("@anna: /glom_mig\n@anna: [Ja, radera allt]")
    async with console.database.unit_of_work() as uow:
        reports = await uow.insights.reports_in([ids["sandviken"]], JAN1, JAN1 + timedelta(days=1))
    assert [(r.count, r.person_id, r.place) for r in reports] == [
        (10, None, "workplace"),
        (3, None, "phone"),
    ]
    f = await _figures(console, "sandviken")
    assert f.conversations == 13


async def test_charts_render_as_pictures_a_phone_can_show(year: Console) -> None:
    console = year
    await console.run("@bertil: /mal samtal 500\n@clock: 2026-03-01T12:00\n@anna: /samtal 40")
    ids = await _ids(console)
    await _meeting(console, ids["sandviken"], at(2, 10, 18), {ids["anna"]: 5, ids["bertil"]: 4})
    f = await _figures(console, "sandviken")
    assert [s for _, s in f.by_month[-2:]] == [Share(2, 5), Share(0, 5)]
    from io import BytesIO

    from matplotlib.image import imread

    for attachment in charts(Translator("sv"), f):
        assert attachment.media_type == "image/png" and attachment.data[:4] == b"\x89PNG"
        pixels = imread(BytesIO(attachment.data))
        assert pixels.shape[:2] == (675, 900)
        # Not blank: the party's red is drawn (bars or the line), and more than one colour.
        red = (abs(pixels[:, :, 0] - 0xE8 / 255) < 0.02) & (pixels[:, :, 1] < 0.15)
        assert red.sum() > 500
        assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 5


async def test_report_buttons_read_their_arguments_and_act_only_on_ones_own(year: Console) -> None:
    console = year
    forge_buttons(console)
    await console.run("@anna: /samtal 4")
    ids = await _ids(console)
    async with console.database.unit_of_work() as uow:
        [report] = await uow.insights.reports_in([ids["sandviken"]], JAN1, JAN1 + timedelta(days=1))
    own = str(report.id)
    for action, args in (
        (PLACE, f"{own} moon"),  # not a place
        (PLACE, own),  # too few
        (TOPIC, f"{own} weather"),  # not a topic
        (TOPIC, "999 jobs"),  # gone
        (DONE, f"x{own}"),  # not an id
    ):
        assert STALE in await press_with(console, "anna", action, args), (action, args)
    # Someone else's report reads as gone: Bertil can neither see nor change Anna's.
    for action, args in ((PLACE, f"{own} door"), (TOPIC, f"{own} jobs"), (DONE, own)):
        assert STALE in await press_with(console, "bertil", action, args), (action, args)
    assert "Valt: Jobb." in await press_with(console, "anna", TOPIC, f"{own} jobs")
    async with console.database.unit_of_work() as uow:
        stored = await uow.insights.report(report.id or 0)
    assert stored is not None and (stored.place, stored.topics) == (None, ["jobs"])
