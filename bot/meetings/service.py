"""Use cases for themed meetings, callable without a chat: create, change, cancel, answer.

The chat handlers (`bot.meetings.entry`) and the annual wheel both come
through here. Everything takes an `Effects` (a `Context` is one), so a timer
or a scheduler can create meetings as well as a person in a dialog can.

Timers, keyed by the meeting's version so a moved meeting gets fresh ones and
the old ones do nothing (their handlers check the version too):

- `meeting:<id>:v<version>:remind:<minutes>` reminders to those coming or maybe;
- `meeting:<id>:v<version>:checkin` at the start: the check-in button;
- `meeting:<id>:v<version>:followup` after the end: rating and comment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import Target
from bot.context import Context, Effects, MessageFor, Refusal
from bot.domain.organisations import Organisation
from bot.domain.people import Person, Status
from bot.i18n import Translator
from bot.meetings import views
from bot.meetings.by_email import invite_by_email
from bot.meetings.model import (
    ANSWERED,
    DEFAULT_REMINDER_MINUTES,
    FOLLOW_UP_AFTER,
    Answer,
    Audience,
    Meeting,
    MeetingStatus,
    MeetingThread,
    Rsvp,
    reminder_times,
    visible_to,
)
from bot.meetings.views import add_facts as add_facts
from bot.meetings.views import rsvp_buttons as rsvp_buttons
from bot.messages import OutgoingMessage
from bot.parsing import parse_id
from bot.permissions import Permission, permissions_in

REMINDER = "meeting.reminder"
# The answers that hold a place or wait for one: all that capacity and the waitlist depend on.
HOLDING = (Answer.COMING, Answer.WAITLISTED)
CHECK_IN = "meeting.checkin"
FOLLOW_UP = "meeting.followup"


@dataclass
class MeetingDraft:
    """What an organiser (or the annual wheel) decides about a new meeting."""

    theme: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    questions: list[str] = field(default_factory=list)
    place: str | None = None
    link: str | None = None
    audience: Audience = Audience.OPEN
    capacity: int | None = None
    # The announcement's heading, a message id (N_): the annual wheel names its kinds
    # ("Kallelse till årsmöte", "Föreläsning", ...).
    heading: str = views.NEW_MEETING


async def create_meeting(
    fx: Effects,
    org: Organisation,
    draft: MeetingDraft,
    *,
    created_by: int | None = None,
    announce: bool = True,
) -> Meeting:
    """Creates a meeting hosted by `org`, schedules its reminders, check-in and follow-up,
    and (with `announce`) posts it with RSVP buttons in the organisation's group channels,
    followed by its discussion questions as the meeting's thread there.

    Callable from anywhere in the core without a dialog, e.g. the annual wheel:
    `await create_meeting(Effects(uow, clock), org, MeetingDraft(theme, start, end, ...))`.
    Times are aware instants; the caller checks permissions.
    """
    assert org.id is not None
    meeting = await fx.uow.meetings.add(
        Meeting(
            org_id=org.id,
            theme=draft.theme,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            description=draft.description,
            questions=list(draft.questions),
            place=draft.place,
            link=draft.link,
            audience=draft.audience,
            capacity=draft.capacity,
            created_by=created_by,
            created_at=fx.now,
            updated_at=fx.now,
        )
    )
    await schedule_timers(fx, meeting)
    if announce:
        await announce_meeting(fx, meeting, org, heading=draft.heading)
    return meeting


async def announce_meeting(
    fx: Effects, meeting: Meeting, org: Organisation, *, heading: str = views.NEW_MEETING
) -> None:
    """Posts the meeting in the organisation's channels, then its questions: the meeting's thread."""
    assert meeting.id is not None and org.id is not None
    key = announcement_key(meeting)
    await fx.post_to_org(org, lambda t: views.announcement(t, meeting, org, heading), key=key)
    await invite_by_email(fx, meeting, org)
    for channel in await fx.uow.orgs.channels_of(org.id):
        await fx.uow.meetings.add_thread(
            MeetingThread(
                meeting.id,
                channel.platform,
                channel.chat_id,
                f"{key}:{channel.platform}:{channel.chat_id}",
            )
        )
    if meeting.questions:
        await post_questions(fx, meeting, org)


async def post_questions(fx: Effects, meeting: Meeting, org: Organisation) -> None:
    """The discussion questions, in the meeting's thread (once per version of the meeting)."""
    key = announcement_key(meeting)
    suffix = f":v{meeting.version}" if meeting.version else ""
    await fx.post_to_org(
        org,
        lambda t: views.discussion(t, meeting, key),
        key=f"meeting:{meeting.id}:thread{suffix}",
    )


def announcement_key(meeting: Meeting) -> str:
    return f"meeting:{meeting.id}:announce"


