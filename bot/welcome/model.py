"""The new-member welcome flow (den digitala introduktionen): records, the plan and the figures.

Every new member is personally contacted by a member officer (medlemsansvarig),
gets the digital introduction within one month, and is offered member
education within six months. The steps and their days are a plan each
organisation can change (`bot/welcome/plan.toml` is the default); the pure
rules here turn a plan into due times and the flows into the party's figures.
"""

from __future__ import annotations

import re
import statistics
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.i18n import N_


class FlowStatus(StrEnum):
    PENDING = "pending"  # said they have just joined; a member officer has not confirmed yet
    DECLINED = "declined"  # the member officer could not confirm the membership
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"  # the member asked for no more introduction messages
    COMPLETED = "completed"  # every step of the plan has been sent


class StepKind(StrEnum):
    """The steps of the introduction; their values are the stable keys in plans and timers."""

    WELCOME = "welcome"
    INTERESTS = "interests"
    ASSOCIATION = "association"
    MEETING = "meeting"
    EDUCATION = "education"
    CHECKIN = "checkin"


INTERESTS: dict[str, str] = {
    "school": N_("School"),
    "care": N_("Care"),
    "climate": N_("Climate"),
    "work": N_("Work and unions"),
    "international": N_("International"),
    "campaigning": N_("Campaigning"),
    "writing": N_("Writing"),
    "social_media": N_("Social media"),
    "organising": N_("Organising"),
}

WAYS: dict[str, str] = {
    "meetings": N_("At meetings and evenings"),
    "online": N_("Online, from home"),
    "voters": N_("Talking with voters"),
    "task": N_("With a task of my own"),
    "studies": N_("In study circles"),
}

CHECKIN_DONE: dict[str, str] = {
    "meeting": N_("Came to a meeting"),
    "contact": N_("Talked with my contact"),
    "circle": N_("Signed up for a study circle"),
    "campaign": N_("Campaigned or talked with voters"),
    "nothing": N_("Nothing yet"),
}

# "Within one month" and "within six months", as the party's figures count them.
INTRODUCTION_WINDOW = timedelta(days=31)
EDUCATION_WINDOW = timedelta(days=183)


@dataclass
class WelcomeFlow:
    person_id: int | None  # None once the member is erased: the dates still count in the figures
    org_id: int  # the branch (arbetarekommun) that welcomes them
    status: FlowStatus
    created_at: datetime
    association_id: int | None = None
    officer_id: int | None = None  # the member officer and contact person
    registered_by: int | None = None
    started_at: datetime | None = None  # when the membership was confirmed and the flow began
    paused_at: datetime | None = None
    paused_seconds: int = 0  # time spent paused so far: later steps move by it
    stopped_at: datetime | None = None
    completed_at: datetime | None = None
    steps_done: list[str] = field(default_factory=list)
    contacted_at: datetime | None = None
    contacted_by: int | None = None
    interests: list[str] = field(default_factory=list)
    ways: list[str] = field(default_factory=list)
    interests_answered_at: datetime | None = None
    tasks_consent: bool | None = None  # may organisers contact them about tasks and roles?
    tasks_consent_at: datetime | None = None
    meeting_invited_at: datetime | None = None
    education_offered_at: datetime | None = None
    education_wanted_at: datetime | None = None
    checkin_done: list[str] = field(default_factory=list)
    checkin_wish: str | None = None
    checkin_answered_at: datetime | None = None
    person_created_at: datetime | None = None  # kept at erasure for "guests who became members"
    id: int | None = None

    @property
    def running(self) -> bool:
        return self.status in (FlowStatus.ACTIVE, FlowStatus.PAUSED)


@dataclass
class WelcomePlanText:
    """An organisation's own plan, as the TOML it imported (validated on the way in)."""

    org_id: int
    text: str
    updated_at: datetime


@dataclass
class GuestInvitation:
    """A guest was invited to become a member: once, ever."""

    person_id: int
    invited_at: datetime
    id: int | None = None


