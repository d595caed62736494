"""Insights' use cases: the figures of an organisation and everything below it, goals'
measures, and reported voter conversations.

`gather(uow, org, now)` is shared with the command line (`samtal stats --org SLUG`), whose
text and charts come from `bot.insights.views`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.actions import Target
from bot.context import Context, Effects
from bot.domain.organisations import Organisation
from bot.insights.model import (
    PARTICIPATION_WINDOW,
    Activity,
    ConversationReport,
    Goal,
    GoalKind,
    Progress,
    accumulated_by_day,
    average,
    guests_who_joined,
    month_starts,
    participation,
    participation_by_month,
    progress,
    study_hours_held,
    year_end,
    year_start,
)
from bot.ports import UnitOfWork
from bot.register.model import Reach
from bot.welcome.model import Share, WelcomeFigures, welcome_figures


async def _own(ctx: Context, report: ConversationReport) -> bool:
    return report.person_id == ctx.person_id


# What the place, topic and done buttons act on: the person's own report; anyone else's
# reads as gone.
REPORT: Target[ConversationReport] = Target(
    load=lambda fx, report_id: fx.uow.insights.report(report_id),
    org_id=lambda report: report.org_id,
    visible=_own,
)


# --- reported conversations -----------------------------------------------------------------------


async def _year_total(uow: UnitOfWork, org: Organisation, now: datetime) -> int:
    assert org.id is not None
    org_ids = [o.id for o in await uow.orgs.subtree(org.id) if o.id is not None]
    reports = await uow.insights.reports_in(
        org_ids, year_start(now, org.zone), year_end(now, org.zone)
    )
    return sum(r.count for r in reports)


async def add_report(
    fx: Effects, org: Organisation, person_id: int, count: int
) -> tuple[ConversationReport, int, Goal | None]:
    """Saves a report; returns it, the year's total so far and the conversation goal if set."""
    assert org.id is not None
    report = await fx.uow.insights.add_report(ConversationReport(org.id, person_id, count, fx.now))
    assert report.id is not None
    total = await _year_total(fx.uow, org, fx.now)
    goal = next(
        (g for g in await fx.uow.insights.goals_of(org.id) if g.kind is GoalKind.CONVERSATIONS),
        None,
    )
    return report, total, goal


# --- the figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalStatus:
    goal: Goal
    progress: Progress


@dataclass(frozen=True)
class Figures:
    org: Organisation
    now: datetime
    members: int
    took_part: Share
    by_month: list[tuple[datetime, Share]]
    welcome: WelcomeFigures
    new_members_this_year: int
    guests_joined: int
    conversations: int
    accumulated: list[tuple[date, int]]
    accumulated_from: datetime
    study_hours: float
    rating: float | None
    ratings: int
    goals: list[GoalStatus]
    # How the members can be reached, and how many the register has (bot/register).
    reach: Reach = field(default_factory=lambda: Reach(0, 0, {}, 0))

    def goal(self, kind: GoalKind) -> GoalStatus | None:
        return next((g for g in self.goals if g.goal.kind is kind), None)


async def _org_ids(uow: UnitOfWork, org: Organisation) -> list[int]:
    assert org.id is not None
    return [o.id for o in await uow.orgs.subtree(org.id) if o.id is not None]


