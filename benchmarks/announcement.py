"""Announcements at scale: the preview, queueing and progress for 100,000 recipients.

A scratch database gets the demo tree and N members (bulk inserts into the real
tables, spread over Sandviken and its associations, all on Telegram). Then a
fresh process does what /utskick and `samtal announce` do, through the real
code: counts the audience for the preview (`plan_audience`), queues the
announcement a chunk at a time (`queue_next`, as the timer and the command line
do), counts the progress (one indexed query on the outbox batch), and with
--deliver also lets the core's dispatcher send everything to a gateway that
only counts. That process reports each phase's time and its peak resident
memory (`ru_maxrss`).

    .venv/bin/python benchmarks/announcement.py                      # 100,000, SQLite
    .venv/bin/python benchmarks/announcement.py --people 20000 --deliver
    .venv/bin/python benchmarks/announcement.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._world import SinkGateway, bulk_people, org_id, scratch_database
from bot.announcements.model import Announcement, AnnouncementStatus, Audience
from bot.announcements.service import (
    Queued,
    plan_audience,
    queue_next,
)
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.context import Effects
from bot.core import Samtal
from bot.demo.seed import seed_demo
from bot.settings import Settings
from storage.database import Database

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
SETTINGS = Settings(paid_broadcast_orgs=("sandviken",), paid_broadcast_min_recipients=1000)


async def seed(database: Database, people: int) -> None:
    clock = VirtualClock(START)
    await seed_demo(database.unit_of_work, clock)
    orgs = [await org_id(database, slug) for slug in ("sandviken", "sandviken-centrum", "jarbo")]
    await bulk_people(database, count=people, org_ids=orgs, platform="telegram", now=START)


async def measure(url: str, deliver: bool) -> dict[str, object]:
    logging.disable(logging.WARNING)
    database = Database(url)
    clock = VirtualClock(START)
    figures: dict[str, object] = {}
    try:
        async with database.unit_of_work() as uow:
            sandviken = await uow.orgs.by_slug("sandviken")
            assert sandviken is not None and sandviken.id is not None
            began = time.perf_counter()
            plan = await plan_audience(
                Effects(uow, clock, SETTINGS), sandviken, Audience.MEMBERS, None
            )
            figures["preview_s"] = round(time.perf_counter() - began, 2)
            figures["recipients"] = plan.tally.direct
            figures["paid_broadcast"] = plan.paid
            figures["estimate_s"] = round(plan.seconds)
            announcement = await uow.announcements.add(
                Announcement(
                    sandviken.id,
                    "Medlemsmöte torsdag kl. 18 i Folkets hus!",
                    Audience.MEMBERS,
                    START,
                    status=AnnouncementStatus.QUEUEING,
                    paid_broadcast=plan.paid,
                    sent_at=START,
                )
            )
            await uow.commit()
        assert announcement.id is not None
        began = time.perf_counter()
        chunks = 0
        while True:
            async with database.unit_of_work() as uow:
                outcome = await queue_next(
                    Effects(uow, clock, SETTINGS), announcement.id, reschedule=False
                )
                await uow.commit()
            chunks += 1
            if outcome != Queued.MORE:
                break
        figures["queue_s"] = round(time.perf_counter() - began, 2)
        figures["queue_chunks"] = chunks
        async with database.unit_of_work() as uow:
            stored = await uow.announcements.get(announcement.id)
            assert stored is not None
            began = time.perf_counter()
            progress = await uow.announcements.progress(stored)
            figures["progress_query_ms"] = round((time.perf_counter() - began) * 1000, 1)
            figures["queued"] = progress.total
        if deliver:
            sink = SinkGateway("telegram")
            core = Samtal(
                database.unit_of_work, clock, build_registry(), {"telegram": sink}, SETTINGS
            )
            await core.start()
            began = time.perf_counter()
            await core.dispatcher.deliver_due()
            figures["deliver_s"] = round(time.perf_counter() - began, 1)
            figures["delivered"] = sink.sent
    finally:
        await database.dispose()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server for a scratch database"
    )
    parser.add_argument("--deliver", action="store_true", help="also deliver to a counting gateway")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(await measure(args.measure, args.deliver)))
        return 0
    async with scratch_database(args.postgres) as database:
        began = time.perf_counter()
        await seed(database, args.people)
        seeded = round(time.perf_counter() - began, 1)
        url = database.url.render_as_string(hide_password=False)
        command = [sys.executable, __file__, "--measure", url] + (
            ["--deliver"] if args.deliver else []
        )
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"announcement to {args.people:,} members on {backend} (seeded in {seeded} s)")
    for name, value in figures.items():
        print(f"  {name:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
