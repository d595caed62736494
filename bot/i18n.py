"""User-facing text through gettext catalogs.

Message ids are English; `locale/<lang>/LC_MESSAGES/samtal.po` holds the
translations. The catalogs are compiled in memory when first used, so the
`.po` files are the only source and there is no build step to forget.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "samtal"
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; it is translated where it is shown."""
    return message


def plural_form(value: float) -> int:
    """The count that picks the plural form for a figure that may have decimals:
    only exactly one is singular ("1 dag", "1,5 dagar")."""
    return 1 if value == 1 else 2


def normalise_language(code: str | None) -> str | None:
    """Maps a platform's language code ('en-GB', 'sv_SE') onto a supported language."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


@cache
def translations(language: str) -> gettext.NullTranslations:
    language = normalise_language(language) or DEFAULT_LANGUAGE
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """The text functions for one language, handed to whatever writes a message."""

    def __init__(self, language: str) -> None:
        self.language = normalise_language(language) or DEFAULT_LANGUAGE
        self._translations = translations(self.language)

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)

    __call__ = gettext
