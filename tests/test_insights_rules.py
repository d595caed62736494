"""The pure rules of organiser insights: the arrow, the projection, and each figure's definition."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.insights.model import (
    Activity,
    Arrow,
    ConversationReport,
    Goal,
    GoalKind,
    HeldSession,
    accumulated_by_day,
    arrow,
    goal_period,
    guests_who_joined,
    participation,
    participation_by_month,
    progress,
    study_hours_held,
    year_end,
)
from bot.welcome.model import Share
from tests.conftest import STOCKHOLM

ROOT = Path(__file__).resolve().parent.parent
JAN1 = datetime(2026, 1, 1, tzinfo=STOCKHOLM)
DEC31 = year_end(JAN1, STOCKHOLM)


def _goal(kind: GoalKind, target: int, baseline: float = 0, set_at: datetime = JAN1) -> Goal:
    return Goal(1, kind, target, JAN1, DEC31, baseline, set_at)


def test_the_arrow_thresholds_are_100_and_85_percent_of_the_way() -> None:
    assert arrow(0, 1000, 1000) is Arrow.ON_TRACK
    assert arrow(0, 1000, 999.9) is Arrow.AT_RISK
    assert arrow(0, 1000, 850) is Arrow.AT_RISK
    assert arrow(0, 1000, 849.9) is Arrow.OFF_TRACK
    # From a start value: 400 members aiming for 450 need 50 more; 442.5 is 85 % of the way.
    assert arrow(400, 450, 442.5) is Arrow.AT_RISK
    assert arrow(400, 450, 442.4) is Arrow.OFF_TRACK
    # A target already reached when it was set: on track while it stays reached.
    assert arrow(500, 450, 460) is Arrow.ON_TRACK
    assert arrow(500, 450, 440) is Arrow.OFF_TRACK


def test_a_counted_goal_projects_its_pace_since_the_start() -> None:
    goal = _goal(GoalKind.CONVERSATIONS, 2000)
    # Half the year (1 Jan to 2 Jul 12:00 is 182.5 days) and 1000 done: 1000 × 365 / 182.5 = 2000
    # (less a hair: the year ends at 23:59:59), so just under: at risk.
    mid = JAN1 + timedelta(days=182, hours=12)
    result = progress(goal, 1000, mid)
    assert result.projected == pytest.approx(2000 - 1000 / (182.5 * 86400), abs=1e-9)
    assert result.arrow is Arrow.AT_RISK
    assert progress(goal, 1001, mid).arrow is Arrow.ON_TRACK
    assert progress(goal, 851, mid).arrow is Arrow.AT_RISK  # 1702 ≥ 85 % of 2000
    assert progress(goal, 849, mid).arrow is Arrow.OFF_TRACK


def test_a_level_goal_projects_its_change_since_it_was_set() -> None:
    set_at = JAN1 + timedelta(days=31)
    goal = _goal(GoalKind.MEMBERS, 450, baseline=400, set_at=set_at)
    # 10 more members in 31 days; 303 days less a second remain: 410 + 10 × 303 / 31 = 507.7.
    now = set_at + timedelta(days=31)
    result = progress(goal, 410, now)
    assert result.projected == pytest.approx(410 + 10 * 303 / 31, abs=1e-3)
    assert result.arrow is Arrow.ON_TRACK
    # Losing members heads the wrong way.
    assert progress(goal, 395, now).arrow is Arrow.OFF_TRACK


def test_no_pace_on_the_first_day_and_the_value_reached_after_the_deadline() -> None:
    goal = _goal(GoalKind.MEMBERS, 450, baseline=400, set_at=JAN1)
    assert progress(goal, 400, JAN1 + timedelta(hours=5)).projected == 400
    after = DEC31 + timedelta(days=3)
    assert progress(goal, 449, after).projected == 449
    assert progress(goal, 449, after).arrow is Arrow.AT_RISK  # 49 of the 50 needed


def test_participation_is_projected_at_most_to_100_percent() -> None:
    goal = _goal(GoalKind.PARTICIPATION, 60, baseline=0)
    assert progress(goal, 50, JAN1 + timedelta(days=30)).projected == 100


def test_participation_counts_members_once_and_ignores_guests_and_the_erased() -> None:
    start, end = JAN1, JAN1 + timedelta(days=30)
    activity = [
        Activity(1, start),
        Activity(1, start + timedelta(days=3)),  # twice: once
        Activity(2, end),  # at the end: outside
        Activity(9, start),  # a guest, not a member
        Activity(None, start),  # an erased person
    ]
    assert participation({1, 2, 3}, activity, start, end) == Share(1, 3)


def test_participation_by_month_uses_the_members_who_had_joined() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=STOCKHOLM)
    joined = {1: JAN1, 2: JAN1, 3: datetime(2026, 2, 20, tzinfo=STOCKHOLM)}
    activity = [
        Activity(1, datetime(2026, 1, 5, tzinfo=STOCKHOLM)),
        Activity(3, datetime(2026, 2, 25, tzinfo=STOCKHOLM)),
        Activity(2, datetime(2026, 3, 2, tzinfo=STOCKHOLM)),
        Activity(1, datetime(2026, 3, 11, tzinfo=STOCKHOLM)),  # after now
    ]
    months = participation_by_month(joined, activity, now, STOCKHOLM, months=4)
    assert [m.month for m, _ in months] == [12, 1, 2, 3]
    assert [s for _, s in months] == [Share(0, 0), Share(1, 2), Share(1, 3), Share(1, 3)]


def test_study_hours_count_each_held_session_once_in_45_minute_hours() -> None:
    sessions = [
        HeldSession(1, JAN1, 135),
        HeldSession(1, JAN1, 135),  # a second person present: the same session
        HeldSession(2, JAN1 + timedelta(days=7), 90),
        HeldSession(3, JAN1 - timedelta(days=1), 180),  # last year
    ]
    assert study_hours_held(sessions, JAN1, DEC31) == pytest.approx(5.0)


def test_a_guest_who_joined_had_an_account_a_day_before() -> None:
    joined = JAN1 + timedelta(days=40)
    new_members = [
        (joined, joined, joined - timedelta(days=20)),  # a guest first
        (joined, joined, joined - timedelta(hours=2)),  # came through the member link today
        (joined, joined, None),  # unknown
        (JAN1 - timedelta(days=5), JAN1 - timedelta(days=4), JAN1 - timedelta(days=90)),  # 2025
    ]
    assert guests_who_joined(new_members, JAN1, DEC31) == 1


def test_conversations_accumulate_per_local_day() -> None:
    reports = [
        ConversationReport(1, 1, 5, datetime(2026, 1, 2, 23, 30, tzinfo=STOCKHOLM)),
        ConversationReport(1, None, 3, datetime(2026, 1, 2, 8, tzinfo=STOCKHOLM)),
        ConversationReport(1, 2, 4, datetime(2026, 1, 4, 12, tzinfo=STOCKHOLM)),
    ]
    now = datetime(2026, 1, 4, 13, tzinfo=STOCKHOLM)
    assert accumulated_by_day(reports, JAN1, now, STOCKHOLM) == [
        (date(2026, 1, 1), 0),
        (date(2026, 1, 2), 8),
        (date(2026, 1, 3), 8),
        (date(2026, 1, 4), 12),
    ]


def test_a_goal_for_a_later_year_counts_from_when_it_was_set() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=STOCKHOLM)
    assert goal_period(now, date(2026, 12, 31), STOCKHOLM) == (
        JAN1,
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=STOCKHOLM),
    )
    start, _ = goal_period(now, date(2027, 6, 30), STOCKHOLM)
    assert start == now


def test_samtal_stats_prints_the_figures_and_writes_the_charts(tmp_path: Path) -> None:
    env = {"SAMTAL_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path), "PATH": "/usr/bin"}

    def samtal(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )

    samtal("demo")
    # Reported in the console under a clock moved an hour on: the chat and the CLI agree.
    script = tmp_path / "report.txt"
    script.write_text("@clock: +1h\n@anna: /samtal 20\n@bertil: /statistik\n", encoding="utf-8")
    chat = samtal("console", "--script", str(script))
    assert "Väljarsamtal i år: 20" in chat.stdout, chat.stdout + chat.stderr
    result = samtal("stats", "--org", "gavleborg", "--out", str(tmp_path / "charts"))
    assert result.returncode == 0, result.stderr
    assert "Socialdemokraterna Gävleborg" in result.stdout
    assert "Medlemmar: 7" in result.stdout  # the organisation's language
    assert "Väljarsamtal i år: 20" in result.stdout
    english = samtal("stats", "--org", "gavleborg", "--language", "en")
    assert "Voter conversations this year: 20" in english.stdout
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert written == ["conversations-gavleborg.png", "participation-gavleborg.png"]
    assert all((tmp_path / "charts" / name).stat().st_size > 10_000 for name in written)
    missing = samtal("stats", "--org", "nowhere")
    assert missing.returncode == 2 and "no organisation" in missing.stderr
