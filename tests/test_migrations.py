"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from storage.database import Database, sqlite_url
from storage.mapping import start_mappers
from storage.tables import metadata

ROOT = Path(__file__).resolve().parent.parent


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_tables(database: Database) -> None:
    start_mappers()  # capability tables register on the metadata when mapped
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], "run scripts/regenerate-initial-migration"


async def test_upgrading_twice_changes_nothing(database: Database) -> None:
    await database.upgrade()
    async with database.engine.connect() as connection:
        version = (
            await connection.execute(text("select version_num from alembic_version"))
        ).scalar()
    assert version is not None


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "wal.db"))
    await database.upgrade()
    async with database.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await database.dispose()


def test_the_head_the_package_knows_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from storage.database import SCHEMA_HEAD, alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == [SCHEMA_HEAD], "set storage.database.SCHEMA_HEAD to the new migration"


async def test_a_start_at_head_does_not_load_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.database

    database = Database(sqlite_url(tmp_path / "head.db"))
    upgrades: list[Connection] = []
    real = storage.database._upgrade

    def upgrade(connection: Connection) -> None:
        upgrades.append(connection)
        real(connection)

    monkeypatch.setattr(storage.database, "_upgrade", upgrade)
    try:
        await database.upgrade()  # a new database: alembic builds the schema
        assert len(upgrades) == 1
        await database.upgrade()  # at head: read and compared, alembic not called
        assert len(upgrades) == 1
        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(Exception, match="0000"):  # another revision: alembic's turn
            await database.upgrade()
        assert len(upgrades) == 2
    finally:
        await database.dispose()
    # `samtal run` on a database at head never imports alembic (nor mako, nor pygments).
    path = tmp_path / "ready.db"
    ready = Database(sqlite_url(path))
    await ready.upgrade()
    await ready.dispose()
    script = (
        "import asyncio, sys\n"
        "from storage.database import Database, sqlite_url\n"
        f"asyncio.run(Database(sqlite_url({str(path)!r})).upgrade())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('alembic', 'mako'))))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "[]"
