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

from adapters import redaction
from adapters.discord.app import SamtalClient
from adapters.telegram.app import TelegramAdapter, Webhook
from samtal.clock import SystemClock
from samtal.config import Config
from samtal.replication import ReplicaTimings
from samtal.runtime import Wakeup, build_replica, start_web

log = logging.getLogger(__name__)


def webhook_secret(token: str) -> str:
    """The secret Telegram sends with each webhook POST: derived from the bot's token, so
    that every replica behind one address accepts the same posts (each registers the
    webhook at its start) and nobody without the token can forge one."""
    return hmac.new(token.encode(), b"samtal telegram webhook", hashlib.sha256).hexdigest()


def enabled_platforms(config: Config) -> list[str]:
    return [
        name
        for name, token in (("telegram", config.telegram_token), ("discord", config.discord_token))
        if token
    ]


async def run_platforms(
    config: Config, stop: asyncio.Event | None = None, *, timings: ReplicaTimings | None = None
) -> int:
    """Runs until SIGINT/SIGTERM (or `stop` is set); returns the exit status.

    Several of these may run on one PostgreSQL (see samtal/replication.py).
    """
    redaction.protect([config.telegram_token, config.discord_token])
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
    discord_task: asyncio.Task[None] | None = None
    wakeup = Wakeup(samtal, replica.replication)
    web = None
    status = 0
    try:
        if config.telegram_token:
            webhook = None
            if config.telegram.webhook_url:
                webhook = Webhook(
                    url=config.telegram.webhook_url,
                    secret=webhook_secret(config.telegram_token),
                    listen=config.telegram.webhook_listen,
                    port=config.telegram.webhook_port,
                )
            telegram = TelegramAdapter(
                samtal, config.telegram_token, base_url=config.telegram.base_url, webhook=webhook
            )
            samtal.dispatcher.add_gateway(telegram.gateway)
        if config.discord_token:
            discord_client = SamtalClient(
                samtal,
                api_base=config.discord.api_base,
                gateway_url=config.discord.gateway_url,
            )
            samtal.dispatcher.add_gateway(discord_client.gateway)
        await samtal.start()
        await replica.replication.tick(samtal)  # its heartbeat and budget share, before sending
        if telegram is not None:
            await telegram.start()
        if discord_client is not None:
            discord_task = asyncio.create_task(discord_client.run_with(config.discord_token or ""))
            discord_task.add_done_callback(lambda _: stop.set())
        wakeup.start()
        web = await start_web(config, samtal)
        log.info("samtal: running %s", " and ".join(enabled_platforms(config)))
        await stop.wait()
        if discord_task is not None and discord_task.done() and not discord_task.cancelled():
            error = discord_task.exception()
            if error is not None:
                log.error("Discord stopped: %s", redaction.redact(str(error)))
                status = 1
    finally:
        if web is not None:
            await web.stop()
        await wakeup.stop()
        if telegram is not None:
            with contextlib.suppress(Exception):
                await telegram.stop()
        if discord_client is not None:
            with contextlib.suppress(Exception):
                await discord_client.close()
        if discord_task is not None and not discord_task.done():
            discord_task.cancel()
        await database.dispose()
        for sig in handled:
            loop.remove_signal_handler(sig)
    return status
