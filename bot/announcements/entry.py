"""/utskick (/announce): an organiser's announcement to the organisation's people.

The organiser chooses the organisation (when they organise several), the
audience (everyone, members, guests or an interest group) and writes the text.
A preview shows exactly what goes out, to how many people on which platform,
how long it takes and, for a paid broadcast, what it costs in Telegram Stars.
Send queues it once, however often it is pressed (the draft is claimed with
one conditional update). Then:

- a timer (`announcement.queue`) writes the private messages to the outbox a
  chunk of people at a time, each chunk in its own transaction guarded by the
  announcement's cursor, so a crash, a restart or the command line queueing
  the same announcement at the same time never writes anyone twice; the last
  chunk posts in the organisations' Discord channels (see
  `bot.announcements.model` for who is reached how);
- a timer (`announcement.check`) counts the outbox batch each minute, tells
  the author at quarter marks (at most every five minutes), tells them once
  when nothing has moved for half an hour, and gives the final report
  (delivered, unreachable, reached through Discord posts) when nothing is
  pending any more.

`samtal announce` (samtal/announce_cli.py) uses the same functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from babel.numbers import format_decimal

from bot.announcements.model import (
    CHECK_EVERY,
    CHUNK,
    DISCORD,
    GIVE_UP_AFTER,
    MAX_TEXT,
    STALLED_CHECK_EVERY,
    Announcement,
    AnnouncementStatus,
    Audience,
    PrivateMessage,
    Progress,
    QueueStep,
    RouteKind,
    Tally,
    estimate_seconds,
    paid_applies,
    paid_cost,
    quarter,
    route,
    should_report,
    stalled,
    time_left,
)
from bot.context import Context, Effects, MessageFor, Refusal
from bot.delivery import enqueue
from bot.dialogs import Dialog, DialogOver, Step
from bot.domain.delivery import Timer
from bot.domain.organisations import Channel, Organisation
from bot.formatting import day
from bot.i18n import N_, Translator
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, message
from bot.parsing import clean_text, parse_id
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry, always
from bot.welcome.model import INTERESTS

QUEUE_TIMER = "announcement.queue"
CHECK_TIMER = "announcement.check"
EXPIRE_TIMER = "announcement.expire"
TEXT_DIALOG = "announcement.text"
DRAFT_KEPT = timedelta(days=1)
RETRY_LOST_RACE = timedelta(minutes=1)
SHOWN_IN_STATUS = 5
PERMISSION = Permission.SEND_ANNOUNCEMENTS

AUDIENCE_BUTTONS = {
    Audience.EVERYONE: N_("Everyone"),
    Audience.MEMBERS: N_("Members"),
    Audience.GUESTS: N_("Guests"),
    Audience.INTEREST: N_("An interest group"),
}
PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "console"}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "utskick",
            "announce",
            N_("Send an announcement to the organisation's members and guests"),
            announce,
            PERMISSION,
            usage=N_("[organisation | status]"),
        )
    )
    for name, handler in (
        ("announce.org", choose_org),
        ("announce.audience", choose_audience),
        ("announce.interest", choose_interest),
        ("announce.send", send),
        ("announce.cancel", cancel),
        ("announce.progress", progress_button),
    ):
        # Each checks the permission in the announcement's own organisation itself.
        registry.action(name, handler, Access.CONSENTED)
    registry.dialog(TEXT)
    # The organiser's own sending and its report: done however late (the words say when).
    registry.timer(QUEUE_TIMER, queue_timer, useful_until=always)
    registry.timer(CHECK_TIMER, check_timer, useful_until=always)
    registry.timer(EXPIRE_TIMER, expire_draft, useful_until=always)


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


def framed(t: Translator, org: Organisation, text: str) -> OutgoingMessage:
    """The announcement as people get it: a line in their language, then the text as written."""
    return (
        MessageBuilder()
        .line(bold(t("Announcement from {org}").format(org=org.name)))
        .paragraph(text)
        .build()
    )


@dataclass(frozen=True)
class Plan:
    """Who an announcement would reach now: the preview's figures."""

    tally: Tally
    channels: int  # Discord channels it is posted in
    paid: bool

    @property
    def reaches_anyone(self) -> bool:
        return self.tally.direct > 0 or self.channels > 0

    @property
    def telegram(self) -> int:
        return self.tally.by_platform.get("telegram", 0)

    @property
    def seconds(self) -> float:
        return estimate_seconds(self.tally.by_platform, self.channels, paid=self.paid)


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
    await _tell_author(fx, announcement, lambda t: _started(t, announcement, org), key="started")
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
        await _tell_author(
            fx, announcement, lambda t: _report(t, announcement, org, progress), key="report"
        )
    return True


