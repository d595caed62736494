"""The sender of an event, read in one statement: as a query, or as a JSON document in the
RETURNING of the event's mark (storage/records.py), so a press reads its sender, their consent,
affiliations and the read cache's generation before the capability runs (issue 21)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from storage import tables
from storage.read_cache import Values


@functools.cache
def _sender_query() -> sa.Select[Any]:
    """An identity (:platform, :external_id), its person, whether they have consented, the
    read cache's generation (storage/read_cache.py) and the person's affiliations, oldest
    first (one row each, or one row with none): all a press needs to know of its sender.

    Core columns, not ORM entities: building an ORM query's state at every execution cost
    more than the statement itself (issue 21's profile). Where each part of a row is:
    `_P`, `_K` and `_A` below."""
    i, p, k, a = tables.identities.c, tables.people.c, tables.consents.c, tables.affiliations.c
    consented = sa.exists().where(k.person_id == p.id, k.withdrawn_at.is_(None))
    g = tables.cache_generation.c
    generation = sa.select(g.generation).where(g.id == 1).scalar_subquery()
    other = tables.identities.alias("other")
    more_accounts = sa.exists().where(other.c.person_id == p.id, other.c.id != i.id)
    return (
        sa.select(*i, *p, consented, generation, more_accounts, *a)
        .join_from(tables.identities, tables.people, i.person_id == p.id)
        .outerjoin(tables.affiliations, a.person_id == p.id)
        .where(i.platform == sa.bindparam("platform"), i.external_id == sa.bindparam("external_id"))
        .order_by(a.since, a.id)
    )


def _columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(column.key for column in table.columns)


# Where each part of a `_sender_query` row is: identity, person (from _P), consented (_K),
# generation, whether they have other accounts, an affiliation (from _A).
_IDENTITY_COLUMNS = _columns(tables.identities)
_PERSON_COLUMNS = _columns(tables.people)
_AFFILIATION_COLUMNS = _columns(tables.affiliations)
_P = len(_IDENTITY_COLUMNS)
_K = _P + len(_PERSON_COLUMNS)
_A = _K + 3


@dataclass(frozen=True)
class FoundSender:
    """What the sender look-up found, as column values (made into the session's objects
    by `SqlAlchemyPeopleRepository.sender`)."""

    identity: Values
    person: Values
    consented: bool
    generation: int | None
    more_accounts: bool
    affiliations: tuple[Values, ...]  # oldest first


def _found_in_rows(rows: Sequence[Any]) -> FoundSender:
    row = rows[0]
    return FoundSender(
        identity=dict(zip(_IDENTITY_COLUMNS, row[:_P], strict=True)),
        person=dict(zip(_PERSON_COLUMNS, row[_P:_K], strict=True)),
        consented=bool(row[_K]),
        generation=row[_K + 1],
        more_accounts=bool(row[_K + 2]),
        affiliations=tuple(
            dict(zip(_AFFILIATION_COLUMNS, row[_A:], strict=True))
            for row in rows
            if row[_A] is not None
        ),
    )


def sender_document(dialect: str) -> sa.ColumnElement[Any]:
    """The sender (:sender_platform, :sender_id) as one JSON array, NULL when unknown: the
    `_sender_query` in a form that fits in the RETURNING of the event's mark, so that the
    mark and the look-up are one statement (storage/records.py). Read by `found_in_document`.
    """
    # Aliases: inside a RETURNING, SQLAlchemy writes a table's columns without its name.
    identities, people = tables.identities.alias("i"), tables.people.alias("p")
    consents, affiliations_ = tables.consents.alias("k"), tables.affiliations.alias("a")
    i, p, k, a = identities.c, people.c, consents.c, affiliations_.c
    array = sa.func.json_array if dialect == "sqlite" else sa.func.json_build_array
    consented = sa.exists().where(k.person_id == p.id, k.withdrawn_at.is_(None))
    g = tables.cache_generation.alias("g").c
    generation = sa.select(g.generation).where(g.id == 1).scalar_subquery()
    other = tables.identities.alias("other")
    more_accounts = sa.exists().where(other.c.person_id == p.id, other.c.id != i.id)
    # Unordered (SQLite orders no aggregate before 3.44): sorted when read.
    each = array(*(a[name] for name in _AFFILIATION_COLUMNS))
    affiliations: sa.ColumnElement[Any]
    if dialect == "sqlite":
        everyone = sa.select(sa.func.json_group_array(each)).where(a.person_id == p.id)
        affiliations = everyone.scalar_subquery()
    else:
        everyone = sa.select(
            sa.func.coalesce(sa.func.json_agg(each), sa.literal_column("'[]'::json"))
        ).where(a.person_id == p.id)
        affiliations = everyone.scalar_subquery()
    found = (
        sa.select(
            *(i[name] for name in _IDENTITY_COLUMNS),
            *(p[name] for name in _PERSON_COLUMNS),
            consented.label("consented"),
            generation.label("generation"),
            more_accounts.label("more_accounts"),
            affiliations.label("affiliations"),
        )
        .join_from(identities, people, i.person_id == p.id)
        .where(
            i.platform == sa.bindparam("sender_platform"),
            i.external_id == sa.bindparam("sender_id"),
        )
        .set_label_style(sa.LABEL_STYLE_TABLENAME_PLUS_COL)
        .subquery("found")
    )
    document = _Qualified(sa.select(array(*found.c)).scalar_subquery())
    return sa.type_coerce(document, sa.JSON).label("sender")


class _Qualified(ColumnElement[Any]):
    """An expression whose columns are written with their tables' names even inside a
    RETURNING, where SQLite's compiler leaves the names out (ambiguous in a join)."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element
        self.type = element.type


@compiles(_Qualified)
def _compile_qualified(element: _Qualified, compiler: Any, **kw: Any) -> str:
    kw["include_table"] = True
    return str(compiler.process(element.element, **kw))


def _reader(column: sa.Column[Any]) -> Any:
    """Turns a column's value as JSON gives it back into what the column's type would."""
    if isinstance(column.type, tables.UtcDateTime):
        return _instant
    enum = getattr(column.type, "enum_class", None)
    if enum is not None:
        return enum
    if isinstance(column.type, sa.Boolean):
        return bool
    return None


def _instant(text: str) -> datetime:
    # SQLite's text ("2026-03-02 08:00:00.000000") or PostgreSQL's ISO form, naive UTC.
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _readers(table: sa.Table) -> tuple[tuple[str, Any], ...]:
    return tuple((column.key, _reader(column)) for column in table.columns)


_IDENTITY_READERS = _readers(tables.identities)
_PERSON_READERS = _readers(tables.people)
_AFFILIATION_READERS = _readers(tables.affiliations)


def _values(readers: tuple[tuple[str, Any], ...], items: Sequence[Any]) -> Values:
    return {
        name: item if read is None or item is None else read(item)
        for (name, read), item in zip(readers, items, strict=True)
    }


def found_in_document(document: Sequence[Any] | None) -> FoundSender | None:
    if document is None:
        return None
    n_person = _P + len(_PERSON_READERS)
    listed = document[n_person + 3]
    if isinstance(listed, str):  # SQLite: through a subquery JSON comes back as its text
        listed = json.loads(listed)
    affiliations = [_values(_AFFILIATION_READERS, item) for item in listed]
    affiliations.sort(key=lambda values: (values["since"], values["id"]))
    return FoundSender(
        identity=_values(_IDENTITY_READERS, document[:_P]),
        person=_values(_PERSON_READERS, document[_P:n_person]),
        consented=bool(document[n_person]),
        generation=document[n_person + 1],
        more_accounts=bool(document[n_person + 2]),
        affiliations=tuple(affiliations),
    )
