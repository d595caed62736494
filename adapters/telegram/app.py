"""Start-up of the Telegram platform: python-telegram-bot on the bot's own asyncio loop.

Long polling by default. In webhook mode the bot's aiohttp web server takes
Telegram's POSTs and refuses any without the secret-token header that was
registered with setWebhook.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Bot, BotCommand, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from adapters import redaction
from adapters.telegram.gateway import RateLimiter, TelegramGateway
from adapters.telegram.request import AiohttpRequest
from adapters.telegram.translate import event_from_update, toast_text
from bot.core import Samtal
from bot.i18n import LANGUAGES, Translator
from bot.registry import Registry

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# poll_answer: votes in the bot's native polls (see adapters/telegram/polls.py).
ALLOWED_UPDATES = ["message", "callback_query", "poll_answer"]
# Updates handled at once: one person's in the order they came, different people's side by
# side (a press waits for its answer to Telegram; one at a time, that capped a process at
# a few dozen updates a second).
CONCURRENT_UPDATES = 64
# In webhook mode a button press is answered in the webhook's own HTTP response (the Bot API
# lets that response carry one method call): no request of our own, about a third of an
# update's CPU outside the core. Past this wait the response goes without it and the answer
# is sent as a request, as in polling mode.
ANSWER_IN_RESPONSE_SECONDS = 5.0
# Telegram's concurrent webhook posts (1-100, its default 40). A press's post is held while
# it is handled, so more of them may be open at once.
WEBHOOK_CONNECTIONS = 100


class InOrderPerSender(BaseUpdateProcessor):
    """Handles updates concurrently, but each sender's one after another, in arrival order
    (their dialog's answers, a press after the message it answers)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[object, tuple[asyncio.Lock, list[int]]] = {}  # lock, users

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _sender(update)
        turn, users = self._turns.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with turn:
                await coroutine
        finally:
            users[0] -= 1
            if not users[0]:  # nobody holds it or waits for it
                del self._turns[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _sender(update: object) -> object:
    if isinstance(update, Update):
        user = update.effective_user
        if user is not None:
            return user.id
        chat = update.effective_chat
        if chat is not None:
            return ("chat", chat.id)
    return None


def bot_request(timeout: float | None = None) -> AiohttpRequest:
    """The bot's requests (all but getUpdates): on aiohttp (adapters/telegram/request.py),
    with python-telegram-bot's defaults, or `timeout` to connect and to read."""
    if timeout is None:
        return AiohttpRequest()
    return AiohttpRequest(connect_timeout=timeout, read_timeout=timeout)


@dataclass(frozen=True)
class Webhook:
    url: str  # the public HTTPS address Telegram posts to
    secret: str  # sent back by Telegram in SECRET_HEADER
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram"


def command_lists(registry: Registry) -> dict[str, list[BotCommand]]:
    """Each language's command menu: the names in that language, the summaries translated."""
    menus: dict[str, list[BotCommand]] = {}
    for language in LANGUAGES:
        t = Translator(language)
        menus[language] = [
            BotCommand(spec.english if language == "en" else spec.swedish, t(spec.summary)[:256])
            for spec in registry.commands
        ]
    return menus


async def fetch_username(token: str, base_url: str) -> str:
    """The bot's @username, as Telegram's getMe tells it (for join links)."""
    bot = Bot(token, base_url=base_url)
    async with bot:
        return str(bot.username)


def start_failure(exc: BaseException) -> str | None:
    """Why Telegram cannot start, or None when trying again may help (samtal/startup.py)."""
    if isinstance(exc, InvalidToken):
        return "the token was refused (401 Unauthorized); check SAMTAL_TELEGRAM_TOKEN"
    if isinstance(exc, BadRequest):
        return f"Telegram refused a request: {exc.message}"
    if isinstance(exc, NetworkError | RetryAfter | OSError | TimeoutError):
        return None  # timed out, unreachable, or Telegram asked us to wait
    return f"{type(exc).__name__}: {exc}"


class TelegramAdapter:
    def __init__(
        self,
        samtal: Samtal,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        webhook: Webhook | None = None,
        poll_timeout: float = 10.0,
        limiter: RateLimiter | None = None,
        timeout: float | None = None,
    ) -> None:
        """`timeout`: seconds for each ordinary request (python-telegram-bot's default: 5)."""
        redaction.protect([token])
        self.samtal = samtal
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        base_file_url = base_url.removesuffix("/bot") + "/file/bot"
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            .request(bot_request(timeout))
            .get_updates_request(
                AiohttpRequest(connection_pool_size=1, read_timeout=poll_timeout + 5)
            )
            .concurrent_updates(InOrderPerSender(CONCURRENT_UPDATES))
        )
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.gateway = TelegramGateway(self.application.bot, limiter)
        self.handled = 0  # updates handed to the core so far (tests wait on it)
        self._site: web.AppRunner | None = None
        # Webhook posts waiting to carry their press's answer, by callback query id.
        self._answers: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        # The last failed getUpdates (time.monotonic(), what went wrong), for /healthz.
        self.polling_failed: tuple[float, str] | None = None

    @property
    def username(self) -> str:
        return str(self.application.bot.username)

    async def start(self) -> None:
        """Connects and starts receiving updates; after a failure, calling it again
        goes on from where it stopped (samtal/startup.py tries again)."""
        await self.application.initialize()  # getMe: the bot's username comes from here
        self.gateway.private_chat_url = f"https://t.me/{self.username}"
        if not self.application.running:
            await self.application.start()
        if self.webhook is None:
            assert self.application.updater is not None
            if not self.application.updater.running:
                await self.application.updater.start_polling(
                    timeout=int(self.poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=self._polling_error,
                )
        elif self._site is None:
            await self._start_webhook(self.webhook)
        # The menus once updates come in: three requests the first answer need not wait for.
        await self.register_commands()
        log.info("Telegram: running as @%s", self.username)

    async def stop(self) -> None:
        if self._site is not None:
            await self._site.cleanup()
            self._site = None
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def register_commands(self) -> None:
        bot = self.application.bot
        menus = command_lists(self.samtal.registry)
        await bot.set_my_commands(menus["sv"])  # everyone without a language of their own
        for language, commands in menus.items():
            await bot.set_my_commands(commands, language_code=language)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        # The webhook post waiting to answer this press, if any: it is told in every case,
        # so it never waits for an update that fails or is not the bot's.
        waiting = self._answers.pop(query.id, None) if query is not None else None
        try:
            event = event_from_update(update)
            if event is None:
                return
            try:
                outcome = await self.samtal.handle(event)
            finally:
                self.handled += 1
            if query is None:
                return
            text = toast_text(outcome.toast) if outcome.toast else None
            if waiting is not None and not waiting.done():
                answer: dict[str, Any] = {
                    "method": "answerCallbackQuery",
                    "callback_query_id": query.id,
                }
                if text:
                    answer["text"] = text
                waiting.set_result(answer)
                return
            try:
                await query.answer(text)
            except TelegramError as exc:  # an old query can no longer be answered
                log.info("Telegram: could not answer a button press: %s", exc.message)
        finally:
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

    def receiving(self) -> bool:
        """Whether updates are coming in: polling, or the webhook listening."""
        if self.webhook is not None:
            return self._site is not None
        updater = self.application.updater
        return updater is not None and updater.running

    def _polling_error(self, error: TelegramError) -> None:
        # python-telegram-bot tries again by itself (waiting longer each time, up to 30 s).
        self.polling_failed = (time.monotonic(), redaction.redact(str(error)))
        log.warning("Telegram: polling for updates failed: %s", self.polling_failed[1])

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram: an update failed", exc_info=context.error)

    async def _start_webhook(self, webhook: Webhook) -> None:
        app = web.Application()
        app.router.add_post(webhook.path, self._webhook_post)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, webhook.listen, webhook.port).start()
            await self.application.bot.set_webhook(
                webhook.url,
                secret_token=webhook.secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=WEBHOOK_CONNECTIONS,
            )
        except BaseException:
            await runner.cleanup()  # the next attempt listens afresh
            raise
        self._site = runner

    async def _webhook_post(self, request: web.Request) -> web.Response:
        assert self.webhook is not None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.webhook.secret.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.text())
            update = Update.de_json(data, self.application.bot)
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="not an update")
        query = update.callback_query
        if query is None:
            await self.application.update_queue.put(update)
            return web.Response(text="ok")
        waiting = asyncio.get_running_loop().create_future()
        self._answers[query.id] = waiting
        await self.application.update_queue.put(update)
        try:
            # Cancelled on a timeout (or a dropped post): the press is then answered by a
            # request of its own (see _on_update).
            answer = await asyncio.wait_for(waiting, ANSWER_IN_RESPONSE_SECONDS)
        except TimeoutError:
            answer = None
        finally:
            self._answers.pop(query.id, None)
        if answer is None:
            return web.Response(text="ok")
        return web.json_response(answer)
