"""One reader for dates, times, ranges and durations, as Swedes and English speakers write them.

Pure: the caller passes `now` (aware) and the organisation's zone; nothing here reads the
clock. Every reader returns aware datetimes in that zone (wall-clock times checked against
daylight saving with zoneinfo) and raises `TimeReadError`, whose `explain(t)` is a friendly,
translated sentence.

What is read (Swedish and English, any case, with or without "kl", "kl.", "klockan", "at",
"den", "the", "on", "på"):

- days: "i dag"/"idag"/"today", "i morgon"/"imorgon"/"tomorrow", "i övermorgon", "i kväll"/
  "tonight", weekday names and abbreviations ("torsdag", "tors", "tor", "thu", "thursday"),
  "nästa torsdag"/"next thursday"/"torsdag nästa vecka", "17/12", "17/12 2026", "17/12/26",
  "17 dec", "17 december", "den 17:e december", "december 17", "17th of December",
  "2026-12-17";
- times: "18", "kl 18", "kl. 18.30", "18:30", "6 pm", "halv sju", "kvart i sju", "kvart över
  sex", "fem i halv sju", "tio över sju", "half past six", "quarter to seven";
- ranges: "18-21", "18–21", "18:00–21:00", "18 till 21", "från 18 till 21";
- ISO: "2026-12-17 18:30", "2026-12-17T18:30" (an offset after the "T" is honoured);
- durations: "2 h", "2h", "90 min", "1,5 timme", "två timmar", "en halvtimme", "1h30m",
  "3 dagar", "1v", "3w", "an hour and a half".

The words and tables are in `bot.timewords`. python-dateutil is not needed here: its parser
knows no Swedish, and zoneinfo does the daylight saving. The rules, chosen to be predictable:

- A weekday alone ("torsdag", "på torsdag") is its next occurrence, today included; if that
  time today has passed, the same weekday next week. "Nästa torsdag"/"next Thursday"/"torsdag
  nästa vecka" is the Thursday of next week (weeks start on Monday, as in Sweden).
- A date without a year that has passed this year is next year's. A date with a year, or a
  time today, that has passed is refused (`Problem.PAST`): the reader never guesses there.
- A weekday written with a date ("tors 17/12") must agree with it (`Problem.WRONG_WEEKDAY`).
- Times in digits are on the 24-hour clock ("kl 7" is 07:00) unless "pm"/"em"/"i kväll" says
  otherwise. Spoken times ("halv sju", "sju", "kvart i åtta") name an hour on the 12-hour
  clock: they are read as the reading between 08:00 and 19:59 ("halv sju" = 18:30, "halv
  nio" = 08:30), unless "på morgonen"/"fm"/"am" or "på kvällen"/"em"/"pm"/"i kväll" says which;
  and when that reading has already passed on the day meant and the other one has not, the
  other one (the next sensible occurrence).
- The end of a range may pass midnight ("22-01") when the evening lasts at most eight hours;
  "18-17" is refused as a mistake (`Problem.END_BEFORE_START`).
- A time alone ("18:30") is today's.
- A time that does not exist on the day (the hour skipped when summer time starts) is refused
  (`Problem.NO_SUCH_TIME`); one that happens twice (autumn) is its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_day_names

from bot.formatting import when
from bot.i18n import N_, Translator
from bot.timewords import (
    AM,
    DAY_NUMBER,
    DURATION_WORD,
    ISO_DATE,
    MONTHS,
    NEXT,
    NUMBER_WORDS,
    PM,
    RELATIVE,
    SLASH_DATE,
    THIS,
    TO_WORDS,
    UNITS,
    WEEKDAYS,
    WHOLE,
    YEAR,
    Clock,
    ClockError,
    clock_at,
    split_words,
)

__all__ = [
    "MONTHS",
    "OVERNIGHT",
    "PAST_DATE",
    "PAST_TIME",
    "REASONS",
    "UNREADABLE_CLOCK",
    "UNREADABLE_DATE",
    "UNREADABLE_DURATION",
    "WEEKDAYS",
    "Problem",
    "TimeReadError",
    "add",
    "leading_date",
    "read_clock",
    "read_date",
    "read_duration",
    "read_end",
    "read_moment",
    "read_span",
]

OVERNIGHT = timedelta(hours=8)
"""The longest a range may run past midnight ("22-01")."""


# --- errors -------------------------------------------------------------------------------


class Problem(StrEnum):
    """Why a typed time was not accepted."""

    UNREADABLE = "unreadable"
    NO_TIME = "no_time"
    NO_SUCH_DATE = "no_such_date"
    WRONG_WEEKDAY = "wrong_weekday"
    NO_SUCH_TIME = "no_such_time"
    PAST = "past"
    END_BEFORE_START = "end_before_start"
    TOO_LONG = "too_long"


REASONS: Mapping[Problem, str] = {
    Problem.UNREADABLE: N_(
        "I couldn't read that as a date and time. Write e.g. Thursday 17/12 at 18:30 or 2026-12-17 18:30."
    ),
    Problem.NO_TIME: N_("Add the time too, e.g. 12/3 18:00."),
    Problem.NO_SUCH_DATE: N_("That date isn't in the calendar."),
    Problem.WRONG_WEEKDAY: N_("{date} is a {weekday}, not a {named}."),
    Problem.NO_SUCH_TIME: N_("{time} doesn't exist on {date}: the clocks go forward that night."),
    Problem.PAST: N_("{when} has already passed. Choose a later time."),
    Problem.END_BEFORE_START: N_("The end must come after the start."),
    Problem.TOO_LONG: N_("That is too long."),
}
UNREADABLE_DATE = N_("I couldn't read that as a date. Write e.g. 17/12, 17 December or 2026-12-17.")
UNREADABLE_CLOCK = N_("I couldn't read that as a time. Write e.g. 18:30.")
UNREADABLE_DURATION = N_("I couldn't read that as a length of time. Write e.g. 2 h or 90 min.")
PAST_DATE = N_("{date} has already passed.")
PAST_TIME = N_("That time has already passed. Choose a time in the future.")
_UNNAMED = {
    Problem.PAST: PAST_TIME,
    Problem.WRONG_WEEKDAY: N_("The weekday doesn't match the date."),
    Problem.NO_SUCH_TIME: N_("That time doesn't exist that day: the clocks go forward."),
}


class TimeReadError(ValueError):
    """What went wrong, as a `Problem` and a translatable reason (an English msgid)."""

    def __init__(
        self,
        problem: Problem,
        reason: str | None = None,
        *,
        moment: datetime | None = None,
        day: date | None = None,
        named: int | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.reason = reason or REASONS[problem]
        self.moment, self.day, self.named = moment, day, named

    def explain(self, t: Translator) -> str:
        """The reason in the reader's language, with the date or time it is about."""
        values: dict[str, str] = {}
        if self.moment is not None:
            zone = self.moment.tzinfo
            assert isinstance(zone, ZoneInfo)
            values["when"] = when(self.moment, zone, t)
            values["time"] = self.moment.strftime("%H:%M")
        if self.day is not None:
            values["date"] = format_date(self.day, "d MMMM y", locale=t.language)
            values["weekday"] = format_date(self.day, "EEEE", locale=t.language)
        if self.named is not None:
            values["named"] = get_day_names("wide", locale=t.language)[self.named]
        try:
            return t(self.reason).format(**values)
        except KeyError:  # raised without the date or time it is about
            return t(_UNNAMED.get(self.problem, REASONS[Problem.UNREADABLE]))


