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
        if isinstance(entry.id, str):
            if set(PLACEHOLDER.findall(entry.string)) != set(PLACEHOLDER.findall(entry.id)):
                wrong.append(f"{entry.id!r} -> {entry.string!r}")
            continue
        # Plural forms: the singular may say "one" instead of the count ("den som svarat"),
        # but no form may bring a placeholder of its own, and the last has them all.
        known = set(PLACEHOLDER.findall(entry.id[0])) | set(PLACEHOLDER.findall(entry.id[1]))
        forms = list(entry.string)
        for string in forms:
            if not set(PLACEHOLDER.findall(string)) <= known:
                wrong.append(f"{entry.id[0]!r} -> {string!r}")
        if set(PLACEHOLDER.findall(forms[-1])) != set(PLACEHOLDER.findall(entry.id[1])):
            wrong.append(f"{entry.id[1]!r} -> {forms[-1]!r}")
    assert wrong == []


# A count placeholder right before what it counts: "{n} days", "the {n} who answered",
# "{count} of {total} sessions". Such text needs ngettext, or it reads "1 dagar".
COUNTED = re.compile(r"(?:\b[Tt]he |\bOnly )?\{(?P<name>\w+)\}(?: of \{\w+\})? (?P<word>[a-z]+)")
NOT_COUNTS = {"theme", "name", "org", "title", "audience", "word", "head", "reach", "when"}
NOT_NOUNS = {"is", "was", "has", "does", "its", "this", "as", "plus", "less", "across"}
COUNT_WORDS = {"people", "who", "were", "signed"}


def counted_nouns(msgid: str) -> list[str]:
    found = []
    for match in COUNTED.finditer(msgid):
        word = match["word"]
        plural_noun = word.endswith("s") and len(word) > 3 and word not in NOT_NOUNS
        if match["name"] not in NOT_COUNTS and (plural_noun or word in COUNT_WORDS):
            found.append(match.group(0))
    return found


def test_the_count_detector_finds_what_reads_wrong_with_one() -> None:
    assert counted_nouns(", median {days} days") == ["{days} days"]
    assert counted_nouns("Cancel? The {n} who answered") == ["The {n} who"]
    assert counted_nouns("you took part in {count} of {total} sessions") != []
    assert counted_nouns("{theme} starts in {time}") == []
    assert counted_nouns("Members: {count}") == []


def test_every_count_before_a_noun_has_plural_forms() -> None:
    singular_only = []
    for directory in ("bot", "adapters"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory, keywords=KEYWORDS, comment_tags=()
        ):
            if isinstance(message, str) and counted_nouns(message):
                singular_only.append(f"{_file}:{_line}: {message}")
    assert singular_only == [], "use ngettext for:\n" + "\n".join(singular_only)


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


def test_one_reads_as_one_in_swedish() -> None:
    t = Translator("sv")
    assert t.ngettext(", median {days} day", ", median {days} days", 1).format(days="1") == (
        ", median 1 dag"
    )
    cancel = t.ngettext(
        "Cancel {theme}? The one who answered and the group chats will be told.",
        "Cancel {theme}? The {n} who answered and the group chats will be told.",
        1,
    )
    assert cancel.format(theme="X", n=1).startswith("Ställa in X? Den som har svarat")
    assert "De 2 som har svarat" in t.ngettext(
        "Cancel {theme}? The one who answered and the group chats will be told.",
        "Cancel {theme}? The {n} who answered and the group chats will be told.",
        2,
    ).format(theme="X", n=2)
