"""`/metrics`: what this replica did and what waits, in Prometheus' text format.

Counters are this process's since it started (Prometheus handles restarts); gauges
read from the database at each scrape are the same on every replica (the outbox,
dialogs, timers due), so dashboards take `max` of them across replicas.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core import Samtal
from bot.events import ButtonPressed, Event
from samtal.replication import Replication
from storage import operations
from storage.database import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("sent", "deferred", "rate_limited", "retried", "failed", "uncertain", "requeued")


class Metrics:
    def __init__(
        self, samtal: Samtal, database: Database, replication: Replication | None = None
    ) -> None:
        self.samtal = samtal
        self.database = database
        self.replication = replication
        self.registry = CollectorRegistry(auto_describe=True)
        self._figures: operations.Figures | None = None
        self.presses = Histogram(
            "samtal_button_press_seconds",
            "Button presses handled, and how long the core took to answer each",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.registry.register(_Collector(self))
        _instrument(samtal, self.presses)

    async def render(self) -> bytes:
        """Reads the database's figures, then the whole exposition."""
        now = self.samtal.clock.now()
        alive = self.replication.timings.alive if self.replication else 15.0
        self._figures = await operations.figures(
            self.database.engine, now, now - timedelta(seconds=alive)
        )
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        samtal, replication = self.metrics.samtal, self.metrics.replication
        stats = samtal.dispatcher.stats.as_dict()
        outcomes = CounterMetricFamily(
            "samtal_outbox_messages",
            "Outbox entries handled by this replica, by outcome (rate_limited: 429s, "
            "also counted as deferred; uncertain: sent again after an interrupted call)",
            labels=["outcome"],
        )
        for outcome in OUTCOMES:
            outcomes.add_metric([outcome], stats.get(outcome, 0))
        yield outcomes
        limited = CounterMetricFamily(
            "samtal_platform_429",
            "429 Too Many Requests received, by platform",
            labels=["platform"],
        )
        for gateway in samtal.dispatcher.gateways:
            gateway_stats: Any = getattr(gateway, "stats", None)
            limited.add_metric([gateway.platform], getattr(gateway_stats, "rate_limited", 0))
        yield limited
        runs = GaugeMetricFamily(
            "samtal_runs_timers", "1 when this replica runs the timers (holds the scheduler lock)"
        )
        runs.add_metric([], 1.0 if samtal.runs_timers() else 0.0)
        yield runs
        figures = self.metrics._figures
        if figures is None:
            return
        depth = GaugeMetricFamily(
            "samtal_outbox_entries",
            "Outbox entries not yet sent, by platform and status",
            labels=["platform", "status"],
        )
        for (platform, status), count in sorted(figures.outbox.items()):
            depth.add_metric([platform, status], count)
        yield depth
        yield GaugeMetricFamily(
            "samtal_dialogs_in_progress", "Dialogs waiting for someone's answer", figures.dialogs
        )
        shared = replication is not None and replication.shared
        yield GaugeMetricFamily(
            "samtal_replicas_alive",
            "Replicas with a recent heartbeat (1 on SQLite: one process)",
            figures.replicas_alive if shared else 1,
        )
        due = GaugeMetricFamily(
            "samtal_timers_due",
            "Timers due and not yet run, by family (wheel, welcome)",
            labels=["family"],
        )
        for family, count in sorted(figures.timers_due.items()):
            due.add_metric([family], count)
        yield due


def _instrument(samtal: Samtal, presses: Histogram) -> None:
    """Times the core's handling of button presses (the adapters call `samtal.handle`)."""
    handle: Callable[[Event], Awaitable[Any]] = samtal.handle

    async def timed(event: Event) -> Any:
        if not isinstance(event, ButtonPressed):
            return await handle(event)
        started = time.perf_counter()
        try:
            return await handle(event)
        finally:
            presses.observe(time.perf_counter() - started)

    samtal.handle = timed  # type: ignore[method-assign]