# --- /utskick -----------------------------------------------------------------------------------


async def announce(ctx: Context, args: str) -> None:
    word = args.strip().lower()
    if word == "status":
        await show_status(ctx)
        return
    if word:
        org = await ctx.uow.orgs.by_slug(word)
        if org is None or not await ctx.meets(PERMISSION, org):
            raise Refusal(
                ctx.t(
                    "You can't send announcements for {slug}. Write /utskick without a name "
                    "to choose."
                ).format(slug=word)
            )
        options = [org]
    else:
        options = await _announcing_orgs(ctx)
    if not options:
        raise Refusal(ctx.t("Only organisers can send announcements."))
    if ctx.answered_elsewhere:  # asked in a group: the rest happens in private (the reply's way)
        await ctx.reply(_audience_question(ctx.t, options[0]))
        return
    if not ctx.chat.is_private:
        # The group's organisation; the rest happens in private, out of the group's sight.
        chosen = options[0]
        await ctx.notify(
            ctx.person,
            lambda t: _audience_question(t, chosen),
            key=f"announcement:start:{ctx.chat.platform}:{ctx.event_id}",
        )
        await ctx.reply(message(ctx.t("I have sent you a private message to write it.")))
        return
    if len(options) == 1:
        await ctx.reply(_audience_question(ctx.t, options[0]))
        return
    text = (
        MessageBuilder()
        .line(bold(ctx.t("New announcement")))
        .line(ctx.t("From which organisation? It reaches the organisations below it too."))
    )
    for org in options:
        text.button_row(Button(org.name, Action("announce.org", (str(org.id),))))
    await ctx.reply(text.build())


async def _announcing_orgs(ctx: Context) -> list[Organisation]:
    """Where this person may announce: the group's (or their home) organisation first, then
    each organisation where they hold a role that allows it. `/utskick SLUG` reaches any below."""
    found: list[Organisation] = []
    if ctx.org is not None and await ctx.meets(PERMISSION, ctx.org):
        found.append(ctx.org)
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        org = await ctx.uow.orgs.get(role.org_id)
        new = org is not None and all(o.id != org.id for o in found)
        if new and org is not None and await ctx.meets(PERMISSION, org):
            found.append(org)
    return found


