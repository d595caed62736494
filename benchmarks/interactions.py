"""Benchmark 2 of issue 7: core interactions (RSVP, vote) per second and their latency.

Everything goes through the core's front door, `Samtal.handle(ButtonPressed)`,
with the real registry and the real storage: many distinct members press the
RSVP buttons under meetings announced in a Telegram group, press "Vote" under
polls posted there (the ballot comes privately), then vote on their own
ballots. The buttons are the ones the core itself wrote to the outbox.

    .venv/bin/python benchmarks/interactions.py                 # SQLite (a file)
    .venv/bin/python benchmarks/interactions.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

With --postgres a scratch database is created on that server and dropped at the end.
Prints, for each load, the throughput and the p50/p99 latency, overall and per kind:
closed loop, with 1, 8 or 32 callers each handing over its next press when the last
is answered (`--concurrency`), and open loop, with presses arriving on their own at
a given rate and each handled in a task of its own, as adapters do (`--rates`; the
latency then counts from arrival, so it includes waiting behind other presses).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._world import (
    bulk_people,
    external_id,
    org_id,
    scratch_database,
    summary,
)
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.context import Effects
from bot.core import Samtal
from bot.demo.seed import seed_demo
from bot.domain.organisations import Channel
from bot.events import ButtonPressed, Chat, Sender
from bot.meetings.service import MeetingDraft, create_meeting
from bot.polls.model import Poll, PollKind
from bot.polls.service import open_poll
from storage import tables
from storage.database import Database
from storage.sqlite_inline import InlineConnection

PLATFORM = "telegram"
GROUP = "-1001000000001"  # the Sandviken group chat on Telegram
STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
MEETINGS = 8
CPU_SECONDS: list[float] = []  # the process's CPU time in each drive() (all threads)
STATEMENTS: list[int] = [0]  # SQL statements sent to the database so far
POLLS = 4


@dataclass(frozen=True)
class Press:
    kind: str  # "rsvp", "open ballot", "vote"
    person: int  # the member's number (external id)
    token: str
    private: bool


class ErrorCounter(logging.Handler):
    """Counts what the core logs as failed (an event it answered with "something went wrong")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if record.exc_info and record.exc_info[1] is not None:
            self.kinds[str(record.exc_info[1]).splitlines()[0][:100]] += 1


async def seed(database: Database, clock: VirtualClock, samtal: Samtal, people: int) -> None:
    await seed_demo(database.unit_of_work, clock)
    sandviken = await org_id(database, "sandviken")
    homes = [
        sandviken,
        await org_id(database, "sandviken-centrum"),
        await org_id(database, "jarbo"),
    ]
    await bulk_people(
        database,
        count=people,
        org_ids=homes,
        platform=PLATFORM,
        now=clock.now() - timedelta(days=30),
    )
    async with database.unit_of_work() as uow:
        org = await uow.orgs.get(sandviken)
        bertil = await uow.people.by_identity("console", "bertil")
        assert org is not None and bertil is not None
        await uow.orgs.bind_channel(Channel(PLATFORM, GROUP, sandviken, "Sandviken"))
        fx = Effects(uow, clock)
        for n in range(MEETINGS):
            starts = START + timedelta(days=7 + n, hours=9)
            await create_meeting(
                fx,
                org,
                MeetingDraft(
                    theme=f"Samtal nummer {n + 1}",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    description="Fika från kvart i.",
                    questions=["Vad är viktigast här?"],
                    place="Folkets hus, Sandviken",
                    capacity=60 if n % 4 == 3 else None,  # some fill up: a waitlist forms
                ),
                created_by=bertil.id,
            )
        for n in range(POLLS):
            await open_poll(
                fx,
                Poll(
                    org_id=sandviken,
                    kind=PollKind.SINGLE,
                    question=f"Fråga {n + 1}: vilket tema i april?",
                    options=["Skolan", "Vården", "Jobben", "Klimatet"],
                    deadline=clock.now() + timedelta(days=20),
                    anonymous=n % 2 == 1,
                    members_only=n % 2 == 0,
                    live_results=True,
                    created_by=bertil.id,
                    created_at=clock.now(),
                ),
                org,
            )
        await uow.commit()


async def group_buttons(database: Database) -> tuple[list[str], list[str]]:
    """The RSVP tokens and "Vote" tokens of the posts in the Telegram group."""
    b = tables.button_actions.c
    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(b.token, b.name, b.args).where(b.platform == PLATFORM, b.chat_id == GROUP)
            )
        ).all()
    rsvp = [token for token, name, args in rows if name == "meeting.rsvp"]
    votes = [token for token, name, args in rows if name == "poll.open"]
    assert len(rsvp) == MEETINGS * 3 and len(votes) == POLLS, (len(rsvp), len(votes))
    return sorted(rsvp), sorted(votes)


