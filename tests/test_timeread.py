"""bot.timeread: dates, times, ranges and durations as Swedes and English speakers write them.

A table of examples, the refusals, daylight saving, round trips through the ways the bot
shows times (Hypothesis), and every example shown in a hint in the catalogs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.messages.pofile import read_po
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.formatting import day, when, when_span
from bot.i18n import Translator
from bot.timeread import (
    MONTHS,
    WEEKDAYS,
    Problem,
    TimeReadError,
    leading_date,
    read_clock,
    read_date,
    read_duration,
    read_end,
    read_moment,
    read_span,
)
from bot.wheel.when import format_duration

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)  # Monday 2 March 2026, as the transcripts
SV, EN = Translator("sv"), Translator("en")


def at(month: int, day_: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day_, hour, minute, tzinfo=STOCKHOLM)


# --- the table ---------------------------------------------------------------------------

SPANS = [
    # issue 14: refused by the meeting dialog before
    ("torsdag 17 december 18:30", at(12, 17, 18, 30), None),
    ("nästa torsdag kl 18", at(3, 12, 18), None),
    ("tors 17/12 kl 18", at(12, 17, 18), None),
    ("12/1 18-21", at(1, 12, 18, year=2027), at(1, 12, 21, year=2027)),
    ("fredag 18:00", at(3, 6, 18), None),
    # days
    ("i dag 18", at(3, 2, 18), None),
    ("idag kl 18", at(3, 2, 18), None),
    ("i morgon 18:30", at(3, 3, 18, 30), None),
    ("imorgon kl. 18.30", at(3, 3, 18, 30), None),
    ("i övermorgon 19", at(3, 4, 19), None),
    ("på torsdag 18", at(3, 5, 18), None),
    ("tors 18", at(3, 5, 18), None),
    ("thu 18:00", at(3, 5, 18), None),
    ("onsdag nästa vecka 18", at(3, 11, 18), None),
    ("måndag 8", at(3, 9, 8), None),  # today's 08:00 has passed: next Monday
    ("17 dec 18:00", at(12, 17, 18), None),
    ("den 17:e december kl 18", at(12, 17, 18), None),
    ("december 17 18:00", at(12, 17, 18), None),
    ("17/12 2026 18:00", at(12, 17, 18), None),
    ("17/12/26 18:00", at(12, 17, 18), None),
    ("1/2 18", at(2, 1, 18, year=2027), None),  # passed this year, no year given: next year's
    ("2026-12-17 18:30", at(12, 17, 18, 30), None),
    ("2026-12-17T18:30", at(12, 17, 18, 30), None),
    ("2026-12-17T17:30:00+00:00", at(12, 17, 18, 30), None),
    # times
    ("i morgon halv sju", at(3, 3, 18, 30), None),
    ("i morgon kvart i sju", at(3, 3, 18, 45), None),
    ("i morgon kvart över sex", at(3, 3, 18, 15), None),
    ("i morgon fem i halv sju", at(3, 3, 18, 25), None),
    ("i morgon halv nio", at(3, 3, 8, 30), None),  # between 08 and 20
    ("i morgon halv nio på kvällen", at(3, 3, 20, 30), None),
    ("i morgon halv sju på morgonen", at(3, 3, 6, 30), None),
    ("halv nio", at(3, 2, 20, 30), None),  # 08:30 today has passed: the next one
    ("i kväll kl 7", at(3, 2, 19), None),
    # ranges
    ("12/3 18-20", at(3, 12, 18), at(3, 12, 20)),
    ("12/3 18–20", at(3, 12, 18), at(3, 12, 20)),
    ("12/3 18:00–20:30", at(3, 12, 18), at(3, 12, 20, 30)),
    ("12/3 från 18 till 21", at(3, 12, 18), at(3, 12, 21)),
    ("idag 22-01", at(3, 2, 22), at(3, 3, 1)),  # past midnight
    ("i kväll 7-9", at(3, 2, 19), at(3, 2, 21)),
    ("torsdag halv sju till nio", at(3, 5, 18, 30), at(3, 5, 21)),
    # English
    ("Thursday 17 December 2026 at 18:30", at(12, 17, 18, 30), None),
    ("next Thursday at 6 pm", at(3, 12, 18), None),
    ("tomorrow at 9", at(3, 3, 9), None),
    ("the 17th of December at 6:30 pm", at(12, 17, 18, 30), None),
    ("Dec 17 18:00-21:00", at(12, 17, 18), at(12, 17, 21)),
    ("tomorrow half past six", at(3, 3, 18, 30), None),
    ("tomorrow quarter to seven", at(3, 3, 18, 45), None),
    ("the day after tomorrow 18:00", at(3, 4, 18), None),
    # summer time begins on 29 March: 18:00 is UTC+2 then
    ("29/3 18-20", at(3, 29, 18), at(3, 29, 20)),
]


@pytest.mark.parametrize(("typed", "start", "end"), SPANS)
def test_spans_as_people_write_them(typed: str, start: datetime, end: datetime | None) -> None:
    got = read_span(typed, NOW, STOCKHOLM)
    assert got == (start, end)
    assert got[0].tzinfo is STOCKHOLM


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("snart", Problem.UNREADABLE),
        ("nästa vecka typ", Problem.UNREADABLE),
        ("", Problem.UNREADABLE),
        ("12/3 25:00", Problem.UNREADABLE),
        ("12/3 18 19", Problem.UNREADABLE),  # two times, not a range
        ("idag i morgon 18", Problem.UNREADABLE),
        ("12/3", Problem.NO_TIME),
        ("torsdag", Problem.NO_TIME),
        ("31/2 18:00", Problem.NO_SUCH_DATE),
        ("2026-13-01 18:00", Problem.NO_SUCH_DATE),
        ("fre 17/12 18:00", Problem.WRONG_WEEKDAY),
        ("i morgon onsdag 18", Problem.WRONG_WEEKDAY),  # tomorrow is a Tuesday
        ("2026-02-12 18:00", Problem.PAST),  # an explicit past date is never moved
        ("17/12 2025 18:00", Problem.PAST),
        ("idag 08:00", Problem.PAST),
        ("igår 18:00", Problem.PAST),
        ("12/3 18-17", Problem.END_BEFORE_START),
        ("2026-03-29 02:30", Problem.NO_SUCH_TIME),  # the hour summer time skips
    ],
)
def test_refusals_say_why(typed: str, problem: Problem) -> None:
    with pytest.raises(TimeReadError) as caught:
        read_span(typed, NOW, STOCKHOLM)
    assert caught.value.problem is problem
    for t in (SV, EN):
        assert "{" not in caught.value.explain(t)


def test_reasons_are_translated_with_their_dates() -> None:
    with pytest.raises(TimeReadError) as caught:
        read_span("fre 17/12 18:00", NOW, STOCKHOLM)
    assert caught.value.explain(SV) == "17 december 2026 är en torsdag, inte en fredag."
    assert caught.value.explain(EN) == "17 December 2026 is a Thursday, not a Friday."
    with pytest.raises(TimeReadError) as caught:
        read_span("2026-03-29 02:30", NOW, STOCKHOLM)
    assert "02:30" in caught.value.explain(SV) and "29 mars 2026" in caught.value.explain(SV)
    with pytest.raises(TimeReadError) as caught:
        read_span("igår 18:00", NOW, STOCKHOLM)
    assert caught.value.explain(SV) == (
        "söndag 1 mars 2026 kl. 18:00 har redan passerat. Välj en senare tid."
    )


def test_every_reason_can_be_explained() -> None:
    for problem in Problem:
        for t in (SV, EN):
            assert "{" not in TimeReadError(problem).explain(t)


def test_the_autumn_hour_that_happens_twice_is_its_first() -> None:
    start, _ = read_span("2026-10-25 02:30", NOW, STOCKHOLM)
    assert start.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # still summer time


def test_a_range_across_the_spring_change_keeps_its_wall_clock() -> None:
    start, end = read_span("28/3 22-04", NOW, STOCKHOLM)
    assert end is not None and end.hour == 4
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=5)  # an hour skipped


def test_a_moment_is_one_time_and_a_deadline_may_default_its_time() -> None:
    assert read_moment("fredag", NOW, STOCKHOLM, default_time=time(23, 59)) == at(3, 6, 23, 59)
    assert read_moment("fredag 18:00", NOW, STOCKHOLM) == at(3, 6, 18)
    with pytest.raises(TimeReadError):
        read_moment("fredag 18-20", NOW, STOCKHOLM)
    assert read_moment("igår 18:00", NOW, STOCKHOLM, allow_past=True) == at(3, 1, 18)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("17/12", date(2026, 12, 17)),
        ("17 december", date(2026, 12, 17)),
        ("17 dec. 2027", date(2027, 12, 17)),
        ("tors", date(2026, 3, 5)),
        ("på måndag", date(2026, 3, 2)),  # today counts
        ("nästa måndag", date(2026, 3, 9)),
        ("i morgon", date(2026, 3, 3)),
        ("2026-12-17", date(2026, 12, 17)),
        ("1 mars", date(2027, 3, 1)),
        ("29/2", date(2028, 2, 29)),  # the next 29 February
        ("10/3/27", date(2027, 3, 10)),
    ],
)
def test_dates(typed: str, expected: date) -> None:
    assert read_date(typed, NOW, STOCKHOLM) == expected


def test_dates_refuse_times_and_explicit_past_dates() -> None:
    for typed in ("17/12 18:00", "snart", "18"):
        with pytest.raises(TimeReadError):
            read_date(typed, NOW, STOCKHOLM)
    with pytest.raises(TimeReadError) as caught:
        read_date("2026-03-01", NOW, STOCKHOLM)
    assert caught.value.problem is Problem.PAST
    assert caught.value.explain(SV) == "1 mars 2026 har redan varit."
    # The annual wheel names this year's dates, passed or not.
    assert read_date("1 mars", NOW, STOCKHOLM, rolling=False, allow_past=True) == date(2026, 3, 1)


def test_a_date_at_the_start_of_words() -> None:
    assert leading_date(["29", "maj", "19:00"], NOW, STOCKHOLM) == (date(2026, 5, 29), ["19:00"])
    assert leading_date(["2026-03-19", "2026-03-26"], NOW, STOCKHOLM) == (
        date(2026, 3, 19),
        ["2026-03-26"],
    )
    assert leading_date(["plats", "Folkets", "hus"], NOW, STOCKHOLM) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("18:30", time(18, 30)),
        ("18.30", time(18, 30)),
        ("kl 18", time(18)),
        ("kl. 7", time(7)),
        ("halv sju", time(18, 30)),
        ("halv tio", time(9, 30)),
        ("kvart i åtta", time(19, 45)),
        ("7 pm", time(19)),
        ("noon", time(12)),
    ],
)
def test_clocks(typed: str, expected: time) -> None:
    assert read_clock(typed) == expected


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("2 h", 120),
        ("2h", 120),
        ("90 min", 90),
        ("90m", 90),
        ("1,5 timme", 90),
        ("1.5 hours", 90),
        ("två timmar", 120),
        ("en timme", 60),
        ("en halvtimme", 30),
        ("en och en halv timme", 90),
        ("an hour and a half", 90),
        ("1 timme och 30 minuter", 90),
        ("1h30m", 90),
        ("2 tim", 120),
        ("3 dagar", 3 * 24 * 60),
        ("1v", 7 * 24 * 60),
        ("3w", 21 * 24 * 60),
    ],
)
def test_durations(typed: str, minutes: int) -> None:
    assert read_duration(typed) == timedelta(minutes=minutes)


@pytest.mark.parametrize("typed", ["", "sen", "0 min", "2", "timme", "2 h x"])
def test_nonsense_durations_are_refused(typed: str) -> None:
    with pytest.raises(TimeReadError):
        read_duration(typed)


def test_an_end_as_a_time_or_a_length() -> None:
    start = at(3, 12, 18)
    assert read_end("20:30", start, STOCKHOLM) == at(3, 12, 20, 30)
    assert read_end("till 21", start, STOCKHOLM) == at(3, 12, 21)
    assert read_end("halv nio", start, STOCKHOLM) == at(3, 12, 20, 30)  # after the start
    assert read_end("2 h", start, STOCKHOLM) == at(3, 12, 20)
    assert read_end("01", start, STOCKHOLM) == at(3, 13, 1)
    with pytest.raises(TimeReadError):
        read_end("17:00", start, STOCKHOLM)
    # A length is real time: two hours from 01:00 on the spring night end at 04:00.
    assert read_end("2 h", at(3, 29, 1), STOCKHOLM) == at(3, 29, 4)


def test_the_tables_cover_both_languages() -> None:
    for name in ("januari", "january", "jan", "maj", "may", "okt", "oct", "december"):
        assert name in MONTHS
    for name in ("torsdag", "tors", "tor", "thursday", "thu", "lördag", "sat", "söndagar"):
        assert name in WEEKDAYS


# --- round trips: what the bot shows, or hints, reads back as the same time ---------------

moments = (
    st.datetimes(min_value=datetime(2026, 3, 3), max_value=datetime(2027, 2, 28))
    .map(lambda d: d.replace(second=0, microsecond=0, tzinfo=STOCKHOLM))
    .filter(lambda d: d.astimezone(UTC).astimezone(STOCKHOLM).hour == d.hour)  # no skipped hour
    .filter(lambda d: d.fold == 0)
)


@settings(max_examples=150, deadline=None)
@given(moments, st.sampled_from([SV, EN]))
def test_what_the_bot_shows_reads_back(moment: datetime, t: Translator) -> None:
    assert read_moment(when(moment, STOCKHOLM, t), NOW, STOCKHOLM) == moment
    # The poll's short form has no year: the next such date, which is within a year.
    short = t("{date} at {time}").format(date=day(moment, STOCKHOLM, t), time=f"{moment:%H:%M}")
    assert read_moment(short, NOW, STOCKHOLM) == moment


@settings(max_examples=150, deadline=None)
@given(moments, st.integers(min_value=15, max_value=6 * 60), st.sampled_from([SV, EN]))
def test_spans_the_bot_shows_read_back(moment: datetime, minutes: int, t: Translator) -> None:
    end = (moment.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(STOCKHOLM)
    assume(end.date() == moment.date())
    assert read_span(when_span(moment, end, STOCKHOLM, t), NOW, STOCKHOLM) == (moment, end)


@settings(max_examples=150, deadline=None)
@given(moments, st.data())
def test_the_forms_hints_show_read_back(moment: datetime, data: st.DataObject) -> None:
    weekday = format_date(moment, "EEE", locale="sv").rstrip(".")  # 'tors'
    month = format_date(moment, "MMMM", locale="sv")
    hint = data.draw(
        st.sampled_from(
            [
                f"{moment:%Y-%m-%d %H:%M}",
                f"{moment:%Y-%m-%dT%H:%M}",
                f"{moment.day}/{moment.month} {moment:%H:%M}",
                f"{moment.day}/{moment.month} {moment:%H.%M}",
                f"{weekday} {moment.day}/{moment.month} kl {moment:%H:%M}",
                f"{moment.day} {month} {moment:%H:%M}",
                f"{moment.day}/{moment.month} {moment.year} kl. {moment:%H.%M}",
            ]
        )
    )
    assert read_moment(hint, NOW, STOCKHOLM) == moment


@given(st.integers(min_value=1, max_value=60 * 24 * 7 * 8))
def test_durations_read_back(minutes: int) -> None:
    length = timedelta(minutes=minutes)
    assert read_duration(format_duration(length)) == length  # the wheel's own form
    assert read_duration(f"{minutes} min") == length
    hours, rest = divmod(minutes, 60)
    assert read_duration(f"{hours} h {rest} min" if hours else f"{rest} min") == length


# --- every example in every hint parses ---------------------------------------------------

LOCALE = Path(__file__).resolve().parent.parent / "bot" / "locale"
# Where a hint's examples start, in English and Swedish.
MARKER = re.compile(r"(?:\b[Ee]\.g\.|\b[Ff]or example:?|\b[Tt]\.ex\.|\b[Tt]ill exempel:?)\s*")
# Where they end: a full stop before a new sentence, or the end (not 'kl. 18').
SENTENCE_END = re.compile(r"\.(?=\s+[A-ZÅÄÖ(/]|\s*$)|\)|$")
SEPARATOR = re.compile(r",?\s+(?:or|eller)\s+|;\s*|,\s+")
_UNITS = r"h|t|m|min|d|w|v|tim|timme|timmar|minuter|hours?|minutes?"
TIMEISH = re.compile(
    rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?"
    rf"|\d{{1,2}}[:.]\d{{2}}(?:[-–]\d{{1,2}}(?:[:.]\d{{2}})?)?|\d+(?:[.,]\d+)?(?:{_UNITS})(?:\d+m)?"
    rf"|{_UNITS}|idag|imorgon|morgon|övermorgon|today|tomorrow"
    rf"|{'|'.join(sorted(MONTHS, key=len, reverse=True))}"
    rf"|{'|'.join(sorted(WEEKDAYS, key=len, reverse=True))}"
)
CONNECTOR = re.compile(r"\d{1,4}|\d{1,2}[-–]\d{1,2}|kl\.?|klockan|at|den|the|i|till|to|[-–]")


def hint_texts() -> list[str]:
    """Every msgid in the template and every Swedish msgstr."""
    texts: list[str] = []
    for path in (LOCALE / "samtal.pot", LOCALE / "sv" / "LC_MESSAGES" / "samtal.po"):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            for text in (message.id, message.string):
                texts.extend([text] if isinstance(text, str) else list(text or ()))
    return [t for t in texts if t]


def examples_in(text: str) -> list[tuple[str, bool]]:
    """The examples a hint shows, each with whether it is a command ('/paminnelser 1v 1d')."""
    found = []
    for marker in MARKER.finditer(text):
        tail = text[marker.end() :]
        tail = tail[: SENTENCE_END.search(tail).start()]  # type: ignore[union-attr]
        for example in SEPARATOR.split(tail):
            example = example.strip(" '\"“”")
            if example:
                found.append((example, example.startswith("/")))
    return found


def time_runs(example: str) -> list[list[str]]:
    """The runs of words in an example that write a date, a time or a length."""
    runs: list[list[str]] = []
    current: list[str] = []
    for word in [*example.split(), ""]:
        bare = word.strip("'\"(),").lower()
        if bare and (TIMEISH.fullmatch(bare) or CONNECTOR.fullmatch(bare)):
            current.append(bare)
            continue
        if any(TIMEISH.fullmatch(w) for w in current):
            runs.append(current)
        current = []
    return runs


def readable(text: str) -> bool:
    readers = (
        lambda: read_span(text, NOW, STOCKHOLM, allow_past=True),
        lambda: read_date(text, NOW, STOCKHOLM, allow_past=True),
        lambda: read_clock(text),
        lambda: read_duration(text),
    )
    for reader in readers:
        try:
            reader()
        except TimeReadError:
            continue
        return True
    return False


def unreadable_parts(example: str, command: bool) -> list[str]:
    """What in an example does not read. A command's words may be several values in turn."""
    bad = []
    for run in time_runs(example):
        if readable(" ".join(run)):
            continue
        if not command:
            bad.append(" ".join(run))
            continue
        at = 0
        while at < len(run):
            length = next(
                (n for n in range(len(run) - at, 0, -1) if readable(" ".join(run[at : at + n]))),
                0,
            )
            if length == 0:
                if TIMEISH.fullmatch(run[at]):
                    bad.append(run[at])
                length = 1
            at += length
    return bad


