"""Telegram's rate limits: the limiter's rules on an injected clock, then the real
python-telegram-bot through our gateway against the double that enforces the limits
as Telegram does (no 429s, a spent chat never holds up the others, a 429 honoured)."""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa

from adapters.budget import Window
from adapters.telegram.gateway import MARK_LEAD, TelegramGateway
from adapters.telegram.limits import BudgetSpent, RateLimiter, Slot
from bot.bootstrap import build_registry
from bot.core import Samtal
from bot.delivery import DeliveryOptions
from bot.messages import OutgoingMessage, Span
from bot.outbox import enqueue
from bot.ports import DeliveryError
from samtal.clock import SystemClock
from storage import tables
from storage.database import Database
from tests.platform_doubles.telegram_api import TelegramDouble


class FakeTime:
    """A monotonic clock that moves only when the limiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(t: FakeTime, **kwargs: float) -> RateLimiter:
    return RateLimiter(clock=t, sleep=t.sleep, **kwargs)  # type: ignore[arg-type]


def take(limiter: RateLimiter, chat: str, **kwargs: bool | int) -> Slot:
    taken = limiter.try_take(chat, private=bool(kwargs.pop("private", True)), **kwargs)  # type: ignore[arg-type]
    assert isinstance(taken, Slot), taken
    return taken


def test_a_window_holds_a_slot_until_a_period_after_the_answer() -> None:
    window = Window(2, 1.0)
    window.take()
    window.take()
    assert window.wait(0.0) == 1.0  # both unanswered: not before a period from now
    window.release(0.5)  # answered at 0.5: its slot frees at 1.5, not at 1.0
    assert window.wait(0.6) == pytest.approx(0.9)
    assert window.wait(1.5) == 0.0
    assert window.wait(1.5, count=2) == 1.0  # the other one is still in flight
    window.release(1.6)
    assert window.wait(1.6, count=2) == pytest.approx(1.0)
    assert window.wait(2.6, count=2) == 0.0
    window.take()
    window.release(3.0, reached=False)  # never reached the server: frees at once
    assert window.held(3.0) == 0


def test_thirty_a_second_overall_across_chats() -> None:
    t = FakeTime()
    lim = limiter(t)
    for n in range(30):
        take(lim, str(n)).done()
    assert lim.try_take("31", private=True) == ("overall", 1.0)
    t.now += 0.999
    assert lim.try_take("31", private=True) == pytest.approx(("overall", 0.001))
    t.now += 0.001
    take(lim, "31")


async def test_a_short_wait_for_the_overall_budget_is_awaited() -> None:
    t = FakeTime()
    lim = limiter(t)
    for n in range(30):
        (await lim.acquire(str(n), private=True)).done()
    slot = await lim.acquire("31", private=True)
    assert t.slept == [1.0] and isinstance(slot, Slot)


async def test_a_spent_private_chat_is_handed_back_without_waiting() -> None:
    t = FakeTime()
    lim = limiter(t)
    for _ in range(3):  # a burst of three is allowed
        (await lim.acquire("7", private=True)).done()
    with pytest.raises(BudgetSpent) as spent:
        await lim.acquire("7", private=True)
    assert spent.value.scope == "chat" and spent.value.retry_after == 3.0
    assert t.slept == []
    (await lim.acquire("8", private=True)).done()  # other chats go on
    t.now += 3.0
    (await lim.acquire("7", private=True)).done()


async def test_twenty_a_minute_per_group() -> None:
    t = FakeTime()
    lim = limiter(t)
    for _ in range(20):
        (await lim.acquire("-100", private=False)).done()
        t.now += 0.1
    with pytest.raises(BudgetSpent) as spent:
        await lim.acquire("-100", private=False)
    assert spent.value.retry_after == pytest.approx(58.0)


async def test_a_message_starts_only_when_its_chat_has_room_for_all_its_parts() -> None:
    t = FakeTime()
    lim = limiter(t)
    (await lim.acquire("7", private=True)).done()
    t.now += 0.5
    with pytest.raises(BudgetSpent):  # three parts, two slots left
        await lim.acquire("7", private=True, burst=3)
    t.now += 2.5
    for part in range(3):
        (await lim.acquire("7", private=True, burst=3, first=part == 0)).done()
    # A part beyond the burst, once the message has begun, waits its turn instead.
    (await lim.acquire("7", private=True, burst=4, first=False)).done()
    assert t.slept == [3.0]


async def test_paid_broadcast_has_its_own_thousand_a_second() -> None:
    t = FakeTime()
    lim = limiter(t)
    for n in range(1000):
        take(lim, str(n), paid=True).done()
    assert lim.try_take("x", private=True, paid=True) == ("overall", 1.0)
    # Free messages keep to 30 a second, and to the total of 1000.
    assert lim.try_take("x", private=True) == ("overall", 1.0)
    t.now += 1.0
    for n in range(30):
        take(lim, f"f{n}").done()
    assert lim.try_take("y", private=True)[0] == "overall"  # type: ignore[index]
    take(lim, "y", paid=True).done()


async def test_a_429_pauses_everything_for_exactly_its_retry_after() -> None:
    t = FakeTime()
    lim = limiter(t, max_wait=2.0)
    lim.pause(5)
    with pytest.raises(BudgetSpent) as spent:
        await lim.acquire("1", private=True)
    assert spent.value.retry_after == 5.0 and t.slept == []
    t.now += 4.0
    slot = await lim.acquire("1", private=True)
    assert t.slept == [1.0] and t.now == 1005.0
    slot.done()


async def test_a_later_part_waits_out_a_pause() -> None:
    t = FakeTime()
    lim = limiter(t)
    lim.pause(30)
    (await lim.acquire("1", private=True, first=False)).done()
    assert t.slept == [30.0]


def test_replicas_share_the_budget() -> None:
    t = FakeTime()
    lim = limiter(t)
    lim.scale(1 / 2)
    assert lim.rule("overall") == (15, 1.0)
    assert lim.rule("paid") == (500, 1.0)
    assert lim.rule("group") == (10, 60.0)
    assert lim.rule("private") == (1, 3.0)
    for n in range(15):
        take(lim, str(n)).done()
    assert lim.try_take("x", private=True)[0] == "overall"  # type: ignore[index]
    lim.scale(1 / 40)  # fewer messages than replicas: one at a time, further apart
    assert lim.rule("overall") == pytest.approx((1, 4 / 3))
    with pytest.raises(ValueError):
        lim.scale(0)


def test_idle_chats_are_forgotten() -> None:
    t = FakeTime()
    lim = limiter(t, overall=(10**6, 1.0), paid_overall=(10**6, 1.0))  # type: ignore[arg-type]
    for n in range(5000):
        take(lim, str(n)).done()
        t.now += 0.01
    assert len(lim._chats) < 2100


def test_a_window_hands_over_the_slot_that_frees_first() -> None:
    window = Window(2, 1.0)
    assert window.reserve(0.0) == (0.0, None)
    assert window.reserve(0.0) == (0.0, None)
    assert window.reserve(0.1) is None  # both unanswered: no time to promise yet
    window.release(0.2)  # frees at 1.2
    window.release(0.3)  # frees at 1.3
    assert window.reserve(0.4) == (1.2, 1.2)  # promised to this request, to no other
    assert window.reserve(0.4) == (1.3, 1.3)
    assert window.reserve(0.5) is None
    window.release(0.6, reached=False, borrowed=1.3)  # not sent after all: frees at 1.3
    assert window.reserve(0.7) == (1.3, 1.3)
    window.release(1.25, borrowed=1.2)  # sent at 1.2, answered at 1.25
    assert window.wait(1.25) == pytest.approx(1.0)


async def test_sends_waiting_for_the_budget_go_in_turn_as_slots_free() -> None:
    t = FakeTime()
    lim = limiter(t, overall=(2, 1.0))  # type: ignore[arg-type]
    for chat in ("a", "b"):
        (await lim.acquire(chat, private=True)).done()
        t.now += 0.25
    first = await lim.reserve("c", private=True)
    second = await lim.reserve("d", private=True)
    assert (first.at, second.at) == (1001.0, 1001.25)
    second.done(reached=False)  # not sent after all: its slot frees when it would have
    third = await lim.reserve("e", private=True)
    assert third.at == 1001.25 and t.slept == []
    await first.wait(lead=0.1)  # e.g. for the start mark
    assert t.now == pytest.approx(1000.9)
    await first.wait()
    assert t.now == pytest.approx(1001.0)
    first.done()  # answered at once: frees a period later
    assert (await lim.reserve("f", private=True)).at == pytest.approx(1002.0)
    lim.max_wait = 0.5  # both slots promised, neither answered: not before a period
    with pytest.raises(BudgetSpent) as spent:
        await lim.reserve("g", private=True)
    assert spent.value.retry_after == 1.0


async def test_a_pause_after_a_reservation_hands_the_first_part_back() -> None:
    t = FakeTime()
    lim = limiter(t, max_wait=2.0)
    slot = await lim.reserve("1", private=True)
    lim.pause(5)
    with pytest.raises(BudgetSpent):
        await slot.wait()
    slot.done(reached=False)
    later = await lim.reserve("2", private=True, first=False)
    await later.wait()
    assert t.now == 1005.0


class VirtualTime:
    """Time that moves only when every task waits: many sends at once, without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._count += 1
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), self._count, future))
        await future

    async def run(self, tasks: list[asyncio.Task[None]]) -> None:
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let whatever is ready run first
                await asyncio.sleep(0)
            if self._timers:
                self.now, _, future = heapq.heappop(self._timers)
                future.set_result(None)
        for task in tasks:
            task.result()


