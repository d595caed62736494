"""The welcome flow's dialog: what a new member would like to do, asked at the month's check-in."""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context, Refusal
from bot.dialogs import Dialog, DialogOver, Skip, Step
from bot.welcome.model import WelcomeFlow
from bot.welcome.service import finish_checkin

WISH_DIALOG = "welcome.wish"
MAX_WISH = 1000


@dataclass
class Wish:
    """What a new member would like to do from now on, asked at the month's check-in."""

    flow: int
    wish: str | None = None


async def _wish_flow(ctx: Context, draft: Wish) -> WelcomeFlow:
    flow = await ctx.uow.welcome.get(draft.flow)
    if flow is None or flow.person_id != ctx.person_id:
        raise DialogOver()
    return flow


async def _check_wish(ctx: Context, draft: Wish) -> None:
    await _wish_flow(ctx, draft)


def _read_wish(ctx: Context, value: str, draft: Wish) -> str:
    if len(value) > MAX_WISH:
        raise Refusal(
            ctx.t.ngettext(
                "That is a bit long: please keep it under {limit} character.",
                "That is a bit long: please keep it under {limit} characters.",
                MAX_WISH,
            ).format(limit=MAX_WISH)
        )
    return value


async def _save_wish(ctx: Context, draft: Wish) -> None:
    await finish_checkin(ctx, await _wish_flow(ctx, draft), draft.wish)


WISH: Dialog[Wish] = Dialog(
    name=WISH_DIALOG,
    draft=Wish,
    check=_check_wish,
    steps=(
        Step(
            "wish",
            lambda ctx, d: ctx.t(
                "And what would you like to do from now on? Write it in your own words, or press Skip."
            ),
            parse=_read_wish,
            skip=Skip(None),
        ),
    ),
    finish=_save_wish,
)
