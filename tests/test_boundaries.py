"""The core stays channel-agnostic: no platform, SQL, scheduler or web library, and no wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "bot"
FORBIDDEN_PACKAGES = {
    "discord",
    "telegram",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "apscheduler",
    "aiohttp",
    "httpx",
    "adapters",
    "storage",
    "samtal",
    "time",  # time.time(), time.monotonic(): the wall clock by another name
}
WALL_CLOCK_CALLS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}
# `python -m bot` has to reach the command line, which lives outside the core.
ENTRY_POINT = CORE / "__main__.py"


def core_modules() -> list[Path]:
    return sorted(path for path in CORE.rglob("*.py") if path != ENTRY_POINT)


def imported_packages(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_from_outside(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert imported_packages(tree) & FORBIDDEN_PACKAGES == set()


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_never_reads_the_wall_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WALL_CLOCK_CALLS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"datetime", "date"}
    ]
    assert calls == [], f"{path.name} reads the wall clock; take the time from the Clock"


def test_the_check_catches_what_it_should() -> None:
    sample = ast.parse("import discord\nfrom sqlalchemy.orm import Session\nimport time\n")
    assert imported_packages(sample) == {"discord", "sqlalchemy", "time"}


def test_importing_the_core_loads_no_outside_library() -> None:
    """The static check above, confirmed at run time with every transitive import."""
    import subprocess
    import sys

    probe = (
        "import sys, bot.core, bot.bootstrap, bot.demo.seed;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN_PACKAGES - {'time'})!r});"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=CORE.parent
    )
    assert result.stdout.strip() == ""
