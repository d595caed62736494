"""Declared button actions: the core reads the arguments, loads the object, checks the
permission where the object belongs, and answers stale or refused buttons once."""

from __future__ import annotations

from typing import Any

from bot.actions import Choice, Target
from bot.context import Context
from bot.meetings.model import Answer, Meeting
from bot.messages import Action, Button, message
from bot.permissions import Permission
from bot.registry import CommandSpec
from tests.conftest import Console

MEETING: Target[Meeting] = Target(
    load=lambda fx, meeting_id: fx.uow.meetings.get(meeting_id),
    org_id=lambda meeting: meeting.org_id,
)


def _with_test_action(console: Console, pressed: list[tuple[Any, ...]]) -> None:
    """A command that shows a button carrying whatever arguments were typed after it."""

    async def show(ctx: Context, text: str) -> None:
        args = tuple(text.split())
        await ctx.reply(message("Test", buttons=[[Button("Tryck", Action("test.poke", args))]]))

    async def poke(ctx: Context, args: tuple[Any, ...]) -> None:
        pressed.append(args)
        await ctx.reply(message("Gjort"))

    registry = console.samtal.registry
    registry.command(CommandSpec("testknapp", "testbutton", "test", show))
    registry.action(
        "test.poke",
        poke,
        Permission.MANAGE_MEETINGS,
        args=(MEETING, Answer, Choice("theme", "place")),
    )


async def test_the_handler_gets_the_loaded_object_and_typed_arguments(console: Console) -> None:
    pressed: list[tuple[Any, ...]] = []
    _with_test_action(console, pressed)
    await console.run("@bertil: /start join_sandviken\n@bertil: /testknapp 1 coming place")
    assert "Gjort" in await console.said("@bertil: [Tryck]")
    [(meeting, answer, field)] = pressed
    assert isinstance(meeting, Meeting) and meeting.id == 1
    assert answer is Answer.COMING and field == "place"


async def test_the_permission_is_checked_where_the_object_belongs(console: Console) -> None:
    pressed: list[tuple[Any, ...]] = []
    _with_test_action(console, pressed)
    # Fatima organises in Gävle; the meeting is Sandviken's.
    await console.run("@fatima: /testknapp 1 coming place")
    said = await console.said("@fatima: [Tryck]")
    assert "rätt roll i Sandvikens arbetarekommun" in said
    # Sara is an administrator of the district above Sandviken.
    await console.run("@sara: /testknapp 1 coming place")
    assert "Gjort" in await console.said("@sara: [Tryck]")
    assert len(pressed) == 1


async def test_arguments_that_do_not_read_get_the_one_stale_answer(console: Console) -> None:
    pressed: list[tuple[Any, ...]] = []
    _with_test_action(console, pressed)
    stale = "Den knappen fungerar inte längre"
    for args in (
        "999 coming place",
        "1 perhaps place",
        "1 coming colour",
        "1 coming",
        "x coming place",
    ):
        await console.run(f"@bertil: /testknapp {args}")
        assert stale in await console.said("@bertil: [Tryck]"), args
    assert pressed == []
