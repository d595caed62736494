"""A meeting on a rådslag: tying it, and marking what was said there per question.

`/radslag_mote R M` ties meeting M to rådslag R and posts the questions in the
meeting's thread (and to everyone who answered the invitation). In a tied meeting
`/bidrag M F2 …` is a contribution to question 2:

- typed as a reply to someone's message (a Telegram topic or reply thread): an
  organiser marks that message as that person's contribution;
- `/bidrag M F2 Anna: …` by an organiser records it on Anna's behalf (the console);
- `/bidrag M F2 …` by anyone else is their own contribution.

Where a platform has no reply command (Discord: the message's Apps menu, `MessageMarked`),
`mark` asks which question it was about, with a button for each question of the tied
meetings going on now that the person organises.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.consultations import service
from bot.consultations.model import MAX_ANSWER, Consultation, parse_question_ref
from bot.consultations.service import tied_to
from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.events import Quoted
from bot.i18n import Translator
from bot.meetings.model import ANSWERED, Meeting
from bot.meetings.service import announcement_key, find_meeting, notify_answered, org_of
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold
from bot.parsing import clean_text
from bot.permissions import Permission


async def _branch_for(ctx: Context, c: Consultation, org: Organisation) -> Organisation:
    """The invited branch a meeting's organisation belongs to."""
    assert org.id is not None
    invited = {b.id for b in await service.invited_branches(ctx, c)}
    for above in await ctx.uow.orgs.lineage(org.id):
        if above.id in invited:
            return above
    raise Refusal(ctx.t("That meeting's organisation is not among those the rådslag went to."))


def _questions(t: Translator, c: Consultation, meeting: Meeting) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(bold(t("This meeting is part of the rådslag {title}.").format(title=c.title)))
    for number, question in enumerate(c.questions, start=1):
        text.line(f"F{number}. ", question)
    text.line(
        t(
            "Organisers mark what is said for a question: reply to the message with "
            "/bidrag {meeting} F1 (the question's number)."
        ).format(meeting=meeting.id)
    )
    return text.build()


async def tie_meeting(ctx: Context, c: Consultation, raw_meeting: str) -> None:
    meeting = await find_meeting(ctx, raw_meeting)
    org = await org_of(ctx, meeting)
    await ctx.require(Permission.MANAGE_MEETINGS, org)
    await _branch_for(ctx, c, org)
    if not c.is_open(ctx.now):
        raise Refusal(ctx.t("This rådslag is closed."))
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise Refusal(ctx.t("That meeting can no longer be changed."))
    assert meeting.id is not None
    if not await service.tie_meeting(ctx, c, meeting.id):
        raise Refusal(ctx.t("That meeting is tied to this rådslag already."))
    key = f"consultation:{c.id}:meeting:{meeting.id}"

    def in_thread(t: Translator) -> OutgoingMessage:
        return replace(
            _questions(t, c, meeting), refers_to=announcement_key(meeting), in_thread=True
        )

    await ctx.post_to_org(org, in_thread, key=key)
    await notify_answered(
        ctx, meeting, org, ANSWERED, lambda t, zone: _questions(t, c, meeting), key
    )


async def capture(ctx: Context, meeting: Meeting, text: str) -> bool:
    """A `/bidrag` to a meeting tied to a rådslag, naming a question (F2): recorded for that
    question; False when it is an ordinary contribution."""
    assert meeting.id is not None
    c = await service.tied_to(ctx, meeting.id)
    first, _sep, rest = text.strip().partition(" ")
    if c is None or first[:1].lower() not in ("f", "q"):
        return False
    question = parse_question_ref(first, len(c.questions))
    if question is None:
        raise Refusal(ctx.t("The rådslag has questions F1 to F{n}.").format(n=len(c.questions)))
    org = await org_of(ctx, meeting)
    branch = await _branch_for(ctx, c, org)
    organiser = await ctx.meets(Permission.MANAGE_MEETINGS, org)
    person_id: int | None = ctx.person_id
    said = rest.strip()
    quoted = ctx.replying_to
    if quoted is not None:
        if not organiser:
            raise Refusal(ctx.t("Only the meeting's organisers can mark what others said."))
        speaker = await ctx.uow.people.by_identity(
            quoted.sender.platform, quoted.sender.external_id
        )
        person_id = speaker.id if speaker is not None else None
        said = clean_text(quoted.text).strip()
    elif organiser and ":" in said:
        name, _colon, words = said.partition(":")
        ids = [o.id for o in await ctx.uow.orgs.subtree(branch.id or 0) if o.id is not None]
        found = await ctx.uow.people.find_in_orgs(ids, name.strip()) if name.strip() else []
        if len(found) == 1:
            person_id, said = found[0].id, words.strip()
    if not said:
        raise Refusal(
            ctx.t("Write what was said after the question, e.g. /bidrag 3 F1 More buses.")
        )
    if len(said) > MAX_ANSWER:
        raise Refusal(ctx.t("That is a bit long: at most 2000 characters, please."))
    await service.add_contribution(
        ctx, c, branch, meeting.id, question, said, person_id=person_id, recorded_by=ctx.person_id
    )
    await _saved(ctx, c, question)
    return True


