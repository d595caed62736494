"""`samtal invite` with the platforms' tokens set: the Telegram links use the username
Telegram gives (getMe), and Discord gets the link that adds the bot to a server, with the
permissions README lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import redaction
from adapters.discord.invite import PERMISSIONS, authorize_url, permissions
from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from samtal.cli import _invite
from samtal.config import Config, DatabaseConfig, DiscordConfig, TelegramConfig
from storage.database import Database, sqlite_url
from tests.platform_doubles.discord_api import APP_ID, DiscordDouble
from tests.platform_doubles.telegram_api import TelegramDouble

ROOT = Path(__file__).resolve().parent.parent


async def test_invite_asks_the_platforms(
    tmp_path: Path, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "invite.db")
    database = Database(url)
    await database.upgrade()
    await seed_demo(database.unit_of_work, clock)
    await database.dispose()
    telegram, discord_api = TelegramDouble(), DiscordDouble()
    await telegram.start()
    await discord_api.start()
    config = Config(
        database=DatabaseConfig(url=url),
        telegram=TelegramConfig(base_url=telegram.base_url),  # no bot_username configured
        discord=DiscordConfig(api_base=discord_api.base, invite_url="https://discord.gg/abc"),
        telegram_token=telegram.token,
        discord_token=discord_api.token,
    )
    try:
        assert await _invite(config, "sandviken") == 0
    finally:
        await telegram.stop()
        await discord_api.stop()
        redaction.forget_all()
    printed = capsys.readouterr().out
    assert "https://t.me/SamtalTestBot?start=join_sandviken" in printed
    assert "Discord server: https://discord.gg/abc" in printed
    assert authorize_url(APP_ID) in printed
    assert "/kanal sandviken" in printed


def test_the_readme_lists_the_permissions_the_invite_asks_for() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"permissions={permissions().value}" in readme
    for name, _ in PERMISSIONS:
        title = name.replace("_", " ").title().replace("In ", "in ")
        assert re.search(rf"\*\*{re.escape(title)}\*\*", readme, re.IGNORECASE), title
