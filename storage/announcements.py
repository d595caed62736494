"""Tables and repository for announcements (utskick).

An announcement names its author (SET NULL: a sent announcement is the
organisation's and outlives them anonymously; `before_erase` removes their
unsent drafts). Its messages wait in the outbox under the batch
`announcement:<id>`, so progress is one count on the outbox's batch index.

The audience is read a chunk of people at a time, by id, with only what
queueing needs (id, language, chats), so a national announcement never has
everyone's records in memory at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.announcements.model import (
    Announcement,
    AnnouncementStatus,
    Audience,
    Candidate,
    Chunk,
    PrivateMessage,
    Progress,
    QueueStep,
)
from bot.delivery import MAX_ATTEMPTS
from bot.domain.delivery import OutboxEntry, OutboxStatus
from bot.domain.organisations import DEFAULT_LANGUAGE
from bot.domain.people import Status
from bot.welcome.model import FlowStatus
from storage import tables
from storage.channels import SqlAlchemyChannelRepository
from storage.repositories import _count, _EntityRepository
from storage.tables import UtcDateTime, enum_column, person_fk
from storage.welcome import welcome_flows

announcements = tables.numbered_table(
    "announcements",
    tables.org_column(index=True),
    sa.Column("author_id", person_fk("SET NULL")),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("audience", enum_column(Audience), nullable=False),
    sa.Column("interest", sa.String(32)),
    sa.Column("status", enum_column(AnnouncementStatus), nullable=False),
    sa.Column("paid_broadcast", sa.Boolean, nullable=False),
    sa.Column("cursor", sa.Integer, nullable=False),
    sa.Column("direct", sa.Integer, nullable=False),
    sa.Column("via_discord", sa.Integer, nullable=False),
    sa.Column("unreachable", sa.Integer, nullable=False),
    sa.Column("by_platform", sa.JSON, nullable=False),
    sa.Column("channel_posts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("queued_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("reported_quarter", sa.Integer, nullable=False),
    sa.Column("reported_at", UtcDateTime),
    sa.Column("moved_at", UtcDateTime),
    sa.Column("moved_done", sa.Integer, nullable=False),
    sa.Column("stall_told", sa.Boolean, nullable=False),
    sa.Column("delivered", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("posts_delivered", sa.Integer, nullable=False),
)

MAPPINGS = ((Announcement, announcements),)

_FINAL = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value)


class SqlAlchemyAnnouncementRepository(_EntityRepository[Announcement]):
    entity = Announcement

    async def recent(self, org_ids: Sequence[int], limit: int) -> Sequence[Announcement]:
        c = announcements.c
        query = (
            sa.select(Announcement)
            .where(c.org_id.in_(org_ids), c.status != AnnouncementStatus.DRAFT)
            .order_by(c.id.desc())
            .limit(limit)
        )
        return await self._all(query)

    async def claim_draft(self, announcement_id: int, now: datetime) -> bool:
        return await self._change(
            announcement_id,
            AnnouncementStatus.DRAFT,
            {"status": AnnouncementStatus.QUEUEING, "sent_at": now},
        )

    async def drop_draft(self, announcement_id: int) -> bool:
        c = announcements.c
        result = await self.session.execute(
            sa.delete(announcements).where(
                c.id == announcement_id, c.status == AnnouncementStatus.DRAFT
            )
        )
        self._forget(announcement_id)
        return _count(result) == 1

    async def finish(self, announcement_id: int, now: datetime, progress: Progress) -> bool:
        return await self._change(
            announcement_id,
            AnnouncementStatus.SENDING,
            {
                "status": AnnouncementStatus.DONE,
                "finished_at": now,
                "delivered": progress.sent,
                "failed": progress.failed,
                "posts_delivered": progress.posts_sent,
            },
        )

    async def advance(
        self, announcement_id: int, from_cursor: int, step: QueueStep, now: datetime
    ) -> bool:
        values: dict[str, Any] = step.values()
        if step.finished:
            values.update(
                status=AnnouncementStatus.SENDING,
                queued_at=now,
                moved_at=now,
                channel_posts=step.channel_posts,
            )
        return await self._change(
            announcement_id, AnnouncementStatus.QUEUEING, values, cursor=from_cursor
        )

    async def _change(
        self,
        announcement_id: int,
        status: AnnouncementStatus,
        values: dict[str, Any],
        cursor: int | None = None,
    ) -> bool:
        """One conditional UPDATE: of two processes or two presses, exactly one changes it."""
        c = announcements.c
        await self.session.flush()
        condition = [c.id == announcement_id, c.status == status]
        if cursor is not None:
            condition.append(c.cursor == cursor)
        result = await self.session.execute(
            sa.update(announcements).where(*condition).values(**values)
        )
        changed = _count(result) == 1
        loaded = self._in_session(announcement_id)
        if loaded is not None:
            await self.session.refresh(loaded)
        return changed

    def _in_session(self, announcement_id: int) -> Announcement | None:
        for obj in self.session.identity_map.values():
            if isinstance(obj, Announcement) and obj.id == announcement_id:
                return obj
        return None

    def _forget(self, announcement_id: int) -> None:
        loaded = self._in_session(announcement_id)
        if loaded is not None:
            self.session.expunge(loaded)

    async def candidates(
        self,
        org_ids: Sequence[int],
        audience: Audience,
        interest: str | None,
        *,
        after: int,
        limit: int,
    ) -> Chunk:
        p, a = tables.people.c, tables.affiliations.c
        consent, identity = tables.consents.c, tables.identities.c
        # First the next `limit` people by id, whoever they are (a walk along the primary
        # key), then the audience among them: each chunk's work stays bounded whatever plan
        # the database picks, however few of them are in the audience.
        window = list(
            await self.session.scalars(
                sa.select(p.id).where(p.id > after).order_by(p.id).limit(limit)
            )
        )
        if not window:
            return Chunk([], after, last=True)
        query = (
            sa.select(p.id, p.language)
            .where(p.id > after, p.id <= window[-1])
            .where(sa.exists().where(a.person_id == p.id, a.org_id.in_(org_ids)))
            .where(sa.exists().where(consent.person_id == p.id, consent.withdrawn_at.is_(None)))
            .where(sa.exists().where(identity.person_id == p.id))
            .order_by(p.id)
        )
        if audience is Audience.MEMBERS:
            query = query.where(p.status == Status.MEMBER)
        elif audience is Audience.GUESTS:
            query = query.where(p.status == Status.GUEST)
        elif audience is Audience.INTEREST:
            # Those who named it and agreed to be asked about it (the welcome flow keeps
            # interests only for them once their introduction is over).
            w = welcome_flows.c
            named = sa.cast(w.interests, sa.Text).contains(f'"{interest}"', autoescape=True)
            query = query.where(
                sa.exists().where(
                    w.person_id == p.id,
                    w.tasks_consent.is_(True),
                    w.status != FlowStatus.DECLINED,
                    named,
                )
            )
        people = (await self.session.execute(query)).all()
        cursor, last = window[-1], len(window) < limit
        if not people:
            return Chunk([], cursor, last)
        ids = [row.id for row in people]
        languages = await self._home_languages(ids)
        chats = await self._chats(ids)
        unreachable = await self._unreachable(ids)
        choices = await SqlAlchemyChannelRepository(self.session).choices_of(ids)
        found = []
        for row in people:
            choice = choices.get(row.id)
            found.append(
                Candidate(
                    person_id=row.id,
                    language=row.language or languages.get(row.id, DEFAULT_LANGUAGE),
                    chats=tuple(chats.get(row.id, ())),
                    unreachable=frozenset(unreachable.get(row.id, ())),
                    prefers_email=bool(choice and choice.prefers_email),
                    email_stopped=bool(choice and choice.email_stopped_at is not None),
                )
            )
        return Chunk(found, cursor, last)

    async def _home_languages(self, ids: list[int]) -> dict[int, str]:
        """Each person's first organisation's language (as `Effects.translator_for` chooses)."""
        a, o = tables.affiliations.c, tables.organisations.c
        query = (
            sa.select(a.person_id, o.language)
            .join(tables.organisations, o.id == a.org_id)
            .where(_among(a.person_id, ids))
            .order_by(a.person_id, a.since, a.id)
        )
        found: dict[int, str] = {}
        for person_id, language in await self.session.execute(query):
            found.setdefault(person_id, language)
        return found

    async def _chats(self, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        i = tables.identities.c
        query = (
            sa.select(i.person_id, i.platform, i.external_id)
            .where(_among(i.person_id, ids))
            .order_by(i.person_id, i.last_seen_at.desc().nulls_last(), i.id.desc())
        )
        found: dict[int, list[tuple[str, str]]] = {}
        for person_id, platform, external_id in await self.session.execute(query):
            found.setdefault(person_id, []).append((platform, external_id))
        return found

    async def _unreachable(self, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """Chats where a private message failed for good since the person was last seen.

        Failed for good by the platform's refusal (blocked, deleted), not by running out
        of retries (an outage says nothing about the person). Starts from the failed
        entries (the outbox's status index), joined to the accounts by their unique key.
        """
        o, i = tables.outbox.c, tables.identities.c
        query = (
            sa.select(i.person_id, i.platform, i.external_id)
            .select_from(tables.outbox)
            .join(tables.identities, sa.and_(i.platform == o.platform, i.external_id == o.chat_id))
            .where(
                o.status == OutboxStatus.FAILED,
                o.direct.is_(True),
                o.attempts < MAX_ATTEMPTS,
                _among(i.person_id, ids),
                o.created_at > sa.func.coalesce(i.last_seen_at, i.created_at),
            )
            .distinct()
        )
        found: dict[int, list[tuple[str, str]]] = {}
        for person_id, platform, external_id in await self.session.execute(query):
            found.setdefault(person_id, []).append((platform, external_id))
        return found

    async def queue(self, messages: Sequence[PrivateMessage], *, batch: str, now: datetime) -> int:
        """One multi-row INSERT, with no object tracked per row: a chunk costs milliseconds.

        Every other column comes from `OutboxEntry`'s own defaults (one template
        entry), so a field added to it later is written with its default here too.
        """
        if not messages:
            return 0
        key = tables.outbox.c.key
        there = set(
            await self.session.scalars(sa.select(key).where(key.in_([m.key for m in messages])))
        )
        template = OutboxEntry(
            key="",
            platform="",
            chat_id="",
            direct=True,
            payload={},
            created_at=now,
            not_before=now,
            batch=batch,
        )
        base = {name: getattr(template, name) for name in _OUTBOX_FIELDS}
        rows = [
            {
                **base,
                "key": m.key,
                "platform": m.platform,
                "chat_id": m.chat_id,
                "person_id": m.person_id,
                "payload": m.payload,
            }
            for m in messages
            if m.key not in there
        ]
        if rows:
            await self.session.execute(sa.insert(tables.outbox), rows)
        return len(rows)

    async def progress(self, announcement: Announcement) -> Progress:
        o = tables.outbox.c
        query = (
            sa.select(o.batch, o.status, sa.func.count())
            .where(o.batch.in_([announcement.batch, announcement.channel_batch]))
            .group_by(o.batch, o.status)
        )
        counts: dict[tuple[bool, str], int] = {}
        for batch, status, number in await self.session.execute(query):
            # Anything not sent or failed yet is still on its way (waiting, claimed, sending).
            bucket = status if status in _FINAL else "pending"
            place = (batch == announcement.batch, bucket)
            counts[place] = counts.get(place, 0) + number
        return Progress(
            sent=counts.get((True, "sent"), 0),
            failed=counts.get((True, "failed"), 0),
            pending=counts.get((True, "pending"), 0),
            posts_sent=counts.get((False, "sent"), 0),
            posts_failed=counts.get((False, "failed"), 0),
            posts_pending=counts.get((False, "pending"), 0),
        )


def _among(column: sa.Column[int], ids: list[int]) -> sa.ColumnElement[bool]:
    """The ids (ascending) as a range where they are dense, which reads faster than a
    thousand bound parameters; as a list where they are sparse (a small interest group)."""
    if ids[-1] - ids[0] < 4 * len(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


_OUTBOX_FIELDS = tuple(
    f.name for f in fields(OutboxEntry) if f.name != "id" and f.name in tables.outbox.c
)


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """An erased author's unsent drafts are only their words: they go. Sent ones stay anonymous."""
    c = announcements.c
    await session.execute(
        sa.delete(announcements).where(
            c.author_id == person_id, c.status == AnnouncementStatus.DRAFT
        )
    )
