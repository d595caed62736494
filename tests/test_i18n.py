"""Every user-facing text has a Swedish translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import Translator, normalise_language

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "t": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def source_messages() -> set[str]:
    found: set[str] = set()
    for directory in ("bot", "adapters"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory, keywords=KEYWORDS, comment_tags=()
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def swedish_catalog():  # type: ignore[no-untyped-def]
    with (ROOT / "bot/locale/sv/LC_MESSAGES/samtal.po").open("rb") as po_file:
        return read_po(po_file, locale="sv")


def test_every_message_in_the_code_has_a_swedish_translation() -> None:
    catalog = swedish_catalog()
    missing = []
    for msgid in sorted(source_messages()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or "fuzzy" in entry.flags:
            missing.append(msgid)
    assert missing == [], "run scripts/update-catalogs and translate:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for entry in swedish_catalog():
        if not entry.id or not entry.string:
            continue
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(ids[0])):
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert wrong == []


def test_the_catalog_has_no_leftovers_from_removed_text() -> None:
    catalog = swedish_catalog()
    stale = sorted(set(m.id for m in catalog if m.id and isinstance(m.id, str)) - source_messages())
    assert stale == [], "run scripts/update-catalogs to drop:\n" + "\n".join(stale)


def test_swedish_is_the_default_and_english_is_the_message_id() -> None:
    assert Translator("sv")("I agree") == "Jag godkänner"
    assert Translator("en")("I agree") == "I agree"
    assert Translator("fi")("I agree") == "Jag godkänner"
    assert normalise_language("en-GB") == "en" and normalise_language("sv_SE") == "sv"
    assert normalise_language("de") is None and normalise_language(None) is None
