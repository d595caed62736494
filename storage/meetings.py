"""Tables and repository for themed conversation meetings.

People columns: a person's answers and contributions are their own data and
go with them (CASCADE). Attendance and ratings stay as anonymous counts
(SET NULL) so the participation figures and average ratings stay right after
an erasure; a rating's comment is removed (`before_erase`). Who created a
meeting or confirmed someone's attendance is kept anonymously (SET NULL).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.meetings.model import (
    Answer,
    Attendance,
    AttendanceRecord,
    Audience,
    Contribution,
    Feedback,
    Meeting,
    MeetingSettings,
    MeetingStatus,
    MeetingThread,
    Places,
    Rsvp,
    waitlist,
)
from storage import tables
from storage.repositories import _built, _EntityRepository
from storage.tables import UtcDateTime, enum_column, metadata, person_fk

meetings = tables.numbered_table(
    "meetings",
    tables.org_column(index=True),
    sa.Column("theme", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("questions", sa.JSON, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False, index=True),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("place", sa.String(300)),
    sa.Column("link", sa.String(500)),
    sa.Column("audience", enum_column(Audience), nullable=False),
    sa.Column("capacity", sa.Integer),
    sa.Column("status", enum_column(MeetingStatus), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    *tables.created(),
    sa.Column("updated_at", UtcDateTime),
)

meeting_rsvps = tables.numbered_table(
    "meeting_rsvps",
    sa.Column("meeting_id", tables.references("meetings"), nullable=False),
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("answer", enum_column(Answer), nullable=False),
    sa.Column("answered_at", UtcDateTime, nullable=False),
    sa.Column("asked", sa.Integer),  # the place in the waitlist: order of asking
    sa.UniqueConstraint("meeting_id", "person_id"),
)

meeting_attendance = tables.numbered_table(
    "meeting_attendance",
    sa.Column("meeting_id", tables.references("meetings"), nullable=False),
    # SET NULL: after erasure the attendance stays counted, naming no one.
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("confirmed_by", person_fk("SET NULL")),
    sa.UniqueConstraint("meeting_id", "person_id"),
)

meeting_feedback = tables.numbered_table(
    "meeting_feedback",
    sa.Column("meeting_id", tables.references("meetings"), nullable=False),
    # SET NULL: the rating stays in the average; `before_erase` removes the comment, their words.
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.String(1000)),
    sa.Column("given_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("meeting_id", "person_id"),
)

meeting_contributions = tables.numbered_table(
    "meeting_contributions",
    sa.Column("meeting_id", tables.references("meetings"), nullable=False, index=True),
    # The person's own words: erased with them.
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("recorded_by", person_fk("SET NULL")),
)

meeting_threads = tables.thread_table("meeting_threads", "meetings", "meeting_id")

meeting_settings = sa.Table(
    "meeting_settings",
    metadata,
    tables.org_column(primary_key=True),
    sa.Column("reminder_minutes", sa.JSON, nullable=False),
)

MAPPINGS = (
    (Meeting, meetings),
    (Rsvp, meeting_rsvps),
    (Attendance, meeting_attendance),
    (Feedback, meeting_feedback),
    (Contribution, meeting_contributions),
    (MeetingThread, meeting_threads),
    (MeetingSettings, meeting_settings),
)


class SqlAlchemyMeetingRepository(_EntityRepository[Meeting]):
    entity = Meeting

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Places read with a meeting for the answer that follows (`get_answering`), used
        # once and forgotten at any write of an answer.
        self._answering: dict[tuple[int, int], Places] = {}

    async def upcoming(
        self, org_ids: Sequence[int], now: datetime, limit: int = 10
    ) -> Sequence[Meeting]:
        c = meetings.c
        query = (
            sa.select(Meeting)
            .where(c.org_id.in_(org_ids), c.ends_at > now, c.status == MeetingStatus.SCHEDULED)
            .order_by(c.starts_at, c.id)
            .limit(limit)
        )
        return await self._all(query)

    async def between(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[Meeting]:
        c = meetings.c
        query = (
            sa.select(Meeting)
            .where(c.org_id.in_(org_ids), c.starts_at >= start, c.starts_at < end)
            .order_by(c.starts_at, c.id)
        )
        return await self._all(query)

    async def of_org(self, org_id: int) -> Sequence[Meeting]:
        c = meetings.c
        query = sa.select(Meeting).where(c.org_id == org_id).order_by(c.starts_at, c.id)
        return await self._all(query)

    async def rsvps(
        self, meeting_id: int, answers: Sequence[Answer] | None = None
    ) -> Sequence[Rsvp]:
        c = meeting_rsvps.c
        query = sa.select(Rsvp).where(c.meeting_id == meeting_id).order_by(c.answered_at, c.id)
        if answers is not None:
            query = query.where(c.answer.in_(list(answers)))
        return await self._all(query)

    async def answered_by(
        self, person_id: int, answers: Sequence[Answer], after: datetime
    ) -> Sequence[Meeting]:
        m, r = meetings.c, meeting_rsvps.c
        query = (
            sa.select(Meeting)
            .join(meeting_rsvps, r.meeting_id == m.id)
            .where(
                r.person_id == person_id,
                r.answer.in_(list(answers)),
                m.starts_at > after,
                m.status == MeetingStatus.SCHEDULED,
            )
            .order_by(m.starts_at, m.id)
        )
        return await self._all(query)

    async def rsvp(self, meeting_id: int, person_id: int) -> Rsvp | None:
        query = sa.select(Rsvp).filter_by(meeting_id=meeting_id, person_id=person_id)
        return await self._first(query)

    async def add_rsvp(self, rsvp: Rsvp) -> Rsvp:
        self._answering.clear()
        return await self._add(rsvp)

    async def get_answering(self, meeting_id: int, person_id: int) -> Meeting | None:
        loaded = self._loaded(Meeting, meeting_id)
        if loaded is not None or self.session.get_bind().dialect.name != "sqlite":
            # On PostgreSQL an answer counts places only once it holds the meeting's lock.
            return loaded or await self.get(meeting_id)
        # On SQLite units of work take turns: what is read now still holds when the answer
        # is made, so the meeting and the places come in one statement (issue 21).
        params = {"meeting": meeting_id, "person": person_id}
        rows = (await self.session.execute(_answering_query(), params)).all()
        if not rows:
            return None
        self._answering[(meeting_id, person_id)] = _places_from(rows, person_id)
        meeting: Meeting = rows[0][0]
        return meeting

    async def places(self, meeting_id: int, person_id: int | None, *, limited: bool) -> Places:
        if person_id is not None and (read := self._answering.pop((meeting_id, person_id), None)):
            return read  # read with the meeting (`get_answering`), nothing written since
        # Core rows, not ORM objects: every RSVP reads this (issue 21's presses).
        statement = _places_query(limited, person_id is not None)
        params = {"meeting": meeting_id, "person": person_id}
        return _places_from((await self.session.execute(statement, params)).all(), person_id)

    async def set_answer(self, rsvp: Rsvp) -> None:
        self._answering.clear()
        statement = _built(self.session, "meetings.set_answer", _set_answer)
        values = {name: getattr(rsvp, name) for name in _RSVP_WRITTEN}
        await self.session.execute(statement, values)
        self._forget(rsvp.meeting_id, rsvp.person_id)

    async def move_in(self, rsvp_ids: Sequence[int], at: datetime) -> None:
        self._answering.clear()
        c = meeting_rsvps.c
        await self.session.execute(
            sa.update(meeting_rsvps)
            .where(c.id.in_(rsvp_ids))
            .values(answer=Answer.COMING, answered_at=at)
        )
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Rsvp) and obj.id in rsvp_ids:
                self.session.expunge(obj)

    def _forget(self, meeting_id: int, person_id: int) -> None:
        """A copy this transaction loaded before a Core write no longer says what the row holds."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Rsvp) and (obj.meeting_id, obj.person_id) == (meeting_id, person_id):
                self.session.expunge(obj)

    async def attendance(self, meeting_id: int) -> Sequence[Attendance]:
        c = meeting_attendance.c
        query = sa.select(Attendance).where(c.meeting_id == meeting_id).order_by(c.id)
        return await self._all(query)

    async def add_attendance(self, attendance: Attendance) -> None:
        await self._add(attendance)

    async def remove_attendance(self, meeting_id: int, person_id: int) -> None:
        await self._remove(
            meeting_attendance, Attendance, meeting_id=meeting_id, person_id=person_id
        )

    async def attendance_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[AttendanceRecord]:
        m, a = meetings.c, meeting_attendance.c
        query = (
            sa.select(m.id, m.org_id, a.person_id, m.starts_at)
            .join(meeting_attendance, a.meeting_id == m.id)
            .where(
                m.org_id.in_(org_ids),
                m.starts_at >= start,
                m.starts_at < end,
                m.status == MeetingStatus.SCHEDULED,
            )
            .order_by(m.starts_at, m.id, a.person_id)
        )
        rows = (await self.session.execute(query)).all()
        return [AttendanceRecord(row[0], row[1], row[2], row[3]) for row in rows]

    async def feedback(self, meeting_id: int) -> Sequence[Feedback]:
        c = meeting_feedback.c
        query = sa.select(Feedback).where(c.meeting_id == meeting_id).order_by(c.id)
        return await self._all(query)

    async def feedback_of(self, meeting_id: int, person_id: int) -> Feedback | None:
        query = sa.select(Feedback).filter_by(meeting_id=meeting_id, person_id=person_id)
        return await self._first(query)

    async def add_feedback(self, feedback: Feedback) -> None:
        await self._add(feedback)

    async def contributions(self, meeting_id: int) -> Sequence[Contribution]:
        c = meeting_contributions.c
        query = (
            sa.select(Contribution).where(c.meeting_id == meeting_id).order_by(c.created_at, c.id)
        )
        return await self._all(query)

    async def add_contribution(self, contribution: Contribution) -> Contribution:
        return await self._add(contribution)

    async def threads(self, meeting_id: int) -> Sequence[MeetingThread]:
        c = meeting_threads.c
        query = sa.select(MeetingThread).where(c.meeting_id == meeting_id).order_by(c.id)
        return await self._all(query)

    async def add_thread(self, thread: MeetingThread) -> None:
        await self._add(thread)

    async def settings(self, org_id: int) -> MeetingSettings | None:
        return await self.session.get(MeetingSettings, org_id)

    async def save_settings(self, settings: MeetingSettings) -> None:
        existing = await self.settings(settings.org_id)
        if existing is None:
            await self._add(settings)
        else:
            existing.reminder_minutes = list(settings.reminder_minutes)
            await self.session.flush()


