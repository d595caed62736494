"""The pure poll rules: instant-runoff against an independent implementation, tallies, times."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.polls.model import (
    Answer,
    InvalidChoice,
    Poll,
    PollKind,
    Stance,
    instant_runoff,
    nudge_time,
    option_span,
    quorum_reached,
    read_ranking,
    suggested_theme,
    tally,
    time_option,
    validate_choice,
    voter_key,
    write_ranking,
)
from bot.timeread import Problem, TimeReadError, read_moment

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)


def reference_runoff(ballots: Sequence[Sequence[int]], option_count: int) -> int | None:
    """Instant-runoff written independently: recursive, over Counters, no shared helpers.

    Same published rule as the product: more than half of the ballots still
    counting wins; otherwise the fewest votes goes out, ties broken by fewer
    first-round first choices, then by being listed later.
    """
    first_round = Counter(ballot[0] for ballot in ballots if ballot)

    def standing(candidate: int, score: Counter[int]) -> tuple[int, int, int]:
        return (score[candidate], first_round[candidate], -candidate)

    def count(remaining: frozenset[int]) -> int | None:
        preferred = [next((c for c in b if c in remaining), None) for b in ballots]
        alive = [c for c in preferred if c is not None]
        if not alive:
            return None
        score = Counter(alive)
        ordered = sorted(remaining, key=lambda c: standing(c, score))
        leader = ordered[-1]
        if len(remaining) == 1 or score[leader] * 2 > len(alive):
            return leader
        return count(remaining - {ordered[0]})

    return count(frozenset(range(option_count)))


@st.composite
def ranked_ballots(draw: st.DrawFn) -> tuple[int, list[list[int]]]:
    options = draw(st.integers(min_value=1, max_value=6))
    ballot = st.permutations(list(range(options))).flatmap(
        lambda order: st.integers(0, options).map(lambda k: list(order[:k]))
    )
    return options, draw(st.lists(ballot, max_size=40))


@settings(max_examples=400, deadline=None)
@given(ranked_ballots())
def test_instant_runoff_agrees_with_an_independent_implementation(
    case: tuple[int, list[list[int]]],
) -> None:
    options, ballots = case
    result = instant_runoff(ballots, options)
    assert result.winner == reference_runoff(ballots, options)
    for one in result.rounds:  # every ballot is counted once in every round, or exhausted
        assert sum(one.counts.values()) + one.exhausted == len(ballots)
    eliminated = [r.eliminated for r in result.rounds if r.eliminated is not None]
    assert len(set(eliminated)) == len(eliminated)
    assert result.winner not in eliminated


def test_instant_runoff_transfers_votes_round_by_round() -> None:
    # Skolan 2, Vården 1, Klimatet 2, Trygghet 0: Trygghet out, then Vården, whose vote goes on.
    ballots = [[0, 1, 2], [2, 0, 1], [1, 2], [2, 1], [0, 2]]
    result = instant_runoff(ballots, 4)
    assert [r.eliminated for r in result.rounds] == [3, 1, None]
    assert result.rounds[-1].counts == {0: 2, 2: 3}
    assert result.winner == 2


def test_instant_runoff_with_no_ballots_has_no_winner() -> None:
    assert instant_runoff([], 3).winner is None


def _poll(kind: PollKind, options: int = 3, **extra: object) -> Poll:
    return Poll(
        org_id=1,
        kind=kind,
        question="?",
        options=[f"o{i}" for i in range(options)],
        deadline=MONDAY + timedelta(days=3),
        **extra,  # type: ignore[arg-type]
    )


def test_a_ranking_waiting_for_confirmation_reads_back_only_if_it_fits_the_poll() -> None:
    poll = _poll(PollKind.RANKED, options=4)
    assert read_ranking(poll, write_ranking([2, 0, 3])) == [2, 0, 3]
    assert read_ranking(poll, "") == []
    for forged in ("2.2", "4", "1.x", "-1", "1..2", "١"):
        assert read_ranking(poll, forged) is None


def test_a_meeting_from_a_time_poll_is_offered_the_question_s_subject_as_its_theme() -> None:
    assert (
        suggested_theme("När ska vi ha samtalskvällen om bostäder?") == "Samtalskvällen om bostäder"
    )
    assert suggested_theme("When shall we have the housing evening?") == "The housing evening"
    assert (
        suggested_theme("Vilken kväll passar för vårfesten?") == "Vilken kväll passar för vårfesten"
    )


def test_time_poll_best_time_is_most_yes_then_most_if_need_be() -> None:
    poll = _poll(PollKind.TIME)
    yes, maybe, no = Answer.YES, Answer.IF_NEED_BE, Answer.NO
    result = tally(poll, [[yes, yes, no], [maybe, yes, yes], [yes, maybe, no]])
    assert result.counts == [2, 2, 1]
    assert result.if_need_be == [1, 1, 0]
    assert result.leaders == [0]  # tied on yes and if need be: the earlier time
    result = tally(poll, [[yes, yes, no], [no, maybe, yes]])
    assert result.leaders == [1]


def test_proposal_outcomes() -> None:
    poll = _poll(PollKind.PROPOSAL)
    assert tally(poll, [[Stance.AGREE], [Stance.DISAGREE], [Stance.AGREE]]).outcome == "accepted"
    assert tally(poll, [[Stance.AGREE], [Stance.DISAGREE]]).outcome == "rejected"
    assert tally(poll, [[Stance.AGREE]] * 5 + [[Stance.BLOCK]]).outcome == "blocked"


def test_multiple_choice_respects_the_maximum() -> None:
    poll = _poll(PollKind.MULTIPLE, options=4, max_choices=2)
    assert validate_choice(poll, [3, 1]) == [1, 3]
    for bad in ([0, 1, 2], [], [1, 1], [4]):
        with pytest.raises(InvalidChoice):
            validate_choice(poll, bad)
    assert tally(poll, [[0, 1], [1, 3]]).counts == [1, 2, 0, 1]


def test_quorum() -> None:
    poll = _poll(PollKind.SINGLE, quorum_percent=50)
    assert quorum_reached(poll, 3, 6) is True
    assert quorum_reached(poll, 2, 6) is False
    assert quorum_reached(poll, 0, 0) is False
    assert quorum_reached(_poll(PollKind.SINGLE), 1, 2) is None


def test_voter_key_depends_on_secret_poll_and_person() -> None:
    secret = "ab" * 32
    key = voter_key(secret, 1, 7)
    assert key == voter_key(secret, 1, 7)
    assert (
        len({key, voter_key(secret, 2, 7), voter_key(secret, 1, 8), voter_key("cd" * 32, 1, 7)})
        == 4
    )


def test_nudge_a_day_before_or_an_hour_before_a_short_poll() -> None:
    now = MONDAY.astimezone(UTC)
    assert nudge_time(now, now + timedelta(days=3)) == now + timedelta(days=2)
    assert nudge_time(now, now + timedelta(hours=5)) == now + timedelta(hours=4)
    assert nudge_time(now, now + timedelta(minutes=80)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fredag 18:00", datetime(2026, 3, 6, 18, 0)),
        ("tis 10/3 18:00", datetime(2026, 3, 10, 18, 0)),
        ("9 mars 12.00", datetime(2026, 3, 9, 12, 0)),
        ("2026-03-09 18:00", datetime(2026, 3, 9, 18, 0)),
        ("imorgon kl 20", datetime(2026, 3, 3, 20, 0)),
        ("i morgon kl. 20:00", datetime(2026, 3, 3, 20, 0)),
        ("tomorrow at 9", datetime(2026, 3, 3, 9, 0)),
        ("måndag 08:00", datetime(2026, 3, 9, 8, 0)),  # today's 08:00 has passed: next week's
        ("1/2 10:00", datetime(2027, 2, 1, 10, 0)),  # a date without a year: the next one
        ("29/3 12:00", datetime(2026, 3, 29, 12, 0)),  # the day summer time starts
    ],
)
def test_time_options_read_friendly_times(text: str, expected: datetime) -> None:
    start, end = option_span(time_option(text, MONDAY, STOCKHOLM))
    assert start.tzinfo is not None and end is None
    assert start.astimezone(STOCKHOLM).replace(tzinfo=None) == expected


def test_a_time_option_keeps_its_end() -> None:
    """Issue 14: '12/1 18-21', the meeting dialog's own kind of example, was refused here."""
    option = time_option("12/1 18-21", MONDAY, STOCKHOLM)
    start, end = option_span(option)
    assert start == datetime(2027, 1, 12, 18, 0, tzinfo=STOCKHOLM)
    assert end == datetime(2027, 1, 12, 21, 0, tzinfo=STOCKHOLM)
    poll = Poll(1, PollKind.TIME, "När?", [option], MONDAY + timedelta(days=9))
    assert poll.times() == [start] and poll.spans() == [(start, end)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", Problem.UNREADABLE),
        ("snart", Problem.UNREADABLE),
        ("tis 11/3 18:00", Problem.WRONG_WEEKDAY),
        ("31/2 10:00", Problem.NO_SUCH_DATE),
        ("fredag", Problem.NO_TIME),
        ("12/13 10:00", Problem.NO_SUCH_DATE),
        ("igår 18:00", Problem.PAST),
    ],
)
def test_time_options_refuse_nonsense(text: str, problem: Problem) -> None:
    with pytest.raises(TimeReadError) as caught:
        time_option(text, MONDAY, STOCKHOLM)
    assert caught.value.problem is problem


def test_a_deadline_without_a_time_closes_at_the_end_of_the_day() -> None:
    from datetime import time

    moment = read_moment("fredag", MONDAY, STOCKHOLM, default_time=time(23, 59))
    assert moment.replace(tzinfo=None) == datetime(2026, 3, 6, 23, 59)


def test_bar_chart_is_a_deterministic_png() -> None:
    from bot.render.charts import Series, bar_chart

    def draw() -> bytes:
        return bar_chart(
            "Vilken tid passar?",
            ["tisdag 10 mars kl. 18:00", "onsdag 11 mars kl. 18:30"],
            [Series("Ja", [3, 1]), Series("Om det behövs", [1, 2])],
            filename="poll.png",
        ).data

    first = draw()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert first == draw()  # same input, same bytes: transcripts can show the size
