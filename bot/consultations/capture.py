"""A meeting on a rådslag: tying it, and marking what was said there per question.

`/radslag_mote R M` ties meeting M to rådslag R and posts the questions in the
meeting's thread (and to everyone who answered the invitation). In a tied meeting
`/bidrag M F2 …` is a contribution to question 2:

- typed as a reply to someone's message (a Telegram topic or reply thread): an
  organiser marks that message as that person's contribution;
- `/bidrag M F2 Anna: …` by an organiser records it on Anna's behalf (the console);
- `/bidrag M F2 …` by anyone else is their own contribution.
"""

from __future__ import annotations

from dataclasses import replace

from bot.consultations import service
from bot.consultations.model import MAX_ANSWER, Consultation, parse_question_ref
from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.i18n import Translator
from bot.meetings.model import ANSWERED, Meeting
from bot.meetings.service import announcement_key, find_meeting, notify_answered, org_of
from bot.messages import MessageBuilder, OutgoingMessage, bold
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
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t("Saved for question {n} of the rådslag {title}.").format(
                n=question + 1, title=c.title
            )
        )
        .build()
    )
    return True
