"""Reads a register export: CSV (UTF-8, comma, semicolon or tab) or XLSX, Swedish or
English headers. Problems with the whole file raise `FileRefused`, so nothing is
imported from a file that was read wrongly; problems with one row are the row's.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.register.model import FileRefused

# Field name -> the headers that mean it (compared casefolded, without dots and extra spaces).
HEADERS: dict[str, tuple[str, ...]] = {
    "member_number": ("medlemsnummer", "medlemsnr", "member number", "membership number"),
    "first_name": ("förnamn", "first name", "given name"),
    "last_name": ("efternamn", "last name", "surname", "family name"),
    "email": ("e-post", "epost", "e-postadress", "email", "e-mail", "email address"),
    "mobile": ("mobil", "mobilnummer", "mobile", "mobile phone", "phone"),
    "org": ("förening", "organisation", "organization", "branch", "association"),
    "joined_on": ("inträdesdatum", "inträde", "joined", "joined on", "join date", "member since"),
    "paid_until": ("betald tom", "betalt tom", "paid until", "paid through", "paid to"),
}
REQUIRED = ("member_number", "first_name", "last_name")
SWEDISH = {field: names[0] for field, names in HEADERS.items()} | {"paid_until": "betald t.o.m."}
NOT_STORED = ("mobile",)  # read, never kept (data minimisation: see bot/register/model.py)


@dataclass
class RegisterFile:
    lines: list[tuple[int, tuple[object, ...]]]  # (line number, the cells as read)
    columns: list[str | None]  # the field of each column (None: not read)
    fields: list[str]  # the fields the header names
    ignored: list[str]  # headers that mean nothing here
    separator: str | None  # None for XLSX

    def rows(self) -> Iterator[tuple[int, dict[str, object]]]:
        """Each row's values by field; `_extra` when it has filled cells past the header.
        (Tuples are kept and dicts made one at a time: 100,000 rows fit in less memory.)"""
        width = len(self.columns)
        for line, cells in self.lines:
            values: dict[str, object] = {
                field: value.strip() if isinstance(value, str) else value
                for field, value in zip(self.columns, cells, strict=False)
                if field is not None
            }
            if any(str(v).strip() for v in cells[width:]):
                values["_extra"] = len(cells)
            yield line, values

    def numbers(self) -> Iterator[tuple[int, object]]:
        """Each row's member number cell."""
        at = self.columns.index("member_number")
        for line, cells in self.lines:
            yield line, cells[at] if at < len(cells) else ""


def _key(header: str) -> str:
    return " ".join(header.replace(".", "").replace("_", " ").casefold().split()).rstrip(":")


_LOOKUP = {_key(name): field for field, names in HEADERS.items() for name in names}


def read_register(data: bytes, name: str) -> RegisterFile:
    if name.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return _xlsx(data, name)
    return _csv(data, name)


def _csv(data: bytes, name: str) -> RegisterFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(
            f"{name}: line {line} is not UTF-8. The file looks like Latin-1 (Windows-1252), "
            'which Excel writes for plain "CSV". Save it as "CSV UTF-8" or as .xlsx, '
            "and import it again. Nothing was imported."
        ) from None
    first = text.split("\n", 1)[0]
    separator = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)

    def lines() -> Iterator[tuple[int, Sequence[object]]]:
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise FileRefused(
                f"{name}: line {reader.line_num}: {exc}. Nothing was imported."
            ) from None

    return _table(lines(), name, separator)


def _xlsx(data: bytes, name: str) -> RegisterFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise FileRefused(
            f"{name}: not a readable XLSX file ({exc}). Nothing was imported."
        ) from None
    try:
        sheet = book.worksheets[0]
        lines = (
            (number, ["" if v is None else v for v in row])
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        return _table(lines, name, None)
    finally:
        book.close()


def _table(
    lines: Iterable[tuple[int, Sequence[object]]], name: str, separator: str | None
) -> RegisterFile:
    """Reads the rows as they come: a large file is never held twice."""
    filled = ((n, row) for n, row in lines if any(str(v).strip() for v in row))
    first = next(filled, None)
    if first is None:
        raise FileRefused(f"{name}: the file is empty. Nothing was imported.")
    header_line, header = first
    fields: list[str | None] = []
    ignored = []
    for cell in header:
        field = _LOOKUP.get(_key(str(cell)))
        if field is not None and field in fields:
            raise FileRefused(
                f"{name}: two columns mean {SWEDISH[field]} (line {header_line}). "
                "Nothing was imported."
            )
        fields.append(field)
        if field is None and str(cell).strip():
            ignored.append(str(cell).strip())
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        found = ", ".join(str(c) for c in header if str(c).strip()) or "none"
        hint = ""
        if len(header) == 1 and separator is not None:
            hint = " Only one column was found: are the columns separated by something else?"
        raise FileRefused(
            f"{name}: missing columns: {', '.join(SWEDISH[f] for f in missing)} "
            f"(line {header_line} has: {found}).{hint} Nothing was imported."
        )
    lines_read = [(number, tuple(row)) for number, row in filled]
    columns = [None if field in NOT_STORED else field for field in fields]
    present = [f for f in fields if f is not None]
    return RegisterFile(lines_read, columns, present, ignored, separator)
