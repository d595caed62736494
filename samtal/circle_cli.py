"""`samtal circle attendance --circle ID --out FILE`: a study circle's attendance list.

The same list an organiser gets in chat: CSV, or a printable HTML page when
FILE ends in .html. Only participants who agreed are named; the others are
shown without their names, and the list says so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.circles.service import attendance_list
from bot.clock import Clock
from bot.context import Effects
from bot.i18n import Translator
from storage.database import Database


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    circle = commands.add_parser("circle", parents=[common], help="study circles")
    actions = circle.add_subparsers(dest="circle_command", required=True, metavar="ACTION")
    attendance = actions.add_parser(
        "attendance", parents=[common], help="a circle's attendance list as CSV or HTML"
    )
    attendance.add_argument("--circle", type=int, required=True, metavar="ID")
    attendance.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.html")
    attendance.add_argument(
        "--language", default=None, help="sv or en (default: the organisation's)"
    )


async def run(database: Database, clock: Clock, args: argparse.Namespace) -> int:
    out = Path(args.out)
    async with database.unit_of_work() as uow:
        circle = await uow.circles.get(args.circle)
        if circle is None:
            print(f"samtal: no study circle {args.circle}", file=sys.stderr)
            return 2
        org = await uow.orgs.get(circle.org_id)
        translator = Translator(args.language or (org.language if org else "sv"))
        sheet = await attendance_list(Effects(uow, clock), circle, translator)
    as_html = out.suffix.lower() in (".html", ".htm")
    data = sheet.to_html(translator) if as_html else sheet.to_csv(translator)
    await asyncio.to_thread(out.write_bytes, data)
    print(f"Wrote the attendance list of {circle.title} ({len(sheet.rows)} rows) to {out}")
    return 0
