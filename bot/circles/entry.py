"""Study circles in chat: create one step by step, sign up, waitlist, reminders, attendance, lists.

Functions other capabilities may call (they take `Effects`, so they work from
a command, a button or a timer alike):

- `open_circles(effects, person, kind)`: the circles open for sign-up that
  this person can reach (their organisations, those above and below them).
- `offer_circles(effects, person, kind, key=...)`: sends the person a private
  message with the open circles of that kind and a sign-up button for each
  (the welcome flow's "member education step 1" offer); returns how many.
- `sign_up(effects, circle, person, list_consent=...)`: signs up, or puts on
  the waitlist when the circle is full.
- `create_circle(effects, draft)`: creates a circle from a `CircleDraft`
  without any dialog (the annual wheel's templates), arms its timers and
  announces it in the organisation's group channels (its thread).
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from bot.circles.model import (
    LIST_CONSENT_VERSION,
    ChangeKind,
    Circle,
    CircleChange,
    CircleSession,
    CircleStatus,
    CircleThread,
    EducationKind,
    Enrolment,
    EnrolmentState,
    InputError,
    PlannedSession,
    Rule,
    RuleWarning,
    SessionAttendance,
    active,
    counts_as_participant,
    default_deadline,
    enrolled,
    format_hours,
    parse_date,
    parse_range,
    parse_sessions,
    plan_warnings,
    session_attendance_warning,
    state_for_new,
    study_hours,
    to_promote,
    waitlist,
)
from bot.clock import Clock
from bot.context import Context, Effects, Refusal
from bot.dialogs import Choice, Confirm, Dialog, DialogOver, Skip, Step
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import Person
from bot.formatting import day, when, when_span
from bot.i18n import N_, Translator, plural_form
from bot.messages import (
    Action,
    Attachment,
    Button,
    MessageBuilder,
    OutgoingMessage,
    bold,
    message,
)
from bot.parsing import parse_id
from bot.permissions import Permission, permissions_in
from bot.ports import UnitOfWork
from bot.registry import Access, CommandSpec, Registry, within
from bot.spreadsheet import SafeCsvWriter

REMINDER_BEFORE = timedelta(days=1)
# How long after a session "too few were marked present" still helps (names can be added).
FEW_PRESENT_USEFUL = timedelta(days=3)
LOW_WARNING_BEFORE_DEADLINE = timedelta(days=3)
CHECKIN_OPENS_BEFORE = timedelta(minutes=15)
CHECKIN_CLOSES_AFTER = timedelta(minutes=30)
SHOWN_CIRCLES = 8
DIALOG = "circle.new"

KIND_NAMES: dict[EducationKind, str] = {
    EducationKind.MEMBER_EDUCATION_1: N_("Member education step 1"),
    EducationKind.MEMBER_EDUCATION_2: N_("Member education step 2"),
    EducationKind.LEADERSHIP: N_("Leadership training"),
    EducationKind.LECTURE_SERIES: N_("Lecture series"),
    EducationKind.OTHER: N_("Other study circle"),
}


def kind_name(t: Translator, kind: EducationKind) -> str:
    return t(KIND_NAMES[kind])


def hours_text(t: Translator, hours: float) -> str:
    """Study hours as the reader writes numbers: '8,67' in Swedish, '8.67' in English.

    Files (CSV) keep a plain '.' so that programs read them the same everywhere.
    """
    return str(format_decimal(round(hours, 2), format="#,##0.##", locale=t.language))


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "cirklar",
            "circles",
            N_("Study circles open for sign-up"),
            list_circles,
            Access.CONSENTED,
        )
    )
    registry.command(
        CommandSpec(
            "mina_cirklar",
            "mycircles",
            N_("Your study circles and education"),
            my_circles,
            Access.CONSENTED,
        )
    )
    registry.command(
        CommandSpec(
            "ny_cirkel",
            "new_circle",
            N_("Start a study circle, step by step"),
            new_circle,
            Permission.MANAGE_CIRCLES,
        )
    )
    registry.command(
        CommandSpec(
            "narvarolista",
            "attendance",
            N_("A circle's attendance list for the study association"),
            attendance_command,
            Permission.MANAGE_CIRCLES,
            usage=N_("[number]"),
        )
    )
    registry.command(
        CommandSpec(
            "flytta_cirkeltraff",
            "move_circle_session",
            N_("Move a circle session, or give it another place"),
            move_session_command,
            Permission.MANAGE_CIRCLES,
            usage=N_("<circle> <session> <date time-time | plats place>"),
        )
    )
    registry.action("circle.join", join, Access.MEMBER)
    registry.action("circle.consent", consent_and_sign_up, Access.MEMBER)
    registry.action("circle.leave", leave, Access.CONSENTED)
    registry.action("circle.checkin", check_in, Access.CONSENTED)
    registry.action("circle.mark", mark, Access.CONSENTED)
    registry.action("circle.list", attendance_button, Access.CONSENTED)
    registry.dialog(NEW_CIRCLE)
    registry.timer("circle.reminder", reminder_due, useful_until=until_session_starts)
    registry.timer("circle.start", session_started, useful_until=until_session_ends)
    registry.timer("circle.end", session_ended, useful_until=within(FEW_PRESENT_USEFUL))
    registry.timer("circle.lowcheck", low_check, useful_until=until_signup_closes)


# --- Creating a circle without a dialog -----------------------------------------------


@dataclass
class CircleDraft:
    """Everything a new circle needs; `sessions` in time order, instants in UTC."""

    org_id: int
    title: str
    kind: EducationKind
    sessions: list[PlannedSession]
    min_participants: int
    max_participants: int
    signup_deadline: datetime | None = None  # None: a week before the first session
    description: str = ""
    material: str = ""
    place: str | None = None
    link: str | None = None
    leader_id: int | None = None
    created_by: int | None = None
    warnings: list[RuleWarning] = field(default_factory=list)

    def rule_warnings(self) -> list[RuleWarning]:
        return plan_warnings(
            [s.minutes for s in self.sessions], self.min_participants, self.max_participants
        )


async def create_circle(effects: Effects, draft: CircleDraft, *, announce: bool = True) -> Circle:
    """Creates the circle and its sessions, arms its reminders and the low-sign-up check.

    With `announce`, posts it in the organisation's group channels with a sign-up
    button; that post is the circle's thread (adapters with threads open one on it).
    Raises ValueError for a draft without sessions or with a deadline after the start.
    """
    if not draft.sessions:
        raise ValueError("a circle needs at least one session")
    sessions = sorted(draft.sessions, key=lambda s: s.starts_at)
    deadline = draft.signup_deadline or default_deadline(sessions[0].starts_at)
    if deadline > sessions[0].starts_at:
        raise ValueError("the sign-up deadline must not be after the first session")
    circle = await effects.uow.circles.add(
        Circle(
            org_id=draft.org_id,
            title=draft.title,
            kind=draft.kind,
            min_participants=draft.min_participants,
            max_participants=draft.max_participants,
            signup_deadline=deadline,
            description=draft.description,
            material=draft.material,
            place=draft.place,
            link=draft.link,
            leader_id=draft.leader_id,
            created_by=draft.created_by,
            created_at=effects.now,
        )
    )
    assert circle.id is not None
    for planned in sessions:
        await effects.uow.circles.add_session(
            CircleSession(circle.id, planned.starts_at, planned.ends_at)
        )
    await _arm(effects, circle)
    if announce:
        await _announce(effects, circle)
    return circle


async def _arm(effects: Effects, circle: Circle) -> None:
    """Schedules every timer of the circle's current version (moved sessions get new keys)."""
    assert circle.id is not None
    base = f"circle:{circle.id}:v{circle.version}"
    payload = {"circle": circle.id, "version": circle.version}
    for session in await effects.uow.circles.sessions(circle.id):
        assert session.id is not None
        data = {**payload, "session": session.id}
        stamp = session.starts_at.strftime("%Y%m%dT%H%M")
        reminder_at = session.starts_at - REMINDER_BEFORE
        if reminder_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:reminder", "circle.reminder", reminder_at, data
            )
        if session.starts_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:start", "circle.start", session.starts_at, data
            )
        if session.ends_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:end", "circle.end", session.ends_at, data
            )
    # Close to the deadline; for a circle created closer than that, halfway to it.
    check_at = max(
        circle.signup_deadline - LOW_WARNING_BEFORE_DEADLINE,
        effects.now + (circle.signup_deadline - effects.now) / 2,
    )
    await effects.schedule(
        f"circle:{circle.id}:lowcheck:{circle.signup_deadline.strftime('%Y%m%dT%H%M')}",
        "circle.lowcheck",
        check_at,
        payload,
    )


