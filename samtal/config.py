"""Configuration: a TOML file, validated with errors that name the key and what was expected.

Where the file comes from: `--config FILE`, else `$SAMTAL_CONFIG`, else
`./samtal.toml`, else built-in defaults. Tokens come only from the
environment (`SAMTAL_TELEGRAM_TOKEN`, `SAMTAL_DISCORD_TOKEN`), never from a
file that might be copied, committed or shown.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
import types
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from bot.domain.people import Role
from bot.i18n import LANGUAGES
from bot.platform_roles import RoleMapping


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""  # empty: a SQLite file in the data directory


@dataclass(frozen=True)
class BotConfig:
    timezone: str = "Europe/Stockholm"
    language: str = "sv"
    log_level: str = "INFO"
    join_url: str = ""  # the party's page for becoming a member, offered to guests


@dataclass(frozen=True)
class PrivacyConfig:
    guest_retention_days: int = 365  # guests not seen for this long are erased
    left_retention_days: int = 90  # people in no organisation any more, likewise
    flood_limit_per_minute: int = 20  # commands a person may send on Telegram or Discord


@dataclass(frozen=True)
class TelegramConfig:
    base_url: str = "https://api.telegram.org/bot"
    # For join links (https://t.me/<bot_username>?start=...) when the token is not set;
    # with the token, `samtal invite` asks Telegram.
    bot_username: str = ""
    # Empty: long polling. Else Telegram posts updates to this public HTTPS URL, which a
    # reverse proxy forwards to webhook_listen:webhook_port (path /telegram).
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    # Organisation slugs whose big announcements go out as paid broadcasts (0.1 Star a message).
    paid_broadcast: list[str] = field(default_factory=list)
    paid_broadcast_min_recipients: int = 1000


@dataclass(frozen=True)
class DiscordConfig:
    invite_url: str = ""  # printed by `samtal invite`
    # Discord's REST API and gateway; change them for a proxy or a test double.
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Discord role id -> "ORG-SLUG:ROLE": server members with the role get the organisation role.
    roles: dict[str, str] = field(default_factory=dict)
    # Discord server id -> ORG-SLUG: the server belongs to the organisation, and its admins
    # (Manage Server) are organisers there (they may /kanal its channels, plan meetings...).
    servers: dict[str, str] = field(default_factory=dict)
    # ORG-SLUG -> Discord role id: the opt-in role mentioned in the organisation's announcements.
    announcement_roles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleConfig:
    user: str = "anna"  # who you are in `samtal console` unless --as says otherwise
    files: str = ""  # where the console saves files the bot sends; empty: files/ in the data dir


@dataclass(frozen=True)
class WebConfig:
    # The web server (/healthz, /metrics, /calendar/<org>.ics) runs unless this is false.
    # Members are offered their own feed links (/kalender) only when it is set to true
    # or `public_url` is given: a default 127.0.0.1 address means nothing to them.
    enabled: bool | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # The address people reach it at (the reverse proxy's), for members' own feed links
    # (/kalender); empty: http://host:port.
    public_url: str = ""

    @property
    def serving(self) -> bool:
        return self.enabled is not False


@dataclass(frozen=True)
class LogConfig:
    format: str = "text"  # "json": one JSON object a line, for log collectors


@dataclass(frozen=True)
class HealthConfig:
    # /healthz answers 503 when the oldest message due to be sent has waited longer.
    outbox_late_seconds: int = 300


@dataclass(frozen=True)
class BackupConfig:
    keep: int = 14  # nightly backups kept (the newest); 0 turns nightly backups off
    at: str = "03:30"  # local time ([bot] timezone) after which the night's backup is taken
    dir: str = ""  # empty: backups/ in the data directory


@dataclass(frozen=True)
class EmailConfig:
    # Email is a third channel, for people with no chat account or who chose it; it is on
    # when `host` is set. The password comes from $SAMTAL_SMTP_PASSWORD, never from a file.
    host: str = ""
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" (implicit, usually port 465) or "none"
    username: str = ""
    from_address: str = ""
    from_name: str = "Samtal"
    per_minute: int = 60  # emails sent per minute at most, whatever the server allows
    timeout_seconds: int = 30

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    web: WebConfig = field(default_factory=WebConfig)
    log: LogConfig = field(default_factory=LogConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    source: Path | None = None  # the file it was read from, if any
    telegram_token: str | None = field(default=None, repr=False)
    discord_token: str | None = field(default=None, repr=False)
    smtp_password: str | None = field(default=None, repr=False)
    # Signs the links in emails (unsubscribe, answers); a random one per process when unset.
    email_secret: str | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return data_dir()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'samtal.db'}"

    @property
    def console_files(self) -> Path:
        return (
            Path(self.console.files).expanduser() if self.console.files else self.data_dir / "files"
        )

    @property
    def backup_dir(self) -> Path:
        return Path(self.backup.dir) if self.backup.dir else self.data_dir / "backups"


MAX_DAYS = 36_500  # a hundred years: more is a typo, and overflows date arithmetic
SECTIONS = (
    "database",
    "bot",
    "telegram",
    "discord",
    "console",
    "privacy",
    "web",
    "log",
    "health",
    "backup",
    "email",
)
LOG_FORMATS = ("text", "json")
CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def data_dir() -> Path:
    configured = os.environ.get("SAMTAL_DATA_DIR")
    return Path(configured) if configured else Path(platformdirs.user_data_dir("samtal"))


def find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        return path
    from_env = os.environ.get("SAMTAL_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"{path} (from $SAMTAL_CONFIG): no such configuration file")
        return path
    local = Path("samtal.toml")
    return local if local.is_file() else None


def load_config(explicit: str | None = None) -> Config:
    path = find_config_file(explicit)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    config = parse_config(raw, str(path or "defaults"))
    return Config(
        **{name: getattr(config, name) for name in SECTIONS},
        source=path,
        telegram_token=os.environ.get("SAMTAL_TELEGRAM_TOKEN") or None,
        discord_token=os.environ.get("SAMTAL_DISCORD_TOKEN") or None,
        smtp_password=os.environ.get("SAMTAL_SMTP_PASSWORD") or None,
        email_secret=os.environ.get("SAMTAL_EMAIL_SECRET") or None,
    )


def readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def parse_config(raw: dict[str, Any], where: str) -> Config:
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    _reject_unknown(raw, SECTIONS, where, "")
    for name in SECTIONS:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of keys, got {value!r}")
        sections[name] = _section(hints[name], value, where, name)
    config = Config(**sections)
    _check_values(config, where)
    return config


def _section(cls: type[Any], raw: dict[str, Any], where: str, section: str) -> Any:
    assert is_dataclass(cls)
    names = [f.name for f in fields(cls)]
    for key in raw:
        if "password" in key.lower() or "secret" in key.lower():
            raise ConfigError(
                f"{where}: [{section}] {key}: passwords and secrets are read only from the "
                "environment (SAMTAL_SMTP_PASSWORD, SAMTAL_EMAIL_SECRET), never from a file"
            )
        if "token" in key.lower():
            raise ConfigError(
                f"{where}: [{section}] {key}: tokens are read only from the environment "
                f"(SAMTAL_{section.upper()}_TOKEN), never from a file"
            )
    _reject_unknown(raw, names, where, section)
    hints = get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        expected = hints[key]
        allowed = tuple(
            get_origin(kind) or kind  # dict[str, str] is checked as dict; its items later
            for kind in (
                get_args(expected)
                if get_origin(expected) in (Union, types.UnionType)
                else (expected,)
            )
        )
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            kinds = " or ".join(t.__name__ for t in allowed)
            raise ConfigError(f"{where}: [{section}] {key}: expected {kinds}, got {value!r}")
        values[key] = value
    return cls(**values)


def _reject_unknown(raw: dict[str, Any], known: Any, where: str, section: str) -> None:
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            place = f"[{section}] {key}" if section else f"[{key}]"
            raise ConfigError(f"{where}: unknown key {place}{hint}")


def _check_values(config: Config, where: str) -> None:
    try:
        ZoneInfo(config.bot.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{where}: [bot] timezone: expected an IANA time zone such as 'Europe/Stockholm', "
            f"got {config.bot.timezone!r}"
        ) from exc
    if config.bot.language not in LANGUAGES:
        raise ConfigError(
            f"{where}: [bot] language: expected one of {', '.join(LANGUAGES)}, "
            f"got {config.bot.language!r}"
        )
    if config.bot.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"{where}: [bot] log_level: expected one of {', '.join(LOG_LEVELS)}, "
            f"got {config.bot.log_level!r}"
        )
    if config.log.format not in LOG_FORMATS:
        raise ConfigError(
            f"{where}: [log] format: expected one of {', '.join(LOG_FORMATS)}, "
            f"got {config.log.format!r}"
        )
    if not 0 <= config.backup.keep <= 10_000:
        raise ConfigError(
            f"{where}: [backup] keep: expected a whole number from 0 (no nightly backups) "
            f"to 10000, got {config.backup.keep}"
        )
    if not CLOCK_TIME.match(config.backup.at):
        raise ConfigError(
            f"{where}: [backup] at: expected a time of day as 'HH:MM', got {config.backup.at!r}"
        )
    url = config.database.url
    if url and not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            f"{where}: [database] url: expected 'sqlite+aiosqlite:///PATH' or "
            f"'postgresql+asyncpg://USER@HOST/DB', got {url!r}"
        )
    for section, key, number, highest in (
        ("privacy", "guest_retention_days", config.privacy.guest_retention_days, MAX_DAYS),
        ("privacy", "left_retention_days", config.privacy.left_retention_days, MAX_DAYS),
        ("privacy", "flood_limit_per_minute", config.privacy.flood_limit_per_minute, 10_000),
        ("web", "port", config.web.port, 65535),
        ("telegram", "webhook_port", config.telegram.webhook_port, 65535),
        ("health", "outbox_late_seconds", config.health.outbox_late_seconds, 86_400),
        ("email", "port", config.email.port, 65535),
        ("email", "per_minute", config.email.per_minute, 100_000),
        ("email", "timeout_seconds", config.email.timeout_seconds, 600),
    ):
        # Checked here, not at run time: a date 10**17 days ago or port 99999 fails only later.
        if not 1 <= number <= highest:
            raise ConfigError(
                f"{where}: [{section}] {key}: expected a whole number from 1 to {highest}, "
                f"got {number}"
            )
    for section, key, value in (
        ("bot", "join_url", config.bot.join_url),
        ("telegram", "base_url", config.telegram.base_url),
        ("telegram", "webhook_url", config.telegram.webhook_url),
        ("discord", "invite_url", config.discord.invite_url),
        ("discord", "api_base", config.discord.api_base),
    ):
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: [{section}] {key}: expected an http(s) URL, got {value!r}")
    webhook = config.telegram.webhook_url
    if webhook and not webhook.startswith("https://"):
        # Telegram posts updates (members' messages) only to HTTPS, and so should we.
        raise ConfigError(
            f"{where}: [telegram] webhook_url: expected an https:// URL, got {webhook!r}"
        )
    if not config.discord.gateway_url.startswith(("ws://", "wss://")):
        raise ConfigError(
            f"{where}: [discord] gateway_url: expected a ws(s) URL, "
            f"got {config.discord.gateway_url!r}"
        )
    _check_email(config.email, where)
    if config.email.enabled and not config.web.serving:
        raise ConfigError(
            f"{where}: [email] needs the web server for its unsubscribe and answer links: "
            "remove [web] enabled = false"
        )
    _check_role_map(config.discord.roles, where)
    _check_servers(config.discord.servers, where)
    _check_announcements(config, where)
    public = config.web.public_url
    if public and not public.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        # The address carries a member's secret token: only over TLS (or on this machine).
        raise ConfigError(f"{where}: [web] public_url: expected an https:// URL, got {public!r}")


EMAIL_SECURITY = ("starttls", "tls", "none")
ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")


def _check_email(email: EmailConfig, where: str) -> None:
    if email.security not in EMAIL_SECURITY:
        raise ConfigError(
            f"{where}: [email] security: expected one of {', '.join(EMAIL_SECURITY)}, "
            f"got {email.security!r}"
        )
    if email.enabled and not ADDRESS.match(email.from_address):
        raise ConfigError(
            f"{where}: [email] from_address: expected the address emails come from, such as "
            f"'samtal@example.org', got {email.from_address!r}"
        )
    if any(c in email.from_name for c in '\r\n<>"'):
        raise ConfigError(
            f"{where}: [email] from_name: expected a plain name, got {email.from_name!r}"
        )


DISCORD_ID = re.compile(r"^[0-9]{1,20}$")
ROLE_NAMES = tuple(role.value for role in Role)


def _check_role_map(roles: dict[str, str], where: str) -> None:
    for role_id, target in roles.items():
        place = f"{where}: [discord] roles.{role_id!r}" if role_id else f"{where}: [discord] roles"
        if not DISCORD_ID.match(role_id):
            raise ConfigError(
                f"{place}: expected a Discord role id (digits, as in Server Settings > Roles > "
                f"Copy Role ID), got {role_id!r}"
            )
        slug, _, role = target.partition(":") if isinstance(target, str) else ("", "", "")
        if not slug or role not in ROLE_NAMES:
            raise ConfigError(
                f"{place}: expected 'ORG-SLUG:ROLE' with ROLE one of {', '.join(ROLE_NAMES)}, "
                f"got {target!r}"
            )


SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _check_servers(servers: dict[str, str], where: str) -> None:
    for server_id, slug in servers.items():
        if not DISCORD_ID.match(server_id):
            raise ConfigError(
                f"{where}: [discord] servers.{server_id!r}: expected a Discord server id "
                f"(digits, as in Server Settings > Widget > Server ID), got {server_id!r}"
            )
        if not isinstance(slug, str) or not SLUG.match(slug):
            raise ConfigError(
                f"{where}: [discord] servers.{server_id}: expected an organisation slug (see "
                f"`samtal orgs`), got {slug!r}"
            )


def _check_announcements(config: Config, where: str) -> None:
    for slug in config.telegram.paid_broadcast:
        if not isinstance(slug, str) or not SLUG.match(slug):
            raise ConfigError(
                f"{where}: [telegram] paid_broadcast: expected organisation slugs (see "
                f"`samtal orgs`), got {slug!r}"
            )
    minimum = config.telegram.paid_broadcast_min_recipients
    if minimum < 1:
        raise ConfigError(
            f"{where}: [telegram] paid_broadcast_min_recipients: expected a positive number, "
            f"got {minimum}"
        )
    for slug, role_id in config.discord.announcement_roles.items():
        if not SLUG.match(slug):
            raise ConfigError(
                f"{where}: [discord] announcement_roles: expected organisation slugs as keys "
                f"(see `samtal orgs`), got {slug!r}"
            )
        if not isinstance(role_id, str) or not DISCORD_ID.match(role_id):
            raise ConfigError(
                f"{where}: [discord] announcement_roles.{slug}: expected a Discord role id "
                f"(digits, in quotes), got {role_id!r}"
            )


def role_mappings(config: Config) -> tuple[RoleMapping, ...]:
    """The configured platform roles, as the core reads them."""
    mappings: list[RoleMapping] = []
    for role_id, target in config.discord.roles.items():
        slug, _, role = target.partition(":")
        mappings.append(RoleMapping("discord", role_id, slug, Role(role)))
    for server_id, slug in config.discord.servers.items():
        # The adapter gives a server's admins this platform role (adapters/discord/translate.py).
        mappings.append(RoleMapping("discord", f"manage_server:{server_id}", slug, Role.ORGANISER))
    return tuple(mappings)
