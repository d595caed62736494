"""Nightly online backups with rotation, taken by the replica that runs the timers.

Once a night, after `[backup] at` (local time), the replica that holds the timers
writes `samtal-<UTC time>.sqlite` (SQLite's online backup) or `.pgdump` (pg_dump's
custom format) into `[backup] dir` and removes all but the newest `[backup] keep`.
It looks every minute whether tonight's is still missing, so a replica that was down
at that moment, or took the timers over, catches up when it can.
`samtal db restore FILE` reads either kind back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import Clock
from storage.database import Database

log = logging.getLogger(__name__)

NAME = re.compile(r"^samtal-(\d{8}T\d{6}Z)\.(sqlite|pgdump)$")
STAMP = "%Y%m%dT%H%M%SZ"
LOOK_EVERY = 60.0
AFTER_FAILURE = 900.0  # a failed backup is tried again after this, not every minute


def backups_in(directory: Path) -> list[Path]:
    """The nightly backups there, oldest first (by the time in their names)."""
    if not directory.is_dir():
        return []
    return sorted(
        (path for path in directory.iterdir() if NAME.match(path.name)),
        key=lambda path: path.name,
    )


def taken_at(path: Path) -> datetime:
    found = NAME.match(path.name)
    assert found is not None, path
    return datetime.strptime(found.group(1), STAMP).replace(tzinfo=ZoneInfo("UTC"))


class NightlyBackups:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        runs_timers: Callable[[], bool],
        directory: Path,
        *,
        keep: int,
        at: time,
        zone: ZoneInfo,
    ) -> None:
        self.database = database
        self.clock = clock
        self.runs_timers = runs_timers
        self.directory = directory
        self.keep = keep
        self.at = at
        self.zone = zone
        self._task: asyncio.Task[None] | None = None

    def due(self) -> bool:
        """Whether tonight's backup is to be taken now, here."""
        if self.keep <= 0 or not self.runs_timers():
            return False
        now = self.clock.now().astimezone(self.zone)
        tonight = datetime.combine(now.date(), self.at, self.zone)
        if now < tonight:
            tonight -= timedelta(days=1)  # before `at`: last night's is the one to have
        existing = backups_in(self.directory)
        return not existing or taken_at(existing[-1]) < tonight

    async def take(self) -> Path:
        """Writes a backup now and rotates; returns its path."""
        suffix = "sqlite" if self.database.is_sqlite else "pgdump"
        name = f"samtal-{self.clock.now().astimezone(ZoneInfo('UTC')).strftime(STAMP)}.{suffix}"
        final = self.directory / name
        partial = final.with_name(final.name + ".partial")  # never counted until complete
        await self.database.backup(partial)
        partial.replace(final)
        for old in backups_in(self.directory)[: -self.keep]:
            old.unlink(missing_ok=True)
            log.info("backup: removed %s (keeping the newest %d)", old.name, self.keep)
        log.info("backup: wrote %s", final)
        return final

    def start(self) -> None:
        if self.keep > 0:
            self._task = asyncio.create_task(self._loop(), name="nightly backups")

    async def _loop(self) -> None:
        while True:
            wait = LOOK_EVERY
            try:
                if self.due():
                    await self.take()
            except Exception as exc:
                log.error(
                    "backup: failed (%s); trying again in %.0f minutes", exc, AFTER_FAILURE / 60
                )
                wait = AFTER_FAILURE
            await asyncio.sleep(wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
