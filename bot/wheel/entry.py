"""The annual wheel in chat: /arshjul and the organisers' commands, and RSVP buttons.

The use cases and the scheduler steps are in `bot.wheel.service`, the messages in
`bot.wheel.views`.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time
from typing import Any

from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.formatting import day, when
from bot.i18n import N_
from bot.messages import MessageBuilder
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry, always
from bot.timeread import leading_date
from bot.wheel.model import (
    Adjustment,
    AdjustmentKind,
    Answer,
    EffectiveItem,
    Occurrence,
    WheelEvent,
    WheelRsvp,
    WheelState,
    expand,
    find_series_date,
    localize,
    year_bounds,
)
from bot.wheel.service import (
    ANNOUNCE,
    REMIND,
    SWEEP,
    WHEEL_EVENT,
    WHEEL_ORG,
    announce,
    announce_useful_until,
    cancel_concrete,
    effective_items,
    move_concrete,
    plan,
    remind,
    remind_useful_until,
    replan_below,
    sweep,
)
from bot.wheel.views import RSVP, YEAR, rsvp_noted, wheel_listing, wheel_summary
from bot.wheel.when import parse_clock

UPCOMING_SHOWN = 5
NEXT_YEAR_FROM = 11  # from November on, /arshjul also offers next year's wheel


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "arshjul",
            "wheel",
            N_("The annual wheel as a picture; /wheel list for every activity"),
            show_wheel,
            Access.CONSENTED,
            usage=N_("[year | list]"),
        )
    )
    registry.command(
        CommandSpec(
            "arshjul_start",
            "wheel_start",
            N_("Start the annual wheel here: its activities are announced in this chat"),
            start_wheel,
            Permission.MANAGE_WHEEL,
        )
    )
    registry.command(
        CommandSpec(
            "arshjul_paus",
            "wheel_pause",
            N_("Pause the annual wheel: no new announcements"),
            pause_wheel,
            Permission.MANAGE_WHEEL,
        )
    )
    registry.command(
        CommandSpec(
            "arshjul_hoppa",
            "wheel_skip",
            N_("Skip an activity here, or one date of it"),
            skip_item,
            Permission.MANAGE_WHEEL,
            usage=N_("<key> [date]"),
        )
    )
    registry.command(
        CommandSpec(
            "arshjul_flytta",
            "wheel_move",
            N_("Move one date of an activity"),
            move_item,
            Permission.MANAGE_WHEEL,
            usage=N_("<key> <date> <new date> [time]"),
        )
    )
    registry.command(
        CommandSpec(
            "arshjul_andra",
            "wheel_change",
            N_("Change an activity's place or time here"),
            change_item,
            Permission.MANAGE_WHEEL,
            usage=N_("<key> plats|tid <value>"),
        )
    )
    registry.action(RSVP, answer_rsvp, Access.CONSENTED, args=(WHEEL_EVENT, Answer))
    registry.action(YEAR, show_year, Access.CONSENTED, args=(WHEEL_ORG, int))
    registry.timer(SWEEP, sweep, useful_until=always)
    registry.timer(ANNOUNCE, announce, useful_until=announce_useful_until)
    registry.timer(REMIND, remind, useful_until=remind_useful_until)


# --- chat commands ----------------------------------------------------------------------


def _org(ctx: Context) -> Organisation:
    if ctx.org is None or ctx.org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    return ctx.org


async def show_wheel(ctx: Context, args: str) -> None:
    org = _org(ctx)
    words = args.lower().split()
    today = ctx.now.astimezone(org.zone)
    year = today.year
    listing = bool(words) and words[0] in ("lista", "list")
    rest = words[1:] if listing else words
    if rest:
        if not re.fullmatch(r"[0-9]{4}", rest[0]) or not 2000 <= int(rest[0]) <= 2100:
            raise Refusal(ctx.t("Write a year, e.g. /arshjul 2027."))
        year = int(rest[0])
    await send_wheel(ctx, org, year, listing=listing)


async def show_year(ctx: Context, args: tuple[Any, ...]) -> None:
    """The button under /arshjul from November on: the coming year's wheel."""
    org, year = args  # read by the core: (WHEEL_ORG, int)
    if not 2000 <= year <= 2100:
        raise Refusal(ctx.t("Write a year, e.g. /arshjul 2027."))
    await send_wheel(ctx, org, year, listing=False)


