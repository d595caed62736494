"""How the core's commands look in Discord's command picker.

Every command is named in Swedish and localised to English (see translate.py).
Most take one optional `text`; some take typed options instead, with
autocomplete where there is something to choose from. Administration commands
carry `default_member_permissions`, so members do not see them until a server
admin gives them to the organisers' role (Server Settings > Integrations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.i18n import N_, Translator

STRING, INTEGER = 3, 4  # Discord's option types
MANAGE_SERVER = 1 << 5  # the permission that shows administration commands by default
# Commands that only organisers and admins use: hidden from members until a server admin
# allows them for a role.
ADMINISTRATION = frozenset({"kanal", "roll", "ta_bort", "utskick"})


@dataclass(frozen=True)
class Option:
    swedish: str
    english: str
    kind: int
    description: str  # an N_() msgid
    required: bool = False
    # What autocomplete offers: "organisation", "meeting", "poll" or "circle".
    autocomplete: str | None = None


OPTIONS: dict[str, tuple[Option, ...]] = {
    "moten": (
        Option(
            "nummer",
            "number",
            INTEGER,
            N_("A meeting's number, to see it and answer"),
            autocomplete="meeting",
        ),
    ),
    "omrostningar": (
        Option(
            "nummer",
            "number",
            INTEGER,
            N_("A poll's number, to see it and vote"),
            autocomplete="poll",
        ),
    ),
    "cirklar": (
        Option(
            "nummer",
            "number",
            INTEGER,
            N_("A study circle's number, to see it and sign up"),
            autocomplete="circle",
        ),
    ),
    "kanal": (
        Option(
            "organisation",
            "organisation",
            STRING,
            N_("The organisation this channel belongs to"),
            required=True,
            autocomplete="organisation",
        ),
    ),
    "bidrag": (
        Option(
            "möte",
            "meeting",
            INTEGER,
            N_("The meeting your contribution is for"),
            required=True,
            autocomplete="meeting",
        ),
        Option("text", "text", STRING, N_("What you want to pass on"), required=True),
    ),
}


def option_payloads(
    command: str, usage: str, english_locales: Sequence[str]
) -> list[dict[str, Any]]:
    """The command's options as Discord wants them; one optional `text` by default."""
    sv, en = Translator("sv"), Translator("en")
    options = OPTIONS.get(command) or (Option("text", "text", STRING, usage),)
    payloads = []
    for option in options:
        payload: dict[str, Any] = {
            "type": option.kind,
            "name": option.swedish,
            "description": sv(option.description)[:100],
            "description_localizations": {
                locale: en(option.description)[:100] for locale in english_locales
            },
            "required": option.required,
        }
        if option.english != option.swedish:
            payload["name_localizations"] = dict.fromkeys(english_locales, option.english)
        if option.autocomplete:
            payload["autocomplete"] = True
        if option.kind == INTEGER:
            payload["min_value"] = 1
        payloads.append(payload)
    return payloads


def autocomplete_kind(command: str, option: str) -> str | None:
    for candidate in OPTIONS.get(command, ()):
        if candidate.swedish == option:
            return candidate.autocomplete
    return None
