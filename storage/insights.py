"""Tables and repository for organiser insights: voter conversation reports and goals.

A report's count is the organisation's figure, so `person_id` is SET NULL:
the conversations stay counted after the reporter is erased. A goal names
who set it anonymously in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from bot.circles.model import minutes_between
from bot.domain.people import Status
from bot.insights.model import Activity, ConversationReport, Goal, GoalKind, HeldSession
from storage import tables
from storage.circles import circle_attendance, circle_sessions, circles
from storage.repositories import _Repository
from storage.tables import UtcDateTime, enum_column, person_fk

conversation_reports = tables.numbered_table(
    "conversation_reports",
    tables.org_column(index=True),
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False, index=True),
    sa.Column("place", sa.String(32)),
    sa.Column("topics", sa.JSON, nullable=False),
)

organisation_goals = tables.numbered_table(
    "organisation_goals",
    tables.org_column(index=True),
    sa.Column("kind", enum_column(GoalKind), nullable=False),
    sa.Column("target", sa.Integer, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("deadline", UtcDateTime, nullable=False),
    sa.Column("baseline", sa.Float, nullable=False),
    sa.Column("set_at", UtcDateTime, nullable=False),
    sa.Column("set_by", person_fk("SET NULL")),
    sa.UniqueConstraint("org_id", "kind"),
)

MAPPINGS = (
    (ConversationReport, conversation_reports),
    (Goal, organisation_goals),
)


class SqlAlchemyInsightsRepository(_Repository):
    async def add_report(self, report: ConversationReport) -> ConversationReport:
        return await self._add(report)

    async def report(self, report_id: int) -> ConversationReport | None:
        return await self.session.get(ConversationReport, report_id)

    async def reports_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[ConversationReport]:
        c = conversation_reports.c
        query = (
            sa.select(ConversationReport)
            .where(c.org_id.in_(org_ids), c.reported_at >= start, c.reported_at < end)
            .order_by(c.reported_at, c.id)
        )
        return await self._all(query)

    async def goals_of(self, org_id: int) -> Sequence[Goal]:
        c = organisation_goals.c
        query = sa.select(Goal).where(c.org_id == org_id).order_by(c.id)
        return await self._all(query)

    async def save_goal(self, goal: Goal) -> Goal:
        c = organisation_goals.c
        query = sa.select(Goal).where(c.org_id == goal.org_id, c.kind == goal.kind)
        existing = await self._first(query)
        if existing is None:
            await self._add(goal)
            return goal
        for name in ("target", "starts_at", "deadline", "baseline", "set_at", "set_by"):
            setattr(existing, name, getattr(goal, name))
        await self.session.flush()
        return existing

    async def members_in(self, org_ids: Sequence[int]) -> dict[int, datetime]:
        p, a = tables.people.c, tables.affiliations.c
        query = (
            sa.select(p.id, sa.func.min(a.since))
            .join(tables.affiliations, a.person_id == p.id)
            .where(a.org_id.in_(org_ids), p.status == Status.MEMBER)
            .group_by(p.id)
        )
        return {row[0]: row[1] for row in (await self.session.execute(query)).all()}

    async def circle_activity(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[tuple[HeldSession, Activity]]:
        s, a, c = circle_sessions.c, circle_attendance.c, circles.c
        query = (
            sa.select(s.id, s.starts_at, s.ends_at, a.person_id)
            .join(circle_attendance, a.session_id == s.id)
            .join(circles, c.id == s.circle_id)
            .where(c.org_id.in_(org_ids), s.starts_at >= start, s.starts_at < end)
            .order_by(s.starts_at, s.id, a.person_id)
        )
        rows = (await self.session.execute(query)).all()
        return [
            (
                HeldSession(row[0], row[1], minutes_between(row[1], row[2])),
                Activity(row[3], row[1]),
            )
            for row in rows
        ]