class WelcomeRepository(Protocol):
    async def add(self, flow: WelcomeFlow) -> WelcomeFlow: ...
    async def get(self, flow_id: int) -> WelcomeFlow | None: ...
    async def of_person(self, person_id: int) -> WelcomeFlow | None: ...
    async def in_orgs(self, org_ids: Sequence[int]) -> Sequence[WelcomeFlow]:
        """The flows of these organisations, newest first."""
        ...

    async def last_officer(self, org_id: int) -> int | None:
        """The member officer given the organisation's most recent new member."""
        ...

    async def plan_text(self, org_id: int) -> WelcomePlanText | None: ...
    async def save_plan_text(self, plan: WelcomePlanText) -> None: ...
    async def guest_invited(self, person_id: int) -> bool: ...
    async def add_guest_invitation(self, invitation: GuestInvitation) -> None: ...
    async def scrub_finished(self, before: datetime) -> int:
        """Removes the free-text and answer details of flows that ended before the instant.

        The dates stay (they are the figures); interests stay only for people who
        agreed to be asked about tasks.
        """
        ...


# --- the plan -------------------------------------------------------------------------------


class WelcomePlanError(ValueError):
    """A plan file that can't be used; the text names the key and what was expected."""


@dataclass(frozen=True)
class PlanStep:
    kind: StepKind
    day: int
    at: time | None = None  # local time; None: the same time of day as they joined
    note: str = ""


@dataclass(frozen=True)
class WelcomePlan:
    steps: tuple[PlanStep, ...]
    reminder_after_days: int = 7
    escalate_after_days: int = 14
    invite_after_activities: int = 3
    confirm_reminder_days: int = 3

    def step(self, kind: StepKind) -> PlanStep | None:
        return next((s for s in self.steps if s.kind is kind), None)


MAX_DAY = 90
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_plan(text: str, where: str = "plan") -> WelcomePlan:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WelcomePlanError(f"{where}: not valid TOML: {exc}") from exc
    return plan_from_dict(raw, where)


def plan_from_dict(raw: dict[str, Any], where: str = "plan") -> WelcomePlan:
    _known(raw, ("contact", "guests", "steps"), where, "")
    contact = _table(raw, "contact", where)
    _known(
        contact,
        ("reminder_after_days", "escalate_after_days", "confirm_reminder_days"),
        where,
        "contact.",
    )
    guests = _table(raw, "guests", where)
    _known(guests, ("invite_after_activities",), where, "guests.")
    reminder = _whole(contact, "reminder_after_days", 7, 1, MAX_DAY, where, "contact.")
    escalate = _whole(contact, "escalate_after_days", 14, 1, MAX_DAY, where, "contact.")
    if escalate <= reminder:
        raise WelcomePlanError(
            f"{where}: contact.escalate_after_days ({escalate}) must be later than "
            f"contact.reminder_after_days ({reminder})"
        )
    confirm = _whole(contact, "confirm_reminder_days", 3, 1, MAX_DAY, where, "contact.")
    invite_after = _whole(guests, "invite_after_activities", 3, 1, 100, where, "guests.")
    steps_raw = _table(raw, "steps", where)
    _known(steps_raw, [k.value for k in StepKind], where, "steps.")
    steps: list[PlanStep] = []
    for kind in StepKind:
        if kind.value not in steps_raw:
            continue
        prefix = f"steps.{kind.value}."
        value = steps_raw[kind.value]
        if not isinstance(value, dict):
            raise WelcomePlanError(f"{where}: [steps.{kind.value}] must be a table of keys")
        _known(value, ("day", "at", "enabled", "note"), where, prefix)
        enabled = value.get("enabled", True)
        if not isinstance(enabled, bool):
            raise WelcomePlanError(f"{where}: {prefix}enabled: expected true or false")
        if "day" not in value:
            raise WelcomePlanError(f"{where}: {prefix}day is missing")
        day = _whole(value, "day", 0, 0, MAX_DAY, where, prefix)
        at = value.get("at")
        if at is not None and (not isinstance(at, str) or not _TIME.match(at)):
            raise WelcomePlanError(f'{where}: {prefix}at: expected a time like "10:00", got {at!r}')
        note = value.get("note", "")
        if not isinstance(note, str) or len(note) > 500:
            raise WelcomePlanError(
                f"{where}: {prefix}note: expected text of at most 500 characters"
            )
        if enabled:
            parsed_at = time(int(at[:2]), int(at[3:])) if at else None
            steps.append(PlanStep(kind, day, parsed_at, note.strip()))
    if not any(s.kind is StepKind.WELCOME for s in steps):
        raise WelcomePlanError(f"{where}: steps.welcome is needed: it names the contact person")
    return WelcomePlan(tuple(steps), reminder, escalate, invite_after, confirm)


