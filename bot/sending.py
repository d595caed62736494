"""What a gateway sees of the send under way: the outbox entry the dispatcher hands it
(bot/delivery/__init__.py), its id and key, and the hook that writes its start mark."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass


class ClaimLost(Exception):
    """Another process took the entry over before its platform call started: do not send."""


@dataclass(frozen=True)
class _Sending:
    """The entry a gateway is sending right now, as the dispatcher hands it over."""

    # Unique to the entry: not the row id alone, since SQLite reuses deleted rows' ids.
    delivery_id: str
    mark: Callable[[], Awaitable[None]]  # writes the start mark, once
    key: str = ""  # the entry's idempotency key (names the event a reply answers)


_sending: ContextVar[_Sending | None] = ContextVar("samtal_sending", default=None)


def current_delivery_id() -> str | None:
    """The outbox entry being sent (a string unique to it), for platforms that take an
    idempotency key.

    Discord does (a message nonce it enforces for a few minutes): a message sent again
    after a takeover then comes back as the one already posted, closing the window
    described in the module's note there. None outside the dispatcher.
    """
    sending = _sending.get()
    return sending.delivery_id if sending else None


def current_delivery_key() -> str | None:
    """The key of the outbox entry being sent, e.g. `reply:discord:i123:1`: a gateway that
    answers an interaction in place (Discord) finds the event a reply answers in it."""
    sending = _sending.get()
    return sending.key if sending else None


async def platform_call_starting() -> None:
    """A gateway with `reports_call_start = True` awaits this right before each platform
    request that may deliver the message, at the end of any wait for its rate limiter.

    The first call per message writes the dispatcher's start mark (see the module's
    note); later ones do nothing, and outside the dispatcher it does nothing at all.
    It raises `ClaimLost` when the message must not be sent: let it through.
    """
    sending = _sending.get()
    if sending is not None:
        await sending.mark()
