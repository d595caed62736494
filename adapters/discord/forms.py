"""The core's forms (`bot.forms`) as Discord modals.

A dialog's declared form opens as a modal at once when it answers a slash
command (Discord allows a modal only as an interaction's first response);
anywhere else the question gets a button that opens it. A typed question in a
server channel gets a button too, with a one-field modal, since Discord does not
hand the bot what people type in servers. The modal's submission comes back
through `on_interaction` as a `FormSubmitted` event; the custom id names the
dialog and step, which the core checks against the person's dialog.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from adapters.discord.translate import label
from bot.dialogs import ANSWER_TITLE
from bot.forms import FormField, FormOffer
from bot.i18n import Translator

FORM_PREFIX = "samtal-form:"
_CUSTOM_ID = re.compile(
    r"^samtal-form:(?P<dialog>[A-Za-z0-9_.]{1,40}):(?P<step>[A-Za-z0-9_]{1,40})$"
)
TITLE_LIMIT = 45
LABEL_LIMIT = 45
PLACEHOLDER_LIMIT = 100
INPUT_LIMIT = 4000
MAX_FIELDS = 5
MODAL_SECONDS = 15 * 60  # discord.py forgets the modal's object after this (we read raw data)


def form_id(dialog: str, step: str) -> str:
    return f"{FORM_PREFIX}{dialog}:{step}"


def parse_form_id(custom_id: str) -> tuple[str, str] | None:
    match = _CUSTOM_ID.match(custom_id)
    return (match["dialog"], match["step"]) if match else None


def fits(offer: FormOffer) -> bool:
    """Whether Discord can show the offer: one of ours, within a modal's limits."""
    return (
        1 <= len(offer.fields) <= MAX_FIELDS
        and parse_form_id(form_id(offer.dialog, offer.step)) is not None
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def modal_of(offer: FormOffer) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title=_cut(offer.title, TITLE_LIMIT) or "…",
        custom_id=form_id(offer.dialog, offer.step),
        timeout=MODAL_SECONDS,
    )
    for field in offer.fields[:MAX_FIELDS]:
        modal.add_item(_input(field))
    return modal


def one_field_modal(dialog: str, step: str, t: Translator) -> discord.ui.Modal:
    """The modal of a button whose offer is not known here (e.g. after a restart)."""
    field = FormField(step, t(ANSWER_TITLE), long=True, required=False)
    return modal_of(FormOffer(dialog, step, t(ANSWER_TITLE), (field,), "", whole=False))


def _input(field: FormField) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        label=_cut(field.label, LABEL_LIMIT) or "…",
        custom_id=field.name,
        style=discord.TextStyle.paragraph if field.long else discord.TextStyle.short,
        placeholder=_cut(field.placeholder, PLACEHOLDER_LIMIT) or None,
        required=field.required,
        max_length=min(field.max_length, INPUT_LIMIT),
    )


def values_of(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A modal submission's text inputs, by their custom ids (rows, or labels, of inputs)."""
    found: list[tuple[str, str]] = []

    def walk(component: dict[str, Any]) -> None:
        if component.get("type") == 4:  # a text input
            found.append((str(component.get("custom_id", "")), str(component.get("value") or "")))
        for inner in component.get("components", []) or []:
            walk(inner)
        if isinstance(component.get("component"), dict):  # inside a label
            walk(component["component"])

    for component in data.get("components", []) or []:
        walk(component)
    return tuple(found)


class FormButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"samtal-form:(?P<dialog>[A-Za-z0-9_.]{1,40}):(?P<step>[A-Za-z0-9_]{1,40})",
):
    """Opens the question's form; found again by its custom id after a restart."""

    def __init__(self, dialog: str, step: str, text: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label(text),
                style=discord.ButtonStyle.primary,
                custom_id=form_id(dialog, step),
            ),
            row=row,
        )
        self.dialog = dialog
        self.step = step

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Any], item: discord.ui.Button[Any], match: Any
    ) -> FormButton:
        return cls(match["dialog"], match["step"], item.label or "…")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        on_form_button = getattr(interaction.client, "on_form_button", None)
        if on_form_button is not None:
            await on_form_button(interaction, self.dialog, self.step)
