"""deploy/ checked statically: nothing here runs systemd, a container engine or compose.

The unit goes through `systemd-analyze verify` where it is installed (with ExecStart
pointed at this checkout's `samtal`, since /opt/samtal is not here) and is parsed and
checked for what the README promises either way; the compose file is parsed with PyYAML
and checked for its services, their healthchecks and dependencies; the Containerfile
for a non-root user, a healthcheck and the same pyproject.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "samtal.service").read_text(encoding="utf-8"))
    return parser


def test_the_systemd_unit_has_what_an_operator_relies_on() -> None:
    service = unit()["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["Restart"] == "on-failure"
    assert int(service["WatchdogSec"]) >= 30
    assert service["User"] == "samtal" and service["User"] != "root"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/samtal"
    assert "SAMTAL_DATA_DIR=/var/lib/samtal" in service["Environment"]
    assert service["EnvironmentFile"] == "/etc/samtal/samtal.env"
    assert service["UMask"] == "0077"
    text = (DEPLOY / "samtal.service").read_text(encoding="utf-8")
    assert "install -m 0600" in text and "samtal.env" in text  # the tokens' file
    assert unit()["Install"]["WantedBy"] == "multi-user.target"
    example = (DEPLOY / "samtal.env.example").read_text(encoding="utf-8")
    assert "SAMTAL_TELEGRAM_TOKEN=" in example and "0600" in example


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    samtal = Path(sys.executable).with_name("samtal")
    assert samtal.exists()
    text = (DEPLOY / "samtal.service").read_text(encoding="utf-8")
    copy = tmp_path / "samtal.service"
    copy.write_text(text.replace("/opt/samtal/.venv/bin/samtal", str(samtal)), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if "samtal.service" in line]
    assert result.returncode == 0 and not complaints, result.stderr


def test_the_containerfile_builds_from_the_pyproject_runs_as_nobody_special_and_checks_health() -> (
    None
):
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert "COPY pyproject.toml constraints.txt README.md ./" in lines
    assert any("pip install" in line and "-c constraints.txt ." in line for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users == ["samtal"]
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert "/healthz" in text and "postgresql-client" in text  # pg_dump for backups
    for copied in ("bot", "adapters", "storage", "samtal"):
        assert f"COPY {copied} ./{copied}" in lines
        assert (ROOT / copied).is_dir()
    assert lines[-1] == 'CMD ["samtal", "run"]'


def test_the_compose_file_has_postgres_two_replicas_and_a_tls_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "samtal-1", "samtal-2", "proxy"}
    for name in ("postgres", "samtal-1", "samtal-2", "proxy"):
        check = services[name]["healthcheck"]
        assert check["test"] and not check.get("disable"), name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name in ("samtal-1", "samtal-2"):
        replica = services[name]
        assert replica["build"] == {"context": "..", "dockerfile": "deploy/Containerfile"}
        assert "/healthz" in " ".join(replica["healthcheck"]["test"])
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "samtal.env" in replica["env_file"]
        assert "ports" not in replica  # only the proxy is published
    # Discord sends every event to every connected process: its token goes to one replica.
    assert services["samtal-1"]["env_file"] == ["samtal.env", "discord.env"]
    assert services["samtal-2"]["env_file"] == "samtal.env"
    assert services["migrate"]["command"] == ["samtal", "db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    proxy = services["proxy"]
    assert "443:443" in proxy["ports"]
    for mounted in proxy["volumes"] + services["samtal-1"]["volumes"]:
        source = mounted.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).is_file(), source
        else:
            assert source in compose["volumes"], source
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    assert "handle /telegram" in caddy and "samtal-1:8443 samtal-2:8443" in caddy


def test_the_compose_configuration_is_valid_and_matches_the_proxy() -> None:
    import tomllib

    from samtal.config import parse_config

    config = parse_config(
        tomllib.loads((DEPLOY / "samtal.compose.toml").read_text(encoding="utf-8")),
        "samtal.compose.toml",
    )
    assert config.database.url.startswith("postgresql+asyncpg://samtal@postgres")
    assert config.telegram.webhook_url.endswith("/telegram")
    assert (config.telegram.webhook_listen, config.telegram.webhook_port) == ("0.0.0.0", 8443)
    assert (config.web.host, config.web.port) == ("0.0.0.0", 8080)
    assert config.log.format == "json"