async def _activity(
    uow: UnitOfWork, org_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[list[Activity], float]:
    """Everyone present at meetings and circle sessions, answering a rådslag or reporting a
    campaign shift in [start, end), and the circle sessions."""
    meetings = await uow.meetings.attendance_in(org_ids, start, end)
    circles = await uow.insights.circle_activity(org_ids, start, end)
    activity = [Activity(r.person_id, r.starts_at) for r in meetings]
    activity += [a for _, a in circles]
    # Answering a rådslag is taking part too (bot/consultations).
    answers = await uow.consultations.answered_since(org_ids, start, end)
    activity += [Activity(a.person_id, a.updated_at) for a in answers]
    activity += await uow.campaigns.activity_in(org_ids, start, end)
    return activity, study_hours_held([s for s, _ in circles], start, end)


async def current_value(
    uow: UnitOfWork,
    org: Organisation,
    kind: GoalKind,
    since: datetime,
    now: datetime,
    until: datetime | None = None,
) -> float:
    """A goal's measure: members or % who took part now (no history is kept), or what was
    counted from `since` up to `until` (the deadline) or now, whichever is first."""
    end = min(until or now, now)
    org_ids = await _org_ids(uow, org)
    if kind is GoalKind.MEMBERS:
        return float(len(await uow.insights.members_in(org_ids)))
    if kind is GoalKind.PARTICIPATION:
        members = await uow.insights.members_in(org_ids)
        activity, _ = await _activity(uow, org_ids, now - PARTICIPATION_WINDOW, now)
        ratio = participation(members, activity, now - PARTICIPATION_WINDOW, now).ratio
        return 100 * ratio if ratio is not None else 0.0
    if kind is GoalKind.CONVERSATIONS:
        reports = await uow.insights.reports_in(org_ids, since, end + timedelta(seconds=1))
        return float(sum(r.count for r in reports))
    return float(await _new_members(uow, org, org_ids, since, end))


async def _new_members(
    uow: UnitOfWork, org: Organisation, org_ids: Sequence[int], since: datetime, end: datetime
) -> int:
    """Introductions started in [since, end], and members the register says joined then
    (each once: an imported new member gets an introduction too)."""
    flows = await uow.welcome.in_orgs(org_ids)
    started = [f for f in flows if f.started_at is not None and since <= f.started_at <= end]
    registered = await uow.register.joined_between(
        org_ids, since.astimezone(org.zone).date(), end.astimezone(org.zone).date()
    )
    return len(started) + len(registered - {f.person_id for f in started})


async def gather(uow: UnitOfWork, org: Organisation, now: datetime) -> Figures:
    zone = org.zone
    org_ids = await _org_ids(uow, org)
    this_year = year_start(now, zone)
    members = await uow.insights.members_in(org_ids)
    first_month = month_starts(now, zone, 12)[0]
    earliest = min(first_month, now - PARTICIPATION_WINDOW)
    activity, _ = await _activity(uow, org_ids, earliest, now)
    _, hours = await _activity(uow, org_ids, this_year, now)
    flows = await uow.welcome.in_orgs(org_ids)
    started = [f for f in flows if f.started_at is not None and this_year <= f.started_at <= now]
    joined: list[tuple[datetime, datetime, datetime | None]] = []
    for flow in started:
        assert flow.started_at is not None
        person = await uow.people.get(flow.person_id) if flow.person_id is not None else None
        # An erased member's flow kept when their account was created: still counted.
        account_created = person.created_at if person else flow.person_created_at
        joined.append((flow.created_at, flow.started_at, account_created))
    ratings: list[int] = []
    for meeting in await uow.meetings.between(org_ids, this_year, now):
        if not meeting.cancelled and meeting.id is not None:
            ratings += [f.rating for f in await uow.meetings.feedback(meeting.id)]
    goals: list[GoalStatus] = []
    assert org.id is not None
    for goal in await uow.insights.goals_of(org.id):
        value = await current_value(uow, org, goal.kind, goal.starts_at, now, goal.deadline)
        goals.append(GoalStatus(goal, progress(goal, value, now)))
    conversation_goal = next((g.goal for g in goals if g.goal.kind is GoalKind.CONVERSATIONS), None)
    chart_from = conversation_goal.starts_at if conversation_goal else this_year
    # "This year" is the calendar year: what was reported in it counts, read at any moment of
    # it (the chat under a console's moved clock, `samtal stats` at the wall clock) the same.
    year_over = year_end(now, zone) + timedelta(seconds=1)
    reports = await uow.insights.reports_in(
        org_ids, min(chart_from, this_year), max(now + timedelta(seconds=1), year_over)
    )
    return Figures(
        org=org,
        now=now,
        members=len(members),
        took_part=participation(members, activity, now - PARTICIPATION_WINDOW, now),
        by_month=participation_by_month(members, activity, now, zone),
        welcome=welcome_figures(flows, now),
        new_members_this_year=await _new_members(uow, org, org_ids, this_year, now),
        guests_joined=guests_who_joined(joined, this_year, now + timedelta(seconds=1)),
        conversations=sum(r.count for r in reports if this_year <= r.reported_at < year_over),
        accumulated=accumulated_by_day(reports, chart_from, now, zone),
        accumulated_from=chart_from,
        study_hours=hours,
        rating=average(ratings),
        ratings=len(ratings),
        goals=goals,
        reach=await uow.register.reach(org_ids),
    )
