"""An organisation's calendar: its meetings and its annual wheel, as one iCalendar file.

`samtal calendar` writes it and the web server serves it at /calendar/<org>.ics,
so a calendar app can subscribe. Meetings come from `bot.render.calendar`; the
wheel's items are recurring events: DTSTART with the organisation's TZID, an
RRULE, EXDATE for skipped dates and a RECURRENCE-ID event for each moved one,
so calendar apps expand them at the same local hour on both sides of a
daylight-saving change. Items that run only in some years of the mandate
period (the election, the church election) are single events for the years
exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import cast

from icalendar import Calendar, Event, vRecur

from bot.domain.organisations import Organisation
from bot.meetings.model import Meeting
from bot.ports import UnitOfWork
from bot.render.calendar import calendar_bytes
from bot.wheel.model import EffectiveItem, WheelState, expand, series_dates, year_bounds

UID_DOMAIN = "samtal"
YEARS_EXPORTED = 3  # this year and the next two, for items that skip some years


def _uid(org: Organisation, item: EffectiveItem, suffix: str = "") -> str:
    return f"wheel-{org.slug}-{item.activity.key}{suffix}@{UID_DOMAIN}"


def _base_event(item: EffectiveItem, org: Organisation, stamp: datetime, uid: str) -> Event:
    activity = item.activity
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", activity.name)
    description = activity.theme
    if activity.material:
        description = f"{description}\n\n{activity.material}".strip()
    if activity.questions:
        questions = "\n".join(f"{n}. {q}" for n, q in enumerate(activity.questions, start=1))
        description = f"{description}\n\n{questions}".strip()
    if description:
        event.add("description", description)
    if activity.place:
        event.add("location", activity.place)
    event.add("categories", [activity.kind.value])
    return event


def wheel_events(
    org: Organisation,
    items: list[EffectiveItem],
    stamp: datetime,
    year: int,
    elsewhere: Mapping[str, set[date]] | None = None,
) -> list[Event]:
    """The wheel's VEVENTs from `year` on; `elsewhere` names the occurrences (by series date)
    that became meetings, which the calendar has as meetings already."""
    zone = org.zone
    events: list[Event] = []
    for item in items:
        activity = item.activity
        as_meetings = (elsewhere or {}).get(activity.key, set())
        every_year = activity.years.word == "all" and not activity.years.phases
        if every_year:
            first = series_dates(activity, year)
            if not first:
                continue
            start = first[0].replace(tzinfo=zone)
            series = _base_event(item, org, stamp, _uid(org, item))
            series.add("dtstart", start)
            series.add("dtend", start + activity.duration)
            series.add("rrule", _recur(item))
            skipped = sorted(d for d in item.skipped_dates | as_meetings if d >= start.date())
            for day in skipped:
                series.add("exdate", datetime.combine(day, activity.at, tzinfo=zone))
            events.append(series)
            for day, moved in sorted(item.moves.items()):
                if day < start.date() or day in as_meetings:
                    continue
                one = _base_event(item, org, stamp, _uid(org, item))
                one.add("recurrence-id", datetime.combine(day, activity.at, tzinfo=zone))
                begins = moved.replace(tzinfo=zone)
                one.add("dtstart", begins)
                one.add("dtend", begins + activity.duration)
                events.append(one)
            continue
        start, _ = year_bounds(year, zone)
        _, end = year_bounds(year + YEARS_EXPORTED - 1, zone)
        for occurrence in expand([item], start, end, zone):
            if occurrence.series_date in as_meetings:
                continue
            one = _base_event(item, org, stamp, _uid(org, item, f"-{occurrence.series_date}"))
            one.add("dtstart", occurrence.start.astimezone(zone))
            one.add("dtend", occurrence.end.astimezone(zone))
            events.append(one)
    return events


def _recur(item: EffectiveItem) -> vRecur:
    return cast(vRecur, vRecur.from_ical(item.activity.when.ical_rule(item.activity.months)))


async def wheel_components(uow: UnitOfWork, org: Organisation, stamp: datetime) -> list[Event]:
    """The wheel's events for an organisation that has started (or paused) its wheel."""
    from bot.wheel.service import effective_items

    assert org.id is not None
    if (await uow.wheel.settings_of(org.id)).state is WheelState.OFF:
        return []  # an inherited wheel nobody started here is not this organisation's plan
    year = stamp.astimezone(org.zone).year
    first, _ = year_bounds(year, org.zone)
    elsewhere: dict[str, set[date]] = {}
    for event in await uow.wheel.events_of(org.id, first, first + timedelta(days=366 * 5)):
        if event.linked and event.linked.startswith("meeting:"):
            elsewhere.setdefault(event.item_key, set()).add(event.series_date)
    return wheel_events(org, await effective_items(uow, org), stamp, year, elsewhere)


def add_events(data: bytes, events: list[Event]) -> bytes:
    """Adds events (and their time zones) to a calendar built by `calendar_bytes`."""
    if not events:
        return data
    calendar = Calendar.from_ical(data)
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones()
    result: bytes = calendar.to_ical()
    return result


async def organisation_calendar(uow: UnitOfWork, org: Organisation, stamp: datetime) -> bytes:
    """The public feed, as `samtal calendar` writes it: the open meetings here and below, and
    the annual wheel. Members-only meetings are for members' own feeds (bot/feeds)."""
    assert org.id is not None
    meetings: list[tuple[Meeting, Organisation]] = []
    for host in await uow.orgs.subtree(org.id):
        assert host.id is not None
        meetings += [
            (meeting, host)
            for meeting in await uow.meetings.of_org(host.id)
            if meeting.is_open_to_guests()
        ]
    meetings.sort(key=lambda pair: (pair[0].starts_at, pair[0].id or 0))
    wheel = await wheel_components(uow, org, stamp)
    return add_events(calendar_bytes(meetings, stamp, name=org.name), wheel)
