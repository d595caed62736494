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
        self, session_factory: async_sessionmaker[AsyncSession], turns: Turns | None = None
    ) -> None:
        self._session_factory = session_factory
        self._turns = turns  # first come first served (storage/turns.py)
        self._has_turn = False

    async def __aenter__(self) -> Self:
        if self._turns is not None:
            self._has_turn = await self._turns.take()
        self.session = self._session_factory()
        self.orgs = SqlAlchemyOrganisationRepository(self.session)
        self.people = SqlAlchemyPeopleRepository(self.session)
        self.outbox = SqlAlchemyOutboxRepository(self.session)
        self.timers = SqlAlchemyTimerRepository(self.session)
        self.buttons = SqlAlchemyButtonRepository(self.session)
        self.dialogs = SqlAlchemyDialogRepository(self.session)
        self.events = SqlAlchemyEventRepository(self.session)
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

    async def rollback(self) -> None:
        await self.session.rollback()
        self.people = SqlAlchemyPeopleRepository(self.session)  # forgets what it had read