async def _announce(effects: Effects, circle: Circle) -> None:
    assert circle.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    if org is None:
        return
    sessions = await effects.uow.circles.sessions(circle.id)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            bold(t("New study circle: {title}").format(title=circle.title))
        )
        _describe(text, t, circle, org, sessions, leader, [])
        text.paragraph(t("This post is the circle's thread: talk about it here."))
        text.button_row(Button(t("Sign me up"), Action("circle.join", (str(circle.id),))))
        return text.build()

    key = f"circle:{circle.id}:announce"
    await effects.post_to_org(org, build, key=key)
    for channel in await effects.uow.orgs.channels_of(circle.org_id):
        await effects.uow.circles.add_thread(
            CircleThread(
                circle.id,
                channel.platform,
                channel.chat_id,
                f"{key}:{channel.platform}:{channel.chat_id}",
            )
        )


# --- Finding circles -----------------------------------------------------------------


async def reachable_org_ids(effects: Effects, person: Person) -> list[int]:
    """The person's organisations, every one above them and every one below them."""
    assert person.id is not None
    found: dict[int, None] = {}
    for affiliation in await effects.uow.people.affiliations_of(person.id):
        for org in [
            *await effects.uow.orgs.lineage(affiliation.org_id),
            *await effects.uow.orgs.subtree(affiliation.org_id),
        ]:
            if org.id is not None:
                found[org.id] = None
    return list(found)


async def open_circles(
    effects: Effects, person: Person, kind: EducationKind | None = None
) -> list[Circle]:
    """Circles this person can reach that are open for sign-up now, soonest first.

    `kind` narrows it to one kind of education, e.g. `EducationKind.MEMBER_EDUCATION_1`.
    """
    circles = await effects.uow.circles.of_orgs(await reachable_org_ids(effects, person))
    chosen = [
        c
        for c in circles
        if c.status is CircleStatus.OPEN
        and c.signup_deadline > effects.now
        and (kind is None or c.kind is kind)
    ]
    firsts: dict[int, datetime] = {}
    for circle in chosen:
        assert circle.id is not None
        sessions = await effects.uow.circles.sessions(circle.id)
        firsts[circle.id] = sessions[0].starts_at if sessions else circle.signup_deadline
    return sorted(chosen, key=lambda c: (firsts[c.id or 0], c.id or 0))


async def offer_circles(
    effects: Effects, person: Person, kind: EducationKind, *, key: str, limit: int = 3
) -> int:
    """Offers the person, privately, the open circles of one kind with a sign-up button each.

    For the welcome flow: `await offer_circles(ctx, person,
    EducationKind.MEMBER_EDUCATION_1, key=f"welcome:{flow_id}:education")`.
    Pressing a button asks the attendance-list question and signs them up (or
    puts them on the waitlist). Sends nothing and returns 0 when no circle of
    that kind is open; otherwise returns how many circles were offered. The key
    makes the message go out at most once.
    """
    circles = (await open_circles(effects, person, kind))[:limit]
    if not circles:
        return 0
    details = []
    for circle in circles:
        assert circle.id is not None
        org = await effects.uow.orgs.get(circle.org_id)
        sessions = await effects.uow.circles.sessions(circle.id)
        details.append((circle, org, sessions))

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(bold(t("{kind}: sign up").format(kind=kind_name(t, kind))))
        for circle, org, sessions in details:
            zone = org.zone if org else ZoneInfo("Europe/Stockholm")
            first = sessions[0] if sessions else None
            text.line(
                t.ngettext(
                    "{title}: {count} session from {start}",
                    "{title}: {count} sessions from {start}",
                    len(sessions),
                ).format(
                    title=circle.title,
                    count=len(sessions),
                    start=when(first.starts_at, zone, t) if first else "",
                )
            )
            text.button_row(
                Button(
                    t("Sign up: {title}").format(title=circle.title),
                    Action("circle.join", (str(circle.id),)),
                )
            )
        text.paragraph(t("All circles: /cirklar"))
        return text.build()

    await effects.notify(person, build, key=key)
    return len(circles)


# --- Listing and showing ---------------------------------------------------------------


def _session_line(t: Translator, session: CircleSession, zone: ZoneInfo) -> str:
    return when_span(session.starts_at, session.ends_at, zone, t)


def _describe(
    text: MessageBuilder,
    t: Translator,
    circle: Circle,
    org: Organisation,
    sessions: Sequence[CircleSession],
    leader: Person | None,
    enrolments: Sequence[Enrolment],
) -> None:
    zone = org.zone
    text.line(f"{kind_name(t, circle.kind)} · {org.name}")
    if circle.description:
        text.line(circle.description)
    if circle.material:
        text.line(t("Material: {material}").format(material=circle.material))
    minutes = sum(s.minutes for s in sessions)
    text.line(
        t.ngettext(
            "{count} session, {hours} study hours:",
            "{count} sessions, {hours} study hours:",
            len(sessions),
        ).format(count=len(sessions), hours=hours_text(t, study_hours(minutes)))
    )
    for session in sessions[:6]:
        text.line(f"• {_session_line(t, session, zone)}")
    if len(sessions) > 6:
        text.line(t("• and {count} more").format(count=len(sessions) - 6))
    if circle.where:
        text.line(t("Where: {place}").format(place=circle.where))
    if leader:
        text.line(t("Leader: {name}").format(name=leader.display_name))
    taken = len(enrolled(enrolments))
    free = max(circle.max_participants - taken, 0)
    places = (
        t("Places: {free} of {max} left").format(free=free, max=circle.max_participants)
        if free
        else t("Full")
    )
    waiting = len(waitlist(enrolments))
    if waiting:
        places += " · " + t("{count} on the waitlist").format(count=waiting)
    text.line(places)
    text.line(t("Sign up by: {date}").format(date=when(circle.signup_deadline, zone, t)))


async def _card(
    effects: Effects, t: Translator, circle: Circle, viewer: Person, *, manage: bool
) -> OutgoingMessage:
    assert circle.id is not None and viewer.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    assert org is not None
    sessions = await effects.uow.circles.sessions(circle.id)
    enrolments = await effects.uow.circles.enrolments(circle.id)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    text = MessageBuilder().line(bold(circle.title))
    _describe(text, t, circle, org, sessions, leader, enrolments)
    mine = next((e for e in active(enrolments) if e.person_id == viewer.id), None)
    buttons = []
    if mine is None:
        buttons.append(Button(t("Sign me up"), Action("circle.join", (str(circle.id),))))
    else:
        text.paragraph(
            t("You are signed up.")
            if mine.state is EnrolmentState.ENROLLED
            else t("You are on the waitlist.")
        )
        buttons.append(Button(t("Withdraw"), Action("circle.leave", (str(circle.id),))))
    if manage:
        buttons.append(Button(t("Attendance list"), Action("circle.list", (str(circle.id),))))
    text.button_row(*buttons)
    return text.build()


async def list_circles(ctx: Context, args: str) -> None:
    if args.strip():  # one circle by its number (Discord's autocomplete offers them)
        circle = await _circle_arg(ctx, args)
        manage = await can_manage(ctx, ctx.person, circle)
        await ctx.reply(await _card(ctx, ctx.t, circle, ctx.person, manage=manage))
        return
    circles = await open_circles(ctx, ctx.person)
    if not circles:
        text = ctx.t("No study circles are open for sign-up right now.")
        if await ctx.meets(Permission.MANAGE_CIRCLES):
            text += " " + ctx.t("Start one with /ny_cirkel.")
        await ctx.reply(message(text))
        return
    await ctx.reply(
        message(ctx.t("Study circles open for sign-up: {count}").format(count=len(circles)))
    )
    for circle in circles[:SHOWN_CIRCLES]:
        manage = await can_manage(ctx, ctx.person, circle)
        await ctx.reply(await _card(ctx, ctx.t, circle, ctx.person, manage=manage))


