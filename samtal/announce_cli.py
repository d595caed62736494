"""`samtal announce --org SLUG --text TEXT`: an announcement from the command line.

It prints whom the announcement would reach (per platform), how long sending
takes and, for a paid broadcast, its cost in Telegram Stars, and asks before
sending unless `--yes`. Then it queues it through the same code as /utskick
(with no author: the command line) and follows the outbox, printing progress
(sent of total, time left) until nothing is pending, then the final report
(delivered, unreachable, reached through Discord posts). `--no-wait` returns
once it is queued.

The bot's delivery (`samtal run`, in this or another terminal, or the
service) does the sending. When nothing is delivered for a minute this
command says so, and keeps waiting; Ctrl-C stops the watching, never the
sending: the messages stay queued.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from bot.announcements.model import (
    MAX_TEXT,
    Announcement,
    AnnouncementStatus,
    Audience,
    Plan,
    paid_cost,
    time_left,
)
from bot.announcements.service import (
    Queued,
    clean_announcement,
    duration,
    finish,
    interest_key,
    plan_audience,
    progress_of,
    queue_next,
    start_sending,
)
from bot.clock import Clock
from bot.context import Effects
from bot.domain.organisations import Organisation
from bot.i18n import Translator
from bot.settings import Settings
from bot.welcome.model import INTERESTS
from samtal.usage import org_by_slug
from storage.database import Database

POLL_SECONDS = 2.0  # how often the outbox is counted
PRINT_EVERY = 10.0  # a progress line at most this often while it moves
STALL_SECONDS = 60.0  # nothing delivered for this long: say why that may be

Write = Callable[[str], None]
Confirm = Callable[[str], Awaitable[bool]]

ENGLISH = Translator("en")


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    announce = commands.add_parser(
        "announce",
        parents=[common],
        help="send an announcement to an organisation's people who consented",
    )
    announce.add_argument("--org", required=True, metavar="SLUG", help="see `samtal orgs`")
    announce.add_argument("--text", required=True, metavar="TEXT", help="plain text ('-': stdin)")
    announce.add_argument(
        "--audience",
        choices=[a.value for a in Audience if a is not Audience.INTEREST],
        help="who gets it (default: everyone, members and guests)",
    )
    announce.add_argument(
        "--interest",
        metavar="NAME",
        help=f"only people who named this interest as new members ({', '.join(INTERESTS)})",
    )
    announce.add_argument("--yes", action="store_true", help="send without asking")
    announce.add_argument(
        "--no-wait", action="store_true", help="return once queued; `samtal run` sends it"
    )


async def _ask(question: str) -> bool:
    try:
        answer = await asyncio.to_thread(input, question)
    except EOFError:  # nobody there to answer: no
        return False
    return answer.strip().lower() in ("y", "yes", "j", "ja")


def _print(line: str) -> None:
    print(line, flush=True)


def _error(line: str) -> None:
    print(f"samtal: {line}", file=sys.stderr)


async def run(
    database: Database,
    clock: Clock,
    settings: Settings,
    args: argparse.Namespace,
    *,
    write: Write = _print,
    confirm: Confirm = _ask,
    poll: float = POLL_SECONDS,
    print_every: float = PRINT_EVERY,
    stall_after: float = STALL_SECONDS,
) -> int:
    interest: str | None = None
    audience = Audience(args.audience or Audience.EVERYONE.value)
    if args.interest is not None:
        if args.audience is not None:
            _error("give --audience or --interest, not both")
            return 2
        interest = interest_key(args.interest)
        if interest is None:
            _error(f"no interest {args.interest!r}; choose one of {', '.join(INTERESTS)}")
            return 2
        audience = Audience.INTEREST
    if args.text == "-" and not args.yes:
        _error("--text - reads the text from standard input, so add --yes: nobody can answer")
        return 2
    raw = sys.stdin.read() if args.text == "-" else args.text
    text = clean_announcement(raw)
    if not text:
        _error("the announcement's text is empty")
        return 2
    if len(text) > MAX_TEXT:
        _error(f"the text has {len(text)} characters; an announcement can have at most {MAX_TEXT}")
        return 2
    async with database.unit_of_work() as uow:
        org, org_id = await org_by_slug(uow, args.org)
        plan = await plan_audience(Effects(uow, clock, settings), org, audience, interest)
    for line in _summary(org, audience, interest, plan):
        write(line)
    if not plan.reaches_anyone:
        write("No one in that audience can get a message from the bot yet. Nothing was sent.")
        return 1
    if not args.yes and not await confirm("Send it? [y/N] "):
        write("Nothing was sent.")
        return 1
    async with database.unit_of_work() as uow:
        fx = Effects(uow, clock, settings)
        announcement = await uow.announcements.add(
            Announcement(
                org_id=org_id,
                text=text,
                audience=audience,
                created_at=fx.now,
                interest=interest,
                status=AnnouncementStatus.QUEUEING,
                paid_broadcast=plan.paid,
                sent_at=fx.now,
            )
        )
        # The timer carries on if this command is stopped while queueing.
        await start_sending(fx, announcement)
        await uow.commit()
    announcement_id = announcement.id
    assert announcement_id is not None
    announcement = await _queue(database, clock, settings, announcement_id, poll)
    write(
        f"Queued announcement #{announcement.id}: {announcement.direct} private messages"
        + (
            f", posts in {announcement.channel_posts} Discord channels "
            f"for {announcement.via_discord} people there"
            if announcement.channel_posts
            else ""
        )
        + f"; {announcement.unreachable} not reachable."
    )
    if args.no_wait:
        write("The bot (`samtal run`) sends it; organisers can follow it with /utskick status.")
        return 0
    try:
        return await _watch(
            database, clock, settings, announcement_id, write, poll, print_every, stall_after
        )
    except asyncio.CancelledError:
        write("Stopped watching. The messages stay queued and `samtal run` sends them.")
        raise


def _summary(org: Organisation, audience: Audience, interest: str | None, plan: Plan) -> list[str]:
    t = ENGLISH
    tally = plan.tally
    who = {
        Audience.EVERYONE: "everyone (members and guests)",
        Audience.MEMBERS: "members",
        Audience.GUESTS: "guests",
        Audience.INTEREST: f"people interested in {t(INTERESTS.get(interest or '', '?'))}",
    }[audience]
    lines = [
        f"Announcement from {org.name} to {who} in it and the organisations below it:",
        f"  recipients: {tally.direct + tally.via_discord}",
    ]
    for platform, count in sorted(tally.by_platform.items()):
        lines.append(f"  {platform}: {count} private messages")
    if plan.channels:
        lines.append(
            f"  discord: a post in {plan.channels} channels, for {tally.via_discord} people there"
        )
    if tally.unreachable:
        lines.append(f"  not reachable now: {tally.unreachable} (no chat with the bot that works)")
    lines.append(f"  sending takes {duration(t, plan.seconds)} at the platforms' pace")
    if plan.paid:
        lines.append(
            f"  paid broadcast: {paid_cost(plan.telegram)} Telegram Stars "
            "(0.1 Star a message, up to 1000 messages a second)"
        )
    return lines


async def _queue(
    database: Database, clock: Clock, settings: Settings, announcement_id: int, poll: float
) -> Announcement:
    """Writes the outbox a chunk at a time here, rather than waiting for the bot's timer."""
    while True:
        async with database.unit_of_work() as uow:
            outcome = await queue_next(
                Effects(uow, clock, settings), announcement_id, reschedule=False
            )
            await uow.commit()
        if outcome == Queued.LOST:  # the bot queues it at the same time: let it, and wait
            await asyncio.sleep(poll)
        elif outcome != Queued.MORE:
            async with database.unit_of_work() as uow:
                announcement = await uow.announcements.get(announcement_id)
            assert announcement is not None
            if announcement.status is not AnnouncementStatus.QUEUEING:
                return announcement
            await asyncio.sleep(poll)


