"""Idle cost of a deferred backlog: a Telegram group whose budget is spent (issue 15, item 8).

One member floods a group: 100 answers are queued for it at once. Telegram allows
20 messages a minute in a group, so 20 go out and the other 80 wait their turn.
While they wait there is nothing to do, and the process should sleep.

The whole runtime path on the real clock: outbox rows in a SQLite file, the
runtime's `Wakeup` (APScheduler) driving the core's `Dispatcher`, our
`TelegramGateway` and the real python-telegram-bot, against the Bot API double
that enforces Telegram's limits (`tests/platform_doubles/telegram_api.py`), all in
this process. Measured over a window that starts once the first 20 are sent:
CPU seconds used by the process, the scheduler's wake-ups, and log lines at INFO.

    .venv/bin/python benchmarks/deferred_backlog.py [--answers 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apscheduler.events import EVENT_JOB_EXECUTED
from telegram import Bot

from adapters.telegram.gateway import TelegramGateway
from bot.bootstrap import build_registry
from bot.core import Samtal
from bot.delivery import DeliveryOptions
from bot.messages import OutgoingMessage, Span
from bot.outbox import enqueue
from samtal.clock import SystemClock
from samtal.runtime import Wakeup
from storage.database import Database, sqlite_url
from tests.platform_doubles.telegram_api import TelegramDouble

GROUP = "-1001000000001"


class Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def run(answers: int, seconds: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.INFO)  # what `samtal run` logs by default
    counting = Counting()
    logging.getLogger().addHandler(counting)
    for name in ("httpx", "httpcore"):  # as adapters/redaction.py sets them
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if handler is not counting:
            handler.setLevel(logging.ERROR)  # counted, not printed
    with tempfile.TemporaryDirectory() as folder:
        database = Database(sqlite_url(Path(folder) / "samtal.db"))
        await database.upgrade()
        double = TelegramDouble(enforce_limits=True)
        await double.start()
        bot = Bot(double.token, base_url=double.base_url)
        await bot.initialize()
        gateway = TelegramGateway(bot)
        clock = SystemClock()
        samtal = Samtal(
            database.unit_of_work,
            clock,
            build_registry(),
            {gateway.platform: gateway},
            delivery=DeliveryOptions(concurrency={gateway.platform: 8}),
        )
        await samtal.start()
        async with database.unit_of_work() as uow:
            for n in range(answers):
                await enqueue(
                    uow,
                    key=f"reply:flood:{n}",
                    platform=gateway.platform,
                    chat_id=GROUP,
                    direct=False,
                    message=OutgoingMessage((Span(f"Kommande möten ({n})"),)),
                    now=clock.now(),
                )
            await uow.commit()
        wakeup = Wakeup(samtal)
        wakeups = 0

        def count(_event: object) -> None:
            nonlocal wakeups
            wakeups += 1

        wakeup.scheduler.add_listener(count, EVENT_JOB_EXECUTED)
        wakeup.start()
        try:
            for _ in range(600):  # at most 30 s for the first 20 to go out
                if double.counts.accepted >= min(answers, 20):
                    break
                await asyncio.sleep(0.05)
            first = double.counts.accepted
            await asyncio.sleep(1.0)  # the first deferrals settle
            cpu, wall = time.process_time(), time.monotonic()
            wakeups, counting.count = 0, 0
            await asyncio.sleep(seconds)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            lines = counting.count
        finally:
            await wakeup.stop()
            await bot.shutdown()
            await double.stop()
            await database.dispose()
    print(f"{answers} answers queued for one group; {first} sent before the window")
    print(
        f"window {wall:.1f} s: CPU {cpu:.2f} s ({100 * cpu / wall:.1f}% of one core), "
        f"{wakeups} wake-ups ({wakeups / wall:.1f}/s), {lines} log lines at INFO, "
        f"{double.counts.accepted - first} more sent, 429s: {gateway.stats.rate_limited}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.answers, args.seconds))


if __name__ == "__main__":
    main()
