"""Forms: a dialog's questions answered all at once, where the platform can show a form.

A dialog may declare a `Form`: some of its steps, each a field with a short
label. When the dialog asks the first of them, the question carries a
`FormOffer` (`OutgoingMessage.form`). A platform that shows forms (Discord's
modals) may show it instead of, or beside, the question; the others ignore the
offer and the dialog goes on step by step. The form comes back as a
`FormSubmitted` event (`bot.events`), which the dialog engine reads through the
very same steps and parsers as typed answers (`bot.dialogs.answer_form`): the
same draft, the same refusals, nothing saved until the dialog's end.

Every other typed question carries a one-field offer (`FormOffer.whole` false),
so a platform where typing in a group does not reach the bot (Discord servers)
can still let the person answer it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """One field of a declared form: the dialog step it answers, and how it looks."""

    step: str
    label: str  # an N_() msgid; short (Discord: 45 characters)
    placeholder: str = ""  # an N_() msgid, an example (Discord: 100 characters)
    long: bool = False  # several lines; a step that collects a list takes one item a line
    max_length: int = 4000
    # Reads the field instead of the step's parser (ctx, value, draft), e.g. to want more in
    # one field than the step alone would, where no later question can ask for the rest.
    parse: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Form:
    """The steps of a dialog that may be answered together, in the order shown."""

    title: str  # an N_() msgid (Discord: 45 characters)
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class FormField:
    """A field as the platform shows it: translated already."""

    name: str  # the step it answers
    label: str
    placeholder: str = ""
    long: bool = False
    required: bool = True
    max_length: int = 4000

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "placeholder": self.placeholder,
            "long": self.long,
            "required": self.required,
            "max_length": self.max_length,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FormField:
        return cls(
            str(data["name"]),
            str(data["label"]),
            str(data.get("placeholder", "")),
            bool(data.get("long", False)),
            bool(data.get("required", True)),
            int(data.get("max_length", 4000)),
        )


@dataclass(frozen=True)
class FormOffer:
    """The question it rides on may be answered with this form (`dialog`, at `step`).

    `whole`: the dialog's declared form, to show at once where the platform can;
    otherwise a single answer to this one question."""

    dialog: str
    step: str
    title: str
    fields: tuple[FormField, ...]
    button: str  # the label of a button that opens the form, where one is needed
    whole: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "dialog": self.dialog,
            "step": self.step,
            "title": self.title,
            "fields": [f.to_json() for f in self.fields],
            "button": self.button,
            "whole": self.whole,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FormOffer:
        return cls(
            str(data["dialog"]),
            str(data["step"]),
            str(data["title"]),
            tuple(FormField.from_json(f) for f in data["fields"]),
            str(data.get("button", "")),
            bool(data.get("whole", True)),
        )
