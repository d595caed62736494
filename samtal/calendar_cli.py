"""`samtal calendar --org SLUG --out FILE.ics`: the organisation's meetings as iCalendar.

The organisation's own meetings and those of every organisation below it,
cancelled ones included (STATUS:CANCELLED), so a subscribed calendar drops them.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.clock import Clock
from bot.domain.organisations import Organisation
from bot.meetings.model import Meeting
from bot.render.calendar import calendar_bytes
from bot.render.wheel_calendar import add_events, wheel_components
from samtal.usage import org_by_slug
from storage.database import Database


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    calendar = commands.add_parser(
        "calendar", parents=[common], help="export an organisation's meetings as iCalendar"
    )
    calendar.add_argument("--org", required=True, metavar="SLUG")
    calendar.add_argument("--out", required=True, metavar="FILE.ics")


async def export_calendar(database: Database, clock: Clock, slug: str, out: Path) -> int:
    """Writes the file; returns the exit status (2 for an unknown organisation)."""
    async with database.unit_of_work() as uow:
        org, org_id = await org_by_slug(uow, slug)
        items: list[tuple[Meeting, Organisation]] = []
        for host in await uow.orgs.subtree(org_id):
            assert host.id is not None
            items += [(meeting, host) for meeting in await uow.meetings.of_org(host.id)]
        stamp = clock.now()
        wheel = await wheel_components(uow, org, stamp)  # the annual wheel, once started there
    items.sort(key=lambda item: (item[0].starts_at, item[0].id or 0))
    data = add_events(calendar_bytes(items, stamp, name=org.name), wheel)
    await asyncio.to_thread(out.write_bytes, data)
    print(f"Wrote {len(items)} meetings of {org.name} to {out}")
    return 0
