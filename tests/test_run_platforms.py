"""`samtal run` with both tokens set: Telegram and Discord in one asyncio loop with the
scheduler, each against its local double (Discord through a gateway websocket too)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord
import pytest

from adapters import redaction
from bot.i18n import Translator
from samtal.config import Config, DatabaseConfig, DiscordConfig, TelegramConfig
from samtal.platforms import run_platforms
from storage.database import sqlite_url
from tests.platform_doubles.discord_api import DiscordDouble, user_payload
from tests.platform_doubles.telegram_api import TelegramDouble
from tests.platform_drivers import eventually

sv = Translator("sv")


async def test_both_platforms_run_in_one_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    telegram, discord_api = TelegramDouble(), DiscordDouble()
    await telegram.start()
    await discord_api.start()
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    config = Config(
        database=DatabaseConfig(url=sqlite_url(tmp_path / "run.db")),
        telegram=TelegramConfig(base_url=telegram.base_url),
        discord=DiscordConfig(api_base=discord_api.base, gateway_url=discord_api.gateway_url),
        telegram_token=telegram.token,
        discord_token=discord_api.token,
    )
    stop = asyncio.Event()
    caplog.set_level(logging.DEBUG)
    running = asyncio.create_task(run_platforms(config, stop))
    try:
        await eventually(lambda: any(m == "getUpdates" for m, _ in telegram.calls), "polling", 30)
        await eventually(lambda: bool(discord_api.sockets), "the Discord gateway", 30)
        assert discord_api.commands  # slash commands registered at log-in

        await telegram.send_text(telegram.user(5001, "Nora"), "/hjalp")
        nora = user_payload(700_000_000_000_000_009, "Nora")
        interaction = discord_api.interaction(2, nora, {"id": "1", "name": "hjalp", "type": 1})
        await discord_api.dispatch("INTERACTION_CREATE", interaction)

        await eventually(lambda: bool(telegram.sent_to(5001)), "the Telegram answer", 30)
        await eventually(lambda: bool(discord_api.posted), "the Discord answer", 30)
        assert telegram.sent_to(5001)[0].visible.startswith(sv("What you can do here"))
        assert discord_api.callbacks[0]["type"] == 4  # answered in the response itself
        assert discord_api.posted[0].via == "response"
        assert discord_api.posted[0].text.startswith(sv("What you can do here"))
    finally:
        stop.set()
        status = await asyncio.wait_for(running, 30)
        await telegram.stop()
        await discord_api.stop()
        redaction.forget_all()
    assert status == 0
    # The configured endpoints were the client's while it ran, and are put back after.
    assert (base, gateway) == (
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    for token in (telegram.token.partition(":")[2], discord_api.token):
        assert token not in caplog.text
