"""Tables and repository for rådslag (bot/consultations/model.py has the rules).

People columns: a member's answer and a contribution point at their author with
SET NULL, and `before_erase` decides what outlives them: where the rådslag let
answers be anonymous the text stays, unnamed; otherwise it is removed, and a draft
always is. Who opened a rådslag, wrote a branch answer or submitted it is kept
anonymously (SET NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consultations.model import (
    BranchAnswer,
    Consultation,
    MeetingTie,
    MemberAnswer,
    Submission,
    ThreadContribution,
    Visibility,
)
from storage import tables
from storage.repositories import _EntityRepository
from storage.tables import UtcDateTime, enum_column, person_fk

consultations = tables.numbered_table(
    "consultations",
    tables.org_column(index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("questions", sa.JSON, nullable=False),
    sa.Column("background", sa.Text, nullable=False),
    sa.Column("link", sa.String(500)),
    sa.Column("deadline", UtcDateTime, nullable=False),
    sa.Column("visibility", enum_column(Visibility), nullable=False),
    sa.Column("targets", sa.JSON, nullable=False),
    *tables.created(),
)


def _per_branch(name: str, *items: sa.schema.SchemaItem) -> sa.Table:
    return tables.numbered_table(
        name,
        sa.Column("consultation_id", tables.references("consultations"), nullable=False),
        tables.org_column(),
        *items,
    )


consultation_answers = _per_branch(
    "consultation_answers",
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("question", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_consultation_answers_cq", "consultation_id", "org_id"),
)

consultation_contributions = _per_branch(
    "consultation_contributions",
    sa.Column("meeting_id", tables.references("meetings", "SET NULL")),
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("recorded_by", person_fk("SET NULL")),
    sa.Column("question", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_consultation_contributions_cq", "consultation_id", "org_id"),
)

consultation_branch_answers = _per_branch(
    "consultation_branch_answers",
    sa.Column("question", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", person_fk("SET NULL")),
    sa.UniqueConstraint("consultation_id", "org_id", "question"),
)

consultation_submissions = _per_branch(
    "consultation_submissions",
    sa.Column("submitted_at", UtcDateTime, nullable=False),
    sa.Column("submitted_by", person_fk("SET NULL")),
    sa.Column("receipt", sa.String(64), nullable=False),
    sa.UniqueConstraint("consultation_id", "org_id"),
)

consultation_meetings = tables.numbered_table(
    "consultation_meetings",
    sa.Column("consultation_id", tables.references("consultations"), nullable=False),
    sa.Column("meeting_id", tables.references("meetings"), nullable=False, index=True),
    sa.UniqueConstraint("consultation_id", "meeting_id"),
)

MAPPINGS = (
    (Consultation, consultations),
    (MemberAnswer, consultation_answers),
    (ThreadContribution, consultation_contributions),
    (BranchAnswer, consultation_branch_answers),
    (Submission, consultation_submissions),
    (MeetingTie, consultation_meetings),
)


class SqlAlchemyConsultationRepository(_EntityRepository[Consultation]):
    entity = Consultation

    async def in_orgs(self, org_ids: Sequence[int]) -> Sequence[Consultation]:
        # Few rådslag a year: the targets (a JSON list) are matched here, not in SQL.
        query = sa.select(Consultation).order_by(consultations.c.deadline.desc())
        wanted = set(org_ids)
        return [
            c
            for c in await self._all(query)
            if c.org_id in wanted or wanted.intersection(c.targets)
        ]

    async def answers(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[MemberAnswer]:
        c = consultation_answers.c
        query = sa.select(MemberAnswer).where(c.consultation_id == consultation_id)
        if org_id is not None:
            query = query.where(c.org_id == org_id)
        return await self._all(query.order_by(c.question, c.id))

    async def answers_of(self, consultation_id: int, person_id: int) -> Sequence[MemberAnswer]:
        c = consultation_answers.c
        query = sa.select(MemberAnswer).where(
            c.consultation_id == consultation_id, c.person_id == person_id
        )
        return await self._all(query.order_by(c.question))

    async def add_answer(self, answer: MemberAnswer) -> None:
        await self._add(answer)

    async def answered_since(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[MemberAnswer]:
        c = consultation_answers.c
        query = sa.select(MemberAnswer).where(
            c.org_id.in_(org_ids),
            c.final.is_(True),
            c.person_id.is_not(None),
            c.updated_at >= start,
            c.updated_at < end,
        )
        return await self._all(query.order_by(c.id))

    async def contributions(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[ThreadContribution]:
        c = consultation_contributions.c
        query = sa.select(ThreadContribution).where(c.consultation_id == consultation_id)
        if org_id is not None:
            query = query.where(c.org_id == org_id)
        return await self._all(query.order_by(c.question, c.id))

    async def add_contribution(self, contribution: ThreadContribution) -> None:
        await self._add(contribution)

    async def branch_answers(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[BranchAnswer]:
        c = consultation_branch_answers.c
        query = sa.select(BranchAnswer).where(c.consultation_id == consultation_id)
        if org_id is not None:
            query = query.where(c.org_id == org_id)
        return await self._all(query.order_by(c.org_id, c.question))

    async def add_branch_answer(self, answer: BranchAnswer) -> None:
        await self._add(answer)

    async def submissions(self, consultation_id: int) -> Sequence[Submission]:
        c = consultation_submissions.c
        query = sa.select(Submission).where(c.consultation_id == consultation_id)
        return await self._all(query.order_by(c.org_id))

    async def add_submission(self, submission: Submission) -> None:
        await self._add(submission)

    async def ties(self, meeting_id: int) -> Sequence[MeetingTie]:
        c = consultation_meetings.c
        return await self._all(sa.select(MeetingTie).where(c.meeting_id == meeting_id))

    async def tied_meetings(self, consultation_id: int) -> Sequence[MeetingTie]:
        c = consultation_meetings.c
        query = sa.select(MeetingTie).where(c.consultation_id == consultation_id)
        return await self._all(query.order_by(c.meeting_id))

    async def add_tie(self, tie: MeetingTie) -> None:
        await self._add(tie)


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """A member's words outlive them only unnamed, and only where the rådslag allowed
    anonymity; drafts, and everything said under another setting, go."""
    anonymous = sa.select(consultations.c.id).where(
        consultations.c.visibility == Visibility.ANONYMOUS
    )
    a = consultation_answers.c
    await session.execute(
        sa.delete(consultation_answers).where(
            a.person_id == person_id,
            sa.or_(a.final.is_(False), a.consultation_id.not_in(anonymous)),
        )
    )
    k = consultation_contributions.c
    await session.execute(
        sa.delete(consultation_contributions).where(
            k.person_id == person_id, k.consultation_id.not_in(anonymous)
        )
    )
