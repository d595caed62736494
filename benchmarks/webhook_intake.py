"""Benchmarks of issue 21: `samtal run` in webhook mode, end to end, one or more replicas.

    .venv/bin/python benchmarks/webhook_intake.py --cold-start          # first answer after start
    .venv/bin/python benchmarks/webhook_intake.py [--updates 3000] [--clients 32]
    .venv/bin/python benchmarks/webhook_intake.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test --replicas 1,2

Each replica is the real `python -m bot run` (`samtal run`) with `SAMTAL_TELEGRAM_TOKEN` set,
`[telegram] webhook_url` set (webhook mode: python-telegram-bot's application behind the
adapter's aiohttp server) and `base_url` pointing at the Bot API double
(tests/platform_doubles/telegram_api.py, in this process, without Telegram's limits: the
answers are not what is measured). The database is seeded as in benchmarks/interactions.py
(the demo tree, members in bulk, 8 meetings and 4 polls posted in a Telegram group).

- **intake**: button presses (RSVP and "Vote" under the group's posts, each member once of
  each) posted by `--clients` concurrent HTTP clients straight to the replicas' webhook
  ports, round-robin, with the secret header Telegram would send. An update is through when
  the core has handled it (its row in `processed_events`); the rate is updates over the time
  from the first post to the last one handled. Also: each replica's CPU per update.
- **--cold-start** (SQLite): from the moment the process is started to the webhook taking the
  first update (a /hjalp in a private chat, posted again every 20 ms until taken), and to the
  answer reaching the double; then where the imports' time goes (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import interactions
from _world import external_id, scratch_database

from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from samtal.platforms import webhook_secret
from storage import tables
from storage.database import Database
from tests.platform_doubles.telegram_api import TOKEN, TelegramDouble

ROOT = Path(__file__).resolve().parent.parent
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUP = int(interactions.GROUP)
# `-m cProfile -o FILE` before `-m bot run` with --profile: the replicas' profiles.
PROFILE: list[str] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _print_errors(log: Path) -> None:
    """A replica's ERROR lines (with what follows each, a traceback), before its folder goes."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    starts = [n for n, line in enumerate(lines) if re.match(r"\d{4}-\d\d-\d\d ", line)]
    for n, line in enumerate(lines):
        if re.search(r"\bERROR\b", line):
            end = next((s for s in starts if s > n), len(lines))
            print("\n".join(lines[n:end]), file=sys.stderr)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Replica:
    def __init__(self, folder: Path, name: str, url: str, base_url: str) -> None:
        self.port = _free_port()
        self.config = folder / f"samtal-{name}.toml"
        self.config.write_text(
            f'[database]\nurl = "{url}"\n\n[bot]\nlog_level = "WARNING"\n\n'
            f'[telegram]\nbase_url = "{base_url}"\n'
            f'webhook_url = "https://bench.invalid/telegram"\n'
            f'webhook_listen = "127.0.0.1"\nwebhook_port = {self.port}\n'
            f"\n[web]\nport = {_free_port()}\n",
            encoding="utf-8",
        )
        self.log = folder / f"replica-{name}.log"
        # Bytecode as an installed copy has it (pip compiles at install): never from source.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SAMTAL_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(SAMTAL_TELEGRAM_TOKEN=TOKEN, SAMTAL_DATA_DIR=str(folder / name))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, *PROFILE, "-m", "bot", "run", "--config", str(self.config)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}/telegram"

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(
                f"replica exited with {self.process.returncode}:\n" + "\n".join(tail)
            )

    def errors(self) -> int:
        return len(re.findall(r"\bERROR\b", self.log.read_text(errors="replace")))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    update: dict[str, Any],
    calls: dict[str, int] | None = None,
) -> int:
    """The status of a post (0: not listening); `calls` counts the methods the responses
    carry (a press answered in the response, which the Bot API would run)."""
    headers = {SECRET_HEADER: webhook_secret(TOKEN)}
    try:
        async with http.post(url, json=update, headers=headers) as response:
            body = await response.read()
            if calls is not None and body.startswith(b"{"):
                method = json.loads(body).get("method", "")
                calls[method] = calls.get(method, 0) + 1
            return response.status
    except aiohttp.ClientConnectionError:
        return 0


