"""/koppla: one person on Discord and Telegram, once they prove both accounts are theirs."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.context import Context, Refusal
from bot.domain.people import LinkCode
from bot.i18n import N_
from bot.messages import message
from bot.polls.service import merge_votes
from bot.registry import CommandSpec, Registry

CODE_LIFETIME = timedelta(minutes=15)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 6


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "koppla",
            "link",
            N_("Connect your account on another platform"),
            link_accounts,
            usage=N_("[code]"),
        )
    )


async def link_accounts(ctx: Context, args: str) -> None:
    if not args:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        await ctx.uow.people.add_link_code(
            LinkCode(code=code, person_id=ctx.person_id, expires_at=ctx.now + CODE_LIFETIME)
        )
        await ctx.reply(
            message(
                ctx.t(
                    "Your code is {code}. Write /koppla {code} to me from your other account "
                    "within 15 minutes. Don't share the code with anyone."
                ).format(code=code)
            )
        )
        return
    link = await ctx.uow.people.take_link_code(args.strip().upper())
    if link is None or link.expires_at < ctx.now:
        raise Refusal(
            ctx.t("That code is not valid. Write /koppla on your other account for a new one.")
        )
    if link.person_id == ctx.person_id:
        raise Refusal(ctx.t("That code is for this account. Use it on your other account."))
    # Anonymous ballots name no one, so the polls find and merge them by voter key first.
    await merge_votes(ctx, keep_id=link.person_id, drop_id=ctx.person_id)
    await ctx.uow.people.merge(keep_id=link.person_id, drop_id=ctx.person_id)
    kept = await ctx.uow.people.get(link.person_id)
    assert kept is not None
    ctx.person = kept
    await ctx.reply(
        message(ctx.t("Done! Your accounts are now connected: I know they are both you."))
    )
