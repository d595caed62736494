"""The unit of work: one session, one transaction, all repositories on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.announcements import SqlAlchemyAnnouncementRepository
from storage.campaigns import SqlAlchemyCampaignRepository
from storage.channels import SqlAlchemyChannelRepository
from storage.circles import SqlAlchemyCircleRepository
from storage.consultations import SqlAlchemyConsultationRepository
from storage.feeds import SqlAlchemyFeedRepository
from storage.insights import SqlAlchemyInsightsRepository
from storage.meetings import SqlAlchemyMeetingRepository
from storage.native_polls import SqlAlchemyNativePollRepository
from storage.polls import SqlAlchemyPollRepository
from storage.read_cache import VIEW_KEY, CacheView, ReadCache
from storage.records import (
    SqlAlchemyButtonRepository,
    SqlAlchemyDialogRepository,
    SqlAlchemyEventRepository,
    SqlAlchemyOutboxRepository,
    SqlAlchemyTimerRepository,
)
from storage.register import SqlAlchemyRegisterRepository
from storage.repositories import SqlAlchemyOrganisationRepository, SqlAlchemyPeopleRepository
from storage.turns import Turns
from storage.welcome import SqlAlchemyWelcomeRepository
from storage.wheel import SqlAlchemyWheelRepository


class SqlAlchemyUnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        turns: Turns | None = None,
        read_cache: ReadCache | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._turns = turns  # first come first served (storage/turns.py)
        self._has_turn = False
        self._read_cache = read_cache  # the Database's (storage/read_cache.py)

    async def __aenter__(self) -> Self:
        if self._turns is not None:
            self._has_turn = await self._turns.take()
        self.session = self._session_factory()
        self._cache = CacheView(self._read_cache)
        self.session.info[VIEW_KEY] = self._cache  # a flush that writes cached rows turns it off
        self.orgs = SqlAlchemyOrganisationRepository(self.session, self._cache)
        self.people = SqlAlchemyPeopleRepository(self.session, self._cache)
        self.outbox = SqlAlchemyOutboxRepository(self.session, self._cache)
        self.timers = SqlAlchemyTimerRepository(self.session)
        self.buttons = SqlAlchemyButtonRepository(self.session, self._cache)
        self.dialogs = SqlAlchemyDialogRepository(self.session)
        self.events = SqlAlchemyEventRepository(self.session, self._cache)
        self.meetings = SqlAlchemyMeetingRepository(self.session)
        self.circles = SqlAlchemyCircleRepository(self.session)
        self.polls = SqlAlchemyPollRepository(self.session)
        self.native_polls = SqlAlchemyNativePollRepository(self.session)
        self.welcome = SqlAlchemyWelcomeRepository(self.session)
        self.wheel = SqlAlchemyWheelRepository(self.session)
        self.insights = SqlAlchemyInsightsRepository(self.session)
        self.announcements = SqlAlchemyAnnouncementRepository(self.session)
        self.feeds = SqlAlchemyFeedRepository(self.session)
        self.channels = SqlAlchemyChannelRepository(self.session)
        self.register = SqlAlchemyRegisterRepository(self.session)
        self.consultations = SqlAlchemyConsultationRepository(self.session)
        self.campaigns = SqlAlchemyCampaignRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed and detaches the loaded
        # objects without expiring them, so they stay readable afterwards.
        try:
            await self.session.close()
        finally:
            if self._has_turn and self._turns is not None:
                self._has_turn = False
                self._turns.give_back()

    async def commit(self) -> None:
        await self.session.commit()
        self._cache.committed()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._cache.rolled_back()
        # Repositories that remember reads within a transaction forget them.
        self.people = SqlAlchemyPeopleRepository(self.session, self._cache)
        self.meetings = SqlAlchemyMeetingRepository(self.session)
        self.polls = SqlAlchemyPollRepository(self.session)
