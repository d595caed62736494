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

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.context import Effects, MessageFor
from bot.domain.organisations import Organisation
from bot.domain.people import Person, Status
from bot.formatting import when_span
from bot.i18n import N_, Translator
from bot.meetings.model import (
    ANSWERED,
    CHECK_IN_EARLY,
    DEFAULT_REMINDER_MINUTES,
    FOLLOW_UP_AFTER,
    LATE_TOLERANCE,
    REMINDED,
    Answer,
    Attendance,
    Audience,
    Meeting,
    MeetingStatus,
    MeetingThread,
    Rsvp,
    answer_for,
    coming_count,
    minutes_left,
    reminder_times,
    reminder_useful_until,
    spots_left,
    to_promote,
    visible_to,
)
from bot.messages import (
    Action,
    Button,
    CalendarEvent,
    MessageBuilder,
    OutgoingMessage,
    ThreadRequest,
    bold,
)
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
        await announce_meeting(fx, meeting, org)
    return meeting


async def announce_meeting(fx: Effects, meeting: Meeting, org: Organisation) -> None:
    """Posts the meeting in the organisation's channels, then its questions: the meeting's thread."""
    assert meeting.id is not None and org.id is not None
    key = announcement_key(meeting)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(bold(t("New themed meeting")))
        add_facts(text, meeting, org, org.zone, t, in_group=True)
        if meeting.description:
            text.paragraph(meeting.description)
        for row in rsvp_buttons(meeting, t):
            text.button_row(*row)
        return replace(
            text.build(), thread=ThreadRequest(meeting.theme), event=calendar_event(meeting, org)
        )

    await fx.post_to_org(org, build, key=key)
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

        def questions(t: Translator) -> OutgoingMessage:
            text = MessageBuilder().line(bold(t("Discussion: {theme}").format(theme=meeting.theme)))
            for number, question in enumerate(meeting.questions, start=1):
                text.line(f"{number}. {question}")
            text.paragraph(
                t(
                    "Share your thoughts here. To have something you said collected for the "
                    "organisers, write /bidrag {number} and your text."
                ).format(number=meeting.id)
            )
            # In the thread opened on the announcement, where the platform has threads.
            return replace(text.build(), in_thread=True, refers_to=key)

        await fx.post_to_org(org, questions, key=f"meeting:{meeting.id}:thread")


def announcement_key(meeting: Meeting) -> str:
    return f"meeting:{meeting.id}:announce"


def calendar_event(meeting: Meeting, org: Organisation) -> CalendarEvent:
    """The meeting as platforms' calendars show it (one event per meeting, at its instants)."""
    # Everyone in the server or group sees the platform's event: a members-only link stays out.
    link = meeting.link if meeting.is_open_to_guests() else None
    return CalendarEvent(
        title=meeting.theme,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        place=meeting.place or link or org.name,
        description=meeting.description,
        cancelled=meeting.cancelled,
    )


# --- Facts, in every message's own text ---------------------------------------


def place_text(meeting: Meeting, t: Translator, *, in_group: bool = False) -> str:
    """Where, or the digital link; a members-only meeting's link is never posted in a group,
    where guests may read it: members get it privately."""
    if meeting.link and in_group and not meeting.is_open_to_guests():
        return t("Link: members get it from me in private, with /moten {number}").format(
            number=meeting.id
        )
    if meeting.link:
        return t("Link: {link}").format(link=meeting.link)
    if meeting.place:
        return t("Where: {place}").format(place=meeting.place)
    return t("Where: to be announced")


