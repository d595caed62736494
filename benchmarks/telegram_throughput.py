"""Benchmark 1: announcement throughput against a Telegram Bot API double that enforces
Telegram's limits (30 messages a second overall, 1000 with paid broadcast; see
tests/platform_doubles/telegram_api.py), side by side with python-telegram-bot's own
AIORateLimiter sending the same messages to the same double.

    .venv/bin/python benchmarks/telegram_throughput.py [--chats 900] [--paid 1000] [--concurrency N]
        [--paid-only] [--request aiohttp|httpx|both]

Runs, each against a fresh double on loopback, in a process of its own (so that the
double's work does not slow the sender down):

- samtal: the announcement is written to the outbox with `enqueue` (one row per private
  chat, a real SQLite database), then the core's Dispatcher (whatever bot/delivery/dispatcher.py does
  now, with the delivery options a process on SQLite runs with, or `--concurrency`)
  delivers it through our TelegramGateway and the real python-telegram-bot;
- samtal gateway only: the same TelegramGateway fed by a few tasks without the outbox
  (what the gateway and its limiter reach when the dispatcher is not the bottleneck);
- AIORateLimiter: an ExtBot built by ApplicationBuilder with `AIORateLimiter(max_retries=5)`
  sends the same messages, all at once (asyncio.gather), as its documentation suggests;
- the same two with `allow_paid_broadcast` (Telegram's 1000 a second).

The samtal runs send through python-telegram-bot on aiohttp, as `samtal run` does
(adapters/telegram/request.py); `--request httpx` uses python-telegram-bot's default
HTTPXRequest instead, `both` runs them one after the other. "CPU ms/msg" is this process's
CPU (user and system) while sending, over the messages delivered; set-up is left out, and
the double runs in a process of its own, so it is the sender's CPU alone.

"Share of the limit": how close a run came to the fastest the limit allows. A sliding
window of L messages a second accepts N messages in no less than ceil(N / L) - 1 seconds
(L at once, then L more each second), from the first message to the last as the double
saw them; the share is that over the span the run took. (Where N fits in one second, it
is the rate over L.) msg/s is (N - 1) over the span. 429s are as the double counted them.

For the samtal outbox run at 30/s a second line says where each slot's round went
(p50 / p90 / mean, in ms): from the time its slot freed (or the send's turn, if later)
to the request's start ("late": timers and the event loop), from the start to the double counting it
("there"), from then to the answer seen here ("back"); the gap between a message and
the one a limit later as the double saw them ("round", at least 1 s: the limiter holds a
slot until a second after the answer); and how long the first L took to go out ("first
L"), which every later round inherits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.platform_doubles is not an installed package

from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import AIORateLimiter, ApplicationBuilder  # noqa: E402

from adapters.telegram.app import bot_request  # noqa: E402
from adapters.telegram.gateway import TelegramGateway  # noqa: E402
from adapters.telegram.limits import RateLimiter, Slot  # noqa: E402
from adapters.telegram.translate import PLATFORM, chunks_of  # noqa: E402
from bot.bootstrap import build_registry  # noqa: E402
from bot.core import Samtal  # noqa: E402
from bot.delivery import DeliveryOptions  # noqa: E402
from bot.messages import OutgoingMessage, Span, bold  # noqa: E402
from bot.outbox import enqueue  # noqa: E402
from bot.ports import DeliveryError  # noqa: E402
from samtal.clock import SystemClock  # noqa: E402
from samtal.replication import Replication  # noqa: E402
from storage.database import Database, sqlite_url  # noqa: E402
from tests.platform_doubles.telegram_api import LIMITS, TelegramDouble  # noqa: E402

FIRST_CHAT = 10_000_000
RUN_LIMIT = 600.0  # seconds: a run that has not finished by then stops and says so


def announcement(paid: bool) -> OutgoingMessage:
    return OutgoingMessage(
        (
            bold("Kongressen flyttas till Malmö"),
            Span(
                "\nÅrets kongress hålls den 14–16 maj i Malmö i stället för i Göteborg. "
                "Anmälan öppnar på måndag; ombud får resan betald. Frågor? Svara här."
            ),
        ),
        paid_broadcast=paid,
    )


@dataclass
class Result:
    name: str
    messages: int
    seconds: float  # from the first accepted message to the last
    delivered: int
    refused: int  # 429s
    early: int  # of those, during a flood wait already announced
    limit: int  # messages a second
    cpu: float  # seconds of this process's CPU while sending (the double runs apart)
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (chat, as the double saw)

    @property
    def rate(self) -> float:
        return (self.delivered - 1) / self.seconds if self.seconds > 0 else float("inf")

    @property
    def share(self) -> float:
        """The fastest the limit allows over what the run took (see the module's note)."""
        fastest = math.ceil(self.delivered / self.limit) - 1
        if fastest < 1 or self.seconds <= 0:
            return self.rate / self.limit
        return fastest / self.seconds


@dataclass(frozen=True)
class Remote:
    """The double in its own process: where it listens; its counts come when it stops."""

    token: str
    base_url: str


async def serve_double() -> None:
    """The child: runs an enforcing double until its standard input closes, then prints
    what it accepted and refused as one JSON line."""
    double = TelegramDouble(enforce_limits=True)
    await double.start()
    print(json.dumps({"token": double.token, "base_url": double.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await double.stop()
    # `sent` and `accepted_at` grow together (one send accepted, then recorded).
    chats = [sent.chat_id for sent in double.sent]
    report = {"counts": asdict(double.counts), "accepted_at": double.accepted_at, "chats": chats}
    print(json.dumps(report))


async def _with_double(
    name: str, messages: int, paid: bool, send: Callable[[Remote], Awaitable[float]]
) -> Result:
    """`send` sends the messages and returns the CPU seconds that took (set-up left out)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-double",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**26,  # the double's report is one JSON line, longer with more messages
    )
    assert child.stdin is not None and child.stdout is not None
    cpu = 0.0
    try:
        cpu = await send(Remote(**json.loads(await child.stdout.readline())))
    finally:
        child.stdin.close()
        report = json.loads(await child.stdout.readline())
        await child.wait()
    counts, times = report["counts"], report["accepted_at"]
    return Result(
        name,
        messages,
        times[-1] - times[0] if len(times) > 1 else 0.0,
        counts["accepted"],
        counts["refused"],
        counts["early"],
        LIMITS["paid" if paid else "overall"][0],
        cpu,
        list(zip(report["chats"], times, strict=False)),
    )


class Timeline:
    """When each chat's send had its slot, started its request and saw the answer."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, float]] = {}

    def note(self, chat_id: str, name: str, at: float | None = None) -> None:
        self.events.setdefault(chat_id, {})[name] = time.monotonic() if at is None else at


class TimedLimiter(RateLimiter):
    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    async def reserve(
        self, chat_id: str, *, private: bool, paid: bool = False, burst: int = 1, first: bool = True
    ) -> Slot:
        slot = await super().reserve(chat_id, private=private, paid=paid, burst=burst, first=first)
        self.timeline.note(chat_id, "turn", max(slot.at, time.monotonic()))
        return slot


class TimedGateway(TelegramGateway):
    """Our gateway, noting when each request starts and its answer comes back."""

    def __init__(self, bot: Any, timeline: Timeline) -> None:
        super().__init__(bot, TimedLimiter(timeline))
        self.timeline = timeline

    async def _request(
        self, chat_id: str, call: Callable[[], Awaitable[Any]], **kwargs: Any
    ) -> Any:
        async def timed() -> Any:
            self.timeline.note(chat_id, "start")
            try:
                return await call()
            finally:
                self.timeline.note(chat_id, "answer")

        return await super()._request(chat_id, timed, **kwargs)


def _spread(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    p50, p90 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)]
    return f"{1000 * p50:.1f} / {1000 * p90:.1f} / {1000 * sum(ordered) / len(ordered):.1f}"


def breakdown(result: Result, timeline: Timeline) -> None:
    """Where each slot's round went (see the module's note)."""
    rows = []
    for chat, arrived in sorted(result.arrivals, key=lambda pair: pair[1]):
        seen = timeline.events.get(str(chat), {})
        if {"turn", "start", "answer"} <= seen.keys():
            rows.append((arrived, seen))
    limit = result.limit
    if len(rows) <= limit:
        return
    late = [seen["start"] - seen["turn"] for _, seen in rows[limit:]]
    there = [arrived - seen["start"] for arrived, seen in rows]
    back = [seen["answer"] - arrived for arrived, seen in rows]
    rounds = [rows[n][0] - rows[n - limit][0] for n in range(limit, len(rows))]
    print(
        f"  {'':<30} late {_spread(late)}, there {_spread(there)}, back {_spread(back)}, "
        f"round {_spread(rounds)} ms; first {limit}: {1000 * (rows[limit - 1][0] - rows[0][0]):.0f} ms"
    )


def _bot_builder(double: Remote, request: str = "httpx") -> ApplicationBuilder:  # type: ignore[type-arg]
    """python-telegram-bot's own (httpx), or the aiohttp requests `samtal run` uses."""
    builder = ApplicationBuilder().token(double.token).base_url(double.base_url)
    return builder.request(bot_request()) if request == "aiohttp" else builder


def delivery_options(
    database: Database, clock: SystemClock, concurrency: int | None
) -> DeliveryOptions:
    """What `samtal run` delivers with on this database, or the given concurrency."""
    options = Replication(database, clock).delivery_options()
    if concurrency is not None:
        options = replace(options, concurrency={PLATFORM: concurrency})
    print(f"  samtal: {options.concurrency.get(PLATFORM, 1)} Telegram sends in flight at most")
    return options


async def samtal_run(
    chats: Sequence[int],
    paid: bool,
    concurrency: int | None,
    timeline: Timeline | None = None,
    request: str = "aiohttp",
) -> Result:
    """The outbox and the core's dispatcher, on a real SQLite database."""

    async def send(double: Remote) -> float:
        application = _bot_builder(double, request).build()
        await application.initialize()
        gateway = TimedGateway(application.bot, timeline or Timeline())
        with tempfile.TemporaryDirectory(prefix="samtal-bench-") as folder:
            database = Database(sqlite_url(Path(folder) / "bench.db"))
            await database.upgrade()
            clock = SystemClock()
            samtal = Samtal(
                database.unit_of_work,
                clock,
                build_registry(),
                {gateway.platform: gateway},
                delivery=delivery_options(database, clock, concurrency),
            )
            message = announcement(paid)
            async with database.unit_of_work() as uow:
                for chat in chats:
                    await enqueue(
                        uow,
                        key=f"bench:announcement:{chat}",
                        platform=gateway.platform,
                        chat_id=str(chat),
                        direct=True,
                        message=message,
                        now=clock.now(),
                    )
                await uow.commit()
            started, cpu = time.monotonic(), time.process_time()
            while time.monotonic() - started < RUN_LIMIT:
                if not await samtal.dispatcher.deliver_due():
                    async with database.unit_of_work() as uow:
                        upcoming = await uow.outbox.next_due([gateway.platform])
                    if upcoming is None:
                        break
                    await asyncio.sleep(0.05)
            cpu = time.process_time() - cpu
            async with database.unit_of_work() as uow:
                left = await uow.outbox.next_due([gateway.platform])
            if left is not None:
                print(f"  (samtal: stopped after {RUN_LIMIT:.0f} s with messages left)")
            stats = gateway.stats
            print(
                f"  samtal gateway: sent {stats.sent}, deferred {stats.deferred}, "
                f"429s {stats.rate_limited}"
            )
            await database.dispose()
        await application.shutdown()
        return cpu

    return await _with_double(f"samtal (outbox + Dispatcher, {request})", len(chats), paid, send)


async def gateway_run(
    chats: Sequence[int], paid: bool, tasks: int = 8, request: str = "aiohttp"
) -> Result:
    """Our gateway alone: a few tasks send in turn, a deferred message waits and goes again."""

    async def send(double: Remote) -> float:
        application = _bot_builder(double, request).build()
        await application.initialize()
        gateway = TelegramGateway(application.bot)
        message = announcement(paid)
        queue = list(reversed(chats))

        async def worker() -> None:
            while queue:
                chat = queue.pop()
                try:
                    await gateway.send(str(chat), message, direct=True)
                except DeliveryError as exc:
                    if not exc.deferred:
                        raise
                    await asyncio.sleep(exc.retry_after or 1.0)
                    queue.append(chat)

        cpu = time.process_time()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(tasks))), RUN_LIMIT)
        cpu = time.process_time() - cpu
        stats = gateway.stats
        print(
            f"  gateway only: sent {stats.sent}, deferred {stats.deferred}, "
            f"429s {stats.rate_limited}"
        )
        await application.shutdown()
        return cpu

    return await _with_double(
        f"samtal gateway only ({tasks} tasks, {request})", len(chats), paid, send
    )


