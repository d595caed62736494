"""Tables and repository for the member register (bot/register).

An entry is the member's own data (`person_id` CASCADE): it goes with her, and
`before_erase` leaves its tombstone, the keyed hash of her member number, so the
next import does not bring her back. Former members' entries leave none: they are
erased by retention, not at their own request, and may join the party again.

Imports write in batches with Core statements (100,000 rows: BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.people import Person, Status
from bot.register.model import (
    EntryStatus,
    KnownEntry,
    MemberRow,
    NewMember,
    Reach,
    RegisterEntry,
)
from storage import tables
from storage.repositories import _Repository
from storage.search_keys import fold
from storage.tables import UtcDateTime, enum_column, person_fk

BATCH = 1000

register_entries = tables.numbered_table(
    "register_entries",
    tables.org_column(index=True),
    sa.Column("person_id", person_fk(), nullable=False, unique=True),
    sa.Column("member_number", sa.String(32), nullable=False, unique=True),
    sa.Column("number_hash", sa.String(64), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("joined_on", sa.Date),
    sa.Column("paid_until", sa.Date),
    sa.Column("status", enum_column(EntryStatus), nullable=False),
    sa.Column("join_token", sa.String(32), nullable=False, unique=True),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("former_since", UtcDateTime),
    sa.Column("reminded_at", UtcDateTime),
)

# Members erased at their request: only the keyed hash of the member number.
register_tombstones = sa.Table(
    "register_tombstones",
    tables.metadata,
    sa.Column("number_hash", sa.String(64), primary_key=True),
)

MAPPINGS = ((RegisterEntry, register_entries),)

_c = register_entries.c
# What an import compares with, in `KnownEntry`'s order.
_KNOWN = sa.select(
    _c.id,
    _c.person_id,
    _c.org_id,
    _c.member_number,
    _c.first_name,
    _c.last_name,
    _c.email,
    _c.joined_on,
    _c.paid_until,
    _c.status,
)

_T = TypeVar("_T")


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


class SqlAlchemyRegisterRepository(_Repository):
    async def by_numbers(self, numbers: Collection[str]) -> dict[str, KnownEntry]:
        found: dict[str, KnownEntry] = {}
        for chunk in _chunks(sorted(numbers)):
            rows = await self.session.execute(
                _KNOWN.where(register_entries.c.member_number.in_(chunk))
            )
            for row in rows:
                found[row.member_number] = KnownEntry(**row._mapping)
        return found

    async def current_numbers(self, org_ids: Sequence[int]) -> Sequence[tuple[int, int, str]]:
        c = register_entries.c
        rows = await self.session.execute(
            sa.select(c.id, c.person_id, c.member_number).where(
                c.org_id.in_(org_ids), c.status == EntryStatus.CURRENT
            )
        )
        return [(entry_id, person_id, number) for entry_id, person_id, number in rows]

    async def current_in(self, org_ids: Sequence[int]) -> Sequence[RegisterEntry]:
        c = register_entries.c
        query = (
            sa.select(RegisterEntry)
            .where(c.org_id.in_(org_ids), c.status == EntryStatus.CURRENT)
            .order_by(c.last_name, c.first_name, c.id)
        )
        return list(await self.session.scalars(query))

    async def of_person(self, person_id: int) -> RegisterEntry | None:
        query = sa.select(RegisterEntry).where(register_entries.c.person_id == person_id)
        return (await self.session.scalars(query)).first()

    async def by_token(self, token: str) -> RegisterEntry | None:
        query = sa.select(RegisterEntry).where(register_entries.c.join_token == token)
        return (await self.session.scalars(query)).first()

    async def current_by_number(self, number: str) -> RegisterEntry | None:
        c = register_entries.c
        query = sa.select(RegisterEntry).where(
            c.member_number == number, c.status == EntryStatus.CURRENT
        )
        return (await self.session.scalars(query)).first()

    async def tombstoned(self, hashes: Collection[str]) -> set[str]:
        found: set[str] = set()
        c = register_tombstones.c
        for chunk in _chunks(sorted(hashes)):
            rows = await self.session.execute(
                sa.select(c.number_hash).where(c.number_hash.in_(chunk))
            )
            found |= {row[0] for row in rows}
        return found

    async def emails_taken(self, emails: Collection[str]) -> set[str]:
        found: set[str] = set()
        i = tables.identities.c
        for chunk in _chunks(sorted(emails)):
            rows = await self.session.execute(
                sa.select(i.external_id).where(i.platform == "email", i.external_id.in_(chunk))
            )
            found |= {row[0] for row in rows}
        return found

    async def add_members(
        self, members: Sequence[NewMember], now: datetime, taken: set[str]
    ) -> list[int]:
        await self.session.flush()
        person_ids: list[int] = []
        p = tables.people
        for chunk in _chunks(members):
            ids = await self.session.scalars(
                sa.insert(p).returning(p.c.id, sort_by_parameter_order=True),
                [
                    {
                        "display_name": m.row.name,
                        "name_key": fold(m.row.name),
                        "status": Status.MEMBER,
                        "created_at": now,
                    }
                    for m in chunk
                ],
            )
            chunk_ids = list(ids)
            person_ids += chunk_ids
            identities = []
            for member, person_id in zip(chunk, chunk_ids, strict=True):
                email = member.row.email
                if email and email not in taken:  # a shared address reaches the first only
                    taken.add(email)
                    identities.append(
                        {
                            "person_id": person_id,
                            "platform": "email",
                            "external_id": email,
                            "created_at": now,
                        }
                    )
            if identities:
                await self.session.execute(sa.insert(tables.identities), identities)
            await self.session.execute(
                sa.insert(tables.affiliations),
                [
                    {"person_id": person_id, "org_id": m.org_id, "since": m.since}
                    for m, person_id in zip(chunk, chunk_ids, strict=True)
                ],
            )
            await self.session.execute(
                sa.insert(register_entries),
                [
                    _entry_values(m.row)
                    | {
                        "org_id": m.org_id,
                        "person_id": person_id,
                        "number_hash": m.number_hash,
                        "join_token": m.join_token,
                        "imported_at": now,
                        "changed_at": now,
                    }
                    for m, person_id in zip(chunk, chunk_ids, strict=True)
                ],
            )
        return person_ids

    async def update_members(
        self, changes: Sequence[tuple[KnownEntry, MemberRow, int]], now: datetime
    ) -> None:
        people = tables.people
        for entry, row, org_id in changes:
            if entry.email != row.email:
                await self._move_email(entry.person_id, entry.email, row.email, now)
            person: dict[str, Any] = {}
            if entry.name != row.name:
                person.update(display_name=row.name, name_key=fold(row.name))
            if entry.status is EntryStatus.FORMER:
                person.update(status=Status.MEMBER)
            if person:
                await self.session.execute(
                    sa.update(people).where(people.c.id == entry.person_id).values(person)
                )
            if entry.org_id != org_id:
                await self._affiliate(entry.person_id, org_id, now)
            await self.session.execute(
                sa.update(register_entries)
                .where(register_entries.c.id == entry.id)
                .values(
                    _entry_values(row) | {"org_id": org_id, "changed_at": now, "former_since": None}
                )
            )
        if changes:
            self._forget_loaded()

    def _forget_loaded(self) -> None:
        """The rows changed under the session: what it had loaded is read again."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Person | RegisterEntry):
                self.session.expire(obj)

    async def _move_email(
        self, person_id: int, old: str | None, new: str | None, now: datetime
    ) -> None:
        i = tables.identities.c
        if old:
            await self.session.execute(
                sa.delete(tables.identities).where(
                    i.person_id == person_id, i.platform == "email", i.external_id == old
                )
            )
        if new and not await self.emails_taken([new]):
            await self.session.execute(
                sa.insert(tables.identities).values(
                    person_id=person_id, platform="email", external_id=new, created_at=now
                )
            )

    async def _affiliate(self, person_id: int, org_id: int, now: datetime) -> None:
        a = tables.affiliations.c
        exists = await self.session.execute(
            sa.select(a.id).where(a.person_id == person_id, a.org_id == org_id)
        )
        if exists.first() is None:
            await self.session.execute(
                sa.insert(tables.affiliations).values(person_id=person_id, org_id=org_id, since=now)
            )

    async def mark_former(self, entries: Sequence[tuple[int, int]], now: datetime) -> None:
        for chunk in _chunks(entries):
            ids = [entry_id for entry_id, _ in chunk]
            await self.session.execute(
                sa.update(register_entries)
                .where(register_entries.c.id.in_(ids))
                .values(status=EntryStatus.FORMER, former_since=now, changed_at=now)
            )
            await self.session.execute(
                sa.update(tables.people)
                .where(tables.people.c.id.in_([person_id for _, person_id in chunk]))
                .values(status=Status.GUEST)
            )
        if entries:
            self._forget_loaded()

    async def reminded(self, entry_ids: Sequence[int], now: datetime) -> None:
        for chunk in _chunks(entry_ids):
            await self.session.execute(
                sa.update(register_entries)
                .where(register_entries.c.id.in_(chunk))
                .values(reminded_at=now)
            )

    async def has_pending_code(self, person_id: int, now: datetime) -> bool:
        c = tables.link_codes.c
        query = sa.select(c.code).where(c.person_id == person_id, c.expires_at >= now)
        return (await self.session.execute(query)).first() is not None

    async def reach(self, org_ids: Sequence[int]) -> Reach:
        p, a, i = tables.people.c, tables.affiliations.c, tables.identities.c
        members = (
            sa.select(p.id)
            .join(tables.affiliations, a.person_id == p.id)
            .where(a.org_id.in_(org_ids), p.status == Status.MEMBER)
            .distinct()
            .subquery()
        )
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(members))
        rows = await self.session.execute(
            sa.select(i.platform, sa.func.count(sa.distinct(i.person_id)))
            .where(i.person_id.in_(sa.select(members.c.id)))
            .group_by(i.platform)
        )
        reachable = await self.session.scalar(
            sa.select(sa.func.count(sa.distinct(i.person_id))).where(
                i.person_id.in_(sa.select(members.c.id))
            )
        )
        c = register_entries.c
        registered = await self.session.scalar(
            sa.select(sa.func.count()).where(c.org_id.in_(org_ids), c.status == EntryStatus.CURRENT)
        )
        return Reach(
            members=int(total or 0),
            registered=int(registered or 0),
            by_platform={platform: int(count) for platform, count in rows.all()},
            unreachable=int(total or 0) - int(reachable or 0),
        )

    async def joined_between(self, org_ids: Sequence[int], start: date, end: date) -> set[int]:
        c = register_entries.c
        rows = await self.session.execute(
            sa.select(c.person_id).where(
                c.org_id.in_(org_ids),
                c.status == EntryStatus.CURRENT,
                c.joined_on >= start,
                c.joined_on <= end,
            )
        )
        return {row[0] for row in rows}


def _entry_values(row: MemberRow) -> dict[str, Any]:
    return {
        "member_number": row.member_number,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "joined_on": row.joined_on,
        "paid_until": row.paid_until,
        "status": EntryStatus.CURRENT,
    }


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """An erasure she asked for leaves the tombstone; the entry itself goes with her."""
    c = register_entries.c
    found = (
        await session.execute(
            sa.select(c.number_hash).where(
                c.person_id == person_id, c.status == EntryStatus.CURRENT
            )
        )
    ).first()
    if found is None:
        return
    known = await session.execute(
        sa.select(register_tombstones.c.number_hash).where(
            register_tombstones.c.number_hash == found[0]
        )
    )
    if known.first() is None:  # no date either: the hash alone does the job
        await session.execute(sa.insert(register_tombstones).values(number_hash=found[0]))
