"""Announcements (utskick): one text from an organisation to its people, with progress.

Who gets it: the people affiliated with the organisation or any organisation
below it who have consented (and not withdrawn), in the chosen audience
(everyone, members, guests, or an interest group from the welcome flow), with
an account the bot can write to. Each person once, however many accounts
they have linked.

How it reaches them (`route`):

- Telegram and the console: a private message to the account the person used
  most recently, unless that chat is known to be unreachable.
- Discord: never a private message each (bots that open many DMs are
  quarantined). The announcement is posted once in every Discord channel
  bound to the organisations, mentioning their opt-in announcement role where
  one is configured; a person whose only working account is on Discord
  counts as reached by those posts.
- Email: for people with no chat account, or who chose email, at an address
  that has not bounced and was not unsubscribed (`bot.domain.channels`).
- Unreachable: a chat where a private message recently failed for good (the
  platform refused it: a blocked bot, a deleted account; not a message that
  merely ran out of retries) and the person has not been in touch since. The
  outbox keeps failed entries for 30 days, so a refusal counts for that long,
  or until the person writes to the bot again (that is also how a blocked
  Telegram bot gets unblocked).

The pure rules (routes, estimates, the cost of a paid broadcast, when the
author hears how it goes) live here; `bot/announcements/service.py` uses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.channels import EmailReach, ordered_chats

MAX_TEXT = 3000  # characters of the announcement itself; the frame adds a line
CHUNK = 1000  # people looked up and queued per transaction

DISCORD = "discord"

# Messages a second each platform takes from one bot (Telegram: about 30 overall; its paid
# broadcast up to 1000). The console has no limit; a nominal pace keeps estimates honest.
# Email's pace is the [email] budget per minute; the default is 60 a minute.
PACE: dict[str, float] = {"telegram": 30.0, "discord": 50.0, "console": 30.0, "email": 1.0}
PAID_PACE = 1000.0
DEFAULT_PACE = 30.0
# Telegram's fee for a paid broadcast: 0.1 Star a message.
STARS_PER_MESSAGE = Decimal("0.1")


class Audience(StrEnum):
    EVERYONE = "everyone"
    MEMBERS = "members"
    GUESTS = "guests"
    INTEREST = "interest"  # people who named the interest in the welcome flow


class AnnouncementStatus(StrEnum):
    DRAFT = "draft"  # previewed, waiting for Send
    QUEUEING = "queueing"  # recipients being written to the outbox, a chunk at a time
    SENDING = "sending"  # all queued; the outbox delivers
    DONE = "done"  # nothing pending any more; the final report was given


@dataclass
class Announcement:
    org_id: int
    text: str
    audience: Audience
    created_at: datetime
    # Who wrote it; None from the command line (`samtal announce`) or once they are erased.
    author_id: int | None = None
    interest: str | None = None
    status: AnnouncementStatus = AnnouncementStatus.DRAFT
    paid_broadcast: bool = False
    cursor: int = 0  # the last person id looked at while queueing
    direct: int = 0  # private messages queued
    via_discord: int = 0  # people reached only through the Discord channel posts
    unreachable: int = 0  # people with no chat that works when it was queued
    by_platform: dict[str, int] = field(default_factory=dict)  # private messages per platform
    channel_posts: int = 0
    sent_at: datetime | None = None  # when Send was pressed
    queued_at: datetime | None = None  # when every message was in the outbox
    finished_at: datetime | None = None
    reported_quarter: int = 0  # the last quarter mark the author was told about
    reported_at: datetime | None = None
    moved_at: datetime | None = None  # when the delivered count last moved
    moved_done: int = 0  # the count then
    stall_told: bool = False
    # The final figures, kept when it is done (the outbox keeps its entries for 30 days).
    delivered: int = 0
    failed: int = 0
    posts_delivered: int = 0
    id: int | None = None

    @property
    def batch(self) -> str:
        """The outbox batch of its private messages; progress counts it."""
        return f"announcement:{self.id}"

    @property
    def channel_batch(self) -> str:
        return f"announcement:{self.id}:channels"

    def final(self) -> Progress:
        """The figures kept when it was done."""
        return Progress(sent=self.delivered, failed=self.failed, posts_sent=self.posts_delivered)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person in the audience, as queueing needs them: nothing more is loaded."""

    person_id: int
    language: str  # their own, else their first organisation's
    chats: tuple[tuple[str, str], ...]  # (platform, chat id), most recently used first
    unreachable: frozenset[tuple[str, str]] = frozenset()
    prefers_email: bool = False  # their choice (bot.domain.channels)
    email_stopped: bool = False  # unsubscribed from email


