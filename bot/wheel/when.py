"""How the annual wheel's templates write times: `when`, durations and clock times.

Pure functions, no wheel rules: `when` is an RFC 5545 RRULE or a friendly form
("first Monday in March", "every Thursday", "week 38", "15 March", and the Swedish
"första måndagen i mars", "varje torsdag", "vecka 38", "15 mars"), read as a
recurrence applied within each calendar year. Durations and clock times go through
the shared time reader (`bot.timeread`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.rrule import (
    FR,
    MO,
    MONTHLY,
    SA,
    SU,
    TH,
    TU,
    WE,
    WEEKLY,
    YEARLY,
    rrule,
    rrulestr,
    weekday,
)

from bot.timeread import MONTHS, TimeReadError, read_clock, read_duration
from bot.timeread import WEEKDAYS as SHARED_WEEKDAYS

# The shared tables (bot.timeread), with dateutil's weekdays for the recurrence rules.
WEEKDAYS: dict[str, weekday] = {
    name: (MO, TU, WE, TH, FR, SA, SU)[number] for name, number in SHARED_WEEKDAYS.items()
}

ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "last": -1,
    "första": 1,
    "andra": 2,
    "tredje": 3,
    "fjärde": 4,
    "sista": -1,
}

_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
_MONTH_LIST = rf"(?P<months>(?:{_MO})(?:\s*(?:,|and|och)\s*(?:{_MO}))*)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"^{pattern}$"))
    for name, pattern in (
        ("weekly", rf"(?:every|each|varje|alla) (?P<wd>{_WD})"),
        (
            "monthly",
            rf"(?:the )?(?P<ord>{_ORD}) (?P<wd>{_WD}) (?:of|in|i) "
            r"(?:every month|each month|the month|varje månad|månaden)",
        ),
        ("yearly", rf"(?:the )?(?P<ord>{_ORD}) (?P<wd>{_WD}) (?:of|in|i) {_MONTH_LIST}"),
        ("week", r"(?:week|vecka) (?P<week>\d{1,2})"),
        ("week_day", rf"(?:on )?(?P<wd>{_WD}) (?:(?:of|in|i) )?(?:week|vecka) (?P<week>\d{{1,2}})"),
        ("date", rf"(?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th|:?e|:?a)? (?:of )?(?P<month>{_MO})"),
        ("date_us", rf"(?P<month>{_MO}) (?P<day>\d{{1,2}})(?:st|nd|rd|th)?"),
    )
)

WHEN_EXAMPLES = (
    '"every Thursday", "first Monday in March", "last Friday of every month", "week 38", '
    '"Tuesday week 38", "15 March", or an RRULE such as "FREQ=MONTHLY;BYDAY=-1FR" '
    '(in Swedish: "varje torsdag", "första måndagen i mars", "vecka 38", "15 mars")'
)


@dataclass(frozen=True)
class When:
    """A parsed `when`: a recurrence rule applied within each calendar year."""

    text: str
    freq: int
    byweekday: tuple[weekday, ...] | None = None
    bymonth: tuple[int, ...] | None = None
    bymonthday: int | None = None
    byweekno: int | None = None
    rrule_text: str | None = None  # the RRULE as written, when given as one

    def dates(self, year: int, at: time) -> list[datetime]:
        """Naive local start times in `year` (the rule restarts each 1 January)."""
        start = datetime.combine(date(year, 1, 1), at)
        until = datetime.combine(date(year, 12, 31), time(23, 59))
        if self.rrule_text is not None:
            rule = rrulestr(self.rrule_text, dtstart=start, ignoretz=True)
            assert isinstance(rule, rrule)
            return [d for d in rule.between(start, until, inc=True)]
        rule = rrule(
            self.freq,
            dtstart=start,
            until=until,
            byweekday=self.byweekday,
            bymonth=self.bymonth,
            bymonthday=self.bymonthday,
            byweekno=self.byweekno,
        )
        return list(rule)

    def ical_rule(self, months: Sequence[int] = ()) -> str:
        """The RRULE value for an iCalendar export (no DTSTART)."""
        if self.rrule_text is not None:
            return self.rrule_text.removeprefix("RRULE:")
        parts = [f"FREQ={_FREQ_NAMES[self.freq]}"]
        bymonth = self.bymonth or (tuple(months) if months else None)
        if bymonth:
            parts.append("BYMONTH=" + ",".join(str(m) for m in bymonth))
        if self.byweekno is not None:
            parts.append(f"BYWEEKNO={self.byweekno}")
        if self.bymonthday is not None:
            parts.append(f"BYMONTHDAY={self.bymonthday}")
        if self.byweekday:
            parts.append("BYDAY=" + ",".join(_ical_day(d) for d in self.byweekday))
        return ";".join(parts)


_FREQ_NAMES = {YEARLY: "YEARLY", MONTHLY: "MONTHLY", WEEKLY: "WEEKLY"}
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _ical_day(day: weekday) -> str:
    return f"{day.n or ''}{_ICAL_DAYS[day.weekday]}"


def parse_when(text: str) -> When:
    """Reads a `when`; raises ValueError with examples when it can't."""
    raw = " ".join(text.strip().split())
    if "FREQ=" in raw.upper():
        rule_text = raw if raw.upper().startswith("RRULE:") else f"RRULE:{raw}"
        if "DTSTART" in rule_text.upper():
            raise ValueError("an RRULE here has no DTSTART: the time comes from 'time'")
        try:
            rrulestr(rule_text, dtstart=datetime(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a valid RRULE ({exc})") from None
        return When(raw, YEARLY, rrule_text=rule_text.upper())
    folded = raw.lower().removeprefix("on ").removeprefix("på ")
    for name, pattern in _PATTERNS:
        match = pattern.match(folded)
        if match is None:
            continue
        groups = match.groupdict()
        if name == "weekly":
            return When(raw, WEEKLY, byweekday=(WEEKDAYS[groups["wd"]],))
        if name == "monthly":
            day = WEEKDAYS[groups["wd"]](ORDINALS[groups["ord"]])
            return When(raw, MONTHLY, byweekday=(day,))
        if name == "yearly":
            months = tuple(
                MONTHS[m] for m in re.split(r"\s*(?:,|\band\b|\boch\b)\s*", groups["months"]) if m
            )
            day = WEEKDAYS[groups["wd"]](ORDINALS[groups["ord"]])
            return When(raw, YEARLY, byweekday=(day,), bymonth=months)
        if name in ("week", "week_day"):
            week = int(groups["week"])
            if not 1 <= week <= 53:
                raise ValueError(f"there is no week {week}")
            wd = WEEKDAYS[groups["wd"]] if groups.get("wd") else MO
            return When(raw, YEARLY, byweekday=(wd,), byweekno=week)
        month, day_of_month = MONTHS[groups["month"]], int(groups["day"])
        try:
            date(2024, month, day_of_month)
        except ValueError:
            raise ValueError(f"there is no {raw}") from None
        return When(raw, YEARLY, bymonth=(month,), bymonthday=day_of_month)
    raise ValueError(f"I can't read {raw!r}; write it like {WHEN_EXAMPLES}")


def parse_duration(text: str) -> timedelta:
    """'3w', '2d', '1h30m', '90m' (weeks, days, hours, minutes), or as `bot.timeread` reads them."""
    try:
        return read_duration(text)
    except TimeReadError:
        raise ValueError(
            f"expected a duration such as '2h', '90m', '1d' or '3w', got {text!r}"
        ) from None


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (7 * 24 * 60) == 0:
        return f"{minutes // (7 * 24 * 60)}w"
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def parse_clock(text: str) -> time:
    """'18:00', '18.30', 'kl 18' (the time reader's clock)."""
    try:
        return read_clock(text)
    except TimeReadError:
        raise ValueError(f"expected a time such as '18:00', got {text!r}") from None
