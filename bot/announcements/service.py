"""Use cases of announcements, shared by /utskick and `samtal announce`: who an
announcement reaches, queueing it a chunk at a time, its progress and its end.

See `bot.announcements.entry` for how queueing and checking run as timers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.actions import Target
from bot.announcements.model import (
    CHECK_EVERY,
    CHUNK,
    DISCORD,
    Announcement,
    AnnouncementStatus,
    Audience,
    Plan,
    PrivateMessage,
    Progress,
    QueueStep,
    RouteKind,
    Tally,
    paid_applies,
    route,
)
from bot.announcements.views import duration as duration
from bot.announcements.views import framed, report, started
from bot.context import Context, Effects, MessageFor, Refusal
from bot.domain.organisations import Channel, Organisation
from bot.i18n import Translator
from bot.outbox import enqueue
from bot.parsing import clean_text
from bot.permissions import Permission
from bot.welcome.model import INTERESTS

QUEUE_TIMER = "announcement.queue"
CHECK_TIMER = "announcement.check"
EXPIRE_TIMER = "announcement.expire"
DRAFT_KEPT = timedelta(days=1)
RETRY_LOST_RACE = timedelta(minutes=1)
PERMISSION = Permission.SEND_ANNOUNCEMENTS


async def _load_org(fx: Effects, org_id: int) -> Organisation | None:
    return await fx.uow.orgs.get(org_id)


async def _load_announcement(fx: Effects, announcement_id: int) -> Announcement | None:
    return await fx.uow.announcements.get(announcement_id)


def _own_id(org: Organisation) -> int:
    assert org.id is not None
    return org.id


# What the buttons act on; the permission to announce is checked in its organisation.
ORGANISATION: Target[Organisation] = Target(load=_load_org, org_id=_own_id)
ANNOUNCEMENT: Target[Announcement] = Target(load=_load_announcement, org_id=lambda a: a.org_id)


async def permitted_org(ctx: Context, org_id: int) -> Organisation:
    """The organisation a draft is for, while this person may still announce there."""
    org = await ctx.uow.orgs.get(org_id)
    if org is None:
        raise Refusal(ctx.t("That organisation is gone. Nothing was saved."))
    await ctx.require(PERMISSION, org)
    return org


# --- rules shared with `samtal announce` -------------------------------------------------------


def interest_key(word: str) -> str | None:
    """An interest from the welcome flow by its key, or its English or Swedish name."""
    wanted = word.strip().casefold()
    if not wanted:
        return None
    swedish = Translator("sv")
    names = {
        key: (key, label.casefold(), swedish(label).casefold()) for key, label in INTERESTS.items()
    }
    for key, forms in names.items():
        if wanted in forms:
            return key
    for key, forms in names.items():
        if any(form.startswith(wanted) for form in forms[1:]):
            return key
    return None


_BLANK_LINES = re.compile(r"\n{3,}")


def clean_announcement(text: str) -> str:
    """The text as it will be sent: no control characters, at most one empty line in a row."""
    lines = [line.rstrip() for line in clean_text(text).replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


async def discord_channels(
    fx: Effects, subtree: Sequence[Organisation]
) -> list[tuple[Channel, Organisation]]:
    found: list[tuple[Channel, Organisation]] = []
    for org in subtree:
        assert org.id is not None
        for channel in await fx.uow.orgs.channels_of(org.id):
            if channel.platform == DISCORD:
                found.append((channel, org))
    return found


async def plan_audience(
    fx: Effects, org: Organisation, audience: Audience, interest: str | None
) -> Plan:
    """Counts the audience a chunk at a time, as queueing will route it."""
    assert org.id is not None
    subtree = await fx.uow.orgs.subtree(org.id)
    org_ids = [o.id for o in subtree if o.id is not None]
    channels = await discord_channels(fx, subtree)
    tally = Tally()
    after = 0
    while True:
        chunk = await fx.uow.announcements.candidates(
            org_ids, audience, interest, after=after, limit=CHUNK
        )
        for candidate in chunk.candidates:
            tally.add(route(candidate, discord_channels=bool(channels)))
        if chunk.last:
            break
        after = chunk.cursor
    paid = paid_applies(
        org.slug,
        tally.by_platform.get("telegram", 0),
        fx.settings.paid_broadcast_orgs,
        fx.settings.paid_broadcast_min_recipients,
    )
    return Plan(tally, len(channels), paid)


async def start_sending(fx: Effects, announcement: Announcement) -> None:
    """Arms the queueing; the timer's key makes a second arming a no-op."""
    assert announcement.id is not None
    await fx.schedule(
        f"{announcement.batch}:queue:0",
        QUEUE_TIMER,
        fx.now,
        {"announcement": announcement.id},
    )


class Queued(StrEnum):
    """What one call of `queue_next` did."""

    MORE = "more"  # a chunk was queued; more people follow
    FINISHED = "finished"  # the last chunk: everything is in the outbox
    LOST = "lost"  # another process queued this chunk first
    NOTHING = "nothing"  # not queueing (already queued, or gone)


