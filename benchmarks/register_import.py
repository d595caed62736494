"""Benchmark: `samtal members import` of a 100,000-row register export.

Writes a CSV like the register's export (Swedish headers, members spread over
three organisations, joined over 40 years so a few hundred joined in the last
60 days and get the welcome, a sixth of them with an unpaid fee), seeds the demo
tree into a scratch database (SQLite file, or PostgreSQL with --postgres), then
runs `samtal members import` on it twice, each in a process of its own as an
officer would: the first adds everyone, the second finds everyone unchanged.
Prints the wall time of each (the process's start included) and the peak
resident memory of the import processes (`ru_maxrss` of the children), then
how long the running bot takes for the welcome timers the import left.

    .venv/bin/python benchmarks/register_import.py [--rows 100000]
    .venv/bin/python benchmarks/register_import.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._world import scratch_database
from bot.bootstrap import build_registry
from bot.core import Samtal
from bot.demo.seed import seed_demo
from samtal.clock import SystemClock
from storage import tables
from storage.database import Database

ORG = ("--org", "sandviken")
HOMES = ("sandviken", "sandviken-centrum", "S-föreningen Järbo")
HEADER = "medlemsnummer,förnamn,efternamn,e-post,mobil,förening,inträdesdatum,betald t.o.m."
FIRST = ("Anna", "Bo", "Cecilia", "Dan", "Eva", "Fredrik", "Greta", "Hassan", "Ida", "Jonas")
LAST = ("Andersson", "Berg", "Ek", "Lind", "Nilsson", "Åberg", "Öst", "Yilmaz", "Holm", "Sund")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def write_register(path: Path, rows: int) -> None:
    today = date.today()  # the command runs on the system clock
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow(HEADER.split(","))
        for n in range(rows):
            joined = today - timedelta(days=(n * 7919) % (40 * 365))
            paid = date(2025, 12, 31) if n % 6 == 0 else date(2026, 12, 31)
            out.writerow(
                [
                    str(500_000 + n),
                    FIRST[n % 10],
                    f"{LAST[(n // 10) % 10]}-{n}",
                    f"member{n}@example.org" if n % 8 else "",
                    "070-123 45 67",
                    HOMES[n % 3],
                    joined.isoformat(),
                    paid.isoformat(),
                ]
            )


async def run(rows: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="samtal-register-") as folder:
        path = Path(folder) / "register.csv"
        write_register(path, rows)
        print(f"{rows} rows, {path.stat().st_size / 1e6:.1f} MB of CSV")
        async with scratch_database(postgres) as database:
            await seed_demo(database.unit_of_work, SystemClock())
            url = database.engine.url.render_as_string(hide_password=False)
            config = Path(folder) / "samtal.toml"
            config.write_text(
                f'[database]\nurl = "{url}"\n[telegram]\nbot_username = "samtal_bot"\n',
                encoding="utf-8",
            )
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("SAMTAL_")},
                "SAMTAL_CONFIG": str(config),
                "SAMTAL_DATA_DIR": folder,
                "SAMTAL_REGISTER_KEY": "benchmark",
            }
            for label in ("first import (all new)", "second import (all unchanged)"):
                began = time.perf_counter()
                done = subprocess.run(  # noqa: ASYNC221 (one at a time: what is measured)
                    [sys.executable, "-m", "bot", "members", "import", str(path), *ORG],
                    env=environment,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                took = time.perf_counter() - began
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                said = done.stdout.splitlines() if done.returncode == 0 else [done.stderr]
                print("\n".join(line for line in said if not line.startswith("Note")))
                print(
                    f"{label}: {took:.1f} s, {rows / took:,.0f} rows/s; peak RSS of the "
                    f"imports so far {usage.ru_maxrss / 1024:.0f} MB"
                )
            await welcomes(database)
            await report(database)


async def welcomes(database: Database) -> None:
    """The running bot's part: the welcome timers the import left, due at once."""
    core = Samtal(database.unit_of_work, SystemClock(), build_registry(), {})
    await core.start()
    began = time.perf_counter()
    await core.run_timers()
    took = time.perf_counter() - began
    print(f"the running bot's welcomes (and the introductions' first steps): {took:.1f} s")


async def report(database: Database) -> None:
    async with database.engine.connect() as connection:
        for table in (tables.people, tables.identities, tables.outbox, tables.timers):
            count = await connection.scalar(sa.select(sa.func.count()).select_from(table))
            print(f"  {table.name}: {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL")
    options = parser.parse_args()
    asyncio.run(run(options.rows, options.postgres))


if __name__ == "__main__":
    main()