async def reader_zone(fx: Effects, person: Person, org: Organisation) -> ZoneInfo:
    """The reader's time zone: their home organisation's, else the meeting's."""
    home = await fx.home_org(person)
    return (home or org).zone


# --- Who may see a meeting ------------------------------------------------------


async def member_orgs(fx: Effects, person: Person) -> set[int]:
    """The organisations whose members-only meetings a person sees as a member: none for a
    guest; for a member, the organisations they belong to and every one above."""
    if person.status is not Status.MEMBER or person.id is None:
        return set()
    found: set[int] = set()
    for affiliation in await fx.uow.people.affiliations_of(person.id):
        found.update(o.id for o in await fx.uow.orgs.lineage(affiliation.org_id) if o.id)
    return found


async def may_see(fx: Effects, person: Person, meeting: Meeting) -> bool:
    """Whether this person may know of the meeting at all (see `visible_to`)."""
    if meeting.is_open_to_guests():
        return True
    if visible_to(meeting, await member_orgs(fx, person)):
        return True
    assert person.id is not None
    lineage = [o.id for o in await fx.uow.orgs.lineage(meeting.org_id) if o.id is not None]
    roles = await fx.uow.people.roles_of(person.id)
    return Permission.MANAGE_MEETINGS in permissions_in(lineage, roles)


async def org_of(fx: Effects, meeting: Meeting) -> Organisation:
    org = await fx.uow.orgs.get(meeting.org_id)
    assert org is not None
    return org


# --- Finding meetings ----------------------------------------------------------------


async def _load(fx: Effects, meeting_id: int) -> Meeting | None:
    return await fx.uow.meetings.get(meeting_id)


async def _may_see(ctx: Context, meeting: Meeting) -> bool:
    return await may_see(ctx, ctx.person, meeting)


async def _load_answering(fx: Effects, meeting_id: int) -> Meeting | None:
    if not isinstance(fx, Context):
        return await _load(fx, meeting_id)
    return await fx.uow.meetings.get_answering(meeting_id, fx.person_id)


# What a meeting's buttons act on: a members-only meeting this person may not see reads
# as gone; an organiser's buttons are checked in the meeting's own organisation.
MEETING: Target[Meeting] = Target(load=_load, org_id=lambda m: m.org_id, visible=_may_see)
# An answer button under a post the person saw: the answer itself tells a guest why not.
# Loaded for the answer that follows (`answer_in_line` then reads no more).
POSTED_MEETING: Target[Meeting] = Target(load=_load_answering, org_id=lambda m: m.org_id)


async def find_meeting(ctx: Context, raw: str, *, to_group: bool = False) -> Meeting:
    """The meeting a typed number names, if this person may know of it.

    A members-only meeting this person may not see gets the same answer as one that does
    not exist. `to_group`: the answer is shown to a whole group, where guests may be:
    only open meetings then."""
    meeting_id = parse_id(raw)
    meeting = await ctx.uow.meetings.get(meeting_id) if meeting_id else None
    if (
        meeting is not None
        and not meeting.is_open_to_guests()
        and (to_group or not await may_see(ctx, ctx.person, meeting))
    ):
        meeting = None
    if meeting is None:
        raise Refusal(ctx.t("I can't find that meeting. Write /moten to see what's coming."))
    return meeting


async def organiser_org(ctx: Context, meeting: Meeting) -> Organisation:
    """The meeting's organisation, where this person must be allowed to manage meetings."""
    org = await org_of(ctx, meeting)
    await ctx.require(Permission.MANAGE_MEETINGS, org)
    return org


async def visible(ctx: Context, meetings: Sequence[Meeting]) -> list[Meeting]:
    """The meetings this answer may show: in a group only open ones, in private those the
    person may see."""
    if not ctx.chat.is_private:
        return [m for m in meetings if m.is_open_to_guests()]
    return [m for m in meetings if await may_see(ctx, ctx.person, m)]


async def visible_org_ids(ctx: Context) -> list[int]:
    """Whose meetings this person sees: in a group, the channel's organisation and those above;
    in private, their own organisations and those above, and wherever they organise."""
    roots: list[int] = []
    if not ctx.chat.is_private and ctx.org is not None and ctx.org.id is not None:
        roots = [ctx.org.id]
    else:
        roots = [a.org_id for a in await ctx.uow.people.affiliations_of(ctx.person_id)]
    found: list[int] = []
    for org_id in roots:
        for org in await ctx.uow.orgs.lineage(org_id):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    if ctx.chat.is_private:
        for org in await hosting_orgs(ctx):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    return found


async def hosting_orgs(ctx: Context) -> list[Organisation]:
    """The organisations where this person may plan meetings (where they organise, and below)."""
    found: list[Organisation] = []
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        for org in await ctx.uow.orgs.subtree(role.org_id):
            if all(o.id != org.id for o in found) and await ctx.meets(
                Permission.MANAGE_MEETINGS, org
            ):
                found.append(org)
    return found