def _press(update_id: int, person: int, token: str) -> dict[str, Any]:
    user = TelegramDouble.user(int(external_id(person)), f"Medlem{person}")
    message = {
        "message_id": 100 + update_id % 1000,
        "date": int(time.time()),
        "chat": TelegramDouble.chat(GROUP, "Sandviken"),
        "from": {"id": 1, "is_bot": True, "first_name": "Samtal", "username": "samtal_bot"},
        "text": "…",
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": user,
            "chat_instance": "ci",
            "message": message,
            "data": token,
        },
    }


async def _handled(database: Database) -> int:
    async with database.engine.connect() as connection:
        found = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(tables.processed_events)
            .where(tables.processed_events.c.platform == "telegram")
        )
    return int(found or 0)


async def _unsent(database: Database, since: int) -> int:
    """Outbox entries after id `since` not yet sent (or failed): the replies still on the way."""
    o = tables.outbox.c
    async with database.engine.connect() as connection:
        found = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(tables.outbox)
            .where(o.id > since, o.status.in_(["pending", "claimed", "sending"]))
        )
    return int(found or 0)


async def _last_outbox_id(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(sa.select(sa.func.max(tables.outbox.c.id))) or 0)


async def _seed(database: Database, people: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    interactions.START = now.astimezone(interactions.STOCKHOLM)  # meetings still ahead
    clock = VirtualClock(now - timedelta(minutes=5))
    samtal = Samtal(database.unit_of_work, clock, build_registry())
    await interactions.seed(database, clock, samtal, people)


async def intake(args: argparse.Namespace, replicas: int) -> dict[str, Any]:
    people = args.updates // 2
    async with scratch_database(args.postgres) as database:
        await _seed(database, people)
        rsvp, votes = await interactions.group_buttons(database)
        url = database.url.render_as_string(hide_password=False)
        double = TelegramDouble()
        await double.start()
        folder = Path(tempfile.mkdtemp(prefix="samtal-intake-"))
        running = [Replica(folder, str(n), url, double.base_url) for n in range(replicas)]
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=args.clients)
            ) as http:
                for replica in running:  # up when its webhook takes a post (none yet)
                    deadline = time.monotonic() + 120
                    while await _post(http, replica.url, {"update_id": 0}) == 0:
                        replica.check()
                        if time.monotonic() > deadline:
                            raise TimeoutError("a replica did not start listening")
                        await asyncio.sleep(0.1)
                await asyncio.sleep(2.0)  # start-up work done, the first sweep past
                updates = []
                for n in range(people):
                    updates.append(_press(len(updates) + 1, n, rsvp[n % len(rsvp)]))
                    updates.append(_press(len(updates) + 1, n, votes[n % len(votes)]))
                first_reply = await _last_outbox_id(database)
                before = {r.process.pid: _cpu_seconds(r.process.pid) for r in running}
                load_before = _load()
                queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
                for index, update in enumerate(updates):
                    queue.put_nowait((index, update))
                statuses: dict[int, int] = defaultdict(int)
                in_response: dict[str, int] = {}

                async def client() -> None:
                    while not queue.empty():
                        index, update = queue.get_nowait()
                        replica = running[index % len(running)]
                        statuses[await _post(http, replica.url, update, in_response)] += 1

                began = time.monotonic()
                await asyncio.gather(*(client() for _ in range(args.clients)))
                posted = time.monotonic() - began
                deadline = time.monotonic() + 600
                while (done := await _handled(database)) < len(updates):
                    for replica in running:
                        replica.check()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"only {done} of {len(updates)} handled")
                    await asyncio.sleep(0.02)
                took = time.monotonic() - began
                cpu = {pid: _cpu_seconds(pid) - seconds for pid, seconds in before.items()}
                # The replies' delivery may still be going: the CPU until it is done too.
                while await _unsent(database, first_reply):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the replies were not delivered")
                    await asyncio.sleep(0.02)
                delivered = time.monotonic() - began
                cpu_all = sum(_cpu_seconds(pid) - seconds for pid, seconds in before.items())
                replies = await _last_outbox_id(database) - first_reply
                return {
                    "replicas": replicas,
                    "updates": len(updates),
                    "per_second": len(updates) / took,
                    "posted_per_second": len(updates) / posted,
                    "cpu_ms": sum(cpu.values()) / len(updates) * 1000,
                    "cpu_share": [f"{c / took:.0%}" for c in cpu.values()],
                    "cpu_ms_delivered": cpu_all / len(updates) * 1000,
                    "delivered_after": delivered,
                    "replies": replies,
                    "statuses": dict(statuses),
                    "in_response": in_response,
                    "errors": sum(r.errors() for r in running),
                    "answer_requests": sum(m == "answerCallbackQuery" for m, _ in double.calls),
                    "load": f"{load_before} → {_load()}",
                }
        finally:
            for replica in running:
                replica.stop()
                _print_errors(replica.log)
            await double.stop()
            shutil.rmtree(folder, ignore_errors=True)


