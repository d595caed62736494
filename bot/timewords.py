"""The words of time, Swedish and English: the tables and the small grammar `bot.timeread` uses.

The month and weekday tables are shared (the annual wheel's recurrence grammar uses them);
everything else here is the reader's own, so read times through `bot.timeread`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time


class ClockError(ValueError):
    """Digits that look like a time of day but are none ('25:00')."""


# --- the tables -------------------------------------------------------------------------


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

RELATIVE = {
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
NUMBER_WORDS = _table(
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
_HOUR_WORDS = {w: n for w, n in NUMBER_WORDS.items() if n <= 12 and w not in ("a", "an", "en")}

AM = frozenset(("am", "fm", "förmiddag", "förmiddagen", "morgonen", "morning"))
PM = frozenset(("pm", "em", "eftermiddag", "eftermiddagen", "kväll", "kvällen", "evening"))
PM |= {"afternoon"}

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
TO_WORDS = frozenset(("-", "till", "tills", "to", "until", "och", "and"))
NEXT = frozenset(("nästa", "next", "nästkommande"))
THIS = frozenset(("denna", "this", "kommande", "coming"))

ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
DAY_NUMBER = re.compile(r"(\d{1,2})(?::?e|:?a|:de|st|nd|rd|th)?")
YEAR = re.compile(r"(?:19|20)\d\d")
_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(am|pm)?")

# The spoken-hour window: a 12-hour reading is put between 08:00 and 19:59.
_DAY_STARTS = 8


UNITS = _table(
    (
        (60 * 24 * 7, ("v", "w", "vk", "vecka", "veckan", "veckor", "week", "weeks", "wk")),
        (60 * 24, ("d", "dag", "dagar", "dygn", "day", "days")),
        (60, ("h", "t", "tim", "timme", "timmar", "timma", "hour", "hours", "hr", "hrs")),
        (1, ("m", "min", "mins", "minut", "minuter", "minute", "minutes")),
    )
)
WHOLE = {"halvtimme": 30, "halvtimma": 30, "kvart": 15, "halftimme": 30}
DURATION_WORD = re.compile(r"\d+(?:[.,]\d+)?|[a-zåäö]+(?:-[a-zåäö]+)?")


# --- words --------------------------------------------------------------------------------


def split_words(text: str) -> list[str]:
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
        if ISO_DATE.fullmatch(word) or "-" not in word or word == "-":
            words.append(word)
            continue
        # '18-21', '18:00-21:00', '2026-12-17-' : split the dashes off as their own words
        iso = ISO_DATE.match(word)
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
class Clock:
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
    return NUMBER_WORDS.get(word)


def _hour_word(word: str) -> int | None:
    if word.isascii() and word.isdigit() and len(word) <= 2 and 1 <= int(word) <= 12:
        return int(word)
    return _HOUR_WORDS.get(word)


def clock_at(words: Sequence[str], at: int) -> tuple[Clock, int] | None:
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
            raise ClockError(word)
        if meridiem:
            clock_hour = clock_hour % 12 + (12 if meridiem == "pm" else 0)
        return Clock(clock_hour, minute, meridiem=meridiem), end
    if word in ("midnatt", "midnight"):
        return Clock(0, 0), at + 1
    if word in ("noon", "midday", "mitt på dagen"):
        return Clock(12, 0), at + 1
    # Swedish: 'halv sju' 6:30, 'kvart i sju' 6:45, 'kvart över sex' 6:15,
    # 'fem i halv sju' 6:25, 'fem över halv sju' 6:35, 'tio i sju' 6:50, 'tio över sju' 7:10.
    if word == "halv" and after is not None and (hour := _hour_word(after)) is not None:
        return Clock((hour - 1) % 12, 30, twelve=True), at + 2
    minutes = 15 if word == "kvart" else _number(word)
    if minutes is not None and after in ("i", "över") and then is not None and 0 < minutes < 30:
        if then == "halv" and at + 3 < len(words):
            hour = _hour_word(words[at + 3])
            if hour is not None:
                total = (hour - 1) * 60 + 30 + (minutes if after == "över" else -minutes)
                return Clock(total // 60 % 12, total % 60, twelve=True), at + 4
        hour = _hour_word(then)
        if hour is not None:
            total = hour * 60 + (minutes if after == "över" else -minutes)
            return Clock(total // 60 % 12, total % 60, twelve=True), at + 3
    # English: 'half past six', 'quarter past six', 'quarter to seven', 'ten past seven'.
    if word in ("halfpast", "quarterpast", "quarterto") and after is not None:
        hour = _hour_word(after)
        if hour is not None:
            offset = {"halfpast": 30, "quarterpast": 15, "quarterto": -15}[word]
            total = hour * 60 + offset
            return Clock(total // 60 % 12, total % 60, twelve=True), at + 2
    if minutes is not None and after in ("past", "to") and then is not None and minutes < 30:
        hour = _hour_word(then)
        if hour is not None:
            total = hour * 60 + (minutes if after == "past" else -minutes)
            return Clock(total // 60 % 12, total % 60, twelve=True), at + 3
    if word == "half" and after is not None and (hour := _hour_word(after)) is not None:
        return Clock(hour % 12, 30, twelve=True), at + 2  # British 'half six' is 6:30
    if (hour := _HOUR_WORDS.get(word)) is not None:  # 'kl sju', 'seven'
        if after in ("am", "pm"):
            return Clock(hour % 12 + (12 if after == "pm" else 0), 0, meridiem=after), at + 2
        return Clock(hour % 12, 0, twelve=True), at + 1
    return None
