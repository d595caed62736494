"""Shared fixtures: a real database (SQLite, and PostgreSQL when one is reachable) and the core on it.

Storage and flow tests take the `database` fixture, which runs each test on
SQLite and again on PostgreSQL when `SAMTAL_TEST_POSTGRES_URL` names a
reachable server (`.ci/run` sets it). Without one those runs are skipped, and
the skip says why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.console.app import ConsoleGateway, ConsoleSession
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.demo.seed import seed_demo
from storage.database import Database, sqlite_url
from storage.tables import metadata

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Transcripts start here unless they set the clock: a Monday morning in March.
START = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
POSTGRES_ENV = "SAMTAL_TEST_POSTGRES_URL"

_postgres_reason = ""


def _postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


async def _postgres_reachable(url: str) -> tuple[bool, str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(sa.text("select 1"))
        return True, ""
    except Exception as exc:  # any failure means: skip, and say why
        return False, f"PostgreSQL at {url} is not reachable ({type(exc).__name__}: {exc})"
    finally:
        await database.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url_kind" in metafunc.fixturenames:
        metafunc.parametrize("database_url_kind", ["sqlite", "postgres"])


@pytest.fixture(scope="session")
def postgres_scratch_url() -> Iterator[str | None]:
    """A database of this test run's own on the configured server, dropped at the end.

    Its own database, so that test runs sharing one server never see each other's rows.
    """
    url = _postgres_url()
    if url is None:
        yield None
        return
    ready, reason = asyncio.run(_postgres_reachable(url))
    if not ready:
        global _postgres_reason
        _postgres_reason = reason
        yield None
        return
    name = f"samtal_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(run_admin(url, f'CREATE DATABASE "{name}"'))
    # A scratch database: no need to wait for the disk at every commit.
    asyncio.run(run_admin(url, f'ALTER DATABASE "{name}" SET synchronous_commit TO OFF'))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(run_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def run_admin(url: str, statement: str) -> None:
    """A statement outside any transaction (CREATE/DROP DATABASE); the benchmarks use it too."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment for `samtal` run as a command: no SAMTAL_ settings, a fresh data dir."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAMTAL_")}
    environment["SAMTAL_DATA_DIR"] = str(tmp_path / "data")
    environment["HOME"] = str(tmp_path)
    return environment


@pytest.fixture
def database_url(database_url_kind: str, tmp_path: Path, postgres_scratch_url: str | None) -> str:
    if database_url_kind == "sqlite":
        return sqlite_url(tmp_path / "samtal.db")
    if _postgres_url() is None:
        pytest.skip(
            f"PostgreSQL run skipped: set {POSTGRES_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"
        )
    if postgres_scratch_url is None:
        pytest.skip(f"PostgreSQL run skipped: {_postgres_reason}")
    return postgres_scratch_url


_migrated: set[str] = set()  # PostgreSQL scratch databases this worker has brought to head


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    if not db.is_sqlite:
        await _clean_postgres(db, database_url)
    await db.upgrade()
    yield db
    await db.dispose()


async def _clean_postgres(db: Database, url: str) -> None:
    """Empty tables for every test, in this run's own database.

    The schema is built by the migrations once per worker; after that emptying
    every table is enough (and many times faster than migrating again). A test
    that left the schema elsewhere (a downgrade) gets a fresh one.
    """
    async with db.engine.begin() as connection:
        if url in _migrated:
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            try:
                async with connection.begin_nested():
                    await connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                return
            except sa.exc.DBAPIError:
                pass
        await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        await connection.execute(sa.text("CREATE SCHEMA public"))
    _migrated.add(url)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


class Console:
    """The console adapter driven in-process: feed transcript lines, read what the bot said."""

    def __init__(self, database: Database, clock: VirtualClock) -> None:
        self.lines: list[str] = []
        self.gateway = ConsoleGateway(self.lines.append)
        self.samtal = Samtal(
            database.unit_of_work, clock, build_registry(), {self.gateway.platform: self.gateway}
        )
        self.session = ConsoleSession(self.samtal, self.gateway, STOCKHOLM)
        self.database = database
        self.clock = clock

    async def seed_demo(self) -> None:
        await seed_demo(self.database.unit_of_work, self.clock)

    async def run(self, script: str) -> str:
        """Replays lines and returns only what they produced (input echoed, as in a transcript)."""
        start = len(self.lines)
        problems = await self.session.run_script(script.strip("\n").splitlines())
        output = "\n".join(self.lines[start:])
        assert problems == 0, output
        return output

    async def said(self, line: str) -> str:
        """What the bot answered to one line, without the echoed line itself."""
        output = await self.run(line)
        return output.split("\n", 1)[1] if "\n" in output else ""


@pytest.fixture
async def console(database: Database, clock: VirtualClock) -> Console:
    console = Console(database, clock)
    await console.samtal.start()
    await console.seed_demo()
    return console


def pytest_report_header() -> list[str]:
    url = _postgres_url()
    return [
        f"postgres: {url}"
        if url
        else f"postgres: not configured ({POSTGRES_ENV} unset); PostgreSQL runs skip"
    ]


@pytest.fixture(scope="session")
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent


__all__ = ["START", "STOCKHOLM", "Console", "metadata"]