def all_hint_examples() -> list[tuple[str, str, bool]]:
    return [
        (text, example, command)
        for text in hint_texts()
        for example, command in examples_in(text)
        if time_runs(example)
    ]


def test_every_date_and_time_in_a_hint_can_be_read() -> None:
    examples = all_hint_examples()
    bad = [
        (text, example, unreadable_parts(example, command))
        for text, example, command in examples
        if unreadable_parts(example, command)
    ]
    assert not bad, "hints whose examples the time reader refuses:\n" + "\n".join(map(str, bad))
    # The collector itself sees the hints it must (so it can't pass by finding nothing).
    shown = {example for _, example, _ in examples}
    for expected in (
        "12/3 18-20",
        "12 mars 18:00",
        "fredag 18:00",
        "imorgon 20:00",
        "tis 10/3 18:00",
        "2026-03-12 18:00-20:00",
        "2h",
        "3/3",
        "10/3 18:00-20:15 x4",
        "/paminnelser 1v 1d 2h",
        "torsdag 17/12 kl. 18:30",
        "Thursday 17/12 at 18:30",
    ):
        assert expected in shown, expected


@pytest.mark.parametrize(
    "hint",
    [
        "When? Write e.g. 31/2 18:00.",
        "När? Skriv t.ex. 12/3 25:00 eller 12/3 18:00.",
        "For example: fre 17/12 18:00",
        "Write e.g. /flytta 2 1 12/13 18:00.",
        "E.g. 20:00, or 2 timmar 70.",
    ],
)
def test_a_hint_with_a_bad_example_is_caught(hint: str) -> None:
    assert any(unreadable_parts(example, command) for example, command in examples_in(hint))
