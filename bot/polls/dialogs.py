"""Polls' dialogs: /ny_omrostning's steps, a blocker's reason and a ranking typed as numbers.

Declared with `bot.dialogs` (steps, parsers, skip words, a confirm summary); each
finishes by calling a use case in `service.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

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
from bot.domain.organisations import Organisation
from bot.formatting import when, zone_name
from bot.i18n import N_, Translator
from bot.messages import MessageBuilder, bold, message
from bot.permissions import Permission
from bot.polls.model import (
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MAX_QUESTION_LENGTH,
    MAX_REASON_LENGTH,
    Poll,
    PollKind,
    Stance,
    option_span,
    suggested_theme,
    time_option,
)
from bot.polls.service import (
    best_time,
    check_can_vote,
    meeting_at_best_time,
    open_poll,
    poll_org,
    store,
)
from bot.polls.views import KIND_NAMES, option_text, ranked_reply
from bot.timeread import Problem, TimeReadError, read_moment

NEW = "polls.new"
RANK = "polls.rank"
MEETING_FROM_POLL_NAME = "polls.meeting"
MAX_MEETING_THEME = 200  # as a meeting's theme
REASON = "polls.reason"
END_OF_DAY = time(23, 59)
LONGEST_POLL = timedelta(days=366)


@dataclass
class NewPoll:
    """What the organiser has answered so far in /ny_omrostning."""

    org_id: int
    kind: PollKind = PollKind.SINGLE
    question: str = ""
    options: list[str] = field(default_factory=list)  # time polls: ISO times, sorted
    max_choices: int | None = None
    deadline: datetime | None = None
    anonymous: bool = False
    members_only: bool = False
    live_results: bool = False
    quorum_percent: int | None = None


async def _poll_org(ctx: Context, draft: NewPoll) -> Organisation:
    return await draft_org(ctx, draft.org_id)


async def _kind_prompt(ctx: Context, draft: NewPoll) -> MessageBuilder:
    org = await _poll_org(ctx, draft)
    text = MessageBuilder().line(bold(ctx.t("New poll in {org}").format(org=org.name)))
    return text.line(ctx.t("What kind of poll?"))


def _store_kind(draft: NewPoll, kind: PollKind) -> None:
    if kind is not draft.kind:  # chosen again after going back: the old options don't fit
        draft.options, draft.max_choices = [], None
    draft.kind = kind


def _question_prompt(ctx: Context, draft: NewPoll) -> str:
    if draft.kind is PollKind.PROPOSAL:
        return ctx.t("Write the proposal, as it would be decided.")
    return ctx.t("Write the question.")


def _read_question(ctx: Context, value: str, draft: NewPoll) -> str:
    if len(value) > MAX_QUESTION_LENGTH:
        raise Refusal(
            ctx.t.ngettext(
                "Write the question in at most {n} character.",
                "Write the question in at most {n} characters.",
                MAX_QUESTION_LENGTH,
            ).format(n=MAX_QUESTION_LENGTH)
        )
    return value


async def _options_prompt(ctx: Context, draft: NewPoll) -> MessageBuilder:
    _ = ctx.t
    text = MessageBuilder()
    if not draft.options:
        if draft.kind is PollKind.TIME:
            text.line(_("Propose the times, one per message or several separated by ;"))
            text.line(_("For example: tis 10/3 18:00; ons 11/3 18:30"))
        else:
            text.line(_("Write the options, one per message or several separated by ;"))
        return text
    org = await _poll_org(ctx, draft)
    text.line(_("The options so far:"))
    for number, option in enumerate(draft.options, start=1):
        text.line(f"{number}. {option_text(_, draft.kind, option, org.zone)}")
    if len(draft.options) < MAX_OPTIONS:
        text.line(_("Write another one, or press Done."))
    return text


async def _read_options(ctx: Context, value: str, draft: NewPoll) -> list[str]:
    """The options one message adds (several separated by ;)."""
    _ = ctx.t
    org = await _poll_org(ctx, draft)
    options = draft.options
    added: list[str] = []
    for part in (p.strip() for p in re.split(r"[;\n]", value)):
        if not part:
            continue
        if draft.kind == PollKind.TIME:
            try:
                part = time_option(part, ctx.now, org.zone)
            except TimeReadError as error:
                raise Refusal(
                    _('I can\'t read "{text}" as a time. Write e.g. tis 10/3 18:00.').format(
                        text=part
                    )
                    if error.problem is Problem.UNREADABLE
                    else error.explain(_)
                ) from None
        elif len(part) > MAX_OPTION_LENGTH:
            raise Refusal(
                _.ngettext(
                    "An option can be at most {n} character.",
                    "An option can be at most {n} characters.",
                    MAX_OPTION_LENGTH,
                ).format(n=MAX_OPTION_LENGTH)
            )
        if part.casefold() in (o.casefold() for o in options + added):
            raise Refusal(_("That option is there already."))
        added.append(part)
    if not added:
        raise Refusal(_("Write an option, or press Done."))
    if len(options) + len(added) > MAX_OPTIONS:
        raise Refusal(
            _.ngettext(
                "A poll can have at most {n} option.",
                "A poll can have at most {n} options.",
                MAX_OPTIONS,
            ).format(n=MAX_OPTIONS)
        )
    return added


def _store_options(draft: NewPoll, options: list[str]) -> None:
    draft.options = sorted(options) if draft.kind == PollKind.TIME else options


def _max_choices(ctx: Context, draft: NewPoll) -> list[list[Choice]]:
    return [[Choice(str(n), str(n)) for n in range(1, len(draft.options) + 1)]]


def _read_max(ctx: Context, value: str, draft: NewPoll) -> int:
    count = len(draft.options)
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= count:
        raise Refusal(ctx.t("Write a number from 1 to {n}.").format(n=count))
    return int(value)


async def _deadline_prompt(ctx: Context, draft: NewPoll) -> MessageBuilder:
    org = await _poll_org(ctx, draft)
    text = MessageBuilder()
    text.line(ctx.t("When does the poll close? For example: fredag 18:00, 13/3 12:00."))
    return text.line(ctx.t("Times are in {zone}.").format(zone=zone_name(org.timezone, ctx.t)))


async def _read_closing(ctx: Context, value: str, draft: NewPoll) -> datetime:
    return _read_deadline(ctx, draft, await _poll_org(ctx, draft), value)


def _read_deadline(ctx: Context, draft: NewPoll, org: Organisation, value: str) -> datetime:
    _ = ctx.t
    try:
        deadline = read_moment(value, ctx.now, org.zone, default_time=END_OF_DAY)
    except TimeReadError as error:
        raise Refusal(
            _("I can't read that as a time. Write e.g. fredag 18:00, 13/3 12:00 or imorgon 20:00.")
            if error.problem is Problem.UNREADABLE
            else error.explain(_)
        ) from None
    deadline = deadline.astimezone(UTC)
    if deadline - ctx.now > LONGEST_POLL:
        raise Refusal(_("A poll can be open for at most a year. Choose an earlier time."))
    if draft.kind == PollKind.TIME:
        first = min(option_span(o)[0] for o in draft.options)
        if deadline > first:
            raise Refusal(
                _("The poll must close before the first proposed time, {when}.").format(
                    when=when(first, org.zone, _)
                )
            )
    return deadline


def _read_percent(ctx: Context, value: str, draft: object = None) -> int:
    digits = value.replace("%", "").strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= 100:
        raise Refusal(
            ctx.t("Write the quorum as a share from 1 to 100, e.g. 50, or press No quorum.")
        )
    return int(digits)


def _store_anonymous(draft: NewPoll, anonymous: bool) -> None:
    draft.anonymous = anonymous
    if anonymous:
        draft.live_results = False  # not asked for anonymous polls


async def _check_poll(ctx: Context, draft: NewPoll) -> MessageBuilder:
    org = await _poll_org(ctx, draft)
    text = MessageBuilder().line(bold(ctx.t("Check the poll")))
    return text.line(_summary(ctx.t, draft, org))


def _summary(_: Translator, draft: NewPoll, org: Organisation) -> str:
    kind = draft.kind
    lines = [
        _(KIND_NAMES[kind])
        + (
            f" {_('(at most {n})').format(n=draft.max_choices)}"
            if draft.max_choices and kind is PollKind.MULTIPLE
            else ""
        ),
        draft.question,
    ]
    for number, option in enumerate(draft.options, start=1):
        lines.append(f"{number}. {option_text(_, kind, option, org.zone)}")
    assert draft.deadline is not None
    lines.append(_("Closes {when}.").format(when=when(draft.deadline, org.zone, _)))
    lines.append(_("Anonymous votes.") if draft.anonymous else _("Visible votes."))
    lines.append(_("Members only.") if draft.members_only else _("Guests may vote too."))
    lines.append(
        _("Results shown while open.") if draft.live_results else _("Results shown when it closes.")
    )
    quorum = draft.quorum_percent
    lines.append(_("Quorum: {percent} %.").format(percent=quorum) if quorum else _("No quorum."))
    return "\n".join(lines)


async def _publish(ctx: Context, draft: NewPoll) -> None:
    org = await _poll_org(ctx, draft)
    await ctx.require(Permission.MANAGE_POLLS, org)
    assert org.id is not None and draft.deadline is not None
    if draft.deadline <= ctx.now:
        raise Refusal(
            ctx.t(
                "The closing time has passed while you were writing. Start again with /ny_omrostning."
            )
        )
    multiple = draft.kind is PollKind.MULTIPLE
    poll = Poll(
        org_id=org.id,
        kind=draft.kind,
        question=draft.question,
        options=list(draft.options) if draft.kind is not PollKind.PROPOSAL else [],
        deadline=draft.deadline,
        anonymous=draft.anonymous,
        members_only=draft.members_only,
        live_results=draft.live_results and not draft.anonymous,
        max_choices=draft.max_choices if multiple else None,
        quorum_percent=draft.quorum_percent,
        created_by=ctx.person_id,
        created_at=ctx.now,
    )
    await ctx.reply(
        message(
            ctx.t("Published! I have posted the poll in {org}'s group chats.").format(org=org.name)
        )
    )
    await open_poll(ctx, poll, org)


NEW_POLL: Dialog[NewPoll] = Dialog(
    name=NEW,
    draft=NewPoll,
    command="ny_omrostning",
    steps=(
        Step(
            "kind",
            _kind_prompt,
            parse=lambda ctx, value, d: PollKind(value),
            choices=lambda ctx, d: [[Choice(ctx.t(KIND_NAMES[k]), k.value)] for k in PollKind],
            typed=False,
            store=_store_kind,
        ),
        Step("question", _question_prompt, parse=_read_question),
        Step(
            "options",
            _options_prompt,
            parse=_read_options,
            repeat=Repeat(
                at_least=2,
                at_most=MAX_OPTIONS,
                too_few=N_("A poll needs at least two options."),
                done_button_from=2,
            ),
            store=_store_options,
            ask_if=lambda d: d.kind is not PollKind.PROPOSAL,
        ),
        Step(
            "max_choices",
            lambda ctx, d: ctx.t("How many options may each person choose at most?"),
            parse=_read_max,
            choices=_max_choices,
            ask_if=lambda d: d.kind is PollKind.MULTIPLE,
        ),
        Step("deadline", _deadline_prompt, parse=_read_closing),
        Step(
            "anonymous",
            lambda ctx, d: (
                ctx.t("Anonymous or visible votes?")
                + "\n"
                + ctx.t(
                    "Anonymous: no one, organisers included, can see who chose what. Visible: organisers see names."
                )
            ),
            parse=read_yes,
            choices=yes_no(N_("Anonymous"), N_("Visible")),
            typed=False,
            store=_store_anonymous,
        ),
        Step(
            "members_only",
            lambda ctx, d: ctx.t("Who may vote?"),
            parse=read_yes,
            choices=yes_no(N_("Members only"), N_("Guests too")),
            typed=False,
        ),
        Step(
            "live_results",
            lambda ctx, d: ctx.t(
                "Show the results while the poll is open, or only when it closes?"
            ),
            parse=read_yes,
            choices=yes_no(N_("While open"), N_("When it closes")),
            typed=False,
            ask_if=lambda d: not d.anonymous,
        ),
        Step(
            "quorum_percent",
            lambda ctx, d: ctx.t(
                "Quorum: how large a share of those who may vote must vote? Write e.g. 50."
            ),
            parse=_read_percent,
            skip=Skip(None, label=N_("No quorum")),
        ),
    ),
    confirm=Confirm(_check_poll, save=N_("Publish"), discard=N_("Cancel")),
    finish=_publish,
)


@dataclass
class BlockReason:
    poll_id: int
    reason: str = ""


async def _check_blocking(ctx: Context, draft: BlockReason) -> None:
    poll = await ctx.uow.polls.get(draft.poll_id)
    if poll is None or not poll.accepts_votes(ctx.now) or poll.anonymous:
        raise DialogOver(ctx.t("The poll has closed, so I did not save the reason."))


async def _save_reason(ctx: Context, draft: BlockReason) -> None:
    ballot = await ctx.uow.polls.ballot_of(draft.poll_id, ctx.person_id)
    if ballot is None or ballot.choice != [Stance.BLOCK]:
        await ctx.reply(
            message(ctx.t("You don't block this proposal any more, so I did not save a reason."))
        )
        return
    ballot.reason = draft.reason[:MAX_REASON_LENGTH]
    await ctx.reply(message(ctx.t("Thank you. Your reason is saved and shown to the organiser.")))


REASON_DIALOG: Dialog[BlockReason] = Dialog(
    name=REASON,
    draft=BlockReason,
    check=_check_blocking,
    steps=(
        Step(
            "reason",
            lambda ctx, d: ctx.t(
                "Please write why you block, in one message. The organiser sees it with your name."
            ),
        ),
    ),
    finish=_save_reason,
)


@dataclass
class TypedRanking:
    """A ranking written as numbers in the private chat, beside the ranking buttons."""

    poll_id: int
    ranking: list[int] = field(default_factory=list)


async def _still_open(ctx: Context, draft: TypedRanking) -> Poll:
    poll = await ctx.uow.polls.get(draft.poll_id)
    if poll is None or not poll.accepts_votes(ctx.now):
        raise DialogOver(ctx.t("The poll has closed, so your ranking was not counted."))
    return poll


async def _check_ranking(ctx: Context, draft: TypedRanking) -> None:
    await _still_open(ctx, draft)


async def _read_ranking(ctx: Context, text: str, draft: TypedRanking) -> list[int]:
    poll = await _still_open(ctx, draft)
    await check_can_vote(ctx, poll)
    numbers = re.findall(r"\d+", text)
    if not numbers or re.sub(r"[\d\s,.>-]", "", text):
        raise Refusal(
            ctx.t("Write the numbers of the options in your order, e.g. 2 1 3. Or write /avbryt.")
        )
    ranking = [int(n) - 1 for n in numbers]
    if any(not 0 <= r < len(poll.options) for r in ranking) or len(set(ranking)) != len(ranking):
        raise Refusal(
            ctx.t("Use each number from 1 to {n} at most once, e.g. 2 1 3.").format(
                n=len(poll.options)
            )
        )
    return ranking


async def _save_ranking(ctx: Context, draft: TypedRanking) -> None:
    poll = await _still_open(ctx, draft)
    if not poll.anonymous:  # anonymous: counted only once she has seen it and confirmed
        await store(ctx, poll, draft.ranking)
    await ctx.reply(ranked_reply(ctx.t, poll, await poll_org(ctx, poll), draft.ranking))


RANK_DIALOG: Dialog[TypedRanking] = Dialog(
    name=RANK,
    draft=TypedRanking,
    check=_check_ranking,
    steps=(
        Step(
            "ranking",
            lambda ctx, d: ctx.t("Write the numbers of the options in your order, e.g. 2 1 3."),
            parse=_read_ranking,
        ),
    ),
    finish=_save_ranking,
)


async def start_typed_ranking(ctx: Context, poll: Poll) -> None:
    """Opens the typed ranking in the person's private chat (where the ballot went), unless
    another dialog is going there."""
    identities = await ctx.uow.people.identities_of(ctx.person_id)
    if not identities:
        return
    identity = identities[0]
    current = await ctx.uow.dialogs.get(ctx.person_id, identity.platform, identity.external_id)
    if current is not None and current.name != RANK:
        return
    assert poll.id is not None
    chat = (identity.platform, identity.external_id)
    await RANK_DIALOG.start(ctx, TypedRanking(poll.id), ask=False, chat=chat)


# --- The meeting a time poll found a time for ---------------------------------------------------


@dataclass
class MeetingFromPoll:
    """What the meeting at a time poll's best time is called: asked, with a suggestion."""

    poll_id: int
    theme: str = ""


