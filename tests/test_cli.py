"""The `samtal` command as a newcomer uses it: separate processes, a fresh data directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def samtal(
    env: dict[str, str],
    *args: str,
    stdin: str | None = "",
    cwd: Path | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
        preexec_fn=None if umask is None else _umask(umask),
    )


def _umask(mask: int) -> Callable[[], None]:
    def set_it() -> None:
        os.umask(mask)

    return set_it


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


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_database_and_backups_are_the_owners_alone(
    env: dict[str, str], tmp_path: Path
) -> None:
    # With the common umask 022 they used to be 0755 and 0644.
    assert samtal(env, "demo", umask=0o022).returncode == 0
    data = Path(env["SAMTAL_DATA_DIR"])
    assert _mode(data) == 0o700
    files = list(data.iterdir())
    assert data / "samtal.db" in files
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
    backup = tmp_path / "backups" / "samtal-backup.db"
    result = samtal(env, "db", "backup", str(backup), umask=0o022)
    assert result.returncode == 0, result.stderr
    assert (_mode(backup.parent), _mode(backup)) == (0o700, 0o600)
    # An old backup readable by others is replaced by a private one.
    old = tmp_path / "old-backup.db"
    old.write_bytes(b"")
    old.chmod(0o644)
    assert samtal(env, "db", "backup", str(old), umask=0o022).returncode == 0
    assert _mode(old) == 0o600
    assert "open to other users" not in result.stderr


def test_a_data_folder_open_to_others_gets_a_warning(env: dict[str, str]) -> None:
    assert samtal(env, "db", "upgrade").returncode == 0
    data = Path(env["SAMTAL_DATA_DIR"])
    data.chmod(0o755)
    (data / "samtal.db").chmod(0o644)
    stderr = samtal(env, "orgs").stderr
    assert f"{data} is open to other users (mode 0755)" in stderr
    assert f"{data / 'samtal.db'} is open to other users (mode 0644)" in stderr


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "samtal.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[web]\nport = 99999\n", "[web] port: expected a whole number from 1 to 65535"),
        (
            "[privacy]\nguest_retention_days = 99999999999999999\n",
            "[privacy] guest_retention_days: expected a whole number from 1 to 36500",
        ),
        (
            '[telegram]\nwebhook_url = "http://bot.example.org/telegram"\n',
            "[telegram] webhook_url: expected an https:// URL",
        ),
    ],
)
def test_bad_values_stop_at_load_with_one_line(
    env: dict[str, str], tmp_path: Path, text: str, said: str
) -> None:
    line = _one_line(samtal(env, "--config", _config(tmp_path, text), "orgs"))
    assert line.startswith("samtal: configuration error: ") and said in line


def test_an_unreachable_postgresql_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    url = "postgresql+asyncpg://samtal:hemligt@127.0.0.1:1/samtal"
    config = _config(tmp_path, f'[database]\nurl = "{url}"\n')
    for command in (["orgs"], ["run"], ["console", "--script", "-"]):
        line = _one_line(samtal(env, "--config", config, *command))
        assert line.startswith("samtal: can't open the database postgresql+asyncpg://samtal:***@")
        assert "hemligt" not in line and "Connect call failed" in line


def test_a_missing_postgresql_database_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    server = os.environ.get("SAMTAL_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("PostgreSQL run skipped: set SAMTAL_TEST_POSTGRES_URL")
    url = server.rsplit("/", 1)[0] + "/samtal_no_such_database"
    line = _one_line(
        samtal(env, "--config", _config(tmp_path, f'[database]\nurl = "{url}"\n'), "orgs")
    )
    assert 'database "samtal_no_such_database" does not exist' in line


def test_gdpr_erase_without_a_terminal_asks_for_yes(env: dict[str, str]) -> None:
    assert samtal(env, "demo").returncode == 0
    found = samtal(env, "gdpr", "find", "anna").stdout
    person = found.split("\t")[0]
    line = _one_line(samtal(env, "gdpr", "erase", "--person", person, stdin=None))
    assert line == (
        "samtal: gdpr erase asks for confirmation on a terminal; add --yes to erase without asking"
    )
    assert samtal(env, "gdpr", "find", "anna").stdout == found  # nothing was erased
    shown = " ".join(samtal(env, "gdpr", "erase", "--help").stdout.split())
    assert "What erasure keeps is counts only" in shown
    assert "erase a person everywhere; only counts are kept" in samtal(env, "gdpr", "-h").stdout
