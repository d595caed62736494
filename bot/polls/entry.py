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

This module only registers and answers: the use cases are in `service.py`, the
messages in `views.py`, the dialogs in `dialogs.py`. Every button acts on `POLL`,
so the core has loaded the poll and checked an organiser's role in its organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.actions import STALE_BUTTON
from bot.context import Context, Effects, Refusal
from bot.domain.delivery import Timer
from bot.events import PollAnswered
from bot.formatting import when
from bot.i18n import N_
from bot.messages import message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.polls.dialogs import (
    MEETING_FROM_POLL,
    NEW_POLL,
    RANK_DIALOG,
    REASON,
    REASON_DIALOG,
    BlockReason,
    MeetingFromPoll,
    NewPoll,
    start_typed_ranking,
)
from bot.polls.model import (
    NUDGE_USEFUL_BEFORE,
    Answer,
    InvalidChoice,
    Poll,
    PollKind,
    Stance,
    read_ranking,
)
from bot.polls.service import (
    ANSWER,
    CLOSE_TIMER,
    NUDGE_TIMER,
    OPTION,
    POLL,
    best_time,
    blocking_reasons,
    cast,
    check_can_vote,
    close_poll,
    current,
    manages,
    names_by_answer,
    names_by_choice,
    poll_org,
    reachable_org_ids,
    set_anonymous,
    stop_native,
    store,
    subtree_ids,
    tally_of,
)
from bot.polls.views import (
    STANCE_NAMES,
    ballot_message,
    card,
    counted,
    nudge_message,
    ranked_reply,
    ranking_to_confirm,
    result_message,
    time_answers,
)
from bot.registry import CommandSpec, Registry, always


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
    registry.dialog(MEETING_FROM_POLL)
    registry.dialog(REASON_DIALOG)
    registry.action("poll.open", open_ballot, args=(POLL,))
    registry.action("poll.vote", vote, args=(POLL, OPTION))
    registry.action("poll.toggle", toggle, args=(POLL, OPTION))
    registry.action("poll.time", answer_time, args=(POLL, OPTION, ANSWER))
    registry.action("poll.rank", rank, args=(POLL, OPTION))
    registry.action("poll.reset", reset, args=(POLL,))
    # An anonymous ranked poll: the order so far rides on the buttons until she counts it.
    registry.action("poll.rank_next", rank_next, args=(POLL, str, OPTION))
    registry.action("poll.count", count_ranking, args=(POLL, str))
    registry.action("poll.restart", restart_ranking, args=(POLL,))
    registry.action("poll.results", show_results, args=(POLL,))
    registry.action("poll.close", close_now, Permission.MANAGE_POLLS, args=(POLL,))
    registry.action("poll.anonymity", switch_anonymity, Permission.MANAGE_POLLS, args=(POLL,))
    registry.action(
        "poll.meeting", create_meeting_at_best_time, Permission.MANAGE_MEETINGS, args=(POLL,)
    )
    registry.timer(CLOSE_TIMER, close_on_time, useful_until=always)
    registry.timer(NUDGE_TIMER, nudge, useful_until=nudge_useful_until)
    registry.native_poll("poll", native_answer)


# --- listing and creating ----------------------------------------------------


async def list_polls(ctx: Context, args: str) -> None:
    org_ids = await reachable_org_ids(ctx, ctx.person)
    for assignment in await ctx.uow.people.roles_of(ctx.person_id):
        org = await ctx.uow.orgs.get(assignment.org_id)
        if org is not None and await ctx.meets(Permission.MANAGE_POLLS, org):
            org_ids += [i for i in await subtree_ids(ctx, assignment.org_id) if i not in org_ids]
    polls = await ctx.uow.polls.open_in(org_ids)
    if args.strip():  # one poll by its number (Discord's autocomplete offers them)
        polls = [poll for poll in polls if poll.id == parse_id(args)]
        if not polls:
            raise Refusal(ctx.t("That poll no longer exists."))
    if not polls:
        await ctx.reply(message(ctx.t("There are no open polls right now.")))
        return
    for poll in polls:
        assert poll.id is not None
        await ctx.reply(
            card(
                ctx.t,
                poll,
                await poll_org(ctx, poll),
                voted=await ctx.uow.polls.has_voted(poll.id, ctx.person_id),
                count=len(await ctx.uow.polls.participants(poll.id)),
                manages=await manages(ctx, poll),
            )
        )


