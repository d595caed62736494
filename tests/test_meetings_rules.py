"""The pure rules of themed meetings: capacity and waitlist, reading times, reminder offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.meetings.model import (
    Answer,
    Rsvp,
    answer_for,
    coming_count,
    minutes_left,
    parse_capacity,
    parse_end,
    parse_reminder_offsets,
    parse_when,
    reminder_times,
    reminder_useful_until,
    split_place,
    spots_left,
    to_promote,
    waitlist,
    waitlist_position,
)
from bot.timeread import Problem, TimeReadError

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)  # a Monday
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rsvp(person: int, answer: Answer, minute: int) -> Rsvp:
    return Rsvp(1, person, answer, T0 + timedelta(minutes=minute), id=person)


# --- capacity and waitlist ---


def test_coming_to_a_meeting_with_room_is_coming() -> None:
    rsvps = [rsvp(1, Answer.COMING, 0)]
    assert answer_for(Answer.COMING, 2, rsvps, person_id=2) is Answer.COMING
    assert spots_left(2, rsvps) == 1


def test_coming_to_a_full_meeting_goes_on_the_waitlist() -> None:
    rsvps = [rsvp(1, Answer.COMING, 0), rsvp(2, Answer.COMING, 1)]
    assert spots_left(2, rsvps) == 0
    assert answer_for(Answer.COMING, 2, rsvps, person_id=3) is Answer.WAITLISTED


def test_maybe_takes_no_place_and_no_limit_never_waitlists() -> None:
    rsvps = [rsvp(1, Answer.MAYBE, 0), rsvp(2, Answer.MAYBE, 1)]
    assert answer_for(Answer.COMING, 1, rsvps, person_id=3) is Answer.COMING
    assert answer_for(Answer.COMING, None, rsvps * 50, person_id=3) is Answer.COMING
    assert spots_left(None, rsvps) is None


def test_someone_coming_keeps_their_place_and_someone_waiting_keeps_waiting() -> None:
    rsvps = [rsvp(1, Answer.COMING, 0), rsvp(2, Answer.WAITLISTED, 1)]
    assert answer_for(Answer.COMING, 1, rsvps, person_id=1) is Answer.COMING
    assert answer_for(Answer.COMING, 1, rsvps, person_id=2) is Answer.WAITLISTED
    assert answer_for(Answer.DECLINED, 1, rsvps, person_id=2) is Answer.DECLINED


def test_promotion_is_first_come_first_served_and_only_as_many_as_fit() -> None:
    rsvps = [
        rsvp(1, Answer.COMING, 0),
        rsvp(4, Answer.WAITLISTED, 30),
        rsvp(3, Answer.WAITLISTED, 10),
        rsvp(5, Answer.WAITLISTED, 20),
    ]
    assert [r.person_id for r in waitlist(rsvps)] == [3, 5, 4]
    assert waitlist_position(rsvps, 4) == 3
    assert waitlist_position(rsvps, 1) is None
    assert [r.person_id for r in to_promote(3, rsvps)] == [3, 5]
    assert to_promote(1, rsvps) == []
    assert [r.person_id for r in to_promote(None, rsvps)] == [3, 5, 4]


@given(
    capacity=st.integers(min_value=1, max_value=5),
    presses=st.lists(
        st.tuples(st.integers(min_value=1, max_value=8), st.sampled_from(list(Answer)[:3])),
        max_size=40,
    ),
)
def test_never_more_coming_than_places_and_no_one_waits_while_there_is_room(
    capacity: int, presses: list[tuple[int, Answer]]
) -> None:
    """Replays presses the way the service does: answer, then promote whoever fits."""
    rsvps: dict[int, Rsvp] = {}
    for minute, (person, wanted) in enumerate(presses):
        result = answer_for(wanted, capacity, list(rsvps.values()), person)
        current = rsvps.get(person)
        if current is None or current.answer is not result:
            rsvps[person] = rsvp(person, result, minute)
        for promoted in to_promote(capacity, list(rsvps.values())):
            promoted.answer = Answer.COMING
        everyone = list(rsvps.values())
        assert coming_count(everyone) <= capacity
        if waitlist(everyone):
            assert coming_count(everyone) == capacity


# --- reading times ---


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [
        ("2026-03-12 18:00", (3, 12, 18, 0), None),
        ("2026-03-12 18-20", (3, 12, 18, 0), (3, 12, 20, 0)),
        ("2026-03-12 18:00–20:30", (3, 12, 18, 0), (3, 12, 20, 30)),
        ("12/3 18.30", (3, 12, 18, 30), None),
        ("12 mars kl 18", (3, 12, 18, 0), None),
        ("12 March 18:00 - 20:00", (3, 12, 18, 0), (3, 12, 20, 0)),
        ("den 5 april kl. 19-21", (4, 5, 19, 0), (4, 5, 21, 0)),
        ("imorgon 18-20", (3, 3, 18, 0), (3, 3, 20, 0)),
        ("torsdag 18:30", (3, 5, 18, 30), None),
        ("måndag 8", (3, 9, 8, 0), None),  # today 08:00 has passed: next Monday
        ("idag 22-01", (3, 2, 22, 0), (3, 3, 1, 0)),
        ("torsdag 17 december 18:30", (12, 17, 18, 30), None),  # issue 14: once refused
        ("nästa torsdag kl 18", (3, 12, 18, 0), None),  # the Thursday of next week
        ("tors 17/12 kl 18", (12, 17, 18, 0), None),
        ("1/2 18", (2, 1, 18, 0), None),  # 1 February has passed: next year
    ],
)
def test_friendly_times_are_read_in_the_organisations_zone(
    typed: str, start: tuple[int, ...], end: tuple[int, ...] | None
) -> None:
    got_start, got_end = parse_when(typed, STOCKHOLM, NOW.astimezone(UTC))
    year = 2027 if start[0] == 2 else 2026
    assert got_start == datetime(year, *start, tzinfo=STOCKHOLM)
    assert got_end == (datetime(year, *end, tzinfo=STOCKHOLM) if end else None)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("nästa vecka typ", Problem.UNREADABLE),
        ("2026-02-30 18:00", Problem.NO_SUCH_DATE),
        ("2026-03-12 25:00", Problem.UNREADABLE),
        ("2026-03-12", Problem.NO_TIME),
        ("2026-02-12 18:00", Problem.PAST),
        ("idag 08:00", Problem.PAST),
        ("2026-03-12 18-17", Problem.END_BEFORE_START),
        ("fre 17/12 18:00", Problem.WRONG_WEEKDAY),  # 17 December 2026 is a Thursday
    ],
)
def test_nonsense_and_past_times_are_refused(typed: str, problem: Problem) -> None:
    with pytest.raises(TimeReadError) as caught:
        parse_when(typed, STOCKHOLM, NOW.astimezone(UTC))
    assert caught.value.problem is problem


def test_the_end_as_a_time_or_a_length() -> None:
    start = datetime(2026, 3, 12, 18, 0, tzinfo=STOCKHOLM)
    now = NOW.astimezone(UTC)
    assert parse_end("20:30", start, STOCKHOLM, now) == start + timedelta(hours=2, minutes=30)
    assert parse_end("2h", start, STOCKHOLM, now) == start + timedelta(hours=2)
    assert parse_end("90 min", start, STOCKHOLM, now) == start + timedelta(minutes=90)
    assert parse_end("1,5 tim", start, STOCKHOLM, now) == start + timedelta(minutes=90)
    for bad in ("17:00", "30h", "sen"):
        with pytest.raises(TimeReadError):
            parse_end(bad, start, STOCKHOLM, now)


def test_a_time_across_the_spring_change_keeps_its_wall_clock() -> None:
    start, end = parse_when("2026-03-29 18-20", STOCKHOLM, NOW.astimezone(UTC))
    assert start.astimezone(UTC).hour == 16  # summer time: UTC+2
    assert end is not None and end - start == timedelta(hours=2)


# --- reminders, places, capacity ---


def test_reminder_offsets() -> None:
    assert parse_reminder_offsets("1v 1d 2h") == [10080, 1440, 120]
    assert parse_reminder_offsets("2h, 1w") == [10080, 120]
    assert parse_reminder_offsets("3 dagar 30 min") == [4320, 30]
    assert parse_reminder_offsets("av") == []
    for bad in ("snart", "", "1d 2d 3d 4d 5d 6d", "40d"):
        with pytest.raises(ValueError):
            parse_reminder_offsets(bad)


def test_past_reminders_are_left_out() -> None:
    start = NOW + timedelta(days=3)
    assert reminder_times(start, [10080, 1440, 120], NOW) == [
        start - timedelta(days=1),
        start - timedelta(hours=2),
    ]


def test_places_links_and_capacity() -> None:
    assert split_place("Folkets hus, Sandviken") == ("Folkets hus, Sandviken", None)
    assert split_place("https://meet.example.org/x") == (None, "https://meet.example.org/x")
    assert split_place("www.example.org/x") == (None, "https://www.example.org/x")
    assert parse_capacity("20") == 20
    assert parse_capacity("ingen") is None
    for bad in ("tjugo", "-3", "1.5"):
        with pytest.raises(ValueError):
            parse_capacity(bad)


def test_a_late_reminder_says_the_time_really_left_and_gives_way_to_a_closer_one() -> None:
    starts = datetime(2026, 3, 11, 18, 0, tzinfo=STOCKHOLM)
    offsets = [7 * 24 * 60, 24 * 60, 120]
    # On time (or a few minutes late): the words it was armed with.
    assert minutes_left(starts, starts - timedelta(days=7), 7 * 24 * 60) == 7 * 24 * 60
    assert minutes_left(starts, starts - timedelta(minutes=118), 120) == 120
    # Late: counted from now, in the unit people say.
    assert minutes_left(starts, starts - timedelta(hours=30), 7 * 24 * 60) == 30 * 60
    assert minutes_left(starts, starts - timedelta(days=3, hours=2), 7 * 24 * 60) == 3 * 24 * 60
    assert minutes_left(starts, starts - timedelta(minutes=40), 120) == 40
    assert minutes_left(starts, starts - timedelta(seconds=20), 120) == 1
    # The week's reminder is useful until the day's falls due; the last one until the start.
    assert reminder_useful_until(starts, 7 * 24 * 60, offsets) == starts - timedelta(days=1)
    assert reminder_useful_until(starts, 24 * 60, offsets) == starts - timedelta(hours=2)
    assert reminder_useful_until(starts, 120, offsets) == starts
