"""Shared fixtures: a real database (SQLite, and PostgreSQL when one is reachable) and the core on it.

Storage and flow tests take the `database` fixture, which runs each test on
SQLite and again on PostgreSQL when `SAMTAL_TEST_POSTGRES_URL` names a
reachable server (`.ci/run` sets it). Without one those runs are skipped, and
the skip says why.

The migrations run once per worker, not per test: on SQLite each test gets a
copy of a file migrated at the start (about 3 ms against about 100 ms for
Alembic); on PostgreSQL the worker's scratch database is migrated once and
emptied between tests by one DELETE statement block, which is several times
cheaper than TRUNCATE or a copy made with CREATE DATABASE ... TEMPLATE.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
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
    _drop_in_background(url, name)


# The server writes out every changed page before it drops a database (seconds after a run
# that wrote for minutes); the run need not wait for that, so a process of its own does it.
_DROP = """
import asyncio, sys
import asyncpg

async def drop() -> None:
    connection = await asyncpg.connect(sys.argv[1])
    try:
        await connection.execute(sys.argv[2])
    finally:
        await connection.close()

asyncio.run(drop())
"""
_dropping: list[subprocess.Popen[bytes]] = []


def _drop_in_background(url: str, name: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    _dropping.append(
        subprocess.Popen(
            [sys.executable, "-c", _DROP, dsn, statement],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # it outlives the test run
        )
    )


async def run_admin(url: str, statement: str) -> None:
    """A statement outside any transaction (CREATE/DROP DATABASE); the benchmarks use it too."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing a test runs writes into the user's own data directory (the nightly
    backups of a `samtal run` would go there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAMTAL_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file brought to head once per worker; the `database` fixture copies it."""
    path = tmp_path_factory.mktemp("template") / "samtal.db"

    async def migrate() -> None:
        database = Database(sqlite_url(path))
        try:
            await database.upgrade()
        finally:
            await database.dispose()

    asyncio.run(migrate())
    # Closed cleanly, the write-ahead log has gone into the file: the file alone is the database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


# PostgreSQL scratch databases this worker has brought to head, with the head's revision.
_migrated: dict[str, str] = {}


@pytest.fixture
async def database(database_url: str, sqlite_template: Path) -> AsyncIterator[Database]:
    """A database at the newest migration with no rows, as a first start leaves it."""
    db = Database(database_url)
    if db.is_sqlite:
        shutil.copyfile(sqlite_template, db.url.database or "")
    else:
        await _clean_postgres(db, database_url)
    yield db
    await db.dispose()


def _emptying(head: str) -> str:
    """One statement that empties every table and restarts the sequences used, if (and
    only if) the schema is still at `head`; otherwise it fails and the schema is rebuilt.

    DELETE, children before parents, rather than TRUNCATE: on tables this small TRUNCATE
    (new files for forty-odd tables and their indexes) costs 0.3-1 s a test, DELETE about 0.06 s.
    """
    deletes = " ".join(f'DELETE FROM "{table.name}";' for table in reversed(metadata.sorted_tables))
    return f"""
DO $$
DECLARE s record;
BEGIN
    IF (SELECT version_num FROM alembic_version) IS DISTINCT FROM '{head}' THEN
        RAISE EXCEPTION 'the schema is no longer at %', '{head}';
    END IF;
    {deletes}
    FOR s IN SELECT schemaname, sequencename FROM pg_sequences
             WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
        EXECUTE format('ALTER SEQUENCE %I.%I RESTART', s.schemaname, s.sequencename);
    END LOOP;
END $$"""


async def _clean_postgres(db: Database, url: str) -> None:
    """Empty tables for every test, in this run's own database.

    The schema is built by the migrations once per worker; after that emptying
    every table is enough (and many times faster than migrating again). A test
    that left the schema elsewhere (a downgrade) gets a fresh one.
    """
    head = _migrated.get(url)
    if head is not None:
        try:
            async with db.engine.begin() as connection:
                await connection.execute(sa.text(_emptying(head)))
            return
        except sa.exc.DBAPIError:
            pass
    async with db.engine.begin() as connection:
        await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        await connection.execute(sa.text("CREATE SCHEMA public"))
    await db.upgrade()
    async with db.engine.connect() as connection:
        version = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        _migrated[url] = version.scalar_one()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


class Console:
    """The console adapter driven in-process: feed transcript lines, read what the bot said."""

    def __init__(self, database: Database, clock: VirtualClock, files: Path | None = None) -> None:
        self.lines: list[str] = []
        self.gateway = ConsoleGateway(self.lines.append, files, relative=True)
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
async def console(database: Database, clock: VirtualClock, tmp_path: Path) -> Console:
    console = Console(database, clock, tmp_path / "files")
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