async def send_wheel(ctx: Context, org: Organisation, year: int, *, listing: bool) -> None:
    today = ctx.now.astimezone(org.zone)
    items = await effective_items(ctx.uow, org)
    may_manage = Permission.MANAGE_WHEEL in await ctx.permissions(org)
    if not items:
        await ctx.reply(
            MessageBuilder()
            .line(ctx.t("{org} has no annual wheel yet.").format(org=org.name))
            .build()
        )
        return
    if listing:
        await ctx.reply(wheel_listing(ctx.t, org, items, year, organiser=may_manage, now=ctx.now))
        return
    start, end = year_bounds(year, org.zone)
    occurrences = expand(items, start, end, org.zone)
    from bot.render.wheel_picture import (
        render_wheel,
    )  # matplotlib is slow to import: only when drawn

    # Drawing takes a moment: in a worker thread, so the bot keeps answering others meanwhile.
    picture = await asyncio.to_thread(
        render_wheel,
        occurrences,
        year=year,
        zone=org.zone,
        t=ctx.t,
        title=ctx.t("Annual wheel {year}").format(year=year),
        today=today.date() if today.year == year else None,
    )
    upcoming: list[Occurrence] = []
    for occurrence in occurrences:  # the next few activities, each once (a weekly one too)
        if occurrence.start >= ctx.now and all(o.key != occurrence.key for o in upcoming):
            upcoming.append(occurrence)
    state = (await ctx.uow.wheel.settings_of(org.id or 0)).state
    await ctx.reply(
        wheel_summary(
            ctx.t,
            org,
            year,
            upcoming[:UPCOMING_SHOWN],
            state if state is not WheelState.RUNNING and may_manage else None,
            picture,
            next_year=year == today.year and today.month >= NEXT_YEAR_FROM,
        )
    )


async def start_wheel(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    items = await effective_items(ctx.uow, org)
    if not items:
        raise Refusal(ctx.t("{org} has no annual wheel yet.").format(org=org.name))
    settings = await ctx.uow.wheel.settings_of(org.id)
    if settings.state is WheelState.RUNNING:
        await ctx.reply(
            MessageBuilder().line(ctx.t("The annual wheel is already running here.")).build()
        )
        return
    settings.state = WheelState.RUNNING
    settings.generation += 1
    settings.updated_at = ctx.now
    await ctx.uow.wheel.save_settings(settings)
    armed = await plan(ctx, org)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t(
                "The annual wheel is running in {org}: each activity is announced in the group "
                "chat ahead of time, with reminders."
            ).format(org=org.name)
        )
        .line(
            ctx.t.ngettext(
                "{count} announcement is planned for the next two weeks.",
                "{count} announcements are planned for the next two weeks.",
                armed,
            ).format(count=armed)
            if armed
            else ctx.t("Nothing is due for announcement in the next two weeks.")
        )
        .build()
    )


async def pause_wheel(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    settings = await ctx.uow.wheel.settings_of(org.id)
    if settings.state is not WheelState.RUNNING:
        raise Refusal(ctx.t("The annual wheel isn't running here."))
    settings.state = WheelState.PAUSED
    settings.updated_at = ctx.now
    await ctx.uow.wheel.save_settings(settings)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t(
                "The annual wheel is paused in {org}: nothing new is announced. What is "
                "already announced still gets its reminders. Start again with /arshjul_start."
            ).format(org=org.name)
        )
        .build()
    )


def parse_day(ctx: Context, org: Organisation, words: list[str]) -> tuple[date, list[str]] | None:
    """A date of this year's series at the start of `words` ('2026-05-29', '29/5', '29 maj')."""
    return leading_date(words, ctx.now, org.zone, rolling=False, allow_past=True)


async def _item(ctx: Context, org: Organisation, key: str) -> EffectiveItem:
    items = await effective_items(ctx.uow, org)
    found = next((i for i in items if i.activity.key == key.lower()), None)
    if found is None:
        keys = ", ".join(i.activity.key for i in items)
        raise Refusal(
            ctx.t("There is no activity {key} in the wheel here. The keys are: {keys}").format(
                key=key, keys=keys
            )
        )
    return found


async def skip_item(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    words = args.split()
    if not words:
        raise Refusal(
            ctx.t(
                "Write the activity's key, and a date to skip only that one. /arshjul lista "
                "shows the keys."
            )
        )
    item = await _item(ctx, org, words[0])
    if len(words) == 1:
        await ctx.uow.wheel.add_adjustment(
            Adjustment(
                org.id,
                item.activity.key,
                AdjustmentKind.SKIP,
                None,
                created_at=ctx.now,
                created_by=ctx.person_id,
            )
        )
        await replan_below(ctx, org)
        await ctx.reply(
            MessageBuilder()
            .line(
                ctx.t("{name} is taken out of the wheel in {org}.").format(
                    name=item.activity.name, org=org.name
                )
            )
            .build()
        )
        return
    parsed = parse_day(ctx, org, words[1:])
    series = find_series_date(item, parsed[0]) if parsed else None
    if parsed is None or series is None:
        raise Refusal(
            ctx.t("{name} has no date {date}. See the dates with /arshjul lista.").format(
                name=item.activity.name, date=" ".join(words[1:])
            )
        )
    await ctx.uow.wheel.add_adjustment(
        Adjustment(
            org.id,
            item.activity.key,
            AdjustmentKind.SKIP,
            series,
            created_at=ctx.now,
            created_by=ctx.person_id,
        )
    )
    event = await ctx.uow.wheel.event_for(org.id, item.activity.key, series)
    if event is not None and not event.cancelled and event.start_at > ctx.now:
        await cancel_concrete(ctx, org, event)
    await replan_below(ctx, org)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t("{name} on {date} is skipped; the rest of the series stays.").format(
                name=item.activity.name,
                date=day(localize(datetime.combine(series, time(12)), org.zone), org.zone, ctx.t),
            )
        )
        .build()
    )


