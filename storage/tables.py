"""The schema. Migrations in `storage/migrations` create it; a test checks they agree."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import SchemaItem

from bot.domain.delivery import OutboxStatus
from bot.domain.organisations import OrgKind
from bot.domain.people import Role, Status
from storage.search_keys import folded_copy_of

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Stores instants as naive UTC everywhere and hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: the core works in aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def enum_column(enum: type[StrEnum]) -> sa.Enum:
    """Stores an enum by its value as plain text, so adding a member needs no migration."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


def references(table: str, ondelete: str | None = "CASCADE") -> sa.ForeignKey:
    """A foreign key to `table`'s id; by default the row goes with the one it points at."""
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def person_fk(ondelete: str = "CASCADE") -> sa.ForeignKey:
    return references("people", ondelete)


def numbered_table(name: str, *items: SchemaItem, **options: Any) -> sa.Table:
    """A table whose rows are numbered by an integer `id`, its primary key."""
    return sa.Table(
        name, metadata, sa.Column("id", sa.Integer, primary_key=True), *items, **options
    )


def org_column(**options: Any) -> sa.Column[Any]:
    """`org_id`: the organisation a row belongs to; the row goes with the organisation."""
    return sa.Column("org_id", references("organisations"), nullable=False, **options)


def chat_columns(*, primary_key: bool = False) -> tuple[sa.Column[Any], sa.Column[Any]]:
    """`platform` and `chat_id`: the chat a row belongs to or a message goes to."""
    return (
        sa.Column("platform", sa.String(16), nullable=False, primary_key=primary_key),
        sa.Column("chat_id", sa.String(254), nullable=False, primary_key=primary_key),
    )


def thread_table(name: str, owner: str, owner_id: str) -> sa.Table:
    """Where an owner (a meeting, a circle) was posted: one outbox message per chat."""
    return numbered_table(
        name,
        sa.Column(owner_id, references(owner), nullable=False, index=True),
        *chat_columns(),
        sa.Column("outbox_key", sa.String(255), nullable=False),
        sa.UniqueConstraint(owner_id, "platform", "chat_id"),
    )


def created() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """Who created the row (kept anonymously when they are erased: SET NULL) and when."""
    return sa.Column("created_by", person_fk("SET NULL")), sa.Column("created_at", UtcDateTime)


organisations = numbered_table(
    "organisations",
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", enum_column(OrgKind), nullable=False),
    sa.Column("parent_id", sa.ForeignKey("organisations.id"), index=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime),
)

channels = sa.Table(
    "channels",
    metadata,
    *chat_columns(primary_key=True),
    org_column(),
    sa.Column("title", sa.String(200)),
)

people = numbered_table(
    "people",
    sa.Column("display_name", sa.String(200), nullable=False),
    # display_name folded for searching (storage/search_keys.py)
    sa.Column("name_key", sa.String(200), default=folded_copy_of("display_name")),
    sa.Column("status", enum_column(Status), nullable=False),
    sa.Column("language", sa.String(8)),
    sa.Column("created_at", UtcDateTime),
    sa.Column("last_seen_at", UtcDateTime),
)

identities = numbered_table(
    "identities",
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(254), nullable=False),
    sa.Column("username", sa.String(200)),
    sa.Column("username_key", sa.String(200), default=folded_copy_of("username")),
    sa.Column("created_at", UtcDateTime),
    sa.Column("last_seen_at", UtcDateTime),
    sa.UniqueConstraint("platform", "external_id"),
)

affiliations = numbered_table(
    "affiliations",
    sa.Column("person_id", person_fk(), nullable=False),
    org_column(),
    sa.Column("since", UtcDateTime, nullable=False),
    sa.UniqueConstraint("person_id", "org_id"),
)