async def aiorate_run(chats: Sequence[int], paid: bool) -> Result:
    """python-telegram-bot's AIORateLimiter, every message handed to it at once."""

    async def send(double: Remote) -> float:
        application = _bot_builder(double).rate_limiter(AIORateLimiter(max_retries=5)).build()
        await application.initialize()
        (chunk,) = chunks_of(announcement(paid))

        async def one(chat: int) -> None:
            await application.bot.send_message(
                chat, chunk.html, parse_mode=ParseMode.HTML, allow_paid_broadcast=paid or None
            )

        cpu = time.process_time()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(chat) for chat in chats), return_exceptions=True), RUN_LIMIT
        )
        cpu = time.process_time() - cpu
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            print(f"  AIORateLimiter: {len(failed)} not delivered, e.g. {failed[0]!r}")
        await application.shutdown()
        return cpu

    return await _with_double("AIORateLimiter", len(chats), paid, send)


def report(result: Result) -> None:
    print(
        f"  {result.name:<30} {result.delivered:>5}/{result.messages} in {result.seconds:6.1f} s"
        f"  {result.rate:7.1f} msg/s  {100 * result.share:5.1f}% of {result.limit}/s"
        f"  429s: {result.refused} (during a flood wait: {result.early})"
        f"  CPU {1000 * result.cpu / max(result.delivered, 1):.2f} ms/msg"
    )


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=900, help="private chats, free runs")
    parser.add_argument("--paid", type=int, default=1000, help="private chats, paid runs")
    parser.add_argument("--serve-double", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--concurrency", type=int, help="Telegram sends in flight (default: as `samtal run`)"
    )
    parser.add_argument(
        "--paid-only", action="store_true", help="only the paid broadcast runs (1000/s)"
    )
    parser.add_argument(
        "--request",
        choices=["aiohttp", "httpx", "both"],
        default="aiohttp",
        help="the samtal runs' HTTP client: aiohttp as `samtal run` (adapters/telegram/"
        "request.py), python-telegram-bot's default httpx, or both one after the other",
    )
    args = parser.parse_args(argv)
    if args.serve_double:
        await serve_double()
        return
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # its 429s are counted here
    free = list(range(FIRST_CHAT, FIRST_CHAT + args.chats))
    paid = list(range(FIRST_CHAT, FIRST_CHAT + args.paid))
    requests = ["httpx", "aiohttp"] if args.request == "both" else [args.request]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if not args.paid_only:
        print(f"An announcement to {args.chats} private chats (limit 30/s):")
        for request in requests:
            timeline = Timeline()
            result = await samtal_run(free, False, args.concurrency, timeline, request)
            report(result)
            breakdown(result, timeline)
            report(await gateway_run(free, False, request=request))
        report(await aiorate_run(free, paid=False))
    print(f"With paid broadcast, to {args.paid} private chats (limit 1000/s):")
    for request in requests:
        report(await samtal_run(paid, True, args.concurrency, request=request))
        report(await gateway_run(paid, True, request=request))
    report(await aiorate_run(paid, paid=True))


if __name__ == "__main__":
    asyncio.run(main())
