"""`samtal welcome import FILE --org SLUG` / `samtal welcome show --org SLUG`: the welcome plan.

An organisation's plan is a TOML file like `bot/welcome/plan.toml` (the
default). Importing validates it first and names the bad key; branches and
associations below the organisation use it unless they have one of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.clock import Clock
from bot.welcome.model import WelcomePlanError, WelcomePlanText, default_plan_text, parse_plan
from samtal.usage import org_by_slug
from storage.database import Database


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    welcome = commands.add_parser(
        "welcome", parents=[common], help="the new-member welcome plan of an organisation"
    )
    actions = welcome.add_subparsers(dest="welcome_command", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import", parents=[common], help="check a plan file and make it the organisation's"
    )
    load.add_argument("file", metavar="FILE")
    load.add_argument("--org", required=True, metavar="SLUG")
    show = actions.add_parser(
        "show", parents=[common], help="print the plan an organisation uses (default: the built-in)"
    )
    show.add_argument("--org", metavar="SLUG")


async def run(database: Database, clock: Clock, args: argparse.Namespace) -> int:
    if args.welcome_command == "import":
        return await import_plan(database, clock, Path(args.file), args.org)
    return await show_plan(database, args.org)


async def import_plan(database: Database, clock: Clock, path: Path, slug: str) -> int:
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        print(f"samtal: can't read the plan: {exc}", file=sys.stderr)
        return 2
    try:
        plan = parse_plan(text, str(path))
    except WelcomePlanError as exc:
        print(f"samtal: {exc}", file=sys.stderr)
        return 2
    async with database.unit_of_work() as uow:
        org, org_id = await org_by_slug(uow, slug)
        await uow.welcome.save_plan_text(WelcomePlanText(org_id, text, clock.now()))
        await uow.commit()
    steps = ", ".join(f"{s.kind.value} (day {s.day})" for s in plan.steps)
    print(f"The welcome plan of {org.name} is now {path}: {steps}.")
    return 0


async def show_plan(database: Database, slug: str | None) -> int:
    if slug is None:
        print(default_plan_text(), end="")
        return 0
    async with database.unit_of_work() as uow:
        _, org_id = await org_by_slug(uow, slug)
        for level in await uow.orgs.lineage(org_id):
            assert level.id is not None
            stored = await uow.welcome.plan_text(level.id)
            if stored is not None:
                print(f"# The plan of {level.slug}, imported {stored.updated_at:%Y-%m-%d}")
                print(stored.text, end="")
                return 0
    print(default_plan_text(), end="")
    return 0
