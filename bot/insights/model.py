"""Organiser insights: voter conversations, goals and their arrows, and the party's figures.

The seeds set three measurable goals (more members, more conversations with
voters, more members taking part in local activity, measured as the share who
took part in the last 30 days) and follow every goal with an arrow: on track,
at risk, off track. The pure rules live here; the handler gathers the data.

Definitions (the figures an organiser sees):

- *Members*: people with status member affiliated with the organisation or any
  organisation below it (a district adds up its branches; a person in several
  counts once).
- *Took part in the last 30 days*: a member marked present at a meeting of
  those organisations, or at a study-circle session of their circles, or who
  reported a campaign shift of their campaigns, that started in the 30 days
  before now. By month: the same for a calendar month,
  out of the members who had joined (first affiliation) by the month's end.
- *Guests who became members*: new members whose membership started this year
  (the welcome flow was confirmed) and who had been here as guests first: their
  account existed at least one day before they told us they had joined. People
  who join through the member link on their first day are new members, not
  converted guests.
- *Study hours*: the sessions held this year (at least one person marked
  present) in 45-minute study hours, per session as the study association
  counts them (not per participant).
- *Average meeting rating*: the mean of every rating given to the
  organisations' meetings that started this year.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.circles.model import study_hours
from bot.i18n import N_
from bot.welcome.model import Share

PARTICIPATION_WINDOW = timedelta(days=30)
MAX_REPORTED = 500  # conversations in one report: more is a typo
GUEST_BEFORE_JOINING = timedelta(days=1)

PLACES: dict[str, str] = {
    "door": N_("Door knocking"),
    "workplace": N_("Workplace"),
    "phone": N_("Phone"),
    "street": N_("Street or square"),
    "other": N_("Somewhere else"),
}

TOPICS: dict[str, str] = {
    "jobs": N_("Jobs"),
    "care": N_("Health care"),
    "school": N_("School"),
    "safety": N_("Safety"),
    "housing": N_("Housing"),
    "economy": N_("Cost of living"),
    "climate": N_("Climate"),
    "elderly": N_("Elderly care"),
}


@dataclass
class ConversationReport:
    """A member's voter conversations, reported after door knocking or a workplace visit.

    The count is the organisation's figure: it stays when the person is erased
    (`person_id` SET NULL).
    """

    org_id: int
    person_id: int | None
    count: int
    reported_at: datetime
    place: str | None = None
    topics: list[str] = field(default_factory=list)
    id: int | None = None


class GoalKind(StrEnum):
    MEMBERS = "members"  # a level: members at the deadline
    NEW_MEMBERS = "new_members"  # counted: new members from the start to the deadline
    CONVERSATIONS = "conversations"  # counted: voter conversations from the start to the deadline
    PARTICIPATION = "participation"  # a level: % of members who took part in the last 30 days

    @property
    def cumulative(self) -> bool:
        return self in (GoalKind.NEW_MEMBERS, GoalKind.CONVERSATIONS)


@dataclass
class Goal:
    """One goal of one organisation; setting the same kind again replaces it."""

    org_id: int
    kind: GoalKind
    target: int
    starts_at: datetime  # counted goals count from here
    deadline: datetime
    baseline: float  # the value when the goal was set: level goals measure their pace from it
    set_at: datetime
    set_by: int | None = None  # people.id, SET NULL
    id: int | None = None


class Arrow(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


ARROW_SYMBOLS: dict[Arrow, str] = {Arrow.ON_TRACK: "↗", Arrow.AT_RISK: "→", Arrow.OFF_TRACK: "↘"}

ON_TRACK_AT = 1.0
AT_RISK_AT = 0.85


@dataclass(frozen=True)
class Progress:
    current: float
    projected: float
    arrow: Arrow


def progress(goal: Goal, current: float, now: datetime) -> Progress:
    """The arrow of a goal: the current pace projected linearly to the deadline.

    - Counted goals (conversations, new members) start from 0 at `starts_at`;
      the pace is what was done since then per day, and the projection is
      `current × (deadline − start) / (now − start)`.
    - Level goals (members, participation) start from `baseline`, the value when
      the goal was set; the pace is `(current − baseline) / (now − set_at)` per
      day, and the projection is `current + pace × (deadline − now)`.
    - Until a day has passed there is no pace yet: the projection is the
      current value. After the deadline it is the value reached. A share
      (participation) is projected at most to 100 %.

    The arrow compares the projected progress with the progress needed,
    `(projected − start) / (target − start)`: on track at 100 % or more, at risk
    at 85 % or more, off track below. A goal whose target is at or below its
    start value is on track while the projection stays at or above the target.
    """
    start_value = 0.0 if goal.kind.cumulative else goal.baseline
    since = goal.starts_at if goal.kind.cumulative else goal.set_at
    elapsed = (min(now, goal.deadline) - since).total_seconds()
    remaining = max((goal.deadline - now).total_seconds(), 0.0)
    if elapsed < 86400 or remaining == 0:
        projected = current
    else:
        pace = (current - start_value) / elapsed
        projected = current + pace * remaining
    if goal.kind is GoalKind.PARTICIPATION:
        projected = min(projected, 100.0)  # a share can't pass 100 %
    return Progress(current, projected, arrow(start_value, goal.target, projected))


def arrow(start_value: float, target: float, projected: float) -> Arrow:
    needed = target - start_value
    if needed <= 0:
        return Arrow.ON_TRACK if projected >= target else Arrow.OFF_TRACK
    ratio = (projected - start_value) / needed
    if ratio >= ON_TRACK_AT:
        return Arrow.ON_TRACK
    if ratio >= AT_RISK_AT:
        return Arrow.AT_RISK
    return Arrow.OFF_TRACK


def year_start(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime(now.astimezone(zone).year, 1, 1, tzinfo=zone)


def year_end(now: datetime, zone: ZoneInfo) -> datetime:
    """The last moment of the year: 31 December 23:59:59 local time."""
    return datetime(now.astimezone(zone).year + 1, 1, 1, tzinfo=zone) - timedelta(seconds=1)


def goal_period(now: datetime, deadline: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A goal set now with this deadline (a day): counted from 1 January of the deadline's year,
    or from now when that year has not begun; due at the end of the deadline day."""
    end = datetime.combine(deadline, datetime.max.time(), tzinfo=zone).replace(microsecond=0)
    start = datetime(deadline.year, 1, 1, tzinfo=zone)
    return (start if start <= now else now), end


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """Someone present at a meeting or a circle session (None: an erased person)."""

    person_id: int | None
    at: datetime


