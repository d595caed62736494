"""Organiser insights in chat: /samtal (report voter conversations), /mal (goals), /statistik.

- /samtal: a member reports how many voters they talked with (buttons 1, 2, 5,
  10 or a number), then optionally where and the main topics. The count is
  saved at once; the rest is optional taps.
- /mal: the organisation's goals with their arrows (anyone who may see
  figures); organisers (Permission.MANAGE_MEETINGS, the people who run the
  branch's activity) set them: `/mal samtal 2000`, `/mal medlemmar 450 2026-12-31`.
- /statistik [organisation]: the figures of the organisation and everything
  below it, sent privately, with two charts.

`gather(uow, org, now)` and `figures_text(t, figures)` are shared with the
command line (`samtal stats --org SLUG`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.circles.model import hours_text
from bot.context import Context, MessageFor, Refusal
from bot.dialogs import Choice, Dialog, Step
from bot.domain.organisations import Organisation
from bot.i18n import N_, Translator, plural_form
from bot.insights.model import (
    ARROW_SYMBOLS,
    MAX_REPORTED,
    PARTICIPATION_WINDOW,
    PLACES,
    TOPICS,
    Activity,
    Arrow,
    ConversationReport,
    Goal,
    GoalKind,
    Progress,
    accumulated_by_day,
    average,
    goal_period,
    guests_who_joined,
    month_starts,
    participation,
    participation_by_month,
    progress,
    study_hours_held,
    year_end,
    year_start,
)
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.ports import UnitOfWork
from bot.registry import Access, CommandSpec, Registry
from bot.render.charts import accumulated_chart, share_by_month_chart
from bot.timeread import TimeReadError, read_date
from bot.welcome.model import Share, WelcomeFigures, welcome_figures

DIALOG = "insights.count"
SKIP = "-"  # the place button that leaves the place out
COUNT_BUTTONS = (1, 2, 5, 10)
MAX_TARGET = 10_000_000
MAX_GOAL_YEARS = 5

GOAL_NAMES: dict[GoalKind, str] = {
    GoalKind.MEMBERS: N_("Members"),
    GoalKind.NEW_MEMBERS: N_("New members"),
    GoalKind.CONVERSATIONS: N_("Voter conversations"),
    GoalKind.PARTICIPATION: N_("Took part in the last 30 days"),
}

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

ARROW_NAMES: dict[Arrow, str] = {
    Arrow.ON_TRACK: N_("on track"),
    Arrow.AT_RISK: N_("at risk"),
    Arrow.OFF_TRACK: N_("off track"),
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
    registry.action("insights.place", place_button, Access.MEMBER)
    registry.action("insights.topic", topic_button, Access.MEMBER)
    registry.action("insights.done", done_button, Access.MEMBER)
    registry.dialog(COUNT)


# --- /samtal ------------------------------------------------------------------------------------


def _number(t: Translator, n: float) -> str:
    return str(format_decimal(n, locale=t.language))


def _parse_count(ctx: Context, text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        raise Refusal(ctx.t("Write the number of conversations, for example 3."))
    count = int(value)
    if not 1 <= count <= MAX_REPORTED:
        raise Refusal(
            ctx.t("Write a number from 1 to {most}.").format(most=_number(ctx.t, MAX_REPORTED))
        )
    return count


def _home(ctx: Context) -> Organisation:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(ctx.t("Join your local organisation first; then you can report here."))
    return org


async def report_command(ctx: Context, args: str) -> None:
    org = _home(ctx)
    assert org.id is not None
    if args.strip():
        await _record(ctx, org, _parse_count(ctx, args))
        return
    await COUNT.start(ctx, Count(org.id))


@dataclass
class Count:
    """/samtal without a number: how many conversations, tapped or written."""

    org: int
    count: int = 0


def _count_choices(ctx: Context, draft: Count) -> list[list[Choice]]:
    return [[Choice(str(n), str(n)) for n in COUNT_BUTTONS]]


async def _record_count(ctx: Context, draft: Count) -> None:
    org = await ctx.uow.orgs.get(draft.org)
    if org is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    await _record(ctx, org, min(draft.count, MAX_REPORTED))


COUNT: Dialog[Count] = Dialog(
    name=DIALOG,
    draft=Count,
    command="samtal",
    stale=N_("That is already noted. Write /samtal to report more."),
    steps=(
        Step(
            "count",
            lambda ctx, d: ctx.t("How many voters did you talk with? Tap a number or write it."),
            parse=lambda ctx, value, d: _parse_count(ctx, value),
            choices=_count_choices,
        ),
    ),
    finish=_record_count,
)


async def _year_total(uow: UnitOfWork, org: Organisation, now: datetime) -> int:
    assert org.id is not None
    org_ids = [o.id for o in await uow.orgs.subtree(org.id) if o.id is not None]
    reports = await uow.insights.reports_in(
        org_ids, year_start(now, org.zone), year_end(now, org.zone)
    )
    return sum(r.count for r in reports)


async def _record(ctx: Context, org: Organisation, count: int) -> None:
    assert org.id is not None
    report = await ctx.uow.insights.add_report(
        ConversationReport(org.id, ctx.person_id, count, ctx.now)
    )
    assert report.id is not None
    total = await _year_total(ctx.uow, org, ctx.now)
    goal = next(
        (g for g in await ctx.uow.insights.goals_of(org.id) if g.kind is GoalKind.CONVERSATIONS),
        None,
    )
    text = MessageBuilder().line(
        ctx.t.ngettext(
            "Thank you! {count} conversation noted for {org}.",
            "Thank you! {count} conversations noted for {org}.",
            count,
        ).format(count=_number(ctx.t, count), org=org.name)
    )
    if goal is not None:
        text.line(
            ctx.t("This year so far: {total} of the goal {target}.").format(
                total=_number(ctx.t, total), target=_number(ctx.t, goal.target)
            )
        )
    else:
        text.line(ctx.t("This year so far: {total}.").format(total=_number(ctx.t, total)))
    text.paragraph(ctx.t("Where did you talk with them? (optional)"))
    buttons = [
        Button(ctx.t(label), Action("insights.place", (str(report.id), key)))
        for key, label in PLACES.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    text.button_row(Button(ctx.t("Skip"), Action("insights.place", (str(report.id), SKIP))))
    await ctx.reply(text.build())


async def _own_report(ctx: Context, raw: str) -> ConversationReport:
    report_id = parse_id(raw)
    report = await ctx.uow.insights.report(report_id) if report_id else None
    if report is None or report.person_id != ctx.person_id:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    return report


def _topic_message(t: Translator, report: ConversationReport) -> OutgoingMessage:
    assert report.id is not None
    chosen = ", ".join(t(TOPICS[k]) for k in report.topics if k in TOPICS)
    text = MessageBuilder().line(
        t("What did they want to talk about? Choose the main topics and tap Done.")
        if not chosen
        else t("Chosen: {topics}.").format(topics=chosen)
    )
    buttons = [
        Button(
            ("✓ " if key in report.topics else "") + t(label),
            Action("insights.topic", (str(report.id), key)),
        )
        for key, label in TOPICS.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    text.button_row(Button(t("Done"), Action("insights.done", (str(report.id),))))
    return text.build()


async def place_button(ctx: Context, args: tuple[str, ...]) -> None:
    report = await _own_report(ctx, args[0])
    if len(args) < 2 or (args[1] not in PLACES and args[1] != SKIP):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if args[1] != SKIP:
        report.place = args[1]
    await ctx.reply(_topic_message(ctx.t, report))


async def topic_button(ctx: Context, args: tuple[str, ...]) -> None:
    report = await _own_report(ctx, args[0])
    if len(args) < 2 or args[1] not in TOPICS:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    key = args[1]
    report.topics = (
        [k for k in report.topics if k != key] if key in report.topics else [*report.topics, key]
    )
    await ctx.reply(_topic_message(ctx.t, report))


async def done_button(ctx: Context, args: tuple[str, ...]) -> None:
    report = await _own_report(ctx, args[0])
    parts = [
        ctx.t.ngettext("{count} conversation", "{count} conversations", report.count).format(
            count=_number(ctx.t, report.count)
        ),
    ]
    if report.place in PLACES:
        parts.append(ctx.t(PLACES[report.place]).lower())
    if report.topics:
        parts.append(
            ctx.t("about {topics}").format(
                topics=", ".join(ctx.t(TOPICS[k]).lower() for k in report.topics if k in TOPICS)
            )
        )
    await ctx.reply(
        message(
            ctx.t("Saved: {what}. Thank you for talking with voters!").format(what=", ".join(parts))
        )
    )


# --- the figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalStatus:
    goal: Goal
    progress: Progress


@dataclass(frozen=True)
class Figures:
    org: Organisation
    now: datetime
    members: int
    took_part: Share
    by_month: list[tuple[datetime, Share]]
    welcome: WelcomeFigures
    new_members_this_year: int
    guests_joined: int
    conversations: int
    accumulated: list[tuple[date, int]]
    accumulated_from: datetime
    study_hours: float
    rating: float | None
    ratings: int
    goals: list[GoalStatus]

    def goal(self, kind: GoalKind) -> GoalStatus | None:
        return next((g for g in self.goals if g.goal.kind is kind), None)


async def _org_ids(uow: UnitOfWork, org: Organisation) -> list[int]:
    assert org.id is not None
    return [o.id for o in await uow.orgs.subtree(org.id) if o.id is not None]


async def _activity(
    uow: UnitOfWork, org_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[list[Activity], float]:
    """Everyone present at meetings and circle sessions in [start, end), and the circle sessions."""
    meetings = await uow.meetings.attendance_in(org_ids, start, end)
    circles = await uow.insights.circle_activity(org_ids, start, end)
    activity = [Activity(r.person_id, r.starts_at) for r in meetings]
    activity += [a for _, a in circles]
    return activity, study_hours_held([s for s, _ in circles], start, end)


async def current_value(
    uow: UnitOfWork,
    org: Organisation,
    kind: GoalKind,
    since: datetime,
    now: datetime,
    until: datetime | None = None,
) -> float:
    """A goal's measure: members or % who took part now (no history is kept), or what was
    counted from `since` up to `until` (the deadline) or now, whichever is first."""
    end = min(until or now, now)
    org_ids = await _org_ids(uow, org)
    if kind is GoalKind.MEMBERS:
        return float(len(await uow.insights.members_in(org_ids)))
    if kind is GoalKind.PARTICIPATION:
        members = await uow.insights.members_in(org_ids)
        activity, _ = await _activity(uow, org_ids, now - PARTICIPATION_WINDOW, now)
        ratio = participation(members, activity, now - PARTICIPATION_WINDOW, now).ratio
        return 100 * ratio if ratio is not None else 0.0
    if kind is GoalKind.CONVERSATIONS:
        reports = await uow.insights.reports_in(org_ids, since, end + timedelta(seconds=1))
        return float(sum(r.count for r in reports))
    flows = await uow.welcome.in_orgs(org_ids)
    return float(sum(1 for f in flows if f.started_at is not None and since <= f.started_at <= end))


async def gather(uow: UnitOfWork, org: Organisation, now: datetime) -> Figures:
    zone = org.zone
    org_ids = await _org_ids(uow, org)
    this_year = year_start(now, zone)
    members = await uow.insights.members_in(org_ids)
    first_month = month_starts(now, zone, 12)[0]
    earliest = min(first_month, now - PARTICIPATION_WINDOW)
    activity, _ = await _activity(uow, org_ids, earliest, now)
    _, hours = await _activity(uow, org_ids, this_year, now)
    flows = await uow.welcome.in_orgs(org_ids)
    started = [f for f in flows if f.started_at is not None and this_year <= f.started_at <= now]
    joined: list[tuple[datetime, datetime, datetime | None]] = []
    for flow in started:
        assert flow.started_at is not None
        person = await uow.people.get(flow.person_id) if flow.person_id is not None else None
        # An erased member's flow kept when their account was created: still counted.
        account_created = person.created_at if person else flow.person_created_at
        joined.append((flow.created_at, flow.started_at, account_created))
    ratings: list[int] = []
    for meeting in await uow.meetings.between(org_ids, this_year, now):
        if not meeting.cancelled and meeting.id is not None:
            ratings += [f.rating for f in await uow.meetings.feedback(meeting.id)]
    goals: list[GoalStatus] = []
    assert org.id is not None
    for goal in await uow.insights.goals_of(org.id):
        value = await current_value(uow, org, goal.kind, goal.starts_at, now, goal.deadline)
        goals.append(GoalStatus(goal, progress(goal, value, now)))
    conversation_goal = next((g.goal for g in goals if g.goal.kind is GoalKind.CONVERSATIONS), None)
    chart_from = conversation_goal.starts_at if conversation_goal else this_year
    reports = await uow.insights.reports_in(
        org_ids, min(chart_from, this_year), now + timedelta(seconds=1)
    )
    return Figures(
        org=org,
        now=now,
        members=len(members),
        took_part=participation(members, activity, now - PARTICIPATION_WINDOW, now),
        by_month=participation_by_month(members, activity, now, zone),
        welcome=welcome_figures(flows, now),
        new_members_this_year=len(started),
        guests_joined=guests_who_joined(joined, this_year, now + timedelta(seconds=1)),
        conversations=sum(r.count for r in reports if r.reported_at >= this_year),
        accumulated=accumulated_by_day(reports, chart_from, now, zone),
        accumulated_from=chart_from,
        study_hours=hours,
        rating=average(ratings),
        ratings=len(ratings),
        goals=goals,
    )


def _share(share: Share) -> str:
    return (
        f"{share.count}/{share.of} ({round(100 * share.count / share.of)} %)" if share.of else "–"
    )


def _day(t: Translator, moment: datetime, org: Organisation) -> str:
    return str(format_date(moment.astimezone(org.zone).date(), "d MMM yyyy", locale=t.language))


def goal_line(t: Translator, status: GoalStatus, org: Organisation) -> str:
    goal, result = status.goal, status.progress
    percent = goal.kind is GoalKind.PARTICIPATION
    unit = " %" if percent else ""
    return t("{arrow} {what}: {current}{unit} of {target}{unit} by {deadline}, {status}").format(
        arrow=ARROW_SYMBOLS[result.arrow],
        what=t(GOAL_NAMES[goal.kind]),
        current=_number(t, round(result.current)),
        target=_number(t, goal.target),
        unit=unit,
        deadline=_day(t, goal.deadline, org),
        status=t(ARROW_NAMES[result.arrow]),
    ) + t(" (heading for {projected}{unit})").format(
        projected=_number(t, round(result.projected)), unit=unit
    )


def figures_text(t: Translator, figures: Figures) -> OutgoingMessage:
    w = figures.welcome
    text = MessageBuilder().line(bold(t("Figures for {org}").format(org=figures.org.name)))
    text.line(t("Members: {count}").format(count=_number(t, figures.members)))
    text.line(
        t("Took part in an activity in the last 30 days: {share}").format(
            share=_share(figures.took_part)
        )
    )
    text.line(
        t.ngettext(
            "New members this year: {count}, of whom {guests} was a guest here first",
            "New members this year: {count}, of whom {guests} were guests here first",
            figures.guests_joined,
        ).format(count=_number(t, figures.new_members_this_year), guests=figures.guests_joined)
    )
    median = w.median_days_to_contact
    text.line(
        t("Personally contacted: {share}").format(share=_share(w.contacted))
        + (
            t.ngettext(", median {days} day", ", median {days} days", plural_form(median)).format(
                days=format_decimal(median, format="0.#", locale=t.language)
            )
            if median is not None
            else ""
        )
    )
    text.line(
        t("Introduction completed within a month: {share}").format(
            share=_share(w.introduced_within_month)
        )
    )
    text.line(
        t("Offered member education within six months: {share}").format(
            share=_share(w.education_offered_within_six_months)
        )
    )
    conversations = figures.goal(GoalKind.CONVERSATIONS)
    text.line(
        t("Voter conversations this year: {count}").format(count=_number(t, figures.conversations))
        + (
            t(" (goal {target})").format(target=_number(t, conversations.goal.target))
            if conversations
            else ""
        )
    )
    text.line(t("Study hours this year: {hours}").format(hours=hours_text(t, figures.study_hours)))
    if figures.rating is None:
        text.line(t("Average meeting rating: no ratings yet this year"))
    else:
        text.line(
            t.ngettext(
                "Average meeting rating: {rating} of 5 ({count} rating)",
                "Average meeting rating: {rating} of 5 ({count} ratings)",
                figures.ratings,
            ).format(
                rating=format_decimal(round(figures.rating, 1), format="0.0", locale=t.language),
                count=figures.ratings,
            )
        )
    text.paragraph(bold(t("Goals")))
    if not figures.goals:
        text.line(t("No goals set yet. Organisers set them with /mal."))
    for status in figures.goals:
        text.line(goal_line(t, status, figures.org))
    return text.build()


def _month_label(t: Translator, moment: datetime) -> str:
    return str(format_date(moment.date(), "LLL", locale=t.language)).rstrip(".")


def charts(t: Translator, figures: Figures) -> list[Attachment]:
    slug = figures.org.slug
    by_month = share_by_month_chart(
        t("Took part in an activity, % of members"),
        [_month_label(t, start) for start, _ in figures.by_month],
        [100 * s.ratio if s.ratio is not None else None for _, s in figures.by_month],
        filename=f"participation-{slug}.png",
    )
    status = figures.goal(GoalKind.CONVERSATIONS)
    zone = figures.org.zone
    goal = (
        (
            status.goal.starts_at.astimezone(zone).date(),
            status.goal.deadline.astimezone(zone).date(),
            status.goal.target,
        )
        if status
        else None
    )
    last = goal[1] if goal else figures.now.astimezone(zone).date()
    first = figures.accumulated_from.astimezone(zone).date()
    ticks: list[tuple[date, str]] = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        if cursor >= first:
            ticks.append((cursor, _month_label(t, datetime(cursor.year, cursor.month, 1))))
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    step = max(1, (len(ticks) + 5) // 6)  # at most six labels: readable on a phone
    conversations = accumulated_chart(
        t("Voter conversations, accumulated"),
        [d for d, _ in figures.accumulated],
        [n for _, n in figures.accumulated],
        goal=goal,
        done_label=t("Reported"),
        goal_label=t("Goal pace"),
        month_labels=ticks[::step],
        filename=f"conversations-{slug}.png",
    )
    return [by_month, conversations]


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
    if not await ctx.meets(Permission.VIEW_STATS, org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
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
    goals = await ctx.uow.insights.goals_of(org.id)
    text = MessageBuilder().line(bold(ctx.t("Goals for {org}").format(org=org.name)))
    if not goals:
        text.line(ctx.t("No goals set yet."))
    for goal in goals:
        value = await current_value(ctx.uow, org, goal.kind, goal.starts_at, ctx.now, goal.deadline)
        text.line(goal_line(ctx.t, GoalStatus(goal, progress(goal, value, ctx.now)), org))
    text.paragraph(
        ctx.t(
            "↗ on track: the pace so far reaches the goal by the deadline. → at risk: it reaches "
            "at least 85 % of the way. ↘ off track: less."
        )
    )
    if await ctx.meets(Permission.MANAGE_MEETINGS, org):
        text.paragraph(
            ctx.t(
                "Set a goal (for the year end unless you add a date): /mal samtal 2000, "
                "/mal medlemmar 450, /mal nya 40, /mal deltagande 60 (percent), "
                "/mal samtal 500 2026-06-30"
            )
        )
    await ctx.reply(text.build())


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
        raise Refusal(ctx.t("Write a number from 1 to {most}.").format(most=_number(ctx.t, most)))
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
