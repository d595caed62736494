"""The unit of work: one session, one transaction, all repositories on it."""

from __future__ import annotations

from functools import cached_property
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
from storage.outbox import SqlAlchemyOutboxRepository
from storage.people import SqlAlchemyPeopleRepository
from storage.polls import SqlAlchemyPollRepository
from storage.read_cache import VIEW_KEY, CacheView, ReadCache
from storage.records import (
    SqlAlchemyButtonRepository,
    SqlAlchemyDialogRepository,
    SqlAlchemyEventRepository,
    SqlAlchemyTimerRepository,
)
from storage.register import SqlAlchemyRegisterRepository
from storage.repositories import SqlAlchemyOrganisationRepository
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
        self._forget(_REPOSITORIES)  # a unit of work entered again starts afresh
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
        self._forget(("people", "meetings", "polls"))

    def _forget(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.__dict__.pop(name, None)

    # Repositories are made when first used: a press uses a few of the twenty, and making
    # them all was a measurable part of its CPU (issue 21).
    @cached_property
    def orgs(self) -> SqlAlchemyOrganisationRepository:
        return SqlAlchemyOrganisationRepository(self.session, self._cache)

    @cached_property
    def people(self) -> SqlAlchemyPeopleRepository:
        return SqlAlchemyPeopleRepository(self.session, self._cache)

    @cached_property
    def outbox(self) -> SqlAlchemyOutboxRepository:
        return SqlAlchemyOutboxRepository(self.session, self._cache)

    @cached_property
    def timers(self) -> SqlAlchemyTimerRepository:
        return SqlAlchemyTimerRepository(self.session)

    @cached_property
    def buttons(self) -> SqlAlchemyButtonRepository:
        return SqlAlchemyButtonRepository(self.session, self._cache)

    @cached_property
    def dialogs(self) -> SqlAlchemyDialogRepository:
        return SqlAlchemyDialogRepository(self.session)

    @cached_property
    def events(self) -> SqlAlchemyEventRepository:
        return SqlAlchemyEventRepository(self.session, self._cache)

    @cached_property
    def meetings(self) -> SqlAlchemyMeetingRepository:
        return SqlAlchemyMeetingRepository(self.session)

    @cached_property
    def circles(self) -> SqlAlchemyCircleRepository:
        return SqlAlchemyCircleRepository(self.session)

    @cached_property
    def polls(self) -> SqlAlchemyPollRepository:
        return SqlAlchemyPollRepository(self.session)

    @cached_property
    def native_polls(self) -> SqlAlchemyNativePollRepository:
        return SqlAlchemyNativePollRepository(self.session)

    @cached_property
    def welcome(self) -> SqlAlchemyWelcomeRepository:
        return SqlAlchemyWelcomeRepository(self.session)

    @cached_property
    def wheel(self) -> SqlAlchemyWheelRepository:
        return SqlAlchemyWheelRepository(self.session)

    @cached_property
    def insights(self) -> SqlAlchemyInsightsRepository:
        return SqlAlchemyInsightsRepository(self.session)

    @cached_property
    def announcements(self) -> SqlAlchemyAnnouncementRepository:
        return SqlAlchemyAnnouncementRepository(self.session)

    @cached_property
    def feeds(self) -> SqlAlchemyFeedRepository:
        return SqlAlchemyFeedRepository(self.session)

    @cached_property
    def channels(self) -> SqlAlchemyChannelRepository:
        return SqlAlchemyChannelRepository(self.session)

    @cached_property
    def register(self) -> SqlAlchemyRegisterRepository:
        return SqlAlchemyRegisterRepository(self.session)

    @cached_property
    def consultations(self) -> SqlAlchemyConsultationRepository:
        return SqlAlchemyConsultationRepository(self.session)

    @cached_property
    def campaigns(self) -> SqlAlchemyCampaignRepository:
        return SqlAlchemyCampaignRepository(self.session)


_REPOSITORIES = tuple(
    name for name, value in vars(SqlAlchemyUnitOfWork).items() if isinstance(value, cached_property)
)
