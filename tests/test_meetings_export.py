"""Meetings leaving the bot: iCalendar files, contribution exports, attendance figures, erasure."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar

from bot.context import Effects
from bot.domain.organisations import Organisation, OrgKind
from bot.i18n import Translator
from bot.meetings.model import Answer, Meeting
from bot.meetings.service import MeetingDraft, cancel_meeting, create_meeting, update_meeting
from bot.meetings.views import CSV_HEADER, contributions_csv, contributions_markdown
from bot.render.calendar import calendar_bytes
from samtal.calendar_cli import export_calendar
from tests.conftest import Console

STOCKHOLM = ZoneInfo("Europe/Stockholm")


async def _create(console: Console, theme: str, start: datetime, hours: int = 2) -> int:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        meeting = await create_meeting(
            Effects(uow, console.clock),
            org,
            MeetingDraft(theme, start, start + timedelta(hours=hours), place="Folkets hus"),
        )
        await uow.commit()
        assert meeting.id is not None
        return meeting.id


def _events(path: Path) -> dict[str, object]:
    calendar = Calendar.from_ical(path.read_bytes())
    assert calendar.walk("VTIMEZONE"), "the calendar carries its time zone"
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


async def test_calendar_keeps_local_time_on_both_sides_of_the_summer_time_change(
    console: Console, tmp_path: Path
) -> None:
    before = await _create(
        console, "Före sommartid", datetime(2026, 3, 26, 18, 0, tzinfo=STOCKHOLM)
    )
    after = await _create(console, "Efter sommartid", datetime(2026, 4, 2, 18, 0, tzinfo=STOCKHOLM))
    out = tmp_path / "sandviken.ics"
    assert await export_calendar(console.database, console.clock, "sandviken", out) == 0

    events = _events(out)
    for theme, meeting_id in (("Före sommartid", before), ("Efter sommartid", after)):
        event = events[theme]
        start = event.decoded("DTSTART")  # type: ignore[attr-defined]
        end = event.decoded("DTEND")  # type: ignore[attr-defined]
        assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"  # type: ignore[index]
        assert (start.hour, start.minute, end.hour) == (18, 0, 20)
        assert str(event["UID"]) == f"meeting-{meeting_id}@samtal"  # type: ignore[index]
        assert int(event["SEQUENCE"]) == 0  # type: ignore[index]
        assert str(event["STATUS"]) == "CONFIRMED"  # type: ignore[index]
    first = events["Före sommartid"].decoded("DTSTART")  # type: ignore[attr-defined]
    second = events["Efter sommartid"].decoded("DTSTART")  # type: ignore[attr-defined]
    assert first.utcoffset() == timedelta(hours=1)
    assert second.utcoffset() == timedelta(hours=2)
    assert len(events) == 3  # with the demo's open meeting: its members' meeting is not public
    assert (
        await export_calendar(
            console.database, console.clock, "sandviken", out, members_only_too=True
        )
        == 0
    )
    assert "Medlemsmöte: verksamhetsplan" in _events(out)


async def test_a_change_raises_the_sequence_and_a_cancellation_says_so(
    console: Console, tmp_path: Path
) -> None:
    meeting_id = await _create(console, "Flyttas", datetime(2026, 3, 20, 18, 0, tzinfo=STOCKHOLM))
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        meeting = await uow.meetings.get(meeting_id)
        assert meeting is not None
        meeting.starts_at += timedelta(hours=1)
        meeting.ends_at += timedelta(hours=1)
        await update_meeting(fx, meeting, ["time"])
        await uow.commit()
    out = tmp_path / "moved.ics"
    await export_calendar(console.database, console.clock, "sandviken", out)
    moved = _events(out)["Flyttas"]
    assert int(moved["SEQUENCE"]) == 1  # type: ignore[index]
    assert moved.decoded("DTSTART").hour == 19  # type: ignore[attr-defined]

    async with console.database.unit_of_work() as uow:
        meeting = await uow.meetings.get(meeting_id)
        assert meeting is not None
        await cancel_meeting(Effects(uow, console.clock), meeting)
        await uow.commit()
    await export_calendar(console.database, console.clock, "sandviken", out)
    cancelled = _events(out)["Flyttas"]
    assert str(cancelled["STATUS"]) == "CANCELLED"  # type: ignore[index]
    assert int(cancelled["SEQUENCE"]) == 2  # type: ignore[index]
    assert str(cancelled["UID"]) == str(moved["UID"])  # type: ignore[index]


async def test_the_calendar_button_sends_a_file_that_parses(console: Console) -> None:
    await console.run("@anna: /moten 1\n@anna: [Jag kommer]\n@anna: [Lägg till i kalendern]")
    attachment = console.gateway.delivered[-1].message.attachment
    assert attachment is not None and attachment.media_type == "text/calendar"
    (event,) = Calendar.from_ical(attachment.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Bostäder för unga"
    assert event.decoded("DTSTART") == datetime(2026, 3, 11, 18, 0, tzinfo=STOCKHOLM)


async def test_contributions_export_as_csv_and_markdown_through_the_chat(console: Console) -> None:
    await console.run(
        "\n".join(
            [
                "@anna: /bidrag 1 Fler hyresrätter, gärna små; och billiga.",
                '@oliver: /bidrag 1 Ask the young ones, "they know".',
                "@bertil: /moten 1",
                "@bertil: [Bidrag]",
                "@bertil: [CSV]",
            ]
        )
    )
    attachment = console.gateway.delivered[-1].message.attachment
    assert attachment is not None and attachment.filename == "contributions-1.csv"
    rows = list(csv.reader(io.StringIO(attachment.data.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert [(r[4], r[5]) for r in rows[1:]] == [
        ("Anna", "Fler hyresrätter, gärna små; och billiga."),
        ("Oliver", 'Ask the young ones, "they know".'),
    ]
    assert all(r[0] == "1" and r[1] == "Bostäder för unga" for r in rows[1:])
    assert rows[1][3] == "2026-03-02T09:00+01:00"

    await console.run("@bertil: [Bidrag]\n@bertil: [Markdown]")
    markdown = console.gateway.delivered[-1].message.attachment
    assert markdown is not None and markdown.media_type == "text/markdown"
    text = markdown.data.decode("utf-8")
    assert text.startswith("# Bostäder för unga\n")
    assert "1. Vad gör det svårt att hitta en bostad här?" in text
    assert "- **Anna** (2026-03-02 09:00): Fler hyresrätter, gärna små; och billiga." in text


async def test_contributions_csv_runs_no_formula(console: Console) -> None:
    # OWASP CSV injection: a cell starting with = + - @ (or tab/CR) is shown as text.
    await console.run(
        "\n".join(
            [
                '@anna: /bidrag 1 =HYPERLINK("http://evil.example","klick")',
                "@oliver: /bidrag 1 +1+cmd|' /C calc'!A0",
                "@cecilia: /bidrag 1 -2+3",
                "@bertil: /moten 1",
                "@bertil: [Bidrag]",
                "@bertil: [CSV]",
            ]
        )
    )
    attachment = console.gateway.delivered[-1].message.attachment
    assert attachment is not None and attachment.filename == "contributions-1.csv"
    rows = list(csv.reader(io.StringIO(attachment.data.decode("utf-8"))))
    assert [r[5] for r in rows[1:]] == [
        '\'=HYPERLINK("http://evil.example","klick")',
        "'+1+cmd|' /C calc'!A0",
        "'-2+3",
    ]
    start = datetime(2026, 3, 12, 18, tzinfo=STOCKHOLM)
    meeting = Meeting(1, "=Tema", start, start + timedelta(hours=2), id=7)
    org = Organisation("s", "\t=1+1", OrgKind.BRANCH, id=1)
    data = contributions_csv(meeting, org, [(start, "\r@Anna", "@SUM(1+1)")]).decode("utf-8")
    (row,) = list(csv.reader(io.StringIO(data)))[1:]
    assert row == ["7", "'=Tema", "'\t=1+1", "2026-03-12T18:00+01:00", "'\r@Anna", "'@SUM(1+1)"]


async def test_only_organisers_of_the_meeting_can_export(console: Console) -> None:
    # Fatima organises in Gävle, not Sandviken: she sees no organiser buttons on meeting 1,
    # and a button pressed from elsewhere is refused by the action itself.
    card = await console.said("@fatima: /moten 1")
    assert "[Bidrag]" not in card and "[Ändra]" not in card
    from adapters.console.app import chat_for, sender
    from bot.domain.delivery import ButtonAction
    from bot.events import ButtonPressed

    async with console.database.unit_of_work() as uow:
        await uow.buttons.add(
            ButtonAction(
                "forged",
                "meeting.export_as",
                ["1", "csv"],
                "console",
                "fatima",
                console.clock.now(),
            )
        )
        await uow.commit()
    before = len(console.gateway.delivered)
    await console.samtal.handle(
        ButtonPressed("e1", sender("fatima"), chat_for("fatima", None), "forged")
    )
    await console.samtal.run_due()
    answers = console.gateway.delivered[before:]
    assert [a.message.attachment for a in answers] == [None]
    assert "Sandvikens arbetarekommun" in answers[0].message.plain_text


def test_markdown_export_shows_member_text_as_written() -> None:
    org = Organisation("s", "Sandviken", OrgKind.BRANCH, id=1)
    start = datetime(2026, 3, 12, 18, tzinfo=STOCKHOLM)
    meeting = Meeting(1, "Tema", start, start + timedelta(hours=2), id=7)
    rows = [(start, "Anna", "# not a heading, [not](a link) *no*\nnew line")]
    text = contributions_markdown(meeting, org, rows, Translator("sv")).decode("utf-8")
    assert "\\# not a heading, \\[not\\](a link) \\*no\\* new line" in text
    data = contributions_csv(meeting, org, rows).decode("utf-8")
    (row,) = list(csv.reader(io.StringIO(data)))[1:]
    assert row[5] == "# not a heading, [not](a link) *no*\nnew line"


async def test_attendance_per_period_and_erasure(console: Console) -> None:
    await console.run(
        "\n".join(
            [
                "@anna: /moten 1",
                "@anna: [Jag kommer]",
                "@anna: /bidrag 1 Mitt bidrag",
                "@oliver: /meetings 1",
                "@oliver: [I'm coming]",
                "@clock: 2026-03-11T18:00",
                "@anna: [Jag är här]",
                "@oliver: [I'm here]",
            ]
        )
    )
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        anna = await uow.people.by_identity("console", "anna")
        bertil = await uow.people.by_identity("console", "bertil")
        assert org and org.id and anna and anna.id and bertil and bertil.id
        march = await uow.meetings.attendance_in(
            [org.id], datetime(2026, 3, 1, tzinfo=STOCKHOLM), datetime(2026, 4, 1, tzinfo=STOCKHOLM)
        )
        assert {(r.meeting_id, r.org_id) for r in march} == {(1, org.id)}
        assert len(march) == 2 and anna.id in {r.person_id for r in march}
        april = await uow.meetings.attendance_in(
            [org.id], datetime(2026, 4, 1, tzinfo=STOCKHOLM), datetime(2026, 5, 1, tzinfo=STOCKHOLM)
        )
        assert april == []
        # Erasure: Anna's answer and words go, her attendance stays counted naming no one;
        # the meeting outlives its organiser.
        await uow.people.erase(anna.id)
        await uow.people.erase(bertil.id)
        await uow.commit()
    async with console.database.unit_of_work() as uow:
        assert [r.answer for r in await uow.meetings.rsvps(1)] == [Answer.COMING]
        attendance = await uow.meetings.attendance(1)
        assert len(attendance) == 2 and anna.id not in {a.person_id for a in attendance}
        assert None in {a.person_id for a in attendance}
        assert await uow.meetings.contributions(1) == []
        meeting = await uow.meetings.get(1)
        assert meeting is not None and meeting.created_by is None


def test_calendar_of_nothing_is_still_a_calendar() -> None:
    calendar = Calendar.from_ical(calendar_bytes([], datetime(2026, 3, 2, tzinfo=STOCKHOLM)))
    assert calendar.walk("VEVENT") == []