async def queue_next(fx: Effects, announcement_id: int, *, reschedule: bool) -> Queued:
    """Queues the next chunk of people; the last chunk also posts in the Discord channels.

    One transaction per chunk (the caller commits). The cursor guards it: of two
    processes queueing the same chunk, one records it and the other's work rolls back.
    """
    repo = fx.uow.announcements
    announcement = await repo.get(announcement_id)
    if announcement is None or announcement.status is not AnnouncementStatus.QUEUEING:
        return Queued.NOTHING
    org = await fx.uow.orgs.get(announcement.org_id)
    assert org is not None and org.id is not None
    subtree = await fx.uow.orgs.subtree(org.id)
    org_ids = [o.id for o in subtree if o.id is not None]
    channels = await discord_channels(fx, subtree)
    start = announcement.cursor
    chunk = await repo.candidates(
        org_ids, announcement.audience, announcement.interest, after=start, limit=CHUNK
    )
    tally = Tally(
        dict(announcement.by_platform), announcement.via_discord, announcement.unreachable
    )
    payloads: dict[tuple[str, bool], dict[str, Any]] = {}
    entries: list[PrivateMessage] = []
    for candidate in chunk.candidates:
        found = route(candidate, discord_channels=bool(channels))
        tally.add(found)
        if found.kind is not RouteKind.DIRECT:
            continue
        assert found.platform is not None and found.chat_id is not None
        paid = announcement.paid_broadcast and found.platform == "telegram"
        payload = payloads.get((candidate.language, paid))
        if payload is None:
            built = framed(Translator(candidate.language), org, announcement.text)
            payload = replace(built, paid_broadcast=paid).to_json()
            payloads[(candidate.language, paid)] = payload
        entries.append(
            PrivateMessage(
                f"{announcement.batch}:p{candidate.person_id}",
                found.platform,
                found.chat_id,
                candidate.person_id,
                payload,
            )
        )
    finished = chunk.last
    step = QueueStep(
        cursor=chunk.cursor,
        direct=tally.direct,
        via_discord=tally.via_discord,
        unreachable=tally.unreachable,
        by_platform=tally.by_platform,
        finished=finished,
        channel_posts=len(channels) if finished else 0,
    )
    if not await repo.advance(announcement_id, start, step, fx.now):
        if reschedule:  # make sure someone carries on, whoever stopped
            await fx.schedule(
                f"{announcement.batch}:queue:{start}:retry:{fx.now.isoformat()}",
                QUEUE_TIMER,
                fx.now + RETRY_LOST_RACE,
                {"announcement": announcement_id},
            )
        return Queued.LOST
    await repo.queue(entries, batch=announcement.batch, now=fx.now)
    if not finished:
        if reschedule:
            await fx.schedule(
                f"{announcement.batch}:queue:{step.cursor}",
                QUEUE_TIMER,
                fx.now,
                {"announcement": announcement_id},
            )
        return Queued.MORE
    await _post_in_channels(fx, announcement, org, subtree, channels)
    await fx.schedule(
        f"{announcement.batch}:check:1",
        CHECK_TIMER,
        fx.now + CHECK_EVERY,
        {"announcement": announcement_id, "n": 1},
    )
    await tell_author(fx, announcement, lambda t: started(t, announcement, org), key="started")
    return Queued.FINISHED


async def _post_in_channels(
    fx: Effects,
    announcement: Announcement,
    org: Organisation,
    subtree: Sequence[Organisation],
    channels: Sequence[tuple[Channel, Organisation]],
) -> None:
    """One post per Discord channel, mentioning the nearest opt-in role, each role once."""
    roles = dict(fx.settings.announcement_roles)
    by_id = {o.id: o for o in subtree}
    mentioned: set[str] = set()
    for channel, channel_org in channels:
        role: str | None = None
        current: Organisation | None = channel_org
        while current is not None:  # up from the channel's organisation to the announcing one
            role = roles.get(current.slug)
            if role is not None or current.id == org.id:
                break
            current = by_id.get(current.parent_id)
        if role in mentioned:
            role = None
        if role is not None:
            mentioned.add(role)
        post = replace(
            framed(Translator(channel_org.language), org, announcement.text), mention_role=role
        )
        await enqueue(
            fx.uow,
            key=f"{announcement.channel_batch}:{channel.platform}:{channel.chat_id}",
            platform=channel.platform,
            chat_id=channel.chat_id,
            direct=False,
            message=post,
            now=fx.now,
            batch=announcement.channel_batch,
        )


async def progress_of(fx: Effects, announcement: Announcement) -> Progress:
    """The outbox's count while it runs; the figures kept at the end once it is done."""
    if announcement.status is AnnouncementStatus.DONE:
        return announcement.final()
    return await fx.uow.announcements.progress(announcement)


async def finish(fx: Effects, announcement: Announcement, progress: Progress) -> bool:
    """Marks it done, once, and gives the author the final report."""
    assert announcement.id is not None
    if not await fx.uow.announcements.finish(announcement.id, fx.now, progress):
        return False
    org = await fx.uow.orgs.get(announcement.org_id)
    if org is not None:
        await tell_author(
            fx, announcement, lambda t: report(t, announcement, org, progress), key="report"
        )
    return True


async def tell_author(
    fx: Effects, announcement: Announcement, build: MessageFor, *, key: str
) -> None:
    """A private message to the author, once per key; none from the command line."""
    if announcement.author_id is None:
        return  # `samtal announce` prints its own progress
    author = await fx.uow.people.get(announcement.author_id)
    if author is not None:
        await fx.notify(author, build, key=f"{announcement.batch}:{key}")