async def can_manage(effects: Effects, person: Person, circle: Circle) -> bool:
    """The circle's leader, or an organiser or study organiser of its organisation or above."""
    assert person.id is not None
    if circle.leader_id == person.id:
        return True
    lineage = [o.id for o in await effects.uow.orgs.lineage(circle.org_id) if o.id is not None]
    roles = await effects.uow.people.roles_of(person.id)
    return Permission.MANAGE_CIRCLES in permissions_in(lineage, roles)


async def _circle_arg(ctx: Context, raw: str) -> Circle:
    circle_id = parse_id(raw)
    circle = await ctx.uow.circles.get(circle_id) if circle_id else None
    if circle is None:
        raise Refusal(ctx.t("I can't find that study circle. See /cirklar."))
    reachable = circle.org_id in await reachable_org_ids(ctx, ctx.person)
    if not reachable and not await can_manage(ctx, ctx.person, circle):
        raise Refusal(ctx.t("I can't find that study circle. See /cirklar."))
    return circle


# --- Signing up and withdrawing -----------------------------------------------------


async def join(ctx: Context, args: tuple[str, ...]) -> None:
    circle = await _circle_arg(ctx, args[0] if args else "")
    _check_open(ctx, circle)
    existing = await ctx.uow.circles.enrolment(circle.id or 0, ctx.person_id)
    if existing and existing.state is not EnrolmentState.WITHDRAWN:
        raise Refusal(ctx.t("You are already signed up for {title}.").format(title=circle.title))

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(circle.title))
            .paragraph(
                t(
                    "One question before I sign you up. The circle is run with the study "
                    "association ABF, which gets an attendance list with the participants' names. "
                    "May I put your name on that list?"
                )
            )
            .line(t("If you say no you still take part; the list then shows you without a name."))
            .button_row(
                Button(
                    t("Yes, include my name"), Action("circle.consent", (str(circle.id), "yes"))
                ),
                Button(
                    t("No, leave my name out"), Action("circle.consent", (str(circle.id), "no"))
                ),
            )
            .build()
        )

    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal: privately, never in the group
        await ctx.reply(build(ctx.t))
    else:  # a platform that answers in place: the question goes to the private chat
        await ctx.notify(ctx.person, build, key=f"circle:{circle.id}:ask:{ctx.event_id}")
        t = Translator(ctx.org.language) if ctx.org else ctx.t  # the group's language
        await ctx.reply(
            message(
                t("{name}, I've sent you a private message to finish signing up.").format(
                    name=ctx.person.display_name
                )
            )
        )


def _check_open(ctx: Context, circle: Circle) -> None:
    if circle.status is not CircleStatus.OPEN:
        raise Refusal(ctx.t("{title} has been cancelled.").format(title=circle.title))
    if circle.signup_deadline <= ctx.now:
        raise Refusal(
            ctx.t("Sign-up for {title} has closed. Ask the organiser if there is room.").format(
                title=circle.title
            )
        )


