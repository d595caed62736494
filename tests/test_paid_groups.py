"""Paid broadcasts go in groups (bot/delivery/dispatcher.py, `_deliver_group`): one statement writes
a group's start marks, committed before any of its requests, and one records the sent."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.clock import VirtualClock
from bot.delivery import GROUP, DeliveryOptions, Dispatcher
from bot.domain.delivery import OutboxEntry, OutboxStatus
from bot.messages import OutgoingMessage, Span
from bot.outbox import enqueue
from bot.ports import DeliveryError
from storage.database import Database
from tests.conftest import START

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = "console"
UNTIL = START + timedelta(seconds=20)
UNCERTAIN = re.compile(r"outbox entry \d+ \(([^)]*)\) is uncertain")


def paid(text: str) -> OutgoingMessage:
    return OutgoingMessage((Span(text),), paid_broadcast=True)


async def queue(database: Database, messages: list[tuple[str, OutgoingMessage]]) -> None:
    """One outbox entry per (chat, message), in this order, as an announcement queues them."""
    _queued[:] = [chat for chat, _ in messages]
    async with database.unit_of_work() as uow:
        for n, (chat, message) in enumerate(messages):
            await enqueue(
                uow,
                key=f"t:{n}",
                platform=PLATFORM,
                chat_id=chat,
                direct=True,
                message=message,
                now=START,
                batch="announcement:1" if message.paid_broadcast else None,
            )
        await uow.commit()


async def entries(database: Database) -> dict[str, OutboxEntry]:
    """The queued entries by the chat they were queued for (`queue`: key t:n for chat n).

    (A sent private message to nobody we know forgets its chat, as these are.)"""
    async with database.unit_of_work() as uow:
        found = [await uow.outbox.by_key(f"t:{n}") for n in range(len(_queued))]
    return {chat: entry for chat, entry in zip(_queued, found, strict=True) if entry is not None}


_queued: list[str] = []  # the chats `queue` queued for, in order


class CheckingGateway:
    """Sends after looking at the outbox from a transaction of its own: what is committed."""

    platform = PLATFORM

    def __init__(self, database: Database, failures: dict[str, DeliveryError] | None = None):
        self.database = database
        self.failures = dict(failures or {})
        self.sent: list[str] = []
        self.seen: list[dict[str, OutboxStatus]] = []  # every entry's status, at each send
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.seen.append({c: e.status for c, e in (await entries(self.database)).items()})
            await asyncio.sleep(0)  # others in flight meanwhile
            if chat_id in self.failures:
                raise self.failures.pop(chat_id)
            self.sent.append(chat_id)
            return f"m-{chat_id}"
        finally:
            self.in_flight -= 1


def dispatcher(database: Database, gateway: Any, concurrency: int = 4) -> Dispatcher:
    options = DeliveryOptions(owner="me", concurrency={PLATFORM: concurrency})
    return Dispatcher(database.unit_of_work, VirtualClock(START), {PLATFORM: gateway}, options)


def count_statements(database: Database) -> Counter[str]:
    """The start marks' and results' UPDATEs the engine runs from now on."""
    counts: Counter[str] = Counter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE outbox SET"):
            counts[
                "marks"
                if "started_at" in statement
                else "sent"
                if "sent_at" in statement
                else "other"
            ] += 1

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", before)
    return counts


async def test_a_groups_start_marks_are_committed_before_any_of_its_requests(
    database: Database,
) -> None:
    chats = [f"c{n}" for n in range(10)]
    await queue(database, [(chat, paid(f"hej {chat}")) for chat in chats])
    gateway = CheckingGateway(database)
    updates = count_statements(database)
    sender = dispatcher(database, gateway)

    assert await sender.deliver_due() == 10
    assert sorted(gateway.sent) == chats
    # At the first request already, every entry of the group was marked, durably.
    assert set(gateway.seen[0].values()) == {OutboxStatus.SENDING}
    assert 1 < gateway.most_in_flight <= 4  # side by side, within the platform's concurrency
    done = (await entries(database)).values()
    assert {e.status for e in done} == {OutboxStatus.SENT}
    assert {e.external_id for e in done} == {f"m-{chat}" for chat in chats}
    assert all(e.started_at is not None and e.sent_at is not None for e in done)
    assert sender.stats.sent == 10
    # One statement for the ten marks and one for the ten results.
    assert (updates["marks"], updates["sent"]) == (1, 1), updates


async def test_a_failure_in_the_middle_of_a_group_is_recorded_alone(database: Database) -> None:
    chats = [f"c{n}" for n in range(7)]
    await queue(database, [(chat, paid(f"hej {chat}")) for chat in chats])
    gateway = CheckingGateway(
        database,
        {
            "c2": DeliveryError("blocked", permanent=True),
            "c4": DeliveryError("budget spent", deferred=True, retry_after=5),
            "c5": DeliveryError("timeout"),
        },
    )
    sender = dispatcher(database, gateway)

    assert await sender.deliver_due() == 4
    by_chat = await entries(database)
    assert sorted(gateway.sent) == ["c0", "c1", "c3", "c6"]
    for chat in ("c0", "c1", "c3", "c6"):
        assert by_chat[chat].status is OutboxStatus.SENT
        assert by_chat[chat].external_id == f"m-{chat}"
    assert by_chat["c2"].status is OutboxStatus.FAILED
    assert by_chat["c4"].status is OutboxStatus.PENDING and by_chat["c4"].attempts == 0
    assert by_chat["c4"].not_before == START + timedelta(seconds=5)
    assert by_chat["c5"].status is OutboxStatus.PENDING and by_chat["c5"].attempts == 1
    assert all(by_chat[c].claimed_by is None for c in ("c2", "c4", "c5"))
    stats = sender.stats
    assert (stats.sent, stats.failed, stats.deferred, stats.retried) == (4, 1, 1, 1)


async def test_a_chat_gets_its_messages_in_order_one_at_a_time(database: Database) -> None:
    # An answer queued before two announcements to the same person, others in between.
    await queue(
        database,
        [
            ("anna", OutgoingMessage((Span("svar"),))),
            ("anna", paid("första")),
            ("bo", paid("första")),
            ("anna", paid("andra")),
            ("bo", paid("andra")),
            ("cia", paid("första")),
        ],
    )
    sent: list[tuple[str, str]] = []

    class Gateway:
        platform = PLATFORM

        def __init__(self) -> None:
            self.in_flight: set[str] = set()

        async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
            assert chat_id not in self.in_flight  # never two of one chat at once
            self.in_flight.add(chat_id)
            await asyncio.sleep(0)
            self.in_flight.discard(chat_id)
            sent.append((chat_id, message.plain_text))
            return "1"

    sender = dispatcher(database, Gateway())
    while await sender.deliver_due():
        pass
    assert [text for chat, text in sent if chat == "anna"] == ["svar", "första", "andra"]
    assert [text for chat, text in sent if chat == "bo"] == ["första", "andra"]
    assert len(sent) == 6


async def test_a_claim_taken_over_is_not_marked_and_a_send_recorded_elsewhere_stays(
    database: Database,
) -> None:
    await queue(database, [(f"c{n}", paid("hej")) for n in range(3)])
    async with database.unit_of_work() as uow:
        claimed = await uow.outbox.claim_due(START, 3, [PLATFORM], owner="me", until=UNTIL)
        await uow.commit()
    ids = [e.id for e in claimed if e.id is not None]
    async with database.unit_of_work() as uow:  # the last one is another process's now
        await uow.outbox.release(ids[2:], "me")
        await uow.outbox.claim_due(START, 1, [PLATFORM], owner="other", until=UNTIL)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.outbox.start_calls(ids, "me", START, UNTIL) == set(ids[:2])
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.outbox.mark_sent(ids[0], START, "elsewhere")
        await uow.commit()
    async with database.unit_of_work() as uow:
        recorded = await uow.outbox.mark_sent_many({ids[0]: "x", ids[1]: "y"}, START)
        await uow.commit()
    assert recorded == {ids[1]}  # the first was recorded as sent before: left as it was
    by_id = {e.id: e for e in (await entries(database)).values()}
    assert (by_id[ids[0]].external_id, by_id[ids[1]].external_id) == ("elsewhere", "y")
    assert by_id[ids[2]].status is OutboxStatus.CLAIMED and by_id[ids[2]].claimed_by == "other"


def _kill_during_group(database_url: str, chats: int, sent_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.crash_helper", database_url, "during-paid-group"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"SAMTAL_CRASH_CHATS": str(chats), "SAMTAL_CRASH_SENT": str(sent_file)},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


async def test_a_crash_between_marks_and_results_leaves_uncertain_entries_not_lost_ones(
    database: Database, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chats = GROUP + 6  # a full group and part of the next
    sent_file = tmp_path / "sent.json"
    _kill_during_group(database_url, chats, sent_file)
    before_kill = json.loads(sent_file.read_text())  # the chats whose request went out
    _queued[:] = [f"c{n}" for n in range(chats)]  # as the crashed process queued them
    left = (await entries(database)).items()
    sending = {chat for chat, e in left if e.status is OutboxStatus.SENDING}
    # The first group was marked as a whole before its requests (the second perhaps too),
    # and nothing was recorded as sent: every entry is claimed or sending.
    assert len(sending) >= GROUP and set(before_kill) <= sending
    assert {e.status for _, e in left} <= {OutboxStatus.SENDING, OutboxStatus.CLAIMED}

    gateway = CheckingGateway(database)
    restarted = dispatcher(database, gateway)
    assert await restarted.recover() == chats  # every claim of the dead process, at once
    assert restarted.stats.uncertain == len(sending)  # each logged with its key
    logged = (UNCERTAIN.search(r.getMessage()) for r in caplog.records)
    uncertain = {found.group(1) for found in logged if found}
    assert len(uncertain) == len(sending)
    while await restarted.deliver_due():
        pass
    got = Counter(before_kill) + Counter(gateway.sent)
    assert set(got) == {f"c{n}" for n in range(chats)}  # nobody missed
    twice = {chat for chat, n in got.items() if n > 1}
    by_chat = await entries(database)
    assert twice and {by_chat[chat].key for chat in twice} <= uncertain  # only uncertain ones
    assert max(got.values()) == 2
    assert {e.status for e in by_chat.values()} == {OutboxStatus.SENT}
