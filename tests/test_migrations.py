"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from storage.database import Database, sqlite_url
from storage.mapping import start_mappers
from storage.tables import metadata


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
