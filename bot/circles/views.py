"""Study circles' messages: pure functions of data and a Translator, text and buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.circles.model import (
    Circle,
    CircleSession,
    EducationKind,
    Enrolment,
    EnrolmentState,
    Rule,
    RuleWarning,
    active,
    counts_as_participant,
    enrolled,
    hours_text,
    study_hours,
    waitlist,
)
from bot.domain.organisations import Organisation
from bot.domain.people import Person
from bot.formatting import day, when, when_span
from bot.i18n import N_, Translator, plural_form
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold, message

if TYPE_CHECKING:
    from bot.circles.sheet import AttendanceList

KIND_NAMES: dict[EducationKind, str] = {
    EducationKind.MEMBER_EDUCATION_1: N_("Member education step 1"),
    EducationKind.MEMBER_EDUCATION_2: N_("Member education step 2"),
    EducationKind.LEADERSHIP: N_("Leadership training"),
    EducationKind.LECTURE_SERIES: N_("Lecture series"),
    EducationKind.OTHER: N_("Other study circle"),
}


def kind_name(t: Translator, kind: EducationKind) -> str:
    return t(KIND_NAMES[kind])


def _join(circle: Circle, label: str) -> Button:
    return Button(label, Action("circle.join", (str(circle.id),)))


def _withdraw(t: Translator, circle: Circle, label: str | None = None) -> Button:
    return Button(label or t("Withdraw"), Action("circle.leave", (str(circle.id),)))


def session_line(t: Translator, session: CircleSession, zone: ZoneInfo) -> str:
    return when_span(session.starts_at, session.ends_at, zone, t)


def describe(
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
        text.line(f"• {session_line(t, session, zone)}")
    if len(sessions) > 6:
        text.line(t("• and {count} more").format(count=len(sessions) - 6))
    if circle.where:
        text.line(t("Where: {place}").format(place=circle.where))
    if leader:
        text.line(t("Leader: {name}").format(name=leader.display_name))
    if circle.open_to_guests:
        text.line(t("Open to guests too"))
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


def announcement(
    t: Translator,
    circle: Circle,
    org: Organisation,
    sessions: Sequence[CircleSession],
    leader: Person | None,
) -> OutgoingMessage:
    text = MessageBuilder().line(bold(t("New study circle: {title}").format(title=circle.title)))
    describe(text, t, circle, org, sessions, leader, [])
    text.paragraph(t("This post is the circle's thread: talk about it here."))
    text.button_row(_join(circle, t("Sign me up")))
    return text.build()


def offer(
    t: Translator,
    kind: EducationKind,
    details: Sequence[tuple[Circle, Organisation | None, Sequence[CircleSession]]],
) -> OutgoingMessage:
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
        text.button_row(_join(circle, t("Sign up: {title}").format(title=circle.title)))
    text.paragraph(t("All circles: /cirklar"))
    return text.build()


def card(
    t: Translator,
    circle: Circle,
    org: Organisation,
    sessions: Sequence[CircleSession],
    leader: Person | None,
    enrolments: Sequence[Enrolment],
    viewer_id: int,
    *,
    manage: bool,
    organiser: bool = False,
) -> OutgoingMessage:
    """`manage`: the leader or an organiser (the attendance list); `organiser`: may decide
    who the circle is for."""
    text = MessageBuilder().line(bold(circle.title))
    describe(text, t, circle, org, sessions, leader, enrolments)
    mine = next((e for e in active(enrolments) if e.person_id == viewer_id), None)
    buttons = []
    if mine is None:
        buttons.append(_join(circle, t("Sign me up")))
    else:
        text.paragraph(
            t("You are signed up.")
            if mine.state is EnrolmentState.ENROLLED
            else t("You are on the waitlist.")
        )
        buttons.append(_withdraw(t, circle))
    if manage:
        buttons.append(Button(t("Attendance list"), Action("circle.list", (str(circle.id),))))
    text.button_row(*buttons)
    if organiser:
        text.button_row(guests_button(t, circle))
    return text.build()


def guests_button(t: Translator, circle: Circle) -> Button:
    """An organiser's switch: open the circle to guests, or keep it for members."""
    if circle.open_to_guests:
        return Button(t("For members only"), Action("circle.guests", (str(circle.id), "no")))
    return Button(t("Open to guests"), Action("circle.guests", (str(circle.id), "yes")))


