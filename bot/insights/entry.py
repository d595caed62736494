"""Organiser insights in chat: /samtal (report voter conversations), /mal (goals), /statistik.

- /samtal: a member reports how many voters they talked with (buttons 1, 2, 5,
  10 or a number), then optionally where and the main topics. The count is
  saved at once; the rest is optional taps.
- /mal: the organisation's goals with their arrows (anyone who may see
  figures); organisers (Permission.MANAGE_MEETINGS, the people who run the
  branch's activity) set them: `/mal samtal 2000`, `/mal medlemmar 450 2026-12-31`.
- /statistik [organisation]: the figures of the organisation and everything
  below it, sent privately, with two charts.

The figures and goals' measures are in `bot.insights.service`, the messages and charts in
`bot.insights.views`, the /samtal count dialog in `bot.insights.dialogs`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.actions import Choice
from bot.context import Context, MessageFor, Refusal
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.insights.dialogs import COUNT, Count, note_report, parse_count
from bot.insights.model import (
    PLACES,
    TOPICS,
    ConversationReport,
    Goal,
    GoalKind,
    goal_period,
    progress,
    year_end,
)
from bot.insights.service import REPORT, GoalStatus, current_value, gather
from bot.insights.views import (
    DONE,
    PLACE,
    SKIP,
    TOPIC,
    charts,
    figures_text,
    goal_line,
    goals_listing,
    number,
    report_saved,
    topic_message,
)
from bot.messages import MessageBuilder, OutgoingMessage, message
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry
from bot.timeread import TimeReadError, read_date

MAX_TARGET = 10_000_000
MAX_GOAL_YEARS = 5

# Typed after /mal, in either language.
GOAL_WORDS: dict[str, GoalKind] = {
    "medlemmar": GoalKind.MEMBERS,
    "members": GoalKind.MEMBERS,
    "nya": GoalKind.NEW_MEMBERS,
    "new": GoalKind.NEW_MEMBERS,
    "samtal": GoalKind.CONVERSATIONS,
    "conversations": GoalKind.CONVERSATIONS,
    "deltagande": GoalKind.PARTICIPATION,
    "participation": GoalKind.PARTICIPATION,
}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "samtal",
            "conversations",
            N_("Report your conversations with voters"),
            report_command,
            Access.MEMBER,
            usage=N_("[how many]"),
        )
    )
    registry.command(
        CommandSpec(
            "mal",
            "goals",
            N_("The organisation's goals and how they are going"),
            goals_command,
            Permission.VIEW_STATS,
            usage=N_("[what number date]"),
        )
    )
    registry.command(
        CommandSpec(
            "statistik",
            "stats",
            N_("Figures and charts for organisers"),
            stats_command,
            Permission.VIEW_STATS,
            usage=N_("[organisation]"),
        )
    )
    registry.action(PLACE, place_button, Access.MEMBER, args=(REPORT, Choice(*PLACES, SKIP)))
    registry.action(TOPIC, topic_button, Access.MEMBER, args=(REPORT, Choice(*TOPICS)))
    registry.action(DONE, done_button, Access.MEMBER, args=(REPORT,))
    registry.dialog(COUNT)


# --- /samtal ------------------------------------------------------------------------------------


def _home(ctx: Context) -> Organisation:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(ctx.t("Join your local organisation first; then you can report here."))
    return org


async def report_command(ctx: Context, args: str) -> None:
    org = _home(ctx)
    assert org.id is not None
    if args.strip():
        await note_report(ctx, org, parse_count(ctx, args))
        return
    await COUNT.start(ctx, Count(org.id))


async def place_button(ctx: Context, args: tuple[Any, ...]) -> None:
    report, place = args  # read by the core: the person's own report, a place or SKIP
    assert isinstance(report, ConversationReport)
    if place != SKIP:
        report.place = place
    await ctx.reply(topic_message(ctx.t, report))


async def topic_button(ctx: Context, args: tuple[Any, ...]) -> None:
    report, key = args
    assert isinstance(report, ConversationReport)
    report.topics = (
        [k for k in report.topics if k != key] if key in report.topics else [*report.topics, key]
    )
    await ctx.reply(topic_message(ctx.t, report))


async def done_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (report,) = args
    assert isinstance(report, ConversationReport)
    await ctx.reply(report_saved(ctx.t, report))


# --- /statistik and /mal ------------------------------------------------------------------------


async def _privately(ctx: Context, messages: list[OutgoingMessage]) -> None:
    """Figures go to the organiser's private chat, never a group."""
    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal answers go there anyway
        for one in messages:
            await ctx.reply(one)
        return
    for index, one in enumerate(messages):
        await ctx.notify(
            ctx.person,
            _fixed(one),
            key=f"insights:stats:{ctx.chat.platform}:{ctx.event_id}:{index}",
        )
    await ctx.reply(message(ctx.t("I have sent it to you in a private message.")))


