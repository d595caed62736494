"""One reader for dates, times, ranges and durations, as Swedes and English speakers write them.

Pure: the caller passes `now` (aware) and the organisation's zone; nothing here reads the
clock. Every reader returns aware datetimes in that zone (wall-clock times checked against
daylight saving with zoneinfo) and raises `TimeReadError`, whose `explain(t)` is a friendly,
translated sentence.

What is read (Swedish and English, any case, with or without "kl", "kl.", "klockan", "at",
"den", "the", "on", "på"):

- days: "i dag"/"idag"/"today", "i morgon"/"imorgon"/"tomorrow", "i övermorgon", "i kväll"/
  "tonight", weekday names and abbreviations ("torsdag", "tors", "tor", "thu", "thursday"),
  "nästa torsdag"/"next thursday"/"torsdag nästa vecka", "17/12", "17/12 2026", "17/12/26", "17 dec", "17 december",
  "den 17:e december", "december 17", "17th of December", "2026-12-17";
- times: "18", "kl 18", "kl. 18.30", "18:30", "6 pm", "halv sju", "kvart i sju", "kvart över
  sex", "fem i halv sju", "tio över sju", "half past six", "quarter to seven";
- ranges: "18-21", "18–21", "18:00–21:00", "18 till 21", "från 18 till 21";
- ISO: "2026-12-17 18:30", "2026-12-17T18:30" (an offset, if given, is honoured);
- durations: "2 h", "2h", "90 min", "1,5 timme", "två timmar", "en halvtimme", "1h30m",
  "3 dagar", "1v", "3w", "an hour and a half".

The rules, chosen to be predictable:

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

# --- the shared tables --------------------------------------------------------------------


def _table(rows: Sequence[tuple[int, tuple[str, ...]]]) -> dict[str, int]:
    return {name: number for number, names in rows for name in names}


MONTHS: dict[str, int] = _table(
    (
        (1, ("januari", "january", "jan")),
        (2, ("februari", "february", "feb")),
        (3, ("mars", "march", "mar")),
        (4, ("april", "apr")),
        (5, ("maj", "may")),
        (6, ("juni", "june", "jun")),
        (7, ("juli", "july", "jul")),
        (8, ("augusti", "august", "aug")),
        (9, ("september", "sept", "sep")),
        (10, ("oktober", "october", "okt", "oct")),
        (11, ("november", "nov")),
        (12, ("december", "dec")),
    )
)
"""Month names and abbreviations, Swedish and English, to 1..12."""

WEEKDAYS: dict[str, int] = _table(
    (
        (0, ("måndag", "måndagen", "måndagar", "mandag", "mån", "monday", "mon")),
        (1, ("tisdag", "tisdagen", "tisdagar", "tis", "tuesday", "tues", "tue")),
        (2, ("onsdag", "onsdagen", "onsdagar", "ons", "wednesday", "weds", "wed")),
        (3, ("torsdag", "torsdagen", "torsdagar", "tors", "tor", "thursday", "thurs", "thu")),
        (4, ("fredag", "fredagen", "fredagar", "fre", "friday", "fri")),
        (5, ("lördag", "lördagen", "lördagar", "lordag", "lör", "saturday", "sat")),
        (6, ("söndag", "söndagen", "söndagar", "sondag", "sön", "sunday", "sun")),
    )
)
"""Weekday names (also the definite and plural forms the annual wheel uses) to 0 (Monday)..6."""

_RELATIVE = {
    "idag": 0,
    "today": 0,
    "ikväll": 0,
    "imorgon": 1,
    "tomorrow": 1,
    "iövermorgon": 2,
    "igår": -1,
    "yesterday": -1,
}

# Words for numbers that people use for hours, minutes and amounts.
_NUMBER_WORDS = _table(
    (
        (1, ("ett", "en", "one", "a", "an")),
        (2, ("två", "two")),
        (3, ("tre", "three")),
        (4, ("fyra", "four")),
        (5, ("fem", "five")),
        (6, ("sex", "six")),
        (7, ("sju", "seven")),
        (8, ("åtta", "eight")),
        (9, ("nio", "nine")),
        (10, ("tio", "ten")),
        (11, ("elva", "eleven")),
        (12, ("tolv", "twelve")),
        (15, ("femton", "fifteen")),
        (20, ("tjugo", "twenty")),
        (25, ("tjugofem", "twenty-five")),
        (30, ("trettio", "thirty")),
        (45, ("fyrtiofem", "forty-five")),
        (60, ("sextio", "sixty")),
        (90, ("nittio", "ninety")),
    )
)
# "a"/"an"/"en" are amounts ("en timme"), never hours ("kl en" is not a time people write).
_HOUR_WORDS = {w: n for w, n in _NUMBER_WORDS.items() if n <= 12 and w not in ("a", "an", "en")}

_AM = frozenset(("am", "fm", "förmiddag", "förmiddagen", "morgonen", "morning"))
_PM = frozenset(("pm", "em", "eftermiddag", "eftermiddagen", "kväll", "kvällen", "evening"))
_PM |= {"afternoon"}

# Joined before splitting into words, so each becomes one word.
_PHRASES = (
    (r"i dag", "idag"),
    (r"i (?:morgon|morrn|morn)|imorrn|imorn", "imorgon"),
    (r"i övermorgon|övermorgon|(?:the )?day after tomorrow", "iövermorgon"),
    (r"i kväll|this evening|tonight", "ikväll"),
    (r"i går", "igår"),
    (r"i eftermiddag|this afternoon", "idag em"),
    (r"på (?:kvällen|eftermiddagen)|in the (?:evening|afternoon)|e\.\s?m\.?", "em"),
    (r"på (?:morgonen|förmiddagen)|in the morning|f\.\s?m\.?", "fm"),
    (r"a\.\s?m\.?", "am"),
    (r"p\.\s?m\.?", "pm"),
    (r"half past", "halfpast"),
    (r"quarter past", "quarterpast"),
    (r"quarter to", "quarterto"),
    (r"o'clock|o’clock", ""),
)

_FILLER = frozenset(("kl", "klockan", "klo", "at", "@", "den", "the", "on", "på", "of"))
_FILLER |= {"from", "från", "mellan", "between", "vid", "around", "ca", "cirka", "omkring"}
_TO = frozenset(("-", "till", "tills", "to", "until", "och", "and"))
_NEXT = frozenset(("nästa", "next", "nästkommande"))
_THIS = frozenset(("denna", "this", "kommande", "coming"))

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
_DAY_NUMBER = re.compile(r"(\d{1,2})(?::?e|:?a|:de|st|nd|rd|th)?")
_YEAR = re.compile(r"(?:19|20)\d\d")
_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(am|pm)?")

OVERNIGHT = timedelta(hours=8)
"""The longest a range may run past midnight ("22-01")."""

# The spoken-hour window: a 12-hour reading is put between 08:00 and 19:59.
_DAY_STARTS = 8


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
        return t(self.reason).format(**values)


def _unreadable(reason: str | None = None) -> TimeReadError:
    return TimeReadError(Problem.UNREADABLE, reason)


# --- words --------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Lower-cased words, with phrases joined, fillers dropped and range dashes on their own."""
    folded = " ".join(text.strip().lower().split())
    folded = folded.replace("–", "-").replace("—", "-").replace("−", "-")
    folded = re.sub(r"(\d{4}-\d{1,2}-\d{1,2})t(?=\d)", r"\1 ", folded)  # ISO's 'T'
    folded = re.sub(r"(?<=\d)\s*,\s*(?=\d{1,2}/)", " ", folded)
    folded = folded.replace(",", " ")
    folded = re.sub(r"\b(kl|klockan)\.?(?=\d)", r"\1 ", folded)  # 'kl.18'
    for phrase, joined in _PHRASES:
        folded = re.sub(rf"(?<![\w.]){phrase}(?![\w])", f" {joined} ", folded)
    words: list[str] = []
    for raw in folded.split():
        word = raw.rstrip(".")
        if not word:
            continue
        if _ISO_DATE.fullmatch(word) or "-" not in word or word == "-":
            words.append(word)
            continue
        # '18-21', '18:00-21:00', '2026-12-17-' : split the dashes off as their own words
        iso = _ISO_DATE.match(word)
        rest = word
        if iso is not None:
            words.append(iso[0])
            rest = word[iso.end() :]
        for piece in re.split(r"(-)", rest):
            if piece:
                words.append(piece)
    return [w for w in words if w not in _FILLER]