@pytest.mark.parametrize("seed", range(6))
async def test_never_more_than_thirty_in_any_second_as_the_server_sees_them(seed: int) -> None:
    """Whatever the network delays each way: the server counts a request when it arrives,
    anywhere between its start and its answer."""
    rng = random.Random(seed)
    vt = VirtualTime()
    lim = RateLimiter(clock=vt, sleep=vt.sleep)
    arrived: list[float] = []
    slow = rng.choice([0.002, 0.05, 0.4])  # this run's network: loopback to a crowded one

    async def sender(worker: int) -> None:
        for n in range(60):
            slot = await lim.reserve(f"{worker}:{n}", private=True)
            try:
                await slot.wait(lead=0.1)
                await vt.sleep(rng.random() * 0.01)  # the start mark
                await slot.wait()
                there = rng.random() * slow * rng.choice([0.1, 1.0, 3.0])
                back = rng.random() * slow * rng.choice([0.1, 1.0, 3.0])
                await vt.sleep(there)
                arrived.append(vt.now)
                await vt.sleep(back)
            finally:
                slot.done()

    tasks = [asyncio.create_task(sender(worker)) for worker in range(rng.choice([1, 8, 40]))]
    await vt.run(tasks)
    arrived.sort()
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(arrived, arrived[30:], strict=False))
    # ... and not much slower than that: 30 per (1 s + the round trips).
    assert len(arrived) / (arrived[-1] - arrived[0]) > 30 / (1 + 10 * slow) - 1


