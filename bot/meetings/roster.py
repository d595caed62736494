"""Who is coming to one meeting, for its organisers: a message to everyone coming (or to
everyone on the waitlist), and the name list as a CSV file.

The organiser's card has a People button (`meeting.people`); the message is a declared
dialog (the text, then a summary naming how many it goes to), sent privately to each
person through the outbox, once per message; the list is a spreadsheet-safe CSV.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Context, Refusal
from bot.dialogs import Confirm, Dialog, DialogOver, Step
from bot.domain.people import Person
from bot.formatting import when
from bot.i18n import N_, Translator
from bot.meetings.model import Answer, Meeting, Rsvp, waitlist
from bot.meetings.service import MEETING, answered_people, organiser_org
from bot.messages import (
    Action,
    Attachment,
    Button,
    MessageBuilder,
    OutgoingMessage,
    bold,
    message,
)
from bot.permissions import Permission
from bot.registry import Registry
from bot.spreadsheet import SafeCsvWriter

WRITE = "meetings.write"
MAX_MESSAGE = 2000


class Recipients(StrEnum):
    """Whom an organiser writes to."""

    COMING = "coming"
    WAITLIST = "waitlist"


AUDIENCE_ANSWERS = {
    Recipients.COMING: (Answer.COMING,),
    Recipients.WAITLIST: (Answer.WAITLISTED,),
}


def setup(registry: Registry) -> None:
    manage = Permission.MANAGE_MEETINGS
    registry.action("meeting.people", people_menu, manage, args=(MEETING,))
    registry.action("meeting.write", start_message, manage, args=(MEETING, Recipients))
    registry.action("meeting.names", name_list, manage, args=(MEETING,))
    registry.dialog(WRITE_DIALOG)


# --- The menu -------------------------------------------------------------------------------


async def people_menu(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    assert meeting.id is not None
    rsvps = await ctx.uow.meetings.rsvps(meeting.id)
    await ctx.reply(menu(ctx.t, meeting, rsvps))


def menu(t: Translator, meeting: Meeting, rsvps: Sequence[Rsvp]) -> OutgoingMessage:
    coming = sum(1 for r in rsvps if r.answer is Answer.COMING)
    waiting = len(waitlist(rsvps))
    meeting_id = str(meeting.id)
    text = MessageBuilder().line(bold(t("People: {theme}").format(theme=meeting.theme)))
    text.line(
        t("{coming} coming, {waiting} on the waitlist.").format(coming=coming, waiting=waiting)
    )
    if coming:
        text.button_row(
            Button(t("Write to everyone coming"), Action("meeting.write", (meeting_id, "coming")))
        )
    if waiting:
        text.button_row(
            Button(t("Write to the waitlist"), Action("meeting.write", (meeting_id, "waitlist")))
        )
    text.button_row(Button(t("Name list (CSV)"), Action("meeting.names", (meeting_id,))))
    return text.build()


# --- The message ----------------------------------------------------------------------------


@dataclass
class MeetingMessage:
    meeting_id: int
    audience: str  # a Recipients value
    text: str = ""


async def start_message(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, audience = args
    assert meeting.id is not None
    if meeting.cancelled:
        raise Refusal(ctx.t("That meeting is cancelled."))
    if not await answered_people(ctx, meeting, AUDIENCE_ANSWERS[audience]):
        raise Refusal(ctx.t("There is no one to write to there."))
    await WRITE_DIALOG.start(ctx, MeetingMessage(meeting.id, audience.value))


async def _meeting(ctx: Context, draft: MeetingMessage) -> Meeting:
    meeting = await ctx.uow.meetings.get(draft.meeting_id)
    if meeting is None or meeting.cancelled:
        raise DialogOver(ctx.t("That meeting is cancelled. Nothing was sent."))
    return meeting


async def _check(ctx: Context, draft: MeetingMessage) -> None:
    await _meeting(ctx, draft)


def _read_text(ctx: Context, value: str, draft: MeetingMessage) -> str:
    if len(value) > MAX_MESSAGE:
        raise Refusal(ctx.t("That is a bit long: at most 2000 characters, please."))
    return value


async def _recipients(ctx: Context, draft: MeetingMessage) -> list[Person]:
    meeting = await _meeting(ctx, draft)
    return await answered_people(ctx, meeting, AUDIENCE_ANSWERS[Recipients(draft.audience)])


async def _summary(ctx: Context, draft: MeetingMessage) -> MessageBuilder:
    meeting = await _meeting(ctx, draft)
    count = len(await _recipients(ctx, draft))
    if draft.audience == Recipients.WAITLIST:
        lead = ctx.t.ngettext(
            "To the {count} person on the waitlist for {theme}:",
            "To the {count} people on the waitlist for {theme}:",
            count,
        )
    else:
        lead = ctx.t.ngettext(
            "To the {count} person coming to {theme}:",
            "To the {count} people coming to {theme}:",
            count,
        )
    text = MessageBuilder().line(lead.format(count=count, theme=meeting.theme))
    return text.paragraph(draft.text)


async def _send(ctx: Context, draft: MeetingMessage) -> None:
    meeting = await _meeting(ctx, draft)
    org = await organiser_org(ctx, meeting)  # still allowed, in the meeting's organisation
    sender = ctx.person.display_name
    words = draft.text

    def build(t: Translator) -> OutgoingMessage:
        return from_organiser(t, meeting, org.zone, sender, words)

    key = f"meeting:{meeting.id}:message:{ctx.event_id}"
    sent = await ctx.notify_each(await _recipients(ctx, draft), build, key=key)
    await ctx.reply(
        message(
            ctx.t.ngettext("Sent to {count} person.", "Sent to {count} people.", sent).format(
                count=sent
            )
        )
    )


def from_organiser(
    t: Translator, meeting: Meeting, zone: ZoneInfo, sender: str, words: str
) -> OutgoingMessage:
    text = MessageBuilder().line(
        bold(t("From {name}, about {theme}").format(name=sender, theme=meeting.theme)),
        f" ({when(meeting.starts_at, zone, t)})",
    )
    return text.paragraph(words).build()


WRITE_DIALOG: Dialog[MeetingMessage] = Dialog(
    name=WRITE,
    draft=MeetingMessage,
    check=_check,
    steps=(
        Step(
            "text",
            lambda ctx, d: ctx.t(
                "Write your message, in one message. Each of them gets it privately from me."
            ),
            parse=_read_text,
        ),
    ),
    confirm=Confirm(_summary, save=N_("Send"), discard=N_("Cancel")),
    finish=_send,
)


# --- The name list --------------------------------------------------------------------------

ANSWER_WORDS = {
    Answer.COMING: N_("coming"),
    Answer.MAYBE: N_("maybe"),
    Answer.WAITLISTED: N_("waitlist"),
}


async def name_list(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    assert meeting.id is not None
    rows: list[tuple[str, Answer, int | None]] = []
    rsvps = await ctx.uow.meetings.rsvps(meeting.id)
    queue = {r.person_id: n for n, r in enumerate(waitlist(rsvps), start=1)}
    for rsvp in rsvps:
        if rsvp.answer in ANSWER_WORDS:
            person = await ctx.uow.people.get(rsvp.person_id)
            if person is not None:
                rows.append((person.display_name, rsvp.answer, queue.get(rsvp.person_id)))
    order = {Answer.COMING: 0, Answer.MAYBE: 1, Answer.WAITLISTED: 2}
    rows.sort(key=lambda row: (order[row[1]], row[2] or 0, row[0].casefold()))
    data = names_csv(ctx.t, rows)
    text = MessageBuilder().line(
        ctx.t("Everyone who answered {theme}, as a spreadsheet ({count}).").format(
            theme=meeting.theme, count=len(rows)
        )
    )
    text.attach(Attachment(f"deltagare-mote-{meeting.id}.csv", "text/csv", data))
    await ctx.reply(text.build())


def names_csv(t: Translator, rows: list[tuple[str, Answer, int | None]]) -> bytes:
    """UTF-8 CSV (with a BOM, so a spreadsheet reads å, ä and ö): name, answer, place in line."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow((t("Name"), t("Their answer"), t("Place on the waitlist")))
    for name, answer, place in rows:
        writer.writerow((name, t(ANSWER_WORDS[answer]), place or ""))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
