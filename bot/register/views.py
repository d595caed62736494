"""The member register's messages: pure functions of the data and a Translator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from babel.dates import format_date

from bot.context import MessageFor
from bot.i18n import N_, Translator
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, link, message
from bot.register.model import Reach, RegisterEntry

SHOWN = 50  # unpaid members listed in one message; the rest are counted


def the_date(t: Translator, value: date) -> str:
    return str(format_date(value, "d MMMM y", locale=t.language))


def welcome(name: str, org: str, telegram: str, discord: str, command: str) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            bold(t("Welcome to {org}, {name}!").format(org=org, name=name))
        )
        text.paragraph(
            t(
                "You are in the member register of {org}, so I, Samtal, the branch's chat "
                "bot, am writing to you. In the coming month a contact person will get in "
                "touch, and you get a short introduction: meetings, study circles and ways "
                "to take part."
            ).format(org=org)
        )
        text.paragraph(t("Join us in chat, where most things happen:"))
        if telegram:
            text.line(t("Telegram: "), link(telegram, telegram))
        if discord:
            text.line(t("Discord: "), link(discord, discord))
        text.line(
            t(
                "Or write {command} to the bot on Telegram or Discord: it is your personal link."
            ).format(command=command)
        )
        text.paragraph(t("If you would rather not use chat, the introduction comes here instead."))
        return text.build()

    return build


def link_not_valid(t: Translator) -> OutgoingMessage:
    return message(t("That link is not valid any more. Ask for a new one."))


def already_another(t: Translator, number: str) -> OutgoingMessage:
    return message(
        t(
            "This account already belongs to member {number} in the register. If that is "
            "wrong, ask your member officer."
        ).format(number=number)
    )


def linked(t: Translator, name: str, org: str) -> OutgoingMessage:
    return message(
        t(
            "Welcome, {name}! I now know that you are the member of {org} in the register: "
            "your introduction and messages come here."
        ).format(name=name, org=org)
    )


def already_linked(t: Translator) -> OutgoingMessage:
    return message(t("This account is already connected to that membership."))


def code_mail(t: Translator, code: str) -> OutgoingMessage:
    return message(
        t(
            "Someone asked to connect a chat account to your membership. If it was you, "
            "write /koppla {code} to me in that chat within 15 minutes. If it was not, "
            "ignore this message."
        ).format(code=code)
    )


def code_sent(t: Translator) -> OutgoingMessage:
    return message(
        t(
            "If that member number is in the register with an e-mail address, I have sent a "
            "code there. Write /koppla and the code to me here when you get it."
        )
    )


def unpaid_reminder(
    t: Translator, name: str, org: str, paid_until: date, url: str
) -> OutgoingMessage:
    text = MessageBuilder().line(
        t(
            "Hi {name}! Your membership of {org} was paid until {date}. We would love to "
            "keep you with us: you can renew the fee whenever it suits you."
        ).format(name=name, org=org, date=the_date(t, paid_until))
    )
    if url:
        text.line(link(url, url))
    text.paragraph(
        t("Thank you for being part of it! If you have already paid, ignore this message.")
    )
    return text.build()


def unpaid_list(
    t: Translator,
    org: str,
    org_id: int,
    entries: Sequence[RegisterEntry],
    preview: OutgoingMessage,
    due: int,
) -> OutgoingMessage:
    if not entries:
        return message(t("Nobody in {org} has an unpaid fee in the register.").format(org=org))
    text = MessageBuilder().line(
        bold(
            t.ngettext(
                "{count} member of {org} whose fee has run out",
                "{count} members of {org} whose fee has run out",
                len(entries),
            ).format(count=len(entries), org=org)
        )
    )
    for entry in entries[:SHOWN]:
        assert entry.paid_until is not None
        line = t("{name} ({number}): paid until {date}").format(
            name=entry.name, number=entry.member_number, date=the_date(t, entry.paid_until)
        )
        if entry.reminded_at is not None:
            line += t(", reminded {date}").format(date=the_date(t, entry.reminded_at.date()))
        text.line(line)
    if len(entries) > SHOWN:
        text.line(t("…and {count} more.").format(count=len(entries) - SHOWN))
    if not due:
        text.paragraph(t("Everyone on the list was reminded in the last 30 days."))
        return text.build()
    text.paragraph(bold(t("The reminder, if you approve it:")))
    text.line(preview.plain_text)
    text.button_row(
        Button(
            t.ngettext("Send it to {count} member", "Send it to {count} members", due).format(
                count=due
            ),
            Action("register.remind", (str(org_id),)),
        )
    )
    return text.build()


def reminders_sent(t: Translator, sent: int, skipped: int) -> OutgoingMessage:
    text = t.ngettext(
        "The reminder is on its way to {count} member.",
        "The reminder is on its way to {count} members.",
        sent,
    ).format(count=sent)
    if skipped:
        text += " " + t.ngettext(
            "{count} was left out: reminded in the last 30 days, or not reachable.",
            "{count} were left out: reminded in the last 30 days, or not reachable.",
            skipped,
        ).format(count=skipped)
    return message(text)


# How each channel is named in the reach line; a platform not listed goes by its own name.
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "discord": "Discord",
    "email": N_("email"),
    "console": N_("console"),
}


def reach_lines(t: Translator, reach: Reach) -> list[str]:
    """Where members can be reached: only the channels some of them use."""
    lines = []
    if reach.members:
        channels = ", ".join(
            f"{t(CHANNEL_NAMES.get(platform, platform))} {count}"
            for platform, count in sorted(reach.by_platform.items(), key=lambda kv: -kv[1])
            if count
        )
        lines.append(
            t("Members who can be reached: {channels}; not at all: {none}").format(
                channels=channels, none=reach.unreachable
            )
            if channels
            else t("No member can be reached in a chat or by email.")
        )
    if reach.registered:
        lines.append(t("In the member register: {count}").format(count=reach.registered))
    return lines


def privacy_lines(t: Translator, entry: RegisterEntry, org: str) -> list[str]:
    return [
        t("In the member register of {org}: member number {number}.").format(
            org=org, number=entry.member_number
        ),
        t(
            "If you ask me to erase you, I keep only a keyed fingerprint of your member "
            "number, so that the next import from the register does not bring you back."
        ),
    ]
