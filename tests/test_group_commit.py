"""Start marks and results of concurrent sends share transactions (bot/group_commit.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.delivery import OutboxStatus
from bot.group_commit import GroupCommit
from bot.messages import message
from bot.outbox import enqueue
from bot.ports import UnitOfWork
from storage.database import Database
from tests.conftest import START

UNTIL = START + timedelta(seconds=20)


async def _claimed(database: Database, chats: int, claim: int) -> list[int]:
    """`chats` queued entries, one a chat, the first `claim` of them claimed by "me"."""
    async with database.unit_of_work() as uow:
        for n in range(chats):
            await enqueue(
                uow,
                key=f"t:{n}",
                platform="console",
                chat_id=f"chat{n}",
                direct=True,
                message=message(f"hej {n}"),
                now=START,
            )
        await uow.commit()
    async with database.unit_of_work() as uow:
        claimed = await uow.outbox.claim_due(START, claim, ["console"], owner="me", until=UNTIL)
        await uow.commit()
        entries = [await uow.outbox.by_key(f"t:{n}") for n in range(chats)]
    assert len(claimed) == claim
    return [e.id for e in entries if e is not None and e.id is not None]


async def _statuses(database: Database, ids: list[int]) -> list[OutboxStatus]:
    async with database.unit_of_work() as uow:
        entries = [await uow.outbox.get(i) for i in ids]
        return [e.status for e in entries if e is not None]


async def test_concurrent_start_marks_share_one_transaction_each_with_its_own_answer(
    database: Database,
) -> None:
    ids = await _claimed(database, chats=5, claim=4)
    claimed = [i for i in ids if (await _statuses(database, [i]))[0] is OutboxStatus.CLAIMED]
    writes = GroupCommit(database.unit_of_work)

    def mark(entry_id: int):  # type: ignore[no-untyped-def]
        return lambda uow: uow.outbox.start_call(entry_id, "me", START, UNTIL)

    answers = await asyncio.gather(*(writes.run(mark(i)) for i in ids))
    assert answers == [i in claimed for i in ids]  # the entry nobody claimed is not marked
    assert writes.transactions == 1
    statuses = await _statuses(database, ids)
    assert statuses.count(OutboxStatus.SENDING) == 4  # committed before the answers came

    sent = await asyncio.gather(
        *(writes.run(lambda uow, i=i: uow.outbox.mark_sent(i, START, f"m{i}")) for i in claimed)
    )
    assert sent == [True] * 4 and writes.transactions == 2
    assert await _statuses(database, claimed) == [OutboxStatus.SENT] * 4


async def test_a_failing_write_fails_only_its_own_caller(database: Database) -> None:
    ids = await _claimed(database, chats=2, claim=2)
    writes = GroupCommit(database.unit_of_work)

    async def broken(uow: UnitOfWork) -> bool:
        raise RuntimeError("broken write")

    answers = await asyncio.gather(
        writes.run(lambda uow: uow.outbox.start_call(ids[0], "me", START, UNTIL)),
        writes.run(broken),
        writes.run(lambda uow: uow.outbox.start_call(ids[1], "me", START, UNTIL)),
        return_exceptions=True,
    )
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], RuntimeError)
    assert await _statuses(database, ids) == [OutboxStatus.SENDING] * 2
    with pytest.raises(RuntimeError):
        await writes.run(broken)  # alone, too