async def consent_and_sign_up(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or args[1] not in ("yes", "no"):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    circle = await _circle_arg(ctx, args[0])
    _check_open(ctx, circle)
    enrolment = await sign_up(ctx, circle, ctx.person, list_consent=args[1] == "yes")
    org = await ctx.uow.orgs.get(circle.org_id)
    assert org is not None and circle.id is not None
    sessions = await ctx.uow.circles.sessions(circle.id)
    if enrolment.state is EnrolmentState.ENROLLED:
        text = ctx.t("You are signed up for {title}. First session: {when}.").format(
            title=circle.title, when=when(sessions[0].starts_at, org.zone, ctx.t)
        )
        text += " " + ctx.t("I'll remind you the day before each session.")
    else:
        place = [e.person_id for e in waitlist(await ctx.uow.circles.enrolments(circle.id))]
        text = ctx.t(
            "{title} is full, so you are number {place} on the waitlist. "
            "I'll tell you as soon as a place opens up."
        ).format(title=circle.title, place=place.index(ctx.person_id) + 1)
    await ctx.reply(
        message(
            text, buttons=[[Button(ctx.t("Withdraw"), Action("circle.leave", (str(circle.id),)))]]
        )
    )


async def sign_up(
    effects: Effects, circle: Circle, person: Person, *, list_consent: bool
) -> Enrolment:
    """Signs the person up, or puts them on the waitlist when the circle is full.

    `list_consent` is their answer to whether their name may be on the attendance
    list that goes to the study association; it is stored with the time and the
    version of the question. Signing up again after withdrawing starts afresh
    (at the back of the waitlist). Already signed up: returns that sign-up unchanged.
    """
    assert circle.id is not None and person.id is not None
    enrolments = await effects.uow.circles.enrolments(circle.id)
    existing = next((e for e in enrolments if e.person_id == person.id), None)
    if existing and existing.state is not EnrolmentState.WITHDRAWN:
        return existing
    state = state_for_new(enrolments, circle.max_participants)
    if existing:
        # A new sign-up after withdrawing: a fresh row, so it queues behind everyone waiting.
        await effects.uow.circles.remove_enrolment(existing)
    enrolment = await effects.uow.circles.add_enrolment(
        Enrolment(
            circle.id,
            person.id,
            state,
            signed_up_at=effects.now,
            changed_at=effects.now,
            list_consent=list_consent,
            list_consent_at=effects.now,
            list_consent_version=LIST_CONSENT_VERSION,
        )
    )
    kind = ChangeKind.JOINED if state is EnrolmentState.ENROLLED else ChangeKind.WAITLISTED
    await effects.uow.circles.add_change(CircleChange(circle.id, kind, effects.now, person.id))
    return enrolment


async def leave(ctx: Context, args: tuple[str, ...]) -> None:
    circle = await _circle_arg(ctx, args[0] if args else "")
    enrolment = await ctx.uow.circles.enrolment(circle.id or 0, ctx.person_id)
    if enrolment is None or enrolment.state is EnrolmentState.WITHDRAWN:
        raise Refusal(ctx.t("You are not signed up for {title}.").format(title=circle.title))
    sessions = await ctx.uow.circles.sessions(circle.id or 0)
    if sessions and sessions[-1].ends_at <= ctx.now:
        raise Refusal(
            ctx.t("{title} is over; there is nothing to leave.").format(title=circle.title)
        )
    await withdraw(ctx, circle, enrolment)
    await ctx.reply(
        message(
            ctx.t("You have left {title}. Welcome back another time!").format(title=circle.title)
        )
    )


async def withdraw(effects: Effects, circle: Circle, enrolment: Enrolment) -> list[Enrolment]:
    """Takes the person off the circle and gives free places to the waitlist, first come first.

    Each promoted person is told. Returns the promoted sign-ups.
    """
    assert circle.id is not None
    enrolment.state, enrolment.changed_at = EnrolmentState.WITHDRAWN, effects.now
    await effects.uow.circles.add_change(
        CircleChange(circle.id, ChangeKind.LEFT, effects.now, enrolment.person_id)
    )
    promoted = to_promote(await effects.uow.circles.enrolments(circle.id), circle.max_participants)
    org = await effects.uow.orgs.get(circle.org_id)
    sessions = await effects.uow.circles.sessions(circle.id)
    upcoming = [s for s in sessions if s.starts_at > effects.now]
    for lucky in promoted:
        lucky.state, lucky.changed_at = EnrolmentState.ENROLLED, effects.now
        await effects.uow.circles.add_change(
            CircleChange(circle.id, ChangeKind.PROMOTED, effects.now, lucky.person_id)
        )
        person = await effects.uow.people.get(lucky.person_id)
        if person is None or org is None:
            continue

        def build(t: Translator) -> OutgoingMessage:
            text = t("Good news: a place opened up in {title}, and it is yours.").format(
                title=circle.title
            )
            if upcoming:
                text += " " + t("Next session: {when}.").format(
                    when=when(upcoming[0].starts_at, org.zone, t)
                )
            return message(
                text,
                buttons=[[Button(t("Withdraw"), Action("circle.leave", (str(circle.id),)))]],
            )

        await effects.notify(
            person, build, key=f"circle:{circle.id}:promoted:{lucky.id}:{effects.now:%Y%m%dT%H%M%S}"
        )
    return promoted


# --- Timers -----------------------------------------------------------------------------


async def _timer_circle(
    effects: Effects, timer: Timer
) -> tuple[Circle, CircleSession, Organisation] | None:
    circle = await effects.uow.circles.get(int(timer.payload["circle"]))
    session = await effects.uow.circles.get_session(int(timer.payload["session"]))
    if (
        circle is None
        or session is None
        or circle.status is not CircleStatus.OPEN
        or circle.version != timer.payload["version"]
    ):
        return None
    org = await effects.uow.orgs.get(circle.org_id)
    return (circle, session, org) if org else None


async def until_session_starts(effects: Effects, timer: Timer) -> datetime | None:
    session = await effects.uow.circles.get_session(int(timer.payload["session"]))
    return session.starts_at if session is not None else None


async def until_session_ends(effects: Effects, timer: Timer) -> datetime | None:
    """'Are you there?' is worth asking while the session lasts."""
    session = await effects.uow.circles.get_session(int(timer.payload["session"]))
    return session.ends_at if session is not None else None


async def until_signup_closes(effects: Effects, timer: Timer) -> datetime | None:
    circle = await effects.uow.circles.get(int(timer.payload["circle"]))
    return circle.signup_deadline if circle is not None else None


async def _numbered(effects: Effects, circle: Circle, session: CircleSession) -> tuple[int, int]:
    assert circle.id is not None
    sessions = list(await effects.uow.circles.sessions(circle.id))
    return [s.id for s in sessions].index(session.id) + 1, len(sessions)


async def _participants(effects: Effects, circle: Circle) -> list[Person]:
    assert circle.id is not None
    people = []
    for enrolment in enrolled(await effects.uow.circles.enrolments(circle.id)):
        person = await effects.uow.people.get(enrolment.person_id)
        if person:
            people.append(person)
    return people


async def reminder_due(effects: Effects, timer: Timer) -> None:
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, org = found
    number, total = await _numbered(effects, circle, session)
    place = session.place or circle.where
    people = await _participants(effects, circle)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    if people and leader and leader.id not in {p.id for p in people}:
        people.append(leader)
    for person in people:

        def build(t: Translator) -> OutgoingMessage:
            text = MessageBuilder().line(
                bold(
                    t("Reminder: {title}, session {number} of {total}").format(
                        title=circle.title, number=number, total=total
                    )
                )
            )
            text.line(_session_line(t, session, org.zone))
            if place:
                text.line(t("Where: {place}").format(place=place))
            return text.build()

        await effects.notify(person, build, key=f"{timer.key}:p")


async def session_started(effects: Effects, timer: Timer) -> None:
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, _org = found
    number, total = await _numbered(effects, circle, session)
    people = [p for p in await _participants(effects, circle) if p.id != circle.leader_id]
    if not people:
        return
    for person in people:

        def build(t: Translator) -> OutgoingMessage:
            return message(
                t("Session {number} of {total} of {title} has started. Are you there?").format(
                    number=number, total=total, title=circle.title
                ),
                buttons=[[Button(t("I'm here"), Action("circle.checkin", (str(session.id),)))]],
            )

        await effects.notify(person, build, key=f"{timer.key}:checkin")
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    if leader:
        rows = [
            [Button(p.display_name, Action("circle.mark", (str(session.id), str(p.id))))]
            for p in people
        ]

        def build_leader(t: Translator) -> OutgoingMessage:
            return message(
                t(
                    "Session {number} of {total} of {title} has started. Participants can check "
                    "in themselves; press a name to mark them present or absent."
                ).format(number=number, total=total, title=circle.title),
                buttons=rows,
            )

        await effects.notify(leader, build_leader, key=f"{timer.key}:leader")


async def session_ended(effects: Effects, timer: Timer) -> None:
    """Warns the leader and the organiser when too few were marked present for the rules."""
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, _org = found
    assert session.id is not None and circle.id is not None
    if not enrolled(await effects.uow.circles.enrolments(circle.id)):
        return
    number, _total = await _numbered(effects, circle, session)
    present = {
        a.person_id
        for a in await effects.uow.circles.attendance(circle.id)
        if a.session_id == session.id and a.person_id != circle.leader_id
    }
    warning = session_attendance_warning(number, len(present))
    if warning is None:
        return
    for person in await _organisers(effects, circle):

        def build(t: Translator) -> OutgoingMessage:
            return message(
                t.ngettext(
                    "Only {present} was marked present at session {number} of {title}, the "
                    "leader counted. The study association needs at least 3 at every session. "
                    "If more were there, press their names in my message from the start of the session.",
                    "Only {present} were marked present at session {number} of {title}, the "
                    "leader counted. The study association needs at least 3 at every session. "
                    "If more were there, press their names in my message from the start of the session.",
                    int(warning.value),
                ).format(present=int(warning.value), number=number, title=circle.title)
            )

        await effects.notify(person, build, key=f"{timer.key}:fewpresent")


async def _organisers(effects: Effects, circle: Circle) -> list[Person]:
    """Who hears about the circle's problems: its leader and whoever created it."""
    people: list[Person] = []
    for person_id in (circle.leader_id, circle.created_by):
        if person_id is not None and person_id not in {p.id for p in people}:
            person = await effects.uow.people.get(person_id)
            if person:
                people.append(person)
    return people


async def low_check(effects: Effects, timer: Timer) -> None:
    """Close to the deadline: warns when fewer have signed up than the circle's minimum."""
    circle = await effects.uow.circles.get(int(timer.payload["circle"]))
    if circle is None or circle.status is not CircleStatus.OPEN or circle.id is None:
        return
    count = len(enrolled(await effects.uow.circles.enrolments(circle.id)))
    if count >= circle.min_participants:
        return
    org = await effects.uow.orgs.get(circle.org_id)
    if org is None:
        return
    for person in await _organisers(effects, circle):

        def build(t: Translator) -> OutgoingMessage:
            text = t.ngettext(
                "{title} has {count} signed up but needs at least {min}. Sign-up closes {deadline}.",
                "{title} has {count} signed up but needs at least {min}. Sign-up closes {deadline}.",
                count,
            ).format(
                title=circle.title,
                count=count,
                min=circle.min_participants,
                deadline=when(circle.signup_deadline, org.zone, t),
            )
            text += " " + t(
                "Invite more people, or talk to the study association about moving the circle."
            )
            return message(text)

        await effects.notify(person, build, key=f"{timer.key}:warn")


# --- Moving a session -------------------------------------------------------------------


async def move_session(
    effects: Effects,
    circle: Circle,
    session: CircleSession,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    place: str | None = None,
) -> None:
    """Moves a session in time and/or to another place, for everyone.

    The change goes on the attendance list; reminders follow the new time
    (the circle's version is raised, so the old timers do nothing); the
    participants and the leader are told.
    """
    assert circle.id is not None and session.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    assert org is not None
    zone = org.zone
    t_org = Translator(org.language)
    if starts_at is not None and ends_at is not None:
        old = when_span(session.starts_at, session.ends_at, zone, t_org)
        session.starts_at, session.ends_at = starts_at, ends_at
        await effects.uow.circles.add_change(
            CircleChange(
                circle.id,
                ChangeKind.MOVED,
                effects.now,
                session_id=session.id,
                detail=f"{old} → {when_span(starts_at, ends_at, zone, t_org)}",
            )
        )
    if place is not None:
        old_place = session.place or circle.where
        session.place = place
        await effects.uow.circles.add_change(
            CircleChange(
                circle.id,
                ChangeKind.PLACE,
                effects.now,
                session_id=session.id,
                detail=f"{old_place} → {place}",
            )
        )
    circle.version += 1
    await effects.uow.circles.flush()
    await _arm(effects, circle)
    number, total = await _numbered(effects, circle, session)
    people = await _participants(effects, circle)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    if leader and leader.id not in {p.id for p in people}:
        people.append(leader)
    for person in people:

        def build(t: Translator) -> OutgoingMessage:
            text = MessageBuilder().line(
                bold(
                    t("Changed: {title}, session {number} of {total}").format(
                        title=circle.title, number=number, total=total
                    )
                )
            )
            text.line(_session_line(t, session, zone))
            where = session.place or circle.where
            if where:
                text.line(t("Where: {place}").format(place=where))
            return text.build()

        await effects.notify(
            person, build, key=f"circle:{circle.id}:v{circle.version}:s{session.id}:moved"
        )


async def move_session_command(ctx: Context, args: str) -> None:
    words = args.split()
    usage = ctx.t(
        "Write the circle, the session and the new time or place, e.g. "
        "/flytta_cirkeltraff 2 1 19/3 18:00-20:15 or /flytta_cirkeltraff 2 1 plats Folkets hus."
    )
    if len(words) < 3 or not parse_id(words[0]) or not parse_id(words[1]):
        raise Refusal(usage)
    circle = await _circle_arg(ctx, words[0])
    if not await can_manage(ctx, ctx.person, circle):
        raise Refusal(ctx.t("Only the circle's leader or an organiser can change it."))
    assert circle.id is not None
    sessions = list(await ctx.uow.circles.sessions(circle.id))
    number = int(words[1])
    if not 1 <= number <= len(sessions):
        raise Refusal(
            ctx.t("{title} has sessions 1 to {count}.").format(
                title=circle.title, count=len(sessions)
            )
        )
    session = sessions[number - 1]
    org = await ctx.uow.orgs.get(circle.org_id)
    assert org is not None
    if session.ends_at <= ctx.now:
        raise Refusal(ctx.t("That session is over; it can't be moved."))
    if words[2].lower() in ("plats", "place"):
        place = " ".join(words[3:]).strip()
        if not place or len(place) > 300:
            raise Refusal(usage)
        await move_session(ctx, circle, session, place=place)
    else:
        try:
            planned = parse_sessions(" ".join(words[2:]), org.zone, ctx.now)
        except InputError as error:
            raise _input_refusal(ctx, error) from error
        if len(planned) != 1:
            raise Refusal(usage)
        new = planned[0]
        for other in sessions:
            if (
                other is not session
                and other.starts_at < new.ends_at
                and new.starts_at < other.ends_at
            ):
                raise Refusal(ctx.t("Two sessions overlap. Check the dates and times."))
        await move_session(ctx, circle, session, starts_at=new.starts_at, ends_at=new.ends_at)
    await ctx.reply(
        message(
            ctx.t("Done. Session {number} of {title} is changed and everyone is told.").format(
                number=number, title=circle.title
            )
        )
    )


# --- Attendance ------------------------------------------------------------------------


async def check_in(ctx: Context, args: tuple[str, ...]) -> None:
    session = (
        await ctx.uow.circles.get_session(int(args[0]))
        if args and (args[0].isascii() and args[0].isdigit())
        else None
    )
    circle = await ctx.uow.circles.get(session.circle_id) if session else None
    if session is None or circle is None or session.id is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    enrolment = await ctx.uow.circles.enrolment(session.circle_id, ctx.person_id)
    if enrolment is None or enrolment.state is not EnrolmentState.ENROLLED:
        raise Refusal(ctx.t("You are not signed up for {title}.").format(title=circle.title))
    if not (
        session.starts_at - CHECKIN_OPENS_BEFORE
        <= ctx.now
        <= session.ends_at + CHECKIN_CLOSES_AFTER
    ):
        raise Refusal(
            ctx.t("Check-in is open only during the session. Ask the leader to mark you.")
        )
    present = {
        a.person_id
        for a in await ctx.uow.circles.attendance(circle.id or 0)
        if a.session_id == session.id
    }
    if ctx.person_id not in present:
        await ctx.uow.circles.add_attendance(
            SessionAttendance(session.id, ctx.person_id, recorded_at=ctx.now)
        )
    await ctx.reply(message(ctx.t("Welcome! You are marked present.")))


async def mark(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or not all((a.isascii() and a.isdigit()) for a in args):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    session = await ctx.uow.circles.get_session(int(args[0]))
    circle = await ctx.uow.circles.get(session.circle_id) if session else None
    if session is None or circle is None or session.id is None or circle.id is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if not await can_manage(ctx, ctx.person, circle):
        raise Refusal(ctx.t("Only the circle's leader or an organiser can mark attendance."))
    if ctx.now < session.starts_at - CHECKIN_OPENS_BEFORE:
        raise Refusal(ctx.t("That session has not started yet."))
    person_id = int(args[1])
    enrolment = await ctx.uow.circles.enrolment(circle.id, person_id)
    person = await ctx.uow.people.get(person_id)
    if enrolment is None or person is None or enrolment.state is not EnrolmentState.ENROLLED:
        raise Refusal(ctx.t("That person is not in the circle any more."))
    present = {
        a.person_id
        for a in await ctx.uow.circles.attendance(circle.id)
        if a.session_id == session.id
    }
    if person_id in present:
        await ctx.uow.circles.remove_attendance(session.id, person_id)
        present.discard(person_id)
        word = ctx.t("absent")
    else:
        await ctx.uow.circles.add_attendance(
            SessionAttendance(session.id, person_id, recorded_at=ctx.now, marked_by=ctx.person_id)
        )
        present.add(person_id)
        word = ctx.t("present")
    await ctx.reply(
        message(
            ctx.t("{name}: {state}. Present now: {count}, the leader counted.").format(
                name=person.display_name, state=word, count=len(present - {circle.leader_id}) + 1
            )
        )
    )


# --- The attendance list -------------------------------------------------------------


@dataclass
class ListRow:
    name: str
    role: str
    present: list[str]
    meetings: int
    hours: float
    counts: str


@dataclass
class AttendanceList:
    """What an organiser hands to the study association, in the reader's language."""

    title: str
    kind: str
    organisation: str
    leader: str
    place: str
    sessions: list[tuple[str, str, float, int]]  # date, time, study hours, present (leader counted)
    rows: list[ListRow]
    changes: list[tuple[str, str, str]]  # when, what, who
    warnings: list[str]
    anonymous: int
    session_headers: list[str]
    total_hours: float

    def to_csv(self, t: Translator) -> bytes:
        out = io.StringIO()
        writer = SafeCsvWriter(out, lineterminator="\n")
        writer.writerow([t("Study circle"), self.title])
        writer.writerow([t("Kind"), self.kind])
        writer.writerow([t("Organisation"), self.organisation])
        writer.writerow([t("Leader"), self.leader])
        writer.writerow([t("Place"), self.place])
        writer.writerow([t("Study hours"), format_hours(self.total_hours)])
        writer.writerow([])
        writer.writerow(
            [
                t("Name"),
                t("Role"),
                *self.session_headers,
                t("Sessions present"),
                t("Study hours"),
                t("Counts as participant"),
            ]
        )
        for row in self.rows:
            writer.writerow(
                [
                    row.name,
                    row.role,
                    *row.present,
                    row.meetings,
                    format_hours(row.hours),
                    row.counts,
                ]
            )
        writer.writerow([])
        writer.writerow([t("Session"), t("Date"), t("Time"), t("Study hours"), t("Present")])
        for number, (date_text, time_text, hours, present) in enumerate(self.sessions, start=1):
            writer.writerow([number, date_text, time_text, format_hours(hours), present])
        writer.writerow([])
        writer.writerow([t("Changes since the start")])
        writer.writerow([t("When"), t("What"), t("Who or what")])
        for change in self.changes:
            writer.writerow(list(change))
        writer.writerow([])
        for note in self.notes(t):
            writer.writerow([t("Note"), note])
        return out.getvalue().encode("utf-8")

    def notes(self, t: Translator) -> list[str]:
        notes = list(self.warnings)
        if self.anonymous:
            notes.append(
                t.ngettext(
                    "{count} participant did not agree to be named on this list and is shown "
                    "without their name.",
                    "{count} participants did not agree to be named on this list and are shown "
                    "without their names.",
                    self.anonymous,
                ).format(count=self.anonymous)
            )
        return notes

    def to_html(self, t: Translator) -> bytes:
        e = html.escape
        heading = t("Attendance list: {title}").format(title=self.title)
        changes = t("Changes since the start")
        signature = t("Signature of the leader:")
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{e(t.language)}"><head><meta charset="utf-8">',
            f"<title>{e(heading)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "margin:1em 0}th,td{border:1px solid #444;padding:4px 8px;text-align:left}"
            "@media print{body{margin:0}}</style></head><body>",
            f"<h1>{e(heading)}</h1>",
            "<p>",
        ]
        for label, value in (
            (t("Kind"), self.kind),
            (t("Organisation"), self.organisation),
            (t("Leader"), self.leader),
            (t("Place"), self.place),
            (t("Study hours"), format_hours(self.total_hours)),
        ):
            parts.append(f"<b>{e(label)}:</b> {e(value)}<br>")
        parts.append("</p><table><tr>")
        headers = [
            t("Name"),
            t("Role"),
            *self.session_headers,
            t("Sessions present"),
            t("Study hours"),
            t("Counts as participant"),
        ]
        parts += [f"<th>{e(h)}</th>" for h in headers]
        parts.append("</tr>")
        for row in self.rows:
            cells = [
                row.name,
                row.role,
                *row.present,
                str(row.meetings),
                format_hours(row.hours),
                row.counts,
            ]
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
        parts.append(f"</table><h2>{e(changes)}</h2><table>")
        parts.append(
            "<tr>"
            + "".join(f"<th>{e(h)}</th>" for h in (t("When"), t("What"), t("Who or what")))
            + "</tr>"
        )
        for change in self.changes:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in change) + "</tr>")
        parts.append("</table>")
        for note in self.notes(t):
            parts.append(f"<p>{e(note)}</p>")
        parts.append(f"<p>{e(signature)} ______________________</p></body></html>")
        return "\n".join(parts).encode("utf-8")


