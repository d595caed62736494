"""Polls: created by organisers in a guided dialog, answered privately with buttons, closed on time.

Five kinds: single choice, multiple choice (with a maximum), time poll (yes /
if need be / no per proposed time), ranked choice (instant-runoff, rounds
shown) and proposal (agree / abstain / disagree / block). The ballot is
always shown in the voter's private chat, never in a group. Anonymous polls
follow the scheme described in `bot/polls/model.py`: nothing this module
sends, stores or logs links a person to what they chose.

Plain single and multiple choice polls with visible votes open to guests also
go out as Telegram's and Discord's own polls where they fit; votes there are
cast here like ballots and the bot ends those polls when ours closes (the rule
and the flow: `bot/polls/native.py`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.context import Context, Effects, MessageFor, Refusal
from bot.delivery import enqueue
from bot.dialogs import Choice, Confirm, Dialog, DialogOver, Repeat, Skip, Step
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import Person, Status
from bot.events import PollAnswered
from bot.formatting import day, local, when
from bot.i18n import N_, Translator
from bot.meetings.model import Audience
from bot.meetings.service import MeetingDraft, create_meeting
from bot.messages import (
    Action,
    Attachment,
    Button,
    MessageBuilder,
    NativePoll,
    OutgoingMessage,
    bold,
    message,
)
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.polls.model import (
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MAX_QUESTION_LENGTH,
    MAX_REASON_LENGTH,
    NUDGE_USEFUL_BEFORE,
    Answer,
    Ballot,
    InvalidChoice,
    Poll,
    PollKind,
    PollStatus,
    Stance,
    Tally,
    nudge_time,
    option_span,
    quorum_reached,
    tally,
    time_option,
    validate_choice,
    voter_key,
)
from bot.polls.native import NativePollPost, may_go_native
from bot.registry import CommandSpec, Registry, always
from bot.render.charts import Series, bar_chart
from bot.timeread import Problem, TimeReadError, read_moment

NEW = "polls.new"
RANK = "polls.rank"
REASON = "polls.reason"
CLOSE_TIMER = "poll.close"
NUDGE_TIMER = "poll.nudge"
END_OF_DAY = time(23, 59)
LONGEST_POLL = timedelta(days=366)
MEETING_LENGTH = timedelta(hours=2)  # a meeting made from a time poll; the organiser can change it

KIND_NAMES = {
    PollKind.SINGLE: N_("Single choice"),
    PollKind.MULTIPLE: N_("Multiple choice"),
    PollKind.TIME: N_("Find a time"),
    PollKind.RANKED: N_("Ranked choice"),
    PollKind.PROPOSAL: N_("Proposal"),
}
STANCE_NAMES = {
    Stance.AGREE: N_("Agree"),
    Stance.ABSTAIN: N_("Abstain"),
    Stance.DISAGREE: N_("Disagree"),
    Stance.BLOCK: N_("Block"),
}
ANSWER_NAMES = {Answer.YES: N_("Yes"), Answer.IF_NEED_BE: N_("If need be"), Answer.NO: N_("No")}
OUTCOME_NAMES = {
    "accepted": N_("Accepted"),
    "rejected": N_("Not accepted"),
    "blocked": N_("Blocked"),
}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec("omrostningar", "polls", N_("Open polls: vote and see results"), list_polls)
    )
    registry.command(
        CommandSpec(
            "ny_omrostning", "newpoll", N_("Create a poll"), new_poll, Permission.MANAGE_POLLS
        )
    )
    registry.dialog(NEW_POLL)
    registry.dialog(RANK_DIALOG)
    registry.dialog(REASON_DIALOG)
    registry.action("poll.open", open_ballot)
    registry.action("poll.vote", vote)
    registry.action("poll.toggle", toggle)
    registry.action("poll.time", answer_time)
    registry.action("poll.rank", rank)
    registry.action("poll.reset", reset)
    registry.action("poll.results", show_results)
    registry.action("poll.close", close_now)
    registry.action("poll.anonymity", switch_anonymity)
    registry.action("poll.meeting", create_meeting_at_best_time, Permission.MANAGE_MEETINGS)
    registry.timer(CLOSE_TIMER, close_on_time, useful_until=always)
    registry.timer(NUDGE_TIMER, nudge, useful_until=nudge_useful_until)
    registry.native_poll("poll", native_answer)


# --- who sees what ---------------------------------------------------------


async def _reachable_org_ids(effects: Effects, person: Person) -> list[int]:
    """Organisations whose polls this person may answer: theirs and those above them."""
    assert person.id is not None
    found: list[int] = []
    for affiliation in await effects.uow.people.affiliations_of(person.id):
        for org in await effects.uow.orgs.lineage(affiliation.org_id):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    return found


async def _subtree_ids(effects: Effects, org_id: int) -> list[int]:
    return [o.id for o in await effects.uow.orgs.subtree(org_id) if o.id is not None]


async def _org(effects: Effects, poll: Poll) -> Organisation:
    org = await effects.uow.orgs.get(poll.org_id)
    assert org is not None
    return org


async def _manages(ctx: Context, poll: Poll) -> bool:
    return Permission.MANAGE_POLLS in await ctx.permissions(await _org(ctx, poll))


async def _poll(ctx: Context, args: tuple[str, ...]) -> Poll:
    poll = None
    poll_id = parse_id(args[0]) if args else None
    if poll_id:
        poll = await ctx.uow.polls.get(poll_id)
    if poll is None:
        raise Refusal(ctx.t("That poll no longer exists."))
    return poll


async def _check_can_vote(ctx: Context, poll: Poll) -> None:
    org = await _org(ctx, poll)
    if not poll.accepts_votes(ctx.now):
        closed = poll.closed_at or poll.deadline
        raise Refusal(
            ctx.t(
                "Sorry, this poll closed {when}, so your vote was not counted. "
                "Write /omrostningar to see the open ones."
            ).format(when=when(min(closed, poll.deadline), org.zone, ctx.t))
        )
    if poll.org_id not in await _reachable_org_ids(ctx, ctx.person):
        raise Refusal(
            ctx.t("This poll is for {org}, so you can't vote in it.").format(org=org.name)
        )
    if poll.members_only and ctx.person.status is not Status.MEMBER:
        raise Refusal(
            ctx.t(
                "This poll is for members only. You are welcome in every open conversation; "
                "ask an organiser if you would like to become a member."
            )
        )


# --- listing ---------------------------------------------------------------


async def list_polls(ctx: Context, args: str) -> None:
    org_ids = await _reachable_org_ids(ctx, ctx.person)
    for assignment in await ctx.uow.people.roles_of(ctx.person_id):
        org = await ctx.uow.orgs.get(assignment.org_id)
        if org is not None and await ctx.meets(Permission.MANAGE_POLLS, org):
            org_ids += [i for i in await _subtree_ids(ctx, assignment.org_id) if i not in org_ids]
    polls = await ctx.uow.polls.open_in(org_ids)
    if args.strip():  # one poll by its number (Discord's autocomplete offers them)
        polls = [poll for poll in polls if poll.id == parse_id(args)]
        if not polls:
            raise Refusal(ctx.t("That poll no longer exists."))
    if not polls:
        await ctx.reply(message(ctx.t("There are no open polls right now.")))
        return
    for poll in polls:
        await ctx.reply(await _card(ctx, poll))


async def _card(ctx: Context, poll: Poll) -> OutgoingMessage:
    _ = ctx.t
    org = await _org(ctx, poll)
    assert poll.id is not None
    voted = await ctx.uow.polls.has_voted(poll.id, ctx.person_id)
    count = len(await ctx.uow.polls.participants(poll.id))
    text = MessageBuilder().line(bold(poll.question))
    text.line(_settings_line(_, poll, org))
    text.line(_("Closes {when}.").format(when=when(poll.deadline, org.zone, _)))
    if count:
        votes = _.ngettext("{n} has voted", "{n} have voted", count).format(n=count)
        text.line(votes + (_(", you too.") if voted else "."))
    else:
        text.line(_("No one has voted yet."))
    buttons = [
        Button(_("Change my vote") if voted else _("Vote"), Action("poll.open", (str(poll.id),)))
    ]
    if poll.results_visible_while_open or await _manages(ctx, poll):
        buttons.append(Button(_("Results"), Action("poll.results", (str(poll.id),))))
    text.button_row(*buttons)
    if await _manages(ctx, poll):
        organiser = [Button(_("Close now"), Action("poll.close", (str(poll.id),)))]
        if count == 0:
            label = _("Make visible") if poll.anonymous else _("Make anonymous")
            organiser.append(Button(label, Action("poll.anonymity", (str(poll.id),))))
        text.button_row(*organiser)
    return text.build()


def _settings_line(_: Translator, poll: Poll, org: Organisation) -> str:
    parts = [_(KIND_NAMES[poll.kind])]
    if poll.kind is PollKind.MULTIPLE and poll.max_choices:
        parts[0] += " " + _("(at most {n})").format(n=poll.max_choices)
    parts.append(_("anonymous") if poll.anonymous else _("visible votes"))
    parts.append(_("members only") if poll.members_only else _("guests welcome"))
    if poll.quorum_percent:
        parts.append(_("quorum {percent} %").format(percent=poll.quorum_percent))
    return f"{org.name} · " + ", ".join(parts)


# --- creating --------------------------------------------------------------


async def new_poll(ctx: Context, args: str) -> None:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    await NEW_POLL.start(ctx, NewPoll(org.id))


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
    org = await ctx.uow.orgs.get(draft.org_id)
    if org is None:
        raise DialogOver(ctx.t("That organisation is gone. Nothing was saved."))
    return org


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
        text.line(f"{number}. {_option_text(_, draft.kind, option, org.zone)}")
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
    return text.line(ctx.t("Times are in {zone}.").format(zone=org.timezone))


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


def _yes_no(yes: str, no: str) -> Callable[[Context, NewPoll], list[list[Choice]]]:
    """Two choices in a row, read as True and False."""
    return lambda ctx, draft: [[Choice(ctx.t(yes), "yes"), Choice(ctx.t(no), "no")]]


def _read_yes(ctx: Context, value: str, draft: NewPoll) -> bool:
    return value == "yes"


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
        lines.append(f"{number}. {_option_text(_, kind, option, org.zone)}")
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
    if Permission.MANAGE_POLLS not in await ctx.permissions(org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
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
            parse=_read_yes,
            choices=_yes_no(N_("Anonymous"), N_("Visible")),
            typed=False,
            store=_store_anonymous,
        ),
        Step(
            "members_only",
            lambda ctx, d: ctx.t("Who may vote?"),
            parse=_read_yes,
            choices=_yes_no(N_("Members only"), N_("Guests too")),
            typed=False,
        ),
        Step(
            "live_results",
            lambda ctx, d: ctx.t(
                "Show the results while the poll is open, or only when it closes?"
            ),
            parse=_read_yes,
            choices=_yes_no(N_("While open"), N_("When it closes")),
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


async def open_poll(effects: Effects, poll: Poll, org: Organisation) -> Poll:
    """Stores a new poll, arms its timers and posts it in the organisation's group chats."""
    poll = await effects.uow.polls.add(poll)
    assert poll.id is not None
    if poll.anonymous:
        await effects.uow.polls.set_secret(poll.id, secrets.token_hex(32))
    await _schedule(effects, poll)
    now = effects.now
    await effects.post_to_org(
        org, lambda t: _announcement(t, poll, org, now), key=f"poll:{poll.id}:open"
    )
    return poll


