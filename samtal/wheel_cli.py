"""`samtal wheel import|show|render`: the annual wheel from the command line.

- `samtal wheel import FILE --org SLUG` validates a template (errors name the
  activity and the key) and publishes it for the organisation; everything
  below inherits it. `--default` imports the packaged default template.
- `samtal wheel show --org SLUG --year YYYY` prints the effective wheel: each
  activity, its dates that year, and where it comes from.
- `samtal wheel render --org SLUG --year YYYY --out FILE.png` draws it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.clock import Clock
from bot.context import Effects
from bot.i18n import Translator
from bot.wheel.model import TemplateError, expand, year_bounds
from bot.wheel.service import (
    DEFAULT_TEMPLATES,
    default_template_source,
    effective_items,
    publish_template,
    replan_below,
)
from bot.wheel.when import format_duration
from samtal.usage import org_by_slug
from storage.database import Database

SHOWN = 8  # dates per activity in `show`; a weekly one ends with its last date


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    wheel = commands.add_parser("wheel", parents=[common], help="the annual wheel (årshjul)")
    actions = wheel.add_subparsers(dest="wheel_command", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import", parents=[common], help="validate and publish a template for an organisation"
    )
    load.add_argument("file", metavar="FILE", nargs="?", help="a template (TOML)")
    load.add_argument("--org", required=True, metavar="SLUG")
    load.add_argument(
        "--default",
        nargs="?",
        const="party",
        choices=sorted(DEFAULT_TEMPLATES),
        metavar="LEVEL",
        help="import a packaged default template: party (the default) or district",
    )
    show = actions.add_parser(
        "show", parents=[common], help="the effective wheel of an organisation for a year"
    )
    show.add_argument("--org", required=True, metavar="SLUG")
    show.add_argument("--year", type=int, metavar="YYYY")
    render = actions.add_parser("render", parents=[common], help="draw the wheel as a PNG")
    render.add_argument("--org", required=True, metavar="SLUG")
    render.add_argument("--year", type=int, metavar="YYYY")
    render.add_argument("--out", required=True, metavar="FILE.png")
    render.add_argument("--language", choices=("sv", "en"), help="default: the organisation's")


async def run(database: Database, clock: Clock, args: argparse.Namespace) -> int:
    async with database.unit_of_work() as uow:
        org, org_id = await org_by_slug(uow, args.org)
        year = getattr(args, "year", None) or clock.now().astimezone(org.zone).year
        if args.wheel_command == "import":
            if bool(args.default) == bool(args.file):
                print("samtal: give a template FILE or --default", file=sys.stderr)
                return 2
            try:
                source = (
                    default_template_source(args.default)
                    if args.default
                    else await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
                )
            except OSError as exc:
                print(f"samtal: can't read the template: {exc}", file=sys.stderr)
                return 2
            try:
                template = await publish_template(uow, clock.now(), org, source)
            except TemplateError as exc:
                print(f"samtal: {args.file or 'the default template'}: {exc}", file=sys.stderr)
                return 2
            await replan_below(Effects(uow, clock), org)
            await uow.commit()
            print(
                f"Published {template.name or 'the template'} for {org.name}: "
                f"{len(template.entries)} activities. Organisations below inherit it; "
                "organisers start it in their group chat with /arshjul_start."
            )
            return 0
        items = await effective_items(uow, org)
        settings = await uow.wheel.settings_of(org_id)
    start, end = year_bounds(year, org.zone)
    occurrences = expand(items, start, end, org.zone)
    if args.wheel_command == "show":
        print(f"The annual wheel {year} of {org.name} ({org.slug}), {settings.state.value}")
        if not items:
            print("  no activities: import a template with `samtal wheel import`")
        for item in items:
            activity = item.activity
            dates = [o for o in occurrences if o.key == activity.key]
            source = item.origin + (
                f", changed in {', '.join(item.changed_by)}" if item.changed_by else ""
            )
            print(
                f"\n{activity.key}: {activity.name} [{activity.kind.value}] from {source}\n"
                f"  when: {activity.when.text}, {activity.at:%H:%M} for "
                f"{format_duration(activity.duration)}"
                + (f", at {activity.place}" if activity.place else "")
                + f"; announced {format_duration(item.announce)} ahead"
            )
            if activity.source:
                print(f"  source: {activity.source}")
            if not dates:
                print(f"  none in {year} (years: {activity.years.word})")
                continue
            shown = ", ".join(
                o.start.astimezone(org.zone).strftime("%d %b %H:%M")
                + (" (moved)" if o.moved else "")
                for o in dates[:SHOWN]
            )
            if len(dates) > SHOWN:
                shown += f", ... {dates[-1].start.astimezone(org.zone):%d %b}"
            print(f"  {len(dates)} in {year}: {shown}")
            if item.skipped_dates:
                skipped = ", ".join(str(d) for d in sorted(item.skipped_dates) if d.year == year)
                if skipped:
                    print(f"  skipped here: {skipped}")
        return 0
    from bot.render.wheel_picture import render_wheel

    t = Translator(args.language or org.language)
    today = clock.now().astimezone(org.zone).date()
    picture = render_wheel(
        occurrences,
        year=year,
        zone=org.zone,
        t=t,
        title=t("Annual wheel {year}").format(year=year),
        today=today if today.year == year else None,
    )
    await asyncio.to_thread(Path(args.out).write_bytes, picture)
    print(f"Wrote the annual wheel {year} of {org.name} to {args.out} ({len(occurrences)} dates)")
    return 0