def add_facts(
    text: MessageBuilder,
    meeting: Meeting,
    org: Organisation,
    zone: ZoneInfo,
    t: Translator,
    rsvps: Sequence[Rsvp] | None = None,
    *,
    in_group: bool = False,
) -> MessageBuilder:
    """Theme, when (in the reader's zone), where or the link, the host, and who may come.
    `in_group`: posted in a group chat (see `place_text`)."""
    text.line(bold(meeting.theme), f" (nr {meeting.id})")
    text.line(t("When: {when}").format(when=when_span(meeting.starts_at, meeting.ends_at, zone, t)))
    text.line(place_text(meeting, t, in_group=in_group))
    text.line(t("Host: {org}").format(org=org.name))
    if meeting.audience is Audience.MEMBERS:
        text.line(t("For members only"))
    else:
        text.line(t("Open to everyone, guests welcome"))
    if rsvps is None and meeting.capacity:
        text.line(t("Places: {n}").format(n=meeting.capacity))
    if rsvps is not None:
        left = spots_left(meeting.capacity, rsvps)
        coming = coming_count(rsvps)
        maybe = sum(1 for r in rsvps if r.answer is Answer.MAYBE)
        summary = t("{coming} coming, {maybe} maybe").format(coming=coming, maybe=maybe)
        if left is not None:
            summary += " · " + (
                t.ngettext(
                    "{left} of {capacity} place left",
                    "{left} of {capacity} places left",
                    meeting.capacity or 0,
                ).format(left=left, capacity=meeting.capacity)
                if left
                else t("Full: new answers go on the waitlist")
            )
        text.line(summary)
    return text


def rsvp_buttons(meeting: Meeting, t: Translator) -> list[list[Button]]:
    meeting_id = str(meeting.id)
    return [
        [
            Button(t("I'm coming"), Action("meeting.rsvp", (meeting_id, Answer.COMING.value))),
            Button(t("Maybe"), Action("meeting.rsvp", (meeting_id, Answer.MAYBE.value))),
            Button(t("Can't come"), Action("meeting.rsvp", (meeting_id, Answer.DECLINED.value))),
        ]
    ]


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

    def build_for(zone: ZoneInfo, in_group: bool = False) -> MessageFor:
        def build(t: Translator) -> OutgoingMessage:
            what = ", ".join(t(CHANGE_WORDS.get(name, name)) for name in changed)
            text = MessageBuilder().line(
                bold(t("Changed: {what}").format(what=what)),
            )
            add_facts(text, meeting, org, zone, t, in_group=in_group)
            return text.build()

        return build

    for person in await answered_people(fx, meeting, ANSWERED):
        zone = await reader_zone(fx, person, org)
        await fx.notify(person, build_for(zone), key=key)
    await fx.post_to_org(org, _with_event(build_for(org.zone, True), meeting, org), key=key)


def _with_event(build: MessageFor, meeting: Meeting, org: Organisation) -> MessageFor:
    """The channel's notice also updates (or cancels) the event made with the announcement."""

    def with_event(t: Translator) -> OutgoingMessage:
        return replace(
            build(t), event=calendar_event(meeting, org), refers_to=announcement_key(meeting)
        )

    return with_event


CHANGE_WORDS = {
    "time": N_("new time"),
    "place": N_("new place"),
    "theme": N_("new theme"),
    "description": N_("new description"),
    "capacity": N_("new number of places"),
    "audience": N_("who may come"),
}


async def cancel_meeting(fx: Effects, meeting: Meeting) -> int:
    """Cancels the meeting, its timers, and tells everyone who answered; returns how many."""
    assert meeting.id is not None
    await cancel_timers(fx, meeting, meeting.version)
    meeting.status = MeetingStatus.CANCELLED
    meeting.version += 1
    meeting.updated_at = fx.now
    org = await org_of(fx, meeting)
    key = f"meeting:{meeting.id}:cancelled"

    def build_for(zone: ZoneInfo, in_group: bool = False) -> MessageFor:
        def build(t: Translator) -> OutgoingMessage:
            text = MessageBuilder().line(bold(t("Cancelled")))
            text.line(bold(meeting.theme), f" (nr {meeting.id})")
            text.line(
                t("Was planned for {when}").format(
                    when=when_span(meeting.starts_at, meeting.ends_at, zone, t)
                )
            )
            if not (in_group and meeting.link and not meeting.is_open_to_guests()):
                text.line(place_text(meeting, t))  # no link to ask for any more
            text.line(t("Host: {org}").format(org=org.name))
            text.paragraph(t("Sorry for the trouble. See other meetings with /moten."))
            return text.build()

        return build

    told = 0
    for person in await answered_people(fx, meeting, ANSWERED):
        zone = await reader_zone(fx, person, org)
        told += await fx.notify(person, build_for(zone), key=key)
    await fx.post_to_org(org, _with_event(build_for(org.zone, True), meeting, org), key=key)
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


# --- Answers ---------------------------------------------------------------------