# --- clocks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    hour: int  # 0..23, or 0..11 when `twelve`
    minute: int
    twelve: bool = False  # a spoken time: the 12-hour reading is still to be chosen
    meridiem: str | None = None  # 'am' / 'pm' when written with the time

    def readings(self, context: str | None) -> list[time]:
        """The possible times of day, the preferred one first."""
        side = self.meridiem or context
        if not self.twelve and side is None:
            return [time(self.hour, self.minute)]
        if not self.twelve:  # '7 pm', 'i kväll kl 7'
            if self.hour > 12 or self.hour == 0:
                return [time(self.hour, self.minute)]
            hour = self.hour % 12
            return [time(hour + 12 if side == "pm" else hour, self.minute)]
        hour = self.hour % 12
        if side is not None:
            return [time(hour + 12 if side == "pm" else hour, self.minute)]
        am, pm = time(hour, self.minute), time(hour + 12, self.minute)
        return [am, pm] if hour >= _DAY_STARTS else [pm, am]


def _number(word: str) -> int | None:
    if word.isascii() and word.isdigit() and len(word) <= 2:
        return int(word)
    return _NUMBER_WORDS.get(word)


def _hour_word(word: str) -> int | None:
    if word.isascii() and word.isdigit() and len(word) <= 2 and 1 <= int(word) <= 12:
        return int(word)
    return _HOUR_WORDS.get(word)


