"""Operating Samtal: /healthz and /metrics on a running `samtal run`, the JSON log, the
nightly backups' rotation, and the database's side of restore and upgrade --check."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from adapters import redaction
from bot.clock import VirtualClock
from bot.messages import message
from bot.outbox import enqueue
from samtal.backups import NightlyBackups, backups_in
from samtal.config import BackupConfig, Config, DatabaseConfig, TelegramConfig, WebConfig
from samtal.health import Health
from samtal.logs import JsonFormatter
from samtal.metrics import Metrics
from samtal.platforms import run_platforms
from storage.database import Database, sqlite_url
from tests.conftest import Console
from tests.platform_doubles.telegram_api import TelegramDouble
from tests.platform_drivers import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthz_turns_503_with_the_reason_when_the_platform_goes_away(
    tmp_path: Path,
) -> None:
    telegram = TelegramDouble()
    await telegram.start()
    port = free_port()
    config = Config(
        database=DatabaseConfig(url=sqlite_url(tmp_path / "run.db")),
        telegram=TelegramConfig(base_url=telegram.base_url),
        web=WebConfig(port=port),  # on by default
        backup=BackupConfig(dir=str(tmp_path / "backups")),
        telegram_token=telegram.token,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_platforms(config, stop))
    base = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, str]] = []

    async def healthz() -> None:
        answers.append(await get(f"{base}/healthz"))

    try:
        await eventually(lambda: any(m == "getUpdates" for m, _ in telegram.calls), "polling", 30)
        await healthz()
        assert answers[-1] == (200, "ok\n")
        status, text = await get(f"{base}/metrics")
        assert status == 200
        assert "samtal_outbox_messages_total" in text and "samtal_runs_timers 1.0" in text
        # The night's backup was taken at start, by the replica that runs the timers.
        await eventually(lambda: len(backups_in(tmp_path / "backups")) == 1, "the backup", 30)

        await telegram.stop()  # Telegram can't be reached any more

        async def unhealthy() -> bool:
            await healthz()
            return answers[-1][0] == 503

        deadline = asyncio.get_running_loop().time() + 30
        while not await unhealthy():
            assert asyncio.get_running_loop().time() < deadline, answers[-1]
            await asyncio.sleep(0.2)
        assert answers[-1][1].startswith("telegram: polling failed"), answers[-1]
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        redaction.forget_all()


async def test_healthz_names_a_database_that_does_not_answer(console: Console) -> None:
    health = Health(console.database, console.clock)
    assert (await health.check()).ok
    gone = Database("postgresql+asyncpg://samtal@127.0.0.1:1/nowhere")  # nothing listens there
    try:
        report = await Health(gone, console.clock).check()
    finally:
        await gone.dispose()
    assert not report.ok
    assert report.problems[0].startswith("database: not answering")
    assert len(report.problems) == 1  # the outbox is not asked when the database is gone


async def test_healthz_names_an_outbox_that_waits_too_long(console: Console) -> None:
    await console.run("@anna: /hjalp")  # an answer queued and sent
    await console.run("@clock: +1h")
    health = Health(console.database, console.clock, outbox_late=300)
    assert (await health.check()).ok
    # A message due an hour ago for a platform this process doesn't send to: it waits.
    async with console.database.unit_of_work() as uow:
        await enqueue(
            uow,
            key="stuck:1",
            platform="nowhere",
            chat_id="1",
            direct=True,
            message=message("stuck"),
            now=console.clock.now() - timedelta(hours=1),
        )
        await uow.commit()
    report = await health.check()
    assert report.problems and report.problems[0].startswith(
        "outbox: the oldest message due has waited 3600 s"
    ), report


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_the_metrics_move_when_an_announcement_goes_out(console: Console) -> None:
    metrics = Metrics(console.samtal, console.database)
    before = (await metrics.render()).decode()
    await console.run(
        """
@bertil: /utskick
@bertil: [Medlemmar]
@bertil: Välkommen på medlemsmöte torsdag!
@bertil: [Skicka]
@clock: +1m
"""
    )
    after = (await metrics.render()).decode()
    sent = 'samtal_outbox_messages_total{outcome="sent"}'
    assert metric(after, sent) > metric(before, sent) + 5  # every member's copy
    presses = "samtal_button_press_seconds_count"
    assert metric(after, presses) == metric(before, presses) + 2  # [Medlemmar], [Skicka]
    assert "samtal_dialogs_in_progress" in after
    assert 'samtal_timers_due{family="wheel"}' in after
    assert 'samtal_timers_due{family="welcome"}' in after
    assert "samtal_replicas_alive 1.0" in after


def test_the_json_log_is_one_object_a_line() -> None:
    record = logging.LogRecord("samtal", logging.WARNING, __file__, 1, "a %s\nb", ("x",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": ""} == {
        "time": "",
        "level": "WARNING",
        "logger": "samtal",
        "message": "a x\nb",
    }


async def test_nightly_backups_are_taken_once_a_night_and_rotated(
    console: Console, tmp_path: Path
) -> None:
    zone = ZoneInfo("Europe/Stockholm")
    clock = VirtualClock(datetime(2026, 3, 2, 1, 0, tzinfo=zone).astimezone(UTC))
    runs_timers = True
    backups = NightlyBackups(
        console.database,
        clock,
        lambda: runs_timers,
        tmp_path / "backups",
        keep=3,
        at=time(3, 30),
        zone=zone,
    )
    assert backups.due()  # none yet: last night's is missing
    await backups.take()
    assert not backups.due()  # until 03:30
    for night in range(5):
        clock.advance(timedelta(days=1) if night else timedelta(hours=3))
        assert backups.due()
        runs_timers = False
        assert not backups.due()  # another replica runs the timers: it takes them
        runs_timers = True
        await backups.take()
        assert not backups.due()
    kept = backups_in(tmp_path / "backups")
    assert [path.name[7:15] for path in kept] == ["20260304", "20260305", "20260306"]
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_sd_notify_sends_one_datagram_to_the_notify_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samtal.health import sd_notify, watchdog_interval

    assert not sd_notify("READY=1")  # not under systemd: nothing to tell
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert sd_notify("WATCHDOG=1")
        assert listener.recv(64) == b"WATCHDOG=1"
    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 60.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None