def _known(raw: dict[str, Any], known: Sequence[str], where: str, prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise WelcomePlanError(
                f"{where}: unknown key {prefix}{key}; known keys here: {', '.join(known)}"
            )


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise WelcomePlanError(f"{where}: [{key}] must be a table of keys, got {value!r}")
    return value


def _whole(
    raw: dict[str, Any], key: str, default: int, low: int, high: int, where: str, prefix: str
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WelcomePlanError(
            f"{where}: {prefix}{key}: expected a whole number from {low} to {high}, got {value!r}"
        )
    return value


def default_plan_text() -> str:
    return resources.files("bot.welcome").joinpath("plan.toml").read_text(encoding="utf-8")


def default_plan() -> WelcomePlan:
    return parse_plan(default_plan_text(), "bot/welcome/plan.toml")


def step_due(step: PlanStep, started_at: datetime, zone: ZoneInfo) -> datetime:
    """When a step falls due for someone who joined at `started_at` (never before it)."""
    if step.at is None:
        return started_at + timedelta(days=step.day)
    local_day = (started_at.astimezone(zone) + timedelta(days=step.day)).date()
    due = datetime.combine(local_day, step.at, tzinfo=zone)
    return max(due, started_at)


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    count: int
    of: int

    @property
    def ratio(self) -> float | None:
        return self.count / self.of if self.of else None


@dataclass(frozen=True)
class WelcomeFigures:
    contacted: Share
    median_days_to_contact: float | None
    introduced_within_month: Share
    education_offered_within_six_months: Share


def _started(flows: Sequence[WelcomeFlow]) -> list[tuple[WelcomeFlow, datetime]]:
    return [(f, f.started_at) for f in flows if f.started_at is not None]


def contact_figures(flows: Sequence[WelcomeFlow]) -> tuple[Share, float | None]:
    """The share of new members personally contacted, and the median days it took."""
    started = _started(flows)
    days = [
        (f.contacted_at - start).total_seconds() / 86400
        for f, start in started
        if f.contacted_at is not None
    ]
    return Share(len(days), len(started)), (statistics.median(days) if days else None)


def _done_within(
    flows: Sequence[WelcomeFlow],
    now: datetime,
    window: timedelta,
    done_at: Callable[[WelcomeFlow], datetime | None],
) -> Share:
    """Of those who joined at least `window` ago, how many had it done within the window."""
    matured = [(f, s) for f, s in _started(flows) if s + window <= now]
    done = [f for f, s in matured if (at := done_at(f)) is not None and at - s <= window]
    return Share(len(done), len(matured))


def introduced_within(flows: Sequence[WelcomeFlow], now: datetime) -> Share:
    """Of those who joined at least a month ago, how many completed the introduction in time."""
    return _done_within(flows, now, INTRODUCTION_WINDOW, lambda f: f.completed_at)


def education_offered_within(flows: Sequence[WelcomeFlow], now: datetime) -> Share:
    """Of those who joined at least six months ago, how many were offered member education in time."""
    return _done_within(flows, now, EDUCATION_WINDOW, lambda f: f.education_offered_at)


def welcome_figures(flows: Sequence[WelcomeFlow], now: datetime) -> WelcomeFigures:
    contacted, median = contact_figures(flows)
    return WelcomeFigures(
        contacted=contacted,
        median_days_to_contact=median,
        introduced_within_month=introduced_within(flows, now),
        education_offered_within_six_months=education_offered_within(flows, now),
    )