MARK = "consultation.mark"
AROUND = timedelta(hours=12)  # a meeting's words may be marked this long before and after it


async def _meetings_now(ctx: Context) -> list[tuple[Consultation, Meeting]]:
    """Tied meetings going on about now, in open rådslag, that this person organises."""
    org_ids: list[int] = []
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        org_ids += [o.id for o in await ctx.uow.orgs.subtree(role.org_id) if o.id is not None]
        org_ids += [o.id for o in await ctx.uow.orgs.lineage(role.org_id) if o.id is not None]
    found: list[tuple[Consultation, Meeting]] = []
    for c in await ctx.uow.consultations.in_orgs(org_ids):
        if not c.is_open(ctx.now) or c.id is None:
            continue
        for tie in await ctx.uow.consultations.tied_meetings(c.id):
            meeting = await ctx.uow.meetings.get(tie.meeting_id)
            if (
                meeting is not None
                and not meeting.cancelled
                and meeting.starts_at - AROUND <= ctx.now <= meeting.ends_at + AROUND
                and await ctx.meets(Permission.MANAGE_MEETINGS, await org_of(ctx, meeting))
            ):
                found.append((c, meeting))
    return found


async def mark(ctx: Context, quoted: Quoted) -> None:
    """A marked message: which question of which meeting going on now was it about?"""
    said = clean_text(quoted.text).strip()[:MAX_ANSWER]
    if not said:
        raise Refusal(ctx.t("That message has no text to save."))
    meetings = await _meetings_now(ctx)
    if not meetings:
        raise Refusal(ctx.t("No meeting on a rådslag that you organise is going on now."))
    speaker = await ctx.uow.people.by_identity(quoted.sender.platform, quoted.sender.external_id)
    who = str(speaker.id) if speaker is not None and speaker.id is not None else "-"
    text = MessageBuilder().line(ctx.t("Which question was it about?"))
    text.line("“", said[:200], "”")
    for c, meeting in meetings:
        for number, question in enumerate(c.questions):
            label = f"F{number + 1}: {question}"[:60]
            if len(meetings) > 1:
                label = f"{meeting.theme[:20]} · {label}"
            action = Action(MARK, (str(meeting.id), str(number + 1), who, said))  # ids from 1
            text.button_row(Button(label, action))
    await ctx.reply(text.build())


async def marked(ctx: Context, args: tuple[Any, ...]) -> None:
    """The question for a marked message, pressed."""
    meeting_id, number, who, said = args
    question = number - 1
    meeting = await ctx.uow.meetings.get(meeting_id)
    c = await tied_to(ctx, meeting_id) if meeting is not None else None
    if meeting is None or c is None or not 0 <= question < len(c.questions):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    org = await org_of(ctx, meeting)
    await ctx.require(Permission.MANAGE_MEETINGS, org)
    branch = await _branch_for(ctx, c, org)
    person_id = int(who) if who.isascii() and who.isdigit() else None
    if person_id is not None and await ctx.uow.people.get(person_id) is None:
        person_id = None  # erased since
    await service.add_contribution(
        ctx, c, branch, meeting_id, question, said, person_id=person_id, recorded_by=ctx.person_id
    )
    await _saved(ctx, c, question)


async def _saved(ctx: Context, c: Consultation, question: int) -> None:
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t("Saved for question {n} of the rådslag {title}.").format(
                n=question + 1, title=c.title
            )
        )
        .build()
    )
