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

`samtal announce` (samtal/announce_cli.py) uses the same functions, from
`bot.announcements.service`; the wording is in `bot.announcements.views`.
"""

from __future__ import annotations

from typing import Any

from bot.actions import Choice
from bot.announcements import views
from bot.announcements.dialogs import TEXT, AnnouncementText
from bot.announcements.model import (
    CHECK_EVERY,
    GIVE_UP_AFTER,
    STALLED_CHECK_EVERY,
    AnnouncementStatus,
    Audience,
    quarter,
    should_report,
    stalled,
)
from bot.announcements.service import (
    ANNOUNCEMENT,
    CHECK_TIMER,
    EXPIRE_TIMER,
    ORGANISATION,
    PERMISSION,
    QUEUE_TIMER,
    finish,
    progress_of,
    queue_next,
    start_sending,
    tell_author,
)
from bot.context import Context, Effects, Refusal
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.messages import Action, Button, MessageBuilder, bold, message
from bot.registry import CommandSpec, Registry, always
from bot.welcome.model import INTERESTS

SHOWN_IN_STATUS = 5


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
    # The core loads the organisation or announcement and checks the permission there.
    registry.action("announce.org", choose_org, PERMISSION, args=(ORGANISATION,))
    registry.action("announce.audience", choose_audience, PERMISSION, args=(ORGANISATION, Audience))
    registry.action(
        "announce.interest", choose_interest, PERMISSION, args=(ORGANISATION, Choice(*INTERESTS))
    )
    registry.action("announce.send", send, PERMISSION, args=(ANNOUNCEMENT,))
    registry.action("announce.cancel", cancel, PERMISSION, args=(ANNOUNCEMENT,))
    registry.action("announce.progress", progress_button, PERMISSION, args=(ANNOUNCEMENT,))
    registry.dialog(TEXT)
    # The organiser's own sending and its report: done however late (the words say when).
    registry.timer(QUEUE_TIMER, queue_timer, useful_until=always)
    registry.timer(CHECK_TIMER, check_timer, useful_until=always)
    registry.timer(EXPIRE_TIMER, expire_draft, useful_until=always)


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
        await ctx.reply(views.audience_question(ctx.t, options[0]))
        return
    if not ctx.chat.is_private:
        # The group's organisation; the rest happens in private, out of the group's sight.
        chosen = options[0]
        await ctx.notify(
            ctx.person,
            lambda t: views.audience_question(t, chosen),
            key=f"announcement:start:{ctx.chat.platform}:{ctx.event_id}",
        )
        await ctx.reply(message(ctx.t("I have sent you a private message to write it.")))
        return
    if len(options) == 1:
        await ctx.reply(views.audience_question(ctx.t, options[0]))
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


async def choose_org(ctx: Context, args: tuple[Any, ...]) -> None:
    (org,) = args
    await ctx.reply(views.audience_question(ctx.t, org))


async def choose_audience(ctx: Context, args: tuple[Any, ...]) -> None:
    org, audience = args
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


async def choose_interest(ctx: Context, args: tuple[Any, ...]) -> None:
    org, interest = args
    await _ask_text(ctx, org, Audience.INTEREST, interest)


async def _ask_text(
    ctx: Context, org: Organisation, audience: Audience, interest: str | None
) -> None:
    if not ctx.chat.is_private:
        raise Refusal(ctx.t("Let's do it in private: write /utskick to me directly."))
    assert org.id is not None
    await TEXT.start(ctx, AnnouncementText(org.id, audience, interest))


async def send(ctx: Context, args: tuple[Any, ...]) -> None:
    (announcement,) = args
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


async def cancel(ctx: Context, args: tuple[Any, ...]) -> None:
    (announcement,) = args
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


async def progress_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (announcement,) = args
    org = await ctx.uow.orgs.get(announcement.org_id)
    assert org is not None
    progress = await progress_of(ctx, announcement)
    await ctx.reply(
        message(
            views.status_line(ctx.t, announcement, org, progress, ctx),
            buttons=views.progress_buttons(ctx.t, announcement),
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
        text.line(views.status_line(ctx.t, announcement, names[announcement.org_id], progress, ctx))
    await ctx.reply(text.build())


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
        await tell_author(
            fx,
            announcement,
            lambda t: views.progress_message(t, announcement, org, progress, fx),
            key=f"progress:{mark}",
        )
        announcement.reported_quarter, announcement.reported_at = mark, now
    elif stalled(announcement, now) and not announcement.stall_told:
        await tell_author(
            fx,
            announcement,
            lambda t: views.stalled_notice(t, announcement, org, progress),
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
