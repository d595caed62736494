"""Shared set-up for the core benchmarks (interactions.py, memory.py): a scratch database
with the real schema, the demo tree, and many people inserted in bulk.

Not a test double: the database is the real storage layer (SQLite file or a
PostgreSQL database of its own, created and dropped here), the people are
rows in the real tables, and everything afterwards goes through the core.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.membership.model import CONSENT_VERSION
from bot.messages import OutgoingMessage
from storage import tables
from storage.database import Database, sqlite_url
from tests.conftest import run_admin

CHUNK = 2000  # rows per bulk INSERT statement batch


@asynccontextmanager
async def scratch_database(postgres_url: str | None) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file in a temporary folder, or a PostgreSQL
    database of its own on the given server, dropped afterwards."""
    if postgres_url is None:
        with tempfile.TemporaryDirectory(prefix="samtal-bench-") as folder:
            database = Database(sqlite_url(Path(folder) / "bench.db"))
            try:
                await database.upgrade()
                yield database
            finally:
                await database.dispose()
        return
    name = f"samtal_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await run_admin(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        database = Database(url)
        try:
            await database.upgrade()
            yield database
        finally:
            await database.dispose()
    finally:
        await run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def org_id(database: Database, slug: str) -> int:
    async with database.engine.connect() as connection:
        found = await connection.scalar(
            sa.select(tables.organisations.c.id).where(tables.organisations.c.slug == slug)
        )
    assert found is not None, slug
    return int(found)


async def bulk_people(
    database: Database,
    *,
    count: int,
    org_ids: Sequence[int],
    platform: str,
    now: datetime,
    first: int = 0,
    status: str = "member",
    consented: bool = True,
) -> list[int]:
    """Inserts `count` people with an identity on `platform` (external id `str(1_000_000 + n)`),
    each affiliated with one of `org_ids` in turn and (by default) consented. Returns their ids."""
    naive = now.astimezone(UTC)  # UtcDateTime stores it as naive UTC
    ids: list[int] = []
    async with database.engine.begin() as connection:
        for start in range(first, first + count, CHUNK):
            numbers = range(start, min(start + CHUNK, first + count))
            rows = [
                {
                    "display_name": f"Medlem {n}",
                    "status": status,
                    "language": None,
                    "created_at": naive,
                    "last_seen_at": naive,
                }
                for n in numbers
            ]
            result = await connection.execute(
                sa.insert(tables.people).returning(
                    tables.people.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            chunk_ids = [int(row[0]) for row in result]
            ids.extend(chunk_ids)
            await connection.execute(
                sa.insert(tables.identities),
                [
                    {
                        "person_id": pid,
                        "platform": platform,
                        "external_id": external_id(n),
                        "username": f"medlem{n}",
                        "created_at": naive,
                        "last_seen_at": naive,
                    }
                    for pid, n in zip(chunk_ids, numbers, strict=True)
                ],
            )
            await connection.execute(
                sa.insert(tables.affiliations),
                [
                    {"person_id": pid, "org_id": org_ids[i % len(org_ids)], "since": naive}
                    for i, pid in enumerate(chunk_ids)
                ],
            )
            if consented:
                await connection.execute(
                    sa.insert(tables.consents),
                    [
                        {"person_id": pid, "version": CONSENT_VERSION, "given_at": naive}
                        for pid in chunk_ids
                    ],
                )
    return ids


def external_id(n: int) -> str:
    return str(1_000_000 + n)


class SinkGateway:
    """Accepts every message and keeps only a count: the network is not what is measured."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent = 0

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        self.sent += 1
        return str(self.sent)


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def summary(latencies: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
        "mean_ms": (statistics.fmean(ordered) if ordered else float("nan")) * 1000,
    }
