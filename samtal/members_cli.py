"""`samtal members import FILE --org SLUG [--dry-run] [--partial]`: the member register.

Reads the register's CSV or XLSX export (bot/register/reader.py), upserts its
members into the organisation and those below it, and reports what changed. The
whole file is one transaction: a problem with the file refuses all of it, a bad
row is refused alone. `--dry-run` reports without changing anything.

The tombstones of erased members are keyed hashes; the key is `SAMTAL_REGISTER_KEY`,
or else a random key kept in the data directory (`register.key`, created once).
Keep it with the backups: with another key, erased members are not recognised.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
from pathlib import Path

from bot.clock import Clock
from bot.context import Effects
from bot.register.model import FileRefused, ImportReport
from bot.register.reader import read_register
from bot.register.service import JoinLinks, import_register
from bot.settings import Settings
from samtal.usage import UsageError, org_by_slug
from storage.database import Database

KEY_FILE = "register.key"


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    members = commands.add_parser(
        "members", parents=[common], help="the member register: import its export"
    )
    actions = members.add_subparsers(dest="members_command", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        parents=[common],
        help="import the register's CSV or XLSX export into an organisation",
        description="Upserts by member number. Members of the organisation (and below) missing "
        "from the file are marked former unless --partial. Nothing is half-imported.",
    )
    load.add_argument("file", metavar="FILE", help="CSV (UTF-8) or XLSX")
    load.add_argument("--org", required=True, metavar="SLUG")
    load.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    load.add_argument(
        "--partial",
        action="store_true",
        help="the file is not the whole register: mark nobody former",
    )


def register_key(data_dir: Path) -> bytes:
    """The tombstones' key: from the environment, else the data directory's own."""
    from_env = os.environ.get("SAMTAL_REGISTER_KEY")
    if from_env:
        return from_env.encode("utf-8")
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


async def run(
    database: Database,
    clock: Clock,
    settings: Settings,
    args: argparse.Namespace,
    *,
    key: bytes,
    links: JoinLinks,
) -> int:
    path = Path(args.file)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise UsageError(f"can't read {path}: {exc.strerror or exc}") from None
    async with database.unit_of_work() as uow:
        org, _ = await org_by_slug(uow, args.org)
        try:
            register = await asyncio.to_thread(read_register, data, path.name)
            report = await import_register(
                Effects(uow, clock, settings),
                org,
                register,
                key=key,
                links=links,
                full=not args.partial,
            )
        except FileRefused as exc:
            raise UsageError(str(exc)) from None
        if not args.dry_run:
            await uow.commit()
    print(summary(report, org.name, dry_run=args.dry_run, partial=args.partial))
    return 0


def summary(report: ImportReport, org: str, *, dry_run: bool, partial: bool) -> str:
    lines = [
        ("Dry run, nothing was changed. " if dry_run else "") + f"{org}: "
        f"{report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
        f"{report.missing} missing from this file"
        + (" (marked former)" if report.missing else "")
        + f", {len(report.refused)} refused."
    ]
    if partial:
        lines.append("Partial file: nobody was marked former.")
    if report.welcomed:
        lines.append(
            f"{report.welcomed} new members get the welcome: a contact person, the "
            "introduction and their personal join links."
        )
    lines += [f"Note: {note}" for note in report.notes]
    for refused in report.refused:
        lines.append(f"  line {refused.line}: {refused.reason}")
    return "\n".join(lines)
