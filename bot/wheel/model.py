"""The annual wheel (årshjul): templated activities over the year and the mandate period.

Pure rules, no storage and no clock:

- a *template* is a TOML document (see `bot/wheel/default.toml` for the
  documented format) with `[[activity]]` entries; `bot.wheel.template` reads and
  validates it, with errors that name the activity and the key;
- `when` is an RFC 5545 RRULE or a friendly form (`bot.wheel.when`: "first Monday
  in March", "every Thursday", "week 38", "15 March", and the Swedish "första
  måndagen i mars", "varje torsdag", "vecka 38", "15 mars");
- *inheritance*: the party or a district publishes a template, every
  organisation below inherits it; a lower level's entry with the same key
  overrides the fields it names, `skip` drops an inherited item, and chat
  adjustments (skip one occurrence, move one occurrence) apply on top;
- *expansion*: rules are expanded in the organisation's local time (naive),
  then each occurrence gets the zone and is converted to UTC on its own, so
  18:00 stays 18:00 on both sides of a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.i18n import N_
from bot.wheel.when import When, parse_clock


class TemplateError(ValueError):
    """A template that cannot be used; the text names the activity and the key."""


class ActivityKind(StrEnum):
    THEMED_MEETING = "themed_meeting"
    CAMPAIGN = "campaign"  # campaign week or day
    ARGUMENTATION = "argumentation_training"
    SOCIAL = "social"
    OPEN_HOUSE = "open_house"
    MEMBER_MEETING = "member_meeting"
    ANNUAL_MEETING = "annual_meeting"
    CHAIRS_MEETING = "chairs_meeting"  # ordförandeträff: the chairs of the level below
    STUDY_CIRCLE = "study_circle"
    LECTURE = "lecture"


KIND_NAMES: dict[ActivityKind, str] = {
    ActivityKind.THEMED_MEETING: N_("Themed meeting"),
    ActivityKind.CAMPAIGN: N_("Campaign"),
    ActivityKind.ARGUMENTATION: N_("Argumentation training"),
    ActivityKind.SOCIAL: N_("Social activity"),
    ActivityKind.OPEN_HOUSE: N_("Open house"),
    ActivityKind.MEMBER_MEETING: N_("Member meeting"),
    ActivityKind.ANNUAL_MEETING: N_("Annual meeting"),
    ActivityKind.CHAIRS_MEETING: N_("Chairs' meeting"),
    ActivityKind.STUDY_CIRCLE: N_("Study circle"),
    ActivityKind.LECTURE: N_("Lecture"),
}


# --- the mandate period -----------------------------------------------------------------

FIRST_KNOWN_ELECTION = 2026  # Swedish general elections: every four years from here (and before)
FIRST_KNOWN_CHURCH_ELECTION = 2025  # Church of Sweden elections: 2021, 2025, 2029, ...


def is_election_year(year: int) -> bool:
    return (year - FIRST_KNOWN_ELECTION) % 4 == 0


def is_church_election_year(year: int) -> bool:
    return (year - FIRST_KNOWN_CHURCH_ELECTION) % 4 == 0


def mandate_year(year: int) -> int:
    """1 the year after a general election, ..., 4 the election year itself."""
    return (year - FIRST_KNOWN_ELECTION - 1) % 4 + 1


def election_day(year: int) -> date | None:
    """The general election: the second Sunday of September in an election year."""
    if not is_election_year(year):
        return None
    first = date(year, 9, 1)
    first_sunday = first + timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + timedelta(days=7)


YEAR_WORDS = ("all", "election", "between", "church_election")


@dataclass(frozen=True)
class Years:
    """Which years of the mandate period an activity runs in."""

    word: str = "all"  # all | election | between | church_election
    phases: frozenset[int] = frozenset()  # 1..4 when given as a list

    def match(self, year: int) -> bool:
        if self.phases:
            return mandate_year(year) in self.phases
        if self.word == "election":
            return is_election_year(year)
        if self.word == "between":
            return not is_election_year(year)
        if self.word == "church_election":
            return is_church_election_year(year)
        return True


# --- activities and templates -----------------------------------------------------------

DEFAULT_TIME = time(18, 0)
DEFAULT_DURATION = timedelta(hours=2)
DEFAULT_ANNOUNCE = timedelta(weeks=3)
DEFAULT_REMINDERS = (timedelta(days=1),)
RUN_IN_KINDS = ("party", "district", "branch", "association")


@dataclass(frozen=True)
class Activity:
    key: str
    name: str
    kind: ActivityKind
    when: When
    theme: str = ""
    material: str = ""
    questions: tuple[str, ...] = ()
    years: Years = field(default_factory=Years)
    months: tuple[int, ...] = ()
    at: time = DEFAULT_TIME
    duration: timedelta = DEFAULT_DURATION
    place: str = ""
    reminders: tuple[timedelta, ...] = DEFAULT_REMINDERS
    announce: timedelta | None = None  # None: the template's default
    run_in: tuple[str, ...] = ("branch",)
    except_days: tuple[tuple[int, int], ...] = ()  # (month, day): holidays without it
    sessions: int = 1  # a study circle's weekly meetings, from the date in `when`
    capacity: int | None = None  # a study circle's largest group (None: the usual 12)
    source: str = ""  # the seed document (file and lines) the item is taken from


REQUIRED = ("name", "kind", "when")


@dataclass(frozen=True)
class Template:
    """One organisation's template as written: entries may be partial overrides."""

    name: str
    description: str = ""
    announce: timedelta | None = None
    skip: tuple[str, ...] = ()
    entries: tuple[Mapping[str, Any], ...] = ()  # validated raw fields, by activity, in order

    def keys(self) -> list[str]:
        return [str(entry["key"]) for entry in self.entries]


