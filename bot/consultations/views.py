"""How rådslag are worded: invitations, cards, summaries, overview, receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.consultations.model import (
    Consultation,
    MemberAnswer,
    QuestionSummary,
    Submission,
    Visibility,
)
from bot.domain.organisations import Organisation
from bot.formatting import when
from bot.i18n import N_, Translator
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, Span, bold

if TYPE_CHECKING:
    from bot.consultations.service import BranchStatus

ANSWER = "consultation.answer"
BRANCH = "consultation.branch"
WRITE = "consultation.write"
SUBMIT = "consultation.submit"
SUBMIT_CONFIRM = "consultation.submit_confirm"
OVERVIEW = "consultation.overview"
EXPORT = "consultation.export"
EXPORTS = ("md", "csv", "pdf")

VISIBILITY_NAMES = {
    Visibility.NAMED: N_("Shown with names"),
    Visibility.ANONYMOUS: N_("Shown without names"),
    Visibility.ORGANISERS: N_("Organisers only"),
}


def _button(label: str, action: str, *args: object) -> Button:
    return Button(label, Action(action, tuple(str(a) for a in args)))


def how_answers_are_handled(t: Translator, visibility: Visibility) -> list[str]:
    """What the invitation says about who sees an answer and what erasure does to it."""
    if visibility is Visibility.NAMED:
        seen = t(
            "Your answers are shown with your name to the organisers and in the rådslag's summary."
        )
    elif visibility is Visibility.ANONYMOUS:
        seen = t("Your answers are shown without your name, to everyone, organisers included.")
    else:
        seen = t(
            "Only your branch's organisers see your answers; only counts and the branch's "
            "joint answer go further."
        )
    if visibility is Visibility.ANONYMOUS:
        erased = t(
            "If you ask me to forget you (/glom_mig), handed-in answers stay as anonymous "
            "text and drafts are removed."
        )
    else:
        erased = t("If you ask me to forget you (/glom_mig), your answers are removed.")
    return [seen, erased]


def _questions(text: MessageBuilder, questions: Sequence[str]) -> None:
    for number, question in enumerate(questions, start=1):
        text.line(f"{number}. ", question)


def _deadline(t: Translator, c: Consultation, org: Organisation) -> str:
    return t("Answer by {when}.").format(when=when(c.deadline, org.zone, t))


def invitation(
    t: Translator, c: Consultation, opener: Organisation, branch: Organisation
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(bold(t("Rådslag: {title}").format(title=c.title)))
    text.line(
        t("{org} asks the members of {branch} for their views.").format(
            org=opener.name, branch=branch.name
        )
    )
    if c.background:
        text.paragraph(c.background)
    if c.link:
        text.line(c.link)
    text.paragraph(t("The questions:"))
    _questions(text, c.questions)
    text.paragraph(_deadline(t, c, branch))
    text.line(
        t(
            "You answer here, in private, one question at a time, and may change your "
            "answers until the deadline."
        )
    )
    for line in how_answers_are_handled(t, c.visibility):
        text.line(line)
    text.button_row(_button(t("Answer"), ANSWER, c.id))
    return text.build()


def branch_told(
    t: Translator, c: Consultation, opener: Organisation, branch: Organisation
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(
        t("{org} has opened the rådslag {title} for {branch}.").format(
            org=opener.name, title=c.title, branch=branch.name
        )
    )
    _questions(text, c.questions)
    text.paragraph(_deadline(t, c, branch))
    text.line(t("Individual answers: {setting}.").format(setting=t(VISIBILITY_NAMES[c.visibility])))
    text.line(
        t(
            "Your members are invited to answer privately. To hold a meeting on it, tie one "
            "with /radslag_mote {id} and the meeting's number; then write the branch's answer."
        ).format(id=c.id)
    )
    text.button_row(_button(t("The branch's answer"), BRANCH, c.id, branch.id))
    return text.build()


def member_reminder(
    t: Translator, c: Consultation, opener: Organisation, branch: Organisation, now: datetime
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(
        t("A reminder: {org} would like your answers to the rådslag {title}.").format(
            org=opener.name, title=c.title
        )
    )
    text.line(_deadline(t, c, branch))
    text.button_row(_button(t("Answer"), ANSWER, c.id))
    return text.build()


def branch_reminder(
    t: Translator, c: Consultation, branch: Organisation, now: datetime
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(
        t("{branch} has not yet submitted its answer to the rådslag {title}.").format(
            branch=branch.name, title=c.title
        )
    )
    text.line(t("Submit by {when}.").format(when=when(c.deadline, branch.zone, t)))
    text.button_row(_button(t("The branch's answer"), BRANCH, c.id, branch.id))
    return text.build()


def listing(
    t: Translator, found: Sequence[tuple[Consultation, Organisation]], now: datetime
) -> OutgoingMessage:
    if not found:
        return MessageBuilder().line(t("There is no rådslag for you right now.")).build()
    text = MessageBuilder().line(t("Rådslag:"))
    for c, org in found:
        state = t("open until {when}") if c.is_open(now) else t("closed {when}")
        text.line(
            f"#{c.id} ",
            bold(c.title),
            f" ({org.name}, ",
            state.format(when=when(c.deadline, org.zone, t)),
            ")",
        )
    text.line(t("Write /radslag and a number to open one."))
    return text.build()


def card(
    t: Translator,
    c: Consultation,
    opener: Organisation,
    now: datetime,
    own: dict[int, MemberAnswer] | None,
    branches: Sequence[Organisation],
    opener_organiser: bool,
) -> OutgoingMessage:
    """One rådslag for one reader: their own answers, and the buttons for their roles."""
    text = MessageBuilder()
    text.line(bold(f"#{c.id} {c.title}"), f" ({opener.name})")
    if c.background:
        text.line(c.background)
    if c.link:
        text.line(c.link)
    text.line(_deadline(t, c, opener) if c.is_open(now) else t("This rådslag is closed."))
    text.line(t("Individual answers: {setting}.").format(setting=t(VISIBILITY_NAMES[c.visibility])))
    for number, question in enumerate(c.questions):
        text.line(f"{number + 1}. ", question)
        if own is not None and number in own:
            mine = own[number]
            label = t("Your answer") if mine.final else t("Your draft")
            text.line(f"   {label}: ", mine.text)
    if own is not None and c.is_open(now):
        text.button_row(_button(t("Answer") if not own else t("Change my answers"), ANSWER, c.id))
    for branch in branches:
        text.button_row(
            _button(
                t("{branch}: the branch's answer").format(branch=branch.name),
                BRANCH,
                c.id,
                branch.id,
            )
        )
    if opener_organiser:
        text.button_row(_button(t("Overview"), OVERVIEW, c.id))
        text.button_row(*(_button(kind.upper(), EXPORT, c.id, kind) for kind in EXPORTS))
    return text.build()


def question_prompt(
    t: Translator,
    c: Consultation,
    number: int,
    current: str | None,
    material: MessageBuilder | None = None,
) -> MessageBuilder:
    """One question to answer; `material` (a branch's answers and contributions) under it."""
    text = MessageBuilder()
    text.line(bold(t("Question {n} of {count}").format(n=number + 1, count=len(c.questions))))
    text.line(c.questions[number])
    if material is not None:
        text.spans.append(Span("\n"))
        text.spans.extend(material.spans)
    if current:
        text.line(t("Saved so far: {text}").format(text=current))
        text.line(t('Write a new answer, or "skip" to keep it.'))
    return text


def counts_line(t: Translator, row: QuestionSummary) -> str:
    """'3 answers, 1 contribution from meetings'."""
    return (
        t.ngettext("{n} answer", "{n} answers", row.answer_count).format(n=row.answer_count)
        + ", "
        + t.ngettext(
            "{n} contribution from meetings",
            "{n} contributions from meetings",
            row.contribution_count,
        ).format(n=row.contribution_count)
    )


def summary_block(
    t: Translator, rows: Sequence[QuestionSummary], *, with_texts: bool, heading: bool = True
) -> MessageBuilder:
    text = MessageBuilder()
    for row in rows:
        if heading:
            text.paragraph(bold(f"{row.number}. {row.question}"))
        text.line(counts_line(t, row))
        if with_texts:
            for name, said in row.answers:
                text.line("– ", f"{name}: " if name else "", said)
            for name, said in row.contributions:
                text.line("– ", t("(meeting) "), f"{name}: " if name else "", said)
        for branch, answer in row.branch_answers:
            text.line(t("Branch's answer"), f" ({branch}): ", answer)
    return text


def branch_view(
    t: Translator,
    c: Consultation,
    branch: Organisation,
    rows: Sequence[QuestionSummary],
    done: Submission | None,
    now: datetime,
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(bold(t("{title}: {branch}").format(title=c.title, branch=branch.name)))
    text.spans.append(Span("\n"))
    text.spans.extend(summary_block(t, rows, with_texts=True).spans)
    if done is not None:
        text.paragraph(receipt_line(t, done, branch))
    elif c.is_open(now):
        text.button_row(_button(t("Write the branch's answer"), WRITE, c.id, branch.id))
        text.button_row(_button(t("Submit"), SUBMIT, c.id, branch.id))
    return text.build()


def receipt_line(t: Translator, done: Submission, branch: Organisation) -> str:
    return t("Submitted {when}, receipt {code}. It can no longer be changed.").format(
        when=when(done.submitted_at, branch.zone, t), code=done.receipt
    )


def submit_question(
    t: Translator, c: Consultation, branch: Organisation, answered: int
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(
        t(
            "Submit {branch}'s answer to {title}? Questions answered: {n} of {count}. "
            "It can't be changed afterwards."
        ).format(branch=branch.name, title=c.title, n=answered, count=len(c.questions))
    )
    text.button_row(
        _button(t("Submit"), SUBMIT_CONFIRM, c.id, branch.id),
    )
    return text.build()


def receipt(
    t: Translator,
    c: Consultation,
    branch: Organisation,
    done: Submission,
    rows: Sequence[QuestionSummary],
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(
        bold(t("Receipt: {branch}'s answer to {title}").format(branch=branch.name, title=c.title))
    )
    for row in rows:
        own = [a for b, a in row.branch_answers if b == branch.name]
        text.line(f"{row.number}. ", row.question)
        text.line("   ", own[0] if own else t("(no answer)"))
    text.paragraph(receipt_line(t, done, branch))
    return text.build()


def overview(
    t: Translator, c: Consultation, opener: Organisation, statuses: Sequence[BranchStatus]
) -> OutgoingMessage:
    text = MessageBuilder()
    text.line(bold(t("{title}: the branches").format(title=c.title)))
    for s in statuses:
        state = (
            t("submitted {when}").format(when=when(s.submitted.submitted_at, opener.zone, t))
            if s.submitted
            else t("not submitted")
        )
        text.line(
            f"{s.branch.name}: ",
            t("{invited} invited, {took} took part, {state}").format(
                invited=s.invited, took=s.took_part, state=state
            ),
        )
    text.button_row(*(_button(kind.upper(), EXPORT, c.id, kind) for kind in EXPORTS))
    return text.build()
