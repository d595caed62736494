"""Backups an operator can trust: backed up, restored elsewhere, every row is there; a
restore refuses a database in use unless forced; `db upgrade --check` applies nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from samtal.cli import main
from storage import tables
from storage.database import Database, RestoreError, sqlite_url
from tests.conftest import Console, run_admin


async def every_row(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with database.engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await connection.execute(sa.select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in rows]
    return found


async def test_a_backup_restored_elsewhere_has_every_row(console: Console, tmp_path: Path) -> None:
    await console.run("@anna: /hjalp\n@bertil: /moten")  # the outbox and events too
    source = console.database
    original = await every_row(source)
    assert sum(map(len, original.values())) > 100
    assert all(original[name] for name in ("people", "organisations", "outbox", "timers"))
    backup = tmp_path / ("samtal.sqlite" if source.is_sqlite else "samtal.pgdump")
    await source.backup(backup)
    assert backup.stat().st_mode & 0o077 == 0  # members' data: the owner's alone

    if source.is_sqlite:
        target_url, scratch = sqlite_url(tmp_path / "restored.db"), None
    else:
        scratch = f"samtal_restore_{uuid.uuid4().hex[:8]}"
        await run_admin(
            str(source.url.render_as_string(hide_password=False)), f'CREATE DATABASE "{scratch}"'
        )
        target_url = source.url.set(database=scratch).render_as_string(hide_password=False)
    target = Database(target_url)
    try:
        await target.restore(backup)
        assert await every_row(target) == original
        assert await target.pending_migrations() == []
    finally:
        await target.dispose()
        if scratch is not None:
            await run_admin(
                source.url.render_as_string(hide_password=False),
                f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)',
            )


async def test_a_backup_of_the_other_kind_is_refused_before_anything_changes(
    console: Console, tmp_path: Path
) -> None:
    wrong = tmp_path / "backup.bin"
    wrong.write_bytes(b"PGDMP" if console.database.is_sqlite else b"SQLite format 3\x00")
    before = await every_row(console.database)
    with pytest.raises(RestoreError, match="this database is"):
        await console.database.restore(wrong)
    assert await every_row(console.database) == before


def test_restore_refuses_a_database_that_holds_data_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SAMTAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    backup = tmp_path / "night.sqlite"
    assert main(["db", "backup", str(backup)]) == 0
    live = tmp_path / "data" / "samtal.db"

    def people() -> int:
        async def count() -> int:
            database = Database(sqlite_url(live))
            try:
                async with database.engine.connect() as connection:
                    return int(await connection.scalar(sa.text("SELECT count(*) FROM people")))
            finally:
                await database.dispose()

        return asyncio.run(count())

    seeded = people()
    capsys.readouterr()
    assert main(["db", "restore", str(backup)]) == 2
    err = capsys.readouterr().err
    assert "not overwriting the database" in err and "it holds data (" in err and "--force" in err
    assert main(["db", "restore", str(tmp_path / "missing.sqlite")]) == 2
    assert "can't read" in capsys.readouterr().err
    assert main(["db", "restore", "--force", str(backup)]) == 0
    assert "Restored" in capsys.readouterr().out
    assert people() == seeded
    # Into an empty database (a new server): no --force needed.
    monkeypatch.setenv("SAMTAL_DATA_DIR", str(tmp_path / "new"))
    assert main(["db", "restore", str(backup)]) == 0


def test_upgrade_check_says_what_is_pending_and_applies_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SAMTAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade", "--check"]) == 1  # a new database: everything is pending
    assert "1 pending: 0001" in capsys.readouterr().out
    url = make_url(sqlite_url(tmp_path / "data" / "samtal.db"))

    async def schema() -> list[str]:
        database = Database(str(url))
        try:
            async with database.engine.connect() as connection:
                return await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await database.dispose()

    assert asyncio.run(schema()) == []  # nothing applied
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade", "--check"]) == 0
    assert "no migrations are pending" in capsys.readouterr().out
