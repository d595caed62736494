"""Setting the bot up in an organisation: which group chat is whose, and who holds which role."""

from __future__ import annotations

from bot.context import Context, Refusal
from bot.domain.organisations import Channel
from bot.domain.people import RoleAssignment
from bot.i18n import N_
from bot.membership.model import ROLE_WORDS, role_name
from bot.messages import MessageBuilder, bold, message
from bot.parsing import clean_name
from bot.permissions import Permission
from bot.registry import CommandSpec, Registry


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "kanal",
            "channel",
            N_("Connect this group chat to an organisation"),
            bind_channel,
            Permission.MANAGE_CHANNELS,
            usage=N_("<slug>"),
        )
    )
    registry.command(
        CommandSpec(
            "roll",
            "role",
            N_("Give or take a role: /roll anna organisator, /roll anna -organisator"),
            assign_role,
            Permission.MANAGE_ROLES,
            usage=N_("[name role]"),
        )
    )


async def bind_channel(ctx: Context, args: str) -> None:
    if ctx.chat.is_private:
        raise Refusal(ctx.t("Write this in the group chat you want to connect."))
    org = await ctx.uow.orgs.by_slug(args.strip().lower()) if args.strip() else None
    if org is None or org.id is None:
        raise Refusal(ctx.t("Name the organisation by its short name, e.g. /kanal sandviken."))
    await ctx.require(Permission.MANAGE_CHANNELS, org)
    await ctx.uow.orgs.bind_channel(
        Channel(ctx.chat.platform, ctx.chat.chat_id, org.id, clean_name(ctx.chat.title))
    )
    # Meant for the group: everyone here learns whose chat this is (what the bot posts here).
    await ctx.reply(
        message(ctx.t("This chat now belongs to {org}.").format(org=org.name)), for_group=True
    )


async def assign_role(ctx: Context, args: str) -> None:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    words = args.split()
    if not words:
        await _list_roles(ctx)
        return
    if len(words) != 2:
        raise Refusal(ctx.t("Write a name and a role, e.g. /roll anna organisator."))
    name, role_word = words
    revoke = role_word.startswith("-")
    role = ROLE_WORDS.get(role_word.lstrip("-").lower().replace("ö", "o"))
    if role is None:
        raise Refusal(
            ctx.t("I know these roles: organisator, medlemsansvarig, studieorganisator, admin.")
        )
    org_ids = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    matches = await ctx.uow.people.find_in_orgs(org_ids, name.lstrip("@"))
    if len(matches) != 1:
        raise Refusal(
            ctx.t("I found no one called {name} in {org}.").format(name=name, org=org.name)
            if not matches
            else ctx.t("Several people match {name}; write their username.").format(name=name)
        )
    person = matches[0]
    assert person.id is not None
    if revoke:
        changed = await ctx.uow.people.revoke(person.id, org.id, role)
        text = (
            ctx.t("{name} is no longer {role} in {org}.")
            if changed
            else ctx.t("{name} was not {role} in {org}.")
        )
    else:
        changed = await ctx.uow.people.grant(
            RoleAssignment(person.id, org.id, role, granted_at=ctx.now, granted_by=ctx.person_id)
        )
        text = (
            ctx.t("{name} is now {role} in {org}.")
            if changed
            else ctx.t("{name} was already {role} in {org}.")
        )
    await ctx.reply(
        message(text.format(name=person.display_name, role=role_name(ctx.t, role), org=org.name))
    )


async def _list_roles(ctx: Context) -> None:
    assert ctx.org is not None and ctx.org.id is not None
    holders = await ctx.uow.people.role_holders(ctx.org.id)
    text = MessageBuilder().line(bold(ctx.t("Roles in {org}").format(org=ctx.org.name)))
    if not holders:
        text.line(ctx.t("No one has a role here yet."))
    for person, role in holders:
        text.line(f"{person.display_name}: {role_name(ctx.t, role)}")
    await ctx.reply(text.build())
