"""Discord's rate limits: the global 50 a second paced for every REST request, and 429s
counted and honoured, with the real discord.py (as the bot builds it) against the double."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.discord.app import SamtalClient
from adapters.discord.limits import RestBudget, retry_after_of
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.messages import OutgoingMessage, Span
from bot.ports import DeliveryError
from storage.database import Database, sqlite_url
from tests.conftest import START
from tests.platform_doubles.discord_api import DiscordDouble
from tests.test_telegram_rate_limits import FakeTime

CHANNEL = "800000000000000001"
OTHER = "800000000000000002"


async def test_the_global_budget_is_fifty_a_second() -> None:
    t = FakeTime()
    budget = RestBudget(clock=t, sleep=t.sleep)
    for _ in range(50):
        await budget.take()
        budget.release()
    await budget.take()
    assert t.slept == [1.0]
    budget.release()
    budget.scale(1 / 2)
    assert (budget.window.limit, budget.window.period) == (25, 1.0)


def test_retry_after_is_read_from_the_answer() -> None:
    assert retry_after_of({"Retry-After": "2.5"}) == 2.5
    assert retry_after_of({"X-RateLimit-Reset-After": "0.75"}) == 0.75
    assert retry_after_of({}) is None


@asynccontextmanager
async def discord_client(tmp_path: Path) -> AsyncIterator[tuple[DiscordDouble, SamtalClient]]:
    """The bot's own client (its HTTP tracing, its max_ratelimit_timeout) against the double;
    no core runs, so no database is opened."""
    double = DiscordDouble()
    await double.start()
    samtal = Samtal(
        Database(sqlite_url(tmp_path / "unused.db")).unit_of_work,
        VirtualClock(START),
        build_registry(),
    )
    client = SamtalClient(samtal, register_commands=False, api_base=double.base)
    try:
        await client.login(double.token)
        yield double, client
    finally:
        await client.close()
        await double.stop()


def hello() -> OutgoingMessage:
    return OutgoingMessage((Span("Hej!"),))


async def test_every_request_passes_the_global_budget(tmp_path: Path) -> None:
    async with discord_client(tmp_path) as (double, client):
        budget = client.gateway.limiter
        assert budget is not None
        before = budget.window.held(budget.clock())  # the log-in's requests
        for _ in range(3):
            await client.gateway.send(CHANNEL, hello(), direct=False)
        assert budget.window.held(budget.clock()) == before + 3
        assert budget.window.in_flight == 0
        assert client.gateway.stats.sent == 3 and len(double.posted) == 3


async def test_a_short_429_is_waited_out_by_discord_py_and_counted(tmp_path: Path) -> None:
    async with discord_client(tmp_path) as (double, client):
        double.too_many.append((0.3, False))
        started = time.monotonic()
        await client.gateway.send(CHANNEL, hello(), direct=False)
        assert time.monotonic() - started >= 0.3  # never retried sooner
        assert [r[1] for r in double.refusals] == [429] and len(double.posted) == 1
        assert client.gateway.stats.rate_limited == 1


async def test_a_global_429_holds_every_request(tmp_path: Path) -> None:
    async with discord_client(tmp_path) as (double, client):
        double.too_many.append((0.3, True))
        started = time.monotonic()
        await client.gateway.send(CHANNEL, hello(), direct=False)
        await client.gateway.send(OTHER, hello(), direct=False)
        assert time.monotonic() - started >= 0.3
        assert client.gateway.stats.rate_limited == 1 and len(double.posted) == 2


async def test_a_long_429_goes_back_to_the_dispatcher_with_its_retry_after(
    tmp_path: Path,
) -> None:
    async with discord_client(tmp_path) as (double, client):
        double.too_many.append((45.0, False))
        with pytest.raises(DeliveryError) as limited:
            await client.gateway.send(CHANNEL, hello(), direct=False)
        assert limited.value.rate_limited and limited.value.deferred
        assert limited.value.retry_after == 45.0  # Discord's, not a guess
        assert len(double.refusals) == 1  # discord.py did not retry it either
        # That chat is left alone until then; others go on.
        with pytest.raises(DeliveryError) as paused:
            await client.gateway.send(CHANNEL, hello(), direct=False)
        assert paused.value.deferred and 44 < (paused.value.retry_after or 0) <= 45
        assert len(double.refusals) == 1
        await client.gateway.send(OTHER, hello(), direct=False)
        assert len(double.posted) == 1
        stats = client.gateway.stats
        assert (stats.sent, stats.deferred, stats.rate_limited) == (1, 2, 1)
