"""The annual wheel in chat, and the scheduler steps that turn it into announced activities.

How the scheduling works (all state in the database, nothing in memory):

- `plan` looks a little ahead from now and arms one announcement timer per
  occurrence (`wheel:<org>:g<generation>:<item>:<date>:announce`), plus the
  next weekly sweep, which plans again. Re-planning arms the same keys, so it
  only moves what changed; a timer that has run is never armed again.
- The announcement timer works the occurrence out again from the current
  templates and adjustments (so a skip or move made after planning wins),
  records a `WheelEvent` once per occurrence, posts it with RSVP buttons and
  arms its reminders. An announcement whose activity has already started is
  skipped and logged; a reminder is skipped once the activity started or when
  a closer reminder has fallen due too.
- Pausing raises nothing; starting again raises the generation, so timers of
  an earlier run do nothing when they fire.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from babel.dates import format_time

from bot.circles.model import EducationKind, PlannedSession
from bot.circles.service import CircleDraft, create_circle
from bot.context import Context, Effects, Refusal, TimerContext
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.formatting import day, when, when_span
from bot.i18n import N_, Translator
from bot.meetings.model import Audience
from bot.meetings.service import MeetingDraft, cancel_meeting, create_meeting, update_meeting
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold, italic
from bot.permissions import Permission
from bot.ports import UnitOfWork
from bot.registry import Access, CommandSpec, Registry, always
from bot.timeread import leading_date
from bot.wheel.model import (
    KIND_NAMES,
    ActivityKind,
    Adjustment,
    AdjustmentKind,
    Answer,
    EffectiveItem,
    Layer,
    Occurrence,
    Template,
    WheelEvent,
    WheelRsvp,
    WheelState,
    WheelTemplateRecord,
    effective_wheel,
    expand,
    find_series_date,
    local_before,
    localize,
    parse_clock,
    parse_template,
    series_dates,
    year_bounds,
)

log = logging.getLogger(__name__)

SWEEP = "wheel.sweep"
ANNOUNCE = "wheel.announce"
REMIND = "wheel.remind"
RSVP = "wheel.rsvp"
SWEEP_EVERY = timedelta(days=7)
SWEEP_AT = time(3, 0)  # local time of the weekly sweep, on Mondays
UPCOMING_SHOWN = 5


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
    registry.action(RSVP, answer_rsvp, Access.CONSENTED)
    registry.timer(SWEEP, sweep, useful_until=always)
    registry.timer(ANNOUNCE, announce, useful_until=announce_useful_until)
    registry.timer(REMIND, remind, useful_until=remind_useful_until)


# --- reading the wheel ------------------------------------------------------------------


async def layers_for(uow: UnitOfWork, org: Organisation) -> list[Layer]:
    """The organisation's lineage from the top down, each with its template and adjustments."""
    assert org.id is not None
    layers: list[Layer] = []
    known: list[str] = []
    for level in reversed(await uow.orgs.lineage(org.id)):
        assert level.id is not None
        record = await uow.wheel.template_of(level.id)
        template: Template | None = None
        if record is not None:
            template = parse_template(record.source, inherited=known)
            known.extend(template.keys())
        adjustments = tuple(await uow.wheel.adjustments_of(level.id))
        layers.append(Layer(level.id, level.slug, template, adjustments))
    return layers


async def effective_items(uow: UnitOfWork, org: Organisation) -> list[EffectiveItem]:
    return effective_wheel(await layers_for(uow, org), org.kind.value)


def occurrence_of(item: EffectiveItem, series: date, org: Organisation) -> Occurrence | None:
    """The occurrence of `item` whose series date is `series`, after skips and moves."""
    if series in item.skipped_dates:
        return None
    for naive in series_dates(item.activity, series.year):
        if naive.date() == series:
            moved = item.moves.get(series)
            start = localize(moved or naive, org.zone)
            return Occurrence(
                item, series, start, start + item.activity.duration, moved is not None
            )
    return None


