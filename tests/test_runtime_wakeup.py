"""The runtime's wake-ups (samtal/runtime.py): every handled update wakes the core. A wake-up
during a run makes that run go round once more: none is lost, however late in the run it
comes, none is logged, and a burst of them costs one more round, not one each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from samtal.runtime import Wakeup
from tests.platform_drivers import eventually


class Dispatcher:
    def __init__(self) -> None:
        self.deliveries = 0

    async def deliver_due(self) -> None:
        self.deliveries += 1

    def halt(self) -> None:
        pass

    async def idle(self) -> None:
        pass


class Core:
    """What Wakeup uses of Samtal; `next_due` (the end of a run, past the delivery's start)
    waits at `gate` while it is closed."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher()
        self.timer_runs = 0
        self.plans = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.work: list[Callable[[], None]] = []

    def runs_timers(self) -> bool:
        return True

    def on_work(self, callback: Callable[[], None]) -> None:
        self.work.append(callback)

    async def run_timers(self) -> None:
        self.timer_runs += 1

    async def next_due(self, *, timers: bool = True, outbox: bool = True) -> datetime | None:
        if timers:
            self.plans += 1
            await self.gate.wait()
        return None

    async def idle(self) -> None:
        pass


async def test_a_wake_up_during_a_run_is_not_lost_and_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = Core()
    wakeup = Wakeup(core)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO)
    wakeup.start()
    try:
        await eventually(lambda: core.timer_runs == 1 and core.plans == 1, "the first run")
        await eventually(lambda: core.dispatcher.deliveries >= 1, "the first delivery")
        core.gate.clear()
        wakeup.wake()  # a run that is stuck past its delivery, at the plan
        await eventually(lambda: core.plans == 2, "the second run at its plan")
        await asyncio.sleep(0.05)
        delivered = core.dispatcher.deliveries
        for _ in range(50):  # fifty updates handled meanwhile
            for callback in core.work:
                callback()
        # Their replies go out at once, not after the run under way.
        await eventually(lambda: core.dispatcher.deliveries > delivered, "their delivery")
        await asyncio.sleep(0.05)
        assert core.timer_runs == 2  # the timers wait until the run under way ends
        core.gate.set()
        await eventually(lambda: core.timer_runs == 3, "one more round for all fifty")
        await asyncio.sleep(0.1)
        assert core.timer_runs == 3 and core.plans == 3
        assert core.dispatcher.deliveries <= delivered + 4  # a few passes, not fifty
    finally:
        await wakeup.stop()
    logged: list[Any] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged == []


async def test_stop_waits_for_the_run_under_way() -> None:
    core = Core()
    wakeup = Wakeup(core)  # type: ignore[arg-type]
    wakeup.start()
    await eventually(lambda: core.plans == 1, "the first run")
    core.gate.clear()
    wakeup.wake()
    await eventually(lambda: core.plans == 2, "a run at its plan")
    stopping = asyncio.create_task(wakeup.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # the run is awaited, not cancelled
    core.gate.set()
    await stopping
    wakeup.wake()  # stopped: no more runs
    await asyncio.sleep(0.05)
    assert core.timer_runs == 2