# --- Settings -----------------------------------------------------------------


async def reminder_minutes(fx: Effects, org_id: int) -> list[int]:
    """The organisation's reminder offsets, inherited from the nearest one above that set them."""
    for org in await fx.uow.orgs.lineage(org_id):
        assert org.id is not None
        settings = await fx.uow.meetings.settings(org.id)
        if settings is not None:
            return list(settings.reminder_minutes)
    return list(DEFAULT_REMINDER_MINUTES)


# --- Timers -------------------------------------------------------------------


def timer_prefix(meeting: Meeting, version: int | None = None) -> str:
    return f"meeting:{meeting.id}:v{meeting.version if version is None else version}"


async def schedule_timers(fx: Effects, meeting: Meeting) -> None:
    prefix = timer_prefix(meeting)
    payload = {"meeting_id": meeting.id, "version": meeting.version}
    offsets = await reminder_minutes(fx, meeting.org_id)
    for minutes in offsets:
        for due in reminder_times(meeting.starts_at, [minutes], fx.now):
            await fx.schedule(
                f"{prefix}:remind:{minutes}", REMINDER, due, {**payload, "minutes": minutes}
            )
    await fx.schedule(f"{prefix}:checkin", CHECK_IN, max(meeting.starts_at, fx.now), payload)
    await fx.schedule(f"{prefix}:followup", FOLLOW_UP, meeting.ends_at + FOLLOW_UP_AFTER, payload)


async def cancel_timers(fx: Effects, meeting: Meeting, version: int) -> None:
    """Cancels the pending timers of one version (done ones stay done)."""
    prefix = timer_prefix(meeting, version)
    offsets = set(await reminder_minutes(fx, meeting.org_id)) | set(DEFAULT_REMINDER_MINUTES)
    for minutes in offsets:
        await fx.uow.timers.cancel(f"{prefix}:remind:{minutes}")
    await fx.uow.timers.cancel(f"{prefix}:checkin")
    await fx.uow.timers.cancel(f"{prefix}:followup")


async def reschedule_reminders(fx: Effects, meeting: Meeting, old_offsets: Sequence[int]) -> None:
    """After an organisation changes its reminder setting: the new offsets for an upcoming meeting."""
    prefix = timer_prefix(meeting)
    for minutes in old_offsets:
        await fx.uow.timers.cancel(f"{prefix}:remind:{minutes}")
    await schedule_timers(fx, meeting)


# --- Changes --------------------------------------------------------------------


async def update_meeting(
    fx: Effects, meeting: Meeting, changed: Sequence[str], *, notify: bool = True
) -> None:
    """Call after changing a meeting's fields: raises its version, moves its timers,
    promotes from the waitlist if places opened, and tells everyone who answered.

    `changed` names what changed, for the notice ('time', 'place', 'theme', ...).
    """
    old = meeting.version
    await cancel_timers(fx, meeting, old)
    meeting.version = old + 1
    meeting.updated_at = fx.now
    await schedule_timers(fx, meeting)
    org = await org_of(fx, meeting)
    await promote_waiting(fx, meeting, org)
    if notify:
        await announce_change(fx, meeting, org, changed)


async def announce_change(
    fx: Effects, meeting: Meeting, org: Organisation, changed: Sequence[str]
) -> None:
    assert meeting.id is not None
    key = f"meeting:{meeting.id}:v{meeting.version}:changed"
    await notify_answered(
        fx,
        meeting,
        org,
        ANSWERED,
        lambda t, zone: views.changed(t, meeting, org, zone, changed),
        key,
    )
    await fx.post_to_org(
        org,
        _with_event(
            lambda t: views.changed(t, meeting, org, org.zone, changed, in_group=True), meeting, org
        ),
        key=key,
    )


def _with_event(build: MessageFor, meeting: Meeting, org: Organisation) -> MessageFor:
    """The channel's notice also updates (or cancels) the event made with the announcement."""

    def with_event(t: Translator) -> OutgoingMessage:
        return replace(
            build(t), event=views.calendar_event(meeting, org), refers_to=announcement_key(meeting)
        )

    return with_event


async def cancel_meeting(fx: Effects, meeting: Meeting) -> int:
    """Cancels the meeting, its timers, and tells everyone who answered; returns how many."""
    assert meeting.id is not None
    await cancel_timers(fx, meeting, meeting.version)
    meeting.status = MeetingStatus.CANCELLED
    meeting.version += 1
    meeting.updated_at = fx.now
    org = await org_of(fx, meeting)
    key = f"meeting:{meeting.id}:cancelled"
    told = await notify_answered(
        fx, meeting, org, ANSWERED, lambda t, zone: views.cancelled(t, meeting, org, zone), key
    )
    await fx.post_to_org(
        org,
        _with_event(
            lambda t: views.cancelled(t, meeting, org, org.zone, in_group=True), meeting, org
        ),
        key=key,
    )
    return told