def _fixed(one: OutgoingMessage) -> MessageFor:
    return lambda t: one


async def _stats_org(ctx: Context, args: str) -> Organisation:
    slug = args.strip().lower()
    org = await ctx.uow.orgs.by_slug(slug) if slug else ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t(
                "I don't know the organisation {name}. Write its short name, like {example}."
            ).format(name=slug, example=ctx.org.slug if ctx.org else "sandviken")
            if slug
            else ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    await ctx.require(Permission.VIEW_STATS, org)
    return org


async def stats_command(ctx: Context, args: str) -> None:
    org = await _stats_org(ctx, args)
    figures = await gather(ctx.uow, org, ctx.now)
    messages = [figures_text(ctx.t, figures)]
    for chart in charts(ctx.t, figures):
        messages.append(MessageBuilder().attach(chart).build())
    await _privately(ctx, messages)


async def goals_command(ctx: Context, args: str) -> None:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    if args.strip():
        await _set_goal(ctx, org, args)
        return
    statuses = []
    for goal in await ctx.uow.insights.goals_of(org.id):
        value = await current_value(ctx.uow, org, goal.kind, goal.starts_at, ctx.now, goal.deadline)
        statuses.append(GoalStatus(goal, progress(goal, value, ctx.now)))
    may_set = await ctx.meets(Permission.MANAGE_MEETINGS, org)
    await ctx.reply(goals_listing(ctx.t, org, statuses, may_set))


async def _set_goal(ctx: Context, org: Organisation, args: str) -> None:
    assert org.id is not None
    if not await ctx.meets(Permission.MANAGE_MEETINGS, org):
        raise Refusal(ctx.t("Only organisers can set goals; write /mal to see them."))
    words = args.split()
    kind = GOAL_WORDS.get(words[0].casefold())
    usage = ctx.t(
        "Write what, how many and optionally by when, for example /mal samtal 2000 or "
        "/mal medlemmar 450 2026-12-31. What: samtal, medlemmar, nya or deltagande."
    )
    if kind is None:
        raise Refusal(usage)
    rest = words[1:]
    deadline_day = year_end(ctx.now, org.zone).date()
    if len(rest) > 1 and re.search(r"[-/]", rest[-1]):  # '2026-12-31', '31/12'
        try:
            deadline_day = read_date(rest.pop(), ctx.now, org.zone, allow_past=True)
        except TimeReadError as error:
            raise Refusal(usage) from error
    digits = "".join(rest).replace("%", "").replace(",", "").replace(".", "").replace("\u00a0", "")
    if not (digits.isascii() and digits.isdigit()):
        raise Refusal(usage)
    target = int(digits)
    most = 100 if kind is GoalKind.PARTICIPATION else MAX_TARGET
    if not 1 <= target <= most:
        raise Refusal(ctx.t("Write a number from 1 to {most}.").format(most=number(ctx.t, most)))
    today = ctx.now.astimezone(org.zone).date()
    if not today < deadline_day <= today.replace(year=today.year + MAX_GOAL_YEARS):
        raise Refusal(
            ctx.t.ngettext(
                "The date must be after today and within {years} year.",
                "The date must be after today and within {years} years.",
                MAX_GOAL_YEARS,
            ).format(years=MAX_GOAL_YEARS)
        )
    starts_at, deadline = goal_period(ctx.now, deadline_day, org.zone)
    baseline = await current_value(ctx.uow, org, kind, starts_at, ctx.now)
    goal = await ctx.uow.insights.save_goal(
        Goal(
            org_id=org.id,
            kind=kind,
            target=target,
            starts_at=starts_at,
            deadline=deadline,
            baseline=baseline,
            set_at=ctx.now,
            set_by=ctx.person_id,
        )
    )
    status = GoalStatus(goal, progress(goal, baseline, ctx.now))
    await ctx.reply(
        message(
            ctx.t("Goal saved for {org}.").format(org=org.name),
            "\n",
            goal_line(ctx.t, status, org),
        )
    )