async def _schedule(effects: Effects, poll: Poll) -> None:
    payload = {"poll_id": poll.id}
    await effects.schedule(f"poll:{poll.id}:close", CLOSE_TIMER, poll.deadline, payload)
    reminder = nudge_time(effects.now, poll.deadline)
    if reminder is not None:
        await effects.schedule(f"poll:{poll.id}:nudge", NUDGE_TIMER, reminder, payload)


def _announcement(t: Translator, poll: Poll, org: Organisation, now: datetime) -> OutgoingMessage:
    """The poll's post to the group: with a Vote button, and as a native poll where it may be."""

    def heading() -> MessageBuilder:
        text = MessageBuilder().line(bold(t("New poll: {question}").format(question=poll.question)))
        text.line(_settings_line(t, poll, org))
        text.line(t("Closes {when}.").format(when=when(poll.deadline, org.zone, t)))
        return text

    text = heading()
    text.line(t("Press Vote and I will send you the ballot in a private message."))
    text.button_row(Button(t("Vote"), Action("poll.open", (str(poll.id),))))
    post = text.build()
    if not may_go_native(poll):
        return post
    native = heading().line(
        t(
            "Vote in the poll below: everyone in this chat sees who chose what. Your vote "
            "counts once you have started a private chat with me (/start); you can also "
            "vote there with /omrostningar."
        )
    )
    return replace(
        post,
        native_poll=NativePoll(
            ref=_native_ref(poll),
            question=poll.question,
            options=tuple(poll.options),
            multiple=poll.kind is PollKind.MULTIPLE,
            opened_at=now,
            closes_at=poll.deadline,
            hide_results=not poll.live_results,
            spans=native.build().spans,
        ),
    )