async def publish_template(
    uow: UnitOfWork, now: datetime, org: Organisation, source: str, by: int | None = None
) -> Template:
    """Validates and stores an organisation's template (raises TemplateError).

    The caller re-plans the running wheels below it (`replan_below`) in the same transaction.
    """
    assert org.id is not None
    known: list[str] = []
    for level in reversed((await uow.orgs.lineage(org.id))[1:]):
        assert level.id is not None
        record = await uow.wheel.template_of(level.id)
        if record is not None:
            known.extend(parse_template(record.source, inherited=known).keys())
    template = parse_template(source, inherited=known)
    await uow.wheel.save_template(
        WheelTemplateRecord(org.id, source, template.name or org.name, now, by)
    )
    return template


async def replan_below(fx: Effects, org: Organisation) -> None:
    """Plans again for every running wheel at or below the organisation."""
    assert org.id is not None
    for below in await fx.uow.orgs.subtree(org.id):
        assert below.id is not None
        settings = await fx.uow.wheel.settings_of(below.id)
        if settings.state is WheelState.RUNNING:
            await plan(fx, below)


# --- the scheduler steps ----------------------------------------------------------------


def next_sweep(now: datetime, org: Organisation) -> datetime:
    local = now.astimezone(org.zone)
    days_ahead = (7 - local.weekday()) % 7 or 7
    return localize(datetime.combine(local.date() + timedelta(days=days_ahead), SWEEP_AT), org.zone)


async def plan(fx: Effects, org: Organisation) -> int:
    """Arms the announcements due before the sweep after next; returns how many."""
    assert org.id is not None
    settings = await fx.uow.wheel.settings_of(org.id)
    items = await effective_items(fx.uow, org)
    now = fx.now
    horizon = now + 2 * SWEEP_EVERY
    longest = max((item.announce for item in items), default=timedelta())
    armed = 0
    for occurrence in expand(items, now, horizon + longest, org.zone):
        due = local_before(occurrence.start, occurrence.item.announce, org.zone)
        if due > horizon or await fx.uow.wheel.event_for(
            org.id, occurrence.key, occurrence.series_date
        ):
            continue  # later: the next sweep arms it; or announced already
        await fx.schedule(
            f"wheel:{org.id}:g{settings.generation}:{occurrence.key}:{occurrence.series_date}:announce",
            ANNOUNCE,
            max(due, now),
            {
                "org": org.id,
                "generation": settings.generation,
                "item": occurrence.key,
                "series": occurrence.series_date.isoformat(),
            },
        )
        armed += 1
    sweep_at = next_sweep(now, org)
    await fx.schedule(
        f"wheel:{org.id}:g{settings.generation}:sweep:{sweep_at.date()}",
        SWEEP,
        sweep_at,
        {"org": org.id, "generation": settings.generation},
    )
    return armed


async def _running_org(fx: Effects, timer: Timer) -> Organisation | None:
    org = await fx.uow.orgs.get(int(timer.payload["org"]))
    if org is None or org.id is None:
        return None
    settings = await fx.uow.wheel.settings_of(org.id)
    if settings.state is not WheelState.RUNNING or settings.generation != timer.payload.get(
        "generation"
    ):
        log.info(
            "wheel timer %s: the wheel of %s is not running; nothing done", timer.key, org.slug
        )
        return None
    return org


async def sweep(fx: TimerContext, timer: Timer) -> None:
    org = await _running_org(fx, timer)
    if org is not None:
        await plan(fx, org)


async def _announced_occurrence(fx: TimerContext, timer: Timer) -> Occurrence | None:
    org = await fx.uow.orgs.get(int(timer.payload["org"]))
    if org is None:
        return None
    key = str(timer.payload["item"])
    series = date.fromisoformat(str(timer.payload["series"]))
    item = next((i for i in await effective_items(fx.uow, org) if i.activity.key == key), None)
    return occurrence_of(item, series, org) if item else None


