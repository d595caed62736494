"""Tables and repository for study circles.

People columns: a person's sign-up and attendance are their own data and go
with them (CASCADE); the leader, the creator, who marked attendance and who a
change concerned are kept anonymously (SET NULL), so the circle and its
history outlive them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bot.circles.model import (
    ChangeKind,
    Circle,
    CircleChange,
    CircleSession,
    CircleStatus,
    CircleThread,
    EducationKind,
    Enrolment,
    EnrolmentState,
    SessionAttendance,
)
from storage import tables
from storage.repositories import _EntityRepository
from storage.tables import UtcDateTime, enum_column, person_fk

circles = tables.numbered_table(
    "circles",
    tables.org_column(index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("kind", enum_column(EducationKind), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("material", sa.Text, nullable=False),
    sa.Column("place", sa.String(300)),
    sa.Column("link", sa.String(500)),
    sa.Column("leader_id", person_fk("SET NULL"), index=True),
    sa.Column("min_participants", sa.Integer, nullable=False),
    sa.Column("max_participants", sa.Integer, nullable=False),
    sa.Column("signup_deadline", UtcDateTime, nullable=False),
    sa.Column("status", enum_column(CircleStatus), nullable=False),
    sa.Column("open_to_guests", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    *tables.created(),
)

circle_sessions = tables.numbered_table(
    "circle_sessions",
    sa.Column("circle_id", tables.references("circles"), nullable=False, index=True),
    sa.Column("starts_at", UtcDateTime, nullable=False, index=True),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("place", sa.String(300)),
)

circle_enrolments = tables.numbered_table(
    "circle_enrolments",
    sa.Column("circle_id", tables.references("circles"), nullable=False, index=True),
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("state", enum_column(EnrolmentState), nullable=False),
    sa.Column("signed_up_at", UtcDateTime, nullable=False),
    sa.Column("list_consent", sa.Boolean, nullable=False),
    sa.Column("list_consent_at", UtcDateTime),
    sa.Column("list_consent_version", sa.String(64)),
    sa.Column("changed_at", UtcDateTime),
    sa.UniqueConstraint("circle_id", "person_id"),
)

circle_attendance = tables.numbered_table(
    "circle_attendance",
    sa.Column("session_id", tables.references("circle_sessions"), nullable=False, index=True),
    # SET NULL: after erasure the session's head count stays right, naming no one.
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("marked_by", person_fk("SET NULL")),
    sa.UniqueConstraint("session_id", "person_id"),
)

circle_changes = tables.numbered_table(
    "circle_changes",
    sa.Column("circle_id", tables.references("circles"), nullable=False, index=True),
    sa.Column("kind", enum_column(ChangeKind), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("session_id", tables.references("circle_sessions", "SET NULL"), nullable=True),
    sa.Column("detail", sa.String(500), nullable=False),
)

circle_threads = tables.thread_table("circle_threads", "circles", "circle_id")

MAPPINGS = (
    (Circle, circles),
    (CircleSession, circle_sessions),
    (Enrolment, circle_enrolments),
    (SessionAttendance, circle_attendance),
    (CircleChange, circle_changes),
    (CircleThread, circle_threads),
)


class SqlAlchemyCircleRepository(_EntityRepository[Circle]):
    entity = Circle

    async def of_orgs(self, org_ids: Sequence[int]) -> Sequence[Circle]:
        c = circles.c
        query = sa.select(Circle).where(c.org_id.in_(org_ids)).order_by(c.id)
        return await self._all(query)

    async def flush(self) -> None:
        await self.session.flush()

    async def add_session(self, session: CircleSession) -> CircleSession:
        return await self._add(session)

    async def get_session(self, session_id: int) -> CircleSession | None:
        return await self.session.get(CircleSession, session_id)

    async def sessions(self, circle_id: int) -> Sequence[CircleSession]:
        c = circle_sessions.c
        query = sa.select(CircleSession).where(c.circle_id == circle_id).order_by(c.starts_at, c.id)
        return await self._all(query)

    async def enrolments(self, circle_id: int) -> Sequence[Enrolment]:
        c = circle_enrolments.c
        query = sa.select(Enrolment).where(c.circle_id == circle_id).order_by(c.signed_up_at, c.id)
        return await self._all(query)

    async def enrolment(self, circle_id: int, person_id: int) -> Enrolment | None:
        query = sa.select(Enrolment).filter_by(circle_id=circle_id, person_id=person_id)
        return await self._first(query)

    async def add_enrolment(self, enrolment: Enrolment) -> Enrolment:
        return await self._add(enrolment)

    async def remove_enrolment(self, enrolment: Enrolment) -> None:
        await self.session.delete(enrolment)
        await self.session.flush()

    async def enrolments_of(self, person_id: int) -> Sequence[Enrolment]:
        c = circle_enrolments.c
        query = sa.select(Enrolment).where(c.person_id == person_id).order_by(c.signed_up_at, c.id)
        return await self._all(query)

    async def attendance(self, circle_id: int) -> Sequence[SessionAttendance]:
        a, s = circle_attendance.c, circle_sessions.c
        query = (
            sa.select(SessionAttendance)
            .join(circle_sessions, s.id == a.session_id)
            .where(s.circle_id == circle_id)
            .order_by(a.id)
        )
        return await self._all(query)

    async def add_attendance(self, attendance: SessionAttendance) -> None:
        await self._add(attendance)

    async def remove_attendance(self, session_id: int, person_id: int) -> None:
        await self._remove(
            circle_attendance, SessionAttendance, session_id=session_id, person_id=person_id
        )

    async def add_change(self, change: CircleChange) -> None:
        await self._add(change)

    async def changes(self, circle_id: int) -> Sequence[CircleChange]:
        c = circle_changes.c
        query = sa.select(CircleChange).where(c.circle_id == circle_id).order_by(c.at, c.id)
        return await self._all(query)

    async def add_thread(self, thread: CircleThread) -> None:
        await self._add(thread)

    async def threads(self, circle_id: int) -> Sequence[CircleThread]:
        c = circle_threads.c
        query = sa.select(CircleThread).where(c.circle_id == circle_id).order_by(c.id)
        return await self._all(query)