def _native_ref(poll: Poll) -> str:
    return f"poll:{poll.id}"


async def _stop_native(
    effects: Effects,
    poll: Poll,
    *,
    only: NativePollPost | None = None,
    notice: MessageFor | None = None,
) -> None:
    """Ends the poll's native polls on the platforms (each once), through the outbox.

    `notice` is posted with it (in the organisation's language), e.g. where voting goes now.
    """
    org = await _org(effects, poll)
    for post in await effects.uow.native_polls.of(_native_ref(poll)):
        if only is not None and post.id != only.id:
            continue
        text = notice(Translator(org.language)) if notice else message()
        await enqueue(
            effects.uow,
            key=f"poll:{poll.id}:stop:{post.platform}:{post.handle}",
            platform=post.platform,
            chat_id=post.chat_id,
            direct=False,
            message=replace(
                text,
                stop_native_poll=True,
                refers_to=f"poll:{poll.id}:open",
                reference=post.reference,
            ),
            now=effects.now,
        )


async def switch_anonymity(ctx: Context, args: tuple[str, ...]) -> None:
    poll = await _poll(ctx, args)
    assert poll.id is not None
    if not await _manages(ctx, poll):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(
                org=(await _org(ctx, poll)).name
            )
        )
    if not poll.is_open:
        raise Refusal(ctx.t("This poll is closed."))
    if await ctx.uow.polls.participants(poll.id) or await ctx.uow.polls.ballots(poll.id):
        raise Refusal(ctx.t("Anonymity is fixed once the first vote is cast."))
    poll.anonymous = not poll.anonymous
    await ctx.uow.polls.set_secret(poll.id, secrets.token_hex(32) if poll.anonymous else None)
    if poll.anonymous:  # a native poll shows every voter: from now on votes are private only
        await _stop_native(ctx, poll, notice=_now_private(poll))
    await ctx.reply(
        message(
            ctx.t("The poll is now anonymous.")
            if poll.anonymous
            else ctx.t("Votes in the poll are now visible.")
        )
    )


def _now_private(poll: Poll) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                'The poll "{question}" is anonymous now, so it takes votes only in a private '
                "chat with me: press Vote."
            ).format(question=poll.question)
        )
        text.button_row(Button(t("Vote"), Action("poll.open", (str(poll.id),))))
        return text.build()

    return build


# --- voting ----------------------------------------------------------------


async def open_ballot(ctx: Context, args: tuple[str, ...]) -> None:
    poll = await _poll(ctx, args)
    await _check_can_vote(ctx, poll)
    org = await _org(ctx, poll)
    ballot = await _current(ctx, poll, ctx.person_id)
    build = _ballot_message(poll, org, None if poll.anonymous else ballot)
    if ctx.chat.is_private:
        await ctx.reply(build(ctx.t))
    else:
        await ctx.notify(ctx.person, build, key=f"poll:{poll.id}:ballot:{ctx.event_id}")
    if poll.kind is PollKind.RANKED:
        await _private_dialog(ctx, poll)