def participation(
    members: Collection[int], activity: Iterable[Activity], start: datetime, end: datetime
) -> Share:
    """Members who took part in [start, end), out of all of them."""
    present = {a.person_id for a in activity if start <= a.at < end and a.person_id is not None}
    return Share(len(present & set(members)), len(members))


def month_starts(now: datetime, zone: ZoneInfo, months: int) -> list[datetime]:
    """The first moments of the last `months` calendar months, the current one last."""
    local = now.astimezone(zone)
    year, month = local.year, local.month
    starts: list[datetime] = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=zone))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def next_month(start: datetime) -> datetime:
    zone = start.tzinfo
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)
    return datetime(year, month, 1, tzinfo=zone)


def participation_by_month(
    joined: dict[int, datetime],
    activity: Sequence[Activity],
    now: datetime,
    zone: ZoneInfo,
    months: int = 12,
) -> list[tuple[datetime, Share]]:
    """Each month's share of members who took part, out of those who had joined by its end.

    `joined` maps each current member to when they first joined an organisation
    in scope; the current month counts up to now.
    """
    result: list[tuple[datetime, Share]] = []
    for start in month_starts(now, zone, months):
        end = min(next_month(start), now)
        members = [p for p, since in joined.items() if since < end]
        result.append((start, participation(members, activity, start, end)))
    return result


@dataclass(frozen=True)
class HeldSession:
    session_id: int
    starts_at: datetime
    minutes: int


def study_hours_held(sessions: Iterable[HeldSession], start: datetime, end: datetime) -> float:
    """Study hours (45 minutes) of the sessions held in [start, end), each session once."""
    seen: dict[int, int] = {}
    for session in sessions:
        if start <= session.starts_at < end:
            seen[session.session_id] = session.minutes
    return study_hours(sum(seen.values()))


def average(ratings: Sequence[int]) -> float | None:
    return sum(ratings) / len(ratings) if ratings else None


def guests_who_joined(
    new_members: Iterable[tuple[datetime, datetime, datetime | None]],
    start: datetime,
    end: datetime,
) -> int:
    """New members whose membership started in [start, end) and who were guests here first.

    Each item is (the flow created, the membership started, the account created):
    a guest is someone whose account existed at least a day before they said
    they had joined.
    """
    return sum(
        1
        for flow_created, started, account_created in new_members
        if start <= started < end
        and account_created is not None
        and account_created <= flow_created - GUEST_BEFORE_JOINING
    )


def accumulated_by_day(
    reports: Iterable[ConversationReport], start: datetime, now: datetime, zone: ZoneInfo
) -> list[tuple[date, int]]:
    """The running total of conversations per local day from `start` up to today."""
    per_day: dict[date, int] = {}
    for report in reports:
        if start <= report.reported_at <= now:
            key = report.reported_at.astimezone(zone).date()
            per_day[key] = per_day.get(key, 0) + report.count
    first = start.astimezone(zone).date()
    last = now.astimezone(zone).date()
    total = 0
    result: list[tuple[date, int]] = []
    current = first
    while current <= last:
        total += per_day.get(current, 0)
        result.append((current, total))
        current += timedelta(days=1)
    return result


class InsightsRepository(Protocol):
    async def add_report(self, report: ConversationReport) -> ConversationReport: ...
    async def report(self, report_id: int) -> ConversationReport | None: ...
    async def reports_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[ConversationReport]:
        """Reports of these organisations made in [start, end), oldest first."""
        ...

    async def goals_of(self, org_id: int) -> Sequence[Goal]: ...
    async def save_goal(self, goal: Goal) -> Goal:
        """Stores the goal, replacing the organisation's goal of the same kind."""
        ...

    async def members_in(self, org_ids: Sequence[int]) -> dict[int, datetime]:
        """Members affiliated with these organisations, and when they first joined one of them."""
        ...

    async def circle_activity(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[tuple[HeldSession, Activity]]:
        """Everyone marked present at sessions of these organisations' circles in [start, end)."""
        ...
