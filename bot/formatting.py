"""Dates and times as people read them: in the reader's time zone and language."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from bot.i18n import N_, Translator


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def when(instant: datetime, zone: ZoneInfo, t: Translator) -> str:
    """'måndag 2 mars 2026 kl. 18:00' / 'Monday 2 March 2026 at 18:00'."""
    return _when(instant, zone, t.language)


@functools.lru_cache(maxsize=1024)
def _when(instant: datetime, zone: ZoneInfo, language: str) -> str:
    # Remembered: a meeting's time is written into every answer to it, and Babel's
    # formatting was a measurable part of an RSVP's CPU (issue 21).
    moment = local(instant, zone)
    return Translator(language)("{date} at {time}").format(
        date=format_date(moment, "EEEE d MMMM y", locale=language),
        time=format_time(moment, "HH:mm", locale=language),
    )


def when_span(start: datetime, end: datetime, zone: ZoneInfo, t: Translator) -> str:
    """'måndag 2 mars 2026 kl. 18:00–20:00'; the end gets its own date when it is another day."""
    first, last = local(start, zone), local(end, zone)
    if first.date() == last.date():
        return f"{when(start, zone, t)}–{format_time(last, 'HH:mm', locale=t.language)}"
    return f"{when(start, zone, t)} – {when(end, zone, t)}"


def day(instant: datetime, zone: ZoneInfo, t: Translator) -> str:
    """'måndag 2 mars' / 'Monday 2 March'."""
    return format_date(local(instant, zone), "EEEE d MMMM", locale=t.language)


# Zones a member knows by a name rather than by their IANA id.
ZONE_NAMES = {"Europe/Stockholm": N_("Swedish time")}


def zone_name(zone_id: str, t: Translator) -> str:
    """'svensk tid' for Europe/Stockholm; another zone by its id."""
    name = ZONE_NAMES.get(zone_id)
    return t(name) if name else zone_id
