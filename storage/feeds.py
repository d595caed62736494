"""Personal calendar feeds (bot/feeds): one secret address per person, stored as a fingerprint.

`person_id` is ON DELETE CASCADE: erasure removes the feed, so the address stops working.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.feeds.model import CalendarFeed
from storage import tables
from storage.repositories import _Repository
from storage.tables import UtcDateTime, person_fk

calendar_feeds = tables.numbered_table(
    "calendar_feeds",
    sa.Column("person_id", person_fk(), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

MAPPINGS = ((CalendarFeed, calendar_feeds),)


class SqlAlchemyFeedRepository(_Repository):
    async def of_person(self, person_id: int) -> CalendarFeed | None:
        query = sa.select(CalendarFeed).filter_by(person_id=person_id)
        return await self._first(query)

    async def by_fingerprint(self, token_hash: str) -> CalendarFeed | None:
        query = sa.select(CalendarFeed).filter_by(token_hash=token_hash)
        return await self._first(query)

    async def replace(self, feed: CalendarFeed) -> None:
        await self.revoke(feed.person_id)
        await self._add(feed)

    async def revoke(self, person_id: int) -> bool:
        existing = await self.of_person(person_id)
        if existing is None:
            return False
        await self.session.delete(existing)
        await self.session.flush()
        return True