def _ballot_message(poll: Poll, org: Organisation, ballot: Ballot | None) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        pid = str(poll.id)
        chosen = ballot.choice if ballot else []
        text = MessageBuilder().line(bold(poll.question))
        text.line(t("Closes {when}.").format(when=when(poll.deadline, org.zone, t)))
        if poll.anonymous:
            text.line(t("Anonymous: I count your vote without knowing it is yours."))
        if poll.kind is PollKind.SINGLE:
            text.line(t("Press your choice. You can change it until the poll closes."))
            for index, option in enumerate(poll.options):
                mark = "✓ " if index in chosen else ""
                text.button_row(Button(mark + option, Action("poll.vote", (pid, str(index)))))
        elif poll.kind is PollKind.MULTIPLE:
            text.line(
                t(
                    "Press the options you choose, at most {n}. Press again to take one back."
                ).format(n=poll.max_choices or len(poll.options))
            )
            for index, option in enumerate(poll.options):
                mark = "✓ " if index in chosen else ""
                text.button_row(Button(mark + option, Action("poll.toggle", (pid, str(index)))))
        elif poll.kind is PollKind.TIME:
            text.line(
                t("Answer for each time: Yes, If need be or No. Times you leave count as No.")
            )
            for index, (moment, until) in enumerate(poll.spans(), start=1):
                answer = f" – {t(ANSWER_NAMES[Answer(chosen[index - 1])])}" if chosen else ""
                text.line(f"{index}. {_short_time(t, moment, org.zone, until)}{answer}")
                text.button_row(
                    *(
                        Button(
                            f"{index}: {t(ANSWER_NAMES[a])}",
                            Action("poll.time", (pid, str(index - 1), str(a.value))),
                        )
                        for a in (Answer.YES, Answer.IF_NEED_BE, Answer.NO)
                    )
                )
        elif poll.kind is PollKind.RANKED:
            text.line(
                t(
                    "Press the options in the order you prefer them, your favourite first; "
                    "or write their numbers, e.g. 2 1 3. You need not rank them all."
                )
            )
            for index, option in enumerate(poll.options, start=1):
                text.line(f"{index}. {option}")
            if chosen:
                text.line(t("Your ranking: {ranking}").format(ranking=_ranking(poll, chosen)))
            for index, option in enumerate(poll.options):
                text.button_row(
                    Button(f"{index + 1}. {option}", Action("poll.rank", (pid, str(index))))
                )
            text.button_row(Button(t("Start over"), Action("poll.reset", (pid,))))
        else:
            if chosen:
                text.line(
                    t("Your answer: {stance}").format(stance=t(STANCE_NAMES[Stance(chosen[0])]))
                )
            text.line(t("Blocking means you can't accept the proposal at all."))
            stances = [
                Button(t(STANCE_NAMES[s]), Action("poll.vote", (pid, str(s.value)))) for s in Stance
            ]
            text.button_row(*stances[:2])
            text.button_row(*stances[2:])
        return text.build()

    return build


async def _current(effects: Effects, poll: Poll, person_id: int) -> Ballot | None:
    assert poll.id is not None
    if poll.anonymous:
        secret = await effects.uow.polls.secret(poll.id)
        if secret is None:
            return None
        return await effects.uow.polls.ballot_by_key(poll.id, voter_key(secret, poll.id, person_id))
    return await effects.uow.polls.ballot_of(poll.id, person_id)


async def cast(
    effects: Effects,
    poll: Poll,
    person_id: int,
    choice: list[int] | None,
    reason: str | None = None,
) -> None:
    """Replaces the person's ballot with `choice`, or withdraws it (None). The one way votes change.

    Callers check that the poll is open and that the person may vote.
    """
    assert poll.id is not None and poll.accepts_votes(effects.now)
    if choice is not None:
        choice = validate_choice(poll, choice)
    old = await _current(effects, poll, person_id)
    polls = effects.uow.polls
    if poll.anonymous:
        secret = await polls.secret(poll.id)
        assert secret is not None
        if old is not None:
            await polls.remove_ballot(old)
        if choice is not None:
            key = voter_key(secret, poll.id, person_id)
            await polls.add_ballot(Ballot(poll.id, choice, voter_key=key))
    elif choice is None:
        if old is not None:
            await polls.remove_ballot(old)
    elif old is not None:
        old.choice, old.reason = choice, reason
    else:
        await polls.add_ballot(Ballot(poll.id, choice, person_id=person_id, reason=reason))
    if choice is None:
        await polls.withdraw(poll.id, person_id)
    else:
        await polls.participate(poll.id, person_id)


def _native_choice(poll: Poll, current: list[int], answer: PollAnswered) -> list[int]:
    """The person's choice after a native poll's answer: the whole choice, or one option more or less."""
    if answer.replace:
        return list(answer.options)
    chosen = list(current)
    for option in answer.options:
        if not answer.added:
            if option in chosen:
                chosen.remove(option)
        elif poll.kind is PollKind.SINGLE:
            chosen = [option]
        elif option not in chosen:
            chosen.append(option)
    return chosen


async def native_answer(ctx: Context, arg: str, answer: PollAnswered) -> None:
    """A vote, change or take-back in one of the poll's native posts, cast like a ballot.

    The platform shows the vote whatever happens here, so a refused one is told to the
    person privately (the event's chat) and not counted.
    """
    poll_id = parse_id(arg)
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None or poll.id is None:
        return
    _ = ctx.t
    current = None if poll.anonymous else await ctx.uow.polls.ballot_of(poll.id, ctx.person_id)
    before = list(current.choice) if current else []
    chosen = _native_choice(poll, before, answer)
    if sorted(chosen) == sorted(before):
        return  # nothing changes: e.g. taking back a vote that was never counted
    head = _('That was not counted in the poll "{question}".').format(question=poll.question)
    if not ctx.consented:
        raise Refusal(
            head
            + " "
            + _(
                "I count votes only from people who have agreed to how I store data. "
                "Write /start to me, then vote again."
            )
        )
    org = await _org(ctx, poll)
    if poll.anonymous or not poll.accepts_votes(ctx.now):
        # Its native post should have been ended (e.g. it went out late): end it now.
        post = await ctx.uow.native_polls.by_handle(answer.chat.platform, answer.handle)
        if post is not None:
            await _stop_native(ctx, poll, only=post)
        if poll.accepts_votes(ctx.now):
            reason = _("The poll is anonymous now: vote in a private chat with /omrostningar.")
        else:
            closed = min(poll.closed_at or poll.deadline, poll.deadline)
            reason = _("The poll closed {when}.").format(when=when(closed, org.zone, _))
        await ctx.reply(message(head + " " + reason))
        return
    try:
        await _check_can_vote(ctx, poll)
        await cast(ctx, poll, ctx.person_id, chosen or None)
    except Refusal as refusal:
        raise Refusal(head + " " + refusal.text) from None
    except InvalidChoice as exc:
        raise Refusal(head + " " + _("That vote doesn't fit this poll.")) from exc


