"""Keeping the conversation safe: reporting harassment privately, and removing a person.

The seeds are clear that harassment is never acceptable. A report goes only to
the organisers, privately, and is not stored beyond the messages that carry it.
"""

from __future__ import annotations

from bot.context import Context, Refusal
from bot.i18n import N_
from bot.messages import MessageBuilder, bold, message
from bot.permissions import ROLE_PERMISSIONS, Permission
from bot.registry import CommandSpec, Registry

MAX_REPORT_LENGTH = 2000


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "anmal",
            "report",
            N_("Report harassment or abuse, privately to the organisers"),
            report,
            usage=N_("<what happened>"),
        )
    )
    registry.command(
        CommandSpec(
            "ta_bort",
            "remove",
            N_("Remove a person from this organisation"),
            remove_person,
            Permission.REMOVE_PEOPLE,
            usage=N_("<name>"),
        )
    )


async def report(ctx: Context, args: str) -> None:
    text = args.strip()
    if not text:
        raise Refusal(
            ctx.t(
                "Write what happened after the command, e.g. /anmal Someone keeps sending me "
                "insults. It goes privately to the organisers."
            )
        )
    if len(text) > MAX_REPORT_LENGTH:
        raise Refusal(ctx.t("Please keep the report under 2000 characters."))
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(ctx.t("You don't follow an organisation yet, so I don't know whom to tell."))
    recipients = []
    for level in await ctx.uow.orgs.lineage(org.id):  # the nearest organisers who can act
        assert level.id is not None
        recipients = [
            person
            for person, role in await ctx.uow.people.role_holders(level.id)
            if Permission.REMOVE_PEOPLE in ROLE_PERMISSIONS[role] and person.id != ctx.person_id
        ]
        if recipients:
            break
    if not recipients:
        raise Refusal(
            ctx.t("I found no organiser to send this to. Please contact your branch directly.")
        )
    where = ctx.t("a private chat") if ctx.chat.is_private else (ctx.chat.title or ctx.chat.chat_id)
    reporter = ctx.person.display_name
    await ctx.notify_each(
        recipients,
        lambda t: (
            MessageBuilder()
            .line(bold(t("Report of harassment or abuse in {org}").format(org=org.name)))
            .line(t("From {name}, written in {where}:").format(name=reporter, where=where))
            .paragraph(text)
            .paragraph(t("Please contact them and handle it with care. Only organisers got this."))
            .build()
        ),
        key=f"report:{ctx.event_id}",
        about=ctx.person,
    )
    await ctx.reply(
        message(
            ctx.t(
                "Thank you for telling us. Your report has gone privately to the organisers of "
                "{org}; they see your name so that they can contact you."
            ).format(org=org.name)
        )
    )


async def remove_person(ctx: Context, args: str) -> None:
    org = ctx.org
    name = args.strip().lstrip("@")
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    if not name:
        raise Refusal(ctx.t("Write the name of the person to remove, e.g. /ta_bort anna."))
    below = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    matches = await ctx.uow.people.find_in_orgs(below, name)
    if len(matches) != 1:
        raise Refusal(
            ctx.t("I found no one called {name} in {org}.").format(name=name, org=org.name)
            if not matches
            else ctx.t("Several people match {name}; write their username.").format(name=name)
        )
    person = matches[0]
    assert person.id is not None
    if person.id == ctx.person_id:
        raise Refusal(ctx.t("You can't remove yourself; ask another organiser."))
    await ctx.uow.people.leave(person.id, below)
    await ctx.reply(
        message(
            ctx.t("{name} no longer belongs to {org} here, and has no roles in it.").format(
                name=person.display_name, org=org.name
            )
        )
    )
