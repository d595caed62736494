"""SQLite statements run in the event loop's own thread, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs each call on a thread of its own and hands the result back
through the event loop: four or more round trips per statement (cursor,
execute, fetch, close), each far slower than the statement itself, which on
our indexed tables takes microseconds. This module gives the dialect a
connection with aiosqlite's interface whose calls run the statement at once
(`create_async_engine(url, async_creator=...)`); nothing else in SQLAlchemy
changes, and `storage.turns` already keeps our own transactions from
overlapping, so a statement does not wait for our own locks.

It may still meet another process's write lock (a `samtal` command run
beside the bot). Waiting for that in the event loop would stop everything
else, so here SQLite is told not to wait (busy_timeout 0) and a statement
that finds the database busy is run again on a worker thread, where it may
wait as long as it could before (`PATIENCE_MS`); only the waiting leaves the
event loop, the rest stays as fast as it is.

The other wait was SQLite's own checkpoint: every thousand pages or so a commit
copied the write-ahead log back into the database and synced it, 5-13 ms in
the event loop (the p99 of a commit), which every press queued behind it
waited out too. `Checkpoints` does that copy on a worker thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from storage.turns import Turns

PATIENCE_MS = 10_000  # as long as a statement may wait for another process's lock
# Commits between two checkpoints: a press's commit writes a few pages, so this is about
# the thousand pages after which SQLite would checkpoint by itself.
CHECKPOINT_EVERY = 200
WAL_LIMIT_FRAMES = 4000  # pages in the log (16 MB) past which it must be started afresh
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

T = TypeVar("T")
log = logging.getLogger(__name__)


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(error) or "busy" in str(error)
    return code & 0xFF in _BUSY


class InlineCursor:
    def __init__(self, owner: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._owner = owner
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        await self._owner.run(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        await self._owner.run(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """The part of aiosqlite's `Connection` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection, checkpoints: Checkpoints) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._checkpoints = checkpoints
        connection.execute("PRAGMA busy_timeout=0")  # never wait in the event loop
        connection.execute("PRAGMA wal_autocheckpoint=0")  # nor copy the log back in it
        # A log started afresh is cut back to this, so a burst's log doesn't stay on disk.
        connection.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_FRAMES * 4096}")

    @property
    def _connection(self) -> sqlite3.Connection | None:  # the dialect checks it is open
        return self._conn

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """Runs a call on the connection now; when another process holds the database,
        waits for it on a worker thread instead of in the event loop."""
        try:
            return call(*args)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        return await asyncio.to_thread(self._patiently, call, *args)

    def _patiently(self, call: Callable[..., T], *args: Any) -> T:
        connection = self.connection
        connection.execute(f"PRAGMA busy_timeout={PATIENCE_MS}")
        try:
            return call(*args)
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self.connection.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await self.run(self.connection.commit)
        self._checkpoints.committed()

    async def rollback(self) -> None:
        self.connection.rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """aiosqlite's hard stop, used when SQLAlchemy terminates a connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.connection.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self.connection.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction


class Checkpoints:
    """Copies a database's write-ahead log back into it on a worker thread, one copy at a
    time, every `CHECKPOINT_EVERY` commits of this process.

    A PASSIVE checkpoint waits for no one: it copies what no reader still needs and
    leaves the rest for the next one. The last connection to close copies whatever is
    left, as SQLite always does.
    """

    def __init__(self, path: Path, turns: Turns) -> None:
        self._path = path
        self._turns = turns
        self._commits = 0
        self._running: asyncio.Task[None] | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._running is None:
            self._commits = 0
            self._running = asyncio.get_running_loop().create_task(self._copy())
            self._running.add_done_callback(self._done)

    async def _copy(self) -> None:
        if await asyncio.to_thread(self._checkpoint) < WAL_LIMIT_FRAMES:
            return
        # SQLite starts the log afresh only when a transaction begins with all of it
        # copied; under steady writes one is always under way while the copy runs, so
        # the log would grow without end. Past the limit, copy what is left between two
        # units of work (a few pages: the event loop goes on meanwhile, units of work wait).
        took = await self._turns.take()
        try:
            await asyncio.to_thread(self._checkpoint)
        finally:
            if took:
                self._turns.give_back()

    def _checkpoint(self) -> int:
        """Copies what it can; returns how many pages the log holds (copied or not)."""
        connection = sqlite3.connect(str(self._path), timeout=PATIENCE_MS / 1000)
        try:
            _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        return int(frames)

    def _done(self, copy: asyncio.Task[None]) -> None:
        self._running = None
        if not copy.cancelled() and copy.exception() is not None:
            # The log only grows until the next one succeeds: nothing is lost.
            log.warning("checkpoint of %s failed: %s", self._path, copy.exception())

    async def finished(self) -> None:
        """Waits for the copy under way, if any (before the database is closed or moved)."""
        if self._running is not None:
            await asyncio.wait([self._running])


def inline_creator(path: Path, checkpoints: Checkpoints) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine("sqlite+aiosqlite:///...")`."""

    async def connect() -> InlineConnection:
        # As aiosqlite opens it (the dialect's defaults), minus the thread.
        return InlineConnection(sqlite3.connect(str(path), check_same_thread=False), checkpoints)

    return connect