async def _poll_for_meeting(ctx: Context, draft: MeetingFromPoll) -> Poll:
    poll = await ctx.uow.polls.get(draft.poll_id)
    if poll is None:
        raise DialogOver(ctx.t("That poll is gone. Nothing was created."))
    try:
        await best_time(ctx, poll)
    except Refusal as refusal:
        raise DialogOver(refusal.text) from None
    return poll


async def _check_meeting(ctx: Context, draft: MeetingFromPoll) -> None:
    await _poll_for_meeting(ctx, draft)


async def _theme_prompt(ctx: Context, draft: MeetingFromPoll) -> str:
    poll = await _poll_for_meeting(ctx, draft)
    return ctx.t(
        "What is the meeting called? The poll asked: {question} "
        "Write the theme, or press the suggestion."
    ).format(question=poll.question)


async def _theme_choices(ctx: Context, draft: MeetingFromPoll) -> list[list[Choice]]:
    suggestion = suggested_theme((await _poll_for_meeting(ctx, draft)).question)
    return [[Choice(suggestion[:MAX_MEETING_THEME], suggestion[:MAX_MEETING_THEME])]]


def _read_meeting_theme(ctx: Context, value: str, draft: MeetingFromPoll) -> str:
    theme = " ".join(value.split())
    if not theme or len(theme) > MAX_MEETING_THEME:
        raise Refusal(ctx.t("Write a theme of at most 200 characters."))
    return theme


async def _create_meeting(ctx: Context, draft: MeetingFromPoll) -> None:
    poll = await _poll_for_meeting(ctx, draft)
    org = await poll_org(ctx, poll)
    await ctx.require(Permission.MANAGE_MEETINGS, org)
    meeting = await meeting_at_best_time(ctx, poll, org, draft.theme)
    await ctx.reply(
        message(
            ctx.t(
                "The meeting is created for {when} and posted in the group chat. "
                "Add a place, description and questions with /moten {n}."
            ).format(when=when(meeting.starts_at, org.zone, ctx.t), n=meeting.id)
        )
    )


MEETING_FROM_POLL: Dialog[MeetingFromPoll] = Dialog(
    name=MEETING_FROM_POLL_NAME,
    draft=MeetingFromPoll,
    check=_check_meeting,
    steps=(
        Step(
            "theme",
            _theme_prompt,
            parse=_read_meeting_theme,
            choices=_theme_choices,
        ),
    ),
    finish=_create_meeting,
)
