"""What meeting messages look like: pure functions of the data and a Translator.

The use cases (`bot.meetings.service`) and the chat (`bot.meetings.entry`,
`bot.meetings.dialogs`) decide what to send and to whom; here is only how it reads.
Other capabilities reach `add_facts` and `rsvp_buttons` through the service.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.organisations import Organisation
from bot.formatting import when_span
from bot.i18n import N_, Translator
from bot.meetings.model import (
    Answer,
    Audience,
    Meeting,
    Rsvp,
    coming_count,
    spots_left,
    waitlist_position,
)
from bot.messages import (
    Action,
    Attachment,
    Button,
    CalendarEvent,
    MessageBuilder,
    OutgoingMessage,
    ThreadRequest,
    bold,
    message,
)
from bot.spreadsheet import SafeCsvWriter

EDIT_FIELDS = (
    ("time", N_("Time")),
    ("place", N_("Place or link")),
    ("theme", N_("Theme")),
    ("description", N_("Description")),
    ("questions", N_("Discussion questions")),
    ("capacity", N_("Places")),
)

CHANGE_WORDS = {
    "time": N_("new time"),
    "place": N_("new place"),
    "theme": N_("new theme"),
    "description": N_("new description"),
    "questions": N_("new discussion questions"),
    "capacity": N_("new number of places"),
    "audience": N_("who may come"),
}


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
    places: bool = False,
) -> MessageBuilder:
    """Theme, when (in the reader's zone), where or the link, the host, and who may come.
    `in_group`: posted in a group chat (see `place_text`). `places`: the number of places,
    which the announcement and a changed capacity say; in a reminder or a confirmation it
    is noise."""
    text.line(bold(meeting.theme), f" (nr {meeting.id})")
    text.line(t("When: {when}").format(when=when_span(meeting.starts_at, meeting.ends_at, zone, t)))
    text.line(place_text(meeting, t, in_group=in_group))
    text.line(t("Host: {org}").format(org=org.name))
    if meeting.audience is Audience.MEMBERS:
        text.line(t("For members only"))
    else:
        text.line(t("Open to everyone, guests welcome"))
    if rsvps is None and meeting.capacity and places:
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


# --- What the service sends ---------------------------------------------------------------


NEW_MEETING = N_("New themed meeting")


def announcement(
    t: Translator, meeting: Meeting, org: Organisation, heading: str = NEW_MEETING
) -> OutgoingMessage:
    """The post in the organisation's channels; it opens the meeting's thread and event."""
    text = MessageBuilder().line(bold(t(heading)))
    add_facts(text, meeting, org, org.zone, t, in_group=True, places=True)
    if meeting.description:
        text.paragraph(meeting.description)
    for row in rsvp_buttons(meeting, t):
        text.button_row(*row)
    return replace(
        text.build(), thread=ThreadRequest(meeting.theme), event=calendar_event(meeting, org)
    )


def discussion(t: Translator, meeting: Meeting, refers_to: str) -> OutgoingMessage:
    """The discussion questions, in the thread opened on the announcement `refers_to`."""
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
    return replace(text.build(), in_thread=True, refers_to=refers_to)


def changed(
    t: Translator,
    meeting: Meeting,
    org: Organisation,
    zone: ZoneInfo,
    what: Sequence[str],
    *,
    in_group: bool = False,
) -> OutgoingMessage:
    words = ", ".join(t(CHANGE_WORDS.get(name, name)) for name in what)
    text = MessageBuilder().line(bold(t("Changed: {what}").format(what=words)))
    add_facts(text, meeting, org, zone, t, in_group=in_group, places="capacity" in what)
    return text.build()


def cancelled(
    t: Translator, meeting: Meeting, org: Organisation, zone: ZoneInfo, *, in_group: bool = False
) -> OutgoingMessage:
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


def promoted(t: Translator, meeting: Meeting, org: Organisation, zone: ZoneInfo) -> OutgoingMessage:
    text = MessageBuilder().line(bold(t("Good news: a place opened up and you are now coming!")))
    add_facts(text, meeting, org, zone, t)
    text.button_row(
        Button(
            t("Can't come after all"),
            Action("meeting.rsvp", (str(meeting.id), Answer.DECLINED.value)),
        ),
        Button(t("Add to calendar"), Action("meeting.ics", (str(meeting.id),))),
    )
    return text.build()


def reminder(
    t: Translator, meeting: Meeting, org: Organisation, zone: ZoneInfo, left: int
) -> OutgoingMessage:
    text = MessageBuilder().line(
        bold(
            t("Reminder: {theme} starts in {time}").format(
                theme=meeting.theme, time=duration(left, t)
            )
        )
    )
    add_facts(text, meeting, org, zone, t)
    text.button_row(
        Button(t("Can't come"), Action("meeting.rsvp", (str(meeting.id), Answer.DECLINED.value)))
    )
    return text.build()


def check_in_call(
    t: Translator, meeting: Meeting, org: Organisation, zone: ZoneInfo, *, late: bool
) -> OutgoingMessage:
    heading = (
        t("{theme} has started. Are you there? Check in:")
        if late
        else t("{theme} starts now. Are you there? Check in:")
    )
    text = MessageBuilder().line(bold(heading.format(theme=meeting.theme)))
    add_facts(text, meeting, org, zone, t)
    text.button_row(Button(t("I'm here"), Action("meeting.checkin", (str(meeting.id),))))
    return text.build()


def follow_up(t: Translator, meeting: Meeting, org: Organisation) -> OutgoingMessage:
    text = MessageBuilder().line(
        bold(t("Thank you for coming to {theme}!").format(theme=meeting.theme))
    )
    text.line(t("How was it? 1 is poor, 5 is great."))
    text.line(t("Host: {org}").format(org=org.name))
    text.button_row(
        *(Button(str(n), Action("meeting.rate", (str(meeting.id), str(n)))) for n in range(1, 6))
    )
    return text.build()


def organiser_summary(
    t: Translator, meeting: Meeting, checked_in: int, marked: int, coming: int
) -> OutgoingMessage:
    """`checked_in`: those who pressed "I'm here"; `marked`: those an organiser marked."""
    text = MessageBuilder().line(
        bold(t("{theme} is over").format(theme=meeting.theme)), f" (nr {meeting.id})"
    )
    text.line(
        t("{present} checked in; {coming} had said they were coming.").format(
            present=checked_in, coming=coming
        )
    )
    if marked:
        text.line(
            t.ngettext(
                "{count} more was marked as there by an organiser.",
                "{count} more were marked as there by an organiser.",
                marked,
            ).format(count=marked)
        )
    text.line(t("Confirm who was there, so they count in the figures:"))
    text.button_row(Button(t("Attendance"), Action("meeting.attendance", (str(meeting.id),))))
    return text.build()


# --- What the chat answers ------------------------------------------------------------------


def card(
    t: Translator,
    meeting: Meeting,
    org: Organisation,
    zone: ZoneInfo,
    rsvps: Sequence[Rsvp],
    *,
    person_id: int,
    shut_out: bool,
    organiser: bool,
) -> OutgoingMessage:
    """One meeting as /moten shows it, with the reader's own answer and their buttons.
    `shut_out`: a guest at a members-only meeting; `organiser`: the organiser's buttons too."""
    text = add_facts(MessageBuilder(), meeting, org, zone, t, rsvps)
    if meeting.description:
        text.paragraph(meeting.description)
    mine = next((r for r in rsvps if r.person_id == person_id), None)
    if mine is not None:
        text.paragraph(
            t("Your answer: {answer}").format(answer=answer_word(t, mine.answer, rsvps, person_id))
        )
    if shut_out:
        text.paragraph(t("This one is for members only. You are welcome at every open meeting!"))
    else:
        for row in rsvp_buttons(meeting, t):
            text.button_row(*row)
    if organiser:
        meeting_id = str(meeting.id)
        text.button_row(
            Button(t("Edit"), Action("meeting.edit", (meeting_id,))),
            Button(t("Cancel meeting"), Action("meeting.cancel", (meeting_id,))),
        )
        text.button_row(
            Button(t("Attendance"), Action("meeting.attendance", (meeting_id,))),
            Button(t("Contributions"), Action("meeting.export", (meeting_id,))),
        )
        text.button_row(Button(t("People coming"), Action("meeting.people", (meeting_id,))))
    return text.build()


def answer_word(t: Translator, value: Answer, rsvps: Sequence[Rsvp], person_id: int) -> str:
    if value is Answer.WAITLISTED:
        position = waitlist_position(rsvps, person_id) or 0
        return t("on the waitlist, number {n}").format(n=position)
    return {
        Answer.COMING: t("coming"),
        Answer.MAYBE: t("maybe"),
        Answer.DECLINED: t("can't come"),
    }[value]


def answered(
    t: Translator,
    meeting: Meeting,
    org: Organisation,
    zone: ZoneInfo,
    result: Answer,
    waitlist_number: int,
) -> OutgoingMessage:
    """The confirmation of an answer: what was recorded, the facts, the calendar file."""
    headline = {
        Answer.COMING: t("Great, you're coming!"),
        Answer.MAYBE: t("Noted: maybe. I'll remind you before it starts."),
        Answer.DECLINED: t("Noted: you can't come. Thanks for letting us know."),
        Answer.WAITLISTED: t(
            "The meeting is full, so you're on the waitlist, number {n}. "
            "I'll tell you as soon as a place opens up."
        ).format(n=waitlist_number),
    }[result]
    text = MessageBuilder().line(bold(headline))
    add_facts(text, meeting, org, zone, t)
    if result in (Answer.COMING, Answer.MAYBE):
        text.button_row(Button(t("Add to calendar"), Action("meeting.ics", (str(meeting.id),))))
    return text.build()


def members_only(t: Translator, meeting: Meeting) -> str:
    return t(
        "Sorry, {theme} is for members only, because decisions are made there. "
        "You are warmly welcome at every open meeting: see /moten. Ask an organiser "
        "if you would like to become a member."
    ).format(theme=meeting.theme)


def calendar_file(t: Translator, meeting: Meeting, attachment: Attachment) -> OutgoingMessage:
    return (
        MessageBuilder()
        .line(
            t("Here is {theme} for your calendar. Open the file to add it.").format(
                theme=meeting.theme
            )
        )
        .attach(attachment)
        .build()
    )


def edit_menu(t: Translator, meeting: Meeting) -> OutgoingMessage:
    meeting_id = str(meeting.id)
    text = MessageBuilder().line(
        bold(t("What do you want to change in {theme}?").format(theme=meeting.theme))
    )
    buttons = [
        Button(t(label), Action("meeting.edit_field", (meeting_id, name)))
        for name, label in EDIT_FIELDS
    ]
    text.button_row(*buttons[:3]).button_row(*buttons[3:])
    other = t("Open to everyone") if meeting.audience is Audience.MEMBERS else t("Members only")
    text.button_row(Button(other, Action("meeting.audience", (meeting_id, str(meeting.version)))))
    return text.build()


def changed_reply(t: Translator, answered_count: int) -> OutgoingMessage:
    return message(
        t.ngettext(
            "Changed. I've told the one who answered and the group chats.",
            "Changed. I've told the {n} who answered and the group chats.",
            answered_count,
        ).format(n=answered_count)
        if answered_count
        else t("Changed. I've told the group chats.")
    )


def cancel_question(t: Translator, meeting: Meeting, answered_count: int) -> OutgoingMessage:
    return message(
        t.ngettext(
            "Cancel {theme}? The one who answered and the group chats will be told.",
            "Cancel {theme}? The {n} who answered and the group chats will be told.",
            answered_count,
        ).format(theme=meeting.theme, n=answered_count),
        buttons=[
            [
                Button(
                    t("Yes, cancel it"),
                    Action("meeting.cancel_confirm", (str(meeting.id), str(meeting.version))),
                ),
                Button(t("No, keep it"), Action("meeting.discard")),
            ]
        ],
    )


def reminder_setting(t: Translator, org: Organisation, minutes: Sequence[int]) -> str:
    if not minutes:
        return t("Meetings in {org} send no reminders.").format(org=org.name)
    words = [duration(m, t) for m in minutes]
    times = (
        t("{first} and {last}").format(first=", ".join(words[:-1]), last=words[-1])
        if len(words) > 1
        else words[0]
    )
    return t(
        "Reminders for meetings in {org} go out {times} before the start. "
        "Change with e.g. /paminnelser 1v 1d 2h, or /paminnelser av."
    ).format(org=org.name, times=times)


def attendance_list(
    t: Translator,
    meeting: Meeting,
    people: Sequence[tuple[int, str]],
    present: set[int | None],
    total: int,
) -> OutgoingMessage:
    """`people`: (id, name) of those who answered or are there and can be listed; `total`
    counts them all; a name marks or unmarks."""
    text = MessageBuilder().line(bold(t("Attendance: {theme}").format(theme=meeting.theme)))
    text.line(
        t("{present} of {total} marked as there. Press a name to mark or unmark.").format(
            present=len(present), total=total
        )
    )
    if not total:
        text.line(t("No one has answered yet."))
    for person_id, name in people:
        mark = "✓ " if person_id in present else ""
        text.button_row(
            Button(f"{mark}{name}", Action("meeting.attend", (str(meeting.id), str(person_id))))
        )
    return text.build()


# --- Contributions ------------------------------------------------------------------------------


def export_menu(t: Translator, meeting: Meeting, count: int) -> OutgoingMessage:
    meeting_id = str(meeting.id)
    return message(
        t.ngettext(
            "{n} contribution to {theme}. Export as:",
            "{n} contributions to {theme}. Export as:",
            count,
        ).format(n=count, theme=meeting.theme),
        buttons=[
            [
                Button("Markdown", Action("meeting.export_as", (meeting_id, "md"))),
                Button("CSV", Action("meeting.export_as", (meeting_id, "csv"))),
            ]
        ],
    )


def contributions_export(
    t: Translator,
    meeting: Meeting,
    org: Organisation,
    rows: Sequence[tuple[datetime, str, str]],
    kind: str,
) -> OutgoingMessage:
    """The contributions as a file: `kind` "csv" or "md"."""
    if kind == "csv":
        data = contributions_csv(meeting, org, rows)
        attachment = Attachment(f"contributions-{meeting.id}.csv", "text/csv", data)
    else:
        data = contributions_markdown(meeting, org, rows, t)
        attachment = Attachment(f"contributions-{meeting.id}.md", "text/markdown", data)
    return (
        MessageBuilder()
        .line(
            t.ngettext(
                "{n} contribution to {theme}.", "{n} contributions to {theme}.", len(rows)
            ).format(n=len(rows), theme=meeting.theme)
        )
        .attach(attachment)
        .build()
    )


CSV_HEADER = ("meeting", "theme", "organisation", "written_at", "author", "contribution")


def contributions_csv(
    meeting: Meeting, org: Organisation, rows: Sequence[tuple[datetime, str, str]]
) -> bytes:
    """UTF-8 CSV with a header row; times in the organisation's zone (ISO 8601)."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for written_at, author, text in rows:
        writer.writerow(
            (
                meeting.id,
                meeting.theme,
                org.name,
                written_at.astimezone(org.zone).isoformat(timespec="minutes"),
                author,
                text,
            )
        )
    return buffer.getvalue().encode("utf-8")


def contributions_markdown(
    meeting: Meeting,
    org: Organisation,
    rows: Sequence[tuple[datetime, str, str]],
    t: Translator,
) -> bytes:
    lines = [
        f"# {_md(meeting.theme)}",
        "",
        f"{_md(org.name)}, {when_span(meeting.starts_at, meeting.ends_at, org.zone, t)}",
        "",
    ]
    if meeting.questions:
        lines += [f"## {t('Discussion questions')}", ""]
        lines += [f"{n}. {_md(q)}" for n, q in enumerate(meeting.questions, start=1)]
        lines.append("")
    lines += [f"## {t('Contributions')}", ""]
    if not rows:
        lines.append(t("No contributions yet."))
    for written_at, author, text in rows:
        stamp = written_at.astimezone(org.zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"- **{_md(author)}** ({stamp}): {_md(text)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _md(text: str) -> str:
    """Plain text that Markdown shows as written: no headings, links or emphasis from members."""
    escaped = "".join(f"\\{c}" if c in "\\`*_{}[]<>#|" else c for c in text)
    return " ".join(escaped.split())
