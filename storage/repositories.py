"""The core's repositories, implemented with an async SQLAlchemy session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.delivery import (
    ButtonAction,
    DialogState,
    OutboxEntry,
    OutboxStatus,
    ProcessedEvent,
    Timer,
)
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


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _add(self, obj: Any) -> None:
        self.session.add(obj)
        await self.session.flush()


class SqlAlchemyOrganisationRepository(_Repository):
    async def add(self, org: Organisation) -> Organisation:
        await self._add(org)
        return org

    async def get(self, org_id: int) -> Organisation | None:
        return await self.session.get(Organisation, org_id)

    async def by_slug(self, slug: str) -> Organisation | None:
        result = await self.session.scalars(sa.select(Organisation).filter_by(slug=slug))
        return result.first()

    async def list_all(self) -> Sequence[Organisation]:
        query = sa.select(Organisation).order_by(tables.organisations.c.id)
        return (await self.session.scalars(query)).all()

    async def lineage(self, org_id: int) -> Sequence[Organisation]:
        chain: list[Organisation] = []
        current = await self.get(org_id)
        while current is not None and len(chain) < 16:  # a hierarchy is a few levels deep
            chain.append(current)
            current = await self.get(current.parent_id) if current.parent_id else None
        return chain

    async def subtree(self, org_id: int) -> Sequence[Organisation]:
        everything = await self.list_all()
        children: dict[int | None, list[Organisation]] = {}
        for org in everything:
            children.setdefault(org.parent_id, []).append(org)
        found = [org for org in everything if org.id == org_id]
        for org in found:  # grows while it is walked: breadth first
            found.extend(children.get(org.id, []))
        return found

    async def channel(self, platform: str, chat_id: str) -> Channel | None:
        return await self.session.get(Channel, (platform, chat_id))

    async def bind_channel(self, channel: Channel) -> None:
        await self.session.merge(channel)
        await self.session.flush()

    async def channels_of(self, org_id: int) -> Sequence[Channel]:
        query = (
            sa.select(Channel)
            .filter_by(org_id=org_id)
            .order_by(tables.channels.c.platform, tables.channels.c.chat_id)
        )
        return (await self.session.scalars(query)).all()


class SqlAlchemyPeopleRepository(_Repository):
    async def add(self, person: Person) -> Person:
        await self._add(person)
        return person

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def by_identity(self, platform: str, external_id: str) -> Person | None:
        identity = await self.identity(platform, external_id)
        return await self.get(identity.person_id) if identity else None

    async def add_identity(self, identity: Identity) -> Identity:
        await self._add(identity)
        return identity

    async def identity(self, platform: str, external_id: str) -> Identity | None:
        query = sa.select(Identity).filter_by(platform=platform, external_id=external_id)
        return (await self.session.scalars(query)).first()

    async def identities_of(self, person_id: int) -> Sequence[Identity]:
        c = tables.identities.c
        query = (
            sa.select(Identity)
            .filter_by(person_id=person_id)
            .order_by(c.last_seen_at.desc().nulls_last(), c.id.desc())
        )
        return (await self.session.scalars(query)).all()

    async def find_in_orgs(self, org_ids: Sequence[int], name: str) -> Sequence[Person]:
        p, i, a = tables.people.c, tables.identities.c, tables.affiliations.c
        wanted = name.lower()
        query = (
            sa.select(Person)
            .join(tables.affiliations, a.person_id == p.id)
            .join(tables.identities, i.person_id == p.id)
            .where(a.org_id.in_(org_ids))
            .where(
                sa.or_(sa.func.lower(i.username) == wanted, sa.func.lower(p.display_name) == wanted)
            )
            .distinct()
        )
        return (await self.session.scalars(query)).all()

    async def search(self, text: str) -> Sequence[Person]:
        p, i = tables.people.c, tables.identities.c
        pattern = f"%{text.lower()}%"
        query = (
            sa.select(Person)
            .outerjoin(tables.identities, i.person_id == p.id)
            .where(
                sa.or_(
                    sa.func.lower(p.display_name).like(pattern),
                    sa.func.lower(i.username).like(pattern),
                    i.external_id == text,
                )
            )
            .distinct()
            .order_by(p.id)
        )
        return (await self.session.scalars(query)).all()

    async def affiliations_of(self, person_id: int) -> Sequence[Affiliation]:
        a = tables.affiliations.c
        query = sa.select(Affiliation).filter_by(person_id=person_id).order_by(a.since, a.id)
        return (await self.session.scalars(query)).all()

    async def affiliate(self, affiliation: Affiliation) -> None:
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
        return list((await self.session.scalars(query)).all())

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
        return list((await self.session.scalars(query)).all())

    async def purge_link_codes(self, now: datetime) -> int:
        c = tables.link_codes.c
        result = await self.session.execute(sa.delete(tables.link_codes).where(c.expires_at < now))
        return _count(result)

    async def leave(self, person_id: int, org_ids: Sequence[int]) -> None:
        for table in (tables.affiliations, tables.role_assignments):
            await self.session.execute(
                sa.delete(table).where(table.c.person_id == person_id, table.c.org_id.in_(org_ids))
            )

    async def roles_of(self, person_id: int) -> Sequence[RoleAssignment]:
        return (
            await self.session.scalars(sa.select(RoleAssignment).filter_by(person_id=person_id))
        ).all()

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
        return (await self.session.scalars(query)).all()

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

    async def erase(self, person_id: int) -> None:
        await self.session.flush()
        # Capabilities that keep anonymous records scrub what would still identify someone.
        from storage.mapping import CAPABILITY_STORAGE

        for module in CAPABILITY_STORAGE:
            before_erase = getattr(module, "before_erase", None)
            if before_erase is not None:
                await before_erase(self.session, person_id)
        # Messages to or about them wait in the outbox with their chat id: drop those first.
        outbox = tables.outbox.c
        await self.session.execute(sa.delete(tables.outbox).where(outbox.person_id == person_id))
        await self.session.execute(sa.delete(tables.people).where(tables.people.c.id == person_id))
        self._forget_loaded(person_id)

    async def personal_records(self, person_id: int) -> dict[str, list[dict[str, Any]]]:
        await self.session.flush()
        records: dict[str, list[dict[str, Any]]] = {}
        person = await self.session.execute(
            sa.select(tables.people).where(tables.people.c.id == person_id)
        )
        records["people"] = [dict(row._mapping) for row in person]
        for table, column in tables.personal_tables():
            if table is tables.outbox:  # delivery bookkeeping, not something we keep about them
                continue
            rows = await self.session.execute(sa.select(table).where(column == person_id))
            found = [dict(row._mapping) for row in rows]
            if found:
                records.setdefault(table.name, []).extend(found)
        return records

    async def merge(self, keep_id: int, drop_id: int) -> None:
        keep, drop = await self.get(keep_id), await self.get(drop_id)
        assert keep is not None and drop is not None
        if drop.status is Status.MEMBER:
            keep.status = Status.MEMBER
        await self.session.flush()
        for table, column in tables.personal_tables():
            await self._move_rows(table, column, keep_id, drop_id)
        await self.erase(drop_id)

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
        for obj in list(self.session.identity_map.values()):
            if getattr(obj, "person_id", None) == person_id or (
                isinstance(obj, Person) and obj.id == person_id
            ):
                self.session.expunge(obj)


class SqlAlchemyOutboxRepository(_Repository):
    async def add(self, entry: OutboxEntry) -> bool:
        if await self._has_key(entry.key):
            return False
        try:
            async with self.session.begin_nested():  # another process may race us to the key
                self.session.add(entry)
        except IntegrityError:
            if await self._has_key(entry.key):
                return False
            raise
        return True

    async def _has_key(self, key: str) -> bool:
        query = sa.select(tables.outbox.c.id).where(tables.outbox.c.key == key)
        return (await self.session.execute(query)).first() is not None

    async def claim_due(
        self, now: datetime, limit: int, platforms: Sequence[str]
    ) -> Sequence[OutboxEntry]:
        c = tables.outbox.c
        query = (
            sa.select(OutboxEntry)
            .where(c.status == OutboxStatus.PENDING, c.not_before <= now, c.platform.in_(platforms))
            .order_by(c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        batch = (await self.session.scalars(query)).all()
        for entry in batch:
            entry.status = OutboxStatus.SENDING
        await self.session.flush()
        return batch

    async def get(self, entry_id: int) -> OutboxEntry | None:
        return await self.session.get(OutboxEntry, entry_id)

    async def by_key(self, key: str) -> OutboxEntry | None:
        query = sa.select(OutboxEntry).where(tables.outbox.c.key == key)
        return (await self.session.scalars(query)).first()

    async def purge(self, before: datetime) -> int:
        c = tables.outbox.c
        done = c.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED])
        result = await self.session.execute(
            sa.delete(tables.outbox).where(done, c.created_at < before)
        )
        return _count(result)

    async def stuck_sending(self) -> Sequence[OutboxEntry]:
        query = sa.select(OutboxEntry).where(tables.outbox.c.status == OutboxStatus.SENDING)
        return (await self.session.scalars(query)).all()

    async def next_due(self, platforms: Sequence[str]) -> datetime | None:
        c = tables.outbox.c
        query = sa.select(sa.func.min(c.not_before)).where(
            c.status == OutboxStatus.PENDING, c.platform.in_(platforms)
        )
        return await _min_instant(self.session, query)


class SqlAlchemyTimerRepository(_Repository):
    async def schedule(self, timer: Timer) -> None:
        existing = (await self.session.scalars(sa.select(Timer).filter_by(key=timer.key))).first()
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
        return (await self.session.scalars(query)).all()

    async def get(self, timer_id: int) -> Timer | None:
        return await self.session.get(Timer, timer_id, with_for_update=True)

    async def next_due(self) -> datetime | None:
        c = tables.timers.c
        return await _min_instant(
            self.session, sa.select(sa.func.min(c.due_at)).where(c.done_at.is_(None))
        )


class SqlAlchemyButtonRepository(_Repository):
    async def add(self, action: ButtonAction) -> None:
        self.session.add(action)

    async def get(self, token: str) -> ButtonAction | None:
        return await self.session.get(ButtonAction, token)

    async def purge(self, before: datetime) -> int:
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
        return (await self.session.scalars(query)).first()

    async def save(self, state: DialogState) -> None:
        existing = await self.get(state.person_id, state.platform, state.chat_id)
        if existing is None:
            await self._add(state)
            return
        existing.name, existing.step = state.name, state.step
        existing.data, existing.updated_at = dict(state.data), state.updated_at

    async def clear(self, person_id: int, platform: str, chat_id: str) -> None:
        existing = await self.get(person_id, platform, chat_id)
        if existing is not None:
            await self.session.delete(existing)
            await self.session.flush()


class SqlAlchemyEventRepository(_Repository):
    async def seen(self, platform: str, event_id: str) -> bool:
        return await self.session.get(ProcessedEvent, (platform, event_id)) is not None

    async def record(self, event: ProcessedEvent) -> None:
        self.session.add(event)

    async def purge(self, before: datetime) -> int:
        c = tables.processed_events.c
        result = await self.session.execute(
            sa.delete(tables.processed_events).where(c.processed_at < before)
        )
        return _count(result)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


async def _min_instant(session: AsyncSession, query: sa.Select[Any]) -> datetime | None:
    # min() keeps the column's type, so the value comes back as an aware UTC datetime.
    value: datetime | None = (await session.execute(query)).scalar()
    return value
