"""What a dialog is declared with: its steps, their choices, skips and lists, the
confirmation, and the one way a dialog ends early (`DialogOver`). The engine that runs
them is `bot.dialogs`, which also offers these names; capabilities import them from there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.context import Context
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.messages import MessageBuilder

SKIP_LABEL = N_("Skip")

D = TypeVar("D")

Text = str | MessageBuilder
Prompt = Callable[[Context, D], Text | Awaitable[Text]]
# Reads an answer (typed, or a pressed choice's value) into a value, or raises Refusal.
Parser = Callable[[Context, str, D], Any]
Check = Callable[[Context, D], Awaitable[None]]


@dataclass(frozen=True)
class Choice:
    """A button that answers a step: its label (already translated) and the value parsed."""

    label: str
    value: str


ChoiceRows = Sequence[Sequence[Choice]]
Choices = Callable[[Context, D], ChoiceRows | Awaitable[ChoiceRows]]


@dataclass(frozen=True)
class Skip(Generic[D]):
    """A step that may be left out: the value it then gets, and its button's label.

    `compute` gives the value from the draft instead (it may raise Refusal)."""

    value: Any = None
    label: str = SKIP_LABEL
    compute: Callable[[Context, D], Any] | None = None


@dataclass(frozen=True)
class Repeat:
    """A step that collects a list: each answer adds to it until Done (or `at_most` items).

    Its parser returns the items one answer adds."""

    at_least: int = 0
    at_most: int = 100
    too_few: str = N_("Add at least one first.")
    done: str = N_("Done")
    done_button_from: int = 0  # show the Done button once the list has this many items


@dataclass(frozen=True)
class Step(Generic[D]):
    """One question. Its answer goes to the draft's field of the same name, unless `store`."""

    name: str
    prompt: Prompt[D]
    parse: Parser[D] | None = None  # None: the value as typed or pressed
    choices: Choices[D] | None = None
    typed: bool = True  # False: only the buttons answer (or typing a label, or its number)
    skip: Skip[D] | None = None
    ask_if: Callable[[D], bool] | None = None  # asked only when this holds for the draft
    repeat: Repeat | None = None
    store: Callable[[D, Any], None] | None = None


@dataclass(frozen=True)
class Confirm(Generic[D]):
    """A summary to check before the end, with a button to finish and one to throw it away."""

    summary: Prompt[D]
    save: str = N_("Save")
    discard: str = N_("Cancel")


async def draft_org(ctx: Context, org_id: int | None) -> Organisation:
    """The organisation a draft is for; if it was deleted meanwhile, the dialog ends."""
    org = await ctx.uow.orgs.get(org_id) if org_id else None
    if org is None:
        raise DialogOver(ctx.t("That organisation is gone. Nothing was saved."))
    return org


class DialogOver(Exception):
    """Raised by a dialog's check or end when the dialog can't go on (what it is about is
    gone or closed): the engine ends the dialog and says `text`, if any. Raise it before
    changing anything."""

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text)
        self.text = text


def yes_no(yes: str, no: str) -> Callable[[Context, Any], ChoiceRows]:
    """A step's two choices in a row (message ids, translated when shown), read by `read_yes`."""
    return lambda ctx, draft: [[Choice(ctx.t(yes), "yes"), Choice(ctx.t(no), "no")]]


def read_yes(ctx: Context, value: str, draft: Any) -> bool:
    return value == "yes"