_ACTIVITY_ATTRS = {"time": "at", "except": "except_days"}


def build_activity(fields_: Mapping[str, Any]) -> Activity:
    """An activity from merged, checked fields (see `parse_template`)."""
    values = {
        _ACTIVITY_ATTRS.get(name, name): value
        for name, value in fields_.items()
        if name not in ("skip",)
    }
    return Activity(**values)


# --- inheritance ------------------------------------------------------------------------


class AdjustmentKind(StrEnum):
    SKIP = "skip"  # the whole item (no date) or one occurrence (with its date)
    MOVE = "move"  # one occurrence to another local date and time
    CHANGE = "change"  # the whole item here: a new place or time ('field' and 'value')


@dataclass
class Adjustment:
    """A local change made in chat by an organiser, on top of the templates."""

    org_id: int
    item_key: str
    action: AdjustmentKind
    series_date: date | None = None  # the occurrence's original local date
    new_start: str | None = None  # local 'YYYY-MM-DDTHH:MM' for a move
    field: str | None = None  # 'place' or 'time' for a change
    value: str | None = None
    created_at: datetime | None = None
    created_by: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class Layer:
    """One organisation's contribution to an effective wheel."""

    org_id: int
    org_slug: str
    template: Template | None
    adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True)
class EffectiveItem:
    activity: Activity
    origin: str  # the slug of the organisation that first defined it
    changed_by: tuple[str, ...] = ()  # slugs below the origin that changed it
    announce: timedelta = DEFAULT_ANNOUNCE
    skipped_dates: frozenset[date] = frozenset()
    moves: Mapping[date, datetime] = field(default_factory=dict)  # series date -> naive local


def effective_wheel(layers: Sequence[Layer], org_kind: str) -> list[EffectiveItem]:
    """The wheel of the last layer's organisation, given its lineage from the top down.

    Items run where their `run_in` names the organisation's kind, or where the
    organisation itself defined them without a `run_in` (a district's template that names
    `run_in = ["branch"]` offers the item to its branches and doesn't run it itself) or
    changed them.
    """
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    changed: dict[str, list[str]] = {}
    skipped_dates: dict[str, set[date]] = {}
    moves: dict[str, dict[date, datetime]] = {}
    announce = DEFAULT_ANNOUNCE
    target = layers[-1].org_slug if layers else ""
    for layer in layers:
        template = layer.template
        if template is not None:
            if template.announce is not None:
                announce = template.announce
            for key in template.skip:
                merged.pop(key, None)
            for entry in template.entries:
                key = str(entry["key"])
                if entry.get("skip"):
                    merged.pop(key, None)
                    continue
                if key in merged:
                    merged[key].update(entry)
                    changed.setdefault(key, []).append(layer.org_slug)
                elif all(name in entry for name in REQUIRED):
                    merged[key] = dict(entry)
                    origin[key] = layer.org_slug
                    changed[key] = []
                    skipped_dates[key] = set()
                    moves[key] = {}
        for adjustment in layer.adjustments:
            key = adjustment.item_key
            if key not in merged:
                continue
            if adjustment.action is AdjustmentKind.SKIP and adjustment.series_date is None:
                merged.pop(key)
            elif adjustment.action is AdjustmentKind.SKIP and adjustment.series_date:
                skipped_dates[key].add(adjustment.series_date)
                moves[key].pop(adjustment.series_date, None)
            elif adjustment.action is AdjustmentKind.CHANGE and adjustment.field:
                merged[key][adjustment.field] = (
                    parse_clock(adjustment.value or "")
                    if adjustment.field == "time"
                    else adjustment.value or ""
                )
            elif adjustment.action is AdjustmentKind.MOVE and adjustment.series_date:
                assert adjustment.new_start is not None
                moves[key][adjustment.series_date] = datetime.fromisoformat(adjustment.new_start)
                skipped_dates[key].discard(adjustment.series_date)
            if (
                key in merged
                and layer.org_slug not in changed[key]
                and layer.org_slug != origin[key]
            ):
                changed[key].append(layer.org_slug)
    items = []
    for key, values in merged.items():
        activity = build_activity(values)
        own = origin[key] == target and "run_in" not in values
        local = own or target in changed[key]
        if org_kind not in activity.run_in and not local:
            continue
        items.append(
            EffectiveItem(
                activity=activity,
                origin=origin[key],
                changed_by=tuple(changed[key]),
                announce=activity.announce or announce,
                skipped_dates=frozenset(skipped_dates[key]),
                moves=dict(moves[key]),
            )
        )
    return items