async def announce_useful_until(fx: TimerContext, timer: Timer) -> datetime | None:
    """An activity is announced only before it starts."""
    occurrence = await _announced_occurrence(fx, timer)
    return occurrence.start if occurrence is not None else None


async def announce(fx: TimerContext, timer: Timer) -> None:
    org = await _running_org(fx, timer)
    if org is None:
        return
    assert org.id is not None
    key = str(timer.payload["item"])
    series = date.fromisoformat(str(timer.payload["series"]))
    occurrence = await _announced_occurrence(fx, timer)
    if occurrence is None:
        log.info("wheel %s: %s %s is no longer in the wheel; not announced", org.slug, key, series)
        return
    if await fx.uow.wheel.event_for(org.id, key, series) is not None:
        return  # announced already: never twice
    activity = occurrence.item.activity
    event = await fx.uow.wheel.add_event(
        WheelEvent(
            org_id=org.id,
            item_key=key,
            series_date=series,
            name=activity.name,
            kind=activity.kind.value,
            start_at=occurrence.start,
            end_at=occurrence.end,
            place=activity.place,
            theme=activity.theme,
            announced_at=fx.now,
        )
    )
    event.linked = await make_concrete(fx, org, occurrence)
    if event.linked is not None:
        return  # a meeting or circle of its own: its announcement, RSVP and reminders
    await fx.post_to_org(
        org,
        lambda t: announcement(t, org, event, occurrence),
        key=f"wheel:{org.id}:{key}:{series}:announce",
    )
    await arm_reminders(fx, org, event, activity.reminders)


MEETING_KINDS = {
    ActivityKind.THEMED_MEETING: Audience.OPEN,
    ActivityKind.ARGUMENTATION: Audience.OPEN,
    ActivityKind.LECTURE: Audience.OPEN,
    ActivityKind.MEMBER_MEETING: Audience.MEMBERS,  # decision meetings are for members
    ActivityKind.ANNUAL_MEETING: Audience.MEMBERS,
}
CIRCLE_SIZE = (3, 12)  # the leader counted: the study association's smallest group, a usual largest


def education_kind(name: str) -> EducationKind:
    folded = name.lower()
    if "steg 2" in folded or "step 2" in folded:
        return EducationKind.MEMBER_EDUCATION_2
    if "steg 1" in folded or "step 1" in folded or "medlemsutbildning" in folded:
        return EducationKind.MEMBER_EDUCATION_1
    if "ledar" in folded or "leader" in folded:
        return EducationKind.LEADERSHIP
    return EducationKind.OTHER


async def make_concrete(fx: Effects, org: Organisation, occurrence: Occurrence) -> str | None:
    """Creates the occurrence as a themed meeting or a study circle, through their own use
    cases (which announce it with RSVP or sign-up and arm its reminders); 'meeting:<id>' or
    'circle:<id>', or None when the wheel announces it itself."""
    assert org.id is not None
    activity = occurrence.item.activity
    t = Translator(org.language)
    origin = t("From the annual wheel of {org}.").format(org=org.name)
    if activity.kind in MEETING_KINDS:
        description = "\n\n".join(
            part
            for part in (
                activity.theme,
                t("Material: {material}").format(material=activity.material)
                if activity.material
                else "",
                origin,
            )
            if part
        )
        meeting = await create_meeting(
            fx,
            org,
            MeetingDraft(
                theme=activity.name,
                starts_at=occurrence.start,
                ends_at=occurrence.end,
                description=description,
                questions=list(activity.questions),
                place=activity.place or None,
                audience=MEETING_KINDS[activity.kind],
            ),
        )
        return f"meeting:{meeting.id}"
    if activity.kind is ActivityKind.STUDY_CIRCLE:
        # Weekly at the same local hour, also across a daylight-saving change.
        starts = [
            local_before(occurrence.start, -timedelta(weeks=n), org.zone)
            for n in range(activity.sessions)
        ]
        sessions = [PlannedSession(s, s + activity.duration) for s in starts]
        deadline = max(fx.now, sessions[0].starts_at - timedelta(days=7))
        circle = await create_circle(
            fx,
            CircleDraft(
                org_id=org.id,
                title=activity.name,
                kind=education_kind(activity.name),
                sessions=sessions,
                min_participants=CIRCLE_SIZE[0],
                max_participants=activity.capacity or CIRCLE_SIZE[1],
                signup_deadline=deadline,
                description="\n\n".join(p for p in (activity.theme, origin) if p),
                material=activity.material,
                place=activity.place or None,
            ),
        )
        return f"circle:{circle.id}"
    return None


