"""Discord's global rate limit, and its 429s counted, for every REST request discord.py makes.

What discord.py (2.7, `discord/http.py`) does itself: it keeps each route's
bucket from the `X-RateLimit-*` headers of the answers and waits before a
request that would overdraw it; on a 429 it waits the answer's `retry_after`
and tries again (a global 429 holds every request meanwhile), or, when that is
longer than the client's `max_ratelimit_timeout`, raises `RateLimited` without
retrying. What it does not do is pace the global limit (50 requests a second
per bot) beforehand: a burst of DMs to many people, each its own route, would
meet it as 429s.

`RestBudget` does that part. Its `trace` goes to `discord.Client(http_trace=...)`:
aiohttp awaits the trace before each request goes out, so the request waits for
a slot in a 50-a-second `Window`, and the answer frees it; the same hook counts
every 429 (also those discord.py then waits out itself) and holds everything
for the retry_after of a global one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp

from adapters.budget import SendStats, Window

GLOBAL: tuple[int, float] = (50, 1.0)
# A 429 longer than this is not waited out inside discord.py: the send is handed back to
# the dispatcher with the retry_after (30 s is the least discord.py accepts).
MAX_RATELIMIT_WAIT = 30.0


def retry_after_of(headers: object) -> float | None:
    """Seconds from a 429's headers: `Retry-After`, else `X-RateLimit-Reset-After`."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name in ("Retry-After", "X-RateLimit-Reset-After"):
        value = get(name)
        if value is None:
            continue
        try:
            return float(value)
        except ValueError:
            continue
    return None


class RestBudget:
    def __init__(
        self,
        rule: tuple[int, float] = GLOBAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rule = rule
        self.window = Window(*rule)
        self.stats = SendStats()
        self.clock = clock
        self._sleep = sleep
        self.paused_until = -math.inf
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._start)
        self.trace.on_request_end.append(self._end)
        self.trace.on_request_exception.append(self._failed)

    def scale(self, fraction: float) -> None:
        """Runs at this share of the global limit (1/2 when two replicas share one bot)."""
        if not 0 < fraction <= 1:
            raise ValueError("the share of the budget must be in (0, 1]")
        limit, period = self.rule
        share = math.floor(limit * fraction + 1e-9)
        self.window.limit, self.window.period = (
            (share, period) if share >= 1 else (1, period / (limit * fraction))
        )

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def take(self) -> None:
        """Waits until the global budget has room, then holds a slot."""
        while True:
            now = self.clock()
            wait = max(self.paused_until - now, self.window.wait(now))
            if wait <= 0:
                self.window.take()
                return
            await self._sleep(wait)

    def release(self, response: aiohttp.ClientResponse | None = None) -> None:
        self.window.release(self.clock())
        if response is not None and response.status == 429:
            self.stats.rate_limited += 1
            if response.headers.get("X-RateLimit-Global", "").lower() == "true":
                self.pause(retry_after_of(response.headers) or 1.0)

    # -- aiohttp's tracing hooks -----------------------------------------------------------

    async def _start(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        await self.take()

    async def _end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self.release(params.response)

    async def _failed(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        self.release()


__all__ = ["MAX_RATELIMIT_WAIT", "RestBudget", "retry_after_of"]