def _unreadable(reason: str | None = None) -> TimeReadError:
    return TimeReadError(Problem.UNREADABLE, reason)


# --- the parts of a typed time ------------------------------------------------------------


@dataclass
class _Parts:
    day_month: tuple[int, int, int | None] | None = None  # day, month, year as written
    iso: bool = False
    relative: int | None = None
    weekday: int | None = None
    next_week: bool = False
    clocks: list[Clock] = field(default_factory=list)
    ranged: bool = False
    side: str | None = None  # 'am' / 'pm' said somewhere in the text

    @property
    def has_day(self) -> bool:
        return self.day_month is not None or self.relative is not None or self.weekday is not None


def _year(text: str) -> int:
    return int(text) + (2000 if len(text) == 2 else 0)


def _clock_at(words: Sequence[str], at: int) -> tuple[Clock, int] | None:
    try:
        return clock_at(words, at)
    except ClockError:
        raise _unreadable(UNREADABLE_CLOCK) from None


def _parts(text: str) -> _Parts:
    words = split_words(text)
    if not words:
        raise _unreadable()
    parts = _Parts()

    def set_date(day: int, month: int, year: int | None) -> None:
        if parts.day_month is not None or parts.relative is not None:
            raise _unreadable()
        parts.day_month = (day, month, year)

    def year_at(index: int) -> int | None:
        if index < len(words) and YEAR.fullmatch(words[index]):
            return int(words[index])
        return None

    at = 0
    while at < len(words):
        word = words[at]
        after = words[at + 1] if at + 1 < len(words) else None
        if word in RELATIVE:
            if parts.relative is not None or parts.day_month is not None:
                raise _unreadable()
            parts.relative = RELATIVE[word]
            if word == "ikväll":
                parts.side = "pm"
            at += 1
        elif word in (NEXT | THIS) and after in WEEKDAYS:
            if parts.weekday is not None:
                raise _unreadable()
            parts.weekday, parts.next_week = WEEKDAYS[after], word in NEXT
            at += 2
        elif word in WEEKDAYS:
            if parts.weekday is not None:
                raise _unreadable()
            parts.weekday = WEEKDAYS[word]
            at += 1
        elif (word, after) in (("nästa", "vecka"), ("next", "week")) and not parts.next_week:
            parts.next_week = True  # 'onsdag nästa vecka', 'nästa vecka onsdag'
            at += 2
        elif match := ISO_DATE.fullmatch(word):
            set_date(int(match[3]), int(match[2]), int(match[1]))
            parts.iso = True
            at += 1
        elif match := SLASH_DATE.fullmatch(word):
            year = _year(match[3]) if match[3] else year_at(at + 1)
            set_date(int(match[1]), int(match[2]), year)
            at += 2 if year is not None and not match[3] else 1
        elif (match := DAY_NUMBER.fullmatch(word)) and after in MONTHS:
            year = year_at(at + 2)
            set_date(int(match[1]), MONTHS[after], year)
            at += 3 if year is not None else 2
        elif word in MONTHS and after is not None and (match := DAY_NUMBER.fullmatch(after)):
            year = year_at(at + 2)
            set_date(int(match[1]), MONTHS[word], year)
            at += 3 if year is not None else 2
        elif word in TO_WORDS and parts.clocks and not parts.ranged:
            parts.ranged = True
            at += 1
        elif word == "-" and not parts.clocks:
            at += 1  # '17/12 - 18:00'
        elif word in AM or word in PM:
            side = "am" if word in AM else "pm"
            if parts.side not in (None, side):
                raise _unreadable()
            parts.side = side
            at += 1
        elif (clock := _clock_at(words, at)) is not None:
            limit = 2 if parts.ranged else 1
            if len(parts.clocks) >= limit:
                raise _unreadable()
            parts.clocks.append(clock[0])
            at = clock[1]
        else:
            raise _unreadable()
    if (parts.ranged and len(parts.clocks) != 2) or (parts.next_week and parts.weekday is None):
        raise _unreadable()
    return parts


