"""The records behind delivery: the outbox, timers, button actions and open dialogs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class OutboxStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a process took it to send; no platform call yet (safe to requeue)
    SENDING = "sending"  # the platform call may have happened: the one uncertain window
    SENT = "sent"
    FAILED = "failed"


@dataclass
class OutboxEntry:
    key: str  # idempotency key: one message per cause and recipient, never two
    platform: str
    chat_id: str
    direct: bool  # a private chat with one person, or a group channel
    payload: dict[str, Any]
    created_at: datetime
    not_before: datetime
    person_id: int | None = None
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    external_id: str | None = None
    batch: str | None = None  # a group of entries counted together, e.g. "announcement:12"
    # Whom a private message to someone else is about (a new member, to their officer): it
    # goes when they are erased, and it is not part of the recipient's own data.
    about_id: int | None = None
    # The process that claimed it (CLAIMED or SENDING) and until when; another process
    # takes it over only once the lease has run out (see bot/delivery/__init__.py).
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    started_at: datetime | None = None  # when the platform call last started (SENDING)
    id: int | None = None


@dataclass
class Timer:
    """Work that falls due at a given instant; the database, not memory, remembers it."""

    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    done_at: datetime | None = None
    id: int | None = None


@dataclass
class ButtonAction:
    """The server-side meaning of one button: platforms only ever see the token."""

    token: str
    name: str
    args: list[str]
    platform: str
    chat_id: str
    created_at: datetime
    person_id: int | None = None  # only this person may press it, when set


@dataclass
class DialogState:
    """Where a person is in a guided dialog in one chat."""

    person_id: int
    platform: str
    chat_id: str
    name: str
    step: str
    data: dict[str, Any]
    updated_at: datetime
    id: int | None = None


@dataclass
class ProcessedEvent:
    """An inbound event already handled, so a platform's redelivery changes nothing."""

    platform: str
    event_id: str
    processed_at: datetime
