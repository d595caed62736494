"""Meetings as iCalendar (RFC 5545), for `samtal calendar` and the "add to calendar" button.

Each event carries the organisation's time zone (a VTIMEZONE and DTSTART/DTEND
with TZID), a stable UID (`meeting-<id>@samtal`) so calendars update rather
than duplicate, a SEQUENCE that is the meeting's version (raised on every
change) and STATUS:CANCELLED once cancelled. The annual wheel's served
calendar can reuse `calendar_bytes` with its own events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.domain.organisations import Organisation
from bot.meetings.model import Meeting

PRODID = "-//Samtal//Themed meetings//SV"
UID_DOMAIN = "samtal"


def meeting_uid(meeting: Meeting) -> str:
    return f"meeting-{meeting.id}@{UID_DOMAIN}"


def meeting_event(meeting: Meeting, org: Organisation, stamp: datetime) -> Event:
    """One VEVENT; times in the organisation's zone, `stamp` (DTSTAMP) is when it was exported."""
    zone = ZoneInfo(org.timezone)
    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("dtstamp", stamp)
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("summary", meeting.theme)
    description = meeting.description
    if meeting.questions:
        questions = "\n".join(f"{n}. {q}" for n, q in enumerate(meeting.questions, start=1))
        description = f"{description}\n\n{questions}".strip()
    if description:
        event.add("description", description)
    if meeting.place:
        event.add("location", meeting.place)
    if meeting.link:
        event.add("url", meeting.link)
        if not meeting.place:
            event.add("location", meeting.link)
    event.add("sequence", meeting.version)
    event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
    if meeting.updated_at:
        event.add("last-modified", meeting.updated_at)
    return event


def calendar_bytes(
    items: Iterable[tuple[Meeting, Organisation]], stamp: datetime, name: str | None = None
) -> bytes:
    """A whole calendar: the events, and a VTIMEZONE for each zone they use."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("x-wr-calname", name)
    for meeting, org in items:
        calendar.add_component(meeting_event(meeting, org, stamp))
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


def meeting_filename(meeting: Meeting) -> str:
    return f"meeting-{meeting.id}.ics"