# -- the real python-telegram-bot against the enforcing double -----------------------------


def hello(paid: bool = False) -> OutgoingMessage:
    return OutgoingMessage((Span("Hej & välkommen!"),), paid_broadcast=paid)


async def _gateway(double: TelegramDouble, lim: RateLimiter | None = None) -> TelegramGateway:
    from telegram import Bot

    await double.start()
    bot = Bot(double.token, base_url=double.base_url)
    await bot.initialize()
    return TelegramGateway(bot, lim)


async def test_many_chats_and_one_chat_repeatedly_without_a_429() -> None:
    # The limiter and the double count on one fake clock that moves only when the limiter
    # waits: the same outcome however busy the machine is (real HTTP, real library).
    t = FakeTime()
    double = TelegramDouble(enforce_limits=True, clock=t)
    gateway = await _gateway(double, limiter(t))
    try:
        handed_back = 0
        for n in range(45):
            assert await gateway.send(str(1000 + n), hello(), direct=True)
            # Meanwhile one chat gets a message with every round: its budget is spent
            # after three, and the send comes straight back rather than waiting.
            waits = len(t.slept)
            try:
                await gateway.send("77", hello(), direct=True)
            except DeliveryError as exc:
                assert exc.deferred and not exc.rate_limited and exc.retry_after
                assert t.slept[waits:] == []
                handed_back += 1
        assert double.counts.refused == 0 and double.refusals == []
        # 48 messages at 30 a second: the last ones wait for the first second's slots.
        assert t.now == pytest.approx(1001.0)
        to_77 = len(double.sent_to(77))
        assert to_77 == 3 and handed_back == 45 - to_77  # three in any three seconds
        assert double.counts.accepted == 45 + to_77
        assert gateway.stats.sent == 45 + to_77 and gateway.stats.deferred == handed_back
        assert gateway.stats.rate_limited == 0
        t.now += 3.0  # its budget back, chat 77's next message goes
        assert await gateway.send("77", hello(), direct=True)
        assert double.counts.refused == 0 and len(double.sent_to(77)) == 4
    finally:
        await gateway.bot.shutdown()
        await double.stop()


