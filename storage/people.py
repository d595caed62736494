"""The people repository: persons, their accounts, affiliations, roles and consent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

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
from storage.read_cache import CacheView
from storage.repositories import _count, _EntityRepository
from storage.search_keys import fold
from storage.sender import _found_in_rows, _sender_query


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
