"""Which platform poll belongs to which of our polls (see bot/polls/native.py).

No person is named here: a row says only that a chat holds a native poll.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bot.polls.native import NativePollPost
from storage import tables
from storage.repositories import _Repository
from storage.tables import UtcDateTime

native_polls = tables.numbered_table(
    "native_polls",
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("handle", sa.String(64), nullable=False),
    sa.Column("chat_id", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(64), nullable=False, index=True),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("posted_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("platform", "handle"),
)

MAPPINGS = ((NativePollPost, native_polls),)


class SqlAlchemyNativePollRepository(_Repository):
    async def add(self, post: NativePollPost) -> None:
        if await self.by_handle(post.platform, post.handle) is None:
            await self._add(post)

    async def by_handle(self, platform: str, handle: str) -> NativePollPost | None:
        query = sa.select(NativePollPost).filter_by(platform=platform, handle=handle)
        return await self._first(query)

    async def of(self, ref: str) -> Sequence[NativePollPost]:
        query = sa.select(NativePollPost).filter_by(ref=ref).order_by(native_polls.c.id)
        return await self._all(query)
