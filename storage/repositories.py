"""The core's repositories, implemented with an async SQLAlchemy session."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from bot.domain.organisations import Channel, Organisation
from bot.domain.people import (
    Affiliation,
    Consent,
    Identity,
    LinkCode,
    Person,
    Role,
    RoleAssignment,
    Status,
)
from storage import tables
from storage.read_cache import CacheView, Values, copy_of
from storage.search_keys import fold

_MAX_DEPTH = 16  # an organisation tree is a few levels deep; a cycle stops here

_T = TypeVar("_T")


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


@functools.cache
def _ancestors_query() -> sa.Select[Any]:
    """An organisation and those above it (:org_id, at most :limit), nearest first.

    Built once: constructing a recursive query costs more than running it.
    """
    o = tables.organisations
    up = (
        sa.select(o.c.id, o.c.parent_id, sa.literal(0).label("depth"))
        .where(o.c.id == sa.bindparam("org_id"))
        .cte("lineage", recursive=True)
    )
    parent = o.alias("parent")
    up = up.union_all(
        sa.select(parent.c.id, parent.c.parent_id, up.c.depth + 1).where(
            parent.c.id == up.c.parent_id, up.c.depth < sa.bindparam("limit") - 1
        )
    )
    return sa.select(Organisation).join(up, o.c.id == up.c.id).order_by(up.c.depth)


def _identity_key(cls: type[Any], ident: Any) -> Any:
    """The session's key for an object of `cls` with this primary key (a value or a tuple),
    without `Session.identity_key`'s general checks (a third of a cache hit's cost)."""
    mapper = _MAPPERS.get(cls)
    if mapper is None:
        mapper = _MAPPERS[cls] = sa.inspect(cls)
    return mapper.identity_key_from_primary_key(ident if isinstance(ident, tuple) else (ident,))


_MAPPERS: dict[type[Any], Any] = {}


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _loaded(self, cls: type[_T], ident: Any) -> _T | None:
        """The object if this session holds it, fresh: no SQL, and no trip through the
        async layer (a hit in `AsyncSession.get` still costs one)."""
        found = self.session.identity_map.get(_identity_key(cls, ident))
        if not isinstance(found, cls) or sa.inspect(found).expired_attributes:
            return None
        return found

    async def _get(self, cls: type[_T], ident: Any) -> _T | None:
        loaded = self._loaded(cls, ident)
        return loaded if loaded is not None else await self.session.get(cls, ident)

    def _adopt(self, cls: type[_T], values: Values) -> _T | None:
        """The session's object for a row (with an integer `id`) read with Core: the one it
        holds, or the row made into one as if loaded; None when it holds a stale copy."""
        key = _identity_key(cls, values["id"])
        held = self.session.identity_map.get(key)
        if held is None:
            return self._attach(cls, values, key)
        if isinstance(held, cls) and not sa.inspect(held).expired_attributes:
            return held
        return None

    def _attach(self, cls: type[_T], values: Values, key: Any) -> _T | None:
        """A copy of a cached row (identity `key`), made part of this session as if it had
        been loaded: a change to it is written at the next flush, as with any loaded object.
        None when the session holds a stale copy already (e.g. after a rollback): then read
        it instead."""
        if key in self.session.identity_map:
            return None
        obj: _T = copy_of(cls, values)
        make_transient_to_detached(obj)
        self.session.sync_session.add(obj)
        return obj

    async def _add(self, obj: _T) -> _T:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def _all(self, query: sa.Select[_T]) -> Sequence[_T]:
        return (await self.session.scalars(query)).all()

    async def _first(self, query: sa.Select[_T]) -> _T | None:
        return (await self.session.scalars(query)).first()

    async def _lock(self, cls: type[Any], ident: int) -> None:
        """Locks the row until the transaction ends and reloads it (PostgreSQL).

        For decisions made by counting other rows (is a place left?): there units of work
        run side by side under READ COMMITTED, and without the lock two could both count
        the same free place. On SQLite units of work take turns (storage/turns.py), so
        nothing is needed.
        """
        if self.session.get_bind().dialect.name == "sqlite":
            return
        await self.session.get(cls, ident, with_for_update=True, populate_existing=True)

    async def _remove(self, table: sa.Table, cls: type[Any], **match: Any) -> None:
        """Deletes the matching rows in one statement and forgets any copies already loaded."""
        await self.session.execute(sa.delete(table).filter_by(**match))
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, cls) and all(getattr(obj, k) == v for k, v in match.items()):
                self.session.expunge(obj)


class _EntityRepository(_Repository, Generic[_T]):
    """A repository whose main objects are added whole and found by their integer id."""

    entity: type[_T]

    async def add(self, obj: _T) -> _T:
        return await self._add(obj)

    async def get(self, ident: int) -> _T | None:
        return await self._get(self.entity, ident)

    async def lock(self, ident: int) -> None:
        await self._lock(self.entity, ident)


class SqlAlchemyOrganisationRepository(_EntityRepository[Organisation]):
    """Organisations and channels; by id, slug, lineage and chat they come from the read
    cache when the unit of work read its generation (storage/read_cache.py)."""

    entity = Organisation

    def __init__(self, session: AsyncSession, cache: CacheView | None = None) -> None:
        super().__init__(session)
        self._cache = cache or CacheView(None)

    async def get(self, org_id: int) -> Organisation | None:
        loaded = self._loaded(Organisation, org_id)
        if loaded is not None:
            return loaded
        view = self._cache
        if view.usable:
            assert view.cache is not None
            values = view.cache.orgs.get(org_id)
            if values is not None:
                attached = self._attach(Organisation, values, _identity_key(Organisation, org_id))
                if attached is not None:
                    return attached
        org = await self.session.get(Organisation, org_id)
        if org is not None:
            self._keep(org)
        return org

    def _keep(self, org: Organisation) -> None:
        if self._cache.usable:
            assert self._cache.cache is not None
            self._cache.cache.put_org(org)

    async def by_slug(self, slug: str) -> Organisation | None:
        view = self._cache
        if view.usable:
            assert view.cache is not None
            org_id = view.cache.slugs.get(slug)
            if org_id is not None:
                return await self.get(org_id)
        org = await self._first(sa.select(Organisation).filter_by(slug=slug))
        if org is not None:
            self._keep(org)
        return org

    async def list_all(self) -> Sequence[Organisation]:
        query = sa.select(Organisation).order_by(tables.organisations.c.id)
        return await self._all(query)

    async def lineage(self, org_id: int) -> Sequence[Organisation]:
        # Walks up through what this transaction has loaded already, then asks the
        # database for the rest of the chain in one query.
        # The read cache stands in for the transaction where it may.
        chain: list[Organisation] = []
        current: int | None = org_id
        cached = self._cache.cache.orgs if self._cache.usable and self._cache.cache else {}
        while current is not None and len(chain) < _MAX_DEPTH:
            loaded = self._loaded(Organisation, current)
            if loaded is None and current in cached:
                loaded = self._attach(
                    Organisation, cached[current], _identity_key(Organisation, current)
                )
            if loaded is None:
                chain.extend(await self._ancestors(current, _MAX_DEPTH - len(chain)))
                break
            chain.append(loaded)
            current = loaded.parent_id
        return chain

    async def _ancestors(self, org_id: int, limit: int) -> Sequence[Organisation]:
        """The organisation and those above it, nearest first, at most `limit` of them."""
        found = await self.session.scalars(_ancestors_query(), {"org_id": org_id, "limit": limit})
        chain = [org for org in found if isinstance(org, Organisation)]
        for org in chain:
            self._keep(org)
        return chain

    async def subtree(self, org_id: int) -> Sequence[Organisation]:
        """The organisation and everything below it, breadth first (children by id)."""
        o = tables.organisations
        down = (
            sa.select(o.c.id, sa.literal(0).label("depth"))
            .where(o.c.id == org_id)
            .cte("subtree", recursive=True)
        )
        child = o.alias("child")
        down = down.union_all(
            sa.select(child.c.id, down.c.depth + 1).where(
                child.c.parent_id == down.c.id, down.c.depth < _MAX_DEPTH
            )
        )
        query = sa.select(Organisation).join(down, o.c.id == down.c.id)
        found = await self._all(query)
        # Breadth first as before: each level in the order its parents were, siblings by id.
        children: dict[int | None, list[Organisation]] = {}
        for org in sorted(found, key=lambda org: org.id or 0):
            children.setdefault(org.parent_id, []).append(org)
        ordered = [org for org in found if org.id == org_id]
        for org in ordered:  # grows while it is walked: breadth first
            ordered.extend(children.get(org.id, []))
        return ordered

    async def channel(self, platform: str, chat_id: str) -> Channel | None:
        key = (platform, chat_id)
        loaded = self._loaded(Channel, key)
        if loaded is not None:
            return loaded
        view = self._cache
        if view.usable:
            assert view.cache is not None
            if key in view.cache.channels:
                values = view.cache.channels[key]
                if values is None:
                    return None  # a chat bound to no organisation (binding one bumps the counter)
                attached = self._attach(Channel, values, _identity_key(Channel, key))
                if attached is not None:
                    return attached
        channel = await self.session.get(Channel, key)
        if view.usable:
            assert view.cache is not None
            view.cache.put_channel(key, channel)
        return channel

    async def bind_channel(self, channel: Channel) -> None:
        await self.session.merge(channel)
        await self.session.flush()

    async def channels_of(self, org_id: int) -> Sequence[Channel]:
        query = (
            sa.select(Channel)
            .filter_by(org_id=org_id)
            .order_by(tables.channels.c.platform, tables.channels.c.chat_id)
        )
        return await self._all(query)


class SqlAlchemyPeopleRepository(_EntityRepository[Person]):
    entity = Person

    def __init__(self, session: AsyncSession, cache: CacheView | None = None) -> None:
        super().__init__(session)
        self._cache = cache or CacheView(None)
        # A press asks for the person's affiliations several times (home organisation,
        # language, scope): once per transaction is enough (the sender look-up brings
        # them). Every write here forgets them.
        self._affiliations: dict[int, Sequence[Affiliation]] = {}
        # A sender's accounts, when the sender look-up found they have no other (a private
        # answer asks for them); forgotten by every write of accounts here.
        self._identities: dict[int, Sequence[Identity]] = {}

    async def by_identity(self, platform: str, external_id: str) -> Person | None:
        identity = await self.identity(platform, external_id)
        return await self.get(identity.person_id) if identity else None

    async def add_identity(self, identity: Identity) -> Identity:
        self._identities.clear()
        return await self._add(identity)

    async def identity(self, platform: str, external_id: str) -> Identity | None:
        query = sa.select(Identity).filter_by(platform=platform, external_id=external_id)
        return await self._first(query)

    async def sender(self, platform: str, external_id: str) -> tuple[Identity, Person, bool] | None:
        read, found = self._cache.take_sender((platform, external_id))
        if not read:  # not with the event's mark (storage/records.py): read it now
            connection = await self.session.connection()
            rows = (
                await connection.execute(
                    _sender_query(), {"platform": platform, "external_id": external_id}
                )
            ).all()
            found = _found_in_rows(rows) if rows else None
        if found is None:
            self._cache.seen(None)  # the sender is new: this press goes without the cache
            return None
        identity = self._adopt(Identity, found.identity)
        person = self._adopt(Person, found.person)
        if identity is None or person is None:  # the session holds stale copies: load them
            entities = await self._sender_entities(platform, external_id)
            if entities is None:
                return None
            identity, person = entities
        self._cache.seen(found.generation)
        assert person.id is not None
        if not found.more_accounts:
            self._identities[person.id] = (identity,)
        affiliations = []
        for values in found.affiliations:
            affiliation = self._adopt(Affiliation, values)
            if affiliation is None:
                break  # stale copies again: `affiliations_of` will read them
            affiliations.append(affiliation)
        else:
            self._affiliations[person.id] = tuple(affiliations)
        return identity, person, found.consented

    async def _sender_entities(
        self, platform: str, external_id: str
    ) -> tuple[Identity, Person] | None:
        query = sa.select(Identity, Person).join_from(
            Identity, Person, tables.identities.c.person_id == tables.people.c.id
        )
        query = query.filter_by(platform=platform, external_id=external_id)
        found = await self.session.execute(query, execution_options={"populate_existing": True})
        first = found.first()
        return None if first is None else (first[0], first[1])

    async def identities_of(self, person_id: int) -> Sequence[Identity]:
        known = self._identities.get(person_id)
        if known is not None:
            return known
        c = tables.identities.c
        query = (
            sa.select(Identity)
            .filter_by(person_id=person_id)
            .order_by(c.last_seen_at.desc().nulls_last(), c.id.desc())
        )
        return await self._all(query)

    async def find_in_orgs(self, org_ids: Sequence[int], name: str) -> Sequence[Person]:
        p, i, a = tables.people.c, tables.identities.c, tables.affiliations.c
        wanted = fold(name)
        query = (
            sa.select(Person)
            .join(tables.affiliations, a.person_id == p.id)
            .join(tables.identities, i.person_id == p.id)
            .where(a.org_id.in_(org_ids))
            .where(sa.or_(i.username_key == wanted, p.name_key == wanted))
            .distinct()
        )
        return await self._all(query)

    async def search(self, text: str) -> Sequence[Person]:
        p, i = tables.people.c, tables.identities.c
        wanted = fold(text) or ""
        query = (
            sa.select(Person)
            .outerjoin(tables.identities, i.person_id == p.id)
            .where(
                sa.or_(
                    p.name_key.contains(wanted, autoescape=True),
                    i.username_key.contains(wanted, autoescape=True),
                    i.external_id == text,
                )
            )
            .distinct()
            .order_by(p.id)
        )
        return await self._all(query)

    async def affiliations_of(self, person_id: int) -> Sequence[Affiliation]:
        known = self._affiliations.get(person_id)
        if known is None:
            a = tables.affiliations.c
            query = sa.select(Affiliation).filter_by(person_id=person_id).order_by(a.since, a.id)
            known = self._affiliations[person_id] = tuple(await self.session.scalars(query))
        return known

    async def affiliate(self, affiliation: Affiliation) -> None:
        self._affiliations.clear()
        existing = await self.session.scalars(
            sa.select(Affiliation).filter_by(
                person_id=affiliation.person_id, org_id=affiliation.org_id
            )
        )
        if existing.first() is None:
            await self._add(affiliation)

    async def stale_guests(self, seen_before: datetime) -> Sequence[int]:
        p, r = tables.people.c, tables.role_assignments.c
        last_seen = sa.func.coalesce(p.last_seen_at, p.created_at)
        query = (
            sa.select(p.id)
            .where(p.status == Status.GUEST, last_seen < seen_before)
            .where(~sa.exists().where(r.person_id == p.id))
            .order_by(p.id)
        )
        return list(await self._all(query))

    async def detached(self, seen_before: datetime) -> Sequence[int]:
        p, a, r = tables.people.c, tables.affiliations.c, tables.role_assignments.c
        last_seen = sa.func.coalesce(p.last_seen_at, p.created_at)
        query = (
            sa.select(p.id)
            .where(last_seen < seen_before)
            .where(~sa.exists().where(a.person_id == p.id))
            .where(~sa.exists().where(r.person_id == p.id))
            .order_by(p.id)
        )
        return list(await self._all(query))

    async def purge_link_codes(self, now: datetime) -> int:
        c = tables.link_codes.c
        result = await self.session.execute(sa.delete(tables.link_codes).where(c.expires_at < now))
        return _count(result)

    async def leave(self, person_id: int, org_ids: Sequence[int]) -> None:
        self._affiliations.clear()
        for table in (tables.affiliations, tables.role_assignments):
            await self.session.execute(
                sa.delete(table).where(table.c.person_id == person_id, table.c.org_id.in_(org_ids))
            )

    async def roles_of(self, person_id: int) -> Sequence[RoleAssignment]:
        return await self._all(sa.select(RoleAssignment).filter_by(person_id=person_id))

    async def grant(self, assignment: RoleAssignment) -> bool:
        existing = await self.session.scalars(
            sa.select(RoleAssignment).filter_by(
                person_id=assignment.person_id, org_id=assignment.org_id, role=assignment.role
            )
        )
        if existing.first() is not None:
            return False
        await self._add(assignment)
        return True

    async def revoke(self, person_id: int, org_id: int, role: Role) -> bool:
        found = (
            await self.session.scalars(
                sa.select(RoleAssignment).filter_by(person_id=person_id, org_id=org_id, role=role)
            )
        ).first()
        if found is None:
            return False
        await self.session.delete(found)
        await self.session.flush()
        return True

    async def role_holders(self, org_id: int) -> Sequence[tuple[Person, Role]]:
        r, p = tables.role_assignments.c, tables.people.c
        query = (
            sa.select(Person, r.role)
            .join(tables.role_assignments, r.person_id == p.id)
            .where(r.org_id == org_id)
            .order_by(p.display_name, r.role)
        )
        return [(person, role) for person, role in (await self.session.execute(query)).all()]

    async def consents_of(self, person_id: int) -> Sequence[Consent]:
        query = sa.select(Consent).filter_by(person_id=person_id).order_by(tables.consents.c.id)
        return await self._all(query)

    async def add_consent(self, consent: Consent) -> None:
        await self._add(consent)

    async def add_link_code(self, code: LinkCode) -> None:
        await self._add(code)

    async def take_link_code(self, code: str) -> LinkCode | None:
        found = await self.session.get(LinkCode, code)
        if found is not None:
            await self.session.delete(found)
            await self.session.flush()
        return found

    async def erase(self, person_id: int, *, forget: bool = True) -> None:
        self._cache.wrote()  # their button actions go with them (and a merge moves them)
        await self.session.flush()
        from storage import erasure
        from storage.mapping import CAPABILITY_STORAGE

        traces = await erasure.traces_of(self.session, person_id)
        # Capabilities that keep anonymous records scrub what would still identify someone.

        for module in CAPABILITY_STORAGE:
            before_erase = getattr(module, "before_erase", None)
            if before_erase is not None:
                await before_erase(self.session, person_id)
        # Messages to them wait in the outbox with their chat id: drop those first (messages
        # about them to others go with them through `about_id`).
        outbox = tables.outbox.c
        await self.session.execute(sa.delete(tables.outbox).where(outbox.person_id == person_id))
        await self.session.execute(sa.delete(tables.people).where(tables.people.c.id == person_id))
        if forget:  # a merge keeps the person under their other account: their name stays
            await erasure.forget(self.session, traces)
        self._forget_loaded(person_id)

    async def personal_records(self, person_id: int) -> dict[str, list[dict[str, Any]]]:
        await self.session.flush()
        records: dict[str, list[dict[str, Any]]] = {}
        person = await self.session.execute(
            sa.select(tables.people).where(tables.people.c.id == person_id)
        )
        records["people"] = [dict(row._mapping) for row in person]
        # A row is theirs when its `person_id` is them (their answer, their flow) or when it
        # has no `person_id` and they made it (a poll they created). A row that is someone
        # else's and merely names them (Nora's introduction, where Cecilia is the contact
        # person) shows only which record and in what role, never the other person's answers.
        references: dict[sa.Table, list[sa.Column[Any]]] = {}
        for table, column in tables.personal_tables():
            references.setdefault(table, []).append(column)
        for table, columns in references.items():
            if table is tables.outbox:
                continue
            key = list(table.primary_key.columns)
            someone_elses = "person_id" in table.c
            own: dict[tuple[Any, ...], dict[str, Any]] = {}
            named: dict[tuple[Any, ...], dict[str, Any]] = {}
            for column in columns:
                whole = column.name == "person_id" or not someone_elses
                shown = [*table.columns] if whole else [*key, *columns]
                rows = await self.session.execute(sa.select(*shown).where(column == person_id))
                for row in rows:
                    values = dict(row._mapping)
                    ident = tuple(values[c.name] for c in key)
                    if whole:
                        own[ident] = values  # once, however many columns name them
                        continue
                    roles = [c.name for c in columns if values[c.name] == person_id]
                    named[ident] = {"table": table.name, **{c.name: values[c.name] for c in key}}
                    named[ident]["as"] = roles
            if own:
                records[table.name] = list(own.values())
            for ident, mention in named.items():
                if ident not in own:
                    records.setdefault("named_in", []).append(mention)
        messages = await self._messages_to(person_id)
        if messages:
            records["outbox"] = messages
        return records

    async def _messages_to(self, person_id: int) -> list[dict[str, Any]]:
        """What the bot sent them (or is about to), while the outbox keeps it, as they read it."""
        from bot.messages import OutgoingMessage

        c = tables.outbox.c
        query = (
            sa.select(c.platform, c.created_at, c.sent_at, c.status, c.payload)
            .where(c.person_id == person_id)
            # News about someone else (a new member, to their officer) is that person's.
            .where(sa.or_(c.about_id.is_(None), c.about_id == person_id))
            .order_by(c.id)
        )
        messages = []
        for platform, created_at, sent_at, status, payload in await self.session.execute(query):
            message = OutgoingMessage.from_json(payload)
            entry: dict[str, Any] = {
                "platform": platform,
                "created_at": created_at,
                "sent_at": sent_at,
                "status": status,
                "text": message.plain_text,
            }
            if message.attachment is not None:
                entry["file"] = message.attachment.filename
            messages.append(entry)
        return messages

    async def merge(self, keep_id: int, drop_id: int) -> None:
        self._affiliations.clear()
        self._identities.clear()
        self._cache.wrote()  # the dropped person's button actions become the kept one's
        keep, drop = await self.get(keep_id), await self.get(drop_id)
        assert keep is not None and drop is not None
        if drop.status is Status.MEMBER:
            keep.status = Status.MEMBER
        await self.session.flush()
        for table, column in tables.personal_tables():
            await self._move_rows(table, column, keep_id, drop_id)
        await self.erase(drop_id, forget=False)

    async def _move_rows(
        self, table: sa.Table, column: sa.Column[Any], keep_id: int, drop_id: int
    ) -> None:
        # Where a unique constraint would clash (both people answered the same
        # invitation, say), the kept person's row wins and the other is dropped.
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and column.name in constraint.columns:
                other = table.alias()
                same = [other.c[c.name] == c for c in constraint.columns if c.name != column.name]
                clash = sa.exists().where(other.c[column.name] == keep_id, *same)
                await self.session.execute(sa.delete(table).where(column == drop_id, clash))
        await self.session.execute(
            sa.update(table).where(column == drop_id).values({column.name: keep_id})
        )

    def _forget_loaded(self, person_id: int) -> None:
        """Detaches loaded objects that the bulk statements made stale."""
        self._affiliations.clear()
        self._identities.clear()
        for obj in list(self.session.identity_map.values()):
            if getattr(obj, "person_id", None) == person_id or (
                isinstance(obj, Person) and obj.id == person_id
            ):
                self.session.expunge(obj)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)
