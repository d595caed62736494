"""Tables and repository for campaigns, their shifts, sign-ups and shift reports.

People columns: a sign-up is the person's own and goes with them (CASCADE); a shift report's
numbers are the organisation's figures and outlive them anonymously (SET NULL), while its
note, their words, is removed (`before_erase`). A campaign's creator and a shift's lead are
kept anonymously (SET NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.model import (
    Campaign,
    CampaignKind,
    ReportRow,
    Shift,
    ShiftReport,
    Signup,
    SignupState,
)
from bot.insights.model import Activity
from storage import tables
from storage.repositories import _EntityRepository
from storage.tables import UtcDateTime, enum_column, person_fk

campaigns = tables.numbered_table(
    "campaigns",
    tables.org_column(index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", enum_column(CampaignKind), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False, index=True),
    sa.Column("topics", sa.JSON, nullable=False),
    sa.Column("guests_allowed", sa.Boolean, nullable=False),
    sa.Column("union", sa.String(200)),
    sa.Column("wheel_item", sa.String(64)),
    *tables.created(),
)

campaign_shifts = tables.numbered_table(
    "campaign_shifts",
    sa.Column("campaign_id", tables.references("campaigns"), nullable=False, index=True),
    sa.Column("starts_at", UtcDateTime, nullable=False, index=True),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("area", sa.String(200), nullable=False),
    sa.Column("meeting_point", sa.String(300)),
    sa.Column("map_link", sa.String(500)),
    sa.Column("capacity", sa.Integer),
    sa.Column("lead_id", person_fk("SET NULL"), index=True),
    sa.Column("nudged_at", UtcDateTime),
)

shift_signups = tables.numbered_table(
    "shift_signups",
    sa.Column("shift_id", tables.references("campaign_shifts"), nullable=False, index=True),
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.Column("state", enum_column(SignupState), nullable=False),
    sa.Column("signed_up_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("shift_id", "person_id"),
)

shift_reports = tables.numbered_table(
    "shift_reports",
    sa.Column("shift_id", tables.references("campaign_shifts"), nullable=False, index=True),
    # SET NULL: the campaign's figures stay right after erasure, naming no one.
    sa.Column("person_id", person_fk("SET NULL"), index=True),
    sa.Column("conversations", sa.Integer, nullable=False),
    sa.Column("doors", sa.Integer, nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False),
    sa.Column("topics", sa.JSON, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("conversation_report_id", tables.references("conversation_reports", "SET NULL")),
    sa.UniqueConstraint("shift_id", "person_id"),
)

MAPPINGS = (
    (Campaign, campaigns),
    (Shift, campaign_shifts),
    (Signup, shift_signups),
    (ShiftReport, shift_reports),
)


class SqlAlchemyCampaignRepository(_EntityRepository[Campaign]):
    entity = Campaign

    async def current(self, org_ids: Sequence[int], today: date) -> Sequence[Campaign]:
        c = campaigns.c
        query = (
            sa.select(Campaign)
            .where(c.org_id.in_(org_ids), c.ends_on >= today)
            .order_by(c.starts_on, c.id)
        )
        return await self._all(query)

    async def of_orgs(self, org_ids: Sequence[int]) -> Sequence[Campaign]:
        c = campaigns.c
        return await self._all(sa.select(Campaign).where(c.org_id.in_(org_ids)).order_by(c.id))

    async def add_shift(self, shift: Shift) -> Shift:
        return await self._add(shift)

    async def shift(self, shift_id: int) -> Shift | None:
        return await self._get(Shift, shift_id)

    async def lock_shift(self, shift_id: int) -> None:
        await self._lock(Shift, shift_id)

    async def shifts(self, campaign_id: int) -> Sequence[Shift]:
        c = campaign_shifts.c
        query = sa.select(Shift).where(c.campaign_id == campaign_id).order_by(c.starts_at, c.id)
        return await self._all(query)

    async def signups(self, shift_id: int) -> Sequence[Signup]:
        c = shift_signups.c
        query = sa.select(Signup).where(c.shift_id == shift_id).order_by(c.signed_up_at, c.id)
        return await self._all(query)

    async def add_signup(self, signup: Signup) -> Signup:
        return await self._add(signup)

    async def remove_signup(self, signup: Signup) -> None:
        await self.session.delete(signup)
        await self.session.flush()

    async def signups_of(self, person_id: int) -> Sequence[Signup]:
        c = shift_signups.c
        query = sa.select(Signup).where(c.person_id == person_id).order_by(c.signed_up_at, c.id)
        return await self._all(query)

    async def reports(self, shift_id: int) -> Sequence[ShiftReport]:
        c = shift_reports.c
        query = sa.select(ShiftReport).where(c.shift_id == shift_id).order_by(c.reported_at, c.id)
        return await self._all(query)

    async def add_report(self, report: ShiftReport) -> ShiftReport:
        return await self._add(report)

    async def report_rows(self, campaign_ids: Sequence[int]) -> Sequence[ReportRow]:
        r, s = shift_reports.c, campaign_shifts.c
        query = (
            sa.select(ShiftReport, Shift, Campaign)
            .join(Shift, s.id == r.shift_id)
            .join(Campaign, campaigns.c.id == s.campaign_id)
            .where(s.campaign_id.in_(campaign_ids))
            .order_by(s.starts_at, s.id, r.reported_at, r.id)
        )
        rows = (await self.session.execute(query)).all()
        return [ReportRow(campaign, shift, report) for report, shift, campaign in rows]

    async def activity_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[Activity]:
        r, s, c = shift_reports.c, campaign_shifts.c, campaigns.c
        query = (
            sa.select(r.person_id, s.starts_at)
            .join(campaign_shifts, s.id == r.shift_id)
            .join(campaigns, c.id == s.campaign_id)
            .where(c.org_id.in_(org_ids), s.starts_at >= start, s.starts_at < end)
            .order_by(s.starts_at, r.id)
        )
        return [Activity(row[0], row[1]) for row in (await self.session.execute(query)).all()]


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """A shift report's numbers outlive its reporter anonymously; the note, their words, does not."""
    await session.execute(
        sa.update(shift_reports).where(shift_reports.c.person_id == person_id).values(note=None)
    )
