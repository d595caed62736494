"""What a button acts on, declared once: its arguments' types and the object it concerns.

A button carries its action's arguments as strings, stored server-side (the platform only
sees an opaque token), but written when the message was made: the object may be gone by
the time someone presses, and an old message may carry arguments of an older shape. So an
action declares them, and the core reads them before the handler runs:

    registry.action("meeting.rsvp", rsvp, args=(MEETING, Answer))

- `int`, `str`, an `Enum` class or a `Choice` read one argument each;
- a `Target` (the first argument) loads an object by id, such as a meeting, and names the
  organisation it belongs to: a `Permission` required by the action is checked there,
  not in the chat's organisation, and a `visible` rule hides it from whoever may not see it.

Arguments that don't read, or an object that is gone or hidden, get the one answer
"That button no longer works"; a missing permission the one refusal. The handler receives
the read values (the loaded object in place of its id) and holds only the use case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.i18n import N_
from bot.parsing import parse_id

if TYPE_CHECKING:
    from bot.context import Context, Effects

T = TypeVar("T")

# The one answer to a button whose arguments don't read or whose object is gone or hidden.
STALE_BUTTON = N_("That button no longer works. Try the command again.")


@dataclass(frozen=True)
class Target(Generic[T]):
    """An object an action acts on, named by its id."""

    load: Callable[[Effects, int], Awaitable[T | None]]
    org_id: Callable[[T], int]
    # Whether this person may see it at all (members-only meetings); hidden reads as gone.
    visible: Callable[[Context, T], Awaitable[bool]] | None = None


@dataclass(frozen=True)
class Choice:
    """One of a few fixed words, e.g. the field a button edits."""

    values: frozenset[str]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", frozenset(values))


ArgType = type[int] | type[str] | type[Enum] | Choice | Target[Any]


class Stale(Exception):
    """The button's arguments don't read, or what it names is gone or hidden."""


def read_plain(kind: ArgType, raw: str) -> Any:
    """One argument that needs no database: an id, a word, an enum member."""
    if kind is int:
        value = parse_id(raw)
        if value is None:
            raise Stale(raw)
        return value
    if kind is str:
        return raw
    if isinstance(kind, Choice):
        if raw not in kind.values:
            raise Stale(raw)
        return raw
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(raw)
        except ValueError:
            raise Stale(raw) from None
    raise TypeError(f"not an argument type: {kind!r}")


async def read_args(
    ctx: Context, kinds: tuple[ArgType, ...], raw: tuple[str, ...]
) -> tuple[Any, ...]:
    """The button's arguments as the action declared them; raises `Stale` if they don't read."""
    if len(raw) != len(kinds):
        raise Stale(raw)
    values: list[Any] = []
    for kind, text in zip(kinds, raw, strict=True):
        if isinstance(kind, Target):
            object_id = parse_id(text)
            found = await kind.load(ctx, object_id) if object_id is not None else None
            if found is None or (kind.visible is not None and not await kind.visible(ctx, found)):
                raise Stale(text)
            values.append(found)
        else:
            values.append(read_plain(kind, text))
    return tuple(values)


def target_org_id(kinds: tuple[ArgType, ...], values: tuple[Any, ...]) -> int | None:
    """The organisation of the first object the action acts on, if it names one."""
    for kind, value in zip(kinds, values, strict=True):
        if isinstance(kind, Target):
            return kind.org_id(value)
    return None
