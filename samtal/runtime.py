"""Start-up: configuration to database to core, and the scheduler that wakes the core.

The scheduler keeps no state of its own. The database says what is due; the
scheduler only decides when to look next (at the next due instant, after
every event, and every half minute in case another process added work).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.bootstrap import build_registry
from bot.clock import Clock
from bot.core import Samtal
from bot.delivery import DeliveryOptions
from bot.ports import Gateway
from bot.settings import Settings
from samtal.config import Config, role_mappings
from samtal.replication import ReplicaTimings, Replication
from storage.database import Database

if TYPE_CHECKING:
    from samtal.backups import NightlyBackups
    from samtal.health import HealthLoop, Probe
    from samtal.mail import EmailPages
    from samtal.web import WebServer

log = logging.getLogger(__name__)

# Work queued by another process (`samtal announce`, another replica) is found within this;
# a look is a few indexed queries.
SWEEP_SECONDS = 5.0
# A run woken again while it went (by handled updates, mostly) goes round once more after
# this pause, so that under load a run's reads are shared by the updates of 50 ms, not a few.
# The replies do not wait for it: a wake-up starts their delivery at once.
ROUND_GAP_SECONDS = 0.05


def core_settings(config: Config, *, flood_limit: bool) -> Settings:
    return Settings(
        join_url=config.bot.join_url,
        guest_retention_days=config.privacy.guest_retention_days,
        left_retention_days=config.privacy.left_retention_days,
        flood_limit=config.privacy.flood_limit_per_minute if flood_limit else None,
        role_mappings=role_mappings(config),
        paid_broadcast_orgs=tuple(config.telegram.paid_broadcast),
        paid_broadcast_min_recipients=config.telegram.paid_broadcast_min_recipients,
        announcement_roles=tuple(config.discord.announcement_roles.items()),
        calendar_url=calendar_url(config),
    )


def calendar_url(config: Config) -> str:
    """Where members' own calendar feeds are reached: the public address, or this server's
    own when `[web] enabled = true` says so; empty (/kalender says there is none) else."""
    if config.web.enabled is False:
        return ""
    if config.web.enabled is None:
        return config.web.public_url
    return config.web.public_url or f"http://{config.web.host}:{config.web.port}"


async def open_core(
    config: Config, clock: Clock, gateways: Mapping[str, Gateway]
) -> tuple[Database, Samtal]:
    database = Database(config.database_url)
    await database.upgrade()
    # The console is one person at a keyboard (or a transcript): no flood limit there.
    platforms_only = any(name != "console" for name in gateways)
    settings = core_settings(config, flood_limit=platforms_only)
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        gateways,
        settings,
        delivery=DeliveryOptions(exclusive=database.is_sqlite),
    )
    await samtal.start()
    return database, samtal


@dataclass
class Replica:
    """One running process: its database, its core, and its place among replicas."""

    database: Database
    samtal: Samtal
    replication: Replication


async def build_replica(
    config: Config,
    clock: Clock,
    gateways: Mapping[str, Gateway],
    *,
    flood_limit: bool,
    timings: ReplicaTimings | None = None,
) -> Replica:
    """The core of a long-running process (`samtal run`, the interactive console), not yet
    started: on PostgreSQL it takes the scheduler lock if free (see samtal/replication.py)."""
    database = Database(config.database_url)
    await database.upgrade()
    replication = Replication(database, clock, timings)
    await replication.start()
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        gateways,
        core_settings(config, flood_limit=flood_limit),
        delivery=replication.delivery_options(),
        runs_timers=replication.runs_timers,
    )
    return Replica(database, samtal, replication)


class Wakeup:
    """Runs the core's due work at the right moments.

    Timers (where this process runs them) one run at a time; the outbox in a task
    of its own, so a long announcement never holds up a reminder. With a
    `Replication`, its check runs every few seconds too.
    """

    def __init__(self, samtal: Samtal, replication: Replication | None = None) -> None:
        self.samtal = samtal
        self.replication = replication
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._stopping = False
        self._runs: set[asyncio.Task[None]] = set()  # the replica checks under way
        self._running: asyncio.Task[None] | None = None  # the runs' loop, while it goes
        self._run_again = False  # set by a wake-up during a run: go round once more
        self._delivery: asyncio.Task[None] | None = None
        self._again = False
        self._timers_here = samtal.runs_timers()

    def start(self) -> None:
        self.scheduler.start()
        sweep = self.replication.timings.sweep if self.replication else SWEEP_SECONDS
        self._every(sweep, self._woken, "sweep")
        if self.replication is not None:
            self._every(self.replication.timings.check, self._check, "replicas")
        self.samtal.on_work(self.wake)
        self.wake()

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]], job_id: str) -> None:
        self.scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
        )

    def poke(self, at: datetime | None = None, job_id: str = "wake") -> None:
        """Wakes the core at `at`, or now. A fixed id with replace_existing keeps exactly one
        pending wake-up of each kind: the next timer ("timers"), the next deferred message
        ("outbox")."""
        if at is None:
            self.wake()
            return
        self.scheduler.add_job(
            self._woken,
            "date",
            run_date=at,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _woken(self) -> None:
        # The scheduler's jobs only wake: a job that ran `_run` itself was skipped, with a
        # WARNING, whenever a run was under way, and its wake-up lost.
        self.wake()

    def wake(self) -> None:
        """Runs the due work now: starts a run, or has the run under way go round once more
        when it ends (every handled update calls this, so it costs no scheduler job)."""
        if self._stopping:
            return
        # The replies go out now: the delivery is a task of its own, never behind the timers.
        self._deliver()
        if self._running is not None and not self._running.done():
            self._run_again = True
            return
        self._running = asyncio.get_running_loop().create_task(self._rounds())

    async def _rounds(self) -> None:
        while True:
            self._run_again = False
            await self._run()
            if self._stopping or not self._run_again:
                return
            await asyncio.sleep(ROUND_GAP_SECONDS)

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)

    async def _run(self) -> None:
        if self._stopping:
            return
        try:
            await self.samtal.run_timers()
        except Exception:
            log.exception("running due timers failed; trying again at the next sweep")
        self._deliver()
        await self._plan("timers", timers=True, outbox=False)

    def _deliver(self) -> None:
        """Starts delivering, or has the delivery under way look once more when it ends."""
        if self._stopping:
            return
        if self._delivery is not None and not self._delivery.done():
            self._again = True
            return
        self._delivery = asyncio.create_task(self._delivering())

    async def _delivering(self) -> None:
        while True:
            self._again = False
            try:
                await self.samtal.dispatcher.deliver_due()
            except Exception:
                log.exception("delivering the outbox failed; trying again at the next sweep")
                return
            if self._stopping or not self._again:
                break
        await self._plan("outbox", timers=False, outbox=True)

    async def _plan(self, job_id: str, *, timers: bool, outbox: bool) -> None:
        if self._stopping:
            return
        try:
            upcoming = await self.samtal.next_due(timers=timers, outbox=outbox)
        except Exception:
            log.exception("could not tell when work is due next; looking at the next sweep")
            return
        if upcoming is not None and self.scheduler.running and not self._stopping:
            self.poke(upcoming, job_id)

    async def _check(self) -> None:
        if self._stopping or self.replication is None:
            return
        self._track()
        try:
            taken = await self.replication.tick(self.samtal)
        except Exception:
            log.exception("the replica check failed; trying again in a few seconds")
            return
        timers_here = self.replication.runs_timers()
        if taken or timers_here != self._timers_here:
            self._timers_here = timers_here
            self.poke()

    async def stop(self) -> None:
        """Stops waking the core: sends under way finish, claimed messages are given back.

        The runs are awaited before the scheduler shuts down, because its shutdown
        cancels the coroutine jobs still running.
        """
        self._stopping = True
        self.samtal.dispatcher.halt()
        tasks = [t for t in (self._running, self._delivery) if t is not None]
        await asyncio.gather(*self._runs, *tasks, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.samtal.idle()
        if self.replication is not None:
            await self.replication.stop(self.samtal)


class Operating:
    """What a long-running process offers its operator: the web server (/healthz,
    /metrics, calendar feeds), the health loop that feeds systemd's watchdog, and the
    nightly backups. `start_operating` starts it; the caller stops it."""

    def __init__(self, web: WebServer | None, loop: HealthLoop, backups: NightlyBackups) -> None:
        self.web = web
        self.health_loop = loop
        self.backups = backups

    async def stop(self) -> None:
        await self.backups.stop()
        await self.health_loop.stop()
        if self.web is not None:
            await self.web.stop()


async def start_operating(
    config: Config,
    database: Database,
    samtal: Samtal,
    replication: Replication | None = None,
    platforms: Mapping[str, Probe] | None = None,
    email: EmailPages | None = None,
) -> Operating:
    from samtal.backups import NightlyBackups
    from samtal.health import Health, HealthLoop
    from samtal.metrics import Metrics

    health = Health(
        database,
        samtal.clock,
        replication=replication,
        platforms=platforms,
        outbox_late=config.health.outbox_late_seconds,
    )
    web = None
    if config.web.serving:
        from samtal.web import WebServer  # aiohttp's server loads only when used

        web = WebServer(
            samtal.uow_factory,
            samtal.clock,
            config.web.host,
            config.web.port,
            health=health,
            metrics=Metrics(samtal, database, replication),
            email=email,
        )
        try:
            await web.start()
        except OSError as exc:  # the port is taken: run without it, and say so
            log.error(
                "the web server could not listen on %s:%s (%s); running without /healthz, "
                "/metrics and calendar feeds",
                config.web.host,
                config.web.port,
                exc.strerror or exc,
            )
            await web.stop()
            web = None
    loop = HealthLoop(health)
    loop.start()
    hour, minute = (int(part) for part in config.backup.at.split(":"))
    backups = NightlyBackups(
        database,
        samtal.clock,
        samtal.runs_timers,
        config.backup_dir,
        keep=config.backup.keep,
        at=time(hour, minute),
        zone=ZoneInfo(config.bot.timezone),
    )
    backups.start()
    return Operating(web, loop, backups)
