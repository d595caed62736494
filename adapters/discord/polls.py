"""Discord's own polls for the core's `NativePoll` requests (the rule: bot/polls/native.py).

A poll that fits goes out as one message: the text, with the poll under it.
Discord needs a duration (whole hours, at most 32 days): it is rounded up from
the poll's own deadline, so Discord's timer never ends it first; the bot ends it
at the deadline itself (`Message.end_poll`) when the core asks (`stop_native_poll`).
Votes come back as raw poll vote events, one answer at a time (`app.py`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import discord

from adapters.discord.translate import chunks_of
from bot.messages import (
    NativePollLimits,
    OutgoingMessage,
    native_poll_reference,
    without_native_poll,
)

if TYPE_CHECKING:
    from adapters.discord.gateway import DiscordGateway

log = logging.getLogger(__name__)

# Discord's poll limits: 10 answers of 55 characters, a question of 300, open at most 32 days.
LONGEST = timedelta(days=32)
POLL_LIMITS = NativePollLimits(
    max_options=10,
    question_length=300,
    option_length=55,
    longest=LONGEST,
    hides_results=False,  # voters see the counts; polls with results at close keep the buttons
)
CODE_POLL_EXPIRED = 520001


def goes_native(message: OutgoingMessage, *, direct: bool) -> bool:
    """Whether this message is about a native poll here: one to post, or one to end."""
    return message.concerns_native_poll(POLL_LIMITS, direct=direct)


def duration_of(opened: timedelta) -> timedelta:
    """Discord's duration: whole hours, rounded up, at least one."""
    return timedelta(hours=max(1, math.ceil(opened.total_seconds() / 3600)))


async def send_native(
    gateway: DiscordGateway, chat_id: str, message: OutgoingMessage, *, direct: bool
) -> str | None:
    if message.stop_native_poll:
        await _end(gateway, chat_id, message.reference)
        rest = message.after_native_poll()
        return None if rest is None else await gateway._send(chat_id, rest, direct=direct)
    native = message.native_poll
    assert native is not None
    poll = discord.Poll(
        question=native.question,
        duration=duration_of(native.closes_at - native.opened_at),
        multiple=native.multiple,
    )
    for option in native.options:
        poll.add_answer(text=option)
    chunks = chunks_of(replace(message, spans=native.spans, buttons=(), native_poll=None))
    target = gateway.client.get_partial_messageable(int(chat_id))
    none = discord.AllowedMentions.none()
    for chunk in chunks[:-1]:  # a text longer than one message: the poll goes with the last
        await target.send(chunk.content, allowed_mentions=none)
    content = chunks[-1].content if chunks else None
    try:
        sent = await target.send(content, poll=poll, allowed_mentions=none)
    except discord.HTTPException as exc:
        if exc.status != 400:
            raise
        # Refused although it looked as if it fitted: the buttons instead, so nobody is
        # left without a way to vote.
        log.warning("Discord refused a native poll in %s: %s", chat_id, exc.text)
        return await gateway._send(chat_id, replace(message, native_poll=None), direct=direct)
    return native_poll_reference(str(sent.id), str(sent.id))


async def _end(gateway: DiscordGateway, chat_id: str, reference: str | None) -> None:
    """Ends the poll; one that has ended or is gone already is done too."""
    head = without_native_poll(reference).partition(";")[0]
    if not head.isdigit():
        log.info("Discord: no poll to end in %s (%r)", chat_id, reference)
        return
    channel = gateway.client.get_partial_messageable(int(chat_id))
    try:
        await channel.get_partial_message(int(head)).end_poll()
    except discord.NotFound:
        log.info("Discord: the poll message %s in %s is gone", head, chat_id)
    except discord.HTTPException as exc:
        if exc.code != CODE_POLL_EXPIRED:
            raise
        log.info("Discord: poll %s in %s had ended already", head, chat_id)
