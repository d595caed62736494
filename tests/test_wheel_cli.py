"""`samtal wheel import|show|render` on the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest

from samtal import wheel_cli
from samtal.cli import build_parser
from samtal.usage import exit_status
from tests.conftest import Console

LOCAL = """
[wheel]
skip = ["filmklubb"]

[[activity]]
key = "arsmote"
place = "Folkets hus"
time = "19:00"

[[activity]]
key = "jarbo-fika"
name = "Fika i Järbo"
kind = "social"
when = "första söndagen i varje månad"
time = "14:00"
"""


async def _wheel(console: Console, *argv: str) -> int:
    args = build_parser().parse_args(["wheel", *argv])
    return await exit_status(wheel_cli.run(console.database, console.clock, args))


async def test_import_show_and_where_each_item_comes_from(
    console: Console, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "sandviken.toml"
    template.write_text(LOCAL, encoding="utf-8")
    assert await _wheel(console, "import", str(template), "--org", "sandviken") == 0
    capsys.readouterr()
    assert await _wheel(console, "show", "--org", "sandviken", "--year", "2026") == 0
    shown = capsys.readouterr().out
    assert (
        "arsmote: Årsmöte [annual_meeting] from socialdemokraterna, changed in sandviken" in shown
    )
    assert "at Folkets hus" in shown and "19 Mar 19:00" in shown
    assert "jarbo-fika: Fika i Järbo [social] from sandviken" in shown
    assert "filmklubb" not in shown
    # Gävle, beside Sandviken, keeps the party's and the district's wheel: none of
    # Sandviken's premises, and each item names the seed it comes from.
    assert await _wheel(console, "show", "--org", "gavle", "--year", "2026") == 0
    gavle = capsys.readouterr().out
    assert "Folkets hus" not in gavle and "jarbo-fika" not in gavle
    assert "Sosserian" not in gavle and "Köpmangatan" not in gavle and "filmklubb" not in gavle
    assert "arsmote: Årsmöte [annual_meeting] from socialdemokraterna" in gavle
    assert "medlemsutbildning: Medlemsutbildning steg 1 [study_circle] from gavleborg" in gavle
    assert "  source: seeds/001_db0ff2b7341f128d.txt rad 132: arbetarekommunernas årsmöten" in gavle
    assert gavle.count("  source: seeds/") == gavle.count(" from ")
    assert await _wheel(console, "show", "--org", "gavle", "--year", "2027") == 0
    assert "valdagen" in gavle and "none in 2027 (years: election)" in capsys.readouterr().out


async def test_a_bad_template_is_refused_naming_the_item_and_key(
    console: Console, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(LOCAL.replace("14:00", "efter jobbet"), encoding="utf-8")
    assert await _wheel(console, "import", str(bad), "--org", "sandviken") == 2
    assert "activity 'jarbo-fika': time: expected a time such as '18:00'" in capsys.readouterr().err
    assert await _wheel(console, "show", "--org", "sandviken", "--year", "2026") == 0
    assert "jarbo-fika" not in capsys.readouterr().out  # nothing was stored
    assert await _wheel(console, "show", "--org", "nowhere") == 2


async def test_render_writes_a_png(console: Console, tmp_path: Path) -> None:
    out = tmp_path / "wheel.png"
    assert (
        await _wheel(console, "render", "--org", "sandviken", "--year", "2026", "--out", str(out))
        == 0
    )
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000


async def test_the_district_default_is_imported_by_its_level(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _wheel(console, "import", "--default", "district", "--org", "gavleborg") == 0
    assert "Published Partidistriktets årshjul" in capsys.readouterr().out
    assert await _wheel(console, "show", "--org", "gavleborg", "--year", "2026") == 0
    shown = capsys.readouterr().out
    assert "ordforandetraff: Ordförandeträff för arbetarekommunerna [chairs_meeting]" in shown
    assert "medlemsutbildning-2: Medlemsutbildning steg 2" in shown
    assert "funktionsutbildning: Funktionsutbildning" in shown
    assert "oppet-hus" not in shown
