"""First contact: the welcome, what is stored and why, consent, and join links."""

from __future__ import annotations

from bot.context import Context
from bot.domain.people import Affiliation, Consent
from bot.i18n import N_
from bot.membership.model import CONSENT_VERSION
from bot.messages import Action, Button, MessageBuilder, bold, message
from bot.registry import Access, CommandSpec, Registry


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec("start", "start", N_("Start here: welcome and privacy"), start, Access.ANYONE)
    )
    # The join-link payload to apply once they agree ("" for none).
    registry.action("consent.accept", accept, Access.ANYONE, args=(str,))
    registry.action("consent.decline", decline, Access.ANYONE, args=())
    registry.payload("join", join_organisation)
    registry.consent_prompt = ask_for_consent


async def start(ctx: Context, args: str) -> None:
    payload = args.split()[0] if args else ""
    if ctx.consented:
        await ctx.reply(
            message(
                ctx.t("Welcome back, {name}! Write /hjalp to see what you can do.").format(
                    name=ctx.person.display_name
                )
            )
        )
        await _apply_payload(ctx, payload)
        return
    await ask_for_consent(ctx, payload)


async def ask_for_consent(ctx: Context, payload: str = "") -> None:
    _ = ctx.t
    if not ctx.chat.is_private and not ctx.answered_elsewhere:  # else it goes privately anyway
        await ctx.reply(
            message(
                _(
                    "Hello {name}! Write /start to me in a private chat first, "
                    "so I can tell you what I store and ask for your consent."
                ).format(name=ctx.person.display_name)
            )
        )
        return
    text = (
        MessageBuilder()
        .line(bold(_("Welcome to Samtal, {name}!").format(name=ctx.person.display_name)))
        .paragraph(
            _(
                "Here you can join open themed conversations, answer polls, sign up for "
                "study circles and follow what happens in your local party organisation."
            )
        )
        .paragraph(bold(_("What I store and why")))
        .line(
            _(
                "Your name and account on this platform, so that I can answer you; your "
                "language; the organisations you follow; and what you do here: answers to "
                "invitations, votes, sign-ups and attendance, so that organisers can plan."
            )
        )
        .line(
            _(
                "Whether you are a party member is sensitive information. It is used only "
                "within the organisation, to show you the right activities, and never shared "
                "outside it without your consent."
            )
        )
        .line(
            _(
                "If your party organisation imports its member register: your member number, "
                "name and email address from it, so that members outside the chat apps are "
                "reached too. If you ask me to erase you, I keep only a keyed fingerprint of "
                "your member number, so that the next import does not bring you back."
            )
        )
        .line(_("You can see everything with /mina_uppgifter and erase it with /glom_mig."))
        .paragraph(_("Do you agree that I store this?"))
        .button_row(
            Button(_("I agree"), Action("consent.accept", (payload,))),
            Button(_("No thanks"), Action("consent.decline")),
        )
    )
    await ctx.reply(text.build())


async def accept(ctx: Context, args: tuple[str, ...]) -> None:
    if not ctx.consented:
        await ctx.uow.people.add_consent(
            Consent(person_id=ctx.person_id, version=CONSENT_VERSION, given_at=ctx.now)
        )
        ctx.consented = True
    await ctx.reply(
        message(ctx.t("Thank you! You are all set. Write /hjalp to see what you can do."))
    )
    await _apply_payload(ctx, args[0])


async def decline(ctx: Context, args: tuple[str, ...]) -> None:
    if ctx.consented:
        await ctx.reply(
            message(ctx.t("You have already agreed. To erase your data, write /glom_mig."))
        )
        return
    # Without consent nothing about the person may stay: not even that they wrote to us.
    await ctx.erase_self()
    await ctx.reply(
        message(
            ctx.t(
                "Alright. I have not kept anything about you. "
                "You are welcome back any time: just write /start."
            )
        )
    )


async def _apply_payload(ctx: Context, payload: str) -> None:
    prefix, _, value = payload.partition("_")
    handler = ctx.registry.payloads.get(prefix) if payload else None
    if handler is None:
        if payload:
            await ctx.reply(message(ctx.t("That link is not valid any more. Ask for a new one.")))
        return
    await handler(ctx, value)


async def join_organisation(ctx: Context, slug: str) -> None:
    org = await ctx.uow.orgs.by_slug(slug)
    if org is None or org.id is None:
        await ctx.reply(message(ctx.t("That link is not valid any more. Ask for a new one.")))
        return
    affiliations = await ctx.uow.people.affiliations_of(ctx.person_id)
    if all(a.org_id != org.id for a in affiliations):
        await ctx.uow.people.affiliate(
            Affiliation(person_id=ctx.person_id, org_id=org.id, since=ctx.now)
        )
    await ctx.reply(
        message(ctx.t("You now follow {org}. Welcome to every open activity!").format(org=org.name))
    )
