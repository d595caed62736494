"""Configuration: found where DESIGN.md says, validated with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from samtal.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SAMTAL_CONFIG", raising=False)
    monkeypatch.setenv("SAMTAL_DATA_DIR", str(tmp_path / "data"))
    config = load_config()
    assert config.source is None
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'samtal.db'}"
    assert config.bot.timezone == "Europe/Stockholm" and config.bot.language == "sv"


def test_the_file_is_found_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samtal.toml").write_text('[bot]\nlanguage = "en"\n')
    (tmp_path / "env.toml").write_text('[bot]\nlanguage = "sv"\ntimezone = "Europe/Helsinki"\n')
    (tmp_path / "explicit.toml").write_text('[bot]\ntimezone = "UTC"\n')
    monkeypatch.delenv("SAMTAL_CONFIG", raising=False)
    assert load_config().bot.language == "en"
    monkeypatch.setenv("SAMTAL_CONFIG", str(tmp_path / "env.toml"))
    assert load_config().bot.timezone == "Europe/Helsinki"
    assert load_config(str(tmp_path / "explicit.toml")).bot.timezone == "UTC"


def test_tokens_come_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAMTAL_TELEGRAM_TOKEN", "123:abc")
    assert load_config().telegram_token == "123:abc"
    assert "123:abc" not in repr(load_config())
    with pytest.raises(
        ConfigError, match=r"\[telegram\] token: tokens are read only from the environment"
    ):
        parse_config({"telegram": {"token": "123:abc"}}, "samtal.toml")


def test_the_smtp_password_and_link_secret_come_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samtal.toml").write_text(
        '[email]\nhost = "localhost"\nport = 8025\nsecurity = "none"\n'
        'from_address = "samtal@example.org"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SAMTAL_SMTP_PASSWORD", "hemligt")
    monkeypatch.setenv("SAMTAL_EMAIL_SECRET", "signera")
    config = load_config()
    assert config.email.enabled and config.email.port == 8025
    assert (config.smtp_password, config.email_secret) == ("hemligt", "signera")
    assert "hemligt" not in repr(config) and "signera" not in repr(config)
    with pytest.raises(ConfigError, match=r"\[email\] password: passwords and secrets are read"):
        parse_config({"email": {"password": "x"}}, "samtal.toml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"email": {"host": "h", "from_address": "a@b"}, "web": {"enabled": False}},
            r"\[email\] needs the web server",
        ),
        ({"email": {"security": "ssl"}}, r"\[email\] security: expected one of starttls, tls"),
        ({"email": {"host": "smtp.example.org"}}, r"\[email\] from_address: expected"),
        ({"email": {"per_minute": 0}}, r"\[email\] per_minute: expected a whole number"),
        ({"email": {"from_name": "A\nBcc: x"}}, r"\[email\] from_name: expected a plain name"),
        ({"bot": {"timezone": "Mars/Olympus"}}, r"\[bot\] timezone: expected an IANA time zone"),
        ({"bot": {"language": "fi"}}, r"\[bot\] language: expected one of sv, en, got 'fi'"),
        ({"bot": {"languag": "sv"}}, r"unknown key \[bot\] languag; did you mean 'language'\?"),
        ({"databse": {}}, r"unknown key \[databse\]; did you mean 'database'\?"),
        ({"database": {"url": 42}}, r"\[database\] url: expected str, got 42"),
        (
            {"database": {"url": "mysql://x"}},
            r"\[database\] url: expected 'sqlite\+aiosqlite:///PATH'",
        ),
        (
            {"telegram": {"base_url": "ftp://x"}},
            r"\[telegram\] base_url: expected an http\(s\) URL",
        ),
        (
            {"discord": {"api_base": "discord.com/api"}},
            r"\[discord\] api_base: expected an http\(s\) URL",
        ),
        (
            {"discord": {"gateway_url": "https://gateway.discord.gg"}},
            r"\[discord\] gateway_url: expected a ws\(s\) URL",
        ),
        ({"bot": "sv"}, r"\[bot\] must be a table"),
        ({"web": {"port": 99999}}, r"\[web\] port: expected a whole number from 1 to 65535"),
        ({"web": {"port": 0}}, r"\[web\] port: expected a whole number from 1 to 65535"),
        ({"telegram": {"webhook_port": 70000}}, r"\[telegram\] webhook_port: expected"),
        (
            {"privacy": {"guest_retention_days": 99999999999999999}},
            r"\[privacy\] guest_retention_days: expected a whole number from 1 to 36500, "
            r"got 99999999999999999",
        ),
        ({"privacy": {"left_retention_days": 10**6}}, r"\[privacy\] left_retention_days"),
        (
            {"telegram": {"webhook_url": "http://bot.example.org/telegram"}},
            r"\[telegram\] webhook_url: expected an https:// URL",
        ),
    ],
)
def test_bad_values_are_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "samtal.toml")


def test_the_example_documents_every_key_and_is_valid() -> None:
    import tomllib
    from dataclasses import fields

    from samtal.config import SECTIONS, Config

    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    parse_config(tomllib.loads(example), "config.example.toml")
    for section in SECTIONS:
        assert f"[{section}]" in example
        for key in fields(type(getattr(Config(), section))):
            assert f"\n{key.name} =" in example or f"\n# {key.name} =" in example, (
                f"[{section}] {key.name}"
            )


def test_a_bad_file_stops_the_command_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samtal.cli import main

    bad = tmp_path / "samtal.toml"
    bad.write_text('[bot]\ntimezone = "Nowhere"\n')
    assert main(["--config", str(bad), "orgs"]) == 2
    assert "[bot] timezone: expected an IANA time zone" in capsys.readouterr().err