async def _votable(
    ctx: Context, args: tuple[str, ...], kinds: Sequence[PollKind]
) -> tuple[Poll, int]:
    poll = await _poll(ctx, args)
    await _check_can_vote(ctx, poll)
    if poll.kind not in kinds or len(args) < 2 or not (args[1].isascii() and args[1].isdigit()):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    option = int(args[1])
    if option >= poll.option_count:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    return poll, option


async def _store(
    ctx: Context, poll: Poll, choice: list[int] | None, reason: str | None = None
) -> None:
    try:
        await cast(ctx, poll, ctx.person_id, choice, reason)
    except InvalidChoice as exc:
        raise Refusal(ctx.t("That vote doesn't fit this poll. Nothing was changed.")) from exc


def _counted(ctx: Context, poll: Poll, org: Organisation) -> str:
    return ctx.t(
        "Counted. Anonymous poll: I don't repeat what you chose. Change your mind until {when}."
    ).format(when=when(poll.deadline, org.zone, ctx.t))


async def vote(ctx: Context, args: tuple[str, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.SINGLE, PollKind.PROPOSAL))
    org = await _org(ctx, poll)
    await _store(ctx, poll, [option])
    if poll.anonymous:
        await ctx.reply(message(_counted(ctx, poll, org)))
        return
    if poll.kind is PollKind.PROPOSAL:
        chosen = ctx.t(STANCE_NAMES[Stance(option)])
    else:
        chosen = poll.options[option]
    text = ctx.t("Your vote: {choice}. You can change it until {when}.").format(
        choice=chosen, when=when(poll.deadline, org.zone, ctx.t)
    )
    if poll.kind is PollKind.PROPOSAL and option == Stance.BLOCK:
        assert poll.id is not None
        await REASON_DIALOG.start(ctx, BlockReason(poll.id), lead=text)
        return
    if (state := await ctx.dialog()) is not None and state.name == REASON:
        await ctx.end_dialog()
    await ctx.reply(message(text))


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


async def toggle(ctx: Context, args: tuple[str, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.MULTIPLE,))
    org = await _org(ctx, poll)
    ballot = await _current(ctx, poll, ctx.person_id)
    chosen = list(ballot.choice) if ballot else []
    limit = poll.max_choices or len(poll.options)
    if option in chosen:
        chosen.remove(option)
    elif len(chosen) >= limit:
        raise Refusal(
            ctx.t(
                "You can choose at most {n}. Press one of your choices to take it back first."
            ).format(n=limit)
        )
    else:
        chosen.append(option)
    await _store(ctx, poll, chosen or None)
    if poll.anonymous:
        await ctx.reply(message(_counted(ctx, poll, org)))
    elif chosen:
        names = ", ".join(poll.options[i] for i in sorted(chosen))
        await ctx.reply(message(ctx.t("Your choices: {choices}.").format(choices=names)))
    else:
        await ctx.reply(message(ctx.t("You have taken back all your choices: no vote now.")))


async def answer_time(ctx: Context, args: tuple[str, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.TIME,))
    if len(args) < 3 or args[2] not in ("0", "1", "2"):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    org = await _org(ctx, poll)
    ballot = await _current(ctx, poll, ctx.person_id)
    answers = list(ballot.choice) if ballot else [int(Answer.NO)] * len(poll.options)
    answers[option] = int(args[2])
    await _store(ctx, poll, answers)
    if poll.anonymous:
        await ctx.reply(message(_counted(ctx, poll, org)))
        return
    lines = [
        f"{i}. {_short_time(ctx.t, moment, org.zone, until)} – {ctx.t(ANSWER_NAMES[Answer(a)])}"
        for i, ((moment, until), a) in enumerate(zip(poll.spans(), answers, strict=True), start=1)
    ]
    await ctx.reply(message(ctx.t("Your answers:") + "\n" + "\n".join(lines)))


async def rank(ctx: Context, args: tuple[str, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.RANKED,))
    ballot = await _current(ctx, poll, ctx.person_id)
    ranking = list(ballot.choice) if ballot else []
    if option not in ranking:
        ranking.append(option)
        await _store(ctx, poll, ranking)
    await _ranked_reply(ctx, poll, ranking)


async def _ranked_reply(ctx: Context, poll: Poll, ranking: list[int]) -> None:
    org = await _org(ctx, poll)
    if poll.anonymous:
        await ctx.reply(
            message(
                _counted(ctx, poll, org) + " " + ctx.t("Press Start over if you made a mistake.")
            )
        )
        return
    await ctx.reply(
        message(
            ctx.t("Your ranking: {ranking}").format(ranking=_ranking(poll, ranking))
            + "\n"
            + ctx.t("Press the next one, or Start over.")
        )
    )


async def reset(ctx: Context, args: tuple[str, ...]) -> None:
    poll = await _poll(ctx, args)
    await _check_can_vote(ctx, poll)
    await _store(ctx, poll, None)
    await ctx.reply(
        message(ctx.t("Your vote is taken back. Press the options again in your order."))
    )


@dataclass
class TypedRanking:
    """A ranking written as numbers in the private chat, beside the ranking buttons."""

    poll_id: int
    ranking: list[int] = field(default_factory=list)


async def _open_poll(ctx: Context, draft: TypedRanking) -> Poll:
    poll = await ctx.uow.polls.get(draft.poll_id)
    if poll is None or not poll.accepts_votes(ctx.now):
        raise DialogOver(ctx.t("The poll has closed, so your ranking was not counted."))
    return poll


async def _check_ranking(ctx: Context, draft: TypedRanking) -> None:
    await _open_poll(ctx, draft)


