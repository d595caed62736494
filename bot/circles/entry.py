"""Study circles in chat: the commands, buttons and timers, calling the use cases in
`bot.circles.service` and the messages in `bot.circles.views`."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bot.actions import Choice
from bot.circles import views
from bot.circles.dialogs import NEW_CIRCLE, NewCircle, host_org, input_refusal
from bot.circles.model import (
    Circle,
    CircleSession,
    CircleStatus,
    EducationKind,
    EnrolmentState,
    InputError,
    SessionAttendance,
    enrolled,
    parse_sessions,
    session_attendance_warning,
    waitlist,
)
from bot.circles.service import (
    CIRCLE,
    SESSION,
    SessionInCircle,
    can_manage,
    can_see,
    give_up_places,
    leader_of,
    move_session,
    numbered,
    open_circles,
    organisers,
    participants,
    reachable_org_ids,
    send_attendance_list,
    sign_up,
    withdraw,
)
from bot.context import Context, Effects, Refusal
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import Status
from bot.i18n import N_, Translator
from bot.messages import MessageBuilder, OutgoingMessage, bold, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.registry import MEMBERS_ONLY, Access, CommandSpec, Registry, within

# How long after a session "too few were marked present" still helps (names can be added).
FEW_PRESENT_USEFUL = timedelta(days=3)
CHECKIN_OPENS_BEFORE = timedelta(minutes=15)
CHECKIN_CLOSES_AFTER = timedelta(minutes=30)
SHOWN_CIRCLES = 8


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
    # Marking and the list are for the circle's leader too, who needs no organiser role:
    # the handlers check `can_manage`, not a declared permission.
    # Members, or guests too where the circle is open to them: `_check_open` decides.
    registry.action("circle.join", join, Access.CONSENTED, args=(CIRCLE,))
    registry.action(
        "circle.consent", consent_and_sign_up, Access.CONSENTED, args=(CIRCLE, Choice("yes", "no"))
    )
    registry.action(
        "circle.guests",
        open_to_guests,
        Permission.MANAGE_CIRCLES,
        args=(CIRCLE, Choice("yes", "no")),
    )
    registry.action("circle.leave", leave, Access.CONSENTED, args=(CIRCLE,))
    registry.action("circle.checkin", check_in, Access.CONSENTED, args=(SESSION,))
    registry.action("circle.mark", mark, Access.CONSENTED, args=(SESSION, int))
    registry.action("circle.list", attendance_button, Access.CONSENTED, args=(CIRCLE,))
    registry.dialog(NEW_CIRCLE)
    registry.timer("circle.reminder", reminder_due, useful_until=until_session_starts)
    registry.timer("circle.start", session_started, useful_until=until_session_ends)
    registry.timer("circle.end", session_ended, useful_until=within(FEW_PRESENT_USEFUL))
    registry.timer("circle.lowcheck", low_check, useful_until=until_signup_closes)
    registry.before_erase(give_up_places)


# --- Listing -------------------------------------------------------------------------


async def list_circles(ctx: Context, args: str) -> None:
    if args.strip():  # one circle by its number (Discord's autocomplete offers them)
        await ctx.reply(await _card(ctx, await _circle_arg(ctx, args)))
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
        await ctx.reply(await _card(ctx, circle))


async def _card(ctx: Context, circle: Circle) -> OutgoingMessage:
    """One circle as this person sees it, with the buttons they may press."""
    assert circle.id is not None
    org = await ctx.uow.orgs.get(circle.org_id)
    assert org is not None
    return views.card(
        ctx.t,
        circle,
        org,
        await ctx.uow.circles.sessions(circle.id),
        await leader_of(ctx, circle),
        await ctx.uow.circles.enrolments(circle.id),
        ctx.person_id,
        manage=await can_manage(ctx, ctx.person, circle),
        organiser=await ctx.meets(Permission.MANAGE_CIRCLES, org),
    )


async def _circle_arg(ctx: Context, raw: str) -> Circle:
    """A circle named by a typed number, if the person may see it."""
    circle_id = parse_id(raw)
    circle = await ctx.uow.circles.get(circle_id) if circle_id else None
    if circle is None or not await can_see(ctx, circle):
        raise Refusal(ctx.t("I can't find that study circle. See /cirklar."))
    return circle


# --- Signing up and withdrawing -----------------------------------------------------


async def join(ctx: Context, args: tuple[Any, ...]) -> None:
    (circle,) = args
    _check_open(ctx, circle)
    existing = await ctx.uow.circles.enrolment(circle.id or 0, ctx.person_id)
    if existing and existing.state is not EnrolmentState.WITHDRAWN:
        raise Refusal(ctx.t("You are already signed up for {title}.").format(title=circle.title))
    build = partial(views.consent_question, circle=circle)
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
    if ctx.person.status is not Status.MEMBER and not circle.open_to_guests:
        raise Refusal(ctx.t(MEMBERS_ONLY))
    if circle.status is not CircleStatus.OPEN:
        raise Refusal(ctx.t("{title} has been cancelled.").format(title=circle.title))
    if circle.signup_deadline <= ctx.now:
        raise Refusal(
            ctx.t("Sign-up for {title} has closed. Ask the organiser if there is room.").format(
                title=circle.title
            )
        )


async def consent_and_sign_up(ctx: Context, args: tuple[Any, ...]) -> None:
    circle, answer = args
    _check_open(ctx, circle)
    enrolment = await sign_up(ctx, circle, ctx.person, list_consent=answer == "yes")
    org = await ctx.uow.orgs.get(circle.org_id)
    assert org is not None and circle.id is not None
    if enrolment.state is EnrolmentState.ENROLLED:
        sessions = await ctx.uow.circles.sessions(circle.id)
        await ctx.reply(views.signed_up(ctx.t, circle, sessions[0].starts_at, org.zone))
    else:
        place = [e.person_id for e in waitlist(await ctx.uow.circles.enrolments(circle.id))]
        await ctx.reply(views.waitlisted(ctx.t, circle, place.index(ctx.person_id) + 1))


async def open_to_guests(ctx: Context, args: tuple[Any, ...]) -> None:
    circle, answer = args
    circle.open_to_guests = answer == "yes"
    await ctx.reply(views.guests_changed(ctx.t, circle))


async def leave(ctx: Context, args: tuple[Any, ...]) -> None:
    (circle,) = args
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


async def reminder_due(effects: Effects, timer: Timer) -> None:
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, org = found
    number, total = await numbered(effects, circle, session)
    people = await participants(effects, circle)
    leader = await leader_of(effects, circle)
    if people and leader:
        people.append(leader)
    build = partial(
        views.reminder, circle=circle, session=session, number=number, total=total, zone=org.zone
    )
    await effects.notify_each(people, build, key=f"{timer.key}:p")


async def session_started(effects: Effects, timer: Timer) -> None:
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, _org = found
    number, total = await numbered(effects, circle, session)
    people = [p for p in await participants(effects, circle) if p.id != circle.leader_id]
    if not people:
        return
    await effects.notify_each(
        people,
        partial(views.check_in_prompt, circle=circle, session=session, number=number, total=total),
        key=f"{timer.key}:checkin",
    )
    leader = await leader_of(effects, circle)
    if leader:
        build = partial(
            views.roll_call,
            circle=circle,
            session=session,
            number=number,
            total=total,
            people=people,
        )
        await effects.notify(leader, build, key=f"{timer.key}:leader")


async def session_ended(effects: Effects, timer: Timer) -> None:
    """Warns the leader and the organiser when too few were marked present for the rules."""
    found = await _timer_circle(effects, timer)
    if found is None:
        return
    circle, session, _org = found
    assert session.id is not None and circle.id is not None
    if not enrolled(await effects.uow.circles.enrolments(circle.id)):
        return
    number, _total = await numbered(effects, circle, session)
    present = {
        a.person_id
        for a in await effects.uow.circles.attendance(circle.id)
        if a.session_id == session.id and a.person_id != circle.leader_id
    }
    warning = session_attendance_warning(number, len(present))
    if warning is None:
        return
    await effects.notify_each(
        await organisers(effects, circle),
        partial(views.few_present, circle=circle, number=number, present=int(warning.value)),
        key=f"{timer.key}:fewpresent",
    )


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
    await effects.notify_each(
        await organisers(effects, circle),
        partial(views.few_signed_up, circle=circle, count=count, zone=org.zone),
        key=f"{timer.key}:warn",
    )


# --- Moving a session -------------------------------------------------------------------


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
            raise input_refusal(ctx, error) from error
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


def _present_at(session: CircleSession, attendance: list[SessionAttendance]) -> set[int | None]:
    return {a.person_id for a in attendance if a.session_id == session.id}


async def check_in(ctx: Context, args: tuple[Any, ...]) -> None:
    found: SessionInCircle = args[0]
    circle, session = found.circle, found.session
    assert session.id is not None
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
    attendance = list(await ctx.uow.circles.attendance(circle.id or 0))
    if ctx.person_id not in _present_at(session, attendance):
        await ctx.uow.circles.add_attendance(
            SessionAttendance(session.id, ctx.person_id, recorded_at=ctx.now)
        )
    await ctx.reply(message(ctx.t("Welcome! You are marked present.")))


async def mark(ctx: Context, args: tuple[Any, ...]) -> None:
    found: SessionInCircle
    found, person_id = args
    circle, session = found.circle, found.session
    assert session.id is not None and circle.id is not None
    if not await can_manage(ctx, ctx.person, circle):
        raise Refusal(ctx.t("Only the circle's leader or an organiser can mark attendance."))
    if ctx.now < session.starts_at - CHECKIN_OPENS_BEFORE:
        raise Refusal(ctx.t("That session has not started yet."))
    enrolment = await ctx.uow.circles.enrolment(circle.id, person_id)
    person = await ctx.uow.people.get(person_id)
    if enrolment is None or person is None or enrolment.state is not EnrolmentState.ENROLLED:
        raise Refusal(ctx.t("That person is not in the circle any more."))
    present = _present_at(session, list(await ctx.uow.circles.attendance(circle.id)))
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


async def _send_list(ctx: Context, circle: Circle) -> None:
    if not await can_manage(ctx, ctx.person, circle):
        raise Refusal(
            ctx.t("Only the circle's leader or an organiser can get its attendance list.")
        )
    await send_attendance_list(ctx, circle, ctx.person, f"circle:{circle.id}:list:{ctx.event_id}")
    if not ctx.chat.is_private and not ctx.answered_elsewhere:  # else it is there already
        await ctx.reply(message(ctx.t("I've sent you the list privately: it has names in it.")))


async def attendance_button(ctx: Context, args: tuple[Any, ...]) -> None:
    await _send_list(ctx, args[0])


async def attendance_command(ctx: Context, args: str) -> None:
    if not args.strip():
        circles = [
            c
            for c in await ctx.uow.circles.of_orgs(await reachable_org_ids(ctx, ctx.person))
            if c.status is CircleStatus.OPEN and await can_manage(ctx, ctx.person, c)
        ]
        if not circles:
            raise Refusal(ctx.t("There are no study circles here yet. Start one with /ny_cirkel."))
        await ctx.reply(views.circle_picker(ctx.t, circles[-SHOWN_CIRCLES:]))
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
        status = views.history_status(ctx.t, ctx.now, enrolment, sessions, mine, org)
        if sessions[-1].ends_at > ctx.now:
            buttons.append(views.withdraw_button(ctx.t, circle))
        text.line(views.history_line(ctx.t, circle, status))
    for circle in led:
        text.line("• " + ctx.t("{title}: you lead it").format(title=circle.title))
    if EducationKind.MEMBER_EDUCATION_1 not in kinds:
        text.paragraph(ctx.t("Member education step 1 is a good start: see /cirklar."))
    for button in buttons:
        text.button_row(button)
    await ctx.reply(text.build())


# --- Starting the dialog -------------------------------------------------------------


async def new_circle(ctx: Context, args: str) -> None:
    org = await host_org(ctx)
    assert org.id is not None
    await NEW_CIRCLE.start(ctx, NewCircle(org.id))
