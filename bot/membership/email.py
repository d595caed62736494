"""/epost: a person chooses whether the bot's private messages reach them in chat or by email.

Only an address the bot already has for them (from the member register) can be
chosen: an address typed in a chat is not proof that it is theirs. Choosing
email also undoes an earlier "no more emails" from an email's link; choosing
chat keeps email for when they have no chat at all (bot/domain/channels.py).
"""

from __future__ import annotations

from typing import Any

from bot.actions import Choice
from bot.context import Context
from bot.domain.channels import EMAIL, ChannelChoice
from bot.i18n import N_
from bot.messages import Action, Button, message
from bot.registry import Access, CommandSpec, Registry

CHANNELS = ("chat", "email")


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "epost",
            "email",
            N_("Choose chat or email for my messages to you"),
            choose_channel,
            Access.CONSENTED,
        )
    )
    registry.action("channel.set", set_channel, Access.CONSENTED, args=(Choice(*CHANNELS),))


async def _address(ctx: Context) -> str | None:
    identities = await ctx.uow.people.identities_of(ctx.person_id)
    return next((i.external_id for i in identities if i.platform == EMAIL), None)


async def choose_channel(ctx: Context, args: str) -> None:
    wanted = {"chatt": "chat", "chat": "chat", "epost": "email", "e-post": "email"}.get(
        args.strip().lower(), args.strip().lower()
    )
    if wanted in CHANNELS:
        await _set(ctx, wanted)
        return
    address = await _address(ctx)
    if address is None:
        await ctx.reply(message(ctx.t(NO_ADDRESS)))
        return
    choice = await ctx.uow.channels.choice(ctx.person_id)
    now = (
        ctx.t("You get my messages by email, at {address}.")
        if choice is not None and choice.prefers_email and choice.email_stopped_at is None
        else ctx.t("You get my messages in the chat. I have your email address {address}.")
    )
    buttons = [
        Button(ctx.t("In the chat"), Action("channel.set", ("chat",))),
        Button(ctx.t("By email"), Action("channel.set", ("email",))),
    ]
    await ctx.reply(message(now.format(address=address), buttons=[buttons]))


async def set_channel(ctx: Context, args: tuple[Any, ...]) -> None:
    await _set(ctx, args[0])


NO_ADDRESS = N_(
    "I have no email address for you. Your member officer can add it from the member register."
)


async def _set(ctx: Context, wanted: str) -> None:
    address = await _address(ctx)
    if address is None:
        await ctx.reply(message(ctx.t(NO_ADDRESS)))
        return
    choice = await ctx.uow.channels.choice(ctx.person_id) or ChannelChoice(ctx.person_id)
    choice.prefers_email = wanted == "email"
    if choice.prefers_email:
        choice.email_stopped_at = None  # asking for email undoes an unsubscribe
    choice.updated_at = ctx.now
    await ctx.uow.channels.save(choice)
    if choice.prefers_email:
        text = ctx.t("From now on my messages to you come by email, to {address}.")
    else:
        text = ctx.t("From now on my messages to you come here in the chat.")
    await ctx.reply(message(text.format(address=address)))