async def ballot_buttons(database: Database, numbers: range) -> dict[int, list[str]]:
    """Each member's own vote buttons, from the private ballots the core sent them."""
    b, i = tables.button_actions.c, tables.identities.c
    wanted = [external_id(n) for n in numbers]
    found: dict[int, list[str]] = defaultdict(list)
    async with database.engine.connect() as connection:
        for start in range(0, len(wanted), 500):
            rows = await connection.execute(
                sa.select(i.external_id, b.token)
                .join(tables.identities, i.person_id == b.person_id)
                .where(b.name == "poll.vote", i.platform == PLATFORM)
                .where(i.external_id.in_(wanted[start : start + 500]))
                .order_by(b.token)
            )
            for external, token in rows:
                found[int(external) - 1_000_000].append(token)
    return found


COMMITS: list[float] = []  # the wall time of each SQLite commit, in the event loop
COMMIT_RUNS: list[list[float]] = []


def time_commits() -> None:
    """Records how long each SQLite commit holds the event loop (everything queued behind
    a press waits that out too): its p99 and maximum are printed with each run."""
    commit = InlineConnection.commit

    async def timed(self: InlineConnection) -> None:
        began = time.perf_counter()
        await commit(self)
        COMMITS.append(time.perf_counter() - began)

    InlineConnection.commit = timed  # type: ignore[method-assign]


def count_statement(*_: object) -> None:
    STATEMENTS[0] += 1


def event(press: Press, run: str, serial: int) -> ButtonPressed:
    sender = Sender(PLATFORM, external_id(press.person), f"Medlem {press.person}", language="sv")
    chat = (
        Chat(PLATFORM, external_id(press.person), is_private=True)
        if press.private
        else Chat(PLATFORM, GROUP, is_private=False, title="Sandviken")
    )
    return ButtonPressed(f"{run}-{serial}", sender, chat, press.token)


async def drive(
    samtal: Samtal, presses: list[Press], run: str, mode: Mode
) -> tuple[float, dict[str, list[float]], Counter[str]]:
    """Hands the presses to the core; returns the wall time and the latencies by kind.

    Closed loop (`callers`): that many callers, each handing over its next press as soon
    as the last one is answered; a latency is one `handle` call. Open loop (`rate`):
    presses arrive at that average rate (random gaps), each handled in a task of its
    own as an adapter does, whether or not the earlier ones are done; a latency runs
    from the moment the press arrived, so it includes any wait behind the others.
    """
    latencies: dict[str, list[float]] = defaultdict(list)
    toasts: Counter[str] = Counter()

    async def press_once(serial: int, press: Press, arrived: float) -> None:
        outcome = await samtal.handle(event(press, run, serial))
        latencies[press.kind].append(time.perf_counter() - arrived)
        if outcome.toast:
            toasts[outcome.toast] += 1

    began, cpu, sent = time.perf_counter(), time.process_time(), STATEMENTS[0]
    COMMITS.clear()
    if mode.rate is None:
        queue: asyncio.Queue[tuple[int, Press]] = asyncio.Queue()
        for serial, press in enumerate(presses):
            queue.put_nowait((serial, press))

        async def caller() -> None:
            while not queue.empty():
                serial, press = queue.get_nowait()
                await press_once(serial, press, time.perf_counter())

        await asyncio.gather(*(caller() for _ in range(mode.callers)))
    else:
        gaps = random.Random(len(presses))
        tasks = []
        arrival = began
        for serial, press in enumerate(presses):
            arrival += gaps.expovariate(mode.rate)
            await asyncio.sleep(max(0.0, arrival - time.perf_counter()))
            tasks.append(asyncio.create_task(press_once(serial, press, arrival)))
        await asyncio.gather(*tasks)
    CPU_SECONDS.append(time.process_time() - cpu)
    STATEMENTS.append(STATEMENTS[0] - sent)
    COMMIT_RUNS.append(list(COMMITS))
    return time.perf_counter() - began, latencies, toasts


@dataclass(frozen=True)
class Mode:
    callers: int = 1
    rate: float | None = None  # presses a second, arriving on their own (open loop)

    @property
    def label(self) -> str:
        if self.rate is not None:
            return f"{self.rate:g}/s offered"
        return "1 caller" if self.callers == 1 else f"{self.callers} callers"


def modes(args: argparse.Namespace) -> list[Mode]:
    closed = [Mode(callers=int(c)) for c in args.concurrency.split(",") if c]
    opened = [Mode(rate=float(r)) for r in args.rates.split(",") if r]
    return closed + opened


