"""Starting a platform when the network is not there yet: again and again, with back-off.

A platform that cannot be reached at start (a timeout, a lost connection, the
API's own 5xx) is tried again, waiting twice as long each time up to
`Backoff.longest`, while the other platform and the scheduler run. An error
that trying again cannot fix (a refused token) ends the start-up with a clear
message (`PlatformStartError`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.redaction import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    first: float = 2.0  # seconds before the second attempt
    longest: float = 300.0  # never longer than this between attempts


DEFAULT_BACKOFF = Backoff()


class PlatformStartError(Exception):
    """A platform could not start, for a reason trying again does not fix."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason


# What an adapter says of a start-up error: None when it is worth trying again,
# else the reason to give the operator.
Diagnosis = Callable[[BaseException], str | None]


async def start_until_up(
    platform: str,
    start: Callable[[], Awaitable[None]],
    diagnose: Diagnosis,
    stop: asyncio.Event,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> bool:
    """Runs `start` until it succeeds (True) or `stop` is set (False); raises
    `PlatformStartError` at the first error that `diagnose` calls final."""
    delay = backoff.first
    attempt = 1
    while True:
        try:
            await start()
        except Exception as exc:
            reason = diagnose(exc)
            if reason is not None:
                raise PlatformStartError(platform, reason) from exc
            log.warning(
                "%s: could not start (attempt %d: %s); trying again in %.1f s",
                platform,
                attempt,
                redact(str(exc) or type(exc).__name__),
                delay,
            )
        else:
            if attempt > 1:
                log.info("%s: started at attempt %d", platform, attempt)
            return True
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except TimeoutError:
            pass
        delay = min(delay * 2, backoff.longest)
        attempt += 1