def _read_clock(words: Sequence[str], at: int) -> tuple[_Clock, int] | None:
    """A time of day starting at words[at], and the index after it."""
    word = words[at]
    after = words[at + 1] if at + 1 < len(words) else None
    then = words[at + 2] if at + 2 < len(words) else None
    hour: int | None
    if match := _CLOCK.fullmatch(word):
        clock_hour, minute = int(match[1]), int(match[2] or 0)
        meridiem, end = match[3], at + 1
        if meridiem is None and after in ("am", "pm"):
            meridiem, end = after, at + 2
        if clock_hour == 24 and minute == 0 and meridiem is None:
            clock_hour = 0
        if minute > 59 or clock_hour > 23 or (meridiem and not 1 <= clock_hour <= 12):
            raise _unreadable(UNREADABLE_CLOCK)
        if meridiem:
            clock_hour = clock_hour % 12 + (12 if meridiem == "pm" else 0)
        return _Clock(clock_hour, minute, meridiem=meridiem), end
    if word in ("midnatt", "midnight"):
        return _Clock(0, 0), at + 1
    if word in ("noon", "midday", "mitt på dagen"):
        return _Clock(12, 0), at + 1
    # Swedish: 'halv sju' 6:30, 'kvart i sju' 6:45, 'kvart över sex' 6:15,
    # 'fem i halv sju' 6:25, 'fem över halv sju' 6:35, 'tio i sju' 6:50, 'tio över sju' 7:10.
    if word == "halv" and after is not None and (hour := _hour_word(after)) is not None:
        return _Clock((hour - 1) % 12, 30, twelve=True), at + 2
    minutes = 15 if word == "kvart" else _number(word)
    if minutes is not None and after in ("i", "över") and then is not None and 0 < minutes < 30:
        if then == "halv" and at + 3 < len(words):
            hour = _hour_word(words[at + 3])
            if hour is not None:
                total = (hour - 1) * 60 + 30 + (minutes if after == "över" else -minutes)
                return _Clock(total // 60 % 12, total % 60, twelve=True), at + 4
        hour = _hour_word(then)
        if hour is not None:
            total = hour * 60 + (minutes if after == "över" else -minutes)
            return _Clock(total // 60 % 12, total % 60, twelve=True), at + 3
    # English: 'half past six', 'quarter past six', 'quarter to seven', 'ten past seven'.
    if word in ("halfpast", "quarterpast", "quarterto") and after is not None:
        hour = _hour_word(after)
        if hour is not None:
            offset = {"halfpast": 30, "quarterpast": 15, "quarterto": -15}[word]
            total = hour * 60 + offset
            return _Clock(total // 60 % 12, total % 60, twelve=True), at + 2
    if minutes is not None and after in ("past", "to") and then is not None and minutes < 30:
        hour = _hour_word(then)
        if hour is not None:
            total = hour * 60 + (minutes if after == "past" else -minutes)
            return _Clock(total // 60 % 12, total % 60, twelve=True), at + 3
    if word == "half" and after is not None and (hour := _hour_word(after)) is not None:
        return _Clock(hour % 12, 30, twelve=True), at + 2  # British 'half six' is 6:30
    if (hour := _HOUR_WORDS.get(word)) is not None:  # 'kl sju', 'seven'
        if after in ("am", "pm"):
            return _Clock(hour % 12 + (12 if after == "pm" else 0), 0, meridiem=after), at + 2
        return _Clock(hour % 12, 0, twelve=True), at + 1
    return None


# --- the parts of a typed time ------------------------------------------------------------


@dataclass
class _Parts:
    day_month: tuple[int, int, int | None] | None = None  # day, month, year as written
    iso: bool = False
    relative: int | None = None
    weekday: int | None = None
    next_week: bool = False
    clocks: list[_Clock] = field(default_factory=list)
    ranged: bool = False
    side: str | None = None  # 'am' / 'pm' said somewhere in the text

    @property
    def has_day(self) -> bool:
        return self.day_month is not None or self.relative is not None or self.weekday is not None


def _year(text: str) -> int:
    return int(text) + (2000 if len(text) == 2 else 0)


def _parts(text: str) -> _Parts:
    words = _words(text)
    if not words:
        raise _unreadable()
    parts = _Parts()

    def set_date(day: int, month: int, year: int | None) -> None:
        if parts.day_month is not None or parts.relative is not None:
            raise _unreadable()
        parts.day_month = (day, month, year)

    def year_at(index: int) -> int | None:
        if index < len(words) and _YEAR.fullmatch(words[index]):
            return int(words[index])
        return None

    at = 0
    while at < len(words):
        word = words[at]
        after = words[at + 1] if at + 1 < len(words) else None
        if word in _RELATIVE:
            if parts.relative is not None or parts.day_month is not None:
                raise _unreadable()
            parts.relative = _RELATIVE[word]
            if word == "ikväll":
                parts.side = "pm"
            at += 1
        elif word in (_NEXT | _THIS) and after in WEEKDAYS:
            if parts.weekday is not None:
                raise _unreadable()
            parts.weekday, parts.next_week = WEEKDAYS[after], word in _NEXT
            at += 2
        elif word in WEEKDAYS:
            if parts.weekday is not None:
                raise _unreadable()
            parts.weekday = WEEKDAYS[word]
            at += 1
        elif (word, after) in (("nästa", "vecka"), ("next", "week")) and not parts.next_week:
            parts.next_week = True  # 'onsdag nästa vecka', 'nästa vecka onsdag'
            at += 2
        elif match := _ISO_DATE.fullmatch(word):
            set_date(int(match[3]), int(match[2]), int(match[1]))
            parts.iso = True
            at += 1
        elif match := _SLASH_DATE.fullmatch(word):
            year = _year(match[3]) if match[3] else year_at(at + 1)
            set_date(int(match[1]), int(match[2]), year)
            at += 2 if year is not None and not match[3] else 1
        elif (match := _DAY_NUMBER.fullmatch(word)) and after in MONTHS:
            year = year_at(at + 2)
            set_date(int(match[1]), MONTHS[after], year)
            at += 3 if year is not None else 2
        elif word in MONTHS and after is not None and (match := _DAY_NUMBER.fullmatch(after)):
            year = year_at(at + 2)
            set_date(int(match[1]), MONTHS[word], year)
            at += 3 if year is not None else 2
        elif word in _TO and parts.clocks and not parts.ranged:
            parts.ranged = True
            at += 1
        elif word == "-" and not parts.clocks:
            at += 1  # '17/12 - 18:00'
        elif word in _AM or word in _PM:
            side = "am" if word in _AM else "pm"
            if parts.side not in (None, side):
                raise _unreadable()
            parts.side = side
            at += 1
        elif (clock := _read_clock(words, at)) is not None:
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


def _start(parts: _Parts, clock: _Clock, day: date, zone: ZoneInfo, now: datetime) -> datetime:
    readings = [_local(day, t, zone) for t in clock.readings(parts.side)]
    # The preferred reading, unless it has passed and the other has not.
    return next((r for r in readings if _later(r, now)), readings[0])


def _end_after(start: datetime, clock: _Clock, side: str | None, zone: ZoneInfo) -> datetime:
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
        start_clock = _Clock(default_time.hour, default_time.minute)
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
    words = _words(text)
    if words and words[0] in _TO:
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

_UNITS = _table(
    (
        (60 * 24 * 7, ("v", "w", "vk", "vecka", "veckan", "veckor", "week", "weeks", "wk")),
        (60 * 24, ("d", "dag", "dagar", "dygn", "day", "days")),
        (60, ("h", "t", "tim", "timme", "timmar", "timma", "hour", "hours", "hr", "hrs")),
        (1, ("m", "min", "mins", "minut", "minuter", "minute", "minutes")),
    )
)
_WHOLE = {"halvtimme": 30, "halvtimma": 30, "kvart": 15, "halftimme": 30}
_DURATION_WORD = re.compile(r"\d+(?:[.,]\d+)?|[a-zåäö]+(?:-[a-zåäö]+)?")


def _looks_like_duration(text: str) -> bool:
    words = _DURATION_WORD.findall(text.lower())
    return any(w in _UNITS or w in _WHOLE for w in words) and not any(
        w in _RELATIVE or w in WEEKDAYS or w in MONTHS for w in words
    )


def read_duration(text: str) -> timedelta:
    """A length of time: '2 h', '90 min', '1,5 timme', 'två timmar', '1h30m', '3w', '1v 2d'."""
    words = _DURATION_WORD.findall(text.lower())
    leftover = _DURATION_WORD.sub("", text.lower())
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
        if word in _WHOLE:  # 'halvtimme', 'en halvtimme', 'två kvart'
            minutes += (1 if amount is None else amount) * _WHOLE[word]
            amount = None
            at += 1
            continue
        if amount is None:
            if word in ("halv", "half"):
                amount = 0.5
            elif re.fullmatch(r"\d+(?:[.,]\d+)?", word):
                amount = float(word.replace(",", "."))
            elif word in _NUMBER_WORDS:
                amount = float(_NUMBER_WORDS[word])
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
        if word not in _UNITS:
            raise _unreadable(UNREADABLE_DURATION)
        minutes += amount * _UNITS[word]
        last_unit, amount = _UNITS[word], None
        at += 1
    if amount is not None or minutes <= 0 or minutes != int(minutes):
        raise _unreadable(UNREADABLE_DURATION)
    return timedelta(minutes=int(minutes))
