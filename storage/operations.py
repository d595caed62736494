"""What operators ask the database: is it there, how deep is the outbox, what waits.

Read-only figures for `/healthz` and `/metrics` (samtal/health.py, samtal/metrics.py),
each one indexed count or minimum, never a row of anyone's data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.delivery import OutboxStatus
from storage import tables

# Timers that operators watch by family (the kind's prefix before the dot).
WATCHED_TIMERS = ("wheel", "welcome")


@dataclass(frozen=True)
class Figures:
    """The database's side of the metrics, read in one go."""

    outbox: dict[tuple[str, str], int]  # (platform, status) -> entries not yet sent
    dialogs: int  # dialogs in progress
    timers_due: dict[str, int]  # family ("wheel", "welcome") -> timers due and not run
    replicas_alive: int  # heartbeats younger than `alive_after` (PostgreSQL; 0 on SQLite)


async def ping(engine: AsyncEngine, seconds: float) -> None:
    """Raises when the database does not answer `SELECT 1` within `seconds`."""

    async def ask() -> None:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    await asyncio.wait_for(ask(), seconds)


async def oldest_due(engine: AsyncEngine, now: datetime) -> datetime | None:
    """When the longest-waiting pending entry fell due (None: nothing is waiting)."""
    outbox = tables.outbox
    query = sa.select(sa.func.min(outbox.c.not_before)).where(
        outbox.c.status == OutboxStatus.PENDING, outbox.c.not_before <= now
    )
    async with engine.connect() as connection:
        found = (await connection.execute(query)).scalar()
    if found is None:
        return None
    # min() keeps the column's type, so this is aware UTC already; a string would be a bug.
    assert isinstance(found, datetime) and found.tzinfo is not None, found
    return found


async def figures(engine: AsyncEngine, now: datetime, alive_after: datetime) -> Figures:
    outbox, timers = tables.outbox, tables.timers
    depth = (
        sa.select(outbox.c.platform, outbox.c.status, sa.func.count())
        .where(outbox.c.status != OutboxStatus.SENT)
        .group_by(outbox.c.platform, outbox.c.status)
    )
    family = sa.case(
        *((timers.c.kind.like(f"{name}.%"), name) for name in WATCHED_TIMERS), else_=""
    )
    due = (
        sa.select(family, sa.func.count())
        .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
        .group_by(family)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(depth)).all()
        dialogs = (
            await connection.execute(sa.select(sa.func.count()).select_from(tables.dialogs))
        ).scalar_one()
        timer_rows = (await connection.execute(due)).all()
        alive = (
            await connection.execute(
                sa.select(sa.func.count())
                .select_from(tables.replicas)
                .where(tables.replicas.c.heartbeat_at >= alive_after)
            )
        ).scalar_one()
    counted = {name: 0 for name in WATCHED_TIMERS}
    counted.update({str(name): int(n) for name, n in timer_rows if name})
    return Figures(
        outbox={(str(platform), str(status)): int(n) for platform, status, n in rows},
        dialogs=int(dialogs),
        timers_due=counted,
        replicas_alive=int(alive),
    )


async def tables_with_rows(engine: AsyncEngine) -> list[str]:
    """The schema's tables that hold at least one row (none where the schema is missing)."""

    def present(connection: sa.Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    async with engine.connect() as connection:
        existing = await connection.run_sync(present)
        found = []
        for table in tables.metadata.sorted_tables:
            if table.name not in existing:
                continue
            if (
                await connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1))
            ).first():
                found.append(table.name)
    return found
