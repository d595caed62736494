"""Demo themed meetings, relative to the clock: an open evening and a members' meeting.

Seeded without announcements or answers, so seeding sends nothing and no one
is reminded of them until they answer.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.clock import Clock
from bot.context import Effects
from bot.meetings.model import Audience
from bot.meetings.service import MeetingDraft, create_meeting
from bot.ports import UnitOfWork


async def seed_demo_meetings(uow: UnitOfWork, clock: Clock) -> None:
    org = await uow.orgs.by_slug("sandviken")
    if org is None:
        return
    fx = Effects(uow, clock)
    bertil = await uow.people.by_identity("console", "bertil")
    organiser = bertil.id if bertil else None
    today = clock.now().astimezone(org.zone).date()

    def at(days: int, hour: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(hour), tzinfo=org.zone)

    await create_meeting(
        fx,
        org,
        MeetingDraft(
            theme="Bostäder för unga",
            starts_at=at(9, 18),
            ends_at=at(9, 20),
            description="Hur får fler unga en egen bostad i Sandviken? Fika från 17.45.",
            questions=[
                "Vad gör det svårt att hitta en bostad här?",
                "Vad borde kommunen och bostadsbolaget göra först?",
            ],
            place="Folkets hus, Sandviken",
        ),
        created_by=organiser,
        announce=False,
    )
    await create_meeting(
        fx,
        org,
        MeetingDraft(
            theme="Medlemsmöte: verksamhetsplan",
            starts_at=at(16, 19),
            ends_at=at(16, 21),
            description="Vi beslutar om verksamhetsplanen för året.",
            link="https://meet.example.org/sandviken-medlemsmote",
            audience=Audience.MEMBERS,
        ),
        created_by=organiser,
        announce=False,
    )
