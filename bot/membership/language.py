"""/sprak: a person chooses Swedish or English for everything the bot tells them."""

from __future__ import annotations

from typing import Any

from bot.actions import Choice
from bot.context import Context
from bot.i18n import N_, Translator, normalise_language
from bot.messages import Action, Button, message
from bot.registry import Access, CommandSpec, Registry

LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "sprak", "language", N_("Choose Swedish or English"), choose_language, Access.ANYONE
        )
    )
    registry.action("language.set", set_language, Access.ANYONE, args=(Choice(*LANGUAGE_NAMES),))


async def choose_language(ctx: Context, args: str) -> None:
    if args:
        await _set(ctx, normalise_language(args))
        return
    buttons = [
        Button(name, Action("language.set", (code,))) for code, name in LANGUAGE_NAMES.items()
    ]
    await ctx.reply(message(ctx.t("Which language would you like?"), buttons=[buttons]))


async def set_language(ctx: Context, args: tuple[Any, ...]) -> None:
    await _set(ctx, args[0])


async def _set(ctx: Context, language: str | None) -> None:
    if language is None:
        await ctx.reply(
            message(ctx.t("I speak Swedish (sv) and English (en). Write /sprak sv or /sprak en."))
        )
        return
    ctx.person.language = language
    ctx.t = Translator(language)
    # Shown in the chosen language, so each catalog names its own language here.
    await ctx.reply(message(ctx.t("From now on I will write to you in English.")))
