"""Units of work take turns, first come first served: one at a time on SQLite, as many as
there are pooled connections on PostgreSQL.

SQLite has a single writer. When two of our transactions overlap, the second
one's write waits in SQLite's busy handler or fails with "database is locked"
once its snapshot is stale, and what it read before it could write may no
longer be true. Taking turns in the event loop instead costs nothing while it
is idle, hands over at once, and makes every unit of work see the state its
writes are based on.

On PostgreSQL transactions run side by side, but a burst of events larger
than the connection pool would otherwise queue in the pool, which is not
fair: a connection given back is taken by whoever asks next, and the events
that were already waiting can wait for seconds. Here they go in the order
they came.

A unit of work nested in one that the same task already holds (a helper
opening its own while its caller's is open) goes ahead rather than waiting for
itself. Should a turn ever not come (a unit of work held open across an await
on another task that needs one), the waiter goes ahead after `PATIENCE`, as
it would without turns, and says so in the log.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

PATIENCE = 30.0  # seconds


class Turns:
    def __init__(self, at_once: int = 1) -> None:
        self._slots = asyncio.Semaphore(at_once)  # FIFO: a newcomer never overtakes a waiter
        self._holders: set[asyncio.Task[object]] = set()

    async def take(self) -> bool:
        """Waits for this task's turn; False when it already has one (or went ahead without)."""
        task = asyncio.current_task()
        if task is not None and task in self._holders:
            return False
        try:
            async with asyncio.timeout(PATIENCE):
                await self._slots.acquire()
        except TimeoutError:
            log.warning("no database turn within %.0f s; going ahead without one", PATIENCE)
            return False
        if task is not None:
            self._holders.add(task)
        return True

    def give_back(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._holders.discard(task)
        self._slots.release()
