"""The framework's records, implemented with an async SQLAlchemy session: timers, button
actions, dialog state and the events already handled (`bot.domain.delivery`). The outbox
has a module of its own (storage/outbox.py)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.delivery import ButtonAction, DialogState, ProcessedEvent, Timer
from storage import tables
from storage.read_cache import CacheView, copy_of
from storage.repositories import _built, _count, _min_instant, _Repository
from storage.sender import found_in_document, sender_document


class SqlAlchemyTimerRepository(_Repository):
    async def schedule(self, timer: Timer) -> None:
        existing = await self._first(sa.select(Timer).filter_by(key=timer.key))
        if existing is None:
            await self._add(timer)
        elif existing.done_at is None:  # a done timer is never re-armed under the same key
            existing.due_at = timer.due_at
            existing.payload = timer.payload

    async def cancel(self, key: str) -> None:
        c = tables.timers.c
        await self.session.execute(
            sa.delete(tables.timers).where(c.key == key, c.done_at.is_(None))
        )

    async def due(self, now: datetime, limit: int) -> Sequence[Timer]:
        c = tables.timers.c
        query = (
            sa.select(Timer)
            .where(c.done_at.is_(None), c.due_at <= now)
            .order_by(c.due_at, c.id)
            .limit(limit)
        )
        return await self._all(query)

    async def get(self, timer_id: int) -> Timer | None:
        return await self.session.get(Timer, timer_id, with_for_update=True)

    async def next_due(self) -> datetime | None:
        c = tables.timers.c
        return await _min_instant(
            self.session, sa.select(sa.func.min(c.due_at)).where(c.done_at.is_(None))
        )


class SqlAlchemyButtonRepository(_Repository):
    """Button actions, written once and never changed: a press reads them from the read
    cache when it can (storage/read_cache.py). What deletes or changes them (this purge,
    an erasure, a merge) bumps the cache's generation, so a gone button stays gone."""

    def __init__(self, session: AsyncSession, cache: CacheView | None = None) -> None:
        super().__init__(session)
        self._cache = cache or CacheView(None)

    async def add(self, action: ButtonAction) -> None:
        self.session.add(action)
        self._cache.added_buttons.append(action)  # cached once committed

    async def get(self, token: str) -> ButtonAction | None:
        """The action; from the cache, a copy of its own that is part of no session (a
        press only reads it)."""
        loaded = self._loaded(ButtonAction, token)
        if loaded is not None:
            return loaded
        cache = self._cache.live
        if cache is not None:
            values = cache.button(token)
            if values is not None:
                action: ButtonAction = copy_of(ButtonAction, values)
                return action
        found = await self.session.get(ButtonAction, token)
        cache = self._cache.live  # again: another unit of work may have moved it on meanwhile
        if found is not None and cache is not None:
            cache.put_button(found)  # never a miss: another process may add it next
        return found

    async def purge(self, before: datetime) -> int:
        self._cache.wrote()
        c = tables.button_actions.c
        result = await self.session.execute(
            sa.delete(tables.button_actions).where(c.created_at < before)
        )
        return _count(result)


class SqlAlchemyDialogRepository(_Repository):
    async def get(self, person_id: int, platform: str, chat_id: str) -> DialogState | None:
        query = sa.select(DialogState).filter_by(
            person_id=person_id, platform=platform, chat_id=chat_id
        )
        return await self._first(query)

    async def save(self, state: DialogState) -> None:
        existing = await self.get(state.person_id, state.platform, state.chat_id)
        if existing is None:
            await self._add(state)
            return
        existing.name, existing.step = state.name, state.step
        existing.data, existing.updated_at = dict(state.data), state.updated_at

    async def clear(
        self, person_id: int, platform: str, chat_id: str, name: str | None = None
    ) -> None:
        # One DELETE, not a look-up and an ORM delete: a vote ends a pending reason
        # dialog this way at every press (issue 21).
        match = {"person_id": person_id, "platform": platform, "chat_id": chat_id}
        if name is not None:
            match["name"] = name
        await self.session.execute(_dialog_clear(name is not None), match)
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, DialogState) and all(getattr(obj, k) == v for k, v in match.items()):
                self.session.expunge(obj)


@functools.cache
def _dialog_clear(named: bool) -> sa.Delete:
    """Ends a dialog (:person_id, :platform, :chat_id; only the one called :name if `named`)."""
    c = tables.dialogs.c
    where = [c.person_id == sa.bindparam("person_id"), c.platform == sa.bindparam("platform")]
    where.append(c.chat_id == sa.bindparam("chat_id"))
    if named:
        where.append(c.name == sa.bindparam("name"))
    return sa.delete(tables.dialogs).where(*where)


class SqlAlchemyEventRepository(_Repository):
    def __init__(self, session: AsyncSession, cache: CacheView | None = None) -> None:
        super().__init__(session)
        self._cache = cache or CacheView(None)

    async def first_time(
        self, event: ProcessedEvent, sender: tuple[str, str] | None = None
    ) -> bool:
        # One statement instead of a look-up and an insert. On PostgreSQL a redelivery
        # racing the first waits here for its transaction, then finds the mark.
        # On the session's connection: nothing for the ORM to do here, and its execution
        # path cost more CPU than the statement (issue 21's profile).
        values: dict[str, Any] = {
            "platform": event.platform,
            "event_id": event.event_id,
            "processed_at": event.processed_at,
        }
        connection = await self.session.connection()
        if sender is None:
            statement = _built(self.session, "events.first_time", _first_time)
            return (await connection.execute(statement, values)).first() is not None
        # The sender's look-up rides along in the RETURNING (issue 21: a statement less
        # a press); `people.sender` takes it from there.
        statement = _built(self.session, "events.first_time_sender", _first_time_sender)
        values["sender_platform"], values["sender_id"] = sender
        row = (await connection.execute(statement, values)).first()
        if row is None:
            return False
        self._cache.sender = (sender, found_in_document(row.sender))
        return True

    async def purge(self, before: datetime) -> int:
        c = tables.processed_events.c
        result = await self.session.execute(
            sa.delete(tables.processed_events).where(c.processed_at < before)
        )
        return _count(result)


def _first_time(dialect: Any) -> Any:
    """An event's mark, unless it was handled already (the values come with the call)."""
    return (
        dialect.insert(tables.processed_events)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(tables.processed_events.c.platform)
    )


def _first_time_sender(dialect: Any) -> Any:
    """The event's mark, returning the sender (`sender_document`) when it is new."""
    return (
        dialect.insert(tables.processed_events)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(sender_document("postgresql" if dialect is postgresql else "sqlite"))
    )