async def answer(fx: Effects, meeting: Meeting, person: Person, wanted: Answer) -> Answer:
    """Records a person's answer; a full meeting puts "coming" on the waitlist.

    When someone gives up a place, the first on the waitlist is promoted and told.
    Returns the answer as recorded. The caller checks that the person may answer.
    """
    assert meeting.id is not None and person.id is not None
    existing = await fx.uow.meetings.rsvp(meeting.id, person.id)
    # Only the answers that decide it: their own, and who holds or waits for a place when
    # places are limited (never every answer to a big meeting).
    rsvps = [existing] if existing is not None else []
    if meeting.capacity is not None:
        rsvps += [r for r in await fx.uow.meetings.rsvps(meeting.id, HOLDING) if r is not existing]
    result = answer_for(wanted, meeting.capacity, rsvps, person.id)
    if existing is None:
        await fx.uow.meetings.add_rsvp(Rsvp(meeting.id, person.id, result, fx.now))
    elif existing.answer is not result:
        existing.answer = result
        existing.answered_at = fx.now  # a new place in the waitlist, if waiting
    await promote_waiting(fx, meeting, await org_of(fx, meeting))
    return result


async def promote_waiting(fx: Effects, meeting: Meeting, org: Organisation) -> list[Person]:
    """Moves those waiting into free places, first come first, and tells each of them."""
    assert meeting.id is not None
    if meeting.cancelled:
        return []
    promoted: list[Person] = []
    # Without a limit only those waiting matter (all of them move in), not everyone coming.
    holding = HOLDING if meeting.capacity is not None else (Answer.WAITLISTED,)
    for rsvp in to_promote(meeting.capacity, await fx.uow.meetings.rsvps(meeting.id, holding)):
        rsvp.answer = Answer.COMING
        rsvp.answered_at = fx.now
        person = await fx.uow.people.get(rsvp.person_id)
        if person is None:
            continue
        zone = await reader_zone(fx, person, org)

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            text = MessageBuilder().line(
                bold(t("Good news: a place opened up and you are now coming!"))
            )
            add_facts(text, meeting, org, zone, t)
            text.button_row(
                Button(
                    t("Can't come after all"),
                    Action("meeting.rsvp", (str(meeting.id), Answer.DECLINED.value)),
                ),
                Button(t("Add to calendar"), Action("meeting.ics", (str(meeting.id),))),
            )
            return text.build()

        stamp = fx.now.strftime("%Y%m%dT%H%M%S")
        await fx.notify(person, build, key=f"meeting:{meeting.id}:promoted:{stamp}")
        promoted.append(person)
    return promoted


# --- Timers' work -----------------------------------------------------------------


async def current(fx: Effects, payload: dict[str, object]) -> Meeting | None:
    """The meeting a timer is about, or None if it was cancelled or changed since."""
    meeting_id = payload.get("meeting_id")
    if not isinstance(meeting_id, int):
        return None
    meeting = await fx.uow.meetings.get(meeting_id)
    if meeting is None or meeting.cancelled or meeting.version != payload.get("version"):
        return None
    return meeting


def duration(minutes: int, t: Translator) -> str:
    """'1 vecka', '2 timmar', '90 minuter'."""
    if minutes % (7 * 24 * 60) == 0:
        weeks = minutes // (7 * 24 * 60)
        return t.ngettext("{n} week", "{n} weeks", weeks).format(n=weeks)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return t.ngettext("{n} day", "{n} days", days).format(n=days)
    if minutes % 60 == 0:
        hours = minutes // 60
        return t.ngettext("{n} hour", "{n} hours", hours).format(n=hours)
    return t.ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


async def reminder_until(fx: Effects, meeting: Meeting, minutes: int) -> datetime:
    """Until when the reminder armed `minutes` before the start is worth sending."""
    offsets = await reminder_minutes(fx, meeting.org_id)
    return reminder_useful_until(meeting.starts_at, minutes, offsets)