def guests_changed(t: Translator, circle: Circle) -> OutgoingMessage:
    text = (
        t("{title} is now open to guests too: they can sign up from /cirklar.")
        if circle.open_to_guests
        else t("{title} is now for members only. Guests already signed up keep their place.")
    )
    return message(text.format(title=circle.title), buttons=[[guests_button(t, circle)]])


def consent_question(t: Translator, circle: Circle) -> OutgoingMessage:
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
            Button(t("Yes, include my name"), Action("circle.consent", (str(circle.id), "yes"))),
            Button(t("No, leave my name out"), Action("circle.consent", (str(circle.id), "no"))),
        )
        .build()
    )


def signed_up(
    t: Translator, circle: Circle, first_start: datetime, zone: ZoneInfo
) -> OutgoingMessage:
    text = t("You are signed up for {title}. First session: {when}.").format(
        title=circle.title, when=when(first_start, zone, t)
    )
    text += " " + t("I'll remind you the day before each session.")
    return message(text, buttons=[[_withdraw(t, circle)]])


def waitlisted(t: Translator, circle: Circle, place: int) -> OutgoingMessage:
    text = t(
        "{title} is full, so you are number {place} on the waitlist. "
        "I'll tell you as soon as a place opens up."
    ).format(title=circle.title, place=place)
    return message(text, buttons=[[_withdraw(t, circle)]])


def promoted(
    t: Translator, circle: Circle, next_start: datetime | None, zone: ZoneInfo
) -> OutgoingMessage:
    text = t("Good news: a place opened up in {title}, and it is yours.").format(title=circle.title)
    if next_start is not None:
        text += " " + t("Next session: {when}.").format(when=when(next_start, zone, t))
    return message(text, buttons=[[_withdraw(t, circle)]])


def reminder(
    t: Translator,
    circle: Circle,
    session: CircleSession,
    number: int,
    total: int,
    zone: ZoneInfo,
    *,
    heading: str = N_("Reminder: {title}, session {number} of {total}"),
) -> OutgoingMessage:
    """A session's time and place; `heading` also words "Changed: …" after a move."""
    text = MessageBuilder().line(
        bold(t(heading).format(title=circle.title, number=number, total=total))
    )
    text.line(session_line(t, session, zone))
    place = session.place or circle.where
    if place:
        text.line(t("Where: {place}").format(place=place))
    return text.build()


CHANGED = N_("Changed: {title}, session {number} of {total}")


def check_in_prompt(
    t: Translator, circle: Circle, session: CircleSession, number: int, total: int
) -> OutgoingMessage:
    return message(
        t("Session {number} of {total} of {title} has started. Are you there?").format(
            number=number, total=total, title=circle.title
        ),
        buttons=[[Button(t("I'm here"), Action("circle.checkin", (str(session.id),)))]],
    )


def roll_call(
    t: Translator,
    circle: Circle,
    session: CircleSession,
    number: int,
    total: int,
    people: Sequence[Person],
) -> OutgoingMessage:
    return message(
        t(
            "Session {number} of {total} of {title} has started. Participants can check "
            "in themselves; press a name to mark them present or absent."
        ).format(number=number, total=total, title=circle.title),
        buttons=[
            [Button(p.display_name, Action("circle.mark", (str(session.id), str(p.id))))]
            for p in people
        ],
    )