async def main(args: argparse.Namespace) -> int:
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.WARNING)
    levels = modes(args)
    per_run = args.people_per_run
    total_people = per_run * (len(levels) + 1)  # +1: the warm-up's own people
    rng = random.Random(7)
    async with scratch_database(args.postgres) as database:
        sa.event.listen(database.engine.sync_engine, "before_cursor_execute", count_statement)
        if database.is_sqlite:
            time_commits()
        clock = VirtualClock(START)
        samtal = Samtal(database.unit_of_work, clock, build_registry())
        await samtal.start()
        seeded = time.perf_counter()
        await seed(database, clock, samtal, total_people)
        rsvp_tokens, open_tokens = await group_buttons(database)
        print(
            f"database: {'PostgreSQL' if args.postgres else 'SQLite (file, WAL)'}; "
            f"{total_people} members seeded, {MEETINGS} meetings, {POLLS} polls "
            f"in {time.perf_counter() - seeded:.1f} s"
        )
        rows: list[dict[str, Any]] = []
        for index, mode in enumerate([Mode(), *levels]):
            warm_up = index == 0
            numbers = range(index * per_run, (index + 1) * per_run)
            first = [
                Press(kind, n, rng.choice(tokens), private=False)
                for n in numbers
                for kind, tokens in (("rsvp", rsvp_tokens), ("open ballot", open_tokens))
            ]
            rng.shuffle(first)
            run = f"run{index}"
            wall1, lat1, toasts1 = await drive(samtal, first, run + "a", mode)
            ballots = await ballot_buttons(database, numbers)
            second = [
                Press("vote", n, rng.choice(ballots[n]), private=True)
                for n in numbers
                if ballots[n]
            ]
            missing = sum(1 for n in numbers if not ballots[n])
            rng.shuffle(second)
            wall2, lat2, toasts2 = await drive(samtal, second, run + "b", mode)
            if warm_up:
                continue
            cpu = CPU_SECONDS[-1] + CPU_SECONDS[-2]
            statements = STATEMENTS[-1] + STATEMENTS[-2]
            everything = [x for kind in (lat1, lat2) for xs in kind.values() for x in xs]
            row: dict[str, Any] = {
                "mode": mode.label,
                "events": len(everything),
                "per_second": len(everything) / (wall1 + wall2),
                "cpu_ms": cpu / len(everything) * 1000,
                "statements": statements / len(everything),
                **summary(everything),
                "kinds": {kind: summary(xs) for kind, xs in (*lat1.items(), *lat2.items())},
                "toasts": toasts1 + toasts2,
                "missing_ballots": missing,
                "commits": (
                    summary(COMMIT_RUNS[-1] + COMMIT_RUNS[-2]) if database.is_sqlite else None
                ),
            }
            rows.append(row)
        print(f"errors logged: {errors.count}")
        for text, n in errors.kinds.most_common(3):
            print(f"  {n}× {text}")
        print()
        print(
            "load               events  per second   p50 ms   p99 ms   max ms  CPU ms/event  SQL/event"
        )
        for row in rows:
            print(
                f"{row['mode']:<16}  {row['events']:>6}  {row['per_second']:>10.0f}"
                f"  {row['p50_ms']:>7.2f}  {row['p99_ms']:>7.2f}  {row['max_ms']:>7.1f}"
                f"  {row['cpu_ms']:>12.2f}  {row['statements']:>9.1f}"
            )
        print()
        for row in rows:
            parts = ", ".join(
                f"{kind} p50 {s['p50_ms']:.2f} / p99 {s['p99_ms']:.2f} ms"
                for kind, s in row["kinds"].items()
            )
            print(f"{row['mode']}: {parts}")
            refused = ", ".join(f"{n}× {text[:60]!r}" for text, n in row["toasts"].most_common(3))
            if refused:
                print(f"  toasts: {refused}")
            if row["missing_ballots"]:
                print(f"  members without a ballot: {row['missing_ballots']}")
            if row["commits"]:
                c = row["commits"]
                print(
                    f"  commits in the event loop: p50 {c['p50_ms']:.2f} / p99 {c['p99_ms']:.2f}"
                    f" / max {c['max_ms']:.1f} ms"
                )
    return 1 if errors.count else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL at this server")
    parser.add_argument(
        "--people-per-run", type=int, default=1500, help="distinct members per run (default 1500)"
    )
    parser.add_argument(
        "--concurrency", default="1,8,32", help="closed loop: callers at once, a run each (1,8,32)"
    )
    parser.add_argument(
        "--rates",
        default="25,50",
        help="open loop: presses arriving a second, a run each (default 25,50)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
