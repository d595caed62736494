"""The annual wheel's messages: pure functions of the data and a Translator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from babel.dates import format_time

from bot.domain.organisations import Organisation
from bot.formatting import day, when, when_span
from bot.i18n import N_, Translator
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold, italic
from bot.wheel.model import (
    KIND_NAMES,
    ActivityKind,
    Answer,
    EffectiveItem,
    Occurrence,
    WheelEvent,
    WheelState,
    expand,
    year_bounds,
)

RSVP = "wheel.rsvp"  # the button action: (event id, answer)
YEAR = "wheel.year"  # the button action: (organisation id, year)

# The items that become meetings: each kind's heading, and a line that says what it is.
MEETING_WORDING: dict[ActivityKind, tuple[str, str]] = {
    ActivityKind.THEMED_MEETING: (
        N_("New themed meeting"),
        N_("An open conversation about politics: members and guests are equally welcome."),
    ),
    ActivityKind.LECTURE: (
        N_("Lecture"),
        N_("A lecture with time for questions. Bring a friend!"),
    ),
    ActivityKind.ARGUMENTATION: (
        N_("Argumentation training"),
        N_(
            "We practise explaining our policies, so that we are ready for the conversations "
            "at the door and at work."
        ),
    ),
    ActivityKind.MEMBER_MEETING: (
        N_("Notice of a member meeting"),
        N_("A meeting for the members: we discuss and decide together."),
    ),
    ActivityKind.ANNUAL_MEETING: (
        N_("Notice of the annual meeting"),
        # Not "every member has a vote": at a district's annual meeting the delegates vote.
        N_(
            "The annual meeting decides on the annual report, the accounts and the activity "
            "plan, and elects the board."
        ),
    ),
    ActivityKind.CHAIRS_MEETING: (
        N_("Chairs' meeting"),
        N_("For the chairs of the organisations below, or someone else from their boards."),
    ),
}


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


def wheel_summary(
    t: Translator,
    org: Organisation,
    year: int,
    upcoming: Sequence[Occurrence],
    not_running: WheelState | None,
    picture: bytes,
    next_year: bool = False,
) -> OutgoingMessage:
    """/arshjul: the picture, the next few activities, and for an organiser who may start
    it a note that it isn't running (`not_running`: off or paused). With `next_year` (from
    November on), a button for the coming year's wheel."""
    text = MessageBuilder().line(
        bold(t("The annual wheel {year} – {org}").format(year=year, org=org.name))
    )
    if upcoming:
        text.line(t("Next:"))
        for occurrence in upcoming:
            text.line(f"• {day(occurrence.start, org.zone, t)}: {occurrence.item.activity.name}")
    if not_running is not None:
        text.paragraph(
            italic(t("Not announced here yet: start it with /arshjul_start."))
            if not_running is WheelState.OFF
            else italic(t("Paused: start it again with /arshjul_start."))
        )
    text.attach(Attachment(f"arshjul-{year}.png", "image/png", picture))
    if next_year:
        text.button_row(
            Button(
                t("The annual wheel {year}").format(year=year + 1),
                Action(YEAR, (str(org.id), str(year + 1))),
            )
        )
    return text.build()


def wheel_listing(
    t: Translator,
    org: Organisation,
    items: Sequence[EffectiveItem],
    year: int,
    organiser: bool = False,
    now: datetime | None = None,
) -> OutgoingMessage:
    """/arshjul lista: every activity with a date in the year; for an organiser also its key
    and where it comes from, which the organisers' commands use, with an example from
    the next date after `now`."""
    start, end = year_bounds(year, org.zone)
    occurrences = expand(items, start, end, org.zone)
    counts: dict[str, int] = {}
    for occurrence in occurrences:
        counts[occurrence.key] = counts.get(occurrence.key, 0) + 1
    text = MessageBuilder().line(
        bold(t("The annual wheel {year} – {org}").format(year=year, org=org.name))
    )
    for item in items:
        if not counts.get(item.activity.key):
            continue
        activity = item.activity
        line = f"• {activity.name}: {activity.when.text}, {activity.at:%H:%M}"
        if organiser:
            origin = "" if item.origin == org.slug else f" ({item.origin})"
            line += f" [{activity.key}]{origin}"
        text.line(line)
    if organiser and occurrences:
        # An example from this wheel: another branch may have no film club.
        first = next((o for o in occurrences if now is None or o.start >= now), occurrences[0])
        text.paragraph(
            t("Skip or move one date with the key, e.g. /arshjul_hoppa {key} {date}").format(
                key=first.key, date=first.series_date.isoformat()
            )
        )
    return text.build()


def rsvp_noted(t: Translator, person: str, event: WheelEvent, answer: Answer) -> OutgoingMessage:
    texts = {
        Answer.YES: t("{person} is coming to {name}. Welcome!"),
        Answer.MAYBE: t("{person} might come to {name}."),
        Answer.NO: t("{person} can't come to {name} this time."),
    }
    return MessageBuilder().line(texts[answer].format(person=person, name=event.name)).build()