async def _read_ranking(ctx: Context, text: str, draft: TypedRanking) -> list[int]:
    poll = await _open_poll(ctx, draft)
    await _check_can_vote(ctx, poll)
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
    poll = await _open_poll(ctx, draft)
    await _store(ctx, poll, draft.ranking)
    await _ranked_reply(ctx, poll, draft.ranking)


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


async def _private_dialog(ctx: Context, poll: Poll) -> None:
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


async def merge_votes(effects: Effects, keep_id: int, drop_id: int) -> None:
    """Keeps one vote per person when two accounts become one person (`/koppla`).

    Call it before `PeopleRepository.merge(keep_id, drop_id)`. Visible ballots and
    participation rows are merged there (the kept person's row wins a clash);
    anonymous ballots name no one, so they are found by voter key here: the
    dropped account's ballot is removed where the kept one voted too, and
    re-keyed to the kept person where it did not.
    """
    polls = effects.uow.polls
    for poll_id in await polls.voted_in(drop_id):
        poll = await polls.get(poll_id)
        secret = await polls.secret(poll_id)
        if poll is None or not poll.anonymous or secret is None:
            continue
        dropped = await polls.ballot_by_key(poll_id, voter_key(secret, poll_id, drop_id))
        if dropped is None:
            continue
        if await polls.ballot_by_key(poll_id, voter_key(secret, poll_id, keep_id)) is not None:
            await polls.remove_ballot(dropped)
        else:
            choice = list(dropped.choice)
            await polls.remove_ballot(dropped)
            key = voter_key(secret, poll_id, keep_id)
            await polls.add_ballot(Ballot(poll_id, choice, voter_key=key))


# --- results ---------------------------------------------------------------


async def show_results(ctx: Context, args: tuple[str, ...]) -> None:
    poll = await _poll(ctx, args)
    assert poll.id is not None
    org = await _org(ctx, poll)
    manages = await _manages(ctx, poll)
    if poll.org_id not in await _reachable_org_ids(ctx, ctx.person) and not manages:
        raise Refusal(
            ctx.t("This poll is for {org}, so you can't vote in it.").format(org=org.name)
        )
    if poll.is_open and not poll.results_visible_while_open:
        count = len(await ctx.uow.polls.participants(poll.id))
        await ctx.reply(
            message(
                ctx.t("The results are shown when the poll closes, {when}.").format(
                    when=when(poll.deadline, org.zone, ctx.t)
                )
                + " "
                + ctx.t.ngettext("{n} has voted so far.", "{n} have voted so far.", count).format(
                    n=count
                )
            )
        )
        return
    result = await _result(ctx, poll)
    names, blocks = None, []
    if manages and not poll.anonymous:
        names, blocks = await _names_by_choice(ctx, poll), await _blocks(ctx, poll)
    await ctx.reply(
        _result_message(ctx.t, poll, org, result, names=names, chart=True, blocks=blocks)
    )


async def _result(effects: Effects, poll: Poll) -> Tally:
    assert poll.id is not None
    return tally(poll, [b.choice for b in await effects.uow.polls.ballots(poll.id)])


async def _names_by_choice(effects: Effects, poll: Poll) -> dict[int, list[str]]:
    """Visible polls only: who chose each option (or stance), and blocks with reasons."""
    assert poll.id is not None and not poll.anonymous
    names: dict[int, list[str]] = {}
    for ballot in await effects.uow.polls.ballots(poll.id):
        person = await effects.uow.people.get(ballot.person_id) if ballot.person_id else None
        if person is None:
            continue
        for position, option in enumerate(ballot.choice):
            if poll.kind is PollKind.TIME:
                if option == Answer.YES:
                    names.setdefault(position, []).append(person.display_name)
            elif poll.kind is PollKind.RANKED:
                if position == 0:
                    names.setdefault(option, []).append(person.display_name)
            else:
                names.setdefault(option, []).append(person.display_name)
    for listed in names.values():
        listed.sort()
    return names


