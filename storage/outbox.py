"""The outbox, implemented with an async SQLAlchemy session (`bot.domain.delivery`): what
every reply, reminder and announcement goes out through (bot/delivery/__init__.py), with
the statements of its hot paths built once."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.delivery import ButtonAction, OutboxEntry, OutboxStatus
from storage import tables
from storage.read_cache import CacheView
from storage.repositories import _built, _count, _min_instant, _Repository


class SqlAlchemyOutboxRepository(_Repository):
    def __init__(self, session: AsyncSession, cache: CacheView | None = None) -> None:
        super().__init__(session)
        self._cache = cache or CacheView(None)

    async def add(self, entry: OutboxEntry, buttons: Sequence[ButtonAction] = ()) -> bool:
        # One statement, also when another process races us to the key: the hot path of
        # every reply (a look-up, a savepoint, an insert and its release before).
        values = {field.name: getattr(entry, field.name) for field in fields(entry)}
        del values["id"]
        if buttons and self.session.get_bind().dialect.name == "postgresql":
            # The entry and its buttons in one statement: the buttons' INSERT reads the
            # entry's, so they are written only when the entry is.
            statement = _outbox_add_with_buttons(len(buttons))
            for n, action in enumerate(buttons):
                values.update({f"b{n}_{c}": getattr(action, c) for c in _BUTTON_COLUMNS})
            entry.id = (await self.session.execute(statement, values)).scalar_one_or_none()
            if entry.id is not None:
                self._cache.added_buttons.extend(buttons)  # cached once committed
            return entry.id is not None
        statement = _built(self.session, "outbox.add", _outbox_add)
        entry.id = (await self.session.execute(statement, values)).scalar_one_or_none()
        if entry.id is None:
            return False
        if buttons:  # all of them in one INSERT
            rows = [{c: getattr(action, c) for c in _BUTTON_COLUMNS} for action in buttons]
            await self.session.execute(_BUTTON_ADD, rows)
            self._cache.added_buttons.extend(buttons)  # cached once committed
        return True

    async def claim_due(
        self, now: datetime, limit: int, platforms: Sequence[str], *, owner: str, until: datetime
    ) -> Sequence[OutboxEntry]:
        outbox = tables.outbox
        c = outbox.c
        if self.session.get_bind().dialect.name == "postgresql":
            # Claims take turns (until this transaction ends), so that a replica never sees
            # an earlier entry of a chat as pending while another is claiming it: one
            # chat's messages stay in order across replicas. Claiming takes milliseconds.
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
        # What a claim reads grows neither with the queue nor with the history: it walks a
        # platform's pending entries in the order they are claimed (ix_outbox_queue, then
        # ix_outbox_queue_batch) and looks at each one's chat for earlier entries still on
        # their way (ix_outbox_chat), until it has `limit`; only entries held up behind an
        # earlier one of their chat are passed over. Statuses are literals, repeating those
        # partial indexes' WHERE terms.
        waiting_behind = _waiting_behind()
        due = c.not_before <= now
        if self.session.get_bind().dialect.name == "sqlite":
            # Most pending entries are due: told so, SQLite walks the queue's index in
            # order instead of sorting every due entry (ix_outbox_due) to return a few.
            due = sa.func.likely(due)

        def queued(batched: bool, room: int) -> sa.Select[Any]:
            return (
                sa.select(OutboxEntry)
                .where(
                    c.status == _literal(OutboxStatus.PENDING),
                    c.batch.is_not(None) if batched else c.batch.is_(None),
                    c.platform.in_(platforms),
                    due,
                    ~waiting_behind,
                )
                .order_by(c.id)
                .limit(room)
                .with_for_update(skip_locked=True, of=outbox)
            )

        # Answers and reminders before announcements (which have a batch): a reply must
        # not wait behind an hour-long announcement to 100,000 members.
        at = {_WAITING_SINCE: now}
        batch = list(await self.session.scalars(queued(False, limit), at))
        if len(batch) < limit:
            batch += await self.session.scalars(queued(True, limit - len(batch)), at)
        for entry in batch:
            entry.status = OutboxStatus.CLAIMED
            entry.claimed_by = owner
            entry.claimed_until = until
        await self.session.flush()
        return batch

    async def start_call(self, entry_id: int, owner: str, now: datetime, until: datetime) -> bool:
        result = await self.session.execute(
            _START_CALL, {"entry": entry_id, "owner": owner, "now": now, "until": until}
        )
        return _count(result) == 1

    async def mark_sent(self, entry_id: int, now: datetime, external_id: str | None) -> bool:
        if self.session.get_bind().dialect.name == "postgresql":
            # Visible to every process as soon as it commits, without waiting for the disk
            # (milliseconds off the uncertain window, see bot/delivery/__init__.py). Only a crash of
            # the database server itself right then could lose it: the entry would then be
            # uncertain, as if this process had died.
            await self.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
        result = await self.session.execute(
            _MARK_SENT, {"entry": entry_id, "now": now, "external": external_id}
        )
        return _count(result) == 1

    async def start_calls(
        self, entry_ids: Sequence[int], owner: str, now: datetime, until: datetime
    ) -> set[int]:
        if not entry_ids:
            return set()
        values = {"entries": list(entry_ids), "owner": owner, "now": now, "until": until}
        return set((await self.session.execute(_START_CALLS, values)).scalars())

    async def mark_sent_many(self, sent: Mapping[int, str | None], now: datetime) -> set[int]:
        if not sent:
            return set()
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))  # as above
        # Each entry's own external id: a CASE on the id, built per call (its size varies).
        external = sa.case(
            {entry_id: sa.literal(ext, _o.external_id.type) for entry_id, ext in sent.items()},
            value=_o.id,
        )
        statement = _MARK_SENT_MANY.values(external_id=external)
        values = {"entries": list(sent), "now": now}
        return set((await self.session.execute(statement, values)).scalars())

    async def settle(
        self,
        entry_id: int,
        owner: str,
        *,
        status: OutboxStatus,
        attempts: int,
        not_before: datetime,
        error: str,
    ) -> bool:
        c = tables.outbox.c
        result = await self.session.execute(
            sa.update(tables.outbox)
            .where(
                c.id == entry_id,
                c.claimed_by == owner,
                c.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING]),
            )
            .values(
                status=status,
                attempts=attempts,
                not_before=not_before,
                last_error=error[:500],
                claimed_by=None,
                claimed_until=None,
            )
        )
        return _count(result) == 1

    async def release(self, entry_ids: Sequence[int], owner: str) -> int:
        if not entry_ids:
            return 0
        c = tables.outbox.c
        result = await self.session.execute(
            sa.update(tables.outbox)
            .where(c.id.in_(entry_ids), c.claimed_by == owner, c.status == OutboxStatus.CLAIMED)
            .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_until=None)
        )
        return _count(result)

    async def renew(self, owner: str, until: datetime, entry_ids: Sequence[int]) -> int:
        c = tables.outbox.c
        # Rows another transaction is writing are skipped, not waited for (PostgreSQL): they
        # are this process's own results being recorded, which need no lease, or a renewal
        # that comes round again within seconds. Waiting for them deadlocked now and then,
        # since those transactions write the same rows in another order.
        ours = (
            sa.select(c.id)
            .where(
                c.id.in_(entry_ids),
                c.claimed_by == owner,
                c.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING]),
            )
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(
            sa.update(tables.outbox).where(c.id.in_(ours)).values(claimed_until=until)
        )
        return _count(result)

    async def claimed(self, expired_before: datetime | None) -> Sequence[OutboxEntry]:
        c = tables.outbox.c
        query = sa.select(OutboxEntry).where(
            c.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING])
        )
        if expired_before is not None:
            query = query.where(sa.or_(c.claimed_until.is_(None), c.claimed_until < expired_before))
        query = query.order_by(c.id).with_for_update(skip_locked=True)
        return await self._all(query)

    async def get(self, entry_id: int) -> OutboxEntry | None:
        return await self.session.get(OutboxEntry, entry_id)

    async def by_key(self, key: str) -> OutboxEntry | None:
        query = sa.select(OutboxEntry).where(tables.outbox.c.key == key)
        return await self._first(query)

    async def purge(self, before: datetime) -> int:
        c = tables.outbox.c
        done = c.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED])
        result = await self.session.execute(
            sa.delete(tables.outbox).where(done, c.created_at < before)
        )
        return _count(result)

    async def stuck_sending(self) -> Sequence[OutboxEntry]:
        query = sa.select(OutboxEntry).where(tables.outbox.c.status == OutboxStatus.SENDING)
        return await self._all(query)

    async def pending_in_chat(self, platform: str, chat_id: str) -> Sequence[OutboxEntry]:
        c = tables.outbox.c
        query = (
            sa.select(OutboxEntry)
            .where(
                c.platform == platform,
                c.chat_id == chat_id,
                c.status.in_([_literal(s) for s in tables.OUTBOX_WAITING]),  # ix_outbox_chat
                c.status == _literal(OutboxStatus.PENDING),
                c.batch.is_(None),
                c.direct.is_(False),
            )
            .order_by(c.id)
            .limit(50)
        )
        return await self._all(query)

    async def next_due(
        self, platforms: Sequence[str], now: datetime | None = None
    ) -> datetime | None:
        c = tables.outbox.c
        pending = (c.status == _literal(OutboxStatus.PENDING), c.platform.in_(platforms))
        if now is None:
            return await _min_instant(
                self.session, sa.select(sa.func.min(c.not_before)).where(*pending)
            )
        # Due now only if a claim would take something: entries queued behind a deferred
        # (or claimed) one of their chat are not, or a rate-limited chat's backlog would
        # wake the dispatcher again and again for nothing until its deferral ends.
        due = c.not_before <= now
        if self.session.get_bind().dialect.name == "sqlite":
            due = sa.func.likely(due)  # as in the claim: most pending entries are due
        claimable = sa.select(c.not_before).where(*pending, due, ~_waiting_behind()).limit(1)
        found: datetime | None = (
            await self.session.execute(claimable, {_WAITING_SINCE: now})
        ).scalar()
        if found is not None:
            return found
        # Else the first entry that falls due later (a deferral's end, a scheduled post).
        later = sa.select(sa.func.min(c.not_before)).where(*pending, c.not_before > now)
        return await _min_instant(self.session, later)


_WAITING_SINCE = "waiting_since"  # the bound parameter of `_waiting_behind`: now


@functools.cache
def _waiting_behind() -> sa.Exists:
    """Whether an outbox entry must wait for an earlier entry of its chat still on its way,
    at the instant bound as `_WAITING_SINCE`.

    Built once: building it (an alias's columns above all) cost 0.76 ms, more than the
    claim and the next-due look-up that use it take to run."""
    c = tables.outbox.c
    earlier = tables.outbox.alias("earlier")
    return (
        sa.select(earlier.c.id)
        .where(
            earlier.c.platform == c.platform,
            earlier.c.chat_id == c.chat_id,
            earlier.c.status.in_([_literal(s) for s in tables.OUTBOX_WAITING]),
            earlier.c.id < c.id,
            # Claimed or sending, or pending and not yet due. A copy of an announcement
            # merely waiting its turn holds nothing up: an answer to the same person
            # goes first (they are waiting for it; the announcement has not reached them).
            sa.or_(
                earlier.c.status != _literal(OutboxStatus.PENDING),
                earlier.c.not_before > sa.bindparam(_WAITING_SINCE, type_=c.not_before.type),
            ),
        )
        # Checked for each entry as the scan meets it, never joined to the whole queue:
        # PostgreSQL chooses that join when its statistics trail a bulk insert.
        .offset(0)
        .exists()
    )


# The transaction-scoped advisory lock that makes outbox claims take turns on PostgreSQL
# (a different key from the scheduler's session lock, see storage/coordination.py).
_CLAIM_LOCK = 0x53_61_6D_01


# The two writes around every platform call (bot/delivery/__init__.py), built once: building an
# UPDATE and its cache key cost more CPU than running it (issue 21's paid broadcasts).
_o = tables.outbox.c
_ONE = _o.id == sa.bindparam("entry")
_MANY = _o.id.in_(sa.bindparam("entries", expanding=True))  # a group of paid broadcasts


def _start_marks(which: sa.ColumnElement[bool]) -> sa.Update:
    """The start mark of a platform call: still claimed by this owner, now sending."""
    return (
        sa.update(tables.outbox)
        .where(which, _o.claimed_by == sa.bindparam("owner"), _o.status == OutboxStatus.CLAIMED)
        .values(
            status=OutboxStatus.SENDING,
            started_at=sa.bindparam("now", type_=_o.started_at.type),
            claimed_until=sa.bindparam("until", type_=_o.claimed_until.type),
        )
    )


def _sent_marks(which: sa.ColumnElement[bool]) -> sa.Update:
    """A call's result, sent; claimed_by stays: which process sent it."""
    return (
        sa.update(tables.outbox)
        .where(which, _o.status != OutboxStatus.SENT)
        .values(
            status=OutboxStatus.SENT,
            sent_at=sa.bindparam("now", type_=_o.sent_at.type),
            claimed_until=None,
            # A private message to no one we know (the goodbye after an erasure): once
            # sent, where it went is forgotten.
            chat_id=sa.case((sa.and_(_o.direct, _o.person_id.is_(None)), ""), else_=_o.chat_id),
        )
    )


_START_CALL = _start_marks(_ONE)
_MARK_SENT = _sent_marks(_ONE).values(
    external_id=sa.bindparam("external", type_=_o.external_id.type)
)
# For a group, the ids of the rows written come back, so a claim lost or a send recorded
# elsewhere shows.
_START_CALLS = _start_marks(_MANY).returning(_o.id)
_MARK_SENT_MANY = _sent_marks(_MANY).returning(_o.id)

# A message's buttons go in with it as Core rows, not ORM objects flushed at commit (every
# reply with buttons pays for it, issue 21). Button actions are written once and never
# changed, so no loaded copy can go stale.
_BUTTON_COLUMNS = tuple(column.name for column in tables.button_actions.columns)
_BUTTON_ADD = sa.insert(tables.button_actions)


@functools.cache
def _outbox_add_with_buttons(count: int) -> Any:
    """PostgreSQL: an outbox entry and its `count` buttons, unless its key is queued
    already, in one statement (the values come with the call: the entry's by column name,
    each button's as b<n>_<column>)."""
    outbox, buttons = tables.outbox, tables.button_actions
    entry = (
        postgresql.insert(outbox)
        .values({c.name: sa.bindparam(c.name, type_=c.type) for c in outbox.c if c.name != "id"})
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(outbox.c.id)
        .cte("entry")
    )
    rows = [
        sa.select(*(sa.bindparam(f"b{n}_{c.name}", type_=c.type) for c in buttons.c)).select_from(
            entry
        )
        for n in range(count)
    ]
    written = sa.insert(buttons).from_select(
        list(_BUTTON_COLUMNS), sa.union_all(*rows) if count > 1 else rows[0]
    )
    return sa.select(entry.c.id).add_cte(written.cte("buttons"))


def _outbox_add(dialect: Any) -> Any:
    """An outbox entry, unless its key is queued already (the values come with the call)."""
    return (
        dialect.insert(tables.outbox)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(tables.outbox.c.id)
    )


def _literal(status: OutboxStatus) -> sa.ColumnElement[Any]:
    """A status written into the SQL, as the outbox's partial indexes name it."""
    return sa.literal_column(f"'{status.value}'")