CHANGE_WORDS = {
    ChangeKind.JOINED: N_("signed up"),
    ChangeKind.WAITLISTED: N_("joined the waitlist"),
    ChangeKind.PROMOTED: N_("got a place from the waitlist"),
    ChangeKind.LEFT: N_("left"),
    ChangeKind.MOVED: N_("session moved"),
    ChangeKind.PLACE: N_("session place changed"),
}


async def attendance_list(effects: Effects, circle: Circle, t: Translator) -> AttendanceList:
    """Builds the attendance list; only people who agreed are named, the others anonymised."""
    assert circle.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    assert org is not None
    zone = org.zone
    sessions = list(await effects.uow.circles.sessions(circle.id))
    enrolments = await effects.uow.circles.enrolments(circle.id)
    attendance = await effects.uow.circles.attendance(circle.id)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    present_by: dict[int, set[int]] = {}
    for record in attendance:
        if record.person_id is not None:  # erased people stay in head counts, not on the list
            present_by.setdefault(record.person_id, set()).add(record.session_id)
    consent = {e.person_id: e.list_consent for e in enrolments}
    listed = [
        e
        for e in enrolments
        if e.person_id != circle.leader_id
        and (e.state is EnrolmentState.ENROLLED or e.person_id in present_by)
    ]
    labels: dict[int, str] = {}
    anonymous = 0
    for enrolment in listed:
        if enrolment.list_consent:
            person = await effects.uow.people.get(enrolment.person_id)
            labels[enrolment.person_id] = person.display_name if person else t("Former participant")
        else:
            anonymous += 1
            labels[enrolment.person_id] = t("Participant {number} (no name)").format(
                number=anonymous
            )
    held = [s for s in sessions if s.starts_at <= effects.now]
    rows: list[ListRow] = []
    if leader:
        rows.append(
            ListRow(
                leader.display_name,
                t("Leader"),
                [t("present") if s in held else "" for s in sessions],
                len(held),
                study_hours(sum(s.minutes for s in held)),
                t("leader"),
            )
        )
    for enrolment in listed:
        mine = present_by.get(enrolment.person_id, set())
        attended = [s for s in sessions if s.id in mine]
        rows.append(
            ListRow(
                labels[enrolment.person_id],
                t("Participant") if enrolment.state is EnrolmentState.ENROLLED else t("Left"),
                [
                    (t("present") if s.id in mine else t("absent")) if s in held else ""
                    for s in sessions
                ],
                len(attended),
                study_hours(sum(s.minutes for s in attended)),
                t("yes") if counts_as_participant(sessions, mine) else t("no"),
            )
        )
    session_rows = []
    warnings = []
    for number, session in enumerate(sessions, start=1):
        here = sum(1 for ids in present_by.values() if session.id in ids)
        leader_present = (
            1
            if circle.leader_id
            and circle.leader_id
            not in {r.person_id for r in attendance if r.session_id == session.id}
            else 0
        )
        local = session.starts_at.astimezone(zone)
        session_rows.append(
            (
                local.date().isoformat(),
                f"{local:%H:%M}-{session.ends_at.astimezone(zone):%H:%M}",
                study_hours(session.minutes),
                here + leader_present if session in held else 0,
            )
        )
        if session in held:
            warning = session_attendance_warning(number, here, bool(circle.leader_id))
            if warning:
                warnings.append(
                    t("Session {number}: only {present} present; at least 3 are needed.").format(
                        number=number, present=int(warning.value)
                    )
                )
    for warning in plan_warnings(
        [s.minutes for s in sessions], circle.min_participants, circle.max_participants
    ):
        warnings.append(rule_text(t, warning))
    changes = []
    for change in await effects.uow.circles.changes(circle.id):
        if change.person_id is None:
            who = t("Former participant")
        elif change.person_id in labels:
            who = labels[change.person_id]
        elif consent.get(change.person_id):
            person = await effects.uow.people.get(change.person_id)
            who = person.display_name if person else t("Former participant")
        else:
            who = t("A person who is not named")
        if change.kind in (ChangeKind.MOVED, ChangeKind.PLACE):
            who = change.detail
        at = change.at.astimezone(zone)
        changes.append((f"{at:%Y-%m-%d %H:%M}", t(CHANGE_WORDS[change.kind]), who))
    return AttendanceList(
        title=circle.title,
        kind=kind_name(t, circle.kind),
        organisation=org.name,
        leader=leader.display_name if leader else "",
        place=circle.where,
        sessions=session_rows,
        rows=rows,
        changes=changes,
        warnings=warnings,
        anonymous=anonymous,
        session_headers=[
            t("Session {number} {date}").format(number=n, date=row[0])
            for n, row in enumerate(session_rows, start=1)
        ],
        total_hours=study_hours(sum(s.minutes for s in sessions)),
    )