# --- days ---------------------------------------------------------------------------------


def _calendar_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise TimeReadError(Problem.NO_SUCH_DATE) from None


def _day(parts: _Parts, today: date, *, rolling: bool) -> tuple[date, bool]:
    """The day meant, and whether it may move a week on when its time has passed."""
    if parts.day_month is not None:
        day, month, year = parts.day_month
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            raise TimeReadError(Problem.NO_SUCH_DATE)
        if year is not None:
            found = _calendar_date(year, month, day)
        elif not rolling:
            found = _calendar_date(today.year, month, day)
        else:
            # The next such date from today on ('29/2' waits for a leap year).
            found = next(
                (
                    candidate
                    for candidate in (
                        _maybe(y, month, day) for y in range(today.year, today.year + 9)
                    )
                    if candidate is not None and candidate >= today
                ),
                None,
            ) or _calendar_date(today.year, month, day)
        _check_weekday(parts, found)
        return found, False
    if parts.relative is not None:
        found = today + timedelta(days=parts.relative)
        _check_weekday(parts, found)
        return found, False
    if parts.weekday is not None:
        if parts.next_week:
            monday = today - timedelta(days=today.weekday())
            return monday + timedelta(days=7 + parts.weekday), False
        return today + timedelta(days=(parts.weekday - today.weekday()) % 7), True
    return today, False


def _maybe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _check_weekday(parts: _Parts, found: date) -> None:
    if parts.weekday is not None and found.weekday() != parts.weekday:
        raise TimeReadError(Problem.WRONG_WEEKDAY, day=found, named=parts.weekday)


