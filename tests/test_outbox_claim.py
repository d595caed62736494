"""Claiming from the outbox: each chat's order by its rules, read through the queue's indexes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.delivery import OutboxStatus
from storage import tables
from storage.database import Database
from tests.conftest import START

NOW = START.astimezone(UTC)
WAITING = (OutboxStatus.CLAIMED, OutboxStatus.SENDING)


def _claimable(rows: list[dict[str, Any]], platforms: set[str], limit: int) -> list[int]:
    """The rule of bot/delivery/__init__.py, entry by entry: due, and nothing earlier in its chat
    that is claimed, sending or not yet due (an answer may overtake an announcement's copy)."""

    def held_up_by(earlier: dict[str, Any]) -> bool:
        if earlier["status"] in WAITING:
            return True
        return earlier["status"] == OutboxStatus.PENDING and earlier["not_before"] > NOW

    due = [
        entry
        for entry in rows
        if entry["status"] == OutboxStatus.PENDING
        and entry["not_before"] <= NOW
        and entry["platform"] in platforms
        and not any(
            held_up_by(earlier)
            for earlier in rows
            if (earlier["platform"], earlier["chat_id"]) == (entry["platform"], entry["chat_id"])
            and earlier["id"] < entry["id"]
        )
    ]
    due.sort(key=lambda entry: (entry["batch"] is not None, entry["id"]))
    return [entry["id"] for entry in due[:limit]]


def _outbox(rng: random.Random, size: int) -> list[dict[str, Any]]:
    statuses = [OutboxStatus.PENDING] * 6 + list(OutboxStatus)
    return [
        {
            "id": n + 1,
            "key": f"k{n}",
            "platform": rng.choice(["telegram", "telegram", "discord"]),
            "chat_id": rng.choice(["a", "b", "c", "d", "e"]),
            "direct": True,
            "payload": {},
            "status": rng.choice(statuses),
            "attempts": 0,
            "created_at": NOW,
            "not_before": NOW + timedelta(minutes=rng.choice([-5, -5, -5, 0, 5])),
            "batch": rng.choice([None, None, "announcement:1", "announcement:2"]),
        }
        for n in range(size)
    ]


async def test_a_claim_takes_what_the_rule_allows_in_its_order(database: Database) -> None:
    rng = random.Random(7)
    for _ in range(40):
        rows = _outbox(rng, rng.randint(1, 30))
        async with database.engine.begin() as connection:
            await connection.execute(sa.delete(tables.outbox))
            await connection.execute(sa.insert(tables.outbox), rows)
        platforms = rng.choice([["telegram"], ["discord"], ["telegram", "discord"]])
        limit = rng.choice([1, 3, 16])
        async with database.unit_of_work() as uow:
            claimed = await uow.outbox.claim_due(
                NOW, limit, platforms, owner="test", until=NOW + timedelta(seconds=20)
            )
            ids = [entry.id for entry in claimed]
            await uow.rollback()
        assert ids == _claimable(rows, set(platforms), limit), rows


async def test_a_claim_reads_the_queue_through_its_indexes(database: Database) -> None:
    """Partial indexes serve a query only while it repeats their WHERE terms exactly: a
    claim that stopped matching them would sort the whole queue at every claim again."""
    rng = random.Random(3)
    rows = _outbox(rng, 200)
    for row in rows:
        row["chat_id"] = f"{row['chat_id']}{rng.randint(1, 40)}"
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(tables.outbox), rows)
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if "FOR UPDATE" in statement or "earlier" in statement:
            statements.append((statement, parameters))

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with database.unit_of_work() as uow:
            await uow.outbox.claim_due(
                NOW, 500, ["telegram"], owner="test", until=NOW + timedelta(seconds=20)
            )
            await uow.rollback()
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", grab)
    assert len(statements) == 2  # answers, then announcements
    plans = []
    async with database.engine.connect() as connection:
        if not database.is_sqlite:  # with no other way left, only a usable index does
            await connection.exec_driver_sql("SET enable_seqscan = off")
            await connection.exec_driver_sql("SET enable_sort = off")
            await connection.exec_driver_sql("SET enable_bitmapscan = off")
        prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        for statement, parameters in statements:
            result = await connection.exec_driver_sql(prefix + statement, parameters)
            plans.append(
                "\n".join(str(row[-1] if database.is_sqlite else row[0]) for row in result)
            )
        await connection.rollback()
    for plan, queue in zip(plans, ["ix_outbox_queue ", "ix_outbox_queue_batch "], strict=True):
        assert queue in plan + " " and "ix_outbox_chat" in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
        if not database.is_sqlite:
            assert "Seq Scan" not in plan and "SubPlan" in plan, plan


async def test_an_answer_goes_before_the_persons_own_announcement_copy(
    database: Database,
) -> None:
    # Someone presses a button while an announcement to 100,000 is on its way and their
    # copy has not gone yet: the answer must not wait an hour behind it.
    rows = _outbox(random.Random(1), 3)
    for n, row in enumerate(rows):
        row.update(status=OutboxStatus.PENDING, platform="telegram", chat_id=f"other{n}")
        row["batch"] = "announcement:1"
    copy = {**rows[0], "id": 4, "key": "announcement:1:p9", "chat_id": "anna"}
    answer = {**rows[0], "id": 5, "key": "answer", "chat_id": "anna", "batch": None}
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(tables.outbox), [*rows, copy, answer])
    async with database.unit_of_work() as uow:
        claimed = await uow.outbox.claim_due(
            NOW, 2, ["telegram"], owner="test", until=NOW + timedelta(seconds=20)
        )
        assert [entry.key for entry in claimed] == ["answer", rows[0]["key"]]
        await uow.rollback()


async def test_a_renewal_skips_rows_being_written_instead_of_waiting(database: Database) -> None:
    """A process renews its claims while its own results are being recorded in another
    transaction: it renews the rest and never waits (on PostgreSQL waiting deadlocked)."""
    until = NOW + timedelta(seconds=20)
    rows = [
        {
            "id": n,
            "key": f"r{n}",
            "platform": "telegram",
            "chat_id": str(n),
            "direct": True,
            "payload": {},
            "status": OutboxStatus.CLAIMED,
            "attempts": 0,
            "created_at": NOW,
            "not_before": NOW,
            "claimed_by": "a",
            "claimed_until": NOW,
        }
        for n in (1, 2, 3)
    ]
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(tables.outbox), rows)
        await uow.commit()
    async with database.unit_of_work() as writing:
        if database.engine.dialect.name == "postgresql":  # on SQLite writers take turns
            await writing.session.execute(
                sa.update(tables.outbox)
                .where(tables.outbox.c.id == 2)
                .values(status=OutboxStatus.SENT, claimed_until=None)
            )
            async with database.unit_of_work() as uow:
                renewed = await asyncio.wait_for(uow.outbox.renew("a", until, [1, 2, 3]), 5)
                await uow.commit()
            assert renewed == 2
            await writing.commit()
        else:
            async with database.unit_of_work() as uow:
                assert await uow.outbox.renew("a", until, [1, 2, 3]) == 3
                await uow.commit()
    async with database.unit_of_work() as uow:
        leases = dict(
            (
                await uow.session.execute(
                    sa.select(tables.outbox.c.id, tables.outbox.c.claimed_until)
                )
            )
            .tuples()
            .all()
        )
    assert leases[1] == leases[3] == until