async def cold_start() -> None:
    async with scratch_database(None) as database:
        await _seed(database, 10)
        url = database.url.render_as_string(hide_password=False)
        double = TelegramDouble()
        await double.start()
        folder = Path(tempfile.mkdtemp(prefix="samtal-cold-"))
        person = int(external_id(1))
        user = TelegramDouble.user(person, "Medlem1")
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": TelegramDouble.chat(person),
                "from": user,
                "text": "/hjalp",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        compiling = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "compileall", "-q", "bot", "samtal", "storage", "adapters"],
            cwd=ROOT,
        )
        await compiling.wait()
        print(f"load average: {_load()}")
        began = time.monotonic()
        replica = Replica(folder, "cold", url, double.base_url)
        try:
            async with aiohttp.ClientSession() as http:
                while await _post(http, replica.url, update) != 200:
                    replica.check()
                    await asyncio.sleep(0.02)
                taken = time.monotonic() - began
                while not any(s.method == "sendMessage" for s in double.sent_to(person)):
                    replica.check()
                    await asyncio.sleep(0.005)
                answered = time.monotonic() - began
                cpu = _cpu_seconds(replica.process.pid)  # robust to the load, unlike the time
        finally:
            replica.stop()
            await double.stop()
            shutil.rmtree(folder, ignore_errors=True)
    print(f"webhook took the first update {taken:.2f} s after start")
    print(f"first answer reached the double {answered:.2f} s after start")
    print(f"the process's CPU until then: {cpu:.2f} s")
    imports()


def imports() -> None:
    """Where `samtal run`'s imports spend their time: each module's own time, summed by
    top-level package (so a package's figure leaves out the packages it imports)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import samtal.cli, samtal.platforms, adapters.telegram.app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    total: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            total[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    print(f"imports of `samtal run`: {sum(total.values()):.2f} s in all; the largest:")
    for name, seconds in sorted(total.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {name:<20} {seconds:6.3f} s")


async def main(args: argparse.Namespace) -> None:
    if args.cold_start:
        await cold_start()
        return
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.updates} presses")
    for count in (int(n) for n in args.replicas.split(",")):
        row = await intake(args, count)
        print(
            f"{row['replicas']} replica(s): {row['per_second']:.0f} updates/s handled "
            f"(posted at {row['posted_per_second']:.0f}/s), CPU {row['cpu_ms']:.2f} ms "
            f"an update, replicas busy {', '.join(row['cpu_share'])}, HTTP {row['statuses']}, "
            f"methods in the responses {row['in_response']}, answerCallbackQuery requests "
            f"{row['answer_requests']}, {row['replies']} replies delivered after "
            f"{row['delivered_after']:.1f} s, CPU with their delivery "
            f"{row['cpu_ms_delivered']:.2f} ms an update, "
            f"errors {row['errors']}, load {row['load']}"
        )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL at this server")
    parser.add_argument("--replicas", default="1", help="replica counts, a run each (1,2)")
    parser.add_argument("--updates", type=int, default=3000, help="presses posted (3000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients (32)")
    parser.add_argument("--cold-start", action="store_true", help="time to the first answer")
    parser.add_argument(
        "--root", metavar="DIR", help="run the replicas from this copy of the code (before/after)"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the (last) replica to FILE")
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="time the profile by the replica's CPU clock (robust to load; slower)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.root:
        ROOT = Path(arguments.root).resolve()
    if arguments.profile:  # the replica runs in ROOT: an absolute path
        out = str(Path(arguments.profile).resolve())
        if arguments.cpu_clock:
            PROFILE.extend([str(Path(__file__).resolve().parent / "cpu_profile.py"), out])
        else:
            PROFILE.extend(["-m", "cProfile", "-o", out])
    asyncio.run(main(arguments))
