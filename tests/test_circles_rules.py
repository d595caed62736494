"""The study association's rules for a reportable circle, the waitlist, and reading input.

Each rule is tested on both sides of its bound.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.circles.model import (
    CircleSession,
    Enrolment,
    EnrolmentState,
    InputError,
    Rule,
    counts_as_participant,
    enrolment_warnings,
    format_hours,
    parse_date,
    parse_range,
    parse_sessions,
    plan_warnings,
    session_attendance_warning,
    state_for_new,
    study_hours,
    to_promote,
    waitlist,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Stockholm
GOOD = [135, 135, 135]  # three evenings of 3 study hours: exactly 9


def rules(warnings: list) -> set[Rule]:  # type: ignore[type-arg]
    return {w.rule for w in warnings}


# --- Study hours ---------------------------------------------------------------


def test_a_study_hour_is_45_minutes() -> None:
    assert study_hours(45) == 1
    assert study_hours(135) == 3
    assert study_hours(90) == 2
    assert format_hours(study_hours(135)) == "3"
    assert format_hours(study_hours(60)) == "1.33"
    assert format_hours(study_hours(0)) == "0"


# --- Group size, the leader counted: 3 to 20 ------------------------------------------


def test_a_minimum_of_two_participants_makes_three_with_the_leader() -> None:
    assert Rule.GROUP_TOO_SMALL not in rules(plan_warnings(GOOD, 2, 10))
    small = plan_warnings(GOOD, 1, 10)
    assert Rule.GROUP_TOO_SMALL in rules(small)
    assert next(w for w in small if w.rule is Rule.GROUP_TOO_SMALL).value == 2


def test_a_maximum_of_nineteen_participants_makes_twenty_with_the_leader() -> None:
    assert Rule.GROUP_TOO_LARGE not in rules(plan_warnings(GOOD, 3, 19))
    large = plan_warnings(GOOD, 3, 20)
    assert Rule.GROUP_TOO_LARGE in rules(large)
    assert next(w for w in large if w.rule is Rule.GROUP_TOO_LARGE).value == 21


def test_signed_up_group_bounds() -> None:
    assert rules(enrolment_warnings(1)) == {Rule.TOO_FEW_SIGNED_UP}
    assert enrolment_warnings(2) == []
    assert enrolment_warnings(19) == []
    assert rules(enrolment_warnings(20)) == {Rule.GROUP_TOO_LARGE}


# --- Meetings and hours ----------------------------------------------------------


def test_a_good_plan_has_no_warnings() -> None:
    assert plan_warnings(GOOD, 3, 12) == []


def test_at_least_three_meetings() -> None:
    # Two meetings of the longest allowed length still miss both bounds.
    two = plan_warnings([180, 180], 3, 12)
    assert rules(two) == {Rule.TOO_FEW_MEETINGS, Rule.TOO_FEW_HOURS}
    assert next(w for w in two if w.rule is Rule.TOO_FEW_MEETINGS).value == 2
    assert rules(plan_warnings([180, 180, 180], 3, 12)) == set()


def test_at_least_nine_study_hours() -> None:
    assert Rule.TOO_FEW_HOURS not in rules(plan_warnings([135, 135, 135], 3, 12))  # 405 min
    short = plan_warnings([135, 135, 134], 3, 12)  # one minute short
    assert rules(short) == {Rule.TOO_FEW_HOURS}
    assert next(w for w in short).value == pytest.approx(404 / 45)


def test_at_most_four_study_hours_a_meeting() -> None:
    assert rules(plan_warnings([180, 135, 135], 3, 12)) == set()  # exactly 4 study hours
    long = plan_warnings([135, 181, 135], 3, 12)
    assert rules(long) == {Rule.MEETING_TOO_LONG}
    assert long[0].session == 2


# --- Present at every meeting, the leader counted ----------------------------------


def test_at_least_three_present_at_every_meeting() -> None:
    assert session_attendance_warning(1, 2) is None  # two participants and the leader
    warning = session_attendance_warning(2, 1)
    assert warning is not None and warning.rule is Rule.TOO_FEW_PRESENT
    assert (warning.session, warning.value) == (2, 2)
    without_leader = session_attendance_warning(1, 2, leader_present=False)
    assert without_leader is not None and without_leader.value == 2
    assert session_attendance_warning(1, 3, leader_present=False) is None


# --- Who counts as a participant ---------------------------------------------------


def _sessions(minutes: list[int]) -> list[CircleSession]:
    start = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    return [
        CircleSession(
            1, start + timedelta(weeks=i), start + timedelta(weeks=i, minutes=m), id=i + 1
        )
        for i, m in enumerate(minutes)
    ]


def test_a_participant_present_nine_study_hours_over_three_meetings_counts() -> None:
    sessions = _sessions([135, 135, 135])
    assert counts_as_participant(sessions, {1, 2, 3})


def test_two_meetings_are_too_few_even_with_enough_hours() -> None:
    sessions = _sessions([180, 180, 180, 180])
    assert not counts_as_participant(sessions, {1, 2})  # 8 study hours, two meetings
    assert counts_as_participant(sessions, {1, 2, 4})  # 12 study hours, three meetings


def test_one_minute_short_of_nine_study_hours_does_not_count() -> None:
    sessions = _sessions([135, 135, 134, 135])
    assert not counts_as_participant(sessions, {1, 2, 3})  # 404 minutes
    assert counts_as_participant(sessions, {1, 2, 4})  # 405 minutes


def test_one_meeting_must_be_among_the_first_three() -> None:
    sessions = _sessions([135, 135, 135, 135, 135, 135])
    assert not counts_as_participant(sessions, {4, 5, 6})
    assert counts_as_participant(sessions, {3, 5, 6})


def test_the_first_three_are_by_time_not_by_id() -> None:
    sessions = _sessions([135, 135, 135, 135])
    sessions[0].starts_at, sessions[3].starts_at = sessions[3].starts_at, sessions[0].starts_at
    sessions[0].ends_at, sessions[3].ends_at = sessions[3].ends_at, sessions[0].ends_at
    # Session 1 now meets last, session 4 first.
    assert counts_as_participant(sessions, {4, 2, 1})
    assert not counts_as_participant(sessions, {1}) and counts_as_participant(sessions, {1, 3, 4})


# --- Places and the waitlist ------------------------------------------------------


def _enrolment(person: int, state: EnrolmentState, minute: int) -> Enrolment:
    return Enrolment(1, person, state, NOW + timedelta(minutes=minute), id=person)


def test_a_place_while_there_is_one_then_the_waitlist() -> None:
    one = [_enrolment(1, EnrolmentState.ENROLLED, 0)]
    assert state_for_new(one, 2) is EnrolmentState.ENROLLED
    two = [*one, _enrolment(2, EnrolmentState.ENROLLED, 1)]
    assert state_for_new(two, 2) is EnrolmentState.WAITLISTED
    withdrawn = [*one, _enrolment(2, EnrolmentState.WITHDRAWN, 1)]
    assert state_for_new(withdrawn, 2) is EnrolmentState.ENROLLED


def test_promotion_is_first_come_first_served_until_full() -> None:
    enrolments = [
        _enrolment(1, EnrolmentState.WITHDRAWN, 0),
        _enrolment(2, EnrolmentState.ENROLLED, 1),
        _enrolment(4, EnrolmentState.WAITLISTED, 3),
        _enrolment(3, EnrolmentState.WAITLISTED, 2),
        _enrolment(5, EnrolmentState.WAITLISTED, 4),
    ]
    assert [e.person_id for e in waitlist(enrolments)] == [3, 4, 5]
    assert [e.person_id for e in to_promote(enrolments, 3)] == [3, 4]
    assert to_promote(enrolments, 1) == []


# --- Reading what organisers type ---------------------------------------------------


def test_dates_in_several_forms() -> None:
    today = date(2026, 3, 2)
    assert parse_date("2026-03-10", today) == date(2026, 3, 10)
    assert parse_date("10/3", today) == date(2026, 3, 10)
    assert parse_date("10/3/27", today) == date(2027, 3, 10)
    assert parse_date("10 mars", today) == date(2026, 3, 10)
    assert parse_date("1 mars", today) == date(2027, 3, 1)  # passed this year: next year
    assert parse_date("10 March 2026", today) == date(2026, 3, 10)
    assert parse_date("tors 12/3", today) == date(2026, 3, 12)
    assert parse_date("i morgon", today) == date(2026, 3, 3)
    for nonsense in ("måndag 12/3", "31/2", "10 marsipan", "", "2026-13-01", "10/3 18:00"):
        with pytest.raises(InputError):
            parse_date(nonsense, today)


def test_a_list_of_sessions() -> None:
    sessions = parse_sessions(
        "10/3 18:00-20:15; 17/3 18:00-20:15\n24/3 kl. 18.00 - 20.15", STOCKHOLM, NOW
    )
    assert [s.starts_at.astimezone(STOCKHOLM).day for s in sessions] == [10, 17, 24]
    assert all(s.minutes == 135 for s in sessions)


def test_a_weekly_series_keeps_the_wall_clock_time_over_summer_time() -> None:
    sessions = parse_sessions("24/3 18:00-20:15 x3", STOCKHOLM, NOW)
    local = [s.starts_at.astimezone(STOCKHOLM) for s in sessions]
    assert [(d.month, d.day, d.hour) for d in local] == [(3, 24, 18), (3, 31, 18), (4, 7, 18)]
    assert sessions[0].starts_at.hour == 17 and sessions[1].starts_at.hour == 16  # UTC
    assert len(parse_sessions("24/3 18:00-20:15 4 ggr", STOCKHOLM, NOW)) == 4


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("måndag kväll", "span"),
        ("idag kanske", "sessions"),
        ("10/3 20:00-18:00", "end_before_start"),
        ("10/3 18:00", "span"),
        ("10/3 18:00-20:00; 10/3 19:00-21:00", "overlap"),
        ("10/3 18:00-20:00 x31", "too_many_sessions"),
        ("10/3 25:00-26:00", "time"),
        ("ons 10/3 18:00-20:00", "explained"),  # 10 March is a Tuesday
    ],
)
def test_nonsense_sessions_are_refused(text: str, code: str) -> None:
    with pytest.raises(InputError) as error:
        parse_sessions(text, STOCKHOLM, NOW)
    assert error.value.code == code


def test_a_session_that_has_started_is_in_the_past() -> None:
    during = datetime(2026, 3, 10, 18, 30, tzinfo=STOCKHOLM)
    with pytest.raises(InputError) as error:
        parse_sessions("10/3 18:00-20:00", STOCKHOLM, during)
    assert error.value.code == "past"
    assert len(parse_sessions("10/3 19:00-20:00", STOCKHOLM, during)) == 1


def test_participant_ranges() -> None:
    assert parse_range("4-12") == (4, 12)
    assert parse_range("3 till 8") == (3, 8)
    for nonsense in ("tolv", "12-4", "0-3", "3", "3-4-5", "3-x"):
        with pytest.raises(InputError):
            parse_range(nonsense)
