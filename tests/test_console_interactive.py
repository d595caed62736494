"""`samtal console` as a newcomer uses it: `@clock` moves the clock on interactively, and files
the bot sends are saved in a folder whose path is printed."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _samtal(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"SAMTAL_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path), "PATH": "/usr/bin"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_the_interactive_console_moves_its_clock_and_saves_files(tmp_path: Path) -> None:
    assert _samtal(tmp_path, "demo").returncode == 0
    typed = "/moten 1\n[Jag kommer]\n@clock: +9d\n/mina_uppgifter\n"
    result = _samtal(tmp_path, "console", "--as", "anna", stdin=typed)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "!!" not in out, out
    # The meeting is nine days ahead: moving the clock on brings its reminders at once.
    assert "Påminnelse: Bostäder för unga börjar om 1 vecka" in out
    assert "Påminnelse: Bostäder för unga börjar om 1 dag" in out
    saved = tmp_path / "data" / "files" / "anna" / "samtal-mina-uppgifter.json"
    assert f"(file saved: {saved}, application/json" in out
    assert json.loads(saved.read_text(encoding="utf-8"))
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700


def test_a_script_names_saved_files_relative_to_the_folder(tmp_path: Path) -> None:
    assert _samtal(tmp_path, "demo").returncode == 0
    script = tmp_path / "mydata.txt"
    script.write_text("@anna: /mina_uppgifter\n", encoding="utf-8")
    result = _samtal(tmp_path, "console", "--script", str(script))
    assert result.returncode == 0, result.stderr
    assert "(file saved: anna/samtal-mina-uppgifter.json, application/json" in result.stdout
    assert (tmp_path / "data" / "files" / "anna" / "samtal-mina-uppgifter.json").is_file()
