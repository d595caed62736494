"""The core's view of the outside world: storage, delivery and time.

Storage implements the repositories and the unit of work with SQLAlchemy;
each adapter implements a `Gateway`. The core depends only on these protocols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bot.announcements.model import AnnouncementRepository
from bot.campaigns.model import CampaignRepository
from bot.circles.model import CircleRepository
from bot.consultations.model import ConsultationRepository
from bot.domain.channels import ChannelRepository
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
)
from bot.feeds.model import FeedRepository
from bot.insights.model import InsightsRepository
from bot.meetings.model import MeetingRepository
from bot.messages import OutgoingMessage
from bot.polls.model import PollRepository
from bot.polls.native import NativePollRepository
from bot.register.model import RegisterRepository
from bot.welcome.model import WelcomeRepository
from bot.wheel.model import WheelRepository


class OrganisationRepository(Protocol):
    async def add(self, org: Organisation) -> Organisation: ...
    async def get(self, org_id: int) -> Organisation | None: ...
    async def by_slug(self, slug: str) -> Organisation | None: ...
    async def list_all(self) -> Sequence[Organisation]: ...
    async def lineage(self, org_id: int) -> Sequence[Organisation]:
        """The organisation itself, then its parent, up to the root."""
        ...

    async def subtree(self, org_id: int) -> Sequence[Organisation]:
        """The organisation itself and every organisation below it."""
        ...

    async def channel(self, platform: str, chat_id: str) -> Channel | None: ...
    async def bind_channel(self, channel: Channel) -> None: ...
    async def channels_of(self, org_id: int) -> Sequence[Channel]: ...


class PeopleRepository(Protocol):
    async def add(self, person: Person) -> Person: ...
    async def get(self, person_id: int) -> Person | None: ...
    async def by_identity(self, platform: str, external_id: str) -> Person | None: ...
    async def add_identity(self, identity: Identity) -> Identity: ...
    async def identity(self, platform: str, external_id: str) -> Identity | None: ...
    async def sender(self, platform: str, external_id: str) -> tuple[Identity, Person, bool] | None:
        """The identity, its person and whether they have a consent in force: every event
        starts with this, so it is one look-up."""
        ...

    async def identities_of(self, person_id: int) -> Sequence[Identity]: ...
    async def find_in_orgs(self, org_ids: Sequence[int], name: str) -> Sequence[Person]:
        """People affiliated with these organisations whose username or name matches."""
        ...

    async def search(self, text: str) -> Sequence[Person]:
        """People whose name or username contains the text, or whose platform id is it."""
        ...

    async def affiliations_of(self, person_id: int) -> Sequence[Affiliation]: ...
    async def affiliate(self, affiliation: Affiliation) -> None: ...
    async def stale_guests(self, seen_before: datetime) -> Sequence[int]:
        """Guests without a role who were last seen before the given instant."""
        ...

    async def detached(self, seen_before: datetime) -> Sequence[int]:
        """People in no organisation any more (they left, or were removed), without a role,
        last seen before the given instant."""
        ...

    async def purge_link_codes(self, now: datetime) -> int: ...

    async def leave(self, person_id: int, org_ids: Sequence[int]) -> None:
        """Ends the person's affiliation with, and roles in, these organisations."""
        ...

    async def roles_of(self, person_id: int) -> Sequence[RoleAssignment]: ...
    async def grant(self, assignment: RoleAssignment) -> bool:
        """Adds the role; False when the person already had it there."""
        ...

    async def revoke(self, person_id: int, org_id: int, role: Role) -> bool: ...
    async def role_holders(self, org_id: int) -> Sequence[tuple[Person, Role]]: ...
    async def consents_of(self, person_id: int) -> Sequence[Consent]: ...
    async def add_consent(self, consent: Consent) -> None: ...
    async def add_link_code(self, code: LinkCode) -> None: ...
    async def take_link_code(self, code: str) -> LinkCode | None:
        """Returns and removes the code, so it works once."""
        ...

    async def erase(self, person_id: int, *, forget: bool = True) -> None:
        """Removes the person and everything that names them; figures stay as they were.

        `forget=False` (a merge) leaves their name and ids where other records mention them.
        """
        ...

    async def personal_records(self, person_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every stored row that is this person's, by table, and the messages sent to them
        ("outbox"); other people's records that name them only as table, id and role
        ("named_in"): for /mina_uppgifter."""
        ...

    async def merge(self, keep_id: int, drop_id: int) -> None:
        """Moves everything that belongs to `drop_id` onto `keep_id` and removes `drop_id`."""
        ...


class OutboxRepository(Protocol):
    async def add(self, entry: OutboxEntry, buttons: Sequence[ButtonAction] = ()) -> bool:
        """Queues the entry and registers its buttons (in as few statements as the database
        allows); False, and nothing written, when an entry with the same key exists already."""
        ...

    async def claim_due(
        self, now: datetime, limit: int, platforms: Sequence[str], *, owner: str, until: datetime
    ) -> Sequence[OutboxEntry]:
        """Claims up to `limit` due entries for these platforms for `owner` until `until`.

        Oldest first, and in each chat in order: an entry is not due while an earlier one
        of its chat is claimed, being sent or waiting for a later time.
        """
        ...

    async def start_call(self, entry_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Marks the owner's claimed entry as being sent (the durable mark written just
        before the platform call); False when the claim is no longer the owner's."""
        ...

    async def mark_sent(self, entry_id: int, now: datetime, external_id: str | None) -> bool:
        """Records a delivery; False when the entry was already recorded as sent."""
        ...

    async def start_calls(
        self, entry_ids: Sequence[int], owner: str, now: datetime, until: datetime
    ) -> set[int]:
        """`start_call` for many entries in one statement: those whose mark was written."""
        ...

    async def mark_sent_many(self, sent: Mapping[int, str | None], now: datetime) -> set[int]:
        """`mark_sent` for many entries (id: external id) in one statement: those recorded
        now, leaving out any already recorded as sent."""
        ...

    async def settle(
        self,
        entry_id: int,
        owner: str,
        *,
        status: OutboxStatus,
        attempts: int,
        not_before: datetime,
        error: str,
    ) -> bool:
        """Ends the owner's claim with a failure: pending again (from `not_before`) or failed;
        False when the claim is no longer the owner's."""
        ...

    async def release(self, entry_ids: Sequence[int], owner: str) -> int:
        """Gives back claims whose platform call never started, to be sent as if never claimed."""
        ...

    async def renew(self, owner: str, until: datetime, entry_ids: Sequence[int]) -> int:
        """Extends the owner's claims on these entries to `until`."""
        ...

    async def claimed(self, expired_before: datetime | None) -> Sequence[OutboxEntry]:
        """Claimed and being-sent entries, locked for this transaction; only those whose
        lease ended before the instant unless it is None. Entries another transaction
        has locked are skipped."""
        ...

    async def get(self, entry_id: int) -> OutboxEntry | None: ...
    async def by_key(self, key: str) -> OutboxEntry | None: ...
    async def stuck_sending(self) -> Sequence[OutboxEntry]: ...
    async def purge(self, before: datetime) -> int:
        """Removes sent and failed entries created before the instant."""
        ...

    async def pending_in_chat(self, platform: str, chat_id: str) -> Sequence[OutboxEntry]:
        """A group chat's answers not claimed yet (no batch), oldest first, at most 50."""
        ...

    async def next_due(
        self, platforms: Sequence[str], now: datetime | None = None
    ) -> datetime | None:
        """When a pending entry falls due next. With `now`: an instant up to `now` only if
        an entry could be claimed now (not one queued behind a deferred or claimed entry
        of its chat), else the first later one. Without: the earliest of all."""
        ...


class TimerRepository(Protocol):
    async def schedule(self, timer: Timer) -> None:
        """Adds the timer, or moves a pending one with the same key to the new time."""
        ...

    async def cancel(self, key: str) -> None: ...
    async def due(self, now: datetime, limit: int) -> Sequence[Timer]: ...
    async def get(self, timer_id: int) -> Timer | None: ...
    async def next_due(self) -> datetime | None: ...


class ButtonRepository(Protocol):
    async def add(self, action: ButtonAction) -> None: ...
    async def get(self, token: str) -> ButtonAction | None: ...
    async def purge(self, before: datetime) -> int: ...


class DialogRepository(Protocol):
    async def get(self, person_id: int, platform: str, chat_id: str) -> DialogState | None: ...
    async def save(self, state: DialogState) -> None: ...
    async def clear(
        self, person_id: int, platform: str, chat_id: str, name: str | None = None
    ) -> None:
        """Ends the dialog in this chat (only if it is the one called `name`, when given)."""
        ...


class EventRepository(Protocol):
    async def first_time(
        self, event: ProcessedEvent, sender: tuple[str, str] | None = None
    ) -> bool:
        """Marks the event handled (in this transaction); False if it already was.

        `sender` (platform, external id): the event's sender, looked up in the same
        statement where the storage can, for the `people.sender` call that follows."""
        ...

    async def purge(self, before: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One transaction: everything a command changes, and the messages it causes, or nothing.

    Repositories are read-only properties so that implementations may use their own classes.
    """

    @property
    def orgs(self) -> OrganisationRepository: ...
    @property
    def people(self) -> PeopleRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def timers(self) -> TimerRepository: ...
    @property
    def buttons(self) -> ButtonRepository: ...
    @property
    def dialogs(self) -> DialogRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def meetings(self) -> MeetingRepository: ...
    @property
    def circles(self) -> CircleRepository: ...
    @property
    def polls(self) -> PollRepository: ...
    @property
    def native_polls(self) -> NativePollRepository: ...
    @property
    def insights(self) -> InsightsRepository: ...
    @property
    def welcome(self) -> WelcomeRepository: ...
    @property
    def wheel(self) -> WheelRepository: ...
    @property
    def announcements(self) -> AnnouncementRepository: ...
    @property
    def feeds(self) -> FeedRepository: ...
    @property
    def channels(self) -> ChannelRepository: ...
    @property
    def register(self) -> RegisterRepository: ...
    @property
    def consultations(self) -> ConsultationRepository: ...
    @property
    def campaigns(self) -> CampaignRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class DeliveryError(Exception):
    """A send failed. `permanent` means retrying will not help (blocked bot, deleted chat).

    `deferred` means nothing was sent because the platform's budget is spent for now (a
    per-chat limit, or a 429 with `rate_limited`): the dispatcher tries again after
    `retry_after` seconds, never sooner, and does not count it as a failed attempt.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        deferred: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.deferred = deferred or rate_limited
        self.rate_limited = rate_limited


class Gateway(Protocol):
    """Sends one rendered message to one chat on one platform.

    A gateway that waits for a rate limiter before its requests may set
    `reports_call_start = True` and await `bot.delivery.platform_call_starting()`
    right before each request instead: the dispatcher's start mark is then written
    at the end of the wait, which keeps the uncertain window small (see bot/delivery/__init__.py).

    A gateway whose platform can show an answer in a group to one person alone
    (Discord's ephemeral answers) sets `personal_in_place = True`: personal answers
    to something typed in a group then stay there, marked `personal`, instead of
    going to the person's private chat (bot/context.py).
    """

    platform: str

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        """Returns the platform's id for the message, or raises `DeliveryError`."""
        ...
