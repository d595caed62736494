"""Delivery to Discord: the outbox dispatcher calls `send` for each message.

Every answer goes to its own interaction, found by the outbox key of the reply
(`reply:discord:i<interaction id>:…`), never by the chat it is in: two people
using a command in one channel at once each get their own answer. A slash
command's first answer is the interaction's response itself when it comes
within `ANSWER_WITHIN` (it nearly always does); otherwise the command is
deferred ("thinking…", visible only to the person in a server) and answered by
a follow-up. A message marked `personal` that answers an interaction in a
server channel is ephemeral: only the person sees it. Other messages go to the
channel (or the person's DMs) as ordinary messages.

When a person's DMs are closed, the send fails for good. If they are using the
bot in a server at that moment (a button press, a command), the message goes to
them ephemerally through that interaction; otherwise they are told in the
channel where they last used the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

import aiohttp
import discord

from adapters.budget import SendStats
from adapters.discord import forms, polls
from adapters.discord.limits import RestBudget, retry_after_of
from adapters.discord.translate import (
    PLATFORM,
    ROWS_PER_MESSAGE,
    chunks_of,
    custom_id,
    escape,
    label,
)
from bot.delivery import current_delivery_id, current_delivery_key
from bot.forms import FormOffer
from bot.i18n import N_, Translator
from bot.messages import Button, CalendarEvent, OutgoingMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)

FOLLOWUP_SECONDS = 14 * 60  # an interaction's token works for 15 minutes
IN_FLIGHT_SECONDS = 60.0  # an interaction this recent still carries what it caused
FORMS_KEPT = 1000  # form offers remembered for their buttons (after a restart: one field)
ANSWER_WITHIN = 1.5  # seconds a command waits for its answer before "thinking…" (Discord: 3)
# The outbox key of an answer to an interaction (bot.context.Context.reply, Samtal._answer_alone).
_REPLY_KEY = re.compile(r"^reply:discord:i(\d+):")
THREAD_ARCHIVE_MINUTES: Literal[10080] = (
    10080  # a meeting's thread stays open a week after its last message
)
THREAD_NAME_LIMIT = 100
EVENT_EXTERNAL = 3  # a scheduled event somewhere else than a voice or stage channel
EVENT_GUILD_ONLY = 2
EVENT_CANCELLED = 4
LOCATION_LIMIT = 100
DESCRIPTION_LIMIT = 1000


@dataclass(frozen=True)
class Reference:
    """What `send` returns: the message's id, and the scheduled event made with it if any.

    A thread started on a message has the message's id. The dispatcher hands the
    reference back on later messages that refer to this one.
    """

    message_id: int | None
    event_id: int | None = None

    def __str__(self) -> str:
        return f"{self.message_id}" + (f";event={self.event_id}" if self.event_id else "")

    @classmethod
    def parse(cls, text: str | None) -> Reference:
        head, _, event = (text or "").partition(";event=")
        return cls(int(head) if head.isdigit() else None, int(event) if event.isdigit() else None)


def event_payload(event: CalendarEvent) -> dict[str, Any]:
    """A scheduled event at the meeting's instants (UTC), so a local time never jumps."""
    return {
        "name": thread_name(event.title),
        "privacy_level": EVENT_GUILD_ONLY,
        "scheduled_start_time": event.starts_at.astimezone(UTC).isoformat(),
        "scheduled_end_time": event.ends_at.astimezone(UTC).isoformat(),
        "entity_type": EVENT_EXTERNAL,
        "entity_metadata": {"location": _cut(event.place, LOCATION_LIMIT)},
        "description": _cut(event.description, DESCRIPTION_LIMIT),
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def thread_name(title: str) -> str:
    title = " ".join(title.split()) or "…"
    return title if len(title) <= THREAD_NAME_LIMIT else title[: THREAD_NAME_LIMIT - 1] + "…"


DMS_CLOSED = N_(
    "I can't send you private messages. Allow direct messages from this server's members "
    "(in the server's privacy settings), then try again."
)


class TokenButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"samtal:(?P<token>[A-Za-z0-9_-]{1,90})",
):
    """A button whose custom id carries the outbox's opaque token, so it works after a restart."""

    def __init__(self, token: str, text: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label(text), style=discord.ButtonStyle.secondary, custom_id=custom_id(token)
            ),
            row=row,
        )
        self.token = token

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Any], item: discord.ui.Button[Any], match: Any
    ) -> TokenButton:
        return cls(match["token"], item.label or "…")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        on_button = getattr(interaction.client, "on_button", None)
        if on_button is not None:
            await on_button(interaction, self.token)


