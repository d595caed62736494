"""Tables and repository for the new-member welcome flow.

A flow is the new member's own data, but its dates are the branch's figures
("new members this year", "personally contacted"): when the member is erased
the flow stays as an anonymous record (`person_id` SET NULL) and `before_erase`
removes their answers. The member officer, who registered them and who
confirmed the contact are kept anonymously (SET NULL) in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.welcome.model import FlowStatus, GuestInvitation, WelcomeFlow, WelcomePlanText
from storage import tables
from storage.repositories import _count, _EntityRepository
from storage.tables import UtcDateTime, enum_column, metadata, person_fk

welcome_flows = tables.numbered_table(
    "welcome_flows",
    sa.Column("person_id", person_fk("SET NULL"), unique=True),
    tables.org_column(index=True),
    # When the member's account was created, kept when they are erased: the figure
    # "guests who became members" compares it with when they said they had joined.
    sa.Column("person_created_at", UtcDateTime),
    sa.Column("association_id", tables.references("organisations", "SET NULL")),
    sa.Column("status", enum_column(FlowStatus), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("officer_id", person_fk("SET NULL")),
    sa.Column("registered_by", person_fk("SET NULL")),
    sa.Column("started_at", UtcDateTime),
    sa.Column("paused_at", UtcDateTime),
    sa.Column("paused_seconds", sa.Integer, nullable=False),
    sa.Column("stopped_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("steps_done", sa.JSON, nullable=False),
    sa.Column("contacted_at", UtcDateTime),
    sa.Column("contacted_by", person_fk("SET NULL")),
    sa.Column("interests", sa.JSON, nullable=False),
    sa.Column("ways", sa.JSON, nullable=False),
    sa.Column("interests_answered_at", UtcDateTime),
    sa.Column("tasks_consent", sa.Boolean),
    sa.Column("tasks_consent_at", UtcDateTime),
    sa.Column("meeting_invited_at", UtcDateTime),
    sa.Column("education_offered_at", UtcDateTime),
    sa.Column("education_wanted_at", UtcDateTime),
    sa.Column("checkin_done", sa.JSON, nullable=False),
    sa.Column("checkin_wish", sa.String(1000)),
    sa.Column("checkin_answered_at", UtcDateTime),
)

welcome_plans = sa.Table(
    "welcome_plans",
    metadata,
    tables.org_column(primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

guest_invitations = tables.numbered_table(
    "guest_invitations",
    sa.Column("person_id", person_fk(), nullable=False, unique=True),
    sa.Column("invited_at", UtcDateTime, nullable=False),
)

MAPPINGS = (
    (WelcomeFlow, welcome_flows),
    (WelcomePlanText, welcome_plans),
    (GuestInvitation, guest_invitations),
)


class SqlAlchemyWelcomeRepository(_EntityRepository[WelcomeFlow]):
    entity = WelcomeFlow

    async def scrub_finished(self, before: datetime) -> int:
        c = welcome_flows.c
        ended = sa.func.coalesce(c.completed_at, c.stopped_at)
        finished = sa.and_(ended.is_not(None), ended < before)
        result = await self.session.execute(
            sa.update(welcome_flows)
            .where(finished, c.checkin_wish.is_not(None))
            .values(checkin_wish=None, checkin_done=[])
        )
        await self.session.execute(
            sa.update(welcome_flows)
            .where(finished, c.tasks_consent.is_not(True))
            .values(interests=[], ways=[])
        )
        return _count(result)

    async def of_person(self, person_id: int) -> WelcomeFlow | None:
        query = sa.select(WelcomeFlow).filter_by(person_id=person_id)
        return await self._first(query)

    async def in_orgs(self, org_ids: Sequence[int]) -> Sequence[WelcomeFlow]:
        c = welcome_flows.c
        query = (
            sa.select(WelcomeFlow)
            .where(c.org_id.in_(org_ids))
            .order_by(c.created_at.desc(), c.id.desc())
        )
        return await self._all(query)

    async def last_officer(self, org_id: int) -> int | None:
        c = welcome_flows.c
        query = (
            sa.select(c.officer_id)
            .where(c.org_id == org_id, c.officer_id.is_not(None))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar()

    async def plan_text(self, org_id: int) -> WelcomePlanText | None:
        return await self.session.get(WelcomePlanText, org_id)

    async def save_plan_text(self, plan: WelcomePlanText) -> None:
        await self.session.merge(plan)
        await self.session.flush()

    async def guest_invited(self, person_id: int) -> bool:
        query = sa.select(guest_invitations.c.id).where(guest_invitations.c.person_id == person_id)
        return (await self.session.execute(query)).first() is not None

    async def add_guest_invitation(self, invitation: GuestInvitation) -> None:
        await self._add(invitation)


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """A new member's flow outlives them as dates only (the figures); their answers go."""
    c = welcome_flows.c
    created = sa.select(tables.people.c.created_at).where(tables.people.c.id == person_id)
    await session.execute(
        sa.update(welcome_flows)
        .where(c.person_id == person_id)
        .values(
            person_created_at=created.scalar_subquery(),
            interests=[],
            ways=[],
            tasks_consent=None,
            checkin_done=[],
            checkin_wish=None,
        )
    )
