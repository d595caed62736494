"""CSV files that a spreadsheet opens without running anything in them.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel and
LibreOffice, and a leading tab, carriage return or line feed is stripped before
that check. Member-written text (a contribution, a name) must not become a
formula in an organiser's spreadsheet, so, as OWASP advises for CSV injection,
such a cell is written with a leading apostrophe, which spreadsheets show as
text. Numbers are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """`csv.writer` whose every text cell goes through `safe_cell`."""

    def __init__(self, out: IO[str], **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])
