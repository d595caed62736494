"""The one way the core learns what time it is.

The core never reads the wall clock itself: the composition root hands it a
`Clock`. Production uses the system clock (outside `bot/`); the console's
transcript mode and the tests use `VirtualClock`, which only moves when told.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class VirtualClock:
    """A clock that stands still until it is set or advanced."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _as_utc(instant)

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a virtual clock only moves forward")
        self._now += delta


class ShiftedClock:
    """Another clock (the wall clock) moved forward by an offset that only grows: the
    interactive console's `@clock`, so a newcomer can see reminders arrive without waiting."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def set(self, instant: datetime) -> None:
        # Never back: an instant just passed (the wall clock ran on meanwhile) keeps the offset.
        self._offset = max(self._offset, _as_utc(instant) - self._base.now())


# What `@clock` can move: the transcript's virtual clock, or the console's shifted one.
MovableClock = VirtualClock | ShiftedClock


def _as_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware instant")
    return instant.astimezone(UTC)
