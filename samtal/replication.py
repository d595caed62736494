"""Running as one of several replicas on one PostgreSQL (or alone on SQLite).

Every replica delivers the outbox (claims with leases, see bot/delivery/__init__.py).
Exactly one runs the timers: the holder of the scheduler's advisory lock
(storage/coordination.py), which every replica tries to take every
`ReplicaTimings.check` seconds. Each check also renews this replica's claims,
takes over claims of stopped replicas whose lease ran out, writes this
replica's heartbeat and scales the platforms' rate budgets to its share
(1 / live replicas), so that replicas sending for one bot stay within its
limits together.

On SQLite there is one process: it runs the timers without a lock, and keeps
the whole budget.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.core import Samtal
from bot.delivery import DeliveryOptions
from storage.coordination import ReplicaRegistry, SchedulerLock
from storage.database import Database

log = logging.getLogger(__name__)

# Sends in flight at once per platform; the gateways keep the rate. The console stays in
# order (1). Telegram allows 30 a second (1000 with paid broadcasts): enough sends in
# flight to reach that with real network latency.
CONCURRENCY = {"telegram": 64, "discord": 16}
SQLITE_CONCURRENCY = 8  # one writer at a time: more would only queue for the file


@dataclass(frozen=True)
class ReplicaTimings:
    """How quickly replicas notice each other; takeover takes about `lease` + `check`."""

    check: float = 5.0  # seconds between lock attempts, heartbeats and lease renewals
    lease: float = 20.0  # a claim's life without renewal
    alive: float = 15.0  # a replica whose heartbeat is older is counted as gone
    stats_every: float = 60.0  # the delivery figures are logged this often when they change
    sweep: float = 5.0  # seconds between looks for work that other processes queued


def replica_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Replication:
    def __init__(
        self, database: Database, clock: Clock, timings: ReplicaTimings | None = None
    ) -> None:
        self.timings = timings or ReplicaTimings()
        self.name = replica_name()
        self.shared = not database.is_sqlite
        self._clock = clock
        self._lock = SchedulerLock(database.url) if self.shared else None
        self._registry = ReplicaRegistry(database.engine) if self.shared else None
        self.live = 1
        self._share = 1.0
        self._logged: dict[str, int] = {}
        self._logged_at = clock.now()

    def runs_timers(self) -> bool:
        """Whether this process runs the timers now (the core asks before each run)."""
        return self._lock is None or self._lock.held

    def timers_unknown(self) -> str | None:
        """Why this replica can't tell who runs the timers now, or None when it can."""
        if self._lock is None:
            return None  # SQLite: this process, always
        answered = self._lock.answered_at
        if answered is None:
            return "has not yet learnt who runs the timers"
        silent = time.monotonic() - answered
        if silent > 3 * self.timings.check + 5:
            return f"has not heard who runs the timers for {silent:.0f} s"
        return None

    def delivery_options(self) -> DeliveryOptions:
        concurrency = dict(CONCURRENCY)
        if not self.shared:
            concurrency = {name: min(n, SQLITE_CONCURRENCY) for name, n in concurrency.items()}
        return DeliveryOptions(
            owner=self.name,
            lease=timedelta(seconds=self.timings.lease),
            concurrency=concurrency,
            exclusive=not self.shared,
        )

    async def start(self) -> None:
        """Before the core starts: takes the scheduler lock if it is free."""
        if self._lock is not None:
            await self._lock.refresh()
            log.info(
                "replica %s: %s",
                self.name,
                "runs the timers" if self._lock.held else "delivers; another replica runs timers",
            )

    async def tick(self, samtal: Samtal) -> int:
        """The periodic check; returns how many outbox entries were taken over."""
        if self._lock is not None:
            await self._lock.refresh()
        if self._registry is not None:
            try:
                now = self._clock.now()
                alive_after = now - timedelta(seconds=self.timings.alive)
                self.live = await self._registry.beat(self.name, now, alive_after)
            except Exception:
                log.exception("could not write this replica's heartbeat")
            self._scale(samtal, 1 / self.live)
        taken = await samtal.dispatcher.maintain()
        self._log_stats(samtal)
        return taken

    def _scale(self, samtal: Samtal, share: float) -> None:
        if share == self._share:
            return
        self._share = share
        log.info(
            "%d replicas deliver: each uses 1/%d of the platforms' budgets", self.live, self.live
        )
        for gateway in samtal.dispatcher.gateways:
            scalable: Any = getattr(gateway, "scale", None) or getattr(
                getattr(gateway, "limiter", None), "scale", None
            )
            if callable(scalable):
                scalable(share)

    def _log_stats(self, samtal: Samtal, *, force: bool = False) -> None:
        figures = samtal.dispatcher.stats.as_dict()
        due = (self._clock.now() - self._logged_at).total_seconds() >= self.timings.stats_every
        if figures != self._logged and (due or force):
            log.info("delivery: %s", ", ".join(f"{n} {what}" for what, n in figures.items()))
            self._logged = figures
            self._logged_at = self._clock.now()

    async def stop(self, samtal: Samtal | None = None) -> None:
        if samtal is not None:
            self._log_stats(samtal, force=True)
        if self._registry is not None:
            try:
                await self._registry.leave(self.name)
            except Exception:
                log.debug("could not remove this replica's heartbeat", exc_info=True)
        if self._lock is not None:
            await self._lock.dispose()
