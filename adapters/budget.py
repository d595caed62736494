"""What the platform adapters share to keep within a platform's rate limits."""

from __future__ import annotations

from bisect import insort
from collections import deque
from dataclasses import dataclass


@dataclass
class SendStats:
    """What a gateway did so far: for the log, an announcement's report and benchmarks."""

    sent: int = 0  # messages delivered
    deferred: int = 0  # messages handed back unsent because a budget was spent (429s too)
    rate_limited: int = 0  # requests the platform answered with 429


class Window:
    """At most `limit` requests in any `period` seconds, as the server counts them on arrival.

    A slot is held from the moment a request starts until `period` after its answer
    came back. The server saw the request somewhere in between, so however the network
    delays requests, two requests `limit` apart reach it at least `period` apart.
    """

    __slots__ = ("_ends", "in_flight", "limit", "period")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.in_flight = 0
        self._ends: deque[float] = deque()  # when each answered request's slot frees, sorted

    def held(self, now: float) -> int:
        ends = self._ends
        while ends and ends[0] <= now:
            ends.popleft()
        return self.in_flight + len(ends)

    def wait(self, now: float, count: int = 1) -> float:
        """Seconds until `count` slots are free; a lower bound while requests are in flight."""
        count = min(count, self.limit)
        missing = self.held(now) + count - self.limit
        if missing <= 0:
            return 0.0
        if missing <= len(self._ends):
            return self._ends[missing - 1] - now
        # An unanswered request frees its slot `period` after its answer, so not sooner than
        # `period` from now.
        return self.period

    def take(self) -> None:
        self.in_flight += 1

    def release(self, now: float, *, reached: bool = True) -> None:
        """The request ended; `reached=False` when it certainly never reached the server."""
        self.in_flight -= 1
        if reached:
            end = now + self.period
            if self._ends and end < self._ends[-1]:  # only after `scale` changed the period
                insort(self._ends, end)
            else:
                self._ends.append(end)

    def idle(self, now: float) -> bool:
        return self.held(now) == 0
