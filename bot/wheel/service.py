"""The annual wheel's use cases: reading the effective wheel, publishing templates, and the
scheduler steps that turn it into announced activities. Chat (`bot.wheel.entry`), the
command line (`samtal wheel`), the calendar feed and the demo come through here.

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

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from bot.actions import Target
from bot.circles.model import EducationKind, PlannedSession
from bot.circles.service import CircleDraft, create_circle
from bot.context import Context, Effects, Refusal, TimerContext
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.i18n import Translator
from bot.meetings.model import Audience
from bot.meetings.service import MeetingDraft, cancel_meeting, create_meeting, update_meeting
from bot.ports import UnitOfWork
from bot.wheel.model import (
    ActivityKind,
    Answer,
    EffectiveItem,
    Layer,
    Occurrence,
    Template,
    WheelEvent,
    WheelState,
    WheelTemplateRecord,
    effective_wheel,
    expand,
    local_before,
    localize,
    series_dates,
)
from bot.wheel.template import parse_template
from bot.wheel.views import (
    MEETING_WORDING,
    announcement,
    cancelled_notice,
    changed_notice,
    reminder,
)

log = logging.getLogger(__name__)

SWEEP = "wheel.sweep"
ANNOUNCE = "wheel.announce"
REMIND = "wheel.remind"
SWEEP_EVERY = timedelta(days=7)
SWEEP_AT = time(3, 0)  # local time of the weekly sweep, on Mondays

# What an RSVP button acts on: an announced occurrence, in its organisation.
WHEEL_EVENT: Target[WheelEvent] = Target(
    load=lambda fx, event_id: fx.uow.wheel.event(event_id),
    org_id=lambda event: event.org_id,
)


# What the next-year button acts on: the organisation whose wheel it shows.
WHEEL_ORG: Target[Organisation] = Target(
    load=lambda fx, org_id: fx.uow.orgs.get(org_id),
    org_id=lambda org: org.id or 0,
)


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
    ActivityKind.CHAIRS_MEETING: Audience.MEMBERS,
}
CIRCLE_SIZE = (3, 12)  # the leader counted: the study association's smallest group, a usual largest


def education_kind(name: str) -> EducationKind:
    folded = name.lower()
    if "steg 2" in folded or "step 2" in folded:
        return EducationKind.MEMBER_EDUCATION_2
    if "steg 1" in folded or "step 1" in folded or "medlemsutbildning" in folded:
        return EducationKind.MEMBER_EDUCATION_1
    if "ledar" in folded or "leader" in folded or "funktionsutbildning" in folded:
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
        heading, wording = MEETING_WORDING[activity.kind]
        description = "\n\n".join(
            part
            for part in (
                t(wording),
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
                heading=heading,
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
    people = [
        await fx.uow.people.get(answer.person_id)
        for answer in answers
        if answer.answer is not Answer.NO
    ]
    await fx.notify_each(
        [p for p in people if p is not None],
        lambda t: reminder(t, org, event, None, now),
        key=timer.key,
    )


# --- announced occurrences changed in chat ------------------------------------------------


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


# --- the packaged templates ----------------------------------------------------------------

# The defaults by level: the party's and a district's (a branch writes its own).
DEFAULT_TEMPLATES = {"party": "default.toml", "district": "district.toml"}


def default_template_source(level: str = "party") -> str:
    from importlib.resources import files

    return files("bot.wheel").joinpath(DEFAULT_TEMPLATES[level]).read_text(encoding="utf-8")
