"""A dialog's typed draft kept as JSON in its dialog state, and read back as its dataclass.

Dataclasses, enums, dates and times, lists, tuples, optional values and plain values; a
stored draft that no longer fits its class (after an upgrade) raises, so the dialog engine
can end it kindly instead of guessing.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Any, Union


def encode(value: Any) -> Any:
    """A draft (or any value in one) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a draft can't hold {type(value).__name__}")


def decode(kind: Any, data: Any) -> Any:
    """Reads `encode`'s output back as `kind`; ValueError or TypeError if it does not fit."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return decode(option, data)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"{data!r} is none of {kind}")
    if origin is list:
        (item,) = typing.get_args(kind)
        return [decode(item, v) for v in _sequence(data)]
    if origin is tuple:
        items = typing.get_args(kind)
        values = _sequence(data)
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(decode(items[0], v) for v in values)
        if len(items) != len(values):
            raise ValueError(f"{data!r} does not fit {kind}")
        return tuple(decode(i, v) for i, v in zip(items, values, strict=True))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(data, dict):
            raise TypeError(f"{data!r} is not a {kind.__name__}")
        hints = typing.get_type_hints(kind)
        known = {f.name for f in dataclasses.fields(kind) if f.init}
        if set(data) - known:
            raise ValueError(f"unknown fields for {kind.__name__}: {set(data) - known}")
        return kind(**{name: decode(hints[name], value) for name, value in data.items()})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if kind is datetime:
        return datetime.fromisoformat(_str(data))
    if kind is date:
        return date.fromisoformat(_str(data))
    if kind is bool:
        if not isinstance(data, bool):
            raise TypeError(f"{data!r} is not a bool")
        return data
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise TypeError(f"{data!r} is not an int")
        return data
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise TypeError(f"{data!r} is not a number")
        return float(data)
    if kind is str:
        return _str(data)
    if kind is Any:
        return data
    raise TypeError(f"a draft can't hold {kind}")


def _sequence(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise TypeError(f"{data!r} is not a list")
    return data


def _str(data: Any) -> str:
    if not isinstance(data, str):
        raise TypeError(f"{data!r} is not text")
    return data
