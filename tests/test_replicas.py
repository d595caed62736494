"""Several dispatchers on one database: claims with leases, takeover, deferral, the
scheduler lock, and the heartbeat that shares a platform's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.clock import VirtualClock
from bot.context import Effects
from bot.core import Samtal
from bot.delivery import LEASE, DeliveryOptions, Dispatcher
from bot.domain.delivery import OutboxEntry, OutboxStatus, Timer
from bot.messages import OutgoingMessage, message
from bot.outbox import enqueue
from bot.ports import DeliveryError
from bot.registry import Registry, always
from storage import tables
from storage.coordination import ReplicaRegistry, SchedulerLock
from storage.database import Database
from tests.conftest import START

PLATFORM = "test"


class Gateway:
    """Records what it sends; chats in `blocked` wait until released; `errors` come first."""

    platform = PLATFORM

    def __init__(self, errors: Iterable[DeliveryError] = (), together: int = 0) -> None:
        self.sent: list[tuple[str, str]] = []
        self.errors = list(errors)
        self.together = together  # the first sends wait until this many are under way
        self.crowd = asyncio.Event()
        self.blocked: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.in_flight = 0
        self.peak = 0

    def block(self, chat_id: str) -> None:
        self.blocked[chat_id] = asyncio.Event()
        self.entered[chat_id] = asyncio.Event()

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if chat_id in self.blocked:
                self.entered[chat_id].set()
                await self.blocked[chat_id].wait()
            if self.in_flight >= self.together:
                self.crowd.set()
            await asyncio.wait_for(self.crowd.wait(), 10)
            if self.errors:
                raise self.errors.pop(0)
            self.sent.append((chat_id, message.plain_text))
            return str(len(self.sent))
        finally:
            self.in_flight -= 1


def dispatcher(
    database: Database, clock: VirtualClock, gateway: Gateway, owner: str, concurrency: int = 1
) -> Dispatcher:
    options = DeliveryOptions(owner=owner, concurrency={PLATFORM: concurrency}, exclusive=False)
    return Dispatcher(database.unit_of_work, clock, {PLATFORM: gateway}, options)


async def queue(database: Database, *items: tuple[str, str]) -> None:
    async with database.unit_of_work() as uow:
        for n, (chat_id, text) in enumerate(items):
            await enqueue(
                uow,
                key=f"test:{chat_id}:{text}:{n}",
                platform=PLATFORM,
                chat_id=chat_id,
                direct=True,
                message=message(text),
                now=START,
            )
        await uow.commit()


async def entries(database: Database) -> list[OutboxEntry]:
    async with database.unit_of_work() as uow:
        found = [await uow.outbox.get(n) for n in range(1, 100)]
    return [entry for entry in found if entry is not None]


async def test_a_live_claim_is_never_taken_and_an_expired_one_is(database: Database) -> None:
    clock = VirtualClock(START)
    slow, other = Gateway(), Gateway()
    slow.block("anna")
    a = dispatcher(database, clock, slow, "replica-a")
    b = dispatcher(database, clock, other, "replica-b")
    await queue(database, ("anna", "1"), ("bertil", "2"), ("cecilia", "3"))

    running = asyncio.create_task(a.deliver_due())  # claims all three, hangs in the first call
    await slow.entered["anna"].wait()
    statuses = [e.status for e in await entries(database)]
    assert statuses == [OutboxStatus.SENDING, OutboxStatus.CLAIMED, OutboxStatus.CLAIMED]

    # B runs its check and delivers: A's claims are live, so B takes and sends nothing.
    assert await b.maintain() == 0
    assert await b.deliver_due() == 0
    # A renews while alive: B still takes nothing after more than a lease since the claim.
    clock.advance(LEASE - timedelta(seconds=1))
    await a.renew()
    clock.advance(timedelta(seconds=2))
    assert await b.maintain() == 0 and other.sent == []

    # A freezes (it no longer renews); once the lease has run out, B takes over.
    clock.advance(LEASE)
    assert await b.maintain() == 3
    assert (b.stats.uncertain, b.stats.requeued) == (1, 2)  # anna's call had started
    assert await b.deliver_due() == 3
    assert sorted(other.sent) == [("anna", "1"), ("bertil", "2"), ("cecilia", "3")]

    # A wakes up: its call to anna ends (that one duplicate is the documented window);
    # its other claims were taken over, so it does not send them.
    slow.blocked["anna"].set()
    assert await running == 1
    assert slow.sent == [("anna", "1")]
    assert a.stats.lost_claims == 2 and a.stats.sent == 0
    assert {e.status for e in await entries(database)} == {OutboxStatus.SENT}


async def test_claims_given_back_at_a_stop_go_to_another_replica_at_once(
    database: Database,
) -> None:
    clock = VirtualClock(START)
    slow, other = Gateway(), Gateway()
    slow.block("anna")
    a = dispatcher(database, clock, slow, "replica-a")
    b = dispatcher(database, clock, other, "replica-b")
    await queue(database, ("anna", "1"), ("bertil", "2"))
    running = asyncio.create_task(a.deliver_due())
    await slow.entered["anna"].wait()
    a.halt()  # a graceful stop: the call under way ends, bertil's claim is given back
    slow.blocked["anna"].set()
    assert await running == 1
    assert await b.deliver_due() == 1
    assert other.sent == [("bertil", "2")] and b.stats.requeued == 0


async def test_a_deferral_waits_as_asked_and_is_not_an_attempt(database: Database) -> None:
    clock = VirtualClock(START)
    gateway = Gateway(
        [
            DeliveryError("chat budget spent", deferred=True, retry_after=5),
            DeliveryError("429", rate_limited=True, retry_after=3),
        ]
    )
    d = dispatcher(database, clock, gateway, "solo")
    await queue(database, ("anna", "hej"))
    assert await d.deliver_due() == 0
    [entry] = await entries(database)
    assert entry.status is OutboxStatus.PENDING and entry.attempts == 0
    assert entry.not_before == START + timedelta(seconds=5)
    assert entry.started_at is not None  # this gateway does not report when its call starts
    clock.advance(timedelta(seconds=4.9))
    assert await d.deliver_due() == 0 and gateway.errors  # never sooner
    clock.advance(timedelta(seconds=0.1))
    assert await d.deliver_due() == 0  # the 429
    clock.advance(timedelta(seconds=3))
    assert await d.deliver_due() == 1
    [entry] = await entries(database)
    assert entry.status is OutboxStatus.SENT and entry.attempts == 0
    assert (d.stats.deferred, d.stats.rate_limited, d.stats.retried) == (2, 1, 0)


async def test_a_deferred_chat_keeps_its_order_and_holds_up_no_one_else(
    database: Database,
) -> None:
    clock = VirtualClock(START)
    gateway = Gateway([DeliveryError("chat budget spent", deferred=True, retry_after=1)])
    d = dispatcher(database, clock, gateway, "solo", concurrency=4)
    await queue(database, ("anna", "1"), ("anna", "2"), ("bertil", "3"), ("anna", "4"))
    assert await d.deliver_due() == 1  # anna's first was deferred: her later ones wait
    assert gateway.sent == [("bertil", "3")]
    clock.advance(timedelta(seconds=1))
    assert await d.deliver_due() == 3
    assert gateway.sent[1:] == [("anna", "1"), ("anna", "2"), ("anna", "4")]


async def test_a_slow_chat_holds_up_no_one_and_sends_run_side_by_side(
    database: Database,
) -> None:
    clock = VirtualClock(START)
    gateway = Gateway(together=8)
    gateway.block("slow")
    d = dispatcher(database, clock, gateway, "solo", concurrency=8)
    await queue(database, ("slow", "0"), *((f"chat{n}", str(n)) for n in range(40)))
    running = asyncio.create_task(d.deliver_due())
    for _ in range(500):
        if len(gateway.sent) == 40:
            break
        await asyncio.sleep(0.01)
    assert len(gateway.sent) == 40 and not running.done()  # all but the slow chat
    assert gateway.peak == 8  # as many at once as allowed, never more
    gateway.blocked["slow"].set()
    assert await running == 41


async def test_a_gateway_that_reports_its_call_marks_only_calls_that_started(
    database: Database,
) -> None:
    from bot.delivery import platform_call_starting

    class Reporting(Gateway):
        reports_call_start = True

        async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
            if chat_id == "spent":  # the limiter said no before any request: nothing sent
                raise DeliveryError("budget spent", deferred=True, retry_after=1)
            await platform_call_starting()
            await platform_call_starting()  # a second request of the same message
            return await super().send(chat_id, message, direct=direct)

    clock = VirtualClock(START)
    d = dispatcher(database, clock, Reporting(), "solo")
    await queue(database, ("spent", "1"), ("anna", "2"))
    assert await d.deliver_due() == 1
    spent, sent = await entries(database)
    assert spent.status is OutboxStatus.PENDING and spent.started_at is None
    assert sent.status is OutboxStatus.SENT and sent.started_at == START


async def test_only_the_process_that_runs_timers_runs_them_and_the_start_up_work(
    database: Database,
) -> None:
    ran: list[str] = []
    registry = Registry()

    async def arm(fx: Effects) -> None:
        ran.append("start-up")
        await fx.schedule("tick", "tick", fx.now)

    async def tick(fx: Effects, timer: Timer) -> None:
        ran.append(timer.key)

    registry.startup(arm)
    registry.timer("tick", tick, useful_until=always)
    holder = {"lock": False}
    samtal = Samtal(
        database.unit_of_work,
        VirtualClock(START),
        registry,
        delivery=DeliveryOptions(exclusive=False),
        runs_timers=lambda: holder["lock"],
    )
    await samtal.start()
    await samtal.run_due()
    assert ran == [] and await samtal.next_due() is None
    holder["lock"] = True  # this replica took the scheduler over
    await samtal.run_due()
    await samtal.run_due()
    assert ran == ["start-up", "tick"]


async def test_live_replicas_are_counted_by_their_heartbeats(database: Database) -> None:
    replicas = ReplicaRegistry(database.engine)
    alive = timedelta(seconds=15)
    assert await replicas.beat("a", START, START - alive) == 1
    assert await replicas.beat("b", START, START - alive) == 2
    later = START + timedelta(seconds=20)
    assert await replicas.beat("a", later, later - alive) == 1  # b stopped beating
    await replicas.leave("a")
    async with database.engine.connect() as connection:
        left = await connection.scalar(sa.select(sa.func.count()).select_from(tables.replicas))
    assert left == 1  # b's row stays until it is forgotten (an hour)


async def test_one_process_holds_the_scheduler_lock_and_another_takes_it_over(
    database: Database,
) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has one process and no scheduler lock")
    first, second = SchedulerLock(database.url), SchedulerLock(database.url)
    try:
        assert await first.refresh() is True
        assert await second.refresh() is False  # only one wins
        assert await first.refresh() is True  # still held: the check keeps it
        # The holder's connection dies (as when its process is killed or the network goes).
        async with database.engine.connect() as admin:
            await admin.execute(
                sa.text(  # only in this test's own database: others may run replicas
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": 0x53_61_6D_74},
            )
        assert await first.refresh() is False  # it notices and stops running timers
        for _ in range(100):  # the next retries (every few seconds in production)
            if await second.refresh():
                break
            await asyncio.sleep(0.1)
        assert second.held and not first.held
        assert await first.refresh() is False
    finally:
        await first.dispose()
        await second.dispose()


def test_every_replica_accepts_the_same_telegram_webhook_secret() -> None:
    import re

    from samtal.platforms import webhook_secret

    token = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
    secret = webhook_secret(token)
    assert secret == webhook_secret(token)  # the same in every replica, at every start
    assert secret != webhook_secret("654321:another-bot") and token not in secret
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)  # what Telegram accepts


async def test_answers_go_before_an_announcement_queued_earlier(database: Database) -> None:
    clock = VirtualClock(START)
    gateway = Gateway()
    d = dispatcher(database, clock, gateway, "solo")
    async with database.unit_of_work() as uow:
        for n in range(3):
            await enqueue(
                uow,
                key=f"announcement:1:p{n}",
                platform=PLATFORM,
                chat_id=f"member{n}",
                direct=True,
                message=message("news"),
                now=START,
                batch="announcement:1",
            )
        await uow.commit()
    await queue(database, ("anna", "your answer"), ("member1", "a reminder"))
    assert await d.deliver_due() == 5
    # Answers and reminders first, member1's too: her copy of the news, queued before it,
    # has not reached her yet, so it waits its turn rather than holding up the reminder.
    assert gateway.sent[:2] == [("anna", "your answer"), ("member1", "a reminder")]
    assert [text for chat, text in gateway.sent if chat == "member1"] == ["a reminder", "news"]
