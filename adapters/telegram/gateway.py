"""Delivery to Telegram: the outbox dispatcher calls `send` for each message."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram.translate import CAPTION_LIMIT, PLATFORM, chunks_of
from bot.messages import OutgoingMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)


class RateLimiter:
    """Telegram's published limits: about 30 messages a second overall, 20 a minute per group.

    Waits before a send that would exceed them, so the bot slows down rather
    than collecting 429s (which Telegram answers with a pause for the whole bot).
    """

    def __init__(
        self,
        overall: tuple[int, float] = (30, 1.0),
        per_group: tuple[int, float] = (20, 60.0),
        per_private: tuple[int, float] = (5, 3.0),
    ) -> None:
        self.overall = overall
        self.per_group = per_group
        self.per_private = per_private
        self._sent: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def wait(self, chat_id: str, *, direct: bool) -> None:
        async with self._lock:
            for key, (limit, period) in (
                ("*", self.overall),
                (chat_id, self.per_private if direct else self.per_group),
            ):
                sent = self._sent.setdefault(key, deque())
                now = time.monotonic()
                while sent and now - sent[0] >= period:
                    sent.popleft()
                if len(sent) >= limit:
                    await asyncio.sleep(period - (now - sent[0]))
            now = time.monotonic()
            self._sent["*"].append(now)
            self._sent[chat_id].append(now)


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

    def __init__(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or RateLimiter()
        # The bot's private chat (t.me/<bot>), offered in a group when the text asks to /start.
        self.private_chat_url: str | None = None
        self._not_forums: set[str] = set()  # groups that said they have no topics

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        try:
            return await self._send(chat_id, message, direct=direct)
        except RetryAfter as exc:
            raise DeliveryError(
                "Telegram asked to slow down", retry_after=_retry_after(exc)
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

    async def _send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
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
        attachment = message.attachment
        if attachment is not None:
            await self.limiter.wait(chat_id, direct=direct)
            document = InputFile(attachment.data, filename=attachment.filename)
            if attachment.media_type.startswith("image/"):
                sent = await self.bot.send_photo(chat_id, document, **placement)
            else:
                sent = await self.bot.send_document(chat_id, document, **placement)
            sent_id = sent.message_id
        if message.plain_text.strip() or message.buttons:
            for chunk in chunks_of(
                message, private_chat_url=None if direct else self.private_chat_url
            ):
                await self.limiter.wait(chat_id, direct=direct)
                sent = await self.bot.send_message(
                    chat_id,
                    chunk.html,
                    parse_mode=ParseMode.HTML,
                    reply_markup=chunk.keyboard,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    **placement,
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
            topic = await self.bot.create_forum_topic(chat_id, topic_name(title))
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


__all__ = ["CAPTION_LIMIT", "RateLimiter", "TelegramGateway"]
