"""Several processes on one PostgreSQL: who runs the scheduler, and how many are alive.

- `SchedulerLock`: a PostgreSQL advisory lock (`pg_try_advisory_lock`) held on a
  connection of its own. The process holding it runs the timers; the others
  try again every few seconds, and PostgreSQL releases the lock the moment the
  holder's connection ends (a crash, kill -9, a lost host once its TCP
  connection is dropped), so another takes over within one retry interval. A
  holder that finds its connection gone stops running timers at once.
- `ReplicaRegistry`: each process writes a heartbeat to the `replicas` table;
  the live ones share a platform's rate budget.

On SQLite there is one process, so there is nothing to lock and no one to share with.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage import tables

log = logging.getLogger(__name__)

SCHEDULER_LOCK = 0x53_61_6D_74  # "Samt": the advisory lock id of the scheduler
FORGET_AFTER = timedelta(hours=1)  # rows of processes gone this long are removed
# The lock's session: when its host vanishes without closing the connection (power, network),
# the server drops it, and the lock with it, after about 10-15 s instead of TCP's hours.
KEEPALIVE = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 10000",
)


class SchedulerLock:
    """The scheduler's advisory lock, on a dedicated connection (not from the pool)."""

    def __init__(self, url: sa.URL | str, *, key: int = SCHEDULER_LOCK, timeout: float = 5.0):
        # Its own engine without a pool: one connection, opened and closed only here.
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True
        )
        self._key = key
        self._timeout = timeout
        self._connection: AsyncConnection | None = None
        # When (time.monotonic()) the database last told us who holds the lock: held here,
        # or taken by another process. /healthz wants it recent (samtal/health.py).
        self.answered_at: float | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def refresh(self) -> bool:
        """Checks that the lock is still held, else tries to take it; returns whether held.

        Call it every few seconds. A check that fails or hangs counts as a lost
        connection: the lock is gone with it, and this process must stop at once.
        """
        if self._connection is not None:
            try:
                await asyncio.wait_for(self._connection.execute(sa.text("SELECT 1")), self._timeout)
                self.answered_at = time.monotonic()
                return True
            except Exception as exc:
                log.warning(
                    "lost the connection that holds the scheduler lock (%s); "
                    "this process no longer runs timers",
                    type(exc).__name__,
                )
                await self._drop()
                return False  # tried again at the next check, giving others their chance
        return await self._try()

    async def _try(self) -> bool:
        connection: AsyncConnection | None = None
        try:
            connection = await asyncio.wait_for(self._engine.connect(), self._timeout)
            for setting in KEEPALIVE:  # so that the server notices a vanished host soon
                try:
                    await asyncio.wait_for(connection.execute(sa.text(setting)), self._timeout)
                except sa.exc.DBAPIError:  # an older server without it: TCP's defaults
                    log.debug("the database refused %r", setting, exc_info=True)
            query = sa.select(sa.func.pg_try_advisory_lock(self._key))
            got = bool(await asyncio.wait_for(connection.scalar(query), self._timeout))
            self.answered_at = time.monotonic()
        except Exception as exc:
            log.warning("could not try the scheduler lock: %s: %s", type(exc).__name__, exc)
            got = False
        if got:
            self._connection = connection
            log.info("this process now runs the scheduler (timers)")
        elif connection is not None:
            await _close(connection)
        return got

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)

    async def release(self) -> None:
        """Gives the lock up (closing its connection releases it in any case)."""
        connection = self._connection
        if connection is not None:
            try:
                await asyncio.wait_for(
                    connection.execute(sa.select(sa.func.pg_advisory_unlock(self._key))),
                    self._timeout,
                )
            except Exception:
                log.debug("could not unlock the scheduler lock; closing releases it", exc_info=True)
        await self._drop()

    async def dispose(self) -> None:
        await self.release()
        await self._engine.dispose()


async def _close(connection: AsyncConnection) -> None:
    try:
        await asyncio.wait_for(connection.close(), 5.0)
    except Exception:
        log.debug("closing a lock connection failed", exc_info=True)


class ReplicaRegistry:
    """The `replicas` table: one row per process, its heartbeat renewed every few seconds."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def beat(self, replica_id: str, now: datetime, alive_after: datetime) -> int:
        """Records this process as alive; returns how many processes are (itself included).

        Rows of processes not seen for a long while are removed on the way.
        """
        r = tables.replicas.c
        async with self._engine.begin() as connection:
            updated = await connection.execute(
                sa.update(tables.replicas).where(r.id == replica_id).values(heartbeat_at=now)
            )
            if not updated.rowcount:
                await connection.execute(
                    sa.insert(tables.replicas).values(
                        id=replica_id, started_at=now, heartbeat_at=now
                    )
                )
            await connection.execute(
                sa.delete(tables.replicas).where(r.heartbeat_at < now - FORGET_AFTER)
            )
            live = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(tables.replicas)
                .where(r.heartbeat_at >= alive_after)
            )
        return max(1, int(live or 0))

    async def leave(self, replica_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.delete(tables.replicas).where(tables.replicas.c.id == replica_id)
            )