def _places_from(rows: Sequence[Any], person_id: int | None) -> Places:
    """`Places` from the rows of `_places_query`."""
    own: Rsvp | None = None
    waiting: list[Rsvp] = []
    coming = last_asked = 0
    for row in rows:
        coming, last_asked = row.coming or 0, row.last_asked or 0
        if row.id is None:
            continue  # no answer matched: the counts alone (the outer join's one row)
        rsvp = Rsvp(row.meeting_id, row.person_id, row.answer, row.answered_at, row.asked, row.id)
        if rsvp.person_id == person_id:
            own = rsvp
        if rsvp.answer is Answer.WAITLISTED:
            waiting.append(rsvp)
    return Places(own, tuple(waitlist(waiting)), coming, last_asked)


_RSVP_WRITTEN = ("meeting_id", "person_id", "answer", "answered_at", "asked")


def _set_answer(dialect: Any) -> Any:
    insert = dialect.insert(meeting_rsvps)
    return insert.on_conflict_do_update(
        index_elements=["meeting_id", "person_id"],
        set_={name: insert.excluded[name] for name in ("answer", "answered_at", "asked")},
    )


@functools.cache
def _places_query(limited: bool, of_person: bool) -> sa.Select[Any]:
    """The person's answer (:person) and those waiting at a meeting (:meeting); where places
    are limited also how many hold one and the last number asked, on every row: an outer
    join from the counts, so they come back even when no answer matches."""
    r = meeting_rsvps.c
    wanted = r.answer == Answer.WAITLISTED
    if of_person:
        wanted = sa.or_(r.person_id == sa.bindparam("person"), wanted)
    columns = (r.id, r.meeting_id, r.person_id, r.answer, r.answered_at, r.asked)
    if not limited:
        none = sa.null()
        return sa.select(*columns, none.label("coming"), none.label("last_asked")).where(
            r.meeting_id == sa.bindparam("meeting"), wanted
        )
    holding = r.answer.in_([Answer.COMING, Answer.WAITLISTED])
    counts = (
        sa.select(
            sa.func.sum(sa.case((r.answer == Answer.COMING, 1), else_=0)).label("coming"),
            sa.func.max(r.asked).label("last_asked"),
        )
        .where(r.meeting_id == sa.bindparam("meeting"), holding)
        .subquery("counts")
    )
    return (
        sa.select(*columns, counts.c.coming, counts.c.last_asked)
        .select_from(counts)
        .outerjoin(meeting_rsvps, sa.and_(r.meeting_id == sa.bindparam("meeting"), wanted))
    )


@functools.cache
def _answering_query() -> sa.Select[Any]:
    """A meeting (:meeting) with the places its answer by :person decides on, on every row.

    Built once: building it (and its subquery's columns) cost more than running it."""
    places = _places_query(True, True).subquery("places")
    return (
        sa.select(Meeting, *places.c)
        .join(places, sa.true())
        .where(meetings.c.id == sa.bindparam("meeting"))
    )


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """A rating outlives its giver anonymously; the comment, in their own words, does not."""
    await session.execute(
        sa.update(meeting_feedback)
        .where(meeting_feedback.c.person_id == person_id)
        .values(comment=None)
    )
