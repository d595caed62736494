"""Delivery to Telegram: the outbox dispatcher calls `send` for each message."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from telegram import Bot, InputFile, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from adapters.budget import SendStats
from adapters.telegram import polls
from adapters.telegram.limits import BudgetSpent, RateLimiter
from adapters.telegram.translate import CAPTION_LIMIT, PLATFORM, Chunk, chunks_of
from bot.delivery import platform_call_starting
from bot.messages import OutgoingMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)


T = TypeVar("T")

# How long before its slot frees a request writes the dispatcher's start mark: more than
# the write takes (about a millisecond, longer when the database is busy), so that the
# request goes out the moment the slot is free.
MARK_LEAD = 0.1

# Link previews off (LinkPreviewOptions(is_disabled=True)), as the Bot API's JSON.
NO_PREVIEW = {"is_disabled": True}
NO_PREVIEW_ONLY = {"link_preview_options": NO_PREVIEW}


def is_private(chat_id: str, *, direct: bool) -> bool:
    """Telegram's private chats have the person's (positive) id; groups and channels don't."""
    return direct or chat_id.isdigit()


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int now, a timedelta in a later major version
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


TOPIC_NAME_LIMIT = 128


def topic_name(title: str) -> str:
    title = " ".join(title.split()) or "…"
    return title if len(title) <= TOPIC_NAME_LIMIT else title[: TOPIC_NAME_LIMIT - 1] + "…"


@dataclass(frozen=True)
class Reference:
    """What `send` returns: the message's id, and the forum topic opened for it if any."""

    message_id: int | None
    topic_id: int | None = None

    def __str__(self) -> str:
        return f"{self.message_id}" + (f";topic={self.topic_id}" if self.topic_id else "")

    @classmethod
    def parse(cls, text: str | None) -> Reference:
        head, _, topic = (text or "").partition(";topic=")
        return cls(int(head) if head.isdigit() else None, int(topic) if topic.isdigit() else None)


