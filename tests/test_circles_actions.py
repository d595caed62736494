"""The study circles' buttons on declared arguments: the core loads the circle or session,
hides circles out of reach and answers stale or forged buttons once; the handlers keep
their own rules (the leader or an organiser marks attendance)."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Action, Button, message
from bot.registry import CommandSpec
from tests.conftest import Console

STALE = "Den knappen fungerar inte längre"


def _with_forged_buttons(console: Console) -> None:
    """`/knapp ACTION ARGS...` shows a button carrying whatever was typed, as an old or
    tampered message would."""

    async def show(ctx: Context, text: str) -> None:
        name, *args = text.split()
        await ctx.reply(message("Test", buttons=[[Button("Tryck", Action(name, tuple(args)))]]))

    console.samtal.registry.command(CommandSpec("knapp", "button", "test", show))


async def _press(console: Console, who: str, action: str) -> str:
    await console.run(f"@{who}: /knapp {action}")
    return await console.said(f"@{who}: [Tryck]")


async def test_forged_or_stale_circle_buttons_get_the_one_stale_answer(console: Console) -> None:
    _with_forged_buttons(console)
    # The demo's circle 1 is Sandviken's, with sessions 1 to 3; Bertil organises there.
    for action in (
        "circle.join 999",
        "circle.join x",
        "circle.consent 1 maybe",
        "circle.consent 999 yes",
        "circle.consent 1",
        "circle.leave 999",
        "circle.list 999",
        "circle.checkin 999",
        "circle.mark 999 2",
        "circle.mark 1 x",
    ):
        said = await _press(console, "bertil", action)
        assert STALE in said, (action, said)
    # Nothing was signed up or sent along the way.
    assert "Medlemsutbildning steg 1" in await console.said("@bertil: /cirklar")
    assert "Platser: 12 av 12 kvar" in await console.said("@bertil: /cirklar")


async def test_a_circle_out_of_reach_reads_as_gone(console: Console) -> None:
    _with_forged_buttons(console)
    # Fatima organises in Gävle: Sandviken's circle is neither hers nor in her reach.
    for action in ("circle.join 1", "circle.consent 1 yes", "circle.list 1"):
        said = await _press(console, "fatima", action)
        assert STALE in said, (action, said)
        assert "Medlemsutbildning" not in said


async def test_marking_attendance_stays_with_the_leader_and_organisers(console: Console) -> None:
    _with_forged_buttons(console)
    await console.run("@anna: /start join_sandviken")
    # Anna is a member who sees the circle but doesn't run it.
    said = await _press(console, "anna", "circle.mark 1 1")
    assert "Bara cirkelns ledare eller en organisatör kan pricka av närvaro." in said
    # Sara administers the district above Sandviken: she may, once the session has started.
    said = await _press(console, "sara", "circle.mark 1 1")
    assert "Den träffen har inte börjat än." in said