async def new_poll(ctx: Context, args: str) -> None:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    await NEW_POLL.start(ctx, NewPoll(org.id))


# --- organisers' buttons -----------------------------------------------------


async def close_now(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    if not poll.is_open:
        raise Refusal(ctx.t("This poll is closed already."))
    await close_poll(ctx, poll)
    await ctx.reply(message(ctx.t("The poll is closed and the result is posted.")))


async def switch_anonymity(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    if not poll.is_open:
        raise Refusal(ctx.t("This poll is closed."))
    if await ctx.uow.polls.participants(poll.id) or await ctx.uow.polls.ballots(poll.id):
        raise Refusal(ctx.t("Anonymity is fixed once the first vote is cast."))
    await set_anonymous(ctx, poll, not poll.anonymous)
    await ctx.reply(
        message(
            ctx.t("The poll is now anonymous.")
            if poll.anonymous
            else ctx.t("Votes in the poll are now visible.")
        )
    )


async def create_meeting_at_best_time(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    await best_time(ctx, poll)  # refused at once when there is no meeting to be had
    await MEETING_FROM_POLL.start(ctx, MeetingFromPoll(poll.id))


# --- voting --------------------------------------------------------------------


async def open_ballot(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    await check_can_vote(ctx, poll)
    org = await poll_org(ctx, poll)
    # An anonymous ballot shows no earlier choice: nothing to read then.
    ballot = None if poll.anonymous else await current(ctx, poll, ctx.person_id)
    build = ballot_message(poll, org, ballot)
    if ctx.chat.is_private:
        await ctx.reply(build(ctx.t))
    else:
        await ctx.notify(ctx.person, build, key=f"poll:{poll.id}:ballot:{ctx.event_id}")
    if poll.kind is PollKind.RANKED:
        await start_typed_ranking(ctx, poll)


async def _votable(
    ctx: Context, args: tuple[Any, ...], kinds: Sequence[PollKind]
) -> tuple[Poll, int]:
    """The poll and the option a ballot button names, once the person may vote in it."""
    poll, option = args[0], int(args[1])
    await check_can_vote(ctx, poll)
    # The core read the shape; only the poll knows how many options it has.
    if poll.kind not in kinds or option >= poll.option_count:
        raise Refusal(ctx.t(STALE_BUTTON))
    return poll, option


async def vote(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.SINGLE, PollKind.PROPOSAL))
    org = await poll_org(ctx, poll)
    await store(ctx, poll, [option])
    if poll.anonymous:
        await ctx.reply(message(counted(ctx.t, poll, org)))
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
    await ctx.end_dialog(REASON)  # a reason asked for after an earlier "block" is moot now
    await ctx.reply(message(text))


async def toggle(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.MULTIPLE,))
    org = await poll_org(ctx, poll)
    ballot = await current(ctx, poll, ctx.person_id)
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
    await store(ctx, poll, chosen or None)
    if poll.anonymous:
        await ctx.reply(message(counted(ctx.t, poll, org)))
    elif chosen:
        names = ", ".join(poll.options[i] for i in sorted(chosen))
        await ctx.reply(message(ctx.t("Your choices: {choices}.").format(choices=names)))
    else:
        await ctx.reply(message(ctx.t("You have taken back all your choices: no vote now.")))


async def answer_time(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.TIME,))
    org = await poll_org(ctx, poll)
    ballot = await current(ctx, poll, ctx.person_id)
    answers = list(ballot.choice) if ballot else [int(Answer.NO)] * len(poll.options)
    answers[option] = int(args[2])
    await store(ctx, poll, answers)
    if poll.anonymous:
        await ctx.reply(message(counted(ctx.t, poll, org)))
        return
    await ctx.reply(time_answers(ctx.t, poll, org, answers))


async def rank(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, option = await _votable(ctx, args, (PollKind.RANKED,))
    ballot = await current(ctx, poll, ctx.person_id)
    if poll.anonymous:  # nothing counts until she has seen her order and confirmed it
        await ctx.reply(ranking_to_confirm(ctx.t, poll, [option]))
        return
    ranking = list(ballot.choice) if ballot else []
    if option not in ranking:
        ranking.append(option)
        await store(ctx, poll, ranking)
    await ctx.reply(ranked_reply(ctx.t, poll, await poll_org(ctx, poll), ranking))


async def _pending(ctx: Context, poll: Poll, raw: str) -> list[int]:
    """The order an anonymous ranked poll's button carries, once the person may vote."""
    await check_can_vote(ctx, poll)
    ranking = read_ranking(poll, raw) if poll.kind is PollKind.RANKED and poll.anonymous else None
    if ranking is None:
        raise Refusal(ctx.t(STALE_BUTTON))
    return ranking


async def rank_next(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, raw, option = args
    ranking = await _pending(ctx, poll, raw)
    option = int(option)
    if option >= poll.option_count:
        raise Refusal(ctx.t(STALE_BUTTON))
    if option not in ranking:
        ranking.append(option)
    await ctx.reply(ranking_to_confirm(ctx.t, poll, ranking))


async def count_ranking(ctx: Context, args: tuple[Any, ...]) -> None:
    poll, raw = args
    ranking = await _pending(ctx, poll, raw)
    if not ranking:
        raise Refusal(ctx.t(STALE_BUTTON))
    await store(ctx, poll, ranking)
    org = await poll_org(ctx, poll)
    await ctx.reply(message(counted(ctx.t, poll, org)))


async def restart_ranking(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    await _pending(ctx, poll, "")
    await ctx.reply(ranking_to_confirm(ctx.t, poll, []))


async def reset(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    await check_can_vote(ctx, poll)
    await store(ctx, poll, None)
    await ctx.reply(
        message(ctx.t("Your vote is taken back. Press the options again in your order."))
    )


# --- results -------------------------------------------------------------------


async def show_results(ctx: Context, args: tuple[Any, ...]) -> None:
    (poll,) = args
    org = await poll_org(ctx, poll)
    organiser = await manages(ctx, poll)
    if poll.org_id not in await reachable_org_ids(ctx, ctx.person) and not organiser:
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
    result = await tally_of(ctx, poll)
    names, time_names, blocks = None, None, []
    if organiser and not poll.anonymous:
        names, blocks = await names_by_choice(ctx, poll), await blocking_reasons(ctx, poll)
        time_names = await names_by_answer(ctx, poll)
    await ctx.reply(
        result_message(
            ctx.t, poll, org, result, names=names, time_names=time_names, chart=True, blocks=blocks
        )
    )


# --- timers --------------------------------------------------------------------


async def close_on_time(effects: Effects, timer: Timer) -> None:
    poll = await effects.uow.polls.get(int(timer.payload["poll_id"]))
    if poll is not None and poll.is_open:
        await close_poll(effects, poll, on_time=True)


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
    voted = set(await effects.uow.polls.participants(poll.id))
    eligible = await effects.uow.polls.eligible(
        await subtree_ids(effects, poll.org_id), poll.members_only
    )
    await effects.notify_each(
        (person for person in eligible if person.id not in voted),
        nudge_message(poll, await poll_org(effects, poll)),
        key=f"poll:{poll.id}:nudge",
    )


# --- the platforms' own polls ----------------------------------------------------


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
    org = await poll_org(ctx, poll)
    if poll.anonymous or not poll.accepts_votes(ctx.now):
        # Its native post should have been ended (e.g. it went out late): end it now.
        post = await ctx.uow.native_polls.by_handle(answer.chat.platform, answer.handle)
        if post is not None:
            await stop_native(ctx, poll, only=post)
        if poll.accepts_votes(ctx.now):
            reason = _("The poll is anonymous now: vote in a private chat with /omrostningar.")
        else:
            closed = min(poll.closed_at or poll.deadline, poll.deadline)
            reason = _("The poll closed {when}.").format(when=when(closed, org.zone, _))
        await ctx.reply(message(head + " " + reason))
        return
    try:
        await check_can_vote(ctx, poll)
        await cast(ctx, poll, ctx.person_id, chosen or None)
    except Refusal as refusal:
        raise Refusal(head + " " + refusal.text) from None
    except InvalidChoice as exc:
        raise Refusal(head + " " + _("That vote doesn't fit this poll.")) from exc
