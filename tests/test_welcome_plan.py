"""The welcome plan file and the pure rules: validation, due times and the figures."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.welcome.model import (
    FlowStatus,
    PlanStep,
    StepKind,
    WelcomeFlow,
    WelcomePlanError,
    contact_figures,
    default_plan,
    education_offered_within,
    introduced_within,
    parse_plan,
    step_due,
    welcome_figures,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Monday 5 January, 09:00 in Stockholm


def test_the_default_plan_covers_the_first_month() -> None:
    plan = default_plan()
    assert [s.kind for s in plan.steps] == list(StepKind)
    assert plan.step(StepKind.WELCOME) == PlanStep(StepKind.WELCOME, 0)
    assert plan.step(StepKind.CHECKIN) == PlanStep(StepKind.CHECKIN, 30, time(10, 0))
    assert (plan.reminder_after_days, plan.escalate_after_days) == (7, 14)
    assert (plan.invite_after_activities, plan.confirm_reminder_days) == (3, 3)


def test_an_organisation_can_leave_out_steps_and_add_a_note() -> None:
    plan = parse_plan(
        """
        [contact]
        reminder_after_days = 3
        escalate_after_days = 10
        [steps.welcome]
        day = 0
        note = "Fika varje tisdag på Sosserian!"
        [steps.education]
        day = 20
        at = "18:30"
        [steps.meeting]
        day = 5
        enabled = false
        """
    )
    assert plan.steps == (
        PlanStep(StepKind.WELCOME, 0, None, "Fika varje tisdag på Sosserian!"),
        PlanStep(StepKind.EDUCATION, 20, time(18, 30)),
    )
    assert (plan.reminder_after_days, plan.escalate_after_days) == (3, 10)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[steps.welcome]\nday = 0\n[steps.chekin]\nday = 30\n", "unknown key steps.chekin"),
        ("[steps.welcome]\ndya = 0\n", "unknown key steps.welcome.dya"),
        ("[steps.welcome]\nday = -1\n", "steps.welcome.day: expected a whole number"),
        ("[steps.welcome]\nday = '3'\n", "steps.welcome.day: expected a whole number"),
        ('[steps.welcome]\nday = 0\nat = "25:00"\n', "steps.welcome.at: expected a time"),
        ("[steps.welcome]\nday = 0\nenabled = 'no'\n", "steps.welcome.enabled"),
        ("[steps.welcome]\n", "steps.welcome.day is missing"),
        ("[steps.interests]\nday = 1\n", "steps.welcome is needed"),
        (
            "[contact]\nreminder_after_days = 7\nescalate_after_days = 7\n[steps.welcome]\nday = 0\n",
            "contact.escalate_after_days (7) must be later",
        ),
        ("[contact]\nremind = 7\n[steps.welcome]\nday = 0\n", "unknown key contact.remind"),
        ("[guests]\ninvite_after_activities = 0\n[steps.welcome]\nday = 0\n", "guests.invite"),
        ("steps = 3\n", "[steps] must be a table"),
        ("[steps.welcome\n", "not valid TOML"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_key(text: str, named: str) -> None:
    with pytest.raises(WelcomePlanError) as error:
        parse_plan(text, "plan.toml")
    assert str(error.value).startswith("plan.toml: ")
    assert named in str(error.value)


def test_steps_fall_due_at_their_local_time_across_summer_time() -> None:
    joined = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm, winter time
    assert step_due(PlanStep(StepKind.WELCOME, 0), joined, STOCKHOLM) == joined
    assert step_due(PlanStep(StepKind.INTERESTS, 1, time(10)), joined, STOCKHOLM) == datetime(
        2026, 3, 3, 9, 0, tzinfo=UTC
    )
    # Sweden moves to summer time on 29 March: 10:00 local is then 08:00 UTC.
    assert step_due(PlanStep(StepKind.CHECKIN, 30, time(10)), joined, STOCKHOLM) == datetime(
        2026, 4, 1, 8, 0, tzinfo=UTC
    )
    # A step set earlier in the day than they joined, on day 0, is sent right away.
    assert step_due(PlanStep(StepKind.WELCOME, 0, time(7)), joined, STOCKHOLM) == joined
    assert step_due(PlanStep(StepKind.WELCOME, 2), joined, STOCKHOLM) == joined + timedelta(days=2)


def _flow(
    days_ago: float,
    *,
    contacted_after: float | None = None,
    completed_after: float | None = None,
    offered_after: float | None = None,
    now: datetime,
) -> WelcomeFlow:
    started = now - timedelta(days=days_ago)
    return WelcomeFlow(
        person_id=1,
        org_id=1,
        status=FlowStatus.COMPLETED if completed_after is not None else FlowStatus.ACTIVE,
        created_at=started,
        started_at=started,
        contacted_at=started + timedelta(days=contacted_after)
        if contacted_after is not None
        else None,
        completed_at=started + timedelta(days=completed_after)
        if completed_after is not None
        else None,
        education_offered_at=started + timedelta(days=offered_after)
        if offered_after is not None
        else None,
    )


def test_the_figures_match_a_hand_count() -> None:
    now = T0 + timedelta(days=400)
    flows = [
        # joined 300 days ago: contacted after 2 days, introduced on day 30, offered education day 15
        _flow(300, contacted_after=2, completed_after=30, offered_after=15, now=now),
        # joined 200 days ago: contacted after 10 days, paused so introduced on day 40, offered day 190
        _flow(200, contacted_after=10, completed_after=40, offered_after=190, now=now),
        # joined 100 days ago: contacted after 5 days, introduced on day 31, offered day 15
        _flow(100, contacted_after=5, completed_after=31, offered_after=15, now=now),
        # joined 40 days ago: never contacted, stopped the introduction
        _flow(40, now=now),
        # joined 10 days ago: contacted after 1 day, still in the introduction
        _flow(10, contacted_after=1, now=now),
        # said they joined but no one has confirmed it yet: not counted anywhere
        WelcomeFlow(person_id=2, org_id=1, status=FlowStatus.PENDING, created_at=now),
    ]
    contacted, median = contact_figures(flows)
    # Contacted: 4 of the 5 started; days 2, 10, 5, 1 -> median (2 + 5) / 2.
    assert (contacted.count, contacted.of) == (4, 5)
    assert median == pytest.approx(3.5)
    # Introduced within a month (31 days): of the 4 who joined 31+ days ago, days 30 and 31 count.
    introduced = introduced_within(flows, now)
    assert (introduced.count, introduced.of) == (2, 4)
    # Offered education within six months (183 days): only the two who joined 183+ days ago
    # are counted; the first was offered on day 15, the second too late (day 190).
    offered = education_offered_within(flows, now)
    assert (offered.count, offered.of) == (1, 2)
    assert offered.ratio == 0.5
    figures = welcome_figures(flows, now)
    assert figures.contacted == contacted
    assert figures.median_days_to_contact == median
    assert figures.introduced_within_month == introduced
    assert figures.education_offered_within_six_months == offered


def test_no_new_members_means_no_figures_rather_than_zero() -> None:
    contacted, median = contact_figures([])
    assert (contacted.count, contacted.of, contacted.ratio, median) == (0, 0, None, None)
