"""`samtal radslag export --id N --format md|csv|pdf --out FILE [--org SLUG]`: a rådslag's
export for the data controller or a board, as the chat's Export button makes it.

Everything below the organisation that opened it, or below `--org` (a district); the
anonymity setting holds as in chat (bot/consultations/export.py).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.clock import Clock
from bot.consultations import export
from bot.consultations.service import branches_under
from bot.context import Effects
from bot.i18n import Translator
from samtal.usage import UsageError, org_by_slug
from storage.database import Database


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    radslag = commands.add_parser("radslag", parents=[common], help="rådslag (consultations)")
    sub = radslag.add_subparsers(dest="radslag_command", required=True)
    out = sub.add_parser("export", parents=[common], help="export a rådslag per question")
    out.add_argument("--id", required=True, type=int, metavar="N")
    out.add_argument("--format", required=True, choices=export.kinds())
    out.add_argument("--out", required=True, metavar="FILE")
    out.add_argument("--org", metavar="SLUG", help="only the branches below it (a district)")
    out.add_argument("--language", default="sv", choices=("sv", "en"))


async def run(database: Database, clock: Clock, args: argparse.Namespace) -> int:
    async with database.unit_of_work() as uow:
        c = await uow.consultations.get(args.id)
        if c is None:
            raise UsageError(f"no rådslag number {args.id}; see /radslag in chat")
        scope = await uow.orgs.get(c.org_id)
        if args.org:
            scope, _ = await org_by_slug(uow, args.org)
        assert scope is not None
        fx = Effects(uow, clock)
        if not await branches_under(fx, c, scope):
            raise UsageError(f"rådslag {args.id} did not go to any branch below {scope.slug}")
        data = await export.gather(fx, c, scope)
    attachment = export.export_file(Translator(args.language), data, args.format)
    path = Path(args.out)
    await asyncio.to_thread(path.write_bytes, attachment.data)
    print(f"wrote {path} ({len(attachment.data)} bytes)")
    return 0
