"""The work a meeting's timers do when they fall due: reminders, the check-in call, and the
follow-up after the end (the timers themselves are armed by `bot.meetings.service`)."""

from __future__ import annotations

from datetime import datetime

from bot.context import Effects
from bot.domain.people import Person
from bot.i18n import Translator
from bot.meetings import views
from bot.meetings.model import (
    CHECK_IN_EARLY,
    LATE_TOLERANCE,
    REMINDED,
    Attendance,
    Meeting,
    coming_count,
    minutes_left,
    reminder_useful_until,
)
from bot.meetings.service import notify_answered, org_of, reminder_minutes, timer_prefix
from bot.messages import OutgoingMessage


async def current(fx: Effects, payload: dict[str, object]) -> Meeting | None:
    """The meeting a timer is about, or None if it was cancelled or changed since."""
    meeting_id = payload.get("meeting_id")
    if not isinstance(meeting_id, int):
        return None
    meeting = await fx.uow.meetings.get(meeting_id)
    if meeting is None or meeting.cancelled or meeting.version != payload.get("version"):
        return None
    return meeting


async def reminder_until(fx: Effects, meeting: Meeting, minutes: int) -> datetime:
    """Until when the reminder armed `minutes` before the start is worth sending."""
    offsets = await reminder_minutes(fx, meeting.org_id)
    return reminder_useful_until(meeting.starts_at, minutes, offsets)


async def send_reminders(fx: Effects, meeting: Meeting, minutes: int) -> int:
    assert meeting.id is not None
    org = await org_of(fx, meeting)
    left = minutes_left(meeting.starts_at, fx.now, minutes)  # late after downtime: from now
    return await notify_answered(
        fx,
        meeting,
        org,
        REMINDED,
        lambda t, zone: views.reminder(t, meeting, org, zone, left),
        f"{timer_prefix(meeting)}:remind:{minutes}",
    )


async def send_check_in(fx: Effects, meeting: Meeting) -> int:
    assert meeting.id is not None
    org = await org_of(fx, meeting)
    late = fx.now > meeting.starts_at + LATE_TOLERANCE  # after downtime: it began a while ago
    return await notify_answered(
        fx,
        meeting,
        org,
        REMINDED,
        lambda t, zone: views.check_in_call(t, meeting, org, zone, late=late),
        f"{timer_prefix(meeting)}:checkin",
    )


def check_in_open(meeting: Meeting, now: datetime) -> bool:
    return meeting.starts_at - CHECK_IN_EARLY <= now < meeting.ends_at


async def record_attendance(
    fx: Effects, meeting: Meeting, person_id: int, confirmed_by: int | None = None
) -> bool:
    """Marks the person as there; False if they were already."""
    assert meeting.id is not None
    present = {a.person_id for a in await fx.uow.meetings.attendance(meeting.id)}
    if person_id in present:
        return False
    await fx.uow.meetings.add_attendance(
        Attendance(meeting.id, person_id, fx.now, confirmed_by=confirmed_by)
    )
    return True


async def send_follow_up(fx: Effects, meeting: Meeting, person: Person) -> bool:
    """Asks one attendee how it was (once per meeting and person)."""
    assert meeting.id is not None
    org = await org_of(fx, meeting)

    def build(t: Translator) -> OutgoingMessage:
        return views.follow_up(t, meeting, org)

    return await fx.notify(person, build, key=f"meeting:{meeting.id}:followup")


async def follow_up_all(fx: Effects, meeting: Meeting) -> int:
    """After the end: a follow-up to every attendee, and the numbers to the organiser."""
    assert meeting.id is not None
    sent = 0
    attendance = await fx.uow.meetings.attendance(meeting.id)
    for record in attendance:
        person = await fx.uow.people.get(record.person_id) if record.person_id else None
        if person is not None:
            sent += await send_follow_up(fx, meeting, person)
    rsvps = await fx.uow.meetings.rsvps(meeting.id)
    if meeting.created_by is not None and (rsvps or attendance):
        organiser = await fx.uow.people.get(meeting.created_by)
        if organiser is not None:
            # Only "I'm here" counts as a check-in; marks an organiser made are said apart.
            checked_in = sum(1 for a in attendance if a.confirmed_by is None)
            marked, coming = len(attendance) - checked_in, coming_count(rsvps)

            def build(t: Translator) -> OutgoingMessage:
                return views.organiser_summary(t, meeting, checked_in, marked, coming)

            await fx.notify(organiser, build, key=f"meeting:{meeting.id}:organiser-summary")
    return sent
