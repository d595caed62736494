"""Reading the register's exports: bad files are refused whole, bad rows alone; the CLI."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from bot.register.model import FileRefused
from bot.register.reader import read_register
from storage.register import register_entries, register_tombstones
from tests.conftest import Console
from tests.register_helpers import DEMO, HEADER, entry, import_demo, import_file
from tests.test_cli import samtal


async def _entries(console: Console) -> int:
    async with console.database.engine.connect() as connection:
        count = await connection.scalar(sa.select(sa.func.count()).select_from(register_entries))
    return int(count or 0)


async def test_latin1_from_excel_is_refused_whole_with_what_to_do(console: Console) -> None:
    data = DEMO.read_text(encoding="utf-8").encode("cp1252")
    with pytest.raises(FileRefused) as refused:
        await import_file(console, data)
    message = str(refused.value)
    assert "line 1 is not UTF-8" in message and "CSV UTF-8" in message
    assert "Nothing was imported" in message
    assert await _entries(console) == 0


async def test_semicolons_and_a_bom_as_swedish_excel_writes_them_are_read(
    console: Console,
) -> None:
    data = "\ufeff" + DEMO.read_text(encoding="utf-8").replace(",", ";")
    report = await import_file(console, data)
    assert (report.added, report.refused) == (5, [])
    assert (await entry(console, "100105")).last_name == "Åberg"


async def test_duplicate_member_numbers_refuse_the_whole_file(console: Console) -> None:
    rows = [
        "1,Anna,Ek,,,,",
        "2,Bo,Ek,,,,",
        "1,Anna,Ekström,,,,",
    ]
    with pytest.raises(FileRefused, match="member numbers appear twice: 1 on lines 2, 4"):
        await import_file(console, "\n".join([HEADER, *rows]))
    assert await _entries(console) == 0


async def test_missing_columns_are_named(console: Console) -> None:
    with pytest.raises(FileRefused) as refused:
        await import_file(console, "medlemsnummer,förnamn,e-post\n1,Anna,a@example.org\n")
    assert "missing columns: efternamn (line 1 has: medlemsnummer, förnamn, e-post)" in str(
        refused.value
    )
    with pytest.raises(FileRefused, match="the file is empty"):
        await import_file(console, "\n\n")
    assert await _entries(console) == 0


async def test_bad_rows_are_refused_with_their_line_and_the_rest_imported(
    console: Console,
) -> None:
    rows = [
        "1,Anna,Ek,anna@example.org,,2026-01-05,",
        ",Bo,Ek,,,,",  # line 3
        "3,Cia,Ek,not-an-address,,,",
        "4,Dan,Ek,,,5 januari,",
        "5,Eva,Ek,,gavle,,",  # Gävle is beside Sandviken, not below it
        "6,Fia,Ek,,,,,extra",
        "7,Gun,Ek,GUN@Example.org ,S-föreningen Järbo,20260110,2027-12-31",
    ]
    report = await import_file(console, "\n".join([HEADER, *rows]))
    assert report.added == 2
    assert [(r.line, r.reason) for r in report.refused] == [
        (3, "no member number"),
        (4, "e-mail address 'not-an-address' does not read"),
        (5, "inträdesdatum '5 januari' is not a date (YYYY-MM-DD)"),
        (6, "förening 'gavle' is not sandviken or below it"),
        (7, "8 columns, more than the header names"),
    ]
    gun = await entry(console, "7")
    assert gun.email == "gun@example.org" and str(gun.joined_on) == "2026-01-10"


async def test_xlsx_with_english_headers(console: Console) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Member number", "First name", "Last name", "Email", "Mobile", "Paid until"])
    sheet.append([2001, "Ann", "Lee", "ann@example.org", "0701234567", datetime(2025, 12, 31)])
    sheet.append([2002.0, "Bo", "Ma", None, None, None])
    data = io.BytesIO()
    book.save(data)
    read = read_register(data.getvalue(), "register.xlsx")
    assert read.separator is None and "mobile" in read.fields
    assert all("mobile" not in values for _, values in read.rows())  # never stored
    report = await import_file(console, data.getvalue(), name="register.xlsx")
    assert (report.added, report.refused) == (2, [])
    assert any("mobile numbers were read but not stored" in note for note in report.notes)
    ann = await entry(console, "2001")
    assert (ann.email, str(ann.paid_until)) == ("ann@example.org", "2025-12-31")
    assert (await entry(console, "2002")).member_number == "2002"


async def test_a_dry_run_changes_nothing(console: Console) -> None:
    report = await import_file(console, DEMO.read_bytes(), commit=False)
    assert report.added == 5
    assert await _entries(console) == 0


async def test_erasing_a_former_member_leaves_no_tombstone(console: Console) -> None:
    """Retention erases former members, not at their request: they may join again."""
    await import_demo(console)
    await import_file(console, HEADER + "\n")  # a full import without anyone
    karl = await entry(console, "100104")
    async with console.database.unit_of_work() as uow:
        await uow.people.erase(karl.person_id)
        await uow.commit()
    async with console.database.engine.connect() as connection:
        stones = await connection.scalar(
            sa.select(sa.func.count()).select_from(register_tombstones)
        )
    assert stones == 0
    assert (await import_demo(console)).refused == []


def test_the_command_line_import(env: dict[str, str], tmp_path: Path) -> None:
    assert samtal(env, "demo").returncode == 0
    dry = samtal(env, "members", "import", str(DEMO), "--org", "sandviken", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run, nothing was changed. Sandvikens arbetarekommun: 5 added")
    done = samtal(env, "members", "import", str(DEMO), "--org", "sandviken")
    assert "5 added, 0 changed, 0 unchanged, 0 missing from this file, 0 refused." in done.stdout
    again = samtal(env, "members", "import", str(DEMO), "--org", "sandviken")
    assert "0 added, 0 changed, 5 unchanged" in again.stdout
    assert (Path(env["SAMTAL_DATA_DIR"]) / "register.key").stat().st_mode & 0o077 == 0
    latin = tmp_path / "excel.csv"
    latin.write_bytes(DEMO.read_text(encoding="utf-8").encode("cp1252"))
    refused = samtal(env, "members", "import", str(latin), "--org", "sandviken")
    assert refused.returncode == 2 and "is not UTF-8" in refused.stderr
    unknown = samtal(env, "members", "import", str(DEMO), "--org", "nowhere")
    assert unknown.returncode == 2 and "no organisation with the slug 'nowhere'" in unknown.stderr