class TelegramGateway:
    platform = PLATFORM
    # The dispatcher's start mark is written right before each request, near the end of the
    # limiter's wait (`platform_call_starting`), which keeps the uncertain window small
    # (bot/delivery/__init__.py).
    reports_call_start = True

    def __init__(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or RateLimiter()
        self.stats = SendStats()
        # The bot's private chat (t.me/<bot>), offered in a group when the text asks to /start.
        self.private_chat_url: str | None = None
        self._not_forums: set[str] = set()  # groups that said they have no topics

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        try:
            reference = await self._send(chat_id, message, direct=direct)
        except BudgetSpent as exc:  # nothing was sent; other chats go on meanwhile
            self.stats.deferred += 1
            raise DeliveryError(
                f"Telegram's {exc.scope} budget is spent for now",
                deferred=True,
                retry_after=exc.retry_after,
            ) from exc
        except RetryAfter as exc:  # counted and the budget paused where it was answered
            self.stats.deferred += 1
            raise DeliveryError(
                "Telegram asked to slow down", rate_limited=True, retry_after=_retry_after(exc)
            ) from exc
        except Forbidden as exc:  # blocked by the user, kicked from the group
            raise DeliveryError(f"Telegram refused: {exc.message}", permanent=True) from exc
        except ChatMigrated as exc:
            raise DeliveryError(
                f"the group moved to chat {exc.new_chat_id}", permanent=True
            ) from exc
        except BadRequest as exc:  # the same request would be refused again
            raise DeliveryError(f"Telegram refused: {exc.message}", permanent=True) from exc
        except TelegramError as exc:  # network trouble, timeouts, server errors: try later
            raise DeliveryError(f"Telegram error: {exc.message}") from exc
        except (
            ValueError
        ) as exc:  # a message this platform can't show (e.g. a button without token)
            raise DeliveryError(f"not sendable: {exc}", permanent=True) from exc
        self.stats.sent += 1
        return reference

    async def _request(
        self,
        chat_id: str,
        call: Callable[[], Awaitable[T]],
        *,
        private: bool,
        paid: bool = False,
        burst: int = 1,
        first: bool,
    ) -> T:
        """One request within Telegram's budgets (see `adapters.telegram.limits`).

        A 429 is counted and pauses every send for exactly its retry_after. On the
        message's first request it goes back to the dispatcher; on a later part the part
        is sent again once the pause is over, as the earlier parts are out already.
        """
        while True:
            slot = await self.limiter.reserve(
                chat_id, private=private, paid=paid, burst=burst, first=first
            )
            started = False
            try:
                # The dispatcher's start mark (raises ClaimLost when the message must not be
                # sent), written `MARK_LEAD` before the slot frees rather than after: the
                # write then adds nothing to the slot's round. At most the sends holding a
                # reservation that close to their turn are marked without having gone out
                # yet, each uncertain (not duplicated) if the process dies then.
                await slot.wait(lead=MARK_LEAD)
                await platform_call_starting()
                await slot.wait()
                started = True
                return await call()
            except RetryAfter as exc:
                self.stats.rate_limited += 1
                self.limiter.pause(_retry_after(exc))
                log.warning("Telegram: 429 for chat %s, pausing %.0f s", chat_id, _retry_after(exc))
                if first:
                    raise
            finally:
                slot.done(reached=started)

    async def _send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        if polls.goes_native(message, direct=direct):  # a native poll to post or to end
            return await polls.send_native(self, chat_id, message, direct=direct)
        sent_id: int | None = None
        # A message for the thread of an earlier post: in its forum topic, else as a reply to it.
        placement: dict[str, Any] = {}
        referred = Reference.parse(message.reference)
        if message.in_thread and not direct:
            if referred.topic_id is not None:
                placement["message_thread_id"] = referred.topic_id
            elif referred.message_id is not None:
                placement["reply_parameters"] = ReplyParameters(
                    referred.message_id, allow_sending_without_reply=True
                )
        if message.paid_broadcast:  # a higher overall rate, paid per message
            placement["allow_paid_broadcast"] = True
        attachment = message.attachment
        chunks: list[Chunk] = []
        if message.plain_text.strip() or message.buttons:
            chunks = chunks_of(message, private_chat_url=None if direct else self.private_chat_url)
        opens_topic = message.thread is not None and not direct and chat_id not in self._not_forums
        # Every request this message needs, so that its chat's budget has room for all of them.
        budget: dict[str, Any] = {
            "private": is_private(chat_id, direct=direct),
            "paid": message.paid_broadcast,
            "burst": (attachment is not None) + len(chunks) + opens_topic,
        }
        if attachment is not None:
            document = InputFile(attachment.data, filename=attachment.filename)
            send_file = (
                self.bot.send_photo
                if attachment.media_type.startswith("image/")
                else self.bot.send_document
            )
            sent = await self._request(
                chat_id, partial(send_file, chat_id, document, **placement), first=True, **budget
            )
            sent_id = sent.message_id
        for chunk in chunks:
            sent = await self._request(
                chat_id,
                partial(
                    self.bot.send_message,
                    chat_id,
                    chunk.html,
                    parse_mode=ParseMode.HTML,
                    # The keyboard and the link preview as the Bot API's JSON (public and
                    # documented for parameters passed as they are), not python-telegram-
                    # bot's objects converted again for every send.
                    api_kwargs=(
                        {"link_preview_options": NO_PREVIEW, "reply_markup": chunk.keyboard}
                        if chunk.keyboard is not None
                        else NO_PREVIEW_ONLY
                    ),
                    **placement,
                ),
                first=sent_id is None,
                **budget,
            )
            sent_id = sent.message_id
        if sent_id is None:
            return None
        topic_id = None
        if message.thread is not None and not direct:
            topic_id = await self._open_topic(chat_id, message.thread.title)
        return str(Reference(sent_id, topic_id))

    async def _open_topic(self, chat_id: str, title: str) -> int | None:
        """A forum topic for the thread, where the group is a forum; None elsewhere.

        A group that is not a forum answers so once; after that it is not asked
        again, and the thread's messages go as replies to the post. The post
        itself went out, so a refusal never fails the delivery.
        """
        if chat_id in self._not_forums:
            return None
        try:
            topic = await self._request(
                chat_id,
                partial(self.bot.create_forum_topic, chat_id, topic_name(title)),
                private=False,
                first=False,
            )
        except BadRequest as exc:
            if "not a forum" in exc.message.lower():
                self._not_forums.add(chat_id)
            else:
                log.info("Telegram: could not open a topic in %s: %s", chat_id, exc.message)
            return None
        except TelegramError as exc:  # e.g. no right to manage topics
            log.info("Telegram: could not open a topic in %s: %s", chat_id, exc.message)
            return None
        return topic.message_thread_id


__all__ = ["CAPTION_LIMIT", "RateLimiter", "SendStats", "TelegramGateway"]