def view_of(rows: tuple[tuple[Button, ...], ...]) -> discord.ui.View | None:
    if not rows:
        return None
    view = discord.ui.View(timeout=None)
    for index, row in enumerate(rows):
        for button in row:
            if not button.token:
                raise ValueError(f"button {button.label!r} has no token")
            view.add_item(TokenButton(button.token, button.label, row=index))
    return view


@dataclass
class _Pending:
    """An interaction whose answers are still to come, and what has been sent through it."""

    interaction: discord.Interaction[Any]
    since: float
    direct: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    placeholder: bool = False  # deferred with "thinking…", not yet replaced by an answer
    answered: bool = False  # at least one answer went through it
    responded: asyncio.Event = field(default_factory=asyncio.Event)  # the response was sent

    @property
    def live(self) -> bool:
        return time.monotonic() - self.since < FOLLOWUP_SECONDS


class DiscordGateway:
    platform = PLATFORM
    # A personal answer to an interaction in a server stays there, for the person's eyes
    # only (ephemeral), instead of going to their DMs (bot/context.py).
    personal_in_place = True

    def __init__(self, client: discord.Client, budget: RestBudget | None = None) -> None:
        self.client = client
        # The global limit and the 429 count live in the client's HTTP tracing (see
        # adapters.discord.limits); what the gateway itself did is counted here as well.
        self.limiter = budget  # `limiter.scale(share)` when replicas send for one bot
        self.stats = budget.stats if budget is not None else SendStats()
        self._paused: dict[str, float] = {}  # chat -> monotonic time its route may be used again
        self._pending: dict[str, _Pending] = {}  # interaction id -> its state
        self._latest: dict[str, str] = {}  # user id -> their newest interaction in a server
        self.in_flight = IN_FLIGHT_SECONDS
        # Where each person last used the bot in a server, and their language there.
        self._last_channel: dict[str, tuple[str, str | None]] = {}
        self._guilds: dict[str, int] = {}  # channel id -> its server, learnt or looked up
        # The forms offered lately, by (person, dialog, step): what a form button opens.
        self._forms: dict[tuple[str, str, str], FormOffer] = {}

    def seen_guild(self, channel_id: str, guild_id: int) -> None:
        self._guilds[channel_id] = guild_id

    def expect_reply(self, interaction: discord.Interaction[Any], *, direct: bool) -> None:
        """Answers to this interaction (by their outbox key) go through it from now on."""
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if now - p.since > FOLLOWUP_SECONDS]:
            del self._pending[key]
        self._pending[str(interaction.id)] = _Pending(interaction, now, direct)
        if not direct:
            self._latest[str(interaction.user.id)] = str(interaction.id)

    def seen_in_channel(self, user_id: str, channel_id: str, language: str | None) -> None:
        self._last_channel[user_id] = (channel_id, language)

    async def acknowledge(self, interaction: discord.Interaction[Any], *, within: float) -> None:
        """Defers a command that has no answer yet `within` seconds of its arrival.

        In a server the placeholder is ephemeral: if the answer turns out to be for the
        channel, it is posted there and the placeholder removed.
        """
        pending = self._pending.get(str(interaction.id))
        if pending is None:
            return
        wait = pending.since + within - time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.responded.wait(), max(wait, 0.0))
        async with pending.lock:
            if interaction.response.is_done():
                return
            await interaction.response.defer(thinking=True, ephemeral=not pending.direct)
            pending.placeholder = True

    async def settle(self, interaction: discord.Interaction[Any], *, after: float) -> None:
        """Removes a "thinking" placeholder that no answer replaced (they went elsewhere)."""
        await asyncio.sleep(after)
        pending = self._pending.get(str(interaction.id))
        if pending is None or pending.interaction is not interaction:
            return
        async with pending.lock:
            if not pending.placeholder:
                return
            pending.placeholder = False
            await self._remove_placeholder(interaction)

    @staticmethod
    async def _remove_placeholder(interaction: discord.Interaction[Any]) -> None:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.info("Discord: could not remove a placeholder: %s", exc)

    def _answering(self) -> _Pending | None:
        """The interaction the message being sent answers, if it is one and still usable."""
        match = _REPLY_KEY.match(current_delivery_key() or "")
        pending = self._pending.get(match.group(1)) if match else None
        return pending if pending is not None and pending.live else None

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        paused = self._paused.get(chat_id, 0.0) - time.monotonic()
        if paused > 0:  # Discord told us to keep off this chat's route for now
            self.stats.deferred += 1
            raise DeliveryError(
                "Discord's limit for this chat is spent", deferred=True, retry_after=paused
            )
        self._paused.pop(chat_id, None)
        try:
            reference = await self._send(chat_id, message, direct=direct)
        except discord.RateLimited as exc:
            # A 429 longer than discord.py waits out itself (or a bucket it knows is spent
            # that long): back to the dispatcher, and no request to this chat before then.
            raise self._rate_limited(chat_id, exc.retry_after) from exc
        except discord.Forbidden as exc:  # DMs closed, blocked, or no access to the channel
            if direct:
                await self._tell_in_channel(chat_id)
            raise DeliveryError(
                f"Discord refused: {exc.text or exc.status}", permanent=True
            ) from exc
        except discord.NotFound as exc:
            raise DeliveryError(f"Discord: no such chat ({exc.text})", permanent=True) from exc
        except discord.HTTPException as exc:
            if exc.status == 429:  # not retried by discord.py (e.g. Cloudflare's own limit)
                raise self._rate_limited(chat_id, retry_after_of(exc.response.headers)) from exc
            raise DeliveryError(
                f"Discord error {exc.status}: {exc.text}", permanent=400 <= exc.status < 500
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Discord unreachable: {exc}") from exc
        except (
            ValueError
        ) as exc:  # a message this platform can't show (e.g. a button without token)
            raise DeliveryError(f"not sendable: {exc}", permanent=True) from exc
        self.stats.sent += 1
        return reference

    def _rate_limited(self, chat_id: str, retry_after: float | None) -> DeliveryError:
        # Without a retry_after in the answer, a minute: far longer than a route's bucket.
        wait = retry_after if retry_after is not None else 60.0
        self._paused[chat_id] = time.monotonic() + wait
        self.stats.deferred += 1
        return DeliveryError("Discord asked to slow down", rate_limited=True, retry_after=wait)

    def form_offered(self, user_id: str, dialog: str, step: str) -> FormOffer | None:
        return self._forms.get((user_id, dialog, step))

    def _remember_form(self, offer: FormOffer, user_id: str | None) -> None:
        if user_id is None:
            return
        if len(self._forms) >= FORMS_KEPT:  # the oldest first
            del self._forms[next(iter(self._forms))]
        self._forms[(user_id, offer.dialog, offer.step)] = offer

    @staticmethod
    def _form_button(
        message: OutgoingMessage, *, direct: bool, row: int
    ) -> forms.FormButton | None:
        """A button that opens the question's form: the declared form anywhere, a single
        answer only in a server channel (in DMs the person just types)."""
        offer = message.form
        if offer is None or not forms.fits(offer) or not (offer.whole or not direct):
            return None
        return forms.FormButton(offer.dialog, offer.step, offer.button or "…", row=row)

    @staticmethod
    def _parts(
        message: OutgoingMessage, *, direct: bool = True
    ) -> list[tuple[str, dict[str, Any]]]:
        """The Discord messages to send for one of ours: content and arguments, in order."""
        allowed = discord.AllowedMentions.none()
        prefix = ""
        role = message.mention_role
        if role and role.isdigit():  # a feature's own announcement to an opt-in role
            prefix = f"<@&{role}> "
            allowed = discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(int(role))]
            )
        attachment = message.attachment
        parts: list[tuple[str, dict[str, Any]]] = []
        for index, chunk in enumerate(chunks_of(message) or [None]):
            content = (prefix if index == 0 else "") + (chunk.content if chunk else "")
            kwargs: dict[str, Any] = {"allowed_mentions": allowed}
            view = view_of(chunk.buttons) if chunk else None
            if view is not None:
                kwargs["view"] = view
            if attachment is not None and index == 0:
                kwargs["file"] = discord.File(
                    io.BytesIO(attachment.data), filename=attachment.filename
                )
            parts.append((content, kwargs))
        chunks = chunks_of(message)
        rows = len(chunks[-1].buttons) if chunks else 0
        button = DiscordGateway._form_button(message, direct=direct, row=rows)
        if button is not None and rows < ROWS_PER_MESSAGE:
            view = parts[-1][1].setdefault("view", discord.ui.View(timeout=None))
            view.add_item(button)
        return parts

    async def _send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        if polls.goes_native(message, direct=direct):  # a native poll to post or to end
            return await polls.send_native(self, chat_id, message, direct=direct)
        parts = self._parts(message, direct=direct)
        referred = Reference.parse(message.reference)
        thread_id = referred.message_id if message.in_thread and not direct else None
        personal = message.personal and not direct
        # A message for a thread never answers the interaction: that answer stays in the chat.
        pending = None if thread_id else self._answering()
        if personal and pending is None:  # its interaction is over (or unknown after a restart)
            raise DeliveryError(
                "a personal answer whose interaction is over: not posted in the channel",
                permanent=True,
            )
        if (
            pending is not None
            and not personal
            and pending.interaction.type is not discord.InteractionType.application_command
        ):
            pending = None  # a button's answer for everyone: an ordinary post, as before
        if message.form is not None:
            person = str(pending.interaction.user.id) if pending is not None else None
            self._remember_form(message.form, chat_id if direct else person)
        sent_id: int | None = None
        if pending is not None and await self._open_form(pending, message.form):
            return None  # the question is the modal itself
        if pending is not None:
            sent_id = await self._answer(pending, chat_id, parts, personal=personal)
        else:
            target = (
                await self._thread_target(chat_id, thread_id)
                if thread_id
                else await self._target(chat_id, direct=direct)
            )
            try:
                for index, (content, kwargs) in enumerate(parts):
                    delivery = current_delivery_id()
                    if delivery is not None:  # sent again after a crash: Discord returns the first
                        digest = hashlib.sha256(f"{delivery}.{index}".encode()).hexdigest()
                        kwargs["nonce"] = digest[:25]  # Discord's longest nonce
                    sent = await target.send(content or None, **kwargs)
                    sent_id = sent.id
            except discord.Forbidden:
                through = self._using_now(chat_id) if direct and sent_id is None else None
                if through is None:
                    raise
                # Her DMs are closed, but she is pressing a button or using a command in a
                # server right now: the message reaches her there, for her eyes only.
                sent_id = await self._answer(
                    through, chat_id, self._parts(message, direct=False), personal=True
                )
        if sent_id is None:
            return None
        event_id: int | None = None
        if message.thread is not None and not direct:
            await self._open_thread(chat_id, sent_id, message.thread.title)
        if message.event is not None and not direct:
            if message.refers_to is None:
                event_id = await self._create_event(chat_id, message.event)
            elif referred.event_id is not None:
                await self._edit_event(chat_id, referred.event_id, message.event)
        return str(Reference(sent_id, event_id))

    async def _open_form(self, pending: _Pending, offer: FormOffer | None) -> bool:
        """Opens a declared form as a slash command's response, if it is still to be given
        (Discord takes a modal only as the first response, and not after "thinking…")."""
        interaction = pending.interaction
        if offer is None or not offer.whole or not forms.fits(offer):
            return False
        if interaction.type is not discord.InteractionType.application_command:
            return False
        async with pending.lock:
            if interaction.response.is_done():
                return False
            await interaction.response.send_modal(forms.modal_of(offer))
            pending.responded.set()
            pending.answered = True
        return True

    def _using_now(self, user_id: str) -> _Pending | None:
        """The person's interaction in a server from just now (what caused this message)."""
        pending = self._pending.get(self._latest.get(user_id, ""))
        if pending is None or time.monotonic() - pending.since > self.in_flight:
            return None
        return pending

    async def _answer(
        self,
        pending: _Pending,
        chat_id: str,
        parts: list[tuple[str, dict[str, Any]]],
        *,
        personal: bool,
    ) -> int | None:
        """Sends through the interaction: its response, the placeholder, or a follow-up."""
        interaction = pending.interaction
        sent_id: int | None = None
        async with pending.lock:
            for content, kwargs in parts:
                if not interaction.response.is_done():  # the command's answer, at once
                    done = await interaction.response.send_message(
                        content, ephemeral=personal, **kwargs
                    )
                    sent_id = done.message_id
                    pending.responded.set()
                elif pending.placeholder and not personal and not pending.direct:
                    # The placeholder is private; an answer for everyone goes to the channel.
                    target = self.client.get_partial_messageable(int(chat_id))
                    sent_id = (await target.send(content or None, **kwargs)).id
                    pending.placeholder = False
                    await self._remove_placeholder(interaction)
                else:  # replaces the placeholder (same visibility), or another follow-up
                    ephemeral = personal and not pending.placeholder
                    followup = await interaction.followup.send(
                        content, wait=True, ephemeral=ephemeral, **kwargs
                    )
                    sent_id = followup.id
                    pending.placeholder = False
                pending.answered = True
        return sent_id

    async def _guild_of(self, chat_id: str) -> int:
        guild_id = self._guilds.get(chat_id)
        if guild_id is None:
            channel = await self.client.http.get_channel(int(chat_id))
            guild_id = int(str(channel["guild_id"]))  # type: ignore[typeddict-item]
            self._guilds[chat_id] = guild_id
        return guild_id

    async def _create_event(self, chat_id: str, event: CalendarEvent) -> int | None:
        """A guild scheduled event for the meeting; a refusal is logged, the post stands."""
        try:
            created = await self.client.http.create_guild_scheduled_event(
                await self._guild_of(chat_id), **event_payload(event)
            )
        except discord.HTTPException as exc:
            log.info("Discord: could not create an event for %s: %s", chat_id, exc)
            return None
        return int(created["id"])

    async def _edit_event(self, chat_id: str, event_id: int, event: CalendarEvent) -> None:
        payload = {"status": EVENT_CANCELLED} if event.cancelled else event_payload(event)
        try:
            await self.client.http.edit_scheduled_event(
                await self._guild_of(chat_id), event_id, **payload
            )
        except discord.HTTPException as exc:
            log.info("Discord: could not update event %s: %s", event_id, exc)

    async def _open_thread(self, chat_id: str, message_id: int, title: str) -> None:
        """Starts a thread on the message just sent; its id is the message's id.

        The message itself went out, so a refusal here is logged and the delivery
        stands (sending again would post it twice); the thread's messages then go to
        the channel.
        """
        try:
            await self.client.http.start_thread_with_message(
                int(chat_id),
                message_id,
                name=thread_name(title),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            log.info("Discord: could not open a thread in %s: %s", chat_id, exc)

    async def _thread_target(self, chat_id: str, thread_id: int) -> discord.abc.Messageable:
        """The thread, if it exists; else the channel itself (it could not be opened)."""
        try:
            await self.client.http.get_channel(thread_id)
        except (discord.NotFound, discord.Forbidden):
            return self.client.get_partial_messageable(int(chat_id))
        return self.client.get_partial_messageable(thread_id)

    async def _target(self, chat_id: str, *, direct: bool) -> discord.abc.Messageable:
        if direct:
            return await self.client.create_dm(discord.Object(int(chat_id)))
        return self.client.get_partial_messageable(int(chat_id))

    async def _tell_in_channel(self, user_id: str) -> None:
        where = self._last_channel.get(user_id)
        if where is None:
            return
        channel_id, language = where
        text = escape(Translator(language or "sv")(DMS_CLOSED))
        try:
            await self.client.get_partial_messageable(int(channel_id)).send(
                f"<@{user_id}> {text}",
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(int(user_id))]
                ),
            )
        except discord.HTTPException as exc:
            log.info("Discord: could not tell %s that their DMs are closed: %s", user_id, exc)
