"""`samtal stats --org SLUG [--out DIR] [--language sv|en]`: an organisation's figures and goals.

The same figures as /statistik in chat (the organisation and everything below
it: both are `bot.insights.service.gather`), in the organisation's language
unless --language says otherwise; with --out the two charts are written there
as PNG files.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.clock import Clock
from bot.i18n import Translator
from bot.insights.service import gather
from bot.insights.views import charts, figures_text
from bot.messages import Attachment
from samtal.usage import org_by_slug
from storage.database import Database


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    stats = commands.add_parser(
        "stats", parents=[common], help="an organisation's figures, goals and charts"
    )
    stats.add_argument("--org", required=True, metavar="SLUG")
    stats.add_argument("--out", metavar="DIR", help="write the charts there as PNG files")
    stats.add_argument(
        "--language", choices=("en", "sv"), help="default: the organisation's language"
    )


async def run(database: Database, clock: Clock, args: argparse.Namespace) -> int:
    return await print_stats(database, clock, args.org, args.out, args.language)


async def print_stats(
    database: Database, clock: Clock, slug: str, out: str | None, language: str | None = None
) -> int:
    async with database.unit_of_work() as uow:
        org, _ = await org_by_slug(uow, slug)
        figures = await gather(uow, org, clock.now())
    t = Translator(language or org.language)
    print(figures_text(t, figures).plain_text)
    if out is not None:
        for path in await asyncio.to_thread(_write, Path(out), charts(t, figures)):
            print(f"wrote {path}")
    return 0


def _write(folder: Path, attachments: list[Attachment]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for attachment in attachments:
        path = folder / attachment.filename
        path.write_bytes(attachment.data)
        paths.append(path)
    return paths
