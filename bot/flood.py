"""A per-person limit on commands, so one person (or a script) cannot flood the bot or a group."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from enum import Enum

WINDOW = timedelta(minutes=1)


class Verdict(Enum):
    OK = "ok"
    WARN = "warn"  # the first event over the limit: tell the person once
    DROP = "drop"  # further events in the same minute: ignore quietly


class FloodGuard:
    """Remembers each sender's recent events in memory: a flood is a matter of a minute."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._recent: dict[tuple[str, str], deque[datetime]] = {}
        self._warned: set[tuple[str, str]] = set()

    def check(self, sender: tuple[str, str], now: datetime) -> Verdict:
        recent = self._recent.setdefault(sender, deque())
        while recent and now - recent[0] >= WINDOW:
            recent.popleft()
        if len(recent) < self.limit:
            recent.append(now)
            self._warned.discard(sender)
            if len(self._recent) > 10_000:
                self._forget_quiet(now)
            return Verdict.OK
        if sender in self._warned:
            return Verdict.DROP
        self._warned.add(sender)
        return Verdict.WARN

    def _forget_quiet(self, now: datetime) -> None:
        for sender in [s for s, r in self._recent.items() if not r or now - r[-1] >= WINDOW]:
            del self._recent[sender]
