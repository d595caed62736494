"""Benchmark 3 of issue 7: peak memory with 100,000 members and 10,000 in the welcome flow.

The seeding process puts the demo tree, 100,000 members (bulk inserts into the
real tables; 10,000 of them new) and the welcome flows of the 10,000 new members
(started through the welcome capability's own code, so their step, reminder and
escalation timers and the member officers' notices are exactly what it creates,
the starts spread over the ten days before the run) into a scratch database.
Then a fresh process runs the core on it as the scheduler would: `Samtal.start()`
and `Samtal.run_due()` every virtual hour over five weeks, so every step of
every flow falls due, nightly housekeeping runs each night, and the outbox is
delivered to a gateway that only counts (the network is not what is measured).
That process reports its peak resident memory (`ru_maxrss`).

    .venv/bin/python benchmarks/memory.py                 # SQLite (a file)
    .venv/bin/python benchmarks/memory.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

Options: --members, --new, --days; --tracemalloc also reports Python's own peak
allocation (slower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._world import SinkGateway, bulk_people, org_id, scratch_database
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.context import Effects
from bot.core import Samtal
from bot.demo.seed import seed_demo
from bot.welcome import service as welcome
from bot.welcome.model import FlowStatus, WelcomeFlow
from storage import tables
from storage.database import Database
from storage.welcome import welcome_flows

PLATFORM = "telegram"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
HOMES = ("sandviken", "sandviken-centrum", "jarbo", "gavle", "gavle-syd")
FLOWS_PER_TRANSACTION = 200
RAMP_DAYS = 10  # the new members' welcomes start over the days before the run


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


async def seed(database: Database, members: int, new: int) -> None:
    clock = VirtualClock(START - timedelta(days=RAMP_DAYS))
    await seed_demo(database.unit_of_work, clock)
    homes = [await org_id(database, slug) for slug in HOMES]
    await bulk_people(
        database,
        count=members - new,
        org_ids=homes,
        platform=PLATFORM,
        now=START - timedelta(days=400),
    )
    newcomers = await bulk_people(
        database,
        count=new,
        org_ids=homes,
        platform=PLATFORM,
        now=clock.now(),
        first=members - new,
        status="guest",  # confirming the membership makes them members
    )
    # The welcome capability starts each flow: members confirmed a few hundred a day.
    for start in range(0, len(newcomers), FLOWS_PER_TRANSACTION):
        clock.set(
            START - timedelta(days=RAMP_DAYS) + (start / len(newcomers)) * timedelta(days=RAMP_DAYS)
        )
        async with database.unit_of_work() as uow:
            fx = Effects(uow, clock)
            for person_id in newcomers[start : start + FLOWS_PER_TRANSACTION]:
                person = await uow.people.get(person_id)
                assert person is not None
                home = await uow.orgs.get((await uow.people.affiliations_of(person_id))[0].org_id)
                assert home is not None
                branch, association = await welcome.branch_of(fx, home)
                assert branch.id is not None
                flow = await uow.welcome.add(
                    WelcomeFlow(
                        person_id=person_id,
                        org_id=branch.id,
                        association_id=association.id if association else None,
                        status=FlowStatus.PENDING,
                        created_at=fx.now,
                    )
                )
                await welcome.start(fx, flow, person, officer=None)
            await uow.commit()
            uow.session.expunge_all()


async def counts(database: Database) -> dict[str, int]:
    found = {}
    async with database.engine.connect() as connection:
        for name, table in (
            ("people", tables.people),
            ("welcome flows", welcome_flows),
            ("timers", tables.timers),
            ("outbox", tables.outbox),
        ):
            found[name] = int(
                await connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
    return found


async def measure(url: str, days: int, trace: bool) -> dict[str, float | int]:
    """Runs in a fresh process: the core on the seeded database, as the scheduler drives it."""
    logging.basicConfig(level=logging.WARNING)
    if trace:
        import tracemalloc

        tracemalloc.start()
    after_import = rss_mb()
    database = Database(url)
    clock = VirtualClock(START)
    gateways = [
        SinkGateway(PLATFORM),
        SinkGateway("console"),
    ]  # the demo's officers use the console
    samtal = Samtal(
        database.unit_of_work, clock, build_registry(), {g.platform: g for g in gateways}
    )
    began = time.perf_counter()
    await samtal.start()
    end = START + timedelta(days=days)
    hours = 0
    while clock.now() < end:
        await samtal.run_due()
        clock.advance(timedelta(hours=1))
        hours += 1
        if hours % 24 == 0:  # progress, for long runs: the peak so far is already a figure
            print(
                f"  day {hours // 24}: {sum(g.sent for g in gateways)} delivered, "
                f"peak RSS so far {rss_mb():.0f} MB, {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    await samtal.run_due()
    result: dict[str, float | int] = {
        "rss_after_imports_mb": after_import,
        "peak_rss_mb": rss_mb(),
        "delivered": sum(g.sent for g in gateways),
        "seconds": time.perf_counter() - began,
    }
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    async with database.engine.connect() as connection:
        t = tables.timers.c
        result["timers_done"] = int(
            await connection.scalar(sa.select(sa.func.count()).where(t.done_at.is_not(None))) or 0
        )
        result["flows_completed"] = int(
            await connection.scalar(
                sa.select(sa.func.count()).where(welcome_flows.c.status == FlowStatus.COMPLETED)
            )
            or 0
        )
    await database.dispose()
    return result


async def main(args: argparse.Namespace) -> int:
    async with scratch_database(args.postgres) as database:
        began = time.perf_counter()
        await seed(database, args.members, args.new)
        seeded = await counts(database)
        print(
            f"database: {'PostgreSQL' if args.postgres else 'SQLite (file, WAL)'}; seeded in "
            f"{time.perf_counter() - began:.0f} s: "
            + ", ".join(f"{n} {what}" for what, n in seeded.items())
        )
        url = database.url.render_as_string(hide_password=False)
        await database.engine.dispose()
        command = [sys.executable, __file__, "--measure", url, "--days", str(args.days)]
        if args.tracemalloc:
            command.append("--tracemalloc")
        # The measuring process's progress lines and any log go straight to our stderr.
        child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        out, _ = await child.communicate()
        if child.returncode != 0:
            return 1
        result = json.loads(out.decode().strip().splitlines()[-1])
    print(
        f"core over {args.days} virtual days (run_due every hour): "
        f"{result['timers_done']} timers run, {result['delivered']} messages delivered, "
        f"{result['flows_completed']} welcome flows completed, in {result['seconds']:.0f} s"
    )
    print(f"RSS after imports:  {result['rss_after_imports_mb']:.0f} MB")
    print(f"peak RSS:           {result['peak_rss_mb']:.0f} MB  (target: under 300 MB)")
    if "tracemalloc_peak_mb" in result:
        print(f"tracemalloc peak:   {result['tracemalloc_peak_mb']:.0f} MB")
    return 0 if result["peak_rss_mb"] < 300 else 2


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL at this server")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000, help="of them in the welcome flow")
    parser.add_argument("--days", type=int, default=35, help="virtual days of due work")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.measure:
        print(
            json.dumps(
                asyncio.run(measure(arguments.measure, arguments.days, arguments.tracemalloc))
            )
        )
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
