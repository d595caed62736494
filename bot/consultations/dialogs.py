"""Rådslag's dialogs: /nytt_radslag's steps, a member's answers and a branch's answer.

A member's and a branch's answers are asked one question at a time by the same declared
steps (`_question_steps`): each answer is saved as it is given (a draft survives
/avbryt and a restart), "skip" keeps what was saved.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

from bot.consultations import service, views
from bot.consultations.model import (
    MAX_ANSWER,
    MAX_BACKGROUND,
    MAX_QUESTION,
    MAX_QUESTIONS,
    MAX_TITLE,
    Consultation,
    Visibility,
)
from bot.context import Context, Refusal
from bot.dialogs import (
    Choice,
    Confirm,
    Dialog,
    DialogOver,
    Repeat,
    Skip,
    Step,
    draft_org,
    read_yes,
    yes_no,
)
from bot.domain.organisations import Organisation, OrgKind
from bot.formatting import when
from bot.i18n import N_
from bot.messages import MessageBuilder, bold, message
from bot.permissions import Permission
from bot.timeread import Problem, TimeReadError, read_moment

NEW = "consultations.new"
MEMBER = "consultations.answer"
BRANCH = "consultations.branch"
END_OF_DAY = time(23, 59)
LONGEST = timedelta(days=366)


def _limit(ctx: Context, text: str, most: int) -> str:
    text = text.strip()
    if not text:
        raise Refusal(ctx.t("Write some text, please."))
    if len(text) > most:
        raise Refusal(
            ctx.t.ngettext(
                "That is too long: at most {n} character.",
                "That is too long: at most {n} characters.",
                most,
            ).format(n=most)
        )
    return text


# --- /nytt_radslag ---------------------------------------------------------------------


@dataclass
class NewConsultation:
    org_id: int
    title: str = ""
    questions: list[str] = field(default_factory=list)
    background: str = ""
    link: str | None = None
    deadline: datetime | None = None
    targets: list[int] = field(default_factory=list)
    visibility: Visibility = Visibility.NAMED


def _questions_prompt(ctx: Context, draft: NewConsultation) -> MessageBuilder:
    text = MessageBuilder()
    if not draft.questions:
        return text.line(ctx.t("Write the first question (up to ten, one per message)."))
    text.line(ctx.t("The questions so far:"))
    for number, question in enumerate(draft.questions, start=1):
        text.line(f"{number}. ", question)
    return text.line(ctx.t("Write another one, or press Done."))


def _read_link(ctx: Context, value: str, draft: NewConsultation) -> str:
    if not re.fullmatch(r"https?://\S{3,400}", value.strip()):
        raise Refusal(ctx.t("Write a web address starting with https://, or skip."))
    return value.strip()


async def _read_deadline(ctx: Context, value: str, draft: NewConsultation) -> datetime:
    org = await draft_org(ctx, draft.org_id)
    try:
        moment = read_moment(value, ctx.now, org.zone, default_time=END_OF_DAY)
    except TimeReadError as error:
        raise Refusal(
            ctx.t("I can't read that as a time. Write e.g. 31/3 or fredag 18:00.")
            if error.problem is Problem.UNREADABLE
            else error.explain(ctx.t)
        ) from None
    if moment - ctx.now > LONGEST:
        raise Refusal(ctx.t("A rådslag can be open for at most a year."))
    return moment.astimezone(UTC)


async def _below(ctx: Context, org: Organisation) -> list[Organisation]:
    assert org.id is not None
    return [
        o
        for o in await ctx.uow.orgs.subtree(org.id)
        if o.kind in (OrgKind.DISTRICT, OrgKind.BRANCH)
    ]


async def _targets_prompt(ctx: Context, draft: NewConsultation) -> MessageBuilder:
    org = await draft_org(ctx, draft.org_id)
    text = MessageBuilder().line(
        ctx.t(
            "Which organisations does it go to? Write their short names, or skip for all of {org}."
        ).format(org=org.name)
    )
    for below in await _below(ctx, org):
        text.line(f"{below.slug}: ", below.name)
    return text


async def _read_targets(ctx: Context, value: str, draft: NewConsultation) -> list[int]:
    org = await draft_org(ctx, draft.org_id)
    known = {o.slug: o.id for o in await _below(ctx, org) if o.id is not None}
    wanted = [w for w in re.split(r"[\s,;]+", value.strip().lower()) if w]
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        raise Refusal(
            ctx.t("I don't know {names} here. Use the short names above.").format(
                names=", ".join(unknown)
            )
        )
    return list(dict.fromkeys(known[w] for w in wanted))


async def _summary(ctx: Context, draft: NewConsultation) -> MessageBuilder:
    org = await draft_org(ctx, draft.org_id)
    assert draft.deadline is not None
    text = MessageBuilder().line(bold(draft.title))
    for number, question in enumerate(draft.questions, start=1):
        text.line(f"{number}. ", question)
    if draft.background:
        text.line(draft.background)
    if draft.link:
        text.line(draft.link)
    text.line(ctx.t("Answer by {when}.").format(when=when(draft.deadline, org.zone, ctx.t)))
    names = [o.name for o in await _below(ctx, org) if o.id in draft.targets] or [org.name]
    text.line(ctx.t("Goes to: {names}").format(names=", ".join(names)))
    text.line(
        ctx.t("Individual answers: {setting}.").format(
            setting=ctx.t(views.VISIBILITY_NAMES[draft.visibility])
        )
    )
    return text


async def _open(ctx: Context, draft: NewConsultation) -> None:
    org = await draft_org(ctx, draft.org_id)
    await ctx.require(Permission.MANAGE_CONSULTATIONS, org)
    assert org.id is not None and draft.deadline is not None
    if draft.deadline <= ctx.now:
        raise Refusal(
            ctx.t("The deadline has passed while you were writing. Start again with /nytt_radslag.")
        )
    reached = await service.open_consultation(
        ctx,
        Consultation(
            org_id=org.id,
            title=draft.title,
            questions=list(draft.questions),
            deadline=draft.deadline,
            visibility=draft.visibility,
            targets=list(draft.targets) or [org.id],
            background=draft.background,
            link=draft.link,
            created_by=ctx.person_id,
            created_at=ctx.now,
        ),
    )
    await ctx.reply(
        message(
            ctx.t.ngettext(
                "The rådslag is open. I have told {n} branch and invited its members.",
                "The rådslag is open. I have told {n} branches and invited their members.",
                reached,
            ).format(n=reached)
        )
    )


NEW_CONSULTATION: Dialog[NewConsultation] = Dialog(
    name=NEW,
    draft=NewConsultation,
    command="nytt_radslag",
    steps=(
        Step(
            "title",
            lambda ctx, d: ctx.t("What is the rådslag called?"),
            parse=lambda ctx, v, d: _limit(ctx, v, MAX_TITLE),
        ),
        Step(
            "questions",
            _questions_prompt,
            parse=lambda ctx, v, d: [_limit(ctx, v, MAX_QUESTION)],
            repeat=Repeat(at_least=1, at_most=MAX_QUESTIONS, done_button_from=1),
        ),
        Step(
            "background",
            lambda ctx, d: ctx.t("A background text for the members?"),
            parse=lambda ctx, v, d: _limit(ctx, v, MAX_BACKGROUND),
            skip=Skip(""),
        ),
        Step(
            "link",
            lambda ctx, d: ctx.t("A link to background material?"),
            parse=_read_link,
            skip=Skip(None),
        ),
        Step(
            "deadline",
            lambda ctx, d: ctx.t(
                "When is the last day to answer? For example: 31/3, fredag 18:00."
            ),
            parse=_read_deadline,
        ),
        Step("targets", _targets_prompt, parse=_read_targets, skip=Skip([])),
        Step(
            "visibility",
            lambda ctx, d: ctx.t("How are individual answers shown?"),
            parse=lambda ctx, v, d: Visibility(v),
            choices=lambda ctx, d: [
                [Choice(ctx.t(views.VISIBILITY_NAMES[v]), v.value)] for v in Visibility
            ],
            typed=False,
        ),
    ),
    confirm=Confirm(_summary, save=N_("Open it"), discard=N_("Cancel")),
    finish=_open,
)


# --- one question at a time ---------------------------------------------------------


@dataclass
class Answering:
    """A member's (or a branch's) answers in progress: the rådslag, the branch, and how many
    questions there are; the answers themselves are saved as they come."""

    consultation_id: int
    branch_id: int
    count: int
    hand_in: bool = False


A = TypeVar("A", bound=Answering)
# What was saved for a question so far, and what to show above it (a branch's material).
Saved = Callable[
    [Context, Consultation, Organisation, int], Awaitable[tuple[str | None, MessageBuilder | None]]
]
Save = Callable[[Context, Consultation, Organisation, int, str], Awaitable[None]]


async def _load(ctx: Context, draft: Answering) -> tuple[Consultation, Organisation]:
    c = await ctx.uow.consultations.get(draft.consultation_id)
    branch = await ctx.uow.orgs.get(draft.branch_id)
    if c is None or branch is None:
        raise DialogOver(ctx.t("That rådslag is gone. Nothing more was saved."))
    if not c.is_open(ctx.now):
        raise DialogOver(ctx.t("The rådslag has closed. What you handed in before stays."))
    return c, branch


def _question_steps(saved: Saved, save: Save) -> tuple[Step[Any], ...]:
    def step(number: int) -> Step[Any]:
        async def prompt(ctx: Context, draft: Answering) -> MessageBuilder:
            c, branch = await _load(ctx, draft)
            current, material = await saved(ctx, c, branch, number)
            return views.question_prompt(ctx.t, c, number, current, material)

        async def parse(ctx: Context, value: str, draft: Answering) -> None:
            c, branch = await _load(ctx, draft)
            await save(ctx, c, branch, number, _limit(ctx, value, MAX_ANSWER))

        return Step(
            f"q{number + 1}",
            prompt,
            parse=parse,
            skip=Skip(None),
            ask_if=lambda d: d.count > number,
            store=lambda d, v: None,
        )

    return tuple(step(n) for n in range(MAX_QUESTIONS))


async def _member_saved(
    ctx: Context, c: Consultation, branch: Organisation, number: int
) -> tuple[str | None, MessageBuilder | None]:
    found = (await service.own_answers(ctx, c, ctx.person_id)).get(number)
    return (found.text if found else None), None


async def _member_save(
    ctx: Context, c: Consultation, branch: Organisation, number: int, text: str
) -> None:
    await service.save_answer(ctx, c, branch, ctx.person_id, number, text)


async def _member_done(ctx: Context, draft: Answering) -> None:
    c, _branch = await _load(ctx, draft)
    if not draft.hand_in:
        await ctx.reply(
            message(
                ctx.t(
                    "Saved as a draft: only you see it. Hand it in before the deadline with /radslag {id}."
                ).format(id=c.id)
            )
        )
        return
    count = await service.finish_answers(ctx, c, ctx.person_id)
    await ctx.reply(
        message(
            ctx.t.ngettext(
                "Thank you! Your answer to {n} question is handed in. You can change it until the deadline with /radslag {id}.",
                "Thank you! Your answers to {n} questions are handed in. You can change them until the deadline with /radslag {id}.",
                count,
            ).format(n=count, id=c.id)
        )
    )


async def _member_check(ctx: Context, draft: Answering) -> None:
    await _load(ctx, draft)


MEMBER_ANSWERS: Dialog[Answering] = Dialog(
    name=MEMBER,
    draft=Answering,
    command="radslag",
    steps=(
        *_question_steps(_member_saved, _member_save),
        Step(
            "hand_in",
            lambda ctx, d: ctx.t("Hand in your answers now, or keep them as a draft?"),
            parse=read_yes,
            choices=yes_no(N_("Hand in"), N_("Keep as draft")),
            typed=False,
        ),
    ),
    check=_member_check,
    finish=_member_done,
)


async def _branch_check(ctx: Context, draft: Answering) -> None:
    c, branch = await _load(ctx, draft)
    await ctx.require(Permission.MANAGE_CONSULTATIONS, branch)
    if await service.submission(ctx, c, branch) is not None:
        raise DialogOver(ctx.t("The branch's answer is submitted and can no longer be changed."))


async def _branch_saved(
    ctx: Context, c: Consultation, branch: Organisation, number: int
) -> tuple[str | None, MessageBuilder | None]:
    """The branch's answer so far, after what its members and meetings said."""
    assert c.id is not None
    rows = await service.summaries(ctx, c, [branch], in_branch=True)
    lead = views.summary_block(ctx.t, [rows[number]], with_texts=True, heading=False)
    lead.line(ctx.t("Write the branch's answer to this question."))
    answers = await ctx.uow.consultations.branch_answers(c.id, branch.id)
    found = [a for a in answers if a.question == number]
    return (found[0].text if found else None), lead


async def _branch_save(
    ctx: Context, c: Consultation, branch: Organisation, number: int, text: str
) -> None:
    await service.save_branch_answer(ctx, c, branch, number, text, ctx.person_id)


async def _branch_done(ctx: Context, draft: Answering) -> None:
    from bot.consultations.entry import show_branch

    c, branch = await _load(ctx, draft)
    await show_branch(ctx, c, branch)


BRANCH_ANSWERS: Dialog[Answering] = Dialog(
    name=BRANCH,
    draft=Answering,
    command="radslag",
    steps=_question_steps(_branch_saved, _branch_save),
    check=_branch_check,
    finish=_branch_done,
)
