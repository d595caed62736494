"""The annual wheel (årshjul): templated activities over the year and the mandate period.

Pure rules, no storage and no clock:

- a *template* is a TOML document (see `bot/wheel/default.toml` for the
  documented format) with `[[activity]]` entries; `parse_template` validates
  it with errors that name the activity and the key;
- `when` is an RFC 5545 RRULE or a friendly form ("first Monday in March",
  "every Thursday", "week 38", "15 March", and the Swedish "första måndagen i
  mars", "varje torsdag", "vecka 38", "15 mars");
- *inheritance*: the party or a district publishes a template, every
  organisation below inherits it; a lower level's entry with the same key
  overrides the fields it names, `skip` drops an inherited item, and chat
  adjustments (skip one occurrence, move one occurrence) apply on top;
- *expansion*: rules are expanded in the organisation's local time (naive),
  then each occurrence gets the zone and is converted to UTC on its own, so
  18:00 stays 18:00 on both sides of a daylight-saving change.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dateutil.rrule import (
    FR,
    MO,
    MONTHLY,
    SA,
    SU,
    TH,
    TU,
    WE,
    WEEKLY,
    YEARLY,
    rrule,
    rrulestr,
    weekday,
)

from bot.i18n import N_
from bot.timeread import MONTHS, TimeReadError, read_clock, read_duration
from bot.timeread import WEEKDAYS as SHARED_WEEKDAYS


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


# --- "when" -----------------------------------------------------------------------------

# The shared tables (bot.timeread), with dateutil's weekdays for the recurrence rules.
WEEKDAYS: dict[str, weekday] = {
    name: (MO, TU, WE, TH, FR, SA, SU)[number] for name, number in SHARED_WEEKDAYS.items()
}

ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "last": -1,
    "första": 1,
    "andra": 2,
    "tredje": 3,
    "fjärde": 4,
    "sista": -1,
}

_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
_MONTH_LIST = rf"(?P<months>(?:{_MO})(?:\s*(?:,|and|och)\s*(?:{_MO}))*)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"^{pattern}$"))
    for name, pattern in (
        ("weekly", rf"(?:every|each|varje|alla) (?P<wd>{_WD})"),
        (
            "monthly",
            rf"(?:the )?(?P<ord>{_ORD}) (?P<wd>{_WD}) (?:of|in|i) "
            r"(?:every month|each month|the month|varje månad|månaden)",
        ),
        ("yearly", rf"(?:the )?(?P<ord>{_ORD}) (?P<wd>{_WD}) (?:of|in|i) {_MONTH_LIST}"),
        ("week", r"(?:week|vecka) (?P<week>\d{1,2})"),
        ("week_day", rf"(?:on )?(?P<wd>{_WD}) (?:(?:of|in|i) )?(?:week|vecka) (?P<week>\d{{1,2}})"),
        ("date", rf"(?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th|:?e|:?a)? (?:of )?(?P<month>{_MO})"),
        ("date_us", rf"(?P<month>{_MO}) (?P<day>\d{{1,2}})(?:st|nd|rd|th)?"),
    )
)

WHEN_EXAMPLES = (
    '"every Thursday", "first Monday in March", "last Friday of every month", "week 38", '
    '"Tuesday week 38", "15 March", or an RRULE such as "FREQ=MONTHLY;BYDAY=-1FR" '
    '(in Swedish: "varje torsdag", "första måndagen i mars", "vecka 38", "15 mars")'
)


@dataclass(frozen=True)
class When:
    """A parsed `when`: a recurrence rule applied within each calendar year."""

    text: str
    freq: int
    byweekday: tuple[weekday, ...] | None = None
    bymonth: tuple[int, ...] | None = None
    bymonthday: int | None = None
    byweekno: int | None = None
    rrule_text: str | None = None  # the RRULE as written, when given as one

    def dates(self, year: int, at: time) -> list[datetime]:
        """Naive local start times in `year` (the rule restarts each 1 January)."""
        start = datetime.combine(date(year, 1, 1), at)
        until = datetime.combine(date(year, 12, 31), time(23, 59))
        if self.rrule_text is not None:
            rule = rrulestr(self.rrule_text, dtstart=start, ignoretz=True)
            assert isinstance(rule, rrule)
            return [d for d in rule.between(start, until, inc=True)]
        rule = rrule(
            self.freq,
            dtstart=start,
            until=until,
            byweekday=self.byweekday,
            bymonth=self.bymonth,
            bymonthday=self.bymonthday,
            byweekno=self.byweekno,
        )
        return list(rule)

    def ical_rule(self, months: Sequence[int] = ()) -> str:
        """The RRULE value for an iCalendar export (no DTSTART)."""
        if self.rrule_text is not None:
            return self.rrule_text.removeprefix("RRULE:")
        parts = [f"FREQ={_FREQ_NAMES[self.freq]}"]
        bymonth = self.bymonth or (tuple(months) if months else None)
        if bymonth:
            parts.append("BYMONTH=" + ",".join(str(m) for m in bymonth))
        if self.byweekno is not None:
            parts.append(f"BYWEEKNO={self.byweekno}")
        if self.bymonthday is not None:
            parts.append(f"BYMONTHDAY={self.bymonthday}")
        if self.byweekday:
            parts.append("BYDAY=" + ",".join(_ical_day(d) for d in self.byweekday))
        return ";".join(parts)


_FREQ_NAMES = {YEARLY: "YEARLY", MONTHLY: "MONTHLY", WEEKLY: "WEEKLY"}
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _ical_day(day: weekday) -> str:
    return f"{day.n or ''}{_ICAL_DAYS[day.weekday]}"


def parse_when(text: str) -> When:
    """Reads a `when`; raises ValueError with examples when it can't."""
    raw = " ".join(text.strip().split())
    if "FREQ=" in raw.upper():
        rule_text = raw if raw.upper().startswith("RRULE:") else f"RRULE:{raw}"
        if "DTSTART" in rule_text.upper():
            raise ValueError("an RRULE here has no DTSTART: the time comes from 'time'")
        try:
            rrulestr(rule_text, dtstart=datetime(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a valid RRULE ({exc})") from None
        return When(raw, YEARLY, rrule_text=rule_text.upper())
    folded = raw.lower().removeprefix("on ").removeprefix("på ")
    for name, pattern in _PATTERNS:
        match = pattern.match(folded)
        if match is None:
            continue
        groups = match.groupdict()
        if name == "weekly":
            return When(raw, WEEKLY, byweekday=(WEEKDAYS[groups["wd"]],))
        if name == "monthly":
            day = WEEKDAYS[groups["wd"]](ORDINALS[groups["ord"]])
            return When(raw, MONTHLY, byweekday=(day,))
        if name == "yearly":
            months = tuple(
                MONTHS[m] for m in re.split(r"\s*(?:,|\band\b|\boch\b)\s*", groups["months"]) if m
            )
            day = WEEKDAYS[groups["wd"]](ORDINALS[groups["ord"]])
            return When(raw, YEARLY, byweekday=(day,), bymonth=months)
        if name in ("week", "week_day"):
            week = int(groups["week"])
            if not 1 <= week <= 53:
                raise ValueError(f"there is no week {week}")
            wd = WEEKDAYS[groups["wd"]] if groups.get("wd") else MO
            return When(raw, YEARLY, byweekday=(wd,), byweekno=week)
        month, day_of_month = MONTHS[groups["month"]], int(groups["day"])
        try:
            date(2024, month, day_of_month)
        except ValueError:
            raise ValueError(f"there is no {raw}") from None
        return When(raw, YEARLY, bymonth=(month,), bymonthday=day_of_month)
    raise ValueError(f"I can't read {raw!r}; write it like {WHEN_EXAMPLES}")


def parse_duration(text: str) -> timedelta:
    """'3w', '2d', '1h30m', '90m' (weeks, days, hours, minutes), or as `bot.timeread` reads them."""
    try:
        return read_duration(text)
    except TimeReadError:
        raise ValueError(
            f"expected a duration such as '2h', '90m', '1d' or '3w', got {text!r}"
        ) from None


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (7 * 24 * 60) == 0:
        return f"{minutes // (7 * 24 * 60)}w"
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def parse_clock(text: str) -> time:
    """'18:00', '18.30', 'kl 18' (the time reader's clock)."""
    try:
        return read_clock(text)
    except TimeReadError:
        raise ValueError(f"expected a time such as '18:00', got {text!r}") from None


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


FIELDS = {
    "key",
    "name",
    "kind",
    "when",
    "theme",
    "material",
    "questions",
    "years",
    "months",
    "time",
    "duration",
    "place",
    "reminders",
    "announce",
    "run_in",
    "sessions",
    "capacity",
    "except",
    "skip",
}
REQUIRED = ("name", "kind", "when")
WHEEL_FIELDS = {"name", "description", "announce", "skip"}
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


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


def parse_template(source: str, *, inherited: Iterable[str] = ()) -> Template:
    """Validates a template. Entries whose key is `inherited` may name only what they change."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"not valid TOML: {exc}") from None
    known_upstream = set(inherited)
    unknown = set(raw) - {"wheel", "activity"}
    if unknown:
        raise TemplateError(
            f"unknown table {sorted(unknown)[0]!r}: a template has [wheel] and [[activity]]"
        )
    head = raw.get("wheel", {})
    if not isinstance(head, dict):
        raise TemplateError("[wheel] must be a table")
    for key in head:
        if key not in WHEEL_FIELDS:
            raise TemplateError(
                f"[wheel] {key}: unknown key; known: {', '.join(sorted(WHEEL_FIELDS))}"
            )
    announce = None
    if "announce" in head:
        announce = _field("[wheel]", "announce", head["announce"], _duration_value)
    skip = _field("[wheel]", "skip", head.get("skip", []), _string_list)
    entries: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    items = raw.get("activity", [])
    if not isinstance(items, list):
        raise TemplateError("activities are written as [[activity]] tables")
    for number, item in enumerate(items, start=1):
        key = item.get("key") if isinstance(item, dict) else None
        where = f"activity {key!r}" if isinstance(key, str) else f"activity #{number}"
        if not isinstance(item, dict):
            raise TemplateError(f"{where}: must be a table")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise TemplateError(
                f"{where}: key: every activity needs a short key of a-z, 0-9, '-' or '_' "
                '(e.g. key = "oppet-hus")'
            )
        if key in seen:
            raise TemplateError(f"{where}: key: the key is used twice in this template")
        seen.add(key)
        for name in item:
            if name not in FIELDS:
                raise TemplateError(
                    f"{where}: {name}: unknown key; known: {', '.join(sorted(FIELDS))}"
                )
        if key not in known_upstream and not item.get("skip"):
            for name in REQUIRED:
                if name not in item:
                    raise TemplateError(
                        f"{where}: {name}: missing (a new activity needs {', '.join(REQUIRED)})"
                    )
        entry = {name: _check(where, name, value) for name, value in item.items()}
        entries.append(entry)
    name = head.get("name", "")
    if not isinstance(name, str):
        raise TemplateError("[wheel] name: expected text")
    return Template(
        name=name,
        description=str(head.get("description", "")),
        announce=announce,
        skip=tuple(skip),
        entries=tuple(entries),
    )


def _field(where: str, name: str, value: Any, check: Any) -> Any:
    try:
        return check(value)
    except (ValueError, TypeError) as exc:
        raise TemplateError(f"{where}: {name}: {exc}") from None


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of texts, got {value!r}")
    return list(value)


def _duration_value(value: Any) -> timedelta:
    return parse_duration(_string(value))


def _years_value(value: Any) -> Years:
    if isinstance(value, str):
        if value not in YEAR_WORDS:
            raise ValueError(
                f"expected one of {', '.join(YEAR_WORDS)} or a list of 1-4, got {value!r}"
            )
        return Years(word=value)
    if isinstance(value, list) and value and all(isinstance(v, int) and 1 <= v <= 4 for v in value):
        return Years(phases=frozenset(value))
    raise ValueError(
        f"expected one of {', '.join(YEAR_WORDS)} or a list of mandate-period years 1-4 "
        f"(4 is the election year), got {value!r}"
    )


def _months_value(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of months 1-12, got {value!r}")
    months = []
    for month in value:
        if isinstance(month, int) and 1 <= month <= 12:
            months.append(month)
        elif isinstance(month, str) and month.lower() in MONTHS:
            months.append(MONTHS[month.lower()])
        else:
            raise ValueError(f"expected months as 1-12 or names, got {month!r}")
    return tuple(months)


def _run_in_value(value: Any) -> tuple[str, ...]:
    kinds = _string_list(value)
    for kind in kinds:
        if kind not in RUN_IN_KINDS:
            raise ValueError(
                f"expected organisation kinds among {', '.join(RUN_IN_KINDS)}, got {kind!r}"
            )
    return tuple(kinds)


def _kind_value(value: Any) -> ActivityKind:
    try:
        return ActivityKind(_string(value))
    except ValueError:
        raise ValueError(
            f"expected one of {', '.join(k.value for k in ActivityKind)}, got {value!r}"
        ) from None


def _skip_value(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


_CHECKS: dict[str, Any] = {
    "key": _string,
    "name": _string,
    "kind": _kind_value,
    "when": lambda v: parse_when(_string(v)),
    "theme": _string,
    "material": _string,
    "questions": lambda v: tuple(_string_list(v)),
    "years": _years_value,
    "months": _months_value,
    "time": lambda v: parse_clock(_string(v)),
    "duration": _duration_value,
    "place": _string,
    "reminders": lambda v: tuple(parse_duration(r) for r in _string_list(v)),
    "announce": _duration_value,
    "run_in": _run_in_value,
    "except": lambda v: tuple(_day_of_year(d) for d in _string_list(v)),
    "sessions": lambda v: _count(v, 1, 20),
    "capacity": lambda v: _count(v, 2, 200),
    "skip": _skip_value,
}


def _day_of_year(text: str) -> tuple[int, int]:
    """'24 dec', '24 december', 'December 24' as (month, day)."""
    when = parse_when(text)
    if when.bymonth is None or when.bymonthday is None or len(when.bymonth) != 1:
        raise ValueError(f"expected a day such as '24 dec', got {text!r}")
    return (when.bymonth[0], when.bymonthday)


def _count(value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _check(where: str, name: str, value: Any) -> Any:
    return _field(where, name, value, _CHECKS[name])


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
    organisation itself defined or changed them.
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
        local = origin[key] == target or target in changed[key]
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