async def _watch(
    database: Database,
    clock: Clock,
    settings: Settings,
    announcement_id: int,
    write: Write,
    poll: float,
    print_every: float,
    stall_after: float,
) -> int:
    loop = asyncio.get_running_loop()
    last_done: int | None = None
    last_move = last_print = loop.time()
    told_stall = False
    while True:
        async with database.unit_of_work() as uow:
            fx = Effects(uow, clock, settings)
            announcement = await uow.announcements.get(announcement_id)
            if announcement is None:
                write("The announcement is gone (its organisation was removed).")
                return 1
            progress = await progress_of(fx, announcement)
            if progress.finished:
                await finish(fx, announcement, progress)
                await uow.commit()
                write(
                    f"Done. Delivered: {progress.sent}; unreachable: "
                    f"{announcement.unreachable + progress.failed}"
                    + (
                        f"; reached through posts in {progress.posts_sent} Discord channels: "
                        f"{announcement.via_discord}"
                        if announcement.channel_posts or announcement.via_discord
                        else ""
                    )
                    + "."
                )
                return 0
        now = loop.time()
        moved = progress.done != last_done
        if moved:
            last_move, told_stall = now, False
        if last_done is None or (moved and now - last_print >= print_every):
            left = duration(ENGLISH, time_left(announcement, progress, clock.now()).total_seconds())
            write(
                f"Sent {progress.sent} of {progress.total}"
                + (f" ({progress.failed} failed)" if progress.failed else "")
                + f", {left} left."
            )
            last_print = now
        last_done = progress.done
        if not told_stall and now - last_move >= stall_after:
            write(
                f"Nothing has been delivered for {round(now - last_move)} seconds. Is the bot "
                "running (`samtal run`, or its service) with every platform it needs? The "
                "messages stay queued; Ctrl-C stops watching, not sending."
            )
            told_stall = True
        await asyncio.sleep(poll)
