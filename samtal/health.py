"""Is this replica working? What `/healthz` answers and systemd's watchdog is fed from.

Healthy means all of:
- the database answers `SELECT 1` within a few seconds;
- each enabled platform is connected (Discord's gateway) or receiving (Telegram's
  polling with no failed poll in the last minute, or its webhook listening);
- this replica knows who runs the timers (on PostgreSQL the scheduler lock answered
  recently; on SQLite it is this process);
- the oldest message due to be sent has waited less than `[health] outbox_late_seconds`.

`HealthLoop` checks every few seconds; while healthy it tells systemd (`WATCHDOG=1`
on `$NOTIFY_SOCKET`), so `WatchdogSec` restarts a replica that hangs or stays broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from samtal.replication import Replication
from storage import operations
from storage.database import Database

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 3.0  # seconds for `SELECT 1`
POLLING_QUIET = 60.0  # a failed poll this recent means Telegram is not being heard

# A platform's probe: None when it works, else why not (one line).
Probe = Callable[[], str | None]


@dataclass(frozen=True)
class Report:
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        return "ok\n" if self.ok else "".join(f"{problem}\n" for problem in self.problems)


class Health:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        replication: Replication | None = None,
        platforms: Mapping[str, Probe] | None = None,
        outbox_late: float = 300.0,
    ) -> None:
        self.database = database
        self.clock = clock
        self.replication = replication
        self.platforms = dict(platforms or {})
        self.outbox_late = outbox_late

    async def check(self) -> Report:
        problems: list[str] = []
        try:
            await operations.ping(self.database.engine, DATABASE_TIMEOUT)
        except Exception as exc:
            problems.append(f"database: not answering ({_reason(exc)})")
        for name, probe in self.platforms.items():
            trouble = probe()
            if trouble:
                problems.append(f"{name}: {trouble}")
        if self.replication is not None:
            unknown = self.replication.timers_unknown()
            if unknown:
                problems.append(f"timers: this replica {unknown}")
        if not problems or not problems[0].startswith("database"):
            try:
                due = await operations.oldest_due(self.database.engine, self.clock.now())
            except Exception as exc:
                problems.append(f"outbox: can't be read ({_reason(exc)})")
            else:
                waited = (self.clock.now() - due).total_seconds() if due else 0.0
                if waited > self.outbox_late:
                    problems.append(
                        f"outbox: the oldest message due has waited {waited:.0f} s "
                        f"(more than {self.outbox_late:.0f} s)"
                    )
        return Report(tuple(problems))


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def telegram_probe(adapter: Any) -> Probe:
    """For `adapters.telegram.app.TelegramAdapter`."""

    def probe() -> str | None:
        if not adapter.receiving():
            return "not receiving updates (starting, or stopped)"
        failed = adapter.polling_failed
        if failed is not None and time.monotonic() - failed[0] < POLLING_QUIET:
            return f"polling failed {time.monotonic() - failed[0]:.0f} s ago: {failed[1]}"
        return None

    return probe


def email_probe(gateway: Any) -> Probe:
    """For `adapters.email.gateway.EmailGateway`: whether the SMTP server answered last time."""

    def probe() -> str | None:
        if gateway.unreachable is None:
            return None
        since, reason = gateway.unreachable
        return (
            f"the SMTP server could not be reached {time.monotonic() - since:.0f} s ago: {reason}"
        )

    return probe


def discord_probe(client: Any) -> Probe:
    """For `adapters.discord.app.SamtalClient` (a discord.Client)."""

    def probe() -> str | None:
        if client.is_closed():
            return "closed"
        ws = getattr(client, "ws", None)
        if not client.is_ready() or ws is None or not ws.open:
            return "not connected to the gateway"
        return None

    return probe


def sd_notify(state: str) -> bool:
    """Tells systemd `state` (READY=1, WATCHDOG=1, STOPPING=1) when it listens; the
    protocol is one datagram on $NOTIFY_SOCKET (sd_notify(3))."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", state, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half systemd's WatchdogSec when it runs this process with one, else None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.5)
    except ValueError:
        return None


class HealthLoop:
    """Checks every few seconds; logs each change, and feeds the watchdog while healthy."""

    def __init__(self, health: Health, every: float = 10.0) -> None:
        self.health = health
        self.every = min(every, watchdog_interval() or every)
        self.last: Report | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        sd_notify("READY=1")
        self._task = asyncio.create_task(self._loop(), name="health")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)  # the platforms have a moment to connect first
            try:
                report = await self.health.check()
            except Exception:
                log.exception("the health check failed")
            else:
                if self.last is None or report.problems != self.last.problems:
                    if report.ok:
                        log.info("health: ok")
                    else:
                        log.warning("health: %s", "; ".join(report.problems))
                self.last = report
                if report.ok:
                    sd_notify("WATCHDOG=1")

    async def stop(self) -> None:
        sd_notify("STOPPING=1")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
