"""`samtal run` with both tokens set: Telegram and Discord in one asyncio loop with the
scheduler, each against its local double (Discord through a gateway websocket too)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from adapters import redaction
from bot.i18n import Translator
from samtal.config import Config, DatabaseConfig, DiscordConfig, TelegramConfig
from samtal.platforms import run_platforms
from samtal.startup import Backoff, PlatformStartError
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


def platforms_config(
    tmp_path: Path,
    telegram: TelegramDouble,
    discord_api: DiscordDouble,
    tokens: dict[str, str] | None = None,
) -> Config:
    tokens = tokens or {}
    return Config(
        database=DatabaseConfig(url=sqlite_url(tmp_path / "run.db")),
        telegram=TelegramConfig(base_url=telegram.base_url),
        discord=DiscordConfig(api_base=discord_api.base, gateway_url=discord_api.gateway_url),
        telegram_token=tokens.get("telegram", telegram.token),
        discord_token=tokens.get("discord", discord_api.token),
    )


async def test_a_platform_that_times_out_at_start_is_tried_again_while_the_other_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telegram, discord_api = TelegramDouble(), DiscordDouble()
    await telegram.start()
    await discord_api.start()
    telegram.stalled_get_me = 1000  # Telegram cannot be reached until we say so
    discord_api.stalled_logins = 1  # Discord's first log-in times out too
    stop = asyncio.Event()
    caplog.set_level(logging.INFO)
    running = asyncio.create_task(
        run_platforms(
            platforms_config(tmp_path, telegram, discord_api),
            stop,
            backoff=Backoff(first=0.2, longest=0.4),
            request_timeout=0.3,
        )
    )
    try:
        # Discord comes up at its second attempt, and answers while Telegram is still down.
        await eventually(lambda: bool(discord_api.sockets), "the Discord gateway", 30)
        nora = user_payload(700_000_000_000_000_009, "Nora")
        interaction = discord_api.interaction(2, nora, {"id": "1", "name": "hjalp", "type": 1})
        await discord_api.dispatch("INTERACTION_CREATE", interaction)
        await eventually(lambda: bool(discord_api.posted), "the Discord answer", 30)
        assert not any(method == "getUpdates" for method, _ in telegram.calls)
        assert not running.done()
        # Telegram is reachable again: the next attempt starts it.
        telegram.stalled_get_me = 0
        await eventually(lambda: any(m == "getUpdates" for m, _ in telegram.calls), "polling", 30)
        await telegram.send_text(telegram.user(5001, "Nora"), "/hjalp")
        await eventually(lambda: bool(telegram.sent_to(5001)), "the Telegram answer", 30)
    finally:
        stop.set()
        status = await asyncio.wait_for(running, 30)
        await telegram.stop()
        await discord_api.stop()
        redaction.forget_all()
    assert status == 0
    assert sum(method == "getMe" for method, _ in telegram.calls) >= 2
    assert "Telegram: could not start (attempt 1: Timed out); trying again" in caplog.text
    assert "Discord: could not start (attempt 1" in caplog.text
    assert "Discord: started at attempt 2" in caplog.text


@pytest.mark.parametrize("platform", ["telegram", "discord"])
async def test_a_refused_token_stops_the_start_with_a_clear_message(
    tmp_path: Path, platform: str
) -> None:
    telegram, discord_api = TelegramDouble(), DiscordDouble()
    await telegram.start()
    await discord_api.start()
    wrong = {"telegram": "123:" + "x" * 35} if platform == "telegram" else {"discord": "wrong"}
    try:
        with pytest.raises(PlatformStartError) as refused:
            await asyncio.wait_for(
                run_platforms(platforms_config(tmp_path, telegram, discord_api, wrong)), 30
            )
    finally:
        await telegram.stop()
        await discord_api.stop()
        redaction.forget_all()
    assert refused.value.platform == platform.capitalize()
    assert refused.value.reason == (
        f"the token was refused (401 Unauthorized); check SAMTAL_{platform.upper()}_TOKEN"
    )


@pytest.mark.parametrize(("level", "shown"), [(logging.INFO, False), (logging.DEBUG, True)])
async def test_scheduler_ticks_are_not_in_the_operators_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, level: int, shown: bool
) -> None:
    from bot.bootstrap import build_registry
    from bot.clock import VirtualClock
    from bot.core import Samtal
    from samtal.cli import quiet_libraries
    from samtal.runtime import Wakeup
    from storage.database import Database

    database = Database(sqlite_url(tmp_path / "ticks.db"))
    await database.upgrade()
    samtal = Samtal(
        database.unit_of_work, VirtualClock(datetime(2026, 3, 2, 8, tzinfo=UTC)), build_registry()
    )
    quiet_libraries(level)
    caplog.set_level(level)  # the root logger, as logging.basicConfig sets it
    wakeup = Wakeup(samtal)
    try:
        wakeup.start()
        await eventually(
            lambda: "Running job" in caplog.text or wakeup._delivery is not None, "a run"
        )
        await asyncio.sleep(0.2)
    finally:
        await wakeup.stop()
        await database.dispose()
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)
    ticks = [
        r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno == logging.INFO
    ]
    assert bool(ticks) is shown