role_assignments = numbered_table(
    "role_assignments",
    sa.Column("person_id", person_fk(), nullable=False),
    org_column(),
    sa.Column("role", enum_column(Role), nullable=False),
    sa.Column("granted_at", UtcDateTime, nullable=False),
    sa.Column("granted_by", person_fk("SET NULL")),
    sa.Column("source", sa.String(100)),  # e.g. "discord:role:123"; None when a person granted it
    sa.UniqueConstraint("person_id", "org_id", "role"),
)

consents = numbered_table(
    "consents",
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("given_at", UtcDateTime, nullable=False),
    sa.Column("withdrawn_at", UtcDateTime),
)

link_codes = sa.Table(
    "link_codes",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("person_id", person_fk(), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# The outbox's partial indexes. A query uses one only if its own WHERE repeats the index's
# term word for word (SQLite) and with literal values (PostgreSQL's generic plans), so the
# claim builds its terms from these same tuples (storage/outbox.py).
OUTBOX_WAITING = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)
_PENDING = f"status = '{OutboxStatus.PENDING.value}'"
_WAITING = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OUTBOX_WAITING))


def _partial_index(name: str, *columns: str, where: str) -> sa.Index:
    return sa.Index(name, *columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


outbox = numbered_table(
    "outbox",
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    *chat_columns(),
    sa.Column("direct", sa.Boolean, nullable=False),
    sa.Column("person_id", person_fk("SET NULL")),
    sa.Column("about_id", person_fk(), index=True),  # see OutboxEntry.about_id
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", enum_column(OutboxStatus), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.String(500)),
    sa.Column("external_id", sa.String(64)),
    # Entries sent as one batch (e.g. "announcement:12"), so progress is one indexed count.
    sa.Column("batch", sa.String(64)),
    # Which process claimed the entry and until when (a lease it renews while alive), and
    # when its platform call started: the durable mark that makes an entry uncertain.
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("started_at", UtcDateTime),
    sa.Index("ix_outbox_due", "status", "not_before"),
    sa.Index("ix_outbox_batch", "batch", "status"),
    # What a claim reads (see `claim_due`), live entries only, so that its cost grows
    # with neither the queue nor the history: a platform's pending entries in the order
    # they are claimed, answers and reminders first, then announcements (with a batch)...
    _partial_index("ix_outbox_queue", "platform", "id", where=f"{_PENDING} AND batch IS NULL"),
    _partial_index(
        "ix_outbox_queue_batch", "platform", "id", where=f"{_PENDING} AND batch IS NOT NULL"
    ),
    # ...and, to keep each chat in order, the chat's earlier entries still on their way.
    _partial_index("ix_outbox_chat", "platform", "chat_id", "id", where=_WAITING),
)

# Processes delivering from this database (PostgreSQL): each beats every few seconds, so
# they can share a platform's rate budget among the live ones.
replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
)

timers = numbered_table(
    "timers",
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime),
    sa.Column("done_at", UtcDateTime),
    sa.Index("ix_timers_due", "done_at", "due_at"),
)

button_actions = sa.Table(
    "button_actions",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    *chat_columns(),
    sa.Column("person_id", person_fk()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

dialogs = numbered_table(
    "dialogs",
    sa.Column("person_id", person_fk(), nullable=False),
    *chat_columns(),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("person_id", "platform", "chat_id"),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("processed_at", UtcDateTime, nullable=False),
)


# One row (id 1): bumped by triggers whenever organisations or channels change or button
# actions are changed or deleted, so each process knows when its read cache is stale
# (storage/read_cache.py; the triggers are in the migration).
cache_generation = sa.Table(
    "cache_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
)


def personal_tables() -> list[tuple[sa.Table, sa.Column[Any]]]:
    """Every table with a column that points at a person, found from the schema itself.

    Export, merge and erasure walk this list, so a table added later is covered
    without anyone having to remember it.
    """
    found: list[tuple[sa.Table, sa.Column[Any]]] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table is people for fk in column.foreign_keys):
                found.append((table, column))
    return found