async def arm_reminders(
    fx: Effects, org: Organisation, event: WheelEvent, reminders: Sequence[timedelta]
) -> None:
    assert event.id is not None
    stamp = event.start_at.strftime("%Y%m%dT%H%M")
    for before in sorted(reminders, reverse=True):
        due = local_before(event.start_at, before, org.zone)
        if due <= fx.now:
            continue  # the announcement itself is closer to the start than this reminder
        minutes = int(before.total_seconds() // 60)
        await fx.schedule(
            f"wheel:ev{event.id}:remind:{minutes}:{stamp}",
            REMIND,
            due,
            {
                "event": event.id,
                "start": event.start_at.isoformat(),
                "minutes": minutes,
                "all": [int(r.total_seconds() // 60) for r in reminders],
            },
        )


async def remind_useful_until(fx: TimerContext, timer: Timer) -> datetime | None:
    """A reminder is useful until the activity starts, or a closer reminder falls due."""
    event = await fx.uow.wheel.event(int(timer.payload["event"]))
    org = await fx.uow.orgs.get(event.org_id) if event is not None else None
    if event is None or org is None:
        return None
    closer = [m for m in timer.payload.get("all", []) if m < timer.payload["minutes"]]
    if closer:
        return local_before(event.start_at, timedelta(minutes=max(closer)), org.zone)
    return event.start_at


async def remind(fx: TimerContext, timer: Timer) -> None:
    event = await fx.uow.wheel.event(int(timer.payload["event"]))
    if event is None or event.cancelled or event.start_at.isoformat() != timer.payload["start"]:
        return  # cancelled, or moved: the reminders for the new time were armed then
    org = await fx.uow.orgs.get(event.org_id)
    if org is None:
        return
    answers = await fx.uow.wheel.answers(event.id or 0)
    coming = sum(1 for a in answers if a.answer is Answer.YES)
    now = fx.now
    await fx.post_to_org(org, lambda t: reminder(t, org, event, coming, now), key=timer.key)
    for answer in answers:
        if answer.answer is Answer.NO:
            continue
        person = await fx.uow.people.get(answer.person_id)
        if person is not None:
            await fx.notify(person, lambda t: reminder(t, org, event, None, now), key=timer.key)


# --- messages ---------------------------------------------------------------------------


def kind_name(t: Translator, kind: str) -> str:
    try:
        return t(KIND_NAMES[ActivityKind(kind)])
    except ValueError:
        return kind


def span_text(t: Translator, org: Organisation, start: datetime, end: datetime) -> str:
    if end - start >= timedelta(days=1):
        return t("{first} – {last}").format(
            first=day(start, org.zone, t), last=day(end - timedelta(days=1), org.zone, t)
        )
    return when_span(start, end, org.zone, t)


def announcement(
    t: Translator, org: Organisation, event: WheelEvent, occurrence: Occurrence
) -> OutgoingMessage:
    activity = occurrence.item.activity
    text = MessageBuilder().line(bold(activity.name))
    text.line(span_text(t, org, event.start_at, event.end_at))
    if activity.place:
        text.line(t("Place: {place}").format(place=activity.place))
    if activity.theme:
        text.paragraph(activity.theme)
    if activity.material:
        text.line(t("Material: {material}").format(material=activity.material))
    if activity.questions:
        text.paragraph(t("To talk about:"))
        for question in activity.questions:
            text.line(f"• {question}")
    text.paragraph(
        italic(
            t("{kind} in the annual wheel of {org}.").format(
                kind=kind_name(t, event.kind), org=org.name
            )
        )
    )
    text.add(" ", t("Are you coming?"))
    assert event.id is not None
    ident = str(event.id)
    text.button_row(
        Button(t("I'm coming"), Action(RSVP, (ident, Answer.YES.value))),
        Button(t("Maybe"), Action(RSVP, (ident, Answer.MAYBE.value))),
        Button(t("Can't come"), Action(RSVP, (ident, Answer.NO.value))),
    )
    return text.build()


def soon(t: Translator, org: Organisation, start: datetime, now: datetime) -> str:
    """'i dag kl. 18:00', 'i morgon kl. 18:00', else the full date and time."""
    days = (start.astimezone(org.zone).date() - now.astimezone(org.zone).date()).days
    clock = format_time(start.astimezone(org.zone), "HH:mm", locale=t.language)
    if days == 0:
        return t("today at {time}").format(time=clock)
    if days == 1:
        return t("tomorrow at {time}").format(time=clock)
    return when(start, org.zone, t)


def reminder(
    t: Translator, org: Organisation, event: WheelEvent, coming: int | None, now: datetime
) -> OutgoingMessage:
    text = MessageBuilder().line(
        t("Reminder: {name}").format(name=event.name),
        " – ",
        bold(soon(t, org, event.start_at, now)),
    )
    if event.place:
        text.line(t("Place: {place}").format(place=event.place))
    if coming:
        text.line(t("Coming so far: {count}").format(count=coming))
    return text.build()


def changed_notice(t: Translator, org: Organisation, event: WheelEvent) -> OutgoingMessage:
    return (
        MessageBuilder()
        .line(bold(t("Moved: {name}").format(name=event.name)))
        .line(t("New time: {when}").format(when=span_text(t, org, event.start_at, event.end_at)))
        .build()
    )


def cancelled_notice(t: Translator, org: Organisation, event: WheelEvent) -> OutgoingMessage:
    return (
        MessageBuilder()
        .line(
            bold(t("Cancelled: {name}").format(name=event.name)),
            " – ",
            when(event.start_at, org.zone, t),
        )
        .build()
    )


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
    items = await effective_items(ctx.uow, org)
    if not items:
        await ctx.reply(
            MessageBuilder()
            .line(ctx.t("{org} has no annual wheel yet.").format(org=org.name))
            .build()
        )
        return
    if listing:
        await ctx.reply(await wheel_listing(ctx, org, items, year))
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
    upcoming = upcoming[:UPCOMING_SHOWN]
    text = MessageBuilder().line(
        bold(ctx.t("The annual wheel {year} – {org}").format(year=year, org=org.name))
    )
    if upcoming:
        text.line(ctx.t("Next:"))
        for occurrence in upcoming:
            text.line(
                f"• {day(occurrence.start, org.zone, ctx.t)}: {occurrence.item.activity.name}"
            )
    state = (await ctx.uow.wheel.settings_of(org.id or 0)).state
    if state is not WheelState.RUNNING and Permission.MANAGE_WHEEL in await ctx.permissions():
        text.paragraph(
            italic(ctx.t("Not announced here yet: start it with /arshjul_start."))
            if state is WheelState.OFF
            else italic(ctx.t("Paused: start it again with /arshjul_start."))
        )
    text.attach(Attachment(f"arshjul-{year}.png", "image/png", picture))
    await ctx.reply(text.build())


async def wheel_listing(
    ctx: Context, org: Organisation, items: Sequence[EffectiveItem], year: int
) -> OutgoingMessage:
    start, end = year_bounds(year, org.zone)
    occurrences = expand(items, start, end, org.zone)
    counts: dict[str, int] = {}
    for occurrence in occurrences:
        counts[occurrence.key] = counts.get(occurrence.key, 0) + 1
    text = MessageBuilder().line(
        bold(ctx.t("The annual wheel {year} – {org}").format(year=year, org=org.name))
    )
    for item in items:
        if not counts.get(item.activity.key):
            continue
        activity = item.activity
        origin = "" if item.origin == org.slug else f" ({item.origin})"
        text.line(
            f"• {activity.name}: {activity.when.text}, {activity.at:%H:%M} [{activity.key}]{origin}"
        )
    text.paragraph(ctx.t("Skip or move with the key: /arshjul_hoppa filmklubb 2026-05-29"))
    return text.build()


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
        raise Refusal(ctx.t("Write the activity's key, e.g. /arshjul_hoppa filmklubb 2026-05-29."))
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


def _circle_refusal(ctx: Context, event: WheelEvent) -> Refusal:
    return Refusal(
        ctx.t(
            "{name} is already a study circle with its own sign-up. Move its sessions with "
            "/flytta_cirkeltraff, or ask its leader."
        ).format(name=event.name)
    )


async def cancel_concrete(ctx: Context, org: Organisation, event: WheelEvent) -> None:
    """Cancels an announced occurrence, through the meeting when it became one."""
    kind, _, ident = (event.linked or "").partition(":")
    if kind == "circle":
        raise _circle_refusal(ctx, event)
    event.cancelled = True
    if kind == "meeting":
        meeting = await ctx.uow.meetings.get(int(ident))
        if meeting is not None and not meeting.cancelled:
            await cancel_meeting(ctx, meeting)
        return
    await ctx.post_to_org(
        org, lambda t: cancelled_notice(t, org, event), key=f"wheel:ev{event.id}:cancelled"
    )


async def move_concrete(
    ctx: Context, org: Organisation, event: WheelEvent, item: EffectiveItem, start: datetime
) -> None:
    """Moves an announced occurrence, through the meeting when it became one."""
    kind, _, ident = (event.linked or "").partition(":")
    if kind == "circle":
        raise _circle_refusal(ctx, event)
    duration = event.end_at - event.start_at
    event.start_at, event.end_at = start, start + duration
    if kind == "meeting":
        meeting = await ctx.uow.meetings.get(int(ident))
        if meeting is not None and not meeting.cancelled:
            meeting.starts_at, meeting.ends_at = start, start + duration
            await update_meeting(ctx, meeting, ["time"])
        return
    await ctx.post_to_org(
        org,
        lambda t: changed_notice(t, org, event),
        key=f"wheel:ev{event.id}:moved:{event.start_at:%Y%m%dT%H%M}",
    )
    await arm_reminders(ctx, org, event, item.activity.reminders)


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


async def answer_rsvp(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or not args[0].isdecimal() or args[1] not in {a.value for a in Answer}:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    event = await ctx.uow.wheel.event(int(args[0]))
    if event is None or event.id is None or event.cancelled:
        raise Refusal(ctx.t("That activity is no longer on."))
    if event.start_at <= ctx.now:
        raise Refusal(ctx.t("That activity has already started."))
    org = await ctx.uow.orgs.get(event.org_id)
    if org is None:
        raise Refusal(ctx.t("That activity is no longer on."))
    answer = Answer(args[1])
    await ctx.uow.wheel.answer(WheelRsvp(event.id, ctx.person_id, answer, ctx.now))
    name = ctx.person.display_name
    texts = {
        Answer.YES: ctx.t("{person} is coming to {name}. Welcome!"),
        Answer.MAYBE: ctx.t("{person} might come to {name}."),
        Answer.NO: ctx.t("{person} can't come to {name} this time."),
    }
    await ctx.reply(
        MessageBuilder().line(texts[answer].format(person=name, name=event.name)).build()
    )


# --- the demo ---------------------------------------------------------------------------


def default_template_source() -> str:
    from importlib.resources import files

    return files("bot.wheel").joinpath("default.toml").read_text(encoding="utf-8")


async def seed_demo_wheel(uow: UnitOfWork, now: datetime, party: Organisation) -> None:
    """Publishes the default wheel on the party level; no branch runs it until it starts it
    (/arshjul_start), so the demo's other flows see no announcements of it."""
    await publish_template(uow, now, party, default_template_source())
