"""Tables and repository for the annual wheel.

People columns: an answer to an announced activity is the person's own data
(CASCADE); who imported a template or made an adjustment is kept anonymously
(SET NULL), so the wheel outlives the organiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa

from bot.wheel.model import (
    Adjustment,
    AdjustmentKind,
    Answer,
    WheelEvent,
    WheelRsvp,
    WheelSettings,
    WheelState,
    WheelTemplateRecord,
)
from storage import tables
from storage.repositories import _Repository
from storage.tables import UtcDateTime, enum_column, metadata, person_fk

wheel_templates = tables.numbered_table(
    "wheel_templates",
    tables.org_column(unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Column("imported_by", person_fk("SET NULL")),
)

wheel_adjustments = tables.numbered_table(
    "wheel_adjustments",
    tables.org_column(index=True),
    sa.Column("item_key", sa.String(48), nullable=False),
    sa.Column("action", enum_column(AdjustmentKind), nullable=False),
    sa.Column("series_date", sa.Date),
    sa.Column("new_start", sa.String(16)),
    sa.Column("field", sa.String(16)),
    sa.Column("value", sa.String(300)),
    sa.Column("created_at", UtcDateTime),
    sa.Column("created_by", person_fk("SET NULL")),
)

wheel_settings = tables.numbered_table(
    "wheel_settings",
    tables.org_column(unique=True),
    sa.Column("state", enum_column(WheelState), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime),
)

wheel_events = tables.numbered_table(
    "wheel_events",
    tables.org_column(),
    sa.Column("item_key", sa.String(48), nullable=False),
    sa.Column("series_date", sa.Date, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),
    sa.Column("place", sa.String(300), nullable=False),
    sa.Column("theme", sa.Text, nullable=False),
    sa.Column("announced_at", UtcDateTime),
    sa.Column("cancelled", sa.Boolean, nullable=False),
    sa.Column("linked", sa.String(64)),
    sa.UniqueConstraint("org_id", "item_key", "series_date"),
    sa.Index("ix_wheel_events_org_start", "org_id", "start_at"),
)

wheel_rsvps = sa.Table(
    "wheel_rsvps",
    metadata,
    sa.Column("event_id", tables.references("wheel_events"), primary_key=True),
    sa.Column("person_id", person_fk("CASCADE"), primary_key=True),
    sa.Column("answer", enum_column(Answer), nullable=False),
    sa.Column("answered_at", UtcDateTime, nullable=False),
)

MAPPINGS = (
    (WheelTemplateRecord, wheel_templates),
    (Adjustment, wheel_adjustments),
    (WheelSettings, wheel_settings),
    (WheelEvent, wheel_events),
    (WheelRsvp, wheel_rsvps),
)


class SqlAlchemyWheelRepository(_Repository):
    async def template_of(self, org_id: int) -> WheelTemplateRecord | None:
        query = sa.select(WheelTemplateRecord).where(wheel_templates.c.org_id == org_id)
        return await self._first(query)

    async def save_template(self, record: WheelTemplateRecord) -> None:
        existing = await self.template_of(record.org_id)
        if existing is None:
            await self._add(record)
            return
        existing.source = record.source
        existing.name = record.name
        existing.imported_at = record.imported_at
        existing.imported_by = record.imported_by
        await self.session.flush()

    async def adjustments_of(self, org_id: int) -> Sequence[Adjustment]:
        query = (
            sa.select(Adjustment)
            .where(wheel_adjustments.c.org_id == org_id)
            .order_by(wheel_adjustments.c.id)
        )
        return await self._all(query)

    async def add_adjustment(self, adjustment: Adjustment) -> None:
        c = wheel_adjustments.c
        same_date = (
            c.field == adjustment.field
            if adjustment.action is AdjustmentKind.CHANGE
            else c.series_date.is_(None)
            if adjustment.series_date is None
            else c.series_date == adjustment.series_date
        )
        # One decision per occurrence: a new skip or move replaces the earlier one.
        await self.session.execute(
            sa.delete(wheel_adjustments).where(
                c.org_id == adjustment.org_id,
                c.item_key == adjustment.item_key,
                same_date,
                (c.action == AdjustmentKind.CHANGE)
                if adjustment.action is AdjustmentKind.CHANGE
                else (c.action != AdjustmentKind.CHANGE),
            )
        )
        await self._add(adjustment)

    async def settings_of(self, org_id: int) -> WheelSettings:
        query = sa.select(WheelSettings).where(wheel_settings.c.org_id == org_id)
        found = await self._first(query)
        return found if found is not None else WheelSettings(org_id=org_id)

    async def save_settings(self, settings: WheelSettings) -> None:
        if settings.id is None:
            await self._add(settings)
        else:
            await self.session.flush()

    async def event(self, event_id: int) -> WheelEvent | None:
        return await self.session.get(WheelEvent, event_id)

    async def event_for(self, org_id: int, item_key: str, series_date: date) -> WheelEvent | None:
        c = wheel_events.c
        query = sa.select(WheelEvent).where(
            c.org_id == org_id, c.item_key == item_key, c.series_date == series_date
        )
        return await self._first(query)

    async def add_event(self, event: WheelEvent) -> WheelEvent:
        return await self._add(event)

    async def events_of(self, org_id: int, start: datetime, end: datetime) -> Sequence[WheelEvent]:
        c = wheel_events.c
        query = (
            sa.select(WheelEvent)
            .where(c.org_id == org_id, c.start_at >= start, c.start_at < end)
            .order_by(c.start_at, c.id)
        )
        return await self._all(query)

    async def answer(self, rsvp: WheelRsvp) -> None:
        existing = await self.session.get(WheelRsvp, (rsvp.event_id, rsvp.person_id))
        if existing is None:
            await self._add(rsvp)
        else:
            existing.answer = rsvp.answer
            existing.answered_at = rsvp.answered_at
            await self.session.flush()

    async def answers(self, event_id: int) -> Sequence[WheelRsvp]:
        query = (
            sa.select(WheelRsvp)
            .where(wheel_rsvps.c.event_id == event_id)
            .order_by(wheel_rsvps.c.answered_at)
        )
        return await self._all(query)
