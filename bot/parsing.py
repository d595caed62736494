"""Text from outside, made safe to use.

Numbers typed by people: ASCII digits only, and never larger than a database
id can be (`str.isdigit()` accepts '²' and '١', which `int()` then refuses, and
a 30-digit number overflows a database integer). Names and messages: without
control characters, which no person means and PostgreSQL refuses (NUL).
"""

from __future__ import annotations

import re

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(text: str | None) -> int | None:
    """A positive id from typed text, or None when it cannot be one."""
    return parse_int(text, 1, MAX_ID)


def parse_int(text: str | None, low: int, high: int) -> int | None:
    """An integer within [low, high] from typed text, or None."""
    if text is None:
        return None
    cleaned = text.strip()
    if not _DIGITS.fullmatch(cleaned):
        return None
    value = int(cleaned)
    return value if low <= value <= high else None


_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\n\t")
_CONTROL.update(dict.fromkeys(range(0x7F, 0xA0)))


def clean_name(name: str | None) -> str | None:
    return clean_text(name)[:200] or None if name else None


def clean_text(text: str) -> str:
    """Drops control characters (NUL, escapes, ...) that no person means and some databases refuse."""
    return text.translate(_CONTROL)
