"""SQLite's write-ahead log is copied back into the database on a worker thread.

A commit that did the copy itself synced the file in the event loop for 5-13 ms,
and every press queued behind it waited that out (issue 21's p99).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import threading
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import sqlite_inline
from storage.database import Database, sqlite_url


async def _notes(tmp_path: Path) -> Database:
    database = Database(sqlite_url(tmp_path / "samtal.db"))
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE notes (n INTEGER)")
    return database


async def _write(database: Database, numbers: range) -> None:
    for n in numbers:  # a commit each, as presses do
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(f"INSERT INTO notes VALUES ({n})")


def _in_the_database_file(tmp_path: Path) -> int:
    """The rows the database file itself holds: what a checkpoint has copied there."""
    copy = tmp_path / f"file-only-{len(list(tmp_path.glob('file-only-*')))}.db"
    shutil.copyfile(tmp_path / "samtal.db", copy)  # without its -wal beside it
    with sqlite3.connect(copy) as connection:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes'").fetchall():
            return 0  # not even the table yet
        return int(connection.execute("SELECT count(*) FROM notes").fetchone()[0])


async def _settled(database: Database) -> None:
    assert database.checkpoints is not None
    for _ in range(3):  # the copy under way, and one a commit during it may have started
        await database.checkpoints.finished()
        await asyncio.sleep(0)


async def test_commits_leave_the_copy_to_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY", 5)
    copied_on: list[int] = []
    copy = sqlite_inline.Checkpoints._checkpoint

    def recorded(self: sqlite_inline.Checkpoints) -> int:
        copied_on.append(threading.get_ident())
        return copy(self)

    monkeypatch.setattr(sqlite_inline.Checkpoints, "_checkpoint", recorded)
    database = await _notes(tmp_path)
    try:
        async with database.engine.connect() as connection:
            found = await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")
            assert found.scalar() == 0  # the event loop's connections never copy
        await _write(database, range(4))  # with the table's commit, five
        await _settled(database)
        assert _in_the_database_file(tmp_path) == 4
        await _write(database, range(4, 7))  # three more: not yet due
        await _settled(database)
        assert _in_the_database_file(tmp_path) == 4
        assert copied_on and threading.get_ident() not in copied_on
    finally:
        await database.dispose()
    assert _in_the_database_file(tmp_path) == 7  # closing copies the rest, as SQLite does


async def test_a_failed_copy_is_logged_and_the_next_one_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY", 2)
    copy = sqlite_inline.Checkpoints._checkpoint
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(self: sqlite_inline.Checkpoints) -> int:
        if failures:
            raise failures.pop()
        return copy(self)

    monkeypatch.setattr(sqlite_inline.Checkpoints, "_checkpoint", flaky)
    database = await _notes(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.sqlite_inline"):
            await _write(database, range(1))
            await _settled(database)
        assert "checkpoint of" in caplog.text and "disk I/O error" in caplog.text
        assert _in_the_database_file(tmp_path) == 0  # nothing copied, nothing lost
        await _write(database, range(1, 3))
        await _settled(database)
        assert _in_the_database_file(tmp_path) == 3
    finally:
        await database.dispose()


async def test_steady_writes_do_not_grow_the_log_without_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite starts the log afresh only when a transaction begins with all of it copied;
    commits that keep coming during each copy would keep that from ever happening."""
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(sqlite_inline, "WAL_LIMIT_FRAMES", 100)
    logged: list[int] = []
    copy = sqlite_inline.Checkpoints._checkpoint

    def measured(self: sqlite_inline.Checkpoints) -> int:
        logged.append(copy(self))
        return logged[-1]

    monkeypatch.setattr(sqlite_inline.Checkpoints, "_checkpoint", measured)
    database = await _notes(tmp_path)
    try:

        async def writer() -> None:
            for _ in range(200):
                async with database.unit_of_work() as uow:
                    await uow.session.execute(sa.text("INSERT INTO notes VALUES (1), (2)"))
                    await uow.session.execute(
                        sa.text("INSERT INTO pages VALUES (randomblob(8000))")
                    )
                    await uow.commit()
                await asyncio.sleep(0)  # as presses do, between their units of work

        async with database.engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE pages (blob BLOB)")
        await asyncio.gather(writer(), writer())
    finally:
        await database.dispose()
    # 400 commits of three pages or more: a log never started afresh only grows, to 1,200
    # pages and more. How far it gets between two restarts depends on how fast the copy's
    # thread runs beside the writers, which a loaded machine changes; that it restarts
    # again and again, and stays well under that, does not.
    restarts = sum(1 for before, after in pairwise(logged) if after < before)
    assert restarts >= 3 and max(logged) < 800, logged
