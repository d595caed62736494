"""Alembic runs inside the bot: `Database.upgrade` hands it an open connection."""

from __future__ import annotations

from alembic import context

from storage.mapping import start_mappers
from storage.tables import metadata

start_mappers()

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `samtal db upgrade`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
