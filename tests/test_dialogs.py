"""The dialog engine (`bot/dialogs.py`) on the real core, through the console.

A small declared dialog is registered beside the real ones, so the words every
dialog shares (skip, back, done), buttons, the confirmation, and what happens to
a state from before an upgrade are tested once, here. The real dialogs' skippable
steps are tested through their own flows at the end and in
`tests/transcripts/dialogs_skip_and_back.txt`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pytest

from bot.context import Context, Refusal
from bot.dialogs import Choice, Confirm, Dialog, DialogOver, Repeat, Skip, Step
from bot.domain.delivery import DialogState
from bot.drafts import decode, encode
from bot.messages import MessageBuilder, message
from bot.registry import Access, CommandSpec, Registry
from tests.conftest import Console

TRANSCRIPTS = Path(__file__).parent / "transcripts"


class Size(StrEnum):
    SMALL = "small"
    LARGE = "large"


@dataclass
class Order:
    name: str = ""
    size: Size = Size.SMALL
    extras: list[str] = field(default_factory=list)
    note: str | None = None
    at: datetime | None = None


finished: list[Order] = []


def _read_name(ctx: Context, value: str, draft: Order) -> str:
    if value.isdigit():
        raise Refusal("A name, not a number.")
    return value


async def _closed(ctx: Context, draft: Order) -> None:
    if draft.name == "closed":
        raise DialogOver("The shop has closed.")


async def _finish(ctx: Context, draft: Order) -> None:
    finished.append(draft)
    await ctx.reply(message(f"Saved {draft.name}."))


ORDER: Dialog[Order] = Dialog(
    name="test.order",
    draft=Order,
    command="bestall",
    check=_closed,
    steps=(
        Step("name", lambda ctx, d: "Your name?", parse=_read_name),
        Step(
            "size",
            lambda ctx, d: "Which size?",
            parse=lambda ctx, value, d: Size(value),
            choices=lambda ctx, d: [[Choice("Small", "small"), Choice("Large", "large")]],
            typed=False,
        ),
        Step(
            "extras",
            lambda ctx, d: f"Extras so far: {len(d.extras)}",
            parse=lambda ctx, value, d: [value],
            repeat=Repeat(at_least=1, at_most=3, too_few="At least one extra."),
        ),
        Step("note", lambda ctx, d: "A note?", skip=Skip(None)),
    ),
    # "Save" and "Cancel" are translated with the catalog's words: Spara, Avbryt.
    confirm=Confirm(
        lambda ctx, d: MessageBuilder().line(f"{d.name}, {d.size}, {d.extras}, {d.note}"),
        save="Save",
        discard="Cancel",
    ),
    finish=_finish,
)


async def _start(ctx: Context, args: str) -> None:
    await ORDER.start(ctx, Order(), lead="An order.")


@pytest.fixture
async def shop(console: Console) -> Console:
    registry = console.samtal.registry
    registry.dialog(ORDER)
    registry.command(CommandSpec("bestall", "order", "Order", _start, Access.ANYONE))
    finished.clear()
    return console


async def _to_note(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: Anna\n@anna: [Large]\n@anna: cheese\n@anna: klart")


async def _state(console: Console, user: str = "anna") -> DialogState | None:
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", user)
        assert person is not None and person.id is not None
        return await uow.dialogs.get(person.id, "console", user)


async def test_a_dialog_runs_to_its_end_with_a_typed_draft(shop: Console) -> None:
    first = await shop.said("@anna: /bestall")
    assert first.splitlines()[:2] == ["-> anna: An order.", "   Your name?"]
    assert "”tillbaka”" in first  # a dialog of several questions tells how to go back
    await _to_note(shop)
    await shop.run("@anna: A quiet table")
    # Text at the confirmation is refused with the buttons' names.
    assert "Tryck på Spara eller Avbryt ovanför." in await shop.said("@anna: ok?")
    assert await shop.said("@anna: [Spara]") == "-> anna: Saved Anna."
    assert finished == [Order("Anna", Size.LARGE, ["cheese"], "A quiet table")]
    assert await _state(shop) is None


@pytest.mark.parametrize("word", ["hoppa över", "Hoppa över.", "HOPPA ÖVER", "-", "skip", "Skip"])
async def test_the_skip_words_skip(shop: Console, word: str) -> None:
    await _to_note(shop)
    summary = await shop.said(f"@anna: {word}")
    assert "Anna, large, ['cheese'], None" in summary


@pytest.mark.parametrize("answer", ["nej", "Nej", "no", "ingen", "hoppa", "skip it"])
async def test_other_words_are_answers(shop: Console, answer: str) -> None:
    await _to_note(shop)
    summary = await shop.said(f"@anna: {answer}")
    assert f"Anna, large, ['cheese'], {answer}" in summary


async def test_the_skip_button(shop: Console) -> None:
    await _to_note(shop)
    assert "Anna, large, ['cheese'], None" in await shop.said("@anna: [Hoppa över]")


async def test_a_question_without_skip_refuses_the_skip_word(shop: Console) -> None:
    await shop.run("@anna: /bestall")
    said = await shop.said("@anna: hoppa över")
    assert "Den här frågan går inte att hoppa över" in said
    state = await _state(shop)
    assert state is not None and state.step == "name"


async def test_back_asks_the_previous_question_and_keeps_the_answers(shop: Console) -> None:
    await shop.run("@anna: /bestall")
    assert "Det här är första frågan" in await shop.said("@anna: tillbaka")
    await shop.run("@anna: Anna\n@anna: [Large]")
    assert await shop.said("@anna: back") == "-> anna: Which size?\n[Small]\n[Large]"
    assert await shop.said("@anna: tillbaka") == "-> anna: Your name?"
    await shop.run("@anna: Bo\n@anna: [Small]\n@anna: cheese\n@anna: klart\n@anna: -")
    # From the confirmation, back goes to the last question answered.
    assert (await shop.said("@anna: Tillbaka")).startswith("-> anna: A note?")
    assert "Bo, small, ['cheese'], hej" in await shop.said("@anna: hej")


async def test_a_buttons_only_question_takes_a_label_or_its_number(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: Anna")
    assert "Välj med knapparna ovanför." in await shop.said("@anna: medium")
    assert "Extras so far" in await shop.said("@anna: large")
    await shop.run("@anna: tillbaka")
    await shop.run("@anna: 1\n@anna: cheese\n@anna: done\n@anna: -")
    assert finished == []
    await shop.run("@anna: [Spara]")
    assert finished[0].size is Size.SMALL


async def test_a_list_needs_its_least_and_ends_at_its_most(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: Anna\n@anna: [Small]")
    assert "At least one extra." in await shop.said("@anna: klart")
    assert "At least one extra." in await shop.said("@anna: hoppa över")
    assert "Extras so far: 1" in await shop.said("@anna: a")
    assert "Extras so far: 2" in await shop.said("@anna: b")
    assert "A note?" in await shop.said("@anna: c")  # three is the most: on to the next


async def test_a_parser_refusal_keeps_the_question(shop: Console) -> None:
    await shop.run("@anna: /bestall")
    assert await shop.said("@anna: 42") == "-> anna: A name, not a number."
    state = await _state(shop)
    assert state is not None and state.step == "name"


async def test_a_check_ends_the_dialog_with_its_words(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: closed")
    assert await shop.said("@anna: [Small]") == "-> anna: The shop has closed."
    assert await _state(shop) is None


async def test_buttons_of_an_earlier_step_or_an_ended_dialog(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: Anna\n@anna: [Large]")
    said = await shop.said("@anna: [Small]")
    assert "Den knappen hör till ett tidigare steg" in said
    await shop.run("@anna: cheese\n@anna: klart\n@anna: -\n@anna: [Avbryt]")
    assert await _state(shop) is None
    said = await shop.said("@anna: [Spara]")
    assert said == "-> anna: Det där är redan avslutat. Skriv /bestall för att börja om."
    assert finished == []


async def _put_state(console: Console, name: str, step: str, data: dict[str, object]) -> None:
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", "anna")
        assert person is not None and person.id is not None
        await uow.dialogs.save(
            DialogState(person.id, "console", "anna", name, step, data, datetime.now(UTC))
        )
        await uow.commit()


@pytest.mark.parametrize(
    ("name", "step", "data", "again"),
    [
        ("test.order", "colour", {"draft": {}, "asked": []}, "/bestall"),
        ("test.order", "size", {"draft": {"name": 5}, "asked": []}, "/bestall"),
        ("test.order", "size", {"name": "Anna"}, "/bestall"),
        ("test.order", "note", {"draft": {"name": "Anna"}, "asked": ["colour"]}, "/bestall"),
        ("meeting.new", "date", {"theme": "Old"}, "/nytt_mote"),
        ("old.dialog", "one", {}, None),
    ],
)
async def test_a_state_from_an_older_version_is_answered_once_and_ended(
    shop: Console, name: str, step: str, data: dict[str, object], again: str | None
) -> None:
    await _put_state(shop, name, step, data)
    said = await shop.said("@anna: hej")
    assert "Förlåt, jag har uppdaterats" in said
    assert (f"börja gärna om med {again}." if again else "börja gärna om.") in said
    assert await _state(shop) is None
    assert "Jag svarar på kommandon" in await shop.said("@anna: hej")


async def test_a_state_from_an_older_version_answers_its_buttons_too(shop: Console) -> None:
    await shop.run("@anna: /bestall\n@anna: Anna")
    await _put_state(shop, "test.order", "size", {"draft": {"size": "medium"}, "asked": []})
    assert "Förlåt, jag har uppdaterats" in await shop.said("@anna: [Large]")
    assert await _state(shop) is None


def test_drafts_round_trip_through_json() -> None:
    order = Order("Anna", Size.LARGE, ["a", "b"], None, datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert decode(Order, encode(order)) == order

    @dataclass
    class Nested:
        pairs: list[tuple[datetime, datetime]]
        range: tuple[int, int] = (0, 0)
        order: Order | None = None

    nested = Nested([(order.at, order.at)], (3, 12), order)  # type: ignore[list-item]
    assert decode(Nested, encode(nested)) == nested
    for bad in ({"name": 5}, {"size": "medium"}, {"extras": "a"}, {"unknown": 1}, []):
        with pytest.raises((TypeError, ValueError)):
            decode(Order, bad)


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Dialog("x", Order, (Step("confirm", lambda ctx, d: ""),), _finish)
    registry = Registry()
    registry.dialog(ORDER)
    with pytest.raises(ValueError, match="twice"):
        registry.dialog(ORDER)


# --- the real dialogs' skippable steps, through their own flows --------------------------------


async def test_a_meeting_comment_is_skipped_with_the_skip_word_and_nej_is_a_comment(
    console: Console,
) -> None:
    await console.run(
        "@anna: /moten 1\n@anna: [Jag kommer]\n@david: /moten 1\n@david: [Jag kommer]\n"
        "@clock: 2026-03-11T18:05\n@anna: [Jag är här]\n@david: [Jag är här]\n"
        "@clock: 2026-03-11T20:31\n@anna: [4]\n@david: [5]"
    )
    assert await console.said("@anna: hoppa över") == "-> anna: Tack för att du kom!"
    assert (
        await console.said("@david: nej") == "-> david: Tack! Organisatörerna kommer att läsa det."
    )
    async with console.database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        david = await uow.people.by_identity("console", "david")
        assert anna is not None and anna.id is not None and david is not None and david.id
        skipped = await uow.meetings.feedback_of(1, anna.id)
        answered = await uow.meetings.feedback_of(1, david.id)
    assert skipped is not None and skipped.comment is None and skipped.rating == 4
    assert answered is not None and answered.comment == "nej"


async def test_the_welcome_wish_is_skipped_with_the_skip_word(console: Console) -> None:
    golden = (TRANSCRIPTS / "welcome_first_month.txt").read_text(encoding="utf-8")
    inputs = [line for line in golden.splitlines() if line.startswith(("@", "#"))]
    until = inputs.index("@nora: Jag skriver gärna insändare om skolan!")
    await console.run("\n".join(inputs[:until]))
    said = await console.said("@nora: hoppa över")
    assert said.startswith("-> nora: Tack!")
    async with console.database.unit_of_work() as uow:
        nora = await uow.people.by_identity("console", "nora")
        assert nora is not None and nora.id is not None
        flow = await uow.welcome.of_person(nora.id)
    assert flow is not None and flow.checkin_answered_at is not None and flow.checkin_wish is None
