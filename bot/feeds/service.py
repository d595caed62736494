"""A member's own calendar: the meetings they may see, members-only ones included."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Effects
from bot.domain.organisations import Organisation
from bot.domain.people import Person
from bot.feeds.model import CalendarFeed, fingerprint, new_token, well_formed
from bot.meetings.model import Meeting
from bot.meetings.service import may_see
from bot.render.calendar import calendar_bytes
from bot.render.wheel_calendar import add_events, wheel_components

FEED_NAME = "Samtal"
# Meetings that ended longer ago than this are left out: a feed is for what is coming.
HISTORY = timedelta(days=90)


async def issue(fx: Effects, person: Person) -> str:
    """A new secret token for the person's feed; the one they had stops working."""
    assert person.id is not None
    token = new_token()
    await fx.uow.feeds.replace(CalendarFeed(person.id, fingerprint(token), fx.now))
    return token


async def person_for(fx: Effects, token: str) -> Person | None:
    """Whose feed a presented token opens, if any."""
    if not well_formed(token):
        return None
    feed = await fx.uow.feeds.by_fingerprint(fingerprint(token))
    return await fx.uow.people.get(feed.person_id) if feed is not None else None


async def personal_calendar(fx: Effects, person: Person) -> bytes:
    """The meetings of the person's organisations and those above (as /moten lists them in
    private) that this person may see at the time of asking, and their home's annual wheel."""
    assert person.id is not None
    org_ids: list[int] = []
    for affiliation in await fx.uow.people.affiliations_of(person.id):
        for org in await fx.uow.orgs.lineage(affiliation.org_id):
            if org.id is not None and org.id not in org_ids:
                org_ids.append(org.id)
    items: list[tuple[Meeting, Organisation]] = []
    for org_id in org_ids:
        host = await fx.uow.orgs.get(org_id)
        if host is None:
            continue
        for meeting in await fx.uow.meetings.of_org(org_id):
            if meeting.ends_at >= fx.now - HISTORY and await may_see(fx, person, meeting):
                items.append((meeting, host))
    items.sort(key=lambda item: (item[0].starts_at, item[0].id or 0))
    data = calendar_bytes(items, fx.now, name=FEED_NAME)
    home = await fx.home_org(person)
    return add_events(data, await wheel_components(fx.uow, home, fx.now)) if home else data