async def _permitted_org(ctx: Context, raw_id: str | None) -> Organisation:
    org_id = parse_id(raw_id)
    org = await ctx.uow.orgs.get(org_id) if org_id else None
    if org is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if not await ctx.meets(PERMISSION, org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    return org


def _audience_question(t: Translator, org: Organisation) -> OutgoingMessage:
    org_id = str(org.id)

    def button(audience: Audience) -> Button:
        return Button(
            t(AUDIENCE_BUTTONS[audience]), Action("announce.audience", (org_id, audience.value))
        )

    return (
        MessageBuilder()
        .line(bold(t("Announcement from {org}").format(org=org.name)))
        .line(
            t(
                "Who should get it? It goes to people in {org} and every organisation below it "
                "who have accepted the privacy notice. Everyone means members and guests."
            ).format(org=org.name)
        )
        .button_row(button(Audience.EVERYONE), button(Audience.MEMBERS), button(Audience.GUESTS))
        .button_row(button(Audience.INTEREST))
        .build()
    )


async def choose_org(ctx: Context, args: tuple[str, ...]) -> None:
    org = await _permitted_org(ctx, args[0] if args else None)
    await ctx.reply(_audience_question(ctx.t, org))


async def choose_audience(ctx: Context, args: tuple[str, ...]) -> None:
    org = await _permitted_org(ctx, args[0] if args else None)
    values = {a.value for a in Audience}
    if len(args) < 2 or args[1] not in values:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    audience = Audience(args[1])
    if audience is not Audience.INTEREST:
        await _ask_text(ctx, org, audience, None)
        return
    text = MessageBuilder().line(
        ctx.t(
            "Which interest? It goes to people who named it in their introduction as a new "
            "member and said yes to being asked about it."
        )
    )
    buttons = [
        Button(ctx.t(label), Action("announce.interest", (str(org.id), key)))
        for key, label in INTERESTS.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    await ctx.reply(text.build())


async def choose_interest(ctx: Context, args: tuple[str, ...]) -> None:
    org = await _permitted_org(ctx, args[0] if args else None)
    if len(args) < 2 or args[1] not in INTERESTS:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    await _ask_text(ctx, org, Audience.INTEREST, args[1])


async def _ask_text(
    ctx: Context, org: Organisation, audience: Audience, interest: str | None
) -> None:
    if not ctx.chat.is_private:
        raise Refusal(ctx.t("Let's do it in private: write /utskick to me directly."))
    assert org.id is not None
    await TEXT.start(ctx, AnnouncementText(org.id, audience, interest))


@dataclass
class AnnouncementText:
    """/utskick's one question: the text, for the audience chosen with the buttons."""

    org_id: int
    audience: Audience
    interest: str | None = None
    text: str = ""


async def _text_org(ctx: Context, draft: AnnouncementText) -> Organisation:
    try:
        return await _permitted_org(ctx, str(draft.org_id))
    except Refusal as refusal:
        raise DialogOver(refusal.text) from None


async def _check_text(ctx: Context, draft: AnnouncementText) -> None:
    await _text_org(ctx, draft)


async def _text_prompt(ctx: Context, draft: AnnouncementText) -> str:
    org = await _text_org(ctx, draft)
    return ctx.t.ngettext(
        "{audience}: write the announcement in one message, as it should read (at most "
        "{max} character). It is sent as plain text. /avbryt stops.",
        "{audience}: write the announcement in one message, as it should read (at most "
        "{max} characters). It is sent as plain text. /avbryt stops.",
        MAX_TEXT,
    ).format(audience=_audience_name(ctx.t, draft.audience, draft.interest, org), max=MAX_TEXT)


def _audience_name(
    t: Translator, audience: Audience, interest: str | None, org: Organisation
) -> str:
    match audience:
        case Audience.EVERYONE:
            return t("Everyone in {org}").format(org=org.name)
        case Audience.MEMBERS:
            return t("Members in {org}").format(org=org.name)
        case Audience.GUESTS:
            return t("Guests in {org}").format(org=org.name)
    label = t(INTERESTS[interest]) if interest in INTERESTS else "?"
    return t("Interested in {interest} in {org}").format(interest=label, org=org.name)


def _read_text(ctx: Context, text: str, draft: AnnouncementText) -> str:
    body = clean_announcement(text)
    if not body:
        raise Refusal(ctx.t("Write the text of the announcement, or /avbryt to stop."))
    if len(body) > MAX_TEXT:
        raise Refusal(
            ctx.t.ngettext(
                "That is {n} character; an announcement can have at most {max}. Shorten it "
                "and send it again.",
                "That is {n} characters; an announcement can have at most {max}. Shorten it "
                "and send it again.",
                len(body),
            ).format(n=len(body), max=MAX_TEXT)
        )
    return body


async def _prepare(ctx: Context, text: AnnouncementText) -> None:
    """Saves the announcement as a draft and shows it as it will be sent, with the count."""
    org = await _text_org(ctx, text)
    audience, interest, body = text.audience, text.interest, text.text
    org_id = org.id
    assert org_id is not None
    plan = await plan_audience(ctx, org, audience, interest)
    if not plan.reaches_anyone:
        await ctx.reply(
            message(
                ctx.t(
                    "No one in that audience can get a message from me yet, so nothing was "
                    "saved. Write /utskick to choose another audience."
                )
            )
        )
        return
    draft = await ctx.uow.announcements.add(
        Announcement(
            org_id=org_id,
            text=body,
            audience=audience,
            created_at=ctx.now,
            author_id=ctx.person_id,
            interest=interest,
            paid_broadcast=plan.paid,
        )
    )
    assert draft.id is not None
    await ctx.schedule(
        f"{draft.batch}:expire", EXPIRE_TIMER, ctx.now + DRAFT_KEPT, {"announcement": draft.id}
    )
    await ctx.reply(framed(ctx.t, org, body))
    await ctx.reply(_preview(ctx.t, draft, org, plan))


TEXT: Dialog[AnnouncementText] = Dialog(
    name=TEXT_DIALOG,
    draft=AnnouncementText,
    check=_check_text,
    steps=(Step("text", _text_prompt, parse=_read_text),),
    finish=_prepare,
)


def _preview(t: Translator, draft: Announcement, org: Organisation, plan: Plan) -> OutgoingMessage:
    tally = plan.tally
    text = (
        MessageBuilder()
        .line(bold(t("Ready to send?")))
        .line(
            t(
                "Above is exactly what will be sent; the first line is in each person's "
                "own language."
            )
        )
        .paragraph(
            t("To: {audience} and the organisations below it").format(
                audience=_audience_name(t, draft.audience, draft.interest, org)
            )
        )
        .line(t("Recipients: {n}").format(n=_number(t, tally.direct + tally.via_discord)))
    )
    for platform, count in sorted(tally.by_platform.items()):
        text.line(
            t.ngettext(
                "– {platform}: {n} private message", "– {platform}: {n} private messages", count
            ).format(platform=_platform(platform), n=_number(t, count))
        )
    if plan.channels:
        text.line(
            t.ngettext(
                "– Discord: a post in {channels} channel; reached only there: {n}",
                "– Discord: a post in each of {channels} channels; reached only there: {n}",
                plan.channels,
            ).format(channels=_number(t, plan.channels), n=_number(t, tally.via_discord))
        )
    if tally.unreachable:
        text.line(
            t("Not reachable now: {n} (no chat with me that works)").format(
                n=_number(t, tally.unreachable)
            )
        )
    text.line(t("Sending takes {duration}.").format(duration=duration(t, plan.seconds)))
    if plan.paid:
        text.paragraph(
            t(
                "{org} uses Telegram's paid broadcast for big announcements: up to 1000 "
                "messages a second. It costs {stars} Telegram Stars (0.1 Star a message)."
            ).format(org=org.name, stars=_stars(t, plan.telegram))
        )
    assert draft.id is not None
    text.button_row(
        Button(t("Send"), Action("announce.send", (str(draft.id),))),
        Button(t("Cancel"), Action("announce.cancel", (str(draft.id),))),
    )
    return text.build()


async def _own_announcement(
    ctx: Context, args: tuple[str, ...]
) -> tuple[Announcement, Organisation]:
    announcement_id = parse_id(args[0]) if args else None
    announcement = await ctx.uow.announcements.get(announcement_id) if announcement_id else None
    if announcement is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    org = await _permitted_org(ctx, str(announcement.org_id))
    return announcement, org


async def send(ctx: Context, args: tuple[str, ...]) -> None:
    announcement, _org = await _own_announcement(ctx, args)
    assert announcement.id is not None
    if announcement.author_id != ctx.person_id:
        raise Refusal(ctx.t("That button belongs to someone else."))
    if not await ctx.uow.announcements.claim_draft(announcement.id, ctx.now):
        await ctx.reply(
            message(
                ctx.t(
                    "That announcement is already on its way. /utskick status shows how far "
                    "it has come."
                )
            )
        )
        return
    await ctx.uow.timers.cancel(f"{announcement.batch}:expire")
    await start_sending(ctx, announcement)
    await ctx.reply(message(ctx.t("Sending it now. I will tell you how it goes.")))


async def cancel(ctx: Context, args: tuple[str, ...]) -> None:
    announcement, _org = await _own_announcement(ctx, args)
    assert announcement.id is not None
    if announcement.author_id != ctx.person_id:
        raise Refusal(ctx.t("That button belongs to someone else."))
    if not await ctx.uow.announcements.drop_draft(announcement.id):
        await ctx.reply(
            message(ctx.t("That announcement is already on its way and can't be stopped."))
        )
        return
    await ctx.uow.timers.cancel(f"{announcement.batch}:expire")
    await ctx.reply(message(ctx.t("Cancelled. Nothing was sent.")))


async def progress_button(ctx: Context, args: tuple[str, ...]) -> None:
    announcement, org = await _own_announcement(ctx, args)
    progress = await progress_of(ctx, announcement)
    await ctx.reply(
        message(
            status_line(ctx.t, announcement, org, progress, ctx),
            buttons=_progress_buttons(ctx.t, announcement),
        )
    )


async def show_status(ctx: Context) -> None:
    org_ids: list[int] = []
    names: dict[int, Organisation] = {}
    for org in await _announcing_orgs(ctx):
        assert org.id is not None
        for below in await ctx.uow.orgs.subtree(org.id):
            if below.id is not None and below.id not in names:
                org_ids.append(below.id)
                names[below.id] = below
    recent = await ctx.uow.announcements.recent(org_ids, SHOWN_IN_STATUS)
    text = MessageBuilder().line(bold(ctx.t("Announcements")))
    if not recent:
        text.line(ctx.t("None sent yet. Write /utskick to send one."))
    for announcement in recent:
        progress = await progress_of(ctx, announcement)
        text.line(status_line(ctx.t, announcement, names[announcement.org_id], progress, ctx))
    await ctx.reply(text.build())


def status_line(
    t: Translator,
    announcement: Announcement,
    org: Organisation,
    progress: Progress,
    fx: Effects,
) -> str:
    head = t("#{id} from {org}, {day}").format(
        id=announcement.id, org=org.name, day=day(announcement.created_at, org.zone, t)
    )
    if announcement.status is AnnouncementStatus.QUEUEING:
        return t("{head}: being queued, {n} so far").format(
            head=head, n=_number(t, announcement.direct)
        )
    if announcement.status is AnnouncementStatus.DONE:
        return t("{head}: done. {report}").format(
            head=head, report=_report_line(t, announcement, progress)
        )
    return t("{head}: {sent} of {total} delivered, {left}").format(
        head=head,
        sent=_number(t, progress.sent),
        total=_number(t, progress.total),
        left=_left(t, announcement, progress, fx),
    )


def _progress_buttons(t: Translator, announcement: Announcement) -> list[list[Button]]:
    if announcement.status is AnnouncementStatus.DONE:
        return []
    return [[Button(t("Show progress"), Action("announce.progress", (str(announcement.id),)))]]


# --- timers -------------------------------------------------------------------------------------


async def queue_timer(fx: Effects, timer: Timer) -> None:
    await queue_next(fx, int(timer.payload["announcement"]), reschedule=True)


async def expire_draft(fx: Effects, timer: Timer) -> None:
    await fx.uow.announcements.drop_draft(int(timer.payload["announcement"]))


async def check_timer(fx: Effects, timer: Timer) -> None:
    announcement = await fx.uow.announcements.get(int(timer.payload["announcement"]))
    if announcement is None or announcement.status is not AnnouncementStatus.SENDING:
        return
    org = await fx.uow.orgs.get(announcement.org_id)
    assert org is not None
    progress = await progress_of(fx, announcement)
    now = fx.now
    started = announcement.queued_at or now
    if progress.finished or now - started >= GIVE_UP_AFTER:
        await finish(fx, announcement, progress)
        return
    if progress.done != announcement.moved_done:
        announcement.moved_done, announcement.moved_at = progress.done, now
        announcement.stall_told = False
    if should_report(announcement, progress, now):
        mark = quarter(progress.done, progress.total)
        await _tell_author(
            fx,
            announcement,
            lambda t: _progress_message(t, announcement, org, progress, fx),
            key=f"progress:{mark}",
        )
        announcement.reported_quarter, announcement.reported_at = mark, now
    elif stalled(announcement, now) and not announcement.stall_told:
        await _tell_author(
            fx,
            announcement,
            lambda t: _stalled(t, announcement, org, progress),
            key=f"stalled:{announcement.moved_done}",
        )
        announcement.stall_told = True
    number = int(timer.payload.get("n", 1)) + 1
    wait = STALLED_CHECK_EVERY if stalled(announcement, now) else CHECK_EVERY
    await fx.schedule(
        f"{announcement.batch}:check:{number}",
        CHECK_TIMER,
        now + wait,
        {"announcement": announcement.id, "n": number},
    )


# --- what the author is told --------------------------------------------------------------------


async def _tell_author(
    fx: Effects, announcement: Announcement, build: MessageFor, *, key: str
) -> None:
    """A private message to the author, once per key; none from the command line."""
    if announcement.author_id is None:
        return  # `samtal announce` prints its own progress
    author = await fx.uow.people.get(announcement.author_id)
    if author is not None:
        await fx.notify(author, build, key=f"{announcement.batch}:{key}")


def _started(t: Translator, announcement: Announcement, org: Organisation) -> OutgoingMessage:
    lines = [
        t.ngettext(
            "Your announcement from {org} is on its way: {n} private message.",
            "Your announcement from {org} is on its way: {n} private messages.",
            announcement.direct,
        ).format(org=org.name, n=_number(t, announcement.direct))
    ]
    if announcement.channel_posts:
        lines.append(
            t.ngettext(
                "It is also posted in {n} Discord channel.",
                "It is also posted in {n} Discord channels.",
                announcement.channel_posts,
            ).format(n=_number(t, announcement.channel_posts))
        )
    seconds = estimate_seconds(
        announcement.by_platform, announcement.channel_posts, paid=announcement.paid_broadcast
    )
    lines.append(t("Sending takes {duration}.").format(duration=duration(t, seconds)))
    return message(" ".join(lines), buttons=_progress_buttons(t, announcement))


def _progress_message(
    t: Translator, announcement: Announcement, org: Organisation, progress: Progress, fx: Effects
) -> OutgoingMessage:
    return message(
        t("Announcement from {org}: {sent} of {total} delivered, {left}.").format(
            org=org.name,
            sent=_number(t, progress.sent),
            total=_number(t, progress.total),
            left=_left(t, announcement, progress, fx),
        ),
        buttons=_progress_buttons(t, announcement),
    )


def _stalled(
    t: Translator, announcement: Announcement, org: Organisation, progress: Progress
) -> OutgoingMessage:
    return message(
        t.ngettext(
            "Nothing of your announcement from {org} has gone out for half an hour; {n} "
            "message is waiting. It goes out as soon as the bot runs for its platform: ask "
            "whoever runs it.",
            "Nothing of your announcement from {org} has gone out for half an hour; {n} "
            "messages are waiting. They go out as soon as the bot runs for their platform: "
            "ask whoever runs it.",
            progress.pending,
        ).format(org=org.name, n=_number(t, progress.pending)),
        buttons=_progress_buttons(t, announcement),
    )


def _report(
    t: Translator, announcement: Announcement, org: Organisation, progress: Progress
) -> OutgoingMessage:
    text = MessageBuilder().line(
        bold(t("Your announcement from {org} has been sent").format(org=org.name))
    )
    text.line(t("Delivered: {n}").format(n=_number(t, progress.sent)))
    text.line(
        t("Unreachable: {n}").format(n=_number(t, announcement.unreachable + progress.failed))
    )
    if announcement.channel_posts or announcement.via_discord:
        text.line(
            t.ngettext(
                "Reached through the post in {channels} Discord channel: {n}",
                "Reached through the posts in {channels} Discord channels: {n}",
                progress.posts_sent,
            ).format(
                channels=_number(t, progress.posts_sent), n=_number(t, announcement.via_discord)
            )
        )
    if progress.pending:
        text.line(
            t("Still waiting after a week, no longer followed: {n}").format(
                n=_number(t, progress.pending)
            )
        )
    return text.build()


def _report_line(t: Translator, announcement: Announcement, progress: Progress) -> str:
    line = t("Delivered: {sent}, unreachable: {unreachable}").format(
        sent=_number(t, progress.sent),
        unreachable=_number(t, announcement.unreachable + progress.failed),
    )
    if announcement.via_discord:
        line += ", " + t("through Discord posts: {n}").format(
            n=_number(t, announcement.via_discord)
        )
    return line + "."


def _left(t: Translator, announcement: Announcement, progress: Progress, fx: Effects) -> str:
    if progress.finished:
        return t("nothing left")
    seconds = time_left(announcement, progress, fx.now).total_seconds()
    return t("{duration} left").format(duration=duration(t, seconds))


def duration(t: Translator, seconds: float) -> str:
    """'less than a minute', 'about 12 minutes', 'about 2 hours 5 minutes'."""
    if seconds < 60:
        return t("less than a minute")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return t.ngettext("about {n} minute", "about {n} minutes", minutes).format(n=minutes)
    hours, rest = divmod(minutes, 60)
    text = t.ngettext("about {n} hour", "about {n} hours", hours).format(n=hours)
    if rest:
        text += " " + t.ngettext("{n} minute", "{n} minutes", rest).format(n=rest)
    return text


def _number(t: Translator, n: int) -> str:
    return format_decimal(n, locale=t.language)


def _stars(t: Translator, telegram_messages: int) -> str:
    return format_decimal(paid_cost(telegram_messages), locale=t.language)


def _platform(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)
