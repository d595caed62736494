"""The annual wheel's template format: a TOML document with `[wheel]` and `[[activity]]`.

See `bot/wheel/default.toml` for the documented format. `parse_template` validates a
template with errors that name the activity and the key; an entry whose key is
inherited from above may name only the fields it changes (`bot.wheel.model` merges them).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from bot.timeread import MONTHS
from bot.wheel.model import (
    REQUIRED,
    RUN_IN_KINDS,
    YEAR_WORDS,
    ActivityKind,
    Template,
    TemplateError,
    Years,
)
from bot.wheel.when import parse_clock, parse_duration, parse_when

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
    "source",
}
WHEEL_FIELDS = {"name", "description", "announce", "skip"}
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


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
    "source": _string,
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
