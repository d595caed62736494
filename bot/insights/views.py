"""Insights' messages and charts: pure functions of the data and a Translator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.circles.model import hours_text
from bot.domain.organisations import Organisation
from bot.i18n import N_, Translator
from bot.insights.model import (
    ARROW_SYMBOLS,
    PLACES,
    TOPICS,
    Arrow,
    ConversationReport,
    Goal,
    GoalKind,
)
from bot.insights.service import Figures, GoalStatus
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold, message
from bot.register.views import reach_lines
from bot.render.charts import accumulated_chart, share_by_month_chart
from bot.welcome.model import Share
from bot.welcome.service import figure_lines

# The buttons after /samtal: (report id, place key or SKIP), (report id, topic), (report id).
PLACE = "insights.place"
TOPIC = "insights.topic"
DONE = "insights.done"
SKIP = "-"  # the place button that leaves the place out

GOAL_NAMES: dict[GoalKind, str] = {
    GoalKind.MEMBERS: N_("Members"),
    GoalKind.NEW_MEMBERS: N_("New members"),
    GoalKind.CONVERSATIONS: N_("Voter conversations"),
    GoalKind.PARTICIPATION: N_("Took part in the last 30 days"),
}

ARROW_NAMES: dict[Arrow, str] = {
    Arrow.ON_TRACK: N_("on track"),
    Arrow.AT_RISK: N_("at risk"),
    Arrow.OFF_TRACK: N_("off track"),
}


def number(t: Translator, n: float) -> str:
    return str(format_decimal(n, locale=t.language))


def report_noted(
    t: Translator, org: Organisation, report: ConversationReport, total: int, goal: Goal | None
) -> OutgoingMessage:
    """Thanks for a report, the year so far, and where it was (optional buttons)."""
    assert report.id is not None
    text = MessageBuilder().line(
        t.ngettext(
            "Thank you! {count} conversation noted for {org}.",
            "Thank you! {count} conversations noted for {org}.",
            report.count,
        ).format(count=number(t, report.count), org=org.name)
    )
    if goal is not None:
        text.line(
            t("This year so far: {total} of the goal {target}.").format(
                total=number(t, total), target=number(t, goal.target)
            )
        )
    else:
        text.line(t("This year so far: {total}.").format(total=number(t, total)))
    text.paragraph(t("Where did you talk with them? (optional)"))
    buttons = [
        Button(t(label), Action(PLACE, (str(report.id), key))) for key, label in PLACES.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    text.button_row(Button(t("Skip"), Action(PLACE, (str(report.id), SKIP))))
    return text.build()


def topic_message(t: Translator, report: ConversationReport) -> OutgoingMessage:
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
            Action(TOPIC, (str(report.id), key)),
        )
        for key, label in TOPICS.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    text.button_row(Button(t("Done"), Action(DONE, (str(report.id),))))
    return text.build()


def report_saved(t: Translator, report: ConversationReport) -> OutgoingMessage:
    parts = [
        t.ngettext("{count} conversation", "{count} conversations", report.count).format(
            count=number(t, report.count)
        ),
    ]
    if report.place in PLACES:
        parts.append(t(PLACES[report.place]).lower())
    if report.topics:
        parts.append(
            t("about {topics}").format(
                topics=", ".join(t(TOPICS[k]).lower() for k in report.topics if k in TOPICS)
            )
        )
    return message(
        t("Saved: {what}. Thank you for talking with voters!").format(what=", ".join(parts))
    )


# --- the figures ----------------------------------------------------------------------------------


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
        current=number(t, round(result.current)),
        target=number(t, goal.target),
        unit=unit,
        deadline=_day(t, goal.deadline, org),
        status=t(ARROW_NAMES[result.arrow]),
    ) + t(" (heading for {projected}{unit})").format(
        projected=number(t, round(result.projected)), unit=unit
    )


def figures_text(t: Translator, figures: Figures) -> OutgoingMessage:
    w = figures.welcome
    text = MessageBuilder().line(bold(t("Figures for {org}").format(org=figures.org.name)))
    text.line(t("Members: {count}").format(count=number(t, figures.members)))
    for line in reach_lines(t, figures.reach):
        text.line(line)
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
        ).format(count=number(t, figures.new_members_this_year), guests=figures.guests_joined)
    )
    for line in figure_lines(t, w):
        text.line(line)
    conversations = figures.goal(GoalKind.CONVERSATIONS)
    text.line(
        t("Voter conversations this year: {count}").format(count=number(t, figures.conversations))
        + (
            t(" (goal {target})").format(target=number(t, conversations.goal.target))
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


def goals_listing(
    t: Translator, org: Organisation, statuses: Sequence[GoalStatus], may_set: bool
) -> OutgoingMessage:
    """/mal: the goals with their arrows; how to set one for whoever may."""
    text = MessageBuilder().line(bold(t("Goals for {org}").format(org=org.name)))
    if not statuses:
        text.line(t("No goals set yet."))
    for status in statuses:
        text.line(goal_line(t, status, org))
    text.paragraph(
        t(
            "↗ on track: the pace so far reaches the goal by the deadline. → at risk: it reaches "
            "at least 85 % of the way. ↘ off track: less."
        )
    )
    if may_set:
        text.paragraph(
            t(
                "Set a goal (for the year end unless you add a date): /mal samtal 2000, "
                "/mal medlemmar 450, /mal nya 40, /mal deltagande 60 (percent), "
                "/mal samtal 500 2026-06-30"
            )
        )
    return text.build()
