"""The member register in chat: personal join links, confirming a member number, and
/obetalda, the member officer's list of unpaid fees with a reminder she approves."""

from __future__ import annotations

from typing import Any

from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.permissions import Permission
from bot.register import service, views
from bot.register.model import due_reminder
from bot.registry import CommandSpec, Registry, always
from bot.welcome.service import ORG, privately


def setup(registry: Registry) -> None:
    registry.payload(service.JOIN_PAYLOAD, service.link_by_token)
    registry.timer(service.WELCOME_TIMER, service.welcome, useful_until=always)
    registry.command(
        CommandSpec(
            "medlemsnummer",
            "membernumber",
            N_("Connect this account to your membership in the register"),
            confirm_number,
            usage=N_("<member number>"),
        )
    )
    registry.command(
        CommandSpec(
            "obetalda",
            "unpaid",
            N_("Members whose fee has run out, and a reminder to them"),
            list_unpaid,
            Permission.MANAGE_NEW_MEMBERS,
        )
    )
    registry.action("register.remind", send_reminders, Permission.MANAGE_NEW_MEMBERS, args=(ORG,))


async def confirm_number(ctx: Context, args: str) -> None:
    if not args.strip():
        raise Refusal(
            ctx.t("Write your member number after the command, e.g. /medlemsnummer 123456.")
        )
    await service.send_code(ctx, args)


def _org(ctx: Context) -> Organisation:
    if ctx.org is None or ctx.org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    return ctx.org


async def list_unpaid(ctx: Context, args: str) -> None:
    org = _org(ctx)
    assert org.id is not None
    entries = await service.unpaid_in(ctx, org)
    due = [e for e in entries if due_reminder(e, ctx.now)]
    example = due[0] if due else None
    preview = views.unpaid_reminder(
        ctx.t,
        example.name if example else "",
        org.name,
        example.paid_until if example and example.paid_until else ctx.now.date(),
        ctx.settings.join_url,
    )
    await privately(ctx, views.unpaid_list(ctx.t, org.name, org.id, entries, preview, len(due)))


async def send_reminders(ctx: Context, args: tuple[Any, ...]) -> None:
    org: Organisation = args[0]
    sent, skipped = await service.remind_unpaid(ctx, org)
    await ctx.reply(views.reminders_sent(ctx.t, sent, skipped))
