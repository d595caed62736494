"""The core's repositories, implemented with an async SQLAlchemy session."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from bot.domain.organisations import Channel, Organisation
from storage import tables
from storage.read_cache import CacheView, Values, copy_of

_MAX_DEPTH = 16  # an organisation tree is a few levels deep; a cycle stops here

_T = TypeVar("_T")


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
        cache = self._cache.live
        if cache is not None:
            values = cache.orgs.get(org_id)
            if values is not None:
                attached = self._attach(Organisation, values, _identity_key(Organisation, org_id))
                if attached is not None:
                    return attached
        org = await self.session.get(Organisation, org_id)
        if org is not None:
            self._keep(org)
        return org

    def _keep(self, org: Organisation) -> None:
        cache = self._cache.live
        if cache is not None:
            cache.put_org(org)

    async def by_slug(self, slug: str) -> Organisation | None:
        cache = self._cache.live
        if cache is not None:
            org_id = cache.slugs.get(slug)
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
        cache = self._cache.live
        cached = cache.orgs if cache is not None else {}
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
        cache = self._cache.live
        if cache is not None and key in cache.channels:
            values = cache.channels[key]
            if values is None:
                return None  # a chat bound to no organisation (binding one bumps the counter)
            attached = self._attach(Channel, values, _identity_key(Channel, key))
            if attached is not None:
                return attached
        channel = await self.session.get(Channel, key)
        cache = self._cache.live  # again: another unit of work may have moved it on meanwhile
        if cache is not None:
            cache.put_channel(key, channel)
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


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


async def _min_instant(session: AsyncSession, query: sa.Select[Any]) -> datetime | None:
    # min() keeps the column's type, so the value comes back as an aware UTC datetime.
    value: datetime | None = (await session.execute(query)).scalar()
    return value


# Statements of every press or reply, built once per dialect: building a statement and its
# cache key cost more CPU than running it (issue 21).
_BUILT: dict[tuple[str, str], Any] = {}


def _built(session: AsyncSession, name: str, build: Callable[[Any], Any]) -> Any:
    dialect = session.get_bind().dialect.name
    found = _BUILT.get((dialect, name))
    if found is None:
        found = _BUILT[(dialect, name)] = build(postgresql if dialect == "postgresql" else sqlite)
    return found