def _result_message(
    t: Translator,
    poll: Poll,
    org: Organisation,
    result: Tally,
    *,
    names: dict[int, list[str]] | None = None,
    chart: bool = False,
    blocks: Sequence[tuple[str, str | None]] = (),
    offer_meeting: bool = False,
) -> OutgoingMessage:
    text = MessageBuilder()
    if poll.is_open:
        text.line(bold(t("Results so far: {question}").format(question=poll.question)))
    else:
        text.line(bold(t("Result: {question}").format(question=poll.question)))
    voters = t.ngettext("{n} vote", "{n} votes", result.voters).format(n=result.voters)
    if poll.is_open:
        text.line(voters + " · " + t("closes {when}").format(when=when(poll.deadline, org.zone, t)))
    else:
        text.line(
            voters
            + " · "
            + t("closed {when}").format(when=when(poll.closed_at or poll.deadline, org.zone, t))
        )

    def who(index: int) -> str:
        listed = (names or {}).get(index)
        return f" ({', '.join(listed)})" if listed else ""

    labels = _labels(t, poll, org)
    if poll.kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        for index, label in enumerate(labels):
            text.line(
                f"{label}: {result.counts[index]}{_share(result.counts[index], result.voters)}{who(index)}"
            )
        if len(result.leaders) == 1:
            text.line(t("Most votes: {option}").format(option=labels[result.leaders[0]]))
        elif result.leaders:
            text.line(
                t("Tied: {options}").format(options=", ".join(labels[i] for i in result.leaders))
            )
    elif poll.kind is PollKind.TIME:
        for index, label in enumerate(labels):
            text.line(
                t("{time}: {yes} yes, {maybe} if need be").format(
                    time=label, yes=result.counts[index], maybe=result.if_need_be[index]
                )
                + who(index)
            )
        if result.leaders:
            text.line(bold(t("Best time: {time}").format(time=labels[result.leaders[0]])))
    elif poll.kind is PollKind.RANKED:
        assert result.runoff is not None
        for number, one in enumerate(result.runoff.rounds, start=1):
            counts = ", ".join(f"{labels[o]} {c}" for o, c in one.counts.items())
            line = t("Round {n}: {counts}").format(n=number, counts=counts)
            if one.eliminated is not None:
                line += " – " + t("{option} is out").format(option=labels[one.eliminated])
                fewest = one.counts[one.eliminated]
                if sum(1 for c in one.counts.values() if c == fewest) > 1:
                    line += " " + t(
                        "(a tie: fewer first choices goes out, then the one listed later)"
                    )
            text.line(line)
        if result.runoff.winner is not None:
            text.line(bold(t("Winner: {option}").format(option=labels[result.runoff.winner])))
        if names:
            text.line(
                t("First choices: {names}").format(
                    names="; ".join(f"{labels[i]}{who(i)}" for i in sorted(names))
                )
            )
    else:
        parts = [f"{labels[s]} {result.counts[s]}{who(s)}" for s in Stance]
        text.line(" · ".join(parts))
        assert result.outcome is not None
        outcome = bold(t(OUTCOME_NAMES[result.outcome]))
        text.line(t("Outcome:") + " ", outcome)
        if poll.anonymous and result.counts[Stance.BLOCK]:
            text.line(t("Anonymous poll: blocks come without reasons or names."))
    eligible = poll.eligible_count
    reached = quorum_reached(poll, result.voters, eligible or 0) if eligible is not None else None
    if reached is not None:
        word = t("reached") if reached else t("not reached")
        text.line(
            t.ngettext(
                "Quorum {percent} %: {word} ({voters} of the {eligible} who could vote).",
                "Quorum {percent} %: {word} ({voters} of {eligible} who could vote).",
                eligible or 0,
            ).format(
                percent=poll.quorum_percent, word=word, voters=result.voters, eligible=eligible
            )
        )
    elif poll.quorum_percent:
        text.line(t("Quorum {percent} %: counted at close.").format(percent=poll.quorum_percent))
    for name, reason in blocks:
        text.line(
            t("{name} blocks: {reason}").format(
                name=name or t("Someone who has left"), reason=reason or t("(no reason given)")
            )
        )
    if chart and result.voters:
        text.attach(_chart(t, poll, labels, result))
    if offer_meeting and poll.kind is PollKind.TIME and result.leaders and poll.meeting_id is None:
        text.line(t("Create the meeting at the best time in one step:"))
        text.button_row(Button(t("Create the meeting"), Action("poll.meeting", (str(poll.id),))))
    return text.build()


def _share(count: int, voters: int) -> str:
    return f" ({round(100 * count / voters)} %)" if voters else ""


def _labels(t: Translator, poll: Poll, org: Organisation) -> list[str]:
    if poll.kind is PollKind.PROPOSAL:
        return [t(STANCE_NAMES[s]) for s in Stance]
    if poll.kind is PollKind.TIME:
        return [_short_time(t, m, org.zone, until) for m, until in poll.spans()]
    return list(poll.options)


def _chart(t: Translator, poll: Poll, labels: list[str], result: Tally) -> Attachment:
    name = f"poll-{poll.id}.png"
    if poll.kind is PollKind.TIME:
        series = [Series(t("Yes"), result.counts), Series(t("If need be"), result.if_need_be)]
    elif poll.kind is PollKind.RANKED and result.runoff is not None:
        final = result.runoff.rounds[-1].counts
        series = [Series(t("Final round"), [final.get(i, 0) for i in range(len(labels))])]
    else:
        series = [Series(t("Votes"), result.counts)]
    return bar_chart(poll.question, labels, series, filename=name)


def _short_time(
    t: Translator, moment: datetime, zone: ZoneInfo, until: datetime | None = None
) -> str:
    clock = local(moment, zone).strftime("%H:%M")
    if until is not None:
        clock += "–" + local(until, zone).strftime("%H:%M")
    return t("{date} at {time}").format(date=day(moment, zone, t), time=clock)


def _option_text(t: Translator, kind: str, option: str, zone: ZoneInfo) -> str:
    if kind == PollKind.TIME:
        start, until = option_span(option)
        return _short_time(t, start, zone, until)
    return option


def _ranking(poll: Poll, ranking: Sequence[int]) -> str:
    return ", ".join(f"{n}. {poll.options[o]}" for n, o in enumerate(ranking, start=1))


# --- closing ---------------------------------------------------------------


async def close_now(ctx: Context, args: tuple[str, ...]) -> None:
    poll = await _poll(ctx, args)
    org = await _org(ctx, poll)
    if not await _manages(ctx, poll):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    if not poll.is_open:
        raise Refusal(ctx.t("This poll is closed already."))
    await close_poll(ctx, poll)
    await ctx.reply(message(ctx.t("The poll is closed and the result is posted.")))


async def close_on_time(effects: Effects, timer: Timer) -> None:
    poll = await effects.uow.polls.get(int(timer.payload["poll_id"]))
    if poll is not None and poll.is_open:
        await close_poll(effects, poll, on_time=True)


