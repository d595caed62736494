"""Retention: each night, what is no longer needed is removed.

- guests (not members) without a role who have not been seen for the configured
  time (default 12 months) are erased everywhere, as if they had asked;
- people who belong to no organisation any more (they left the party or were
  removed) are erased when not seen for the configured time (default 90 days);
- a finished welcome flow keeps its dates (the figures) but loses its answers
  after 90 days; interests stay only where the member agreed to be asked;
- the outbox keeps sent and failed messages for 30 days (they carry chat ids);
- buttons stop working after 180 days, and their server-side records go;
- the record of handled platform events is kept for a week, long enough for
  any redelivery; expired account-linking codes go at once.

Each of these is a step of its own (`STEPS`), run and re-armed independently.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

from bot.context import Effects
from bot.domain.delivery import Timer
from bot.registry import Registry

log = logging.getLogger(__name__)

RUN_AT = time(3, 30)  # local time, when hardly anyone chats
OUTBOX_KEPT = timedelta(days=30)
BUTTONS_KEPT = timedelta(days=180)
EVENTS_KEPT = timedelta(days=7)
WELCOME_DETAILS_KEPT = timedelta(days=90)


async def erase_people(fx: Effects, timer: Timer) -> None:
    now = fx.now
    guests = await fx.uow.people.stale_guests(
        now - timedelta(days=fx.settings.guest_retention_days)
    )
    left = await fx.uow.people.detached(now - timedelta(days=fx.settings.left_retention_days))
    gone = sorted(set(guests) | set(left))
    for person_id in gone:
        await fx.erase_person(person_id)
    _done("people erased", len(gone))


async def scrub_welcome(fx: Effects, timer: Timer) -> None:
    _done(
        "welcome flows scrubbed", await fx.uow.welcome.scrub_finished(fx.now - WELCOME_DETAILS_KEPT)
    )


async def purge_outbox(fx: Effects, timer: Timer) -> None:
    _done("outbox entries", await fx.uow.outbox.purge(fx.now - OUTBOX_KEPT))


async def purge_buttons(fx: Effects, timer: Timer) -> None:
    _done("buttons", await fx.uow.buttons.purge(fx.now - BUTTONS_KEPT))


async def purge_events(fx: Effects, timer: Timer) -> None:
    _done("event records", await fx.uow.events.purge(fx.now - EVENTS_KEPT))


async def purge_link_codes(fx: Effects, timer: Timer) -> None:
    _done("link codes", await fx.uow.people.purge_link_codes(fx.now))


def _done(what: str, count: int) -> None:
    log.info("housekeeping: %s %s", count, what)


# Each step is a daily timer of its own, so it runs in its own transaction: one that fails
# (and is logged) leaves the others' work done, and the core arms every step's next night.
STEPS = (
    ("people", erase_people),
    ("welcome", scrub_welcome),
    ("outbox", purge_outbox),
    ("buttons", purge_buttons),
    ("events", purge_events),
    ("link_codes", purge_link_codes),
)


def setup(registry: Registry) -> None:
    for step, handler in STEPS:
        registry.daily(f"housekeeping:{step}", f"housekeeping.{step}", RUN_AT, handler)
