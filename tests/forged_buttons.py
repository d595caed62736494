"""Buttons carrying whatever arguments a test types, for a capability's real actions: how a
test shows that an old or forged button gets the core's one stale answer."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Action, Button, message
from bot.registry import CommandSpec
from tests.conftest import Console

STALE = "Den knappen fungerar inte längre"
LABEL = "Tryck"


def forge_buttons(console: Console) -> None:
    """`/testknapp ACTION ARGS...` answers with one button for ACTION carrying ARGS."""

    async def show(ctx: Context, text: str) -> None:
        action, *args = text.split()
        await ctx.reply(message("Test", buttons=[[Button(LABEL, Action(action, tuple(args)))]]))

    console.samtal.registry.command(CommandSpec("testknapp", "testbutton", "test", show))


async def press_with(console: Console, who: str, action: str, args: str = "") -> str:
    """What `who` is told after pressing a button for `action` that carries `args`."""
    await console.run(f"@{who}: /testknapp {action} {args}")
    return await console.said(f"@{who}: [{LABEL}]")