async def close_poll(effects: Effects, poll: Poll, *, on_time: bool = False) -> None:
    """Closes the poll for good: the secret goes, the result is posted to the channels and voters."""
    assert poll.id is not None
    org = await _org(effects, poll)
    polls = effects.uow.polls
    eligible = await polls.eligible(await _subtree_ids(effects, poll.org_id), poll.members_only)
    poll.status = PollStatus.CLOSED
    poll.closed_at = min(effects.now, poll.deadline)
    poll.eligible_count = len(eligible)
    await polls.set_secret(poll.id, None)  # from here on no ballot can be linked to anyone
    await polls.seal(poll.id)
    await _stop_native(effects, poll)  # the platforms' own polls end now, before the result
    if not on_time:  # the running close timer is marked done by the core itself
        await effects.uow.timers.cancel(f"poll:{poll.id}:close")
    await effects.uow.timers.cancel(f"poll:{poll.id}:nudge")
    result = await _result(effects, poll)
    key = f"poll:{poll.id}:result"
    await effects.post_to_org(
        org, lambda t: _result_message(t, poll, org, result, chart=True), key=key
    )
    for person_id in await polls.participants(poll.id):
        if person_id == poll.created_by:
            continue
        person = await effects.uow.people.get(person_id)
        if person is not None:
            await effects.notify(person, lambda t: _result_message(t, poll, org, result), key=key)
    creator = await effects.uow.people.get(poll.created_by) if poll.created_by else None
    if creator is not None:
        names = None if poll.anonymous else await _names_by_choice(effects, poll)
        blocks = [] if poll.anonymous else await _blocks(effects, poll)
        await effects.notify(
            creator,
            lambda t: _result_message(
                t, poll, org, result, names=names, chart=True, blocks=blocks, offer_meeting=True
            ),
            key=f"poll:{poll.id}:organiser",
        )


async def _blocks(effects: Effects, poll: Poll) -> list[tuple[str, str | None]]:
    assert poll.id is not None
    if poll.kind is not PollKind.PROPOSAL:
        return []
    found: list[tuple[str, str | None]] = []
    for ballot in await effects.uow.polls.ballots(poll.id):
        if ballot.choice == [Stance.BLOCK]:
            person = await effects.uow.people.get(ballot.person_id) if ballot.person_id else None
            found.append((person.display_name if person else "", ballot.reason))
    return sorted(found, key=lambda b: b[0])


async def nudge_useful_until(effects: Effects, timer: Timer) -> datetime | None:
    """'You have not voted yet' is worth sending only while there is time left to vote."""
    poll = await effects.uow.polls.get(int(timer.payload["poll_id"]))
    return poll.deadline - NUDGE_USEFUL_BEFORE if poll is not None else None


async def nudge(effects: Effects, timer: Timer) -> None:
    """'Closing soon', only to those who may vote and have not."""
    poll = await effects.uow.polls.get(int(timer.payload["poll_id"]))
    if poll is None or not poll.accepts_votes(effects.now):
        return
    assert poll.id is not None
    org = await _org(effects, poll)
    voted = set(await effects.uow.polls.participants(poll.id))
    eligible = await effects.uow.polls.eligible(
        await _subtree_ids(effects, poll.org_id), poll.members_only
    )
    for person in eligible:
        if person.id in voted:
            continue

        def build(t: Translator) -> OutgoingMessage:
            text = MessageBuilder().line(
                t('The poll "{question}" closes {when}, and you have not voted yet.').format(
                    question=poll.question, when=when(poll.deadline, org.zone, t)
                )
            )
            text.button_row(Button(t("Vote"), Action("poll.open", (str(poll.id),))))
            return text.build()

        await effects.notify(person, build, key=f"poll:{poll.id}:nudge")


async def create_meeting_at_best_time(ctx: Context, args: tuple[str, ...]) -> None:
    """A closed time poll becomes a themed meeting at its best time: the details can be edited later."""
    poll = await _poll(ctx, args)
    org = await _org(ctx, poll)
    if not await ctx.meets(Permission.MANAGE_MEETINGS, org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    if poll.kind is not PollKind.TIME or poll.is_open:
        raise Refusal(ctx.t("A meeting can be created from a closed time poll."))
    if poll.meeting_id is not None:
        raise Refusal(
            ctx.t("The meeting is created already: see it with /moten {n}.").format(
                n=poll.meeting_id
            )
        )
    result = await _result(ctx, poll)
    if not result.leaders:
        raise Refusal(ctx.t("No one answered, so there is no best time."))
    starts, ends = poll.spans()[result.leaders[0]]
    draft = MeetingDraft(
        theme=poll.question,
        starts_at=starts,
        ends_at=ends or starts + MEETING_LENGTH,
        audience=Audience.MEMBERS if poll.members_only else Audience.OPEN,
    )
    meeting = await create_meeting(ctx, org, draft, created_by=ctx.person_id)
    poll.meeting_id = meeting.id
    await ctx.reply(
        message(
            ctx.t(
                "The meeting is created for {when} and posted in the group chat. "
                "Add a place, description and questions with /moten {n}."
            ).format(when=when(starts, org.zone, ctx.t), n=meeting.id)
        )
    )


# --- demo --------------------------------------------------------------------

DEMO_QUESTION = "Vilka teman vill du att vi samtalar om under året?"
DEMO_THEMES = ("Skolan och barnen", "Vården nära dig", "Jobben i Sandviken", "Klimatet", "Trygghet")
# Far enough out that no transcript on the demo data walks the clock past its nudge or close.
DEMO_OPEN_FOR = timedelta(days=330)


async def seed_demo_poll(effects: Effects) -> None:
    """One open, anonymous ranked-choice poll in Sandviken, created by Bertil."""
    org = await effects.uow.orgs.by_slug("sandviken")
    bertil = await effects.uow.people.by_identity("console", "bertil")
    if org is None or org.id is None or bertil is None:
        return
    poll = await effects.uow.polls.add(
        Poll(
            org_id=org.id,
            kind=PollKind.RANKED,
            question=DEMO_QUESTION,
            options=list(DEMO_THEMES),
            deadline=effects.now + DEMO_OPEN_FOR,
            anonymous=True,
            members_only=False,
            live_results=False,
            created_by=bertil.id,
            created_at=effects.now,
        )
    )
    assert poll.id is not None
    await effects.uow.polls.set_secret(poll.id, secrets.token_hex(32))
    await _schedule(effects, poll)