@dataclass(frozen=True)
class Chunk:
    """The audience among the next people by id: the work of one transaction, bounded."""

    candidates: Sequence[Candidate]
    cursor: int  # the last person id looked at
    last: bool  # no one has a higher id


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """One recipient's copy, as queueing writes it to the outbox (no mapped object per row)."""

    key: str
    platform: str
    chat_id: str
    person_id: int
    payload: dict[str, Any]


class RouteKind(StrEnum):
    DIRECT = "direct"
    DISCORD_CHANNEL = "discord_channel"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    platform: str | None = None
    chat_id: str | None = None


def route(candidate: Candidate, *, discord_channels: bool) -> Route:
    """How one person gets the announcement (see the module's note)."""
    working = [chat for chat in candidate.chats if chat not in candidate.unreachable]
    reach = EmailReach(prefers_email=candidate.prefers_email, stopped=candidate.email_stopped)
    for platform, chat_id in ordered_chats(working, reach):
        if platform != DISCORD:
            return Route(RouteKind.DIRECT, platform, chat_id)
    on_discord = any(
        platform == DISCORD and (platform, chat_id) not in candidate.unreachable
        for platform, chat_id in candidate.chats
    )
    if on_discord and discord_channels:
        return Route(RouteKind.DISCORD_CHANNEL)
    return Route(RouteKind.UNREACHABLE)


@dataclass
class Tally:
    """Where an audience's people are: counted a chunk at a time, never all loaded."""

    by_platform: dict[str, int] = field(default_factory=dict)
    via_discord: int = 0
    unreachable: int = 0

    def add(self, found: Route) -> None:
        if found.kind is RouteKind.DIRECT:
            assert found.platform is not None
            self.by_platform[found.platform] = self.by_platform.get(found.platform, 0) + 1
        elif found.kind is RouteKind.DISCORD_CHANNEL:
            self.via_discord += 1
        else:
            self.unreachable += 1

    @property
    def direct(self) -> int:
        return sum(self.by_platform.values())

    @property
    def people(self) -> int:
        return self.direct + self.via_discord + self.unreachable


def paid_applies(slug: str, telegram_messages: int, enabled: Sequence[str], minimum: int) -> bool:
    """Telegram's paid broadcast: where the organisation enabled it, for big announcements."""
    return slug in enabled and telegram_messages >= max(minimum, 1)


def paid_cost(telegram_messages: int) -> Decimal:
    """What a paid broadcast costs, in Telegram Stars."""
    return STARS_PER_MESSAGE * telegram_messages


def estimate_seconds(by_platform: Mapping[str, int], channel_posts: int, *, paid: bool) -> float:
    """How long delivery takes at the platforms' pace; each platform sends on its own."""
    times = [
        count / (PAID_PACE if paid and platform == "telegram" else PACE.get(platform, DEFAULT_PACE))
        for platform, count in by_platform.items()
    ]
    times.append(channel_posts / PACE[DISCORD])
    return max(times)


@dataclass(frozen=True)
class Progress:
    """The outbox's count of one announcement's messages."""

    sent: int = 0
    failed: int = 0
    pending: int = 0  # waiting or being sent
    posts_sent: int = 0
    posts_failed: int = 0
    posts_pending: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @property
    def total(self) -> int:
        return self.done + self.pending

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.posts_pending == 0