async def notify_answered(
    fx: Effects,
    meeting: Meeting,
    org: Organisation,
    answers: Sequence[Answer],
    build: Callable[[Translator, ZoneInfo], OutgoingMessage],
    key: str,
) -> int:
    """Tells each person who gave one of `answers`, with times in their own zone."""
    told = 0
    for person in await answered_people(fx, meeting, answers):
        zone = await reader_zone(fx, person, org)

        def in_zone(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            return build(t, zone)

        told += await fx.notify(person, in_zone, key=key)
    return told


async def answered_people(fx: Effects, meeting: Meeting, answers: Sequence[Answer]) -> list[Person]:
    assert meeting.id is not None
    people: list[Person] = []
    for rsvp in await fx.uow.meetings.rsvps(meeting.id):
        if rsvp.answer in answers:
            person = await fx.uow.people.get(rsvp.person_id)
            if person is not None:
                people.append(person)
    return people


async def answered_count(fx: Effects, meeting: Meeting) -> int:
    """How many have answered (any answer): those a change or a cancellation is told to."""
    assert meeting.id is not None
    return len(await fx.uow.meetings.rsvps(meeting.id))


# --- Answers ---------------------------------------------------------------------


async def answer(fx: Effects, meeting: Meeting, person: Person, wanted: Answer) -> Answer:
    """Records a person's answer; a full meeting puts "coming" on the waitlist.

    When someone gives up a place, the first on the waitlist is promoted and told.
    Returns the answer as recorded. The caller checks that the person may answer.
    """
    return (await answer_in_line(fx, meeting, person, wanted))[0]


async def answer_in_line(
    fx: Effects, meeting: Meeting, person: Person, wanted: Answer
) -> tuple[Answer, int]:
    """`answer`, and the person's place in the waitlist afterwards (0 when not waiting)."""
    assert meeting.id is not None and person.id is not None
    # Two pressing at once for the last place must not both get it: the meeting is held
    # until this answer is committed, so the next one counts after it (on PostgreSQL).
    await fx.uow.meetings.lock(meeting.id)
    # Read once: their own answer, who waits and (places limited) how many hold one; the
    # answer and any promotion are worked out from that (never every answer to a big
    # meeting, and not read again after the write).
    limited = meeting.capacity is not None
    places = await fx.uow.meetings.places(meeting.id, person.id, limited=limited)
    result = places.answer_for(wanted, meeting.capacity)
    own = places.own
    if own is None or own.answer is not result:
        # Asking for a place now queues behind everyone who asked before, whatever was
        # answered earlier.
        asked = places.next_in_line() if result is Answer.WAITLISTED else None
        own = Rsvp(meeting.id, person.id, result, fx.now, asked, own.id if own else None)
        await fx.uow.meetings.set_answer(own)
        places = places.after(person.id, own)
    # Without a limit everyone waiting moves in.
    promoted = places.to_promote(meeting.capacity)
    await _move_in(fx, meeting, promoted)
    waiting = [r for r in places.waiting if r not in promoted]
    number = next((n for n, r in enumerate(waiting, 1) if r.person_id == person.id), 0)
    return result, number


async def promote_waiting(fx: Effects, meeting: Meeting, org: Organisation) -> list[Person]:
    """Moves those waiting into free places, first come first, and tells each of them."""
    assert meeting.id is not None
    if meeting.cancelled:
        return []
    await fx.uow.meetings.lock(meeting.id)  # places freed at once promote each one person
    limited = meeting.capacity is not None
    places = await fx.uow.meetings.places(meeting.id, None, limited=limited)
    # Without a limit everyone waiting moves in.
    return await _move_in(fx, meeting, places.to_promote(meeting.capacity), org)


async def _move_in(
    fx: Effects, meeting: Meeting, rsvps: Sequence[Rsvp], org: Organisation | None = None
) -> list[Person]:
    """Gives those waiting (`Places.to_promote`) their places and tells each of them."""
    assert meeting.id is not None
    if meeting.cancelled or not rsvps:
        return []
    await fx.uow.meetings.move_in([r.id for r in rsvps if r.id is not None], fx.now)
    org = org or await org_of(fx, meeting)
    promoted: list[Person] = []
    for rsvp in rsvps:
        person = await fx.uow.people.get(rsvp.person_id)
        if person is None:
            continue
        zone = await reader_zone(fx, person, org)

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            return views.promoted(t, meeting, org, zone)

        stamp = fx.now.strftime("%Y%m%dT%H%M%S")
        await fx.notify(person, build, key=f"meeting:{meeting.id}:promoted:{stamp}")
        promoted.append(person)
    return promoted
