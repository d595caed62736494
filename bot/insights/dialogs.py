"""/samtal without a number: how many conversations, tapped or written."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions import STALE_BUTTON
from bot.context import Context, Refusal
from bot.dialogs import Choice, Dialog, Step
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.insights.model import MAX_REPORTED
from bot.insights.service import add_report
from bot.insights.views import number, report_noted

DIALOG = "insights.count"
COUNT_BUTTONS = (1, 2, 5, 10)


def parse_count(ctx: Context, text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        raise Refusal(ctx.t("Write the number of conversations, for example 3."))
    count = int(value)
    if not 1 <= count <= MAX_REPORTED:
        raise Refusal(
            ctx.t("Write a number from 1 to {most}.").format(most=number(ctx.t, MAX_REPORTED))
        )
    return count


async def note_report(ctx: Context, org: Organisation, count: int) -> None:
    """Saves the person's report and thanks them, with the place buttons."""
    report, total, goal = await add_report(ctx, org, ctx.person_id, count)
    await ctx.reply(report_noted(ctx.t, org, report, total, goal))


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
        raise Refusal(ctx.t(STALE_BUTTON))
    await note_report(ctx, org, min(draft.count, MAX_REPORTED))


COUNT: Dialog[Count] = Dialog(
    name=DIALOG,
    draft=Count,
    command="samtal",
    stale=N_("That is already noted. Write /samtal to report more."),
    steps=(
        Step(
            "count",
            lambda ctx, d: ctx.t("How many voters did you talk with? Tap a number or write it."),
            parse=lambda ctx, value, d: parse_count(ctx, value),
            choices=_count_choices,
        ),
    ),
    finish=_record_count,
)
