"""What announcement messages look like: pure functions of the data and a Translator.

The preview an organiser sees, the announcement as people get it (`framed`), and what the
author is told while it goes out. `bot.announcements.service` decides when.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from babel.numbers import format_decimal

from bot.announcements.model import (
    Announcement,
    AnnouncementStatus,
    Audience,
    Plan,
    Progress,
    estimate_seconds,
    paid_cost,
    time_left,
)
from bot.domain.channels import EMAIL
from bot.domain.organisations import Organisation
from bot.formatting import day
from bot.i18n import N_, Translator
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, message
from bot.welcome.model import INTERESTS

if TYPE_CHECKING:
    from bot.context import Effects

AUDIENCE_BUTTONS = {
    Audience.EVERYONE: N_("Everyone"),
    Audience.MEMBERS: N_("Members"),
    Audience.GUESTS: N_("Guests"),
    Audience.INTEREST: N_("An interest group"),
}
PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "console"}
EMAIL_NAME = N_("email")  # the one channel whose name is a word, not a brand


def framed(t: Translator, org: Organisation, text: str) -> OutgoingMessage:
    """The announcement as people get it: a line in their language, then the text as written."""
    return (
        MessageBuilder()
        .line(bold(t("Announcement from {org}").format(org=org.name)))
        .paragraph(text)
        .build()
    )


def audience_question(t: Translator, org: Organisation) -> OutgoingMessage:
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


def audience_name(
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


def preview(t: Translator, draft: Announcement, org: Organisation, plan: Plan) -> OutgoingMessage:
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
                audience=audience_name(t, draft.audience, draft.interest, org)
            )
        )
        .line(t("Recipients: {n}").format(n=_number(t, tally.direct + tally.via_discord)))
    )
    for platform, count in sorted(tally.by_platform.items()):
        text.line(
            t.ngettext(
                "– {platform}: {n} private message", "– {platform}: {n} private messages", count
            ).format(platform=_platform(t, platform), n=_number(t, count))
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


def progress_buttons(t: Translator, announcement: Announcement) -> list[list[Button]]:
    if announcement.status is AnnouncementStatus.DONE:
        return []
    return [[Button(t("Show progress"), Action("announce.progress", (str(announcement.id),)))]]


def started(t: Translator, announcement: Announcement, org: Organisation) -> OutgoingMessage:
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
    return message(" ".join(lines), buttons=progress_buttons(t, announcement))


def progress_message(
    t: Translator, announcement: Announcement, org: Organisation, progress: Progress, fx: Effects
) -> OutgoingMessage:
    return message(
        t("Announcement from {org}: {sent} of {total} delivered, {left}.").format(
            org=org.name,
            sent=_number(t, progress.sent),
            total=_number(t, progress.total),
            left=_left(t, announcement, progress, fx),
        ),
        buttons=progress_buttons(t, announcement),
    )


def stalled_notice(
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
        buttons=progress_buttons(t, announcement),
    )


def report(
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


def _platform(t: Translator, platform: str) -> str:
    return t(EMAIL_NAME) if platform == EMAIL else PLATFORM_NAMES.get(platform, platform)
