"""/hjalp: what this person can do here, given their role; and /avbryt for any dialog."""

from __future__ import annotations

from bot.context import Context
from bot.domain.people import Status
from bot.i18n import N_
from bot.messages import MessageBuilder, bold, message
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec("hjalp", "help", N_("What you can do here"), show_help, Access.ANYONE)
    )
    registry.command(
        CommandSpec("avbryt", "cancel", N_("Stop what you are filling in"), cancel, Access.ANYONE)
    )


def _name(ctx: Context, names: tuple[str, str]) -> str:
    return names[1] if ctx.t.language == "en" else names[0]


async def show_help(ctx: Context, args: str) -> None:
    _ = ctx.t
    everyone: list[str] = []
    organisers: list[str] = []
    for spec in ctx.registry.commands:
        line = f"/{_name(ctx, spec.names)}{' ' + _(spec.usage) if spec.usage else ''} – {_(spec.summary)}"
        if isinstance(spec.requires, Permission):
            if await ctx.meets(spec.requires):
                organisers.append(line)
        elif spec.requires is not Access.MEMBER or ctx.person.status is Status.MEMBER:
            everyone.append(line)

    text = MessageBuilder().line(bold(_("What you can do here")))
    for line in everyone:
        text.line(line)
    if organisers:
        where = ctx.org.name if ctx.org else ""
        text.paragraph(bold(_("As an organiser in {org} you can also").format(org=where)))
        for line in organisers:
            text.line(line)
    if not ctx.consented:
        text.paragraph(
            _("Start with /start: I will tell you what I store and ask for your consent.")
        )
    elif ctx.person.status is Status.GUEST:
        text.paragraph(
            _(
                "You are here as a guest: welcome to every open activity and conversation. "
                "Ask an organiser if you would like to become a member."
            )
        )
    if ctx.consented and not await ctx.uow.people.affiliations_of(ctx.person_id):
        text.paragraph(
            _(
                "You don't follow any local branch here yet. Open the join link your branch "
                "shared: it starts me with the branch's code, as /start join_sandviken (to "
                "follow Sandviken) or /start member_sandviken (a new member: your first month "
                "starts)."
            )
        )
    # Offered in the other language on purpose: it is for someone who can't read this one.
    text.paragraph(
        "English? Write /language." if ctx.t.language == "sv" else "Svenska? Skriv /sprak."
    )
    await ctx.reply(text.build())


async def cancel(ctx: Context, args: str) -> None:
    if await ctx.dialog() is None:
        await ctx.reply(message(ctx.t("There is nothing to cancel.")))
        return
    await ctx.end_dialog()
    await ctx.reply(message(ctx.t("Cancelled. Nothing was saved.")))