# --- occurrences ------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    item: EffectiveItem
    series_date: date  # the original local date: the occurrence's identity in its series
    start: datetime  # aware UTC
    end: datetime
    moved: bool = False

    @property
    def key(self) -> str:
        return self.item.activity.key


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware UTC instant (each one on its own side of DST)."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def series_dates(activity: Activity, year: int) -> list[datetime]:
    """The naive local start times of an activity's series in one year, before adjustments."""
    if not activity.years.match(year):
        return []
    starts = activity.when.dates(year, activity.at)
    if activity.months:
        starts = [s for s in starts if s.month in activity.months]
    if activity.except_days:
        starts = [s for s in starts if (s.month, s.day) not in activity.except_days]
    return starts


def expand(
    items: Iterable[EffectiveItem], start: datetime, end: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    """Every occurrence starting in [start, end) (aware instants), in time order."""
    first_year = start.astimezone(zone).year - 1
    last_year = end.astimezone(zone).year
    found: list[Occurrence] = []
    for item in items:
        for year in range(first_year, last_year + 1):
            for naive in series_dates(item.activity, year):
                series = naive.date()
                if series in item.skipped_dates:
                    continue
                moved_to = item.moves.get(series)
                begins = localize(moved_to or naive, zone)
                if start <= begins < end:
                    found.append(
                        Occurrence(
                            item,
                            series,
                            begins,
                            begins + item.activity.duration,
                            moved=moved_to is not None,
                        )
                    )
    found.sort(key=lambda o: (o.start, o.key))
    return found


def local_before(instant: datetime, delta: timedelta, zone: ZoneInfo) -> datetime:
    """`delta` before `instant` on the wall clock: three weeks before 18:00 is 18:00, DST or not."""
    naive = instant.astimezone(zone).replace(tzinfo=None) - delta
    return localize(naive, zone)


def year_bounds(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return localize(datetime(year, 1, 1), zone), localize(datetime(year + 1, 1, 1), zone)


def find_series_date(item: EffectiveItem, local_day: date) -> date | None:
    """The series date of the occurrence on `local_day` (original or moved there)."""
    for series, moved in item.moves.items():
        if moved.date() == local_day:
            return series
    for naive in series_dates(item.activity, local_day.year):
        if naive.date() == local_day:
            return local_day
    return None


def with_overrides(activity: Activity, **changes: Any) -> Activity:
    return replace(activity, **changes)


# --- what happens: concrete events and answers --------------------------------------------


class WheelState(StrEnum):
    OFF = "off"  # the default: the wheel is inherited but produces nothing here
    RUNNING = "running"
    PAUSED = "paused"


@dataclass
class WheelTemplateRecord:
    """A template as published by one organisation (its TOML source)."""

    org_id: int
    source: str
    name: str
    imported_at: datetime
    imported_by: int | None = None
    id: int | None = None


@dataclass
class WheelSettings:
    org_id: int
    state: WheelState = WheelState.OFF
    generation: int = 0  # raised on every start, so timers of an earlier run do nothing
    updated_at: datetime | None = None
    id: int | None = None


@dataclass
class WheelEvent:
    """One occurrence that has been announced: what RSVPs and reminders hang off."""

    org_id: int
    item_key: str
    series_date: date
    name: str
    kind: str
    start_at: datetime
    end_at: datetime
    place: str = ""
    theme: str = ""
    announced_at: datetime | None = None
    cancelled: bool = False
    linked: str | None = None  # 'meeting:12' / 'circle:3' when another capability holds it
    id: int | None = None


class Answer(StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


@dataclass
class WheelRsvp:
    event_id: int
    person_id: int
    answer: Answer
    answered_at: datetime


class WheelRepository(Protocol):
    async def template_of(self, org_id: int) -> WheelTemplateRecord | None: ...
    async def save_template(self, record: WheelTemplateRecord) -> None: ...
    async def adjustments_of(self, org_id: int) -> Sequence[Adjustment]: ...
    async def add_adjustment(self, adjustment: Adjustment) -> None:
        """Adds it, replacing an earlier one for the same item, date and action."""
        ...

    async def settings_of(self, org_id: int) -> WheelSettings: ...
    async def save_settings(self, settings: WheelSettings) -> None: ...
    async def event(self, event_id: int) -> WheelEvent | None: ...
    async def event_for(
        self, org_id: int, item_key: str, series_date: date
    ) -> WheelEvent | None: ...
    async def add_event(self, event: WheelEvent) -> WheelEvent: ...
    async def events_of(
        self, org_id: int, start: datetime, end: datetime
    ) -> Sequence[WheelEvent]: ...
    async def answer(self, rsvp: WheelRsvp) -> None: ...
    async def answers(self, event_id: int) -> Sequence[WheelRsvp]: ...
