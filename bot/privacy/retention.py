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
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

from bot.context import Effects
from bot.domain.delivery import Timer
from bot.registry import Registry, always

log = logging.getLogger(__name__)

KIND = "housekeeping.nightly"
RUN_AT = time(3, 30)  # local time, when hardly anyone chats
OUTBOX_KEPT = timedelta(days=30)
BUTTONS_KEPT = timedelta(days=180)
EVENTS_KEPT = timedelta(days=7)
WELCOME_DETAILS_KEPT = timedelta(days=90)


def setup(registry: Registry) -> None:
    registry.timer(KIND, run_nightly, useful_until=always)
    registry.startup(arm)


async def arm(fx: Effects) -> None:
    await fx.schedule_daily("housekeeping", KIND, RUN_AT)


async def run_nightly(fx: Effects, timer: Timer) -> None:
    now = fx.now
    guests = await fx.uow.people.stale_guests(
        now - timedelta(days=fx.settings.guest_retention_days)
    )
    left = await fx.uow.people.detached(now - timedelta(days=fx.settings.left_retention_days))
    gone = sorted(set(guests) | set(left))
    for person_id in gone:
        await fx.uow.people.erase(person_id)
    counts = {
        "people erased": len(gone),
        "welcome flows scrubbed": await fx.uow.welcome.scrub_finished(now - WELCOME_DETAILS_KEPT),
        "outbox entries": await fx.uow.outbox.purge(now - OUTBOX_KEPT),
        "buttons": await fx.uow.buttons.purge(now - BUTTONS_KEPT),
        "event records": await fx.uow.events.purge(now - EVENTS_KEPT),
        "link codes": await fx.uow.people.purge_link_codes(now),
    }
    log.info("housekeeping: %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
    await arm(fx)
