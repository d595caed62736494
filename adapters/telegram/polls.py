"""Telegram's own polls for the core's `NativePoll` requests (the rule: bot/polls/native.py).

A poll that fits goes out as its text, then a non-anonymous `sendPoll` (only
those report `poll_answer` with the person), without a close date: the bot
ends it itself with `stopPoll` when the core asks (`stop_native_poll`).
Everything else about the message goes the usual way.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from telegram.constants import PollLimit
from telegram.error import BadRequest

from bot.messages import (
    NativePollLimits,
    OutgoingMessage,
    native_poll_reference,
    without_native_poll,
)

if TYPE_CHECKING:
    from adapters.telegram.gateway import TelegramGateway

log = logging.getLogger(__name__)

# Bot API 10.0 (python-telegram-bot 22.8): 12 options of 100 characters, a question of 300.
POLL_LIMITS = NativePollLimits(
    max_options=PollLimit.MAX_OPTION_NUMBER,
    question_length=PollLimit.MAX_QUESTION_LENGTH,
    option_length=PollLimit.MAX_OPTION_LENGTH,
    longest=None,  # no close date is given: the bot stops the poll itself
    hides_results=True,
)


def goes_native(message: OutgoingMessage, *, direct: bool) -> bool:
    """Whether this message is about a native poll here: one to post, or one to end."""
    return message.concerns_native_poll(POLL_LIMITS, direct=direct)


async def send_native(
    gateway: TelegramGateway, chat_id: str, message: OutgoingMessage, *, direct: bool
) -> str | None:
    if message.stop_native_poll:
        await _stop(gateway, chat_id, message.reference)
        rest = message.after_native_poll()
        return None if rest is None else await gateway._send(chat_id, rest, direct=direct)
    native = message.native_poll
    assert native is not None
    intro = replace(message, spans=native.spans, buttons=(), attachment=None, native_poll=None)
    introduced = intro.plain_text.strip() != ""
    if introduced:
        await gateway._send(chat_id, intro, direct=direct)
    try:
        sent = await gateway._request(
            chat_id,
            partial(
                gateway.bot.send_poll,
                chat_id,
                native.question,
                list(native.options),
                is_anonymous=False,
                allows_multiple_answers=native.multiple,
                allows_revoting=True,
                hide_results_until_closes=True if native.hide_results else None,
            ),
            private=False,
            first=not introduced,
        )
    except BadRequest as exc:
        # Refused although it looked as if it fitted: the buttons instead, so nobody is
        # left without a way to vote (the heading may then show twice).
        log.warning("Telegram refused a native poll in %s: %s", chat_id, exc.message)
        return await gateway._send(chat_id, replace(message, native_poll=None), direct=direct)
    if sent.poll is None:  # not what Telegram answers to sendPoll; no votes can be mapped
        return str(sent.message_id)
    return native_poll_reference(str(sent.message_id), sent.poll.id)


async def _stop(gateway: TelegramGateway, chat_id: str, reference: str | None) -> None:
    """Ends the poll; one that is closed or gone already is done too."""
    head = without_native_poll(reference).partition(";")[0]
    if not head.isdigit():
        log.info("Telegram: no poll to stop in %s (%r)", chat_id, reference)
        return
    try:
        await gateway._request(
            chat_id,
            partial(gateway.bot.stop_poll, chat_id, int(head)),
            private=False,
            first=True,
        )
    except BadRequest as exc:  # "poll has already been closed", "message ... not found"
        log.info("Telegram: poll %s in %s not stopped: %s", head, chat_id, exc.message)