def few_present(t: Translator, circle: Circle, number: int, present: int) -> OutgoingMessage:
    return message(
        t.ngettext(
            "Only {present} was marked present at session {number} of {title}, the "
            "leader counted. The study association needs at least 3 at every session. "
            "If more were there, press their names in my message from the start of the session.",
            "Only {present} were marked present at session {number} of {title}, the "
            "leader counted. The study association needs at least 3 at every session. "
            "If more were there, press their names in my message from the start of the session.",
            present,
        ).format(present=present, number=number, title=circle.title)
    )


def few_signed_up(t: Translator, circle: Circle, count: int, zone: ZoneInfo) -> OutgoingMessage:
    text = t.ngettext(
        "{title} has {count} signed up but needs at least {min}. Sign-up closes {deadline}.",
        "{title} has {count} signed up but needs at least {min}. Sign-up closes {deadline}.",
        count,
    ).format(
        title=circle.title,
        count=count,
        min=circle.min_participants,
        deadline=when(circle.signup_deadline, zone, t),
    )
    text += " " + t("Invite more people, or talk to the study association about moving the circle.")
    return message(text)


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


def circle_picker(t: Translator, circles: Sequence[Circle]) -> OutgoingMessage:
    text = MessageBuilder().line(bold(t("Which circle?")))
    for circle in circles:
        text.button_row(
            Button(f"{circle.id}: {circle.title}", Action("circle.list", (str(circle.id),)))
        )
    return text.build()


def attendance_csv(t: Translator, title: str, stem: str, sheet: AttendanceList) -> OutgoingMessage:
    """The list as CSV, with a short summary."""
    text = MessageBuilder().line(bold(t("Attendance list: {title}").format(title=title)))
    counted = sum(1 for r in sheet.rows if r.counts == t("yes"))
    people = len(sheet.rows) - (1 if sheet.leader else 0)
    text.line(
        t.ngettext(
            "{people} participant, {counted} of them count for the study association so far.",
            "{people} participants, {counted} of them count for the study association so far.",
            people,
        ).format(people=people, counted=counted)
    )
    for note in sheet.notes(t):
        text.line(note)
    text.attach(Attachment(f"{stem}.csv", "text/csv", sheet.to_csv(t)))
    return text.build()


def attendance_page(t: Translator, stem: str, sheet: AttendanceList) -> OutgoingMessage:
    """The same list as an HTML page to print."""
    return (
        MessageBuilder()
        .line(t("The same list as a page to print."))
        .attach(Attachment(f"{stem}.html", "text/html", sheet.to_html(t)))
        .build()
    )


def history_status(
    t: Translator,
    now: datetime,
    enrolment: Enrolment,
    sessions: Sequence[CircleSession],
    mine: set[int],
    org: Organisation,
) -> str:
    if enrolment.state is EnrolmentState.WAITLISTED:
        return t("on the waitlist")
    if sessions[-1].ends_at <= now:
        if counts_as_participant(sessions, mine):
            return t("done")
        return t.ngettext(
            "ended, you took part in {count} of {total} session",
            "ended, you took part in {count} of {total} sessions",
            len(sessions),
        ).format(count=len(mine), total=len(sessions))
    if sessions[0].starts_at > now:
        return t("booked, starts {date}").format(date=day(sessions[0].starts_at, org.zone, t))
    held = sum(1 for s in sessions if s.starts_at <= now)
    return t.ngettext(
        "under way, you have been at {count} of {held} session so far",
        "under way, you have been at {count} of {held} sessions so far",
        held,
    ).format(count=len(mine), held=held)


def history_line(t: Translator, circle: Circle, status: str) -> str:
    name = kind_name(t, circle.kind)
    if circle.title.casefold() != name.casefold():
        name += f" ({circle.title})"
    return f"• {name}: {status}"


def withdraw_button(t: Translator, circle: Circle) -> Button:
    return _withdraw(t, circle, t("Withdraw: {title}").format(title=circle.title))
