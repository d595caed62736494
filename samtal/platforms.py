"""`samtal run` with platforms: every adapter whose token is set, in one asyncio loop.

Telegram (python-telegram-bot) and Discord (discord.py) share the loop with
the core and the scheduler that wakes it. Tokens come from the environment
only and are redacted from every log record before anything can log them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import signal
from typing import TYPE_CHECKING

from adapters import redaction
from samtal.clock import SystemClock
from samtal.config import Config
from samtal.health import Probe, discord_probe, email_probe, telegram_probe
from samtal.replication import ReplicaTimings
from samtal.runtime import Operating, Wakeup, build_replica, start_operating
from samtal.startup import DEFAULT_BACKOFF, Backoff, PlatformStartError, start_until_up

if TYPE_CHECKING:  # each platform's library is imported only when it is configured (start-up)
    from adapters.discord.app import SamtalClient
    from adapters.email.gateway import EmailGateway
    from adapters.telegram.app import TelegramAdapter

log = logging.getLogger(__name__)


def webhook_secret(token: str) -> str:
    """The secret Telegram sends with each webhook POST: derived from the bot's token, so
    that every replica behind one address accepts the same posts (each registers the
    webhook at its start) and nobody without the token can forge one."""
    return hmac.new(token.encode(), b"samtal telegram webhook", hashlib.sha256).hexdigest()


def enabled_platforms(config: Config) -> list[str]:
    names = [
        name
        for name, token in (("telegram", config.telegram_token), ("discord", config.discord_token))
        if token
    ]
    return [*names, "email"] if config.email.enabled else names


async def run_platforms(
    config: Config,
    stop: asyncio.Event | None = None,
    *,
    timings: ReplicaTimings | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    request_timeout: float | None = None,
) -> int:
    """Runs until SIGINT/SIGTERM (or `stop` is set); returns the exit status.

    The scheduler and the outbox run from the start; each platform starts in a task of
    its own, tried again with `backoff` while it cannot be reached (samtal/startup.py).
    A platform that can never start (a refused token) raises `PlatformStartError`.
    `request_timeout` shortens the platforms' start-up requests (tests).
    Several of these may run on one PostgreSQL (see samtal/replication.py).
    """
    redaction.protect([config.telegram_token, config.discord_token, config.smtp_password])
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)

    replica = await build_replica(config, SystemClock(), {}, flood_limit=True, timings=timings)
    database, samtal = replica.database, replica.samtal
    telegram: TelegramAdapter | None = None
    discord_client: SamtalClient | None = None
    email_gateway: EmailGateway | None = None
    tasks: dict[str, asyncio.Task[None]] = {}
    wakeup = Wakeup(samtal, replica.replication)
    operating: Operating | None = None
    status = 0
    failure: PlatformStartError | None = None

    def ended(name: str, task: asyncio.Task[None]) -> None:
        nonlocal failure, status
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, PlatformStartError):
            failure = failure or error
        elif error is not None:
            log.error("%s stopped: %s", name, redaction.redact(str(error)))
            status = 1
        if error is not None or name == "Discord":  # Discord's task runs as long as it does
            stop.set()

    try:
        if config.telegram_token:
            from adapters.telegram.app import TelegramAdapter, Webhook

            webhook = None
            if config.telegram.webhook_url:
                webhook = Webhook(
                    url=config.telegram.webhook_url,
                    secret=webhook_secret(config.telegram_token),
                    listen=config.telegram.webhook_listen,
                    port=config.telegram.webhook_port,
                )
            telegram = TelegramAdapter(
                samtal,
                config.telegram_token,
                base_url=config.telegram.base_url,
                webhook=webhook,
                timeout=request_timeout,
            )
            samtal.dispatcher.add_gateway(telegram.gateway)
        if config.discord_token:
            from adapters.discord.app import SamtalClient

            discord_client = SamtalClient(
                samtal,
                api_base=config.discord.api_base,
                gateway_url=config.discord.gateway_url,
            )
            if request_timeout is not None:
                discord_client.login_timeout = request_timeout
            samtal.dispatcher.add_gateway(discord_client.gateway)
        email_pages = None
        if config.email.enabled:
            from samtal.mail import EmailPages, bot_url, build_gateway, signer_for

            signer = signer_for(config)
            email_gateway = build_gateway(config, samtal.uow_factory, samtal.clock, signer)
            samtal.dispatcher.add_gateway(email_gateway)
            email_pages = EmailPages(samtal, signer, bot_url(config))
        await samtal.start()
        await replica.replication.tick(samtal)  # its heartbeat and budget share, before sending
        wakeup.start()
        probes: dict[str, Probe] = {}
        if telegram is not None:
            probes["telegram"] = telegram_probe(telegram)
        if discord_client is not None:
            probes["discord"] = discord_probe(discord_client)
        if email_gateway is not None:
            probes["email"] = email_probe(email_gateway)
        operating = await start_operating(
            config, database, samtal, replica.replication, probes, email_pages
        )
        if telegram is not None:
            tasks["Telegram"] = asyncio.create_task(
                _start_telegram(telegram, stop, backoff), name="telegram start"
            )
        if discord_client is not None:
            tasks["Discord"] = asyncio.create_task(
                _run_discord(discord_client, config.discord_token or "", stop, backoff),
                name="discord",
            )
        for name, task in tasks.items():
            task.add_done_callback(lambda done, name=name: ended(name, done))  # type: ignore[misc]
        log.info("samtal: starting %s", " and ".join(enabled_platforms(config)))
        await stop.wait()
    finally:
        for task in tasks.values():
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if operating is not None:
            await operating.stop()
        await wakeup.stop()
        if telegram is not None:
            with contextlib.suppress(Exception):
                await telegram.stop()
        if discord_client is not None:
            with contextlib.suppress(Exception):
                await discord_client.close()
        if email_gateway is not None:
            await email_gateway.close()
        await database.dispose()
        for sig in handled:
            loop.remove_signal_handler(sig)
    if failure is not None:
        raise failure
    return status


async def _start_telegram(telegram: TelegramAdapter, stop: asyncio.Event, backoff: Backoff) -> None:
    from adapters.telegram.app import start_failure as telegram_failure

    if await start_until_up("Telegram", telegram.start, telegram_failure, stop, backoff):
        log.info("Telegram: running as @%s", telegram.username)


async def _run_discord(
    client: SamtalClient, token: str, stop: asyncio.Event, backoff: Backoff
) -> None:
    """Logs in (again after network errors), then runs the gateway until the client closes."""
    from adapters.discord.app import start_failure as discord_failure

    if await start_until_up(
        "Discord", lambda: client.login_once(token), discord_failure, stop, backoff
    ):
        await client.connect()
