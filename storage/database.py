"""Engine set-up, migrations and backups for SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.mapping import start_mappers
from storage.private_files import private_dir, private_file, warn_if_open
from storage.read_cache import ReadCache
from storage.sqlite_inline import Checkpoints, inline_creator
from storage.turns import Turns
from storage.uow import SqlAlchemyUnitOfWork

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
POSTGRES_POOL = 10  # units of work at once per process on PostgreSQL (SQLite: one)
# The newest migration's revision. `upgrade` compares the database's alembic_version with
# it and loads alembic (with mako and pygments, about 0.15 s of every start) only when they
# differ. tests/test_migrations.py checks it against storage/migrations/versions.
SCHEMA_HEAD = "0001"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer writes; SQLite checks foreign keys only
    # when asked. A second writer waits instead of failing: see storage/sqlite_inline.py.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class DatabaseUnavailable(Exception):
    """The database can't be reached; the message is one line, without the password."""

    def __init__(self, url: URL, error: BaseException) -> None:
        cause = getattr(error, "orig", None) or error  # the driver's own words
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        where = url.render_as_string(hide_password=True)
        super().__init__(f"can't open the database {where}: {reason}")


class Database:
    def __init__(self, url: str) -> None:
        start_mappers()
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            path = Path(self.url.database or "")
            private_dir(path.parent)
            private_file(path)
            warn_if_open(path.parent, path)
        # hide_parameters: an error logs its SQL without the values (votes, names, texts).
        # A SQLite file is used from the event loop's thread (storage/sqlite_inline.py).
        inline = self.is_sqlite and self.url.database not in (None, "", ":memory:")
        self._turns = Turns(1 if self.is_sqlite else POSTGRES_POOL)
        options: dict[str, Any] = {}
        # SQLite's write-ahead log is copied back on a worker thread (None elsewhere).
        self.checkpoints: Checkpoints | None = None
        if inline:
            path = Path(self.url.database or "")
            self.checkpoints = Checkpoints(path, self._turns)
            options["async_creator"] = inline_creator(path, self.checkpoints)
        if not self.is_sqlite:
            # Units of work take turns for the pooled connections (storage/turns.py); the
            # overflow is for the few users of the engine outside a unit of work.
            options.update(pool_size=POSTGRES_POOL, max_overflow=5)
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_pre_ping=not self.is_sqlite, hide_parameters=True, **options
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Organisations, channels and button actions, shared by this process's units of
        # work and kept current by the database's generation counter.
        self.read_cache = ReadCache()

    def unit_of_work(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.sessions, self._turns, self.read_cache)

    async def upgrade(self) -> None:
        """Brings the schema to the newest migration (run at every start).

        Raises `DatabaseUnavailable` when the database can't be opened at all (a
        PostgreSQL server that is down, a database that doesn't exist, a wrong password).
        """
        try:
            connection = await self.engine.connect()
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            raise DatabaseUnavailable(self.url, exc) from exc
        try:
            if await connection.run_sync(_at_head):
                return
            await connection.rollback()  # the look's own transaction (failed, if no table)
            async with connection.begin():
                await connection.run_sync(_upgrade)
        finally:
            await connection.close()

    async def backup(self, destination: Path) -> None:
        """An online backup: the bot may keep running while it is taken."""
        private_dir(destination.parent)
        private_file(destination, replacing=True)
        if self.is_sqlite:
            await asyncio.to_thread(_sqlite_backup, Path(self.url.database or ""), destination)
            return
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise RuntimeError("pg_dump is needed to back up PostgreSQL; install the client tools")
        plain_url = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        process = await asyncio.create_subprocess_exec(
            pg_dump,
            "--format=custom",
            f"--file={destination}",
            plain_url,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {stderr.decode(errors='replace').strip()}")

    async def pending_migrations(self) -> list[str]:
        """The migrations `upgrade` would apply, oldest first, without applying them.

        Raises `DatabaseUnavailable` when the database can't be opened.
        """
        try:
            connection = await self.engine.connect()
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            raise DatabaseUnavailable(self.url, exc) from exc
        try:
            return await connection.run_sync(_pending)
        finally:
            await connection.close()

    async def restore(self, source: Path) -> None:
        """Replaces this database's contents with a backup taken by `backup`.

        The caller checks first that nothing is using the database (samtal/cli.py); the
        schema is brought to the newest migration after, for a backup from an older version.
        """
        kind = backup_kind(source)
        if kind != ("sqlite" if self.is_sqlite else "postgresql"):
            target = "SQLite" if self.is_sqlite else "PostgreSQL"
            found = {"sqlite": "a SQLite backup", "postgresql": "a PostgreSQL dump"}.get(
                kind, "not a Samtal backup"
            )
            raise RestoreError(f"{source} is {found}; this database is {target}")
        await self._finish_checkpoints()
        await self.engine.dispose()  # no pooled connection may see the file change under it
        self.read_cache.clear()  # the backup's counter may repeat ours with other rows
        if self.is_sqlite:
            await asyncio.to_thread(_sqlite_restore, source, Path(self.url.database or ""))
        else:
            pg_restore = shutil.which("pg_restore")
            if pg_restore is None:
                raise RestoreError(
                    "pg_restore is needed to restore PostgreSQL; install the client tools"
                )
            plain_url = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            process = await asyncio.create_subprocess_exec(
                pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                f"--dbname={plain_url}",
                str(source),
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await process.communicate()
            if process.returncode != 0:
                raise RestoreError(f"pg_restore failed: {stderr.decode(errors='replace').strip()}")
        await self.upgrade()

    async def dispose(self) -> None:
        await self._finish_checkpoints()
        await self.engine.dispose()

    async def _finish_checkpoints(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.finished()


class RestoreError(Exception):
    """A backup that can't be restored here; the message says why, in one line."""


def backup_kind(path: Path) -> str:
    """ "sqlite" or "postgresql" by the file's first bytes (pg_dump's custom format starts
    with PGDMP), else ""."""
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise RestoreError(f"can't read {path}: {exc.strerror or exc}") from exc
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "postgresql"
    return ""


def _sqlite_restore(source: Path, destination: Path) -> None:
    private_dir(destination.parent)
    private_file(destination)
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _at_head(connection: Connection) -> bool:
    """Whether the schema is at SCHEMA_HEAD, read without alembic (a new database: no)."""
    try:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version table yet
        return False
    return [row[0] for row in found] == [SCHEMA_HEAD]


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _pending(connection: Connection) -> list[str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = set(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    if current == set(script.get_heads()):
        return []
    lower = next(iter(current)) if current else "base"
    pending = [rev.revision for rev in script.iterate_revisions("heads", lower)]
    return [revision for revision in reversed(pending) if revision not in current]


def _sqlite_backup(source: Path, destination: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)
    # The copy is a single file: no write-ahead log beside it.
    with sqlite3.connect(destination) as dst:
        dst.execute("PRAGMA journal_mode=DELETE")


__all__ = [
    "AsyncSession",
    "Database",
    "DatabaseUnavailable",
    "RestoreError",
    "alembic_config",
    "backup_kind",
    "sqlite_url",
]
