"""Start-up of the Discord platform: a discord.Client on the bot's own asyncio loop.

Slash commands are registered from the core's command list (Swedish names,
English localisations); each becomes the typed command the core reads.
Buttons are `TokenButton`s, found again by their custom id after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from adapters import redaction
from adapters.discord import autocomplete, forms
from adapters.discord.gateway import ANSWER_WITHIN, DiscordGateway, TokenButton
from adapters.discord.limits import MAX_RATELIMIT_WAIT, RestBudget
from adapters.discord.translate import (
    MESSAGE_COMMAND,
    PLATFORM,
    chat_of,
    command_payloads,
    command_text,
    quoted_of,
    reading_language,
    sender_of,
)
from bot.core import Samtal
from bot.events import (
    ButtonPressed,
    Chat,
    Event,
    FormSubmitted,
    MessageMarked,
    PollAnswered,
    Sender,
    TextReceived,
)
from bot.i18n import Translator

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 30.0  # seconds for a log-in (discord.py's own requests wait far longer)


def start_failure(exc: BaseException) -> str | None:
    """Why Discord cannot start, or None when trying again may help (samtal/startup.py)."""
    if isinstance(exc, discord.LoginFailure):
        return "the token was refused (401 Unauthorized); check SAMTAL_DISCORD_TOKEN"
    if isinstance(exc, discord.HTTPException):
        if exc.status >= 500 or exc.status == 429:
            return None
        return f"Discord refused a request ({exc.status}): {exc.text}"
    if isinstance(exc, aiohttp.ClientError | discord.GatewayNotFound | OSError | TimeoutError):
        return None
    return f"{type(exc).__name__}: {exc}"


class Endpoints:
    """Where discord.py talks to: its REST base and gateway are process-wide class
    attributes, so they are set when the client logs in and put back when it closes."""

    def __init__(self, api_base: str | None, gateway_url: str | None) -> None:
        self.api_base = api_base
        self.gateway_url = yarl.URL(gateway_url) if gateway_url else None
        self._saved: tuple[str, yarl.URL] | None = None

    def apply(self) -> None:
        if self._saved is None:
            self._saved = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self.api_base:
            discord.http.Route.BASE = self.api_base.rstrip("/")
        if self.gateway_url is not None:
            DiscordWebSocket.DEFAULT_GATEWAY = self.gateway_url

    def restore(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None


class SamtalClient(discord.Client):
    def __init__(
        self,
        samtal: Samtal,
        *,
        register_commands: bool = True,
        api_base: str | None = None,
        gateway_url: str | None = None,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.dm_messages = True  # free text in DMs (dialog answers); content comes in DMs
        intents.guild_polls = True  # votes in the bot's native polls (adapters/discord/polls.py)
        # Discord's global limit paced for every REST request, and its 429s counted.
        budget = RestBudget()
        # No mention in anything the bot sends pings anyone unless a send allows it explicitly.
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=budget.trace,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.samtal = samtal
        self.gateway = DiscordGateway(self, budget)
        self.handled = 0  # interactions handed to the core so far (tests wait on it)
        self._register = register_commands
        self.settle_after = 30.0  # seconds before an unused "thinking" placeholder is removed
        self.answer_within = ANSWER_WITHIN  # seconds before a command shows "thinking…"
        self._tasks: set[asyncio.Task[None]] = set()
        self._votes = asyncio.Lock()  # native poll votes, handled one at a time
        self.endpoints = Endpoints(api_base, gateway_url)
        self.login_timeout = LOGIN_TIMEOUT

    async def setup_hook(self) -> None:
        self.add_dynamic_items(TokenButton, forms.FormButton)
        if self._register:
            await self.register_commands()

    async def register_commands(self) -> None:
        assert self.application_id is not None
        await self.http.bulk_upsert_global_commands(
            self.application_id, command_payloads(self.samtal.registry)
        )

    async def login(self, token: str) -> None:
        self.endpoints.apply()
        await super().login(token)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        try:
            await super().close()
        finally:
            self.endpoints.restore()

    async def run_with(self, token: str) -> None:
        redaction.protect([token])
        await self.start(token)

    async def login_once(self, token: str) -> None:
        """One attempt to log in (samtal/startup.py tries again after a network error);
        `connect` then runs the gateway, which reconnects by itself."""
        redaction.protect([token])
        try:
            await asyncio.wait_for(self.login(token), self.login_timeout)
        except BaseException:
            # discord.py opens a new HTTP session at each log-in: close the failed one.
            await self.http.close()
            self.http.connector = discord.utils.MISSING
            raise

    async def on_ready(self) -> None:
        log.info("Discord: logged in as %s", self.user)

    async def on_message(self, message: discord.Message) -> None:
        """Free text in a DM with the bot: answers to a dialog, or commands typed by hand."""
        if message.guild is not None or message.author.bot or not message.content:
            return
        user = message.author
        event = TextReceived(
            f"m{message.id}",
            sender_of(user, None),
            Chat(PLATFORM, str(user.id), is_private=True),
            message.content,
        )
        try:
            await self.samtal.handle(event)
        finally:
            self.handled += 1

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.application_command:
            await self.on_command(interaction)
        elif interaction.type is discord.InteractionType.autocomplete:
            await self.on_autocomplete(interaction)
        elif interaction.type is discord.InteractionType.modal_submit:
            await self.on_form(interaction)

    async def on_autocomplete(self, interaction: discord.Interaction[Any]) -> None:
        try:
            found = await autocomplete.choices(self.samtal, interaction)
        except Exception:  # a suggestion list is never worth an error
            log.exception("Discord: autocomplete failed")
            found = []
        try:
            await interaction.response.autocomplete(found)
        finally:
            self.handled += 1

    async def on_command(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        chat = chat_of(interaction)
        if data.get("type") == MESSAGE_COMMAND:  # "Contribution to a rådslag" on a message
            quoted = quoted_of(data)
            if quoted is None:
                await interaction.response.defer(ephemeral=True)
                self.handled += 1
                return
            marked = MessageMarked(
                f"i{interaction.id}",
                sender_of(interaction.user, interaction.locale, interaction),
                chat,
                quoted,
            )
            await self._answered(interaction, marked)
            return
        event = TextReceived(
            f"i{interaction.id}",
            sender_of(interaction.user, interaction.locale, interaction),
            chat,
            command_text(data, self.samtal.registry),
        )
        await self._answered(interaction, event)

    async def on_form(self, interaction: discord.Interaction[Any]) -> None:
        """A modal submitted: the answers to a dialog's questions (adapters/discord/forms.py)."""
        data: dict[str, Any] = dict(interaction.data or {})
        names = forms.parse_form_id(str(data.get("custom_id", "")))
        if names is None:
            return  # not one of ours
        event = FormSubmitted(
            f"i{interaction.id}",
            sender_of(interaction.user, interaction.locale, interaction),
            chat_of(interaction),
            names[0],
            names[1],
            forms.values_of(data),
        )
        await self._answered(interaction, event)

    async def on_form_button(
        self, interaction: discord.Interaction[Any], dialog: str, step: str
    ) -> None:
        """A question's form button: the modal is the press's response, at once."""
        offer = self.gateway.form_offered(str(interaction.user.id), dialog, step)
        if offer is not None and forms.fits(offer):
            modal = forms.modal_of(offer)
        else:  # not offered to this person since the start: a single answer
            t = Translator(reading_language(interaction.locale) or "sv")
            modal = forms.one_field_modal(dialog, step, t)
        try:
            await interaction.response.send_modal(modal)
        finally:
            self.handled += 1

    async def _answered(self, interaction: discord.Interaction[Any], event: Event) -> None:
        # Discord wants an answer within three seconds. The core's answer comes through the
        # outbox, nearly always well within that, and then is the response itself (ephemeral
        # where it is personal); if it is late, the gateway shows "thinking…" meanwhile.
        self._remember(interaction)
        self.gateway.expect_reply(interaction, direct=event.chat.is_private)
        try:
            await self.samtal.handle(event)
        finally:
            self.handled += 1
        await self.gateway.acknowledge(interaction, within=self.answer_within)
        # If every answer went elsewhere (the person's DMs), the placeholder is removed
        # rather than left "thinking".
        task = asyncio.create_task(self.gateway.settle(interaction, after=self.settle_after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_button(self, interaction: discord.Interaction[Any], token: str) -> None:
        await interaction.response.defer()  # acknowledged; what the press causes comes as messages
        chat = chat_of(interaction)
        self._remember(interaction)
        if not chat.is_private:  # personal answers to a press in a server go through it
            self.gateway.expect_reply(interaction, direct=False)
        event = ButtonPressed(
            f"i{interaction.id}",
            sender_of(interaction.user, interaction.locale, interaction),
            chat,
            token,
        )
        try:
            await self.samtal.handle(event)
        finally:
            self.handled += 1

    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.on_poll_vote(payload, added=True)

    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.on_poll_vote(payload, added=False)

    async def on_poll_vote(self, payload: discord.RawPollVoteActionEvent, *, added: bool) -> None:
        """A vote ticked or unticked in a server's poll: the core counts those in its own.

        discord.py runs each event in a task of its own, and a change of mind arrives as a
        removal and an addition at once: one at a time, in order, so neither is lost.
        """
        async with self._votes:
            await self._poll_vote(payload, added=added)

    async def _poll_vote(self, payload: discord.RawPollVoteActionEvent, *, added: bool) -> None:
        try:
            handle = str(payload.message_id)
            if payload.guild_id is None or not await self.samtal.knows_native_poll(
                PLATFORM, handle
            ):
                return  # a DM, or someone's own poll: not ours to count
            user_id = str(payload.user_id)
            event = PollAnswered(
                f"pv{uuid.uuid4().hex}",  # Discord gives vote events no id of their own
                await self._voter(payload.user_id),
                Chat(PLATFORM, user_id, is_private=True),  # where a refusal is told
                handle=handle,
                options=(payload.answer_id - 1,),  # Discord counts answers from 1
                replace=False,
                added=added,
            )
            await self.samtal.handle(event)
        finally:
            self.handled += 1

    async def _voter(self, user_id: int) -> Sender:
        user = self.get_user(user_id)
        if user is None:
            try:
                user = await self.fetch_user(user_id)
            except discord.HTTPException as exc:
                log.info("Discord: could not look up voter %s: %s", user_id, exc)
                return Sender(PLATFORM, str(user_id), display_name=str(user_id))
        return sender_of(user, None)

    def _remember(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is not None and interaction.channel_id is not None:
            self.gateway.seen_guild(str(interaction.channel_id), interaction.guild_id)
            self.gateway.seen_in_channel(
                str(interaction.user.id), str(interaction.channel_id), interaction.locale.value
            )