async def test_the_start_mark_is_written_while_the_slot_is_spent_and_the_request_after() -> None:
    from bot.sending import ClaimLost, _Sending, _sending

    t = FakeTime()  # shared by the limiter and the double (see above)
    double = TelegramDouble(enforce_limits=True, clock=t)
    gateway = await _gateway(double, limiter(t, overall=(1, 1.0)))
    marked: list[float] = []

    async def mark() -> None:
        marked.append(t())

    async def lost() -> None:
        raise ClaimLost("taken over")

    async def send_marked(chat: str, marker: Callable[[], Awaitable[None]]) -> None:
        token = _sending.set(_Sending(chat, marker))
        try:
            await gateway.send(chat, hello(), direct=True)
        finally:
            _sending.reset(token)

    try:
        await gateway.send("1", hello(), direct=True)
        with pytest.raises(ClaimLost):  # not sent: the slot goes back as it was
            await send_marked("2", lost)
        await send_marked("3", mark)
        first, second = double.accepted_at
        assert second - first == pytest.approx(1.0)  # a second after the first's answer
        assert second - marked[0] == pytest.approx(MARK_LEAD)  # marked while still spent
        assert [s.chat_id for s in double.sent] == [1, 3]
    finally:
        await gateway.bot.shutdown()
        await double.stop()


async def test_paid_broadcast_goes_past_thirty_a_second() -> None:
    double = TelegramDouble(enforce_limits=True)
    gateway = await _gateway(double)
    try:
        for n in range(60):
            await gateway.send(str(5000 + n), hello(paid=True), direct=True)
        assert double.counts.paid == 60 and double.counts.refused == 0
        sends = [params for method, params in double.calls if method == "sendMessage"]
        assert all(str(p["allow_paid_broadcast"]).lower() == "true" for p in sends)
    finally:
        await gateway.bot.shutdown()
        await double.stop()


