"""/kalender: a member's personal calendar feed address, made, renewed or stopped in chat."""

from __future__ import annotations

from bot.context import Context
from bot.feeds.model import feed_url
from bot.feeds.service import issue
from bot.i18n import N_, Translator
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, message
from bot.registry import Access, CommandSpec, Registry


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "kalender",
            "calendar",
            N_("Your own calendar link, members' meetings included"),
            calendar_command,
            Access.MEMBER,
        )
    )
    registry.action("feed.renew", renew, Access.MEMBER, args=())
    registry.action("feed.stop", stop, Access.CONSENTED, args=())


async def _answer(ctx: Context, build: MessageBuilder | OutgoingMessage) -> None:
    """The address is the person's alone: a personal reply, so from a group it goes privately."""
    await ctx.reply(build.build() if isinstance(build, MessageBuilder) else build)


def _not_served(t: Translator) -> str:
    return t(
        "Personal calendar links are not switched on here yet. Ask whoever runs the bot "
        "to enable its web server ([web] in the configuration). Until then, the "
        "'Add to calendar' button under each meeting works."
    )


def _link_text(ctx: Context, token: str) -> MessageBuilder:
    _ = ctx.t
    return (
        MessageBuilder()
        .line(bold(_("Your own calendar link")))
        .line(feed_url(ctx.settings.calendar_url, token))
        .paragraph(
            _(
                "Add it as a subscription in your calendar app: it shows the meetings you "
                "may go to, members' meetings included, and follows every change. Keep it "
                "to yourself; anyone with the link sees the same. I store only a fingerprint "
                "of it, so I can't show it again: write /kalender for a new one."
            )
        )
        .button_row(Button(_("Stop this link"), Action("feed.stop")))
    )


async def calendar_command(ctx: Context, args: str) -> None:
    _ = ctx.t
    if not ctx.settings.calendar_url:
        await _answer(ctx, message(_not_served(_)))
        return
    if await ctx.uow.feeds.of_person(ctx.person_id) is None:
        await _answer(ctx, _link_text(ctx, await issue(ctx, ctx.person)))
        return
    text = (
        MessageBuilder()
        .line(bold(_("You already have a calendar link")))
        .line(
            _(
                "I store only a fingerprint of it, so I can't show it again. A new link "
                "replaces it: the old one stops working, and your calendar app needs the "
                "new one."
            )
        )
        .button_row(
            Button(_("Make a new link"), Action("feed.renew")),
            Button(_("Stop my link"), Action("feed.stop")),
        )
    )
    await _answer(ctx, text)


async def renew(ctx: Context, args: tuple[str, ...]) -> None:
    if not ctx.settings.calendar_url:
        await _answer(ctx, message(_not_served(ctx.t)))
        return
    await _answer(ctx, _link_text(ctx, await issue(ctx, ctx.person)))


async def stop(ctx: Context, args: tuple[str, ...]) -> None:
    _ = ctx.t
    stopped = await ctx.uow.feeds.revoke(ctx.person_id)
    text = (
        _("Done: your calendar link no longer works. Write /kalender for a new one.")
        if stopped
        else _("You have no calendar link. Write /kalender to get one.")
    )
    await _answer(ctx, message(text))
