"""Campaigns: the pure rules (waitlist by time, totals per area, topic and union, meeting
points), and the use cases on a real database: reports feed the conversation figures once,
the export is safe for a spreadsheet, and an erased participant's note goes while the
figures stay."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from bot.campaigns.model import (
    Campaign,
    CampaignKind,
    ReportRow,
    Shift,
    ShiftReport,
    Signup,
    SignupState,
    places_left,
    reminder_due,
    split_meeting_point,
    state_for,
    to_promote,
    totals,
    waitlist,
    waitlist_position,
)
from bot.campaigns.service import (
    ReportFigures,
    add_shift,
    create_campaign,
    export_csv,
    save_report,
    sign_up,
)
from bot.context import Effects
from bot.i18n import Translator
from bot.insights.model import GoalKind
from bot.insights.service import current_value
from tests.conftest import START, Console

T0 = START


def _signup(person: int, state: SignupState, minutes: int, ident: int) -> Signup:
    return Signup(1, person, state, T0 + timedelta(minutes=minutes), id=ident)


def test_the_waitlist_goes_by_when_people_asked_not_by_id() -> None:
    signups = [
        _signup(1, SignupState.SIGNED_UP, 0, 1),
        _signup(2, SignupState.WAITING, 5, 2),  # asked later, stored earlier
        _signup(3, SignupState.WAITING, 2, 3),
        _signup(4, SignupState.WAITING, 2, 4),  # same minute: the lower id first
    ]
    assert [s.person_id for s in waitlist(signups)] == [3, 4, 2]
    assert waitlist_position(signups, 2) == 3
    assert places_left(1, signups) == 0
    assert state_for(1, signups) is SignupState.WAITING
    assert state_for(None, signups) is SignupState.SIGNED_UP
    assert [s.person_id for s in to_promote(3, signups)] == [3, 4]
    assert [s.person_id for s in to_promote(None, signups)] == [3, 4, 2]


def test_the_reminder_comes_the_day_before_or_two_hours_before_a_late_planned_shift() -> None:
    shift = Shift(1, T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2), "Norr")
    assert reminder_due(shift, T0) == T0 + timedelta(days=2)
    shift.starts_at = T0 + timedelta(hours=5)
    assert reminder_due(shift, T0) == T0 + timedelta(hours=3)
    shift.starts_at = T0 + timedelta(hours=1)
    assert reminder_due(shift, T0) == T0


def test_meeting_points_split_into_text_and_one_https_link() -> None:
    assert split_meeting_point("Konsum https://maps.example.org/?q=a") == (
        "Konsum",
        "https://maps.example.org/?q=a",
    )
    assert split_meeting_point("https://maps.example.org/x") == (None, "https://maps.example.org/x")
    # Only https links become links; anything else stays text.
    assert split_meeting_point("javascript:alert(1) torget") == ("javascript:alert(1) torget", None)
    assert split_meeting_point("http://x.example torget") == ("http://x.example torget", None)


def test_totals_per_area_topic_and_union() -> None:
    door = Campaign(1, "Dörrar", CampaignKind.DOOR, date(2026, 3, 9), date(2026, 3, 13), id=1)
    visit = Campaign(
        1, "Besök", CampaignKind.WORKPLACE, date(2026, 3, 9), date(2026, 3, 9), union="IF Metall"
    )
    north = Shift(1, T0, T0, "Norr", id=1)
    gate = Shift(2, T0, T0, "Grind 2", id=2)
    rows = [
        ReportRow(door, north, ShiftReport(1, 1, 8, 50, T0, ["housing", "school"])),
        ReportRow(door, north, ShiftReport(1, 2, 3, 25, T0, ["housing"])),
        ReportRow(visit, gate, ShiftReport(2, 3, 6, 0, T0, ["jobs"])),
    ]
    found = totals(rows)
    assert (found.reports, found.conversations, found.doors) == (3, 17, 75)
    assert found.by_area == {"Norr": (11, 75), "Grind 2": (6, 0)}
    assert found.by_topic == {"housing": 2, "jobs": 1, "school": 1}
    assert found.by_union == {"IF Metall": 6}


async def test_reports_feed_the_figures_once_and_erasure_keeps_the_counts(
    console: Console,
) -> None:
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        org = await uow.orgs.by_slug("sandviken")
        anna = await uow.people.by_identity("console", "anna")
        assert org is not None and org.id is not None and anna is not None
        campaign = await create_campaign(
            fx,
            Campaign(
                org.id, "Vecka", CampaignKind.DOOR, date(2026, 3, 2), date(2026, 3, 6), ["care"]
            ),
        )
        start = START + timedelta(hours=1)
        shift = await add_shift(
            fx, campaign, Shift(0, start, start + timedelta(hours=2), "=Norr", "Torget")
        )
        signup, new = await sign_up(fx, shift, anna)
        assert new and signup.state is SignupState.SIGNED_UP
        first = ReportFigures(4, 30, ["care"], '=HYPERLINK("x")')
        await save_report(fx, campaign, shift, anna, first)
        await save_report(fx, campaign, shift, anna, ReportFigures(6, 40, ["care"], "Bra"))
        since = START - timedelta(days=1)
        counted = await current_value(uow, org, GoalKind.CONVERSATIONS, since, START)
        assert counted == 6  # corrected in place, not 4 + 6
        rows = await uow.campaigns.report_rows([campaign.id or 0])
        data = export_csv(Translator("sv"), rows, org.zone).decode("utf-8-sig")
        await uow.commit()
    lines = list(csv.reader(io.StringIO(data)))
    assert lines[0][:3] == ["Kampanj", "Typ", "Fackförbund"]
    assert lines[1][5:] == ["'=Norr", "6", "40", "Vården", "Bra"]  # no formula from user text

    await console.run("@anna: /glom_mig\n@anna: [Ja, radera allt]")
    async with console.database.unit_of_work() as uow:
        assert shift.id is not None
        reports = await uow.campaigns.reports(shift.id)
        assert [(r.person_id, r.conversations, r.doors, r.note) for r in reports] == [
            (None, 6, 40, None)
        ]
        assert await uow.campaigns.signups_of(anna.id or 0) == []
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        since = START - timedelta(days=1)
        assert await current_value(uow, org, GoalKind.CONVERSATIONS, since, START) == 6


async def test_a_wheel_key_fills_in_the_campaign_and_an_unknown_key_is_refused(
    console: Console,
) -> None:
    said = await console.said("@bertil: /ny_kampanj kampanjvecka-var")
    assert "Vilka ämnen ska deltagarna kunna kryssa i" in said  # name, kind, days filled in
    said = await console.said("@bertil: [Klart]")
    said = await console.said("@bertil: [Bara medlemmar]")
    assert "Kampanjvecka: samtal vid dörren" in said
    assert "Dörrknackning · Sandvikens arbetarekommun · 20 april – 24 april 2026" in said
    await console.run("@bertil: [Släng]")
    said = await console.said("@bertil: /ny_kampanj filmklubb-ingen")
    assert "Det finns ingen aktivitet filmklubb-ingen i årshjulet" in said
    # Members can't start campaigns.
    said = await console.said("@anna: /ny_kampanj")
    assert "Kampanjer framöver" not in said and "Vad heter kampanjen" not in said
