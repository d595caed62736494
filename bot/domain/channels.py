"""Which of a person's accounts a private message goes to: chat, or email.

An email-only person (a member from the register who never found the bot in a
chat app) is an ordinary `Person` with an `Identity(platform="email",
external_id=<address, lowercased and stripped>)`. The rule, the same for
`ctx.notify` and for announcements (`bot.announcements.model.route`), each
person reached once:

- someone who chose email (`ChannelChoice.prefers_email`) gets email at an
  address that still works, else their chat;
- everyone else gets their chat (the account they used most recently), and
  email only when they have no chat account at all;
- an address is skipped once it bounced for good (a permanent SMTP failure,
  5xx: the outbox entry failed, see `EmailReach.undeliverable`) or its owner
  pressed "unsubscribe" (`email_stopped_at`, RFC 8058 one-click): then there is
  no email to that person, bulk or personal, until they ask for it again; their
  chat, if any, still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.people import Identity

EMAIL = "email"


def normal_address(address: str) -> str:
    """How an address is kept as an identity's `external_id`."""
    return address.strip().lower()


@dataclass
class ChannelChoice:
    """A person's own choice of channel; no row means the default (chat first)."""

    person_id: int
    prefers_email: bool = False
    email_stopped_at: datetime | None = None  # unsubscribed: no email at all
    updated_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class EmailReach:
    """What decides whether a person's email addresses may be used."""

    prefers_email: bool = False
    stopped: bool = False
    undeliverable: frozenset[str] = frozenset()  # addresses that bounced for good


def ordered_chats(chats: Sequence[tuple[str, str]], reach: EmailReach) -> list[tuple[str, str]]:
    """The (platform, chat id) pairs to try, best first, by the module's rule.

    `chats` come most recently used first; email addresses that may not be used are
    left out, and so is email altogether when the person has a chat and did not choose it.
    """
    usable_email = [
        (platform, chat_id)
        for platform, chat_id in chats
        if platform == EMAIL and not reach.stopped and chat_id not in reach.undeliverable
    ]
    chat = [(platform, chat_id) for platform, chat_id in chats if platform != EMAIL]
    if reach.prefers_email:
        return usable_email + chat
    return chat if chat else usable_email


def pick_identity(identities: Sequence[Identity], reach: EmailReach) -> Identity | None:
    """The identity a private message goes to, or None when there is none to use."""
    order = ordered_chats([(i.platform, i.external_id) for i in identities], reach)
    if not order:
        return None
    by_chat = {(i.platform, i.external_id): i for i in identities}
    return by_chat[order[0]]


class ChannelRepository(Protocol):
    async def choice(self, person_id: int) -> ChannelChoice | None: ...
    async def save(self, choice: ChannelChoice) -> None: ...
    async def reach(self, person_id: int) -> EmailReach:
        """The person's choice, and which of their addresses bounced for good since added."""
        ...

    async def email_people(self, org_ids: list[int]) -> list[int]:
        """People affiliated with these organisations, with an email address and a consent
        in force (ids, ascending)."""
        ...