def _file_stem(circle: Circle) -> str:
    return f"narvarolista-cirkel-{circle.id}"


async def send_attendance_list(effects: Effects, circle: Circle, person: Person, key: str) -> None:
    """Sends the person the list as CSV and as a printable HTML page, privately."""
    translator = await effects.translator_for(person)
    sheet = await attendance_list(effects, circle, translator)
    stem = _file_stem(circle)

    def build_csv(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(bold(t("Attendance list: {title}").format(title=circle.title)))
        counted = sum(1 for r in sheet.rows if r.counts == t("yes"))
        text.line(
            t.ngettext(
                "{people} participant, {counted} of them count for the study association so far.",
                "{people} participants, {counted} of them count for the study association so far.",
                len(sheet.rows) - (1 if sheet.leader else 0),
            ).format(people=len(sheet.rows) - (1 if sheet.leader else 0), counted=counted)
        )
        for note in sheet.notes(t):
            text.line(note)
        text.attach(Attachment(f"{stem}.csv", "text/csv", sheet.to_csv(t)))
        return text.build()

    def build_html(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(t("The same list as a page to print."))
            .attach(Attachment(f"{stem}.html", "text/html", sheet.to_html(t)))
            .build()
        )

    await effects.notify(person, build_csv, key=f"{key}:csv")
    await effects.notify(person, build_html, key=f"{key}:html")


async def _send_list(ctx: Context, circle: Circle) -> None:
    if not await can_manage(ctx, ctx.person, circle):
        raise Refusal(
            ctx.t("Only the circle's leader or an organiser can get its attendance list.")
        )
    await send_attendance_list(ctx, circle, ctx.person, f"circle:{circle.id}:list:{ctx.event_id}")
    if not ctx.chat.is_private and not ctx.answered_elsewhere:  # else it is there already
        await ctx.reply(message(ctx.t("I've sent you the list privately: it has names in it.")))


async def attendance_button(ctx: Context, args: tuple[str, ...]) -> None:
    await _send_list(ctx, await _circle_arg(ctx, args[0] if args else ""))


async def attendance_command(ctx: Context, args: str) -> None:
    if not args.strip():
        circles = [
            c
            for c in await ctx.uow.circles.of_orgs(await reachable_org_ids(ctx, ctx.person))
            if c.status is CircleStatus.OPEN and await can_manage(ctx, ctx.person, c)
        ]
        if not circles:
            raise Refusal(ctx.t("There are no study circles here yet. Start one with /ny_cirkel."))
        text = MessageBuilder().line(bold(ctx.t("Which circle?")))
        for circle in circles[-SHOWN_CIRCLES:]:
            text.button_row(
                Button(f"{circle.id}: {circle.title}", Action("circle.list", (str(circle.id),)))
            )
        await ctx.reply(text.build())
        return
    await _send_list(ctx, await _circle_arg(ctx, args))


# --- My circles and education history ------------------------------------------------


async def my_circles(ctx: Context, args: str) -> None:
    enrolments = [
        e
        for e in await ctx.uow.circles.enrolments_of(ctx.person_id)
        if e.state is not EnrolmentState.WITHDRAWN
    ]
    led = [
        c
        for c in await ctx.uow.circles.of_orgs(await reachable_org_ids(ctx, ctx.person))
        if c.leader_id == ctx.person_id and c.status is CircleStatus.OPEN
    ]
    if not enrolments and not led:
        await ctx.reply(
            message(ctx.t("You are not in any study circle yet. See what is open with /cirklar."))
        )
        return
    text = MessageBuilder().line(bold(ctx.t("Your study circles and education")))
    buttons = []
    kinds: set[EducationKind] = set()  # every kind they have been signed up for
    for enrolment in enrolments:
        circle = await ctx.uow.circles.get(enrolment.circle_id)
        if circle is None or circle.id is None or circle.status is not CircleStatus.OPEN:
            continue
        org = await ctx.uow.orgs.get(circle.org_id)
        sessions = list(await ctx.uow.circles.sessions(circle.id))
        if org is None or not sessions:
            continue
        mine = {
            a.session_id
            for a in await ctx.uow.circles.attendance(circle.id)
            if a.person_id == ctx.person_id
        }
        kinds.add(circle.kind)
        line = _history_status(ctx, enrolment, sessions, mine, org)
        if sessions[-1].ends_at > ctx.now:
            buttons.append(
                Button(
                    ctx.t("Withdraw: {title}").format(title=circle.title),
                    Action("circle.leave", (str(circle.id),)),
                )
            )
        name = kind_name(ctx.t, circle.kind)
        if circle.title.casefold() != name.casefold():
            name += f" ({circle.title})"
        text.line(f"• {name}: {line}")
    for circle in led:
        text.line("• " + ctx.t("{title}: you lead it").format(title=circle.title))
    if EducationKind.MEMBER_EDUCATION_1 not in kinds:
        text.paragraph(ctx.t("Member education step 1 is a good start: see /cirklar."))
    for button in buttons:
        text.button_row(button)
    await ctx.reply(text.build())


def _history_status(
    ctx: Context,
    enrolment: Enrolment,
    sessions: Sequence[CircleSession],
    mine: set[int],
    org: Organisation,
) -> str:
    if enrolment.state is EnrolmentState.WAITLISTED:
        return ctx.t("on the waitlist")
    if sessions[-1].ends_at <= ctx.now:
        if counts_as_participant(sessions, mine):
            return ctx.t("done")
        return ctx.t.ngettext(
            "ended, you took part in {count} of {total} session",
            "ended, you took part in {count} of {total} sessions",
            len(sessions),
        ).format(count=len(mine), total=len(sessions))
    if sessions[0].starts_at > ctx.now:
        return ctx.t("booked, starts {date}").format(
            date=day(sessions[0].starts_at, org.zone, ctx.t)
        )
    held = sum(1 for s in sessions if s.starts_at <= ctx.now)
    return ctx.t.ngettext(
        "under way, you have been at {count} of {held} session so far",
        "under way, you have been at {count} of {held} sessions so far",
        held,
    ).format(count=len(mine), held=held)


# --- The dialog ----------------------------------------------------------------------


async def _host_org(ctx: Context) -> Organisation:
    """Where a new circle belongs: the group's organisation, or in private the organisation
    (from the home one upwards) where the person holds the role that lets them run circles."""
    if ctx.org is None or ctx.org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    if not ctx.chat.is_private:
        return ctx.org
    roles = await ctx.uow.people.roles_of(ctx.person_id)
    for org in await ctx.uow.orgs.lineage(ctx.org.id):
        if org.id is not None and Permission.MANAGE_CIRCLES in permissions_in([org.id], roles):
            return org
    return ctx.org


async def new_circle(ctx: Context, args: str) -> None:
    org = await _host_org(ctx)
    assert org.id is not None
    await NEW_CIRCLE.start(ctx, NewCircle(org.id))


@dataclass
class NewCircle:
    """What the organiser has answered so far in /ny_cirkel."""

    org: int
    title: str = ""
    kind: EducationKind = EducationKind.MEMBER_EDUCATION_1
    description: str = ""
    material: str = ""
    leader: int | None = None
    sessions: list[tuple[datetime, datetime]] = field(default_factory=list)
    place: str | None = None
    link: str | None = None
    range: tuple[int, int] = (0, 0)
    deadline: datetime | None = None


async def _circle_org(ctx: Context, draft: NewCircle) -> Organisation:
    org = await ctx.uow.orgs.get(draft.org)
    if org is None:
        raise DialogOver(ctx.t("That organisation is gone. Nothing was saved."))
    return org


async def _title_prompt(ctx: Context, draft: NewCircle) -> str:
    org = await _circle_org(ctx, draft)
    return (
        ctx.t("A new study circle in {org}.").format(org=org.name)
        + "\n"
        + ctx.t("What is its title? For example: Medlemsutbildning steg 1")
    )


def _read_title(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 120:
        raise Refusal(ctx.t("Keep the title under 120 characters."))
    return value


def _read_about(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 2000:
        raise Refusal(ctx.t("That is too long; keep it under 2000 characters."))
    return value


async def _read_leader(ctx: Context, value: str, draft: NewCircle) -> int:
    return await _find_leader(ctx, await _circle_org(ctx, draft), value)


async def _read_sessions(
    ctx: Context, value: str, draft: NewCircle
) -> list[tuple[datetime, datetime]]:
    org = await _circle_org(ctx, draft)
    try:
        sessions = parse_sessions(value, org.zone, ctx.now)
    except InputError as error:
        raise _input_refusal(ctx, error) from error
    return [(s.starts_at, s.ends_at) for s in sessions]


def _read_place(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 300:
        raise Refusal(ctx.t("Keep the place under 300 characters."))
    return value


def _store_place(draft: NewCircle, value: str) -> None:
    is_link = value.lower().startswith(("http://", "https://"))
    draft.place, draft.link = (None, value) if is_link else (value, None)


def _read_range(ctx: Context, value: str, draft: NewCircle) -> tuple[int, int]:
    try:
        return parse_range(value)
    except InputError as error:
        raise _input_refusal(ctx, error) from error


async def _read_last_day(ctx: Context, value: str, draft: NewCircle) -> datetime:
    org = await _circle_org(ctx, draft)
    first = draft.sessions[0][0]
    try:
        last_day = parse_date(value, ctx.now.astimezone(org.zone).date())
    except InputError as error:
        raise _input_refusal(ctx, error) from error
    deadline = datetime.combine(last_day, time(23, 59), org.zone).astimezone(ZoneInfo("UTC"))
    if deadline > first:
        raise Refusal(ctx.t("The last day to sign up must be before the first session."))
    return _future_deadline(ctx, deadline)


def _week_before(ctx: Context, draft: NewCircle) -> datetime:
    return _future_deadline(ctx, default_deadline(draft.sessions[0][0]))


def _future_deadline(ctx: Context, deadline: datetime) -> datetime:
    if deadline <= ctx.now:
        raise Refusal(ctx.t("The last day to sign up must be in the future."))
    return deadline


def _input_refusal(ctx: Context, error: InputError) -> Refusal:
    texts = {
        "date": ctx.t("I can't read that date. Write e.g. 10/3 or 2026-03-10."),
        "time": ctx.t("I can't read that time. Write e.g. 18:00."),
        "span": ctx.t("Write the time as start-end, e.g. 18:00-20:15."),
        "sessions": ctx.t(
            "I can't read that. Write e.g. '10/3 18:00-20:15' or '10/3 18:00-20:15 x4'."
        ),
        "end_before_start": ctx.t("A session must end after it starts."),
        "overlap": ctx.t("Two sessions overlap. Check the dates and times."),
        "past": ctx.t("The sessions must be in the future."),
        "too_many_sessions": ctx.t("That is too many sessions; at most 30."),
        "range": ctx.t("Write two numbers, the smallest first, e.g. 4-12."),
    }
    if error.cause is not None and error.code not in texts:
        return Refusal(error.cause.explain(ctx.t))
    return Refusal(texts.get(error.code, texts["sessions"]))


async def _find_leader(ctx: Context, org: Organisation, value: str) -> int:
    if value.lower() in ("jag", "me", "mig", "i"):
        return ctx.person_id
    assert org.id is not None
    org_ids = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    matches = await ctx.uow.people.find_in_orgs(org_ids, value.lstrip("@"))
    if len(matches) != 1 or matches[0].id is None:
        raise Refusal(
            ctx.t("I found no one called {name} in {org}.").format(name=value, org=org.name)
            if not matches
            else ctx.t("Several people match {name}; write their username.").format(name=value)
        )
    return matches[0].id


def _draft(form: NewCircle, created_by: int) -> CircleDraft:
    assert form.leader is not None
    return CircleDraft(
        org_id=form.org,
        title=form.title,
        kind=form.kind,
        sessions=[PlannedSession(start, end) for start, end in form.sessions],
        min_participants=form.range[0],
        max_participants=form.range[1],
        signup_deadline=form.deadline,
        description=form.description,
        material=form.material,
        place=form.place,
        link=form.link,
        leader_id=form.leader,
        created_by=created_by,
    )


def rule_text(t: Translator, warning: RuleWarning) -> str:
    value = hours_text(t, warning.value)
    texts = {
        Rule.GROUP_TOO_SMALL: t(
            "The minimum makes a group of {value} with the leader; the study association needs at least 3."
        ),
        Rule.GROUP_TOO_LARGE: t(
            "The maximum makes a group of {value} with the leader; the study association allows at most 20."
        ),
        Rule.TOO_FEW_MEETINGS: t.ngettext(
            "{value} session; the study association needs at least 3.",
            "{value} sessions; the study association needs at least 3.",
            plural_form(warning.value),
        ),
        Rule.TOO_FEW_HOURS: t.ngettext(
            "{value} study hour in all (45 minutes each); the study association needs at least 9.",
            "{value} study hours in all (45 minutes each); the study association needs at least 9.",
            plural_form(warning.value),
        ),
        Rule.MEETING_TOO_LONG: t.ngettext(
            "Session {session} is {value} study hour; at most 4 count in one session.",
            "Session {session} is {value} study hours; at most 4 count in one session.",
            plural_form(warning.value),
        ),
        Rule.TOO_FEW_PRESENT: t("Session {session}: only {value} present; at least 3 are needed."),
        Rule.TOO_FEW_SIGNED_UP: t(
            "Only {value} in the group with the leader; at least 3 are needed."
        ),
    }
    return texts[warning.rule].format(value=value, session=warning.session)


async def _summary(ctx: Context, form: NewCircle) -> MessageBuilder:
    t = ctx.t
    org = await _circle_org(ctx, form)
    draft = _draft(form, ctx.person_id)
    leader = await ctx.uow.people.get(draft.leader_id) if draft.leader_id else None
    text = MessageBuilder().line(bold(t("Check the circle before I create it:")))
    text.line(bold(draft.title))
    preview = Circle(
        org_id=org.id or 0,
        title=draft.title,
        kind=draft.kind,
        min_participants=draft.min_participants,
        max_participants=draft.max_participants,
        signup_deadline=draft.signup_deadline or default_deadline(draft.sessions[0].starts_at),
        description=draft.description,
        material=draft.material,
        place=draft.place,
        link=draft.link,
    )
    sessions = [CircleSession(0, s.starts_at, s.ends_at) for s in draft.sessions]
    _describe(text, t, preview, org, sessions, leader, [])
    text.line(
        t.ngettext(
            "At least {min} participant for the circle to start.",
            "At least {min} participants for the circle to start.",
            draft.min_participants,
        ).format(min=draft.min_participants)
    )
    warnings = draft.rule_warnings()
    if warnings:
        text.paragraph(
            bold(t("Warning: the study association will not count this circle as it is:"))
        )
        for warning in warnings:
            text.line(f"• {rule_text(t, warning)}")
    return text


async def _create(ctx: Context, form: NewCircle) -> None:
    org = await _circle_org(ctx, form)
    if Permission.MANAGE_CIRCLES not in await ctx.permissions(org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    draft = _draft(form, ctx.person_id)
    if draft.signup_deadline is not None and draft.signup_deadline <= ctx.now:
        raise Refusal(ctx.t("The last day to sign up must be in the future."))
    circle = await create_circle(ctx, draft)
    await ctx.reply(
        message(
            ctx.t(
                "Created: {title} (number {id}). It is announced in the group chat, where it has "
                "its own thread. Members sign up with /cirklar."
            ).format(title=circle.title, id=circle.id)
        )
    )


NEW_CIRCLE: Dialog[NewCircle] = Dialog(
    name=DIALOG,
    draft=NewCircle,
    command="ny_cirkel",
    steps=(
        Step("title", _title_prompt, parse=_read_title),
        Step(
            "kind",
            lambda ctx, d: ctx.t("What kind of education is it?"),
            parse=lambda ctx, value, d: EducationKind(value),
            choices=lambda ctx, d: [[Choice(kind_name(ctx.t, k), k.value)] for k in EducationKind],
            typed=False,
        ),
        Step(
            "description",
            lambda ctx, d: ctx.t("Describe the circle in a sentence or two."),
            parse=_read_about,
            skip=Skip(""),
        ),
        Step(
            "material",
            lambda ctx, d: ctx.t("Which study material do you use?"),
            parse=_read_about,
            skip=Skip(""),
        ),
        Step(
            "leader",
            lambda ctx, d: ctx.t("Who leads it? Write their name, or 'jag' if it is you."),
            parse=_read_leader,
        ),
        Step(
            "sessions",
            lambda ctx, d: ctx.t(
                "When does it meet? One session per line, e.g. '10/3 18:00-20:15', or a weekly "
                "series: '10/3 18:00-20:15 x4'."
            ),
            parse=_read_sessions,
        ),
        Step(
            "place",
            lambda ctx, d: ctx.t("Where? An address, or a link for a digital circle."),
            parse=_read_place,
            store=_store_place,
        ),
        Step(
            "range",
            lambda ctx, d: ctx.t(
                "How many participants, at least and at most, not counting the leader? E.g. 4-12"
            ),
            parse=_read_range,
        ),
        Step(
            "deadline",
            lambda ctx, d: ctx.t("Last day to sign up? E.g. 3/3."),
            parse=_read_last_day,
            skip=Skip(compute=_week_before, label=N_("A week before the first session")),
        ),
    ),
    confirm=Confirm(_summary, save=N_("Create the circle"), discard=N_("Discard")),
    finish=_create,
)


# --- Demo ----------------------------------------------------------------------------


async def seed_demo_circles(uow: UnitOfWork, clock: Clock) -> None:
    """One demo circle: member education step 1 in Sandviken, Erik leading.

    Three Tuesday evenings starting about eight weeks ahead, not announced (a
    seeded database starts with an empty outbox) and with no one signed up yet.
    """
    org = await uow.orgs.by_slug("sandviken")
    erik = await uow.people.by_identity("console", "erik")
    if org is None or org.id is None or erik is None:
        return
    today = clock.now().astimezone(org.zone).date() + timedelta(weeks=8)
    first_day = today + timedelta(days=(1 - today.weekday()) % 7)  # the next Tuesday
    start = datetime.combine(first_day, time(18, 0), org.zone).astimezone(ZoneInfo("UTC"))
    await create_circle(
        Effects(uow, clock),
        CircleDraft(
            org_id=org.id,
            title="Medlemsutbildning steg 1",
            kind=EducationKind.MEMBER_EDUCATION_1,
            sessions=[
                PlannedSession(
                    start + timedelta(weeks=week), start + timedelta(weeks=week, minutes=135)
                )
                for week in range(3)
            ],
            min_participants=3,
            max_participants=12,
            description="Grunderna: partiets historia, våra värderingar och hur vi arbetar lokalt.",
            material="Medlemsutbildning steg 1 (ABF)",
            place="ABF-huset, Sandviken",
            leader_id=erik.id,
            created_by=erik.id,
        ),
        announce=False,
    )