def time_left(announcement: Announcement, progress: Progress, now: datetime) -> timedelta:
    """What is left, at the rate seen so far; at the platforms' pace before anything moved."""
    if progress.finished:
        return timedelta()
    started = announcement.queued_at or announcement.sent_at
    elapsed = (now - started).total_seconds() if started else 0.0
    if progress.done > 0 and elapsed >= 1:
        return timedelta(seconds=progress.pending * elapsed / progress.done)
    planned = estimate_seconds(
        announcement.by_platform, announcement.channel_posts, paid=announcement.paid_broadcast
    )
    share = progress.pending / progress.total if progress.total else 1.0
    return timedelta(seconds=planned * share)


def quarter(done: int, total: int) -> int:
    """0 to 4: how many quarters of the way it has come."""
    return 4 if total <= 0 else min(4, done * 4 // total)


CHECK_EVERY = timedelta(minutes=1)  # how often a running announcement is counted
REPORT_GAP = timedelta(minutes=5)  # progress messages to the author at most this often
STALL_AFTER = timedelta(minutes=30)  # nothing delivered for this long: the author is told
STALLED_CHECK_EVERY = timedelta(minutes=5)
GIVE_UP_AFTER = timedelta(days=7)  # stop counting; the report says what still waits


def should_report(announcement: Announcement, progress: Progress, now: datetime) -> bool:
    """A progress message at each new quarter mark, never closer than `REPORT_GAP`."""
    if progress.finished or quarter(progress.done, progress.total) <= announcement.reported_quarter:
        return False
    return announcement.reported_at is None or now - announcement.reported_at >= REPORT_GAP


def stalled(announcement: Announcement, now: datetime) -> bool:
    moved = announcement.moved_at or announcement.queued_at
    return moved is not None and now - moved >= STALL_AFTER


@dataclass(frozen=True)
class QueueStep:
    """What one chunk of queueing changes, guarded by the cursor it started from."""

    cursor: int
    direct: int
    via_discord: int
    unreachable: int
    by_platform: dict[str, int]
    finished: bool
    channel_posts: int = 0

    def values(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "direct": self.direct,
            "via_discord": self.via_discord,
            "unreachable": self.unreachable,
            "by_platform": dict(self.by_platform),
        }


class AnnouncementRepository(Protocol):
    async def add(self, announcement: Announcement) -> Announcement: ...
    async def get(self, announcement_id: int) -> Announcement | None: ...
    async def recent(self, org_ids: Sequence[int], limit: int) -> Sequence[Announcement]:
        """The newest announcements sent (not drafts) from these organisations."""
        ...

    async def claim_draft(self, announcement_id: int, now: datetime) -> bool:
        """Draft to queueing, once: False when it was not a draft any more (a double press)."""
        ...

    async def drop_draft(self, announcement_id: int) -> bool:
        """Removes it if it is still a draft (Cancel, or left unsent for a day)."""
        ...

    async def candidates(
        self,
        org_ids: Sequence[int],
        audience: Audience,
        interest: str | None,
        *,
        after: int,
        limit: int,
    ) -> Chunk:
        """Those in the audience among the next `limit` people with an id above `after`."""
        ...

    async def advance(
        self, announcement_id: int, from_cursor: int, step: QueueStep, now: datetime
    ) -> bool:
        """Records a queued chunk if the cursor is still where it started (one queuer wins)."""
        ...

    async def queue(self, messages: Sequence[PrivateMessage], *, batch: str, now: datetime) -> int:
        """Writes private messages to the outbox in one go, due now, under the batch;
        skips keys already there; returns how many were written."""
        ...

    async def progress(self, announcement: Announcement) -> Progress:
        """The outbox's count of its messages: one indexed query."""
        ...

    async def finish(self, announcement_id: int, now: datetime, progress: Progress) -> bool:
        """Sending to done, once, keeping the final figures (the outbox forgets after 30
        days): False when someone else finished it."""
        ...


@dataclass(frozen=True)
class Plan:
    """Who an announcement would reach now: the preview's figures."""

    tally: Tally
    channels: int  # Discord channels it is posted in
    paid: bool

    @property
    def reaches_anyone(self) -> bool:
        return self.tally.direct > 0 or self.channels > 0

    @property
    def telegram(self) -> int:
        return self.tally.by_platform.get("telegram", 0)

    @property
    def seconds(self) -> float:
        return estimate_seconds(self.tally.by_platform, self.channels, paid=self.paid)
