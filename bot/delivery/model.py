"""The delivery's terms: how a process delivers (`DeliveryOptions`), what it did
(`DeliveryStats`), what became of a send, and the limits it keeps. The contract is in
bot/delivery/__init__.py; the Dispatcher that keeps it in bot/delivery/dispatcher.py."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from bot.domain.delivery import OutboxEntry
from bot.ports import DeliveryError

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=20)  # a claim's life without renewal; renewed every few seconds
DEFERRAL_SECONDS = 1.0  # when a deferral names no time
MIN_CLAIM = 10  # entries claimed at once, at least (twice the concurrency when that is more)
# Paid broadcasts (Telegram's 1000 a second) go in groups: one statement writes a group's
# start marks and a few its results, instead of two transactions a message.
GROUP = 64  # entries marked together, then sent side by side
GROUPS = 2  # groups in flight: one's requests go out while another's writes are made
BULK_CLAIM = 256  # entries claimed at once while paid broadcasts are being claimed
RECORD_EVERY = 16  # a group's sent entries recorded together, as their answers come


@dataclass(frozen=True)
class DeliveryOptions:
    """How this process delivers; chosen by the composition root (samtal/runtime.py)."""

    owner: str = ""  # this process's name in claims; a random one when empty
    lease: timedelta = LEASE
    # Sends in flight at once, per platform; 1 where absent (strictly in the outbox's order).
    concurrency: Mapping[str, int] = field(default_factory=dict)
    # The only process sending from this database (SQLite): a claim found at start is stale.
    exclusive: bool = True


@dataclass
class DeliveryStats:
    """What this process's dispatcher did since it started, for logs and reports."""

    sent: int = 0
    deferred: int = 0  # the platform's budget was spent: tried again later, not an attempt
    rate_limited: int = 0  # 429s received (also counted as deferred)
    retried: int = 0  # failed attempts that will be tried again
    failed: int = 0  # given up for good
    uncertain: int = 0  # call started, no result recorded: sent again (the module's note)
    requeued: int = 0  # claimed by a process that stopped before calling: sent by another
    lost_claims: int = 0  # taken over by another process before the call started here

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Result(enum.Enum):
    SENT = "sent"
    HELD = "held"  # pending again (deferred or to be retried): its chat's next entries wait
    DONE = "done"  # failed for good
    LOST = "lost"  # another process holds it now
    UNKNOWN = "unknown"  # the outcome could not be recorded


# What a platform call came to: the external id or the error (None: the claim was lost).
CallOutcome = tuple[str | None, DeliveryError | None] | None


def is_paid(entry: OutboxEntry) -> bool:
    """A paid broadcast (Telegram's higher rate): sent in groups, see `_deliver_group`."""
    return bool(entry.payload.get("paid_broadcast"))
