"""Start-up: configuration to database to core, and the scheduler that wakes the core.

The scheduler keeps no state of its own. The database says what is due; the
scheduler only decides when to look next (at the next due instant, after
every event, and every half minute in case another process added work).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.bootstrap import build_registry
from bot.clock import Clock
from bot.core import Samtal
from bot.ports import Gateway
from bot.settings import Settings
from samtal.config import Config, role_mappings
from storage.database import Database

if TYPE_CHECKING:
    from samtal.web import WebServer

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30


def core_settings(config: Config, *, flood_limit: bool) -> Settings:
    return Settings(
        join_url=config.bot.join_url,
        guest_retention_days=config.privacy.guest_retention_days,
        left_retention_days=config.privacy.left_retention_days,
        flood_limit=config.privacy.flood_limit_per_minute if flood_limit else None,
        role_mappings=role_mappings(config),
    )


async def open_core(
    config: Config, clock: Clock, gateways: Mapping[str, Gateway]
) -> tuple[Database, Samtal]:
    database = Database(config.database_url)
    await database.upgrade()
    # The console is one person at a keyboard (or a transcript): no flood limit there.
    platforms_only = any(name != "console" for name in gateways)
    settings = core_settings(config, flood_limit=platforms_only)
    samtal = Samtal(database.unit_of_work, clock, build_registry(), gateways, settings)
    await samtal.start()
    return database, samtal


class Wakeup:
    """Runs the core's due work at the right moments, one run at a time."""

    def __init__(self, samtal: Samtal) -> None:
        self.samtal = samtal
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._stopping = False
        self._runs: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(
            self._run,
            "interval",
            seconds=SWEEP_SECONDS,
            id="sweep",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
        )
        self.samtal.on_work(self.poke)
        self.poke()

    def poke(self, at: datetime | None = None) -> None:
        # A fixed id with replace_existing keeps exactly one pending wake-up.
        self.scheduler.add_job(
            self._run,
            "date",
            run_date=at or datetime.now(UTC),
            id="wake",
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _run(self) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)
        try:
            await self.samtal.run_due()
            upcoming = await self.samtal.next_due()
        except Exception:
            log.exception("running due work failed; trying again at the next sweep")
            return
        if upcoming is not None and self.scheduler.running:
            self.poke(upcoming)

    async def stop(self) -> None:
        """Stops waking the core and lets a run in progress finish.

        The runs are awaited before the scheduler shuts down, because its shutdown
        cancels the coroutine jobs still running.
        """
        self._stopping = True
        await asyncio.gather(*self._runs, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.samtal.idle()


async def start_web(config: Config, samtal: Samtal) -> WebServer | None:
    """Starts the calendar feed server when `[web] enabled`; the caller stops it."""
    if not config.web.enabled:
        return None
    from samtal.web import WebServer  # aiohttp's server loads only when used

    server = WebServer(samtal.uow_factory, samtal.clock, config.web.host, config.web.port)
    await server.start()
    return server
