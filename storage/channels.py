"""A person's choice of channel, and which of their email addresses still work (bot/domain/channels).

`person_id` is ON DELETE CASCADE: the choice is the person's and goes with them. An
address that bounced for good is not stored apart: it is the failed outbox entry
itself (failed by the server's refusal, not by running out of retries), the same
record that tells announcements a Telegram chat blocked the bot.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.delivery import MAX_ATTEMPTS
from bot.domain.channels import EMAIL, ChannelChoice, EmailReach
from bot.domain.delivery import OutboxStatus
from storage import tables
from storage.repositories import _Repository
from storage.tables import UtcDateTime, person_fk

channel_choices = tables.numbered_table(
    "channel_choices",
    sa.Column("person_id", person_fk(), nullable=False, unique=True),
    sa.Column("prefers_email", sa.Boolean, nullable=False, default=False),
    sa.Column("email_stopped_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime),
)

MAPPINGS = ((ChannelChoice, channel_choices),)


class SqlAlchemyChannelRepository(_Repository):
    async def choice(self, person_id: int) -> ChannelChoice | None:
        return await self._first(sa.select(ChannelChoice).filter_by(person_id=person_id))

    async def save(self, choice: ChannelChoice) -> None:
        if choice.id is None:
            self.session.add(choice)
        await self.session.flush()

    async def reach(self, person_id: int) -> EmailReach:
        choice = await self.choice(person_id)
        o, i = tables.outbox.c, tables.identities.c
        bounced = await self.session.scalars(
            sa.select(i.external_id)
            .select_from(tables.outbox)
            .join(tables.identities, sa.and_(i.platform == o.platform, i.external_id == o.chat_id))
            .where(
                i.person_id == person_id,
                i.platform == EMAIL,
                o.status == OutboxStatus.FAILED,
                o.direct.is_(True),
                o.attempts < MAX_ATTEMPTS,
                o.created_at > sa.func.coalesce(i.last_seen_at, i.created_at),
            )
            .distinct()
        )
        return EmailReach(
            prefers_email=bool(choice and choice.prefers_email),
            stopped=bool(choice and choice.email_stopped_at is not None),
            undeliverable=frozenset(bounced),
        )

    async def choices_of(self, ids: list[int]) -> dict[int, ChannelChoice]:
        """For a chunk of an announcement's audience: the few who chose anything."""
        if not ids:
            return {}
        query = sa.select(ChannelChoice).where(channel_choices.c.person_id.in_(ids))
        return {c.person_id: c for c in await self._all(query)}

    async def email_people(self, org_ids: list[int]) -> list[int]:
        """People affiliated with these organisations, with an email address and a consent
        in force: those whom a private message may reach by email."""
        p, a, i, c = (
            tables.people.c,
            tables.affiliations.c,
            tables.identities.c,
            tables.consents.c,
        )
        query = (
            sa.select(p.id)
            .where(sa.exists().where(a.person_id == p.id, a.org_id.in_(org_ids)))
            .where(sa.exists().where(i.person_id == p.id, i.platform == EMAIL))
            .where(sa.exists().where(c.person_id == p.id, c.withdrawn_at.is_(None)))
            .order_by(p.id)
        )
        return list(await self.session.scalars(query))