async def test_a_429_is_counted_and_honoured() -> None:
    t = FakeTime()  # shared by the limiter and the double (see above)
    double = TelegramDouble(enforce_limits=True, clock=t)
    lim = limiter(t, max_wait=0.0)
    gateway = await _gateway(double, lim)
    try:
        double.force_429(1)
        with pytest.raises(DeliveryError) as limited:
            await gateway.send("1", hello(), direct=True)
        assert limited.value.rate_limited and limited.value.deferred
        assert limited.value.retry_after == 1.0  # exactly Telegram's
        assert gateway.stats.rate_limited == 1
        # Until the retry_after has passed nothing more is sent, to any chat.
        calls = len(double.calls)
        with pytest.raises(DeliveryError) as paused:
            await gateway.send("2", hello(), direct=True)
        assert paused.value.deferred and not paused.value.rate_limited
        assert 0 < (paused.value.retry_after or 0) <= 1.0
        assert len(double.calls) == calls
        lim.max_wait = 2.0  # a send allowed to wait goes out when the pause is over
        await gateway.send("2", hello(), direct=True)
        assert t.now == pytest.approx(1001.0)  # not a moment before the retry_after
        assert double.counts.early == 0 and double.counts.refused == 1
        assert [s.chat_id for s in double.sent] == [2]
    finally:
        await gateway.bot.shutdown()
        await double.stop()


async def test_the_enforcing_double_refuses_what_telegram_refuses() -> None:
    """Without our limiter, a bot meets the limits: 429 with retry_after, early retries seen."""
    from telegram import Bot
    from telegram.error import RetryAfter
    from telegram.request import HTTPXRequest

    # Its clock stands still: all 40 arrive within the same second, however slowly they
    # come on a busy machine.
    double = TelegramDouble(enforce_limits=True, clock=FakeTime())
    await double.start()
    bot = Bot(double.token, base_url=double.base_url, request=HTTPXRequest(connection_pool_size=64))
    await bot.initialize()
    try:
        for _ in range(3):
            await bot.send_message(9, "hej")
        with pytest.raises(RetryAfter):
            await bot.send_message(9, "hej")
        with pytest.raises(RetryAfter):  # sooner than it was told
            await bot.send_message(9, "hej")
        results = await asyncio.gather(
            *(bot.send_message(100 + n, "hej") for n in range(40)), return_exceptions=True
        )
        assert sum(isinstance(r, RetryAfter) for r in results) >= 10
        assert double.counts.accepted == 30  # the three to chat 9 count overall too
        # The retry to chat 9, and requests already on their way when the first 429 went out.
        assert double.counts.early >= 1
    finally:
        await bot.shutdown()
        await double.stop()


@pytest.mark.realtime
async def test_an_announcement_through_the_outbox_meets_no_429(database: Database) -> None:
    """The whole path on the real clock: outbox rows, the dispatcher (sending several at
    once), our gateway, the real python-telegram-bot, the enforcing double."""
    double = TelegramDouble(enforce_limits=True)
    gateway = await _gateway(double)
    clock = SystemClock()
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        {gateway.platform: gateway},
        delivery=DeliveryOptions(concurrency={gateway.platform: 8}),
    )
    chats = [str(3000 + n) for n in range(40)] + ["77"] * 4
    try:
        async with database.unit_of_work() as uow:
            for n, chat in enumerate(chats):
                message = OutgoingMessage((Span(f"Utskick {n}"),))
                await enqueue(
                    uow,
                    key=f"announcement:1:{n}",
                    platform=gateway.platform,
                    chat_id=chat,
                    direct=True,
                    message=message,
                    now=clock.now(),
                )
            await uow.commit()
        started = time.monotonic()
        while time.monotonic() - started < 20:
            await samtal.dispatcher.deliver_due()
            async with database.unit_of_work() as uow:
                upcoming = await uow.outbox.next_due([gateway.platform])
            if upcoming is None:
                break
            await asyncio.sleep(max(0.0, (upcoming - clock.now()).total_seconds()))
        assert double.counts.refused == 0 and double.counts.accepted == len(chats)
        assert [s.visible for s in double.sent_to(77)] == [f"Utskick {n}" for n in range(40, 44)]
        assert gateway.stats.deferred >= 1 and gateway.stats.rate_limited == 0
        o = tables.outbox.c
        async with database.engine.connect() as connection:
            rows = (await connection.execute(sa.select(o.status, o.attempts))).all()
        assert {(str(status), attempts) for status, attempts in rows} == {("sent", 0)}
    finally:
        await gateway.bot.shutdown()
        await double.stop()
