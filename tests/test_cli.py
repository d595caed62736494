"""The `samtal` command as a newcomer uses it: separate processes, a fresh data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def samtal(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_help_in_swedish_and_english_from_a_piped_transcript(env: dict[str, str]) -> None:
    assert samtal(env, "demo").returncode == 0
    swedish = samtal(env, "console", "--script", "-", stdin="@anna: /hjalp\n")
    assert swedish.returncode == 0, swedish.stderr
    assert swedish.stdout.startswith("@anna: /hjalp\n-> anna: Det här kan du göra\n")
    english = samtal(env, "console", "--script", "-", stdin="@oliver: /help\n")
    assert "-> oliver: What you can do here" in english.stdout


def test_a_transcript_runs_without_demo_data_too(env: dict[str, str]) -> None:
    result = samtal(env, "console", "--script", "-", stdin="@anna: /hjalp\n")
    assert "-> anna: Det här kan du göra" in result.stdout
    assert "Börja med /start" in result.stdout  # a stranger is asked to start first


def test_a_bad_transcript_line_is_reported_with_its_number(env: dict[str, str]) -> None:
    result = samtal(env, "console", "--script", "-", stdin="@anna: /hjalp\nhello\n@clock: +1x\n")
    assert result.returncode == 1
    assert "!! line 2: expected '@name: text'" in result.stdout
    assert "!! line 3: can't read the clock step '+1x'" in result.stdout


def test_the_interactive_console_answers_what_is_typed(env: dict[str, str]) -> None:
    samtal(env, "demo")
    result = samtal(env, "run", stdin="/hjalp\n@bertil#allmant: /hjalp\n[1]\n")
    assert result.returncode == 0, result.stderr
    assert "You are anna" in result.stdout
    assert "-> anna: Det här kan du göra" in result.stdout
    # Help asked in a group is personal: it comes to Bertil's private chat.
    assert "-> bertil: Det här kan du göra" in result.stdout
    assert "-> #allmant:" not in result.stdout


def test_orgs_and_invite_links(env: dict[str, str], tmp_path: Path) -> None:
    assert "No organisations yet" in samtal(env, "orgs").stdout
    samtal(env, "demo")
    orgs = samtal(env, "orgs").stdout
    assert "sandviken" in orgs and "Sandvikens arbetarekommun (branch" in orgs
    config = tmp_path / "samtal.toml"
    config.write_text('[telegram]\nbot_username = "SamtalBot"\n')
    config.chmod(0o600)
    invite = samtal(env, "--config", str(config), "invite", "--org", "sandviken")
    assert "https://t.me/SamtalBot?start=join_sandviken" in invite.stdout
    assert samtal(env, "invite", "--org", "nowhere").returncode == 2


def test_database_upgrade_and_backup(env: dict[str, str], tmp_path: Path) -> None:
    assert samtal(env, "db", "upgrade").returncode == 0
    samtal(env, "demo")
    result = samtal(env, "db", "backup", str(tmp_path / "b" / "samtal-backup.db"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b" / "samtal-backup.db").stat().st_size > 0


def test_a_config_file_readable_by_others_gets_a_warning(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "samtal.toml"
    config.write_text("[bot]\n")
    config.chmod(0o644)
    assert "readable by other users" in samtal(env, "--config", str(config), "orgs").stderr
