"""Email, put together: the gateway from `[email]`, and the web pages behind its links.

`samtal run` adds the gateway (platform "email", adapters/email) when `[email] host`
is set; the web server (samtal/web.py) then serves:

- `/email/unsubscribe/<token>`: GET asks, POST stops all email to that address
  (RFC 8058 one-click: a mail program's POST with `List-Unsubscribe=One-Click`
  acts at once); POST with `?resume=1` undoes it;
- `/email/press/<token>`: GET asks, POST presses the button as its owner, through
  the core like a button in a chat (`ButtonPressed` on platform "email"); only
  the actions in `adapters.email.render.WEB_ACTIONS` are offered.

Links are signed with `SAMTAL_EMAIL_SECRET` (adapters/email/links.py); without
it each process makes a random one, so links in emails sent before a restart stop
working (fine to try it out, not for real use).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from adapters.email import pages
from adapters.email.gateway import EmailGateway, SmtpSettings
from adapters.email.links import Press, Signer, Unsubscribe
from adapters.email.render import WEB_ACTIONS, Links, Recipient, Sender
from bot.clock import Clock
from bot.context import Effects
from bot.domain.channels import EMAIL, ChannelChoice
from bot.events import ButtonPressed, Chat
from bot.events import Sender as EventSender
from bot.i18n import Translator
from bot.ports import UnitOfWorkFactory
from samtal.config import Config

if TYPE_CHECKING:
    from bot.core import Samtal

log = logging.getLogger(__name__)


def web_base(config: Config) -> str:
    return config.web.public_url or f"http://{config.web.host}:{config.web.port}"


def bot_url(config: Config) -> str:
    """Where an email's reader finds the bot in a chat app: Telegram, else Discord."""
    if config.telegram.bot_username:
        return f"https://t.me/{config.telegram.bot_username}"
    return config.discord.invite_url


def signer_for(config: Config) -> Signer:
    if not config.email_secret:
        log.warning(
            "SAMTAL_EMAIL_SECRET is not set: the links in emails work only until this process stops"
        )
    return Signer(config.email_secret or secrets.token_hex(32))


class EmailLookup:
    """What the gateway needs to know of an address: whose it is, their language, and
    what the message's buttons do (to tell the one-press ones from the rest)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    async def __call__(self, address: str, tokens: Sequence[str]) -> Recipient:
        async with self.uow_factory() as uow:
            person = await uow.people.by_identity(EMAIL, address)
            language = "sv"
            if person is not None:
                language = (await Effects(uow, self.clock).translator_for(person)).language
            actions = {}
            for token in tokens:
                action = await uow.buttons.get(token)
                if action is not None:
                    actions[token] = action.name
        return Recipient(address, person.id if person is not None else None, language, actions)


def build_gateway(
    config: Config, uow_factory: UnitOfWorkFactory, clock: Clock, signer: Signer
) -> EmailGateway:
    email = config.email
    return EmailGateway(
        SmtpSettings(
            email.host,
            email.port,
            email.security,
            email.username,
            config.smtp_password,
            float(email.timeout_seconds),
        ),
        Sender(email.from_address, email.from_name),
        Links(web_base(config), signer, bot_url(config)),
        EmailLookup(uow_factory, clock),
        per_minute=email.per_minute,
    )


class EmailPages:
    """The routes behind an email's links (the module's note)."""

    def __init__(self, samtal: Samtal, signer: Signer, bot_url: str = "") -> None:
        self.samtal = samtal
        self.signer = signer
        self.bot_url = bot_url

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/email/unsubscribe/{token}", self.unsubscribe)
        app.router.add_post("/email/unsubscribe/{token}", self.unsubscribe)
        app.router.add_get("/email/press/{token}", self.press)
        app.router.add_post("/email/press/{token}", self.press)

    async def _owner(self, address: str) -> tuple[int, Translator] | None:
        async with self.samtal.uow_factory() as uow:
            person = await uow.people.by_identity(EMAIL, address)
            if person is None or person.id is None:
                return None
            return person.id, await Effects(uow, self.samtal.clock).translator_for(person)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        link = self.signer.read(request.match_info["token"])
        owner = await self._owner(link.address) if isinstance(link, Unsubscribe) else None
        if not isinstance(link, Unsubscribe) or owner is None or owner[0] != link.person_id:
            return _html(pages.broken(Translator("sv")), status=404)
        person_id, t = owner
        if request.method == "GET":
            return _html(pages.unsubscribe_question(t, link.address))
        resume = request.query.get("resume") == "1"
        async with self.samtal.uow_factory() as uow:
            choice = await uow.channels.choice(person_id) or ChannelChoice(person_id)
            choice.email_stopped_at = None if resume else self.samtal.clock.now()
            choice.updated_at = self.samtal.clock.now()
            await uow.channels.save(choice)
            await uow.commit()
        log.info("email %s by its owner's link", "resumed" if resume else "stopped")
        if resume:
            return _html(pages.resumed(t, link.address))
        return _html(pages.unsubscribed(t, link.address))

    async def press(self, request: web.Request) -> web.Response:
        link = self.signer.read(request.match_info["token"])
        owner = await self._owner(link.address) if isinstance(link, Press) else None
        if not isinstance(link, Press) or owner is None:
            return _html(pages.broken(Translator("sv")), status=404)
        person_id, t = owner
        async with self.samtal.uow_factory() as uow:
            action = await uow.buttons.get(link.button)
            person = await uow.people.get(person_id)
        if action is None or person is None or action.person_id not in (None, person_id):
            return _html(pages.broken(t), status=404)
        if action.name not in WEB_ACTIONS:
            return _html(pages.in_chat(t, self.bot_url))
        if request.method == "GET":
            return _html(pages.press_question(t, link.label))
        outcome = await self.samtal.handle(
            ButtonPressed(
                event_id=f"email:{secrets.token_hex(12)}",
                sender=EventSender(EMAIL, link.address, person.display_name),
                chat=Chat(EMAIL, link.address, is_private=True),
                token=link.button,
            )
        )
        return _html(pages.pressed(t, outcome.toast))


def _html(text: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
