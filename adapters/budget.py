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

    A slot is held from the moment a request starts (or is promised it, `reserve`) until
    `period` after its answer came back. The server saw the request somewhere in between,
    so however the network delays requests, two requests `limit` apart reach it at least
    `period` apart.
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

    def reserve(self, now: float) -> tuple[float, float | None] | None:
        """A slot promised to one request: (when it may start, the end it took over).

        A free slot is taken to start now (nothing taken over). Otherwise the slot of the
        answered request whose period ends first is handed over: it may start at that
        end, which is given back to `release` as `borrowed` (kept if the request is not
        made after all). None when every slot waits for an answer: no time to promise
        yet. The slot is held from now on, so no later request takes it, and what the
        request needs before it starts (a database write) can be done while it waits.
        """
        missing = self.held(now) + 1 - self.limit
        if missing <= 0:
            self.in_flight += 1
            return now, None
        if missing > len(self._ends):
            return None
        end = self._ends[missing - 1]
        del self._ends[missing - 1]
        self.in_flight += 1
        return end, end

    def release(self, now: float, *, reached: bool = True, borrowed: float | None = None) -> None:
        """The request ended; `reached=False` when it certainly never reached the server.

        `borrowed`: the end the slot had when it was reserved (`reserve`), kept if the
        request never went out and that end is still to come.
        """
        self.in_flight -= 1
        if reached:
            self._add_end(max(now + self.period, borrowed or now))
        elif borrowed is not None and borrowed > now:
            self._add_end(borrowed)

    def _add_end(self, end: float) -> None:
        if self._ends and end < self._ends[-1]:  # after `scale`, or a borrowed end given back
            insort(self._ends, end)
        else:
            self._ends.append(end)

    def idle(self, now: float) -> bool:
        return self.held(now) == 0
