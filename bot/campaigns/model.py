"""Campaigns (door knocking, phone calls, workplace visits, square meetings, leafleting) and
their shifts ("pass"): the records and the pure rules.

A campaign is organised as shifts. Members (and guests, where the organiser allows) sign up
for a shift with one button; a full shift puts them on its waitlist, first asked first
promoted. After the shift each participant reports by buttons: conversations had, doors
knocked and the topics people raised. The conversations go to the organisation's figures
as one `bot.insights` conversation report (no double entry). The use cases are in
`bot.campaigns.service`, the chat in `bot.campaigns.entry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.i18n import N_
from bot.insights.model import Activity


class CampaignKind(StrEnum):
    DOOR = "door"  # dörrknackning
    PHONE = "phone"  # telefonsamtal
    WORKPLACE = "workplace"  # arbetsplatsbesök, with a union
    SQUARE = "square"  # torgmöte
    LEAFLETS = "leaflets"  # flygbladsutdelning


KIND_NAMES: dict[CampaignKind, str] = {
    CampaignKind.DOOR: N_("Door knocking"),
    CampaignKind.PHONE: N_("Phone calls"),
    CampaignKind.WORKPLACE: N_("Workplace visits"),
    CampaignKind.SQUARE: N_("Square meeting"),
    CampaignKind.LEAFLETS: N_("Leafleting"),
}

# Where the conversations were had, in the words of `bot.insights.model.PLACES`.
PLACE_OF_KIND: dict[CampaignKind, str] = {
    CampaignKind.DOOR: "door",
    CampaignKind.PHONE: "phone",
    CampaignKind.WORKPLACE: "workplace",
    CampaignKind.SQUARE: "street",
    CampaignKind.LEAFLETS: "street",
}

# The interest (`bot.welcome.model.INTERESTS`) whose holders are asked to fill a shift.
INTEREST_OF_KIND: dict[CampaignKind, str] = {
    CampaignKind.WORKPLACE: "work",
}
DEFAULT_INTEREST = "campaigning"

MAX_TOPICS = 6  # a short list per campaign, from `bot.insights.model.TOPICS`
MAX_CAMPAIGN_DAYS = 62
MAX_SHIFT = timedelta(hours=12)
MAX_CAPACITY = 500
MAX_NOTE = 1000
MAX_COUNT = 500  # conversations or doors in one shift: more is a typo

REMIND_BEFORE = timedelta(days=1)
REMIND_LATE = timedelta(hours=2)  # for a shift planned less than a day ahead
PROMPT_AFTER = timedelta(minutes=15)  # the report prompt, after the shift's end
PROMPT_USEFUL = timedelta(days=2)  # a later prompt is stale: nobody remembers the numbers
SHOWN_AFTER = timedelta(days=7)  # /pass shows a shift this long after it, to report it


@dataclass
class Campaign:
    org_id: int
    name: str
    kind: CampaignKind
    starts_on: date
    ends_on: date
    topics: list[str] = field(default_factory=list)  # keys of `insights.model.TOPICS`
    guests_allowed: bool = True
    union: str | None = None  # a workplace visit's union (free text)
    wheel_item: str | None = None  # the annual wheel's item it was started from
    created_by: int | None = None  # people.id, SET NULL
    created_at: datetime | None = None
    id: int | None = None


@dataclass
class Shift:
    """One "pass": a time, where to meet, the area (or workplace), places and a lead."""

    campaign_id: int
    starts_at: datetime
    ends_at: datetime
    area: str
    meeting_point: str | None = None
    map_link: str | None = None  # https only; shown as a link, never as markup
    capacity: int | None = None
    lead_id: int | None = None  # people.id, SET NULL: the shift outlives its lead
    nudged_at: datetime | None = None  # interested members were asked to fill it (once)
    id: int | None = None


class SignupState(StrEnum):
    SIGNED_UP = "signed_up"
    WAITING = "waiting"


@dataclass
class Signup:
    shift_id: int
    person_id: int
    state: SignupState
    signed_up_at: datetime  # also the place in the waitlist: first asked, first promoted
    id: int | None = None


@dataclass
class ShiftReport:
    """A participant's figures for one shift. The numbers are the organisation's and stay
    when the person is erased (SET NULL); the note, their words, goes with them."""

    shift_id: int
    person_id: int | None
    conversations: int
    doors: int
    reported_at: datetime
    topics: list[str] = field(default_factory=list)
    note: str | None = None
    conversation_report_id: int | None = None  # the insights report it feeds
    id: int | None = None


@dataclass(frozen=True)
class ReportRow:
    """A report with its shift and campaign, for totals and exports."""

    campaign: Campaign
    shift: Shift
    report: ShiftReport


class CampaignRepository(Protocol):
    async def add(self, campaign: Campaign) -> Campaign: ...
    async def get(self, campaign_id: int) -> Campaign | None: ...
    async def current(self, org_ids: Sequence[int], today: date) -> Sequence[Campaign]:
        """Campaigns of these organisations that have not ended, soonest first."""
        ...

    async def of_orgs(self, org_ids: Sequence[int]) -> Sequence[Campaign]: ...
    async def add_shift(self, shift: Shift) -> Shift: ...
    async def shift(self, shift_id: int) -> Shift | None: ...
    async def lock_shift(self, shift_id: int) -> None:
        """Holds the shift until the transaction ends: who counts its places goes one
        at a time (a no-op where units of work take turns anyway)."""
        ...

    async def shifts(self, campaign_id: int) -> Sequence[Shift]: ...
    async def signups(self, shift_id: int) -> Sequence[Signup]:
        """Sign-ups in the order asked (the waitlist order)."""
        ...

    async def add_signup(self, signup: Signup) -> Signup: ...
    async def remove_signup(self, signup: Signup) -> None: ...
    async def signups_of(self, person_id: int) -> Sequence[Signup]: ...
    async def reports(self, shift_id: int) -> Sequence[ShiftReport]: ...
    async def add_report(self, report: ShiftReport) -> ShiftReport: ...
    async def report_rows(self, campaign_ids: Sequence[int]) -> Sequence[ReportRow]: ...
    async def activity_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[Activity]:
        """Who took part in shifts starting in [start, end): those who reported."""
        ...


# --- Capacity and waitlist ---------------------------------------------------------------


def signed_up(signups: Sequence[Signup]) -> list[Signup]:
    return [s for s in signups if s.state is SignupState.SIGNED_UP]


def waitlist(signups: Sequence[Signup]) -> list[Signup]:
    """Those waiting, in the order they asked (by time, then by id)."""
    waiting = [s for s in signups if s.state is SignupState.WAITING]
    return sorted(waiting, key=lambda s: (s.signed_up_at, s.id or 0))


def places_left(capacity: int | None, signups: Sequence[Signup]) -> int | None:
    """Free places, or None when there is no limit."""
    if capacity is None:
        return None
    return max(0, capacity - len(signed_up(signups)))


def state_for(capacity: int | None, signups: Sequence[Signup]) -> SignupState:
    """A new sign-up takes a place if one is free, else it waits."""
    return SignupState.WAITING if places_left(capacity, signups) == 0 else SignupState.SIGNED_UP


def to_promote(capacity: int | None, signups: Sequence[Signup]) -> list[Signup]:
    """The waiting sign-ups that now fit, first asked first."""
    waiting = waitlist(signups)
    left = places_left(capacity, signups)
    return waiting if left is None else waiting[:left]


def waitlist_position(signups: Sequence[Signup], person_id: int) -> int | None:
    for position, signup in enumerate(waitlist(signups), start=1):
        if signup.person_id == person_id:
            return position
    return None


def unfilled(shift: Shift, signups: Sequence[Signup]) -> bool:
    return shift.capacity is not None and places_left(shift.capacity, signups) != 0


# --- Reminders and prompts -------------------------------------------------------------------


def reminder_due(shift: Shift, now: datetime) -> datetime:
    """The day before; for a shift planned later than that, two hours before (or now), so
    those who sign up meanwhile are reminded too."""
    for before in (REMIND_BEFORE, REMIND_LATE):
        if shift.starts_at - before > now:
            return shift.starts_at - before
    return now


def prompt_due(shift: Shift) -> datetime:
    return shift.ends_at + PROMPT_AFTER


# --- Totals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    reports: int
    conversations: int
    doors: int
    by_area: dict[str, tuple[int, int]]  # area: (conversations, doors), in order of first report
    by_topic: dict[str, int]  # topic key: reports naming it, most first
    by_union: dict[str, int]  # union: conversations, most first


def totals(rows: Iterable[ReportRow]) -> Totals:
    """The figures of reports: sums, per area (the workplace, for visits), topic and union."""
    count = conversations = doors = 0
    areas: dict[str, tuple[int, int]] = {}
    topics: dict[str, int] = {}
    unions: dict[str, int] = {}
    for row in rows:
        report = row.report
        count += 1
        conversations += report.conversations
        doors += report.doors
        had = areas.get(row.shift.area, (0, 0))
        areas[row.shift.area] = (had[0] + report.conversations, had[1] + report.doors)
        for topic in report.topics:
            topics[topic] = topics.get(topic, 0) + 1
        if row.campaign.union:
            unions[row.campaign.union] = unions.get(row.campaign.union, 0) + report.conversations
    return Totals(
        count,
        conversations,
        doors,
        areas,
        dict(sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))),
        dict(sorted(unions.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


# --- Reading what organisers type --------------------------------------------------------------


def split_meeting_point(text: str) -> tuple[str | None, str | None]:
    """A meeting point as typed: text, a map link (https), or both ('Torget https://…')."""
    words = text.split()
    links = [w for w in words if w.lower().startswith("https://")]
    link = links[0] if len(links) == 1 else None
    rest = " ".join(w for w in words if w != link).strip()
    return (rest or None), link


def parse_capacity(text: str) -> int | None:
    """A positive number, or nothing for no limit ('-', 'ingen', 'none'). ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in ("-", "nej", "ingen", "inget", "no", "none"):
        return None
    if not (cleaned.isascii() and cleaned.isdigit()) or not 1 <= int(cleaned) <= MAX_CAPACITY:
        raise ValueError(text)
    return int(cleaned)


def parse_count(text: str) -> int:
    """A count of conversations or doors: 0 to MAX_COUNT. ValueError otherwise."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or int(cleaned) > MAX_COUNT:
        raise ValueError(text)
    return int(cleaned)