async def send_reminders(fx: Effects, meeting: Meeting, minutes: int) -> int:
    assert meeting.id is not None
    org = await org_of(fx, meeting)
    sent = 0
    left = minutes_left(meeting.starts_at, fx.now, minutes)  # late after downtime: from now
    for person in await answered_people(fx, meeting, REMINDED):
        zone = await reader_zone(fx, person, org)

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            text = MessageBuilder().line(
                bold(
                    t("Reminder: {theme} starts in {time}").format(
                        theme=meeting.theme, time=duration(left, t)
                    )
                )
            )
            add_facts(text, meeting, org, zone, t)
            text.button_row(
                Button(
                    t("Can't come"),
                    Action("meeting.rsvp", (str(meeting.id), Answer.DECLINED.value)),
                )
            )
            return text.build()

        sent += await fx.notify(person, build, key=f"{timer_prefix(meeting)}:remind:{minutes}")
    return sent


async def send_check_in(fx: Effects, meeting: Meeting) -> int:
    assert meeting.id is not None
    org = await org_of(fx, meeting)
    sent = 0
    late = fx.now > meeting.starts_at + LATE_TOLERANCE  # after downtime: it began a while ago
    for person in await answered_people(fx, meeting, REMINDED):
        zone = await reader_zone(fx, person, org)

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            heading = (
                t("{theme} has started. Are you there? Check in:")
                if late
                else t("{theme} starts now. Are you there? Check in:")
            )
            text = MessageBuilder().line(bold(heading.format(theme=meeting.theme)))
            add_facts(text, meeting, org, zone, t)
            text.button_row(Button(t("I'm here"), Action("meeting.checkin", (str(meeting.id),))))
            return text.build()

        sent += await fx.notify(person, build, key=f"{timer_prefix(meeting)}:checkin")
    return sent


def check_in_open(meeting: Meeting, now: datetime) -> bool:
    return meeting.starts_at - CHECK_IN_EARLY <= now < meeting.ends_at


async def record_attendance(
    fx: Effects, meeting: Meeting, person_id: int, confirmed_by: int | None = None
) -> bool:
    """Marks the person as there; False if they were already."""
    assert meeting.id is not None
    present = {a.person_id for a in await fx.uow.meetings.attendance(meeting.id)}
    if person_id in present:
        return False
    await fx.uow.meetings.add_attendance(
        Attendance(meeting.id, person_id, fx.now, confirmed_by=confirmed_by)
    )
    return True


async def send_follow_up(fx: Effects, meeting: Meeting, person: Person) -> bool:
    """Asks one attendee how it was (once per meeting and person)."""
    assert meeting.id is not None
    org = await org_of(fx, meeting)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            bold(t("Thank you for coming to {theme}!").format(theme=meeting.theme))
        )
        text.line(t("How was it? 1 is poor, 5 is great."))
        text.line(t("Host: {org}").format(org=org.name))
        text.button_row(
            *(
                Button(str(n), Action("meeting.rate", (str(meeting.id), str(n))))
                for n in range(1, 6)
            )
        )
        return text.build()

    return await fx.notify(person, build, key=f"meeting:{meeting.id}:followup")


async def follow_up_all(fx: Effects, meeting: Meeting) -> int:
    """After the end: a follow-up to every attendee, and the numbers to the organiser."""
    assert meeting.id is not None
    sent = 0
    attendance = await fx.uow.meetings.attendance(meeting.id)
    for record in attendance:
        person = await fx.uow.people.get(record.person_id) if record.person_id else None
        if person is not None:
            sent += await send_follow_up(fx, meeting, person)
    rsvps = await fx.uow.meetings.rsvps(meeting.id)
    if meeting.created_by is not None and (rsvps or attendance):
        organiser = await fx.uow.people.get(meeting.created_by)
        if organiser is not None:
            coming = coming_count(rsvps)

            def build(t: Translator) -> OutgoingMessage:
                text = MessageBuilder().line(
                    bold(t("{theme} is over").format(theme=meeting.theme)), f" (nr {meeting.id})"
                )
                text.line(
                    t("{present} checked in; {coming} had said they were coming.").format(
                        present=len(attendance), coming=coming
                    )
                )
                text.line(t("Confirm who was there, so they count in the figures:"))
                text.button_row(
                    Button(t("Attendance"), Action("meeting.attendance", (str(meeting.id),)))
                )
                return text.build()

            await fx.notify(organiser, build, key=f"meeting:{meeting.id}:organiser-summary")
    return sent


def follow_up_due(meeting: Meeting, now: datetime) -> bool:
    return now >= meeting.ends_at + FOLLOW_UP_AFTER - timedelta(seconds=1)
