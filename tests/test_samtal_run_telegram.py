"""`samtal run` as a real process, with Telegram enabled and the Bot API on loopback.

The process runs the real python-telegram-bot against the local double: it
registers its commands, long-polls, and answers /start and /hjalp in a
private chat and in a group, with messages Telegram would accept. Its log, at
DEBUG, never shows the token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.i18n import Translator
from tests.platform_doubles.telegram_api import TelegramDouble

sv = Translator("sv")


async def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_samtal_run_answers_on_telegram(tmp_path: Path, repo_root: Path) -> None:
    double = TelegramDouble()
    await double.start()
    config = tmp_path / "samtal.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "run.db"}"\n'
        f'[bot]\nlog_level = "DEBUG"\n'
        f'[telegram]\nbase_url = "{double.base_url}"\nbot_username = "SamtalTestBot"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {
        **os.environ,
        "SAMTAL_TELEGRAM_TOKEN": double.token,
        "SAMTAL_DATA_DIR": str(tmp_path),
        "SAMTAL_CONFIG": str(config),
    }
    env.pop("SAMTAL_DISCORD_TOKEN", None)
    # The log goes to a file: a pipe nobody reads while the test runs would fill up and block the bot.
    log_path = tmp_path / "run.log"
    log_file = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=repo_root,
        env=env,
        stdout=log_file,
        stderr=log_file,
    )
    try:
        await _wait_for(
            lambda: (
                any(m == "getUpdates" for m, _ in double.calls) or process.returncode is not None
            ),
            "the bot to start polling",
        )
        assert process.returncode is None, "samtal run exited early"
        # The menus are registered once updates come in (adapters/telegram/app.py).
        await _wait_for(
            lambda: {"", "sv", "en"} <= set(double.commands) or process.returncode is not None,
            "the command menus",
        )
        assert {"", "sv", "en"} <= set(double.commands)
        assert {c["command"] for c in double.commands["sv"]} >= {"start", "hjalp"}
        assert {c["command"] for c in double.commands["en"]} >= {"start", "help"}

        nora = double.user(5001, "Nora")
        group = -100_777
        for text, chat_id in (
            ("/start", None),
            ("/hjalp", None),
            ("/start", group),
            ("/hjalp@SamtalTestBot", group),
        ):
            before = len(double.sent)
            await double.send_text(nora, text, chat_id)
            await _wait_for(lambda before=before: len(double.sent) > before, f"an answer to {text}")

        private = double.sent_to(5001)
        assert private[0].visible.startswith(sv("Welcome to Samtal, {name}!").format(name="Nora"))
        assert [b["text"] for b in private[0].buttons()] == [sv("I agree"), sv("No thanks")]
        assert private[1].visible.startswith(sv("What you can do here"))
        # Answers to what she typed in the group are personal: they come privately too, and
        # the group sees nothing.
        assert private[2].visible.startswith(sv("Welcome to Samtal, {name}!").format(name="Nora"))
        assert private[3].visible.startswith(sv("What you can do here"))
        assert double.sent_to(group) == []
        for sent in double.sent:  # valid HTML (the double parsed it) and within the limit
            assert sent.method == "sendMessage"
            assert len(sent.visible) <= 4096
            assert "<b>" in sent.text or "<" not in sent.visible
        assert double.refusals == []
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        log_file.close()
        await double.stop()
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, log[-3000:]
    secret = double.token.partition(":")[2]
    assert secret not in log
    assert "getUpdates" in log or "Telegram" in log  # the log did run at DEBUG


async def test_a_wrong_token_stops_with_a_clear_message(tmp_path: Path, repo_root: Path) -> None:
    double = TelegramDouble()
    await double.start()
    config = tmp_path / "samtal.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "run.db"}"\n'
        f'[telegram]\nbase_url = "{double.base_url}"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    wrong = "111:this-is-not-the-right-token-at-all"
    env = {**os.environ, "SAMTAL_TELEGRAM_TOKEN": wrong, "SAMTAL_CONFIG": str(config)}
    env.pop("SAMTAL_DISCORD_TOKEN", None)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=repo_root,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await double.stop()
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 1, output
    assert "samtal: could not start Telegram" in output
    assert "this-is-not-the-right-token" not in output
    assert "Traceback" not in output