async def move_item(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    words = args.split()
    usage = ctx.t(
        "Write the key, the date and the new date, e.g. /arshjul_flytta arsmote 2026-03-19 2026-03-26 19:00."
    )
    if len(words) < 3:
        raise Refusal(usage)
    item = await _item(ctx, org, words[0])
    first = parse_day(ctx, org, words[1:])
    if first is None:
        raise Refusal(usage)
    series = find_series_date(item, first[0])
    if series is None:
        raise Refusal(
            ctx.t("{name} has no date {date}. See the dates with /arshjul lista.").format(
                name=item.activity.name, date=words[1]
            )
        )
    second = parse_day(ctx, org, first[1])
    if second is None:
        raise Refusal(usage)
    new_day, rest = second
    try:
        at = parse_clock(" ".join(rest)) if rest else item.activity.at
    except ValueError:
        raise Refusal(usage) from None
    new_start = datetime.combine(new_day, at)
    if localize(new_start, org.zone) <= ctx.now:
        raise Refusal(ctx.t("The new time has already passed."))
    await ctx.uow.wheel.add_adjustment(
        Adjustment(
            org.id,
            item.activity.key,
            AdjustmentKind.MOVE,
            series,
            new_start=new_start.isoformat(timespec="minutes"),
            created_at=ctx.now,
            created_by=ctx.person_id,
        )
    )
    event = await ctx.uow.wheel.event_for(org.id, item.activity.key, series)
    if event is not None and not event.cancelled and event.start_at > ctx.now:
        await move_concrete(ctx, org, event, item, localize(new_start, org.zone))
    await replan_below(ctx, org)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t("{name} is moved to {when}; the rest of the series stays.").format(
                name=item.activity.name, when=when(localize(new_start, org.zone), org.zone, ctx.t)
            )
        )
        .build()
    )


CHANGE_FIELDS = {"plats": "place", "place": "place", "tid": "time", "time": "time"}


async def change_item(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    words = args.split(maxsplit=2)
    if len(words) < 3 or words[1].lower() not in CHANGE_FIELDS:
        raise Refusal(
            ctx.t(
                "Write the key, plats or tid, and the new value, e.g. /arshjul_andra arsmote plats Folkets hus."
            )
        )
    item = await _item(ctx, org, words[0])
    field = CHANGE_FIELDS[words[1].lower()]
    value = words[2].strip()[:300]
    if field == "time":
        try:
            value = parse_clock(value).strftime("%H:%M")
        except ValueError:
            raise Refusal(ctx.t("Write the time like 18:30.")) from None
    await ctx.uow.wheel.add_adjustment(
        Adjustment(
            org.id,
            item.activity.key,
            AdjustmentKind.CHANGE,
            field=field,
            value=value,
            created_at=ctx.now,
            created_by=ctx.person_id,
        )
    )
    await replan_below(ctx, org)
    text = (
        ctx.t("{name} in {org} is now at {value}.")
        if field == "place"
        else ctx.t("{name} in {org} now starts at {value}.")
    )
    await ctx.reply(
        MessageBuilder()
        .line(text.format(name=item.activity.name, org=org.name, value=value))
        .line(ctx.t("Already announced dates keep their details."))
        .build()
    )


async def answer_rsvp(ctx: Context, args: tuple[Any, ...]) -> None:
    event, answer = args  # read by the core: (WHEEL_EVENT, Answer)
    assert isinstance(event, WheelEvent) and event.id is not None
    if event.cancelled:
        raise Refusal(ctx.t("That activity is no longer on."))
    if event.start_at <= ctx.now:
        raise Refusal(ctx.t("That activity has already started."))
    await ctx.uow.wheel.answer(WheelRsvp(event.id, ctx.person_id, answer, ctx.now))
    await ctx.reply(rsvp_noted(ctx.t, ctx.person.display_name, event, answer))