# --- moments ------------------------------------------------------------------------------


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone; refused when summer time skips it."""
    moment = datetime.combine(day, clock, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise TimeReadError(Problem.NO_SUCH_TIME, moment=moment, day=day)
    return moment


def _later(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) > b.astimezone(UTC)


def _start(parts: _Parts, clock: Clock, day: date, zone: ZoneInfo, now: datetime) -> datetime:
    readings = [_local(day, t, zone) for t in clock.readings(parts.side)]
    # The preferred reading, unless it has passed and the other has not.
    return next((r for r in readings if _later(r, now)), readings[0])


def _end_after(start: datetime, clock: Clock, side: str | None, zone: ZoneInfo) -> datetime:
    """The end: the first reading after the start, on its day or (overnight) the next."""
    day = start.astimezone(zone).date()
    # 'i kväll 7-9' ends at 21, '22-1' at one at night: every reading, the earliest after the start.
    readings = sorted({*clock.readings(side), *clock.readings(None)})
    for offset in (0, 1):
        for reading in readings:
            end = _local(day + timedelta(days=offset), reading, zone)
            if _later(end, start):
                if offset and end.astimezone(UTC) - start.astimezone(UTC) > OVERNIGHT:
                    raise TimeReadError(Problem.END_BEFORE_START)
                return end
    raise TimeReadError(Problem.END_BEFORE_START)  # pragma: no cover - a day later is always after


def read_span(
    text: str,
    now: datetime,
    zone: ZoneInfo,
    *,
    default_time: time | None = None,
    allow_past: bool = False,
) -> tuple[datetime, datetime | None]:
    """A start and perhaps an end ('tors 17/12 18-21'); the end is None when none was written."""
    iso = _iso_moment(text, zone)
    if iso is not None:
        if not allow_past and not _later(iso, now):
            raise TimeReadError(Problem.PAST, moment=iso)
        return iso, None
    parts = _parts(text)
    today = now.astimezone(zone).date()
    day, weekly = _day(parts, today, rolling=True)
    if parts.clocks:
        start_clock = parts.clocks[0]
    elif default_time is not None and parts.has_day:
        start_clock = Clock(default_time.hour, default_time.minute)
    elif parts.has_day:
        raise TimeReadError(Problem.NO_TIME)
    else:
        raise _unreadable()
    start = _start(parts, start_clock, day, zone, now)
    if weekly and not _later(start, now):
        day += timedelta(days=7)  # 'måndag 08:00' said on a Monday at nine: next week's
        start = _start(parts, start_clock, day, zone, now)
    end = _end_after(start, parts.clocks[1], parts.side, zone) if parts.ranged else None
    if not allow_past and not _later(start, now):
        raise TimeReadError(Problem.PAST, moment=start)
    return start, end


_FULL_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}t\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})", re.I
)


def _iso_moment(text: str, zone: ZoneInfo) -> datetime | None:
    """A machine-written ISO time with its offset ('2026-12-17T18:30:00+01:00'), if it is one."""
    cleaned = text.strip()
    if not _FULL_ISO.fullmatch(cleaned):
        return None
    try:
        return datetime.fromisoformat(cleaned.upper()).astimezone(zone)
    except ValueError:
        raise TimeReadError(Problem.NO_SUCH_DATE) from None


def read_moment(
    text: str,
    now: datetime,
    zone: ZoneInfo,
    *,
    default_time: time | None = None,
    allow_past: bool = False,
) -> datetime:
    """One point in time ('fredag 18:00', 'i morgon kl 20'); a range is refused."""
    start, end = read_span(text, now, zone, default_time=default_time, allow_past=allow_past)
    if end is not None:
        raise _unreadable()
    return start


def read_date(
    text: str, now: datetime, zone: ZoneInfo, *, rolling: bool = True, allow_past: bool = False
) -> date:
    """A day without a time ('17/12', 'torsdag', 'i morgon', '2026-12-17').

    With `rolling=False` a date without a year is in this year even when it has passed (the
    annual wheel names dates of this year's series).
    """
    try:
        parts = _parts(text)
    except TimeReadError as error:
        raise _unreadable(UNREADABLE_DATE) from error
    if parts.clocks or parts.side or not parts.has_day:
        raise _unreadable(UNREADABLE_DATE)
    today = now.astimezone(zone).date()
    found, _weekly = _day(parts, today, rolling=rolling)
    if not allow_past and found < today:
        raise TimeReadError(Problem.PAST, PAST_DATE, day=found)
    return found


def leading_date(
    words: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    *,
    rolling: bool = True,
    allow_past: bool = False,
) -> tuple[date, list[str]] | None:
    """A date at the start of `words` ('29 maj …', '2026-05-29 …') and the words after it."""
    for length in range(min(len(words), 4), 0, -1):
        try:
            found = read_date(
                " ".join(words[:length]), now, zone, rolling=rolling, allow_past=allow_past
            )
        except TimeReadError:
            continue
        return found, list(words[length:])
    return None


def read_clock(text: str) -> time:
    """A time of day alone ('18:30', 'kl 18', 'halv sju'); spoken times read between 08 and 20."""
    try:
        parts = _parts(text)
    except TimeReadError as error:
        raise _unreadable(UNREADABLE_CLOCK) from error
    if parts.has_day or parts.ranged or len(parts.clocks) != 1:
        raise _unreadable(UNREADABLE_CLOCK)
    return parts.clocks[0].readings(parts.side)[0]


def read_end(text: str, start: datetime, zone: ZoneInfo) -> datetime:
    """The end of something that starts at `start`: a time ('21:00', 'halv tio') or a length."""
    if _looks_like_duration(text):
        return add(start, read_duration(text), zone)
    words = split_words(text)
    if words and words[0] in TO_WORDS:
        text = " ".join(words[1:])
    try:
        parts = _parts(text)
    except TimeReadError:
        raise _unreadable(UNREADABLE_CLOCK) from None
    if parts.has_day or parts.ranged or len(parts.clocks) != 1:
        raise _unreadable(UNREADABLE_CLOCK)
    return _end_after(start, parts.clocks[0], parts.side, zone)


def add(start: datetime, length: timedelta, zone: ZoneInfo) -> datetime:
    """`start` plus a length of real time (not wall-clock time, which jumps at summer time)."""
    return (start.astimezone(UTC) + length).astimezone(zone)


# --- durations ----------------------------------------------------------------------------


def _looks_like_duration(text: str) -> bool:
    words = DURATION_WORD.findall(text.lower())
    return any(w in UNITS or w in WHOLE for w in words) and not any(
        w in RELATIVE or w in WEEKDAYS or w in MONTHS for w in words
    )


def read_duration(text: str) -> timedelta:
    """A length of time: '2 h', '90 min', '1,5 timme', 'två timmar', '1h30m', '3w', '1v 2d'."""
    words = DURATION_WORD.findall(text.lower())
    leftover = DURATION_WORD.sub("", text.lower())
    if not words or leftover.strip(" +.,") != "":
        raise _unreadable(UNREADABLE_DURATION)
    minutes = 0.0
    amount: float | None = None
    last_unit: int | None = None
    at = 0
    while at < len(words):
        word = words[at]
        if word in ("och", "and") and amount is None:
            # 'en och en halv timme', 'an hour and a half'
            if words[at + 1 : at + 3] in (["en", "halv"], ["a", "half"]) and last_unit is not None:
                minutes += last_unit / 2
                last_unit = None
                at += 3
                continue
            at += 1
            continue
        if word in WHOLE:  # 'halvtimme', 'en halvtimme', 'två kvart'
            minutes += (1 if amount is None else amount) * WHOLE[word]
            amount = None
            at += 1
            continue
        if amount is None:
            if word in ("halv", "half"):
                amount = 0.5
            elif re.fullmatch(r"\d+(?:[.,]\d+)?", word):
                amount = float(word.replace(",", "."))
            elif word in NUMBER_WORDS:
                amount = float(NUMBER_WORDS[word])
            else:
                raise _unreadable(UNREADABLE_DURATION)
            if words[at + 1 : at + 4] in (["och", "en", "halv"], ["and", "a", "half"]):
                amount += 0.5
                at += 3
            elif words[at + 1 : at + 2] in (["halv"], ["half"]) and amount >= 1:
                at += 1  # 'en halv timme' after 'en': read as half
                amount = 0.5 if amount == 1 else amount
            at += 1
            continue
        if word not in UNITS:
            raise _unreadable(UNREADABLE_DURATION)
        minutes += amount * UNITS[word]
        last_unit, amount = UNITS[word], None
        at += 1
    if amount is not None or minutes <= 0 or minutes != int(minutes):
        raise _unreadable(UNREADABLE_DURATION)
    return timedelta(minutes=int(minutes))
