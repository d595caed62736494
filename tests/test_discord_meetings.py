"""Meetings on Discord: a thread and a guild scheduled event per meeting, with the
real discord.py against the REST double.

The core asks for a thread and a calendar event on a meeting's announcement
(`ThreadRequest`, `CalendarEvent`), posts the discussion questions in that
thread, and sends changes and cancellations as notices that refer to the
announcement. The Discord gateway opens the thread on the announcement's
message, creates the scheduled event, and updates or cancels the same event;
the dispatcher hands it what it returned for the announcement. Where Discord
refuses, the posts still go out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.discord.gateway import THREAD_NAME_LIMIT, thread_name
from bot.clock import VirtualClock
from bot.context import Effects
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from bot.meetings.model import Meeting
from bot.meetings.service import MeetingDraft, cancel_meeting, create_meeting, update_meeting
from bot.messages import OutgoingMessage, ThreadRequest, message
from storage.database import Database
from tests.platform_drivers import DiscordDriver, discord_bot
from tests.test_telegram_adapter import outbox

sv = Translator("sv")
THEME = "Trygghet i Sandviken"
QUESTIONS = ["Var känner du dig otrygg?", "Vad kan kommunen göra?"]


async def plan_meeting(
    database: Database, clock: VirtualClock, dc: DiscordDriver, start: datetime | None = None
) -> Meeting:
    async with database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        start = start or clock.now() + timedelta(days=7)
        draft = MeetingDraft(
            THEME, start, start + timedelta(hours=2), questions=QUESTIONS, place="Folkets hus"
        )
        meeting = await create_meeting(Effects(uow, clock), org, draft)
        await uow.commit()
    await dc.samtal.run_due()
    return meeting


async def connected(database: Database, clock: VirtualClock, dc: DiscordDriver) -> None:
    await seed_demo(database.unit_of_work, clock)
    await dc.link_demo("bertil")
    await dc.bind_group("bertil", "allmant", "sandviken")


async def test_a_meeting_gets_a_thread_with_its_questions(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        before = len(dc.double.posted)
        await plan_meeting(database, clock, dc)

        announcement, questions = dc.double.posted[before:]
        channel = dc.group_id("allmant")
        assert announcement.channel_id == channel
        assert announcement.text.startswith(sv("New themed meeting"))
        assert announcement.buttons()  # RSVP stays on the announcement itself
        thread = dc.double.threads[int(announcement.message["id"])]
        assert thread["name"] == THEME and thread["parent_id"] == str(channel)

        assert questions.channel_id == int(thread["id"])  # inside the thread
        assert questions.text.startswith(sv("Discussion: {theme}").format(theme=THEME))
        assert "1. Var känner du dig otrygg?" in questions.text
        assert dc.double.refusals == []
        rows = [row for row in await outbox(database) if row[0] == str(channel)]
        assert [row[1] for row in rows[-2:]] == ["sent", "sent"]


async def test_where_discord_refuses_the_thread_the_questions_go_to_the_channel(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        channel = dc.group_id("allmant")
        dc.double.threads_forbidden.add(channel)
        before = len(dc.double.posted)
        await plan_meeting(database, clock, dc)

        announcement, questions = dc.double.posted[before:]
        assert dc.double.threads == {}
        assert announcement.channel_id == channel == questions.channel_id
        assert questions.text.startswith(sv("Discussion: {theme}").format(theme=THEME))
        # The refused thread (and the look-up of the thread that is not there) only:
        # the announcement is not sent twice and nothing is retried.
        assert [(r[1], r[2]) for r in dc.double.refusals] == [
            (403, "Missing Permissions"),
            (404, "Unknown Channel"),
        ]
        await dc.samtal.run_due()
        assert len(dc.double.posted) == before + 2


def test_thread_requests_survive_the_outbox_and_names_fit_discord() -> None:
    sent = OutgoingMessage(
        message("x").spans,
        thread=ThreadRequest(THEME),
        in_thread=True,
        refers_to="k",
        reference="9",
    )
    assert OutgoingMessage.from_json(sent.to_json()) == sent
    assert OutgoingMessage.from_json(message("x").to_json()).thread is None
    long = thread_name("Ett  mycket\nlångt tema " * 20)
    assert len(long) == THREAD_NAME_LIMIT and long.endswith("…") and "\n" not in long


STOCKHOLM = ZoneInfo("Europe/Stockholm")


async def test_a_meeting_is_a_scheduled_event_moved_and_cancelled_with_it(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        # Sweden moves to summer time on 29 March: each meeting is an event at its own instant.
        before_dst = await plan_meeting(
            database, clock, dc, datetime(2026, 3, 23, 18, 0, tzinfo=STOCKHOLM)
        )
        after_dst = await plan_meeting(
            database, clock, dc, datetime(2026, 3, 30, 18, 0, tzinfo=STOCKHOLM)
        )
        assert before_dst.id is not None and after_dst.id is not None
        first, second = dc.double.events.values()
        assert first["name"] == THEME and first["status"] == 1
        assert first["entity_metadata"] == {"location": "Folkets hus"}
        assert first["scheduled_start_time"] == "2026-03-23T17:00:00+00:00"
        assert second["scheduled_start_time"] == "2026-03-30T16:00:00+00:00"  # 18:00 CEST

        # The organiser moves the first meeting an hour later: the same event moves.
        async with database.unit_of_work() as uow:
            meeting = await uow.meetings.get(before_dst.id)
            assert meeting is not None
            meeting.starts_at += timedelta(hours=1)
            meeting.ends_at += timedelta(hours=1)
            await update_meeting(Effects(uow, clock), meeting, ["time"])
            await uow.commit()
        await dc.samtal.run_due()
        assert len(dc.double.events) == 2
        assert first["scheduled_start_time"] == "2026-03-23T18:00:00+00:00"
        assert first["scheduled_end_time"] == "2026-03-23T20:00:00+00:00"
        assert dc.double.posted[-1].text.startswith(
            sv("Changed: {what}").format(what=sv("new time"))
        )

        # Cancelled: the event is cancelled too, the other one untouched.
        async with database.unit_of_work() as uow:
            meeting = await uow.meetings.get(before_dst.id)
            assert meeting is not None
            await cancel_meeting(Effects(uow, clock), meeting)
            await uow.commit()
        await dc.samtal.run_due()
        assert (first["status"], second["status"]) == (4, 1)
        assert dc.double.posted[-1].text.startswith(sv("Cancelled"))
        assert dc.double.refusals == []


async def test_without_the_right_to_make_events_the_meeting_is_still_announced(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        dc.double.events_forbidden = True
        meeting = await plan_meeting(database, clock, dc)
        assert meeting.id is not None
        assert dc.double.events == {}
        assert [r[1:] for r in dc.double.refusals] == [(403, "Missing Permissions")]
        async with database.unit_of_work() as uow:
            found = await uow.meetings.get(meeting.id)
            assert found is not None
            await cancel_meeting(Effects(uow, clock), found)
            await uow.commit()
        await dc.samtal.run_due()
        # The cancellation is posted; there is no event to cancel, so nothing more is asked.
        assert dc.double.posted[-1].text.startswith(sv("Cancelled"))
        assert len(dc.double.refusals) == 1
        channel = dc.group_id("allmant")
        rows = [row for row in await outbox(database) if row[0] == str(channel)]
        assert {row[1] for row in rows} == {"sent"}
