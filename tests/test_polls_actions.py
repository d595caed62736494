"""Poll buttons declare their arguments: the core loads the poll, answers stale buttons once
and checks an organiser's role in the poll's own organisation (`bot.actions`)."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Action, Button, message
from bot.registry import CommandSpec
from tests.conftest import Console

STALE = "Den knappen fungerar inte längre"
NO_VOTES = "Ingen har röstat än."
# The demo poll (id 1): Sandviken's open, anonymous ranked-choice poll with five themes.
DEMO_POLL = "1"


def _with_any_button(console: Console) -> None:
    """/testknapp ACTION ARGS... shows a button carrying exactly that action and those
    arguments, as an old message or a forged one would."""

    async def show(ctx: Context, text: str) -> None:
        name, *args = text.split()
        await ctx.reply(message("Test", buttons=[[Button("Tryck", Action(name, tuple(args)))]]))

    console.samtal.registry.command(CommandSpec("testknapp", "testbutton", "test", show))


async def test_a_stale_or_forged_poll_button_gets_the_one_stale_answer(console: Console) -> None:
    _with_any_button(console)
    for button in (
        "poll.open 999",  # no such poll
        "poll.open x",
        "poll.rank 999 0",
        "poll.rank 1 x",
        "poll.rank 1 10",  # past any poll's options
        "poll.rank 1 7",  # readable, but the demo poll has five options
        "poll.rank 1",  # an older shape
        "poll.vote 1 0",  # a single-choice button on a ranked poll
        "poll.time 1 0 3",  # no such answer
        "poll.results 0",
        "poll.close 999",
    ):
        await console.run(f"@anna: /testknapp {button}")
        assert STALE in await console.said("@anna: [Tryck]"), button
    # Nothing was counted.
    assert NO_VOTES in await console.said("@anna: /omrostningar")


async def test_organisers_elsewhere_are_refused_in_the_polls_organisation(
    console: Console,
) -> None:
    _with_any_button(console)
    # Fatima organises in Gävle; the demo poll is Sandviken's.
    for button in ("poll.close", "poll.anonymity", "poll.meeting"):
        await console.run(f"@fatima: /testknapp {button} {DEMO_POLL}")
        said = await console.said("@fatima: [Tryck]")
        assert "rätt roll i Sandvikens arbetarekommun" in said, button
    assert "Stäng nu" in await console.said("@bertil: /omrostningar")  # still open
    # Bertil organises in Sandviken: his Close now closes it.
    await console.run(f"@bertil: /testknapp poll.close {DEMO_POLL}")
    assert "Omröstningen är stängd" in await console.said("@bertil: [Tryck]")
    await console.run(f"@bertil: /testknapp poll.close {DEMO_POLL}")
    assert "Omröstningen är redan stängd." in await console.said("@bertil: [Tryck]")
