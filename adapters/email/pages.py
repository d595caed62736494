"""The small web pages behind an email's links (served by samtal/mail.py): confirm, then act.

Every page is the same plain HTML with the words escaped; a form's button POSTs to
the same address, so opening a link never acts by itself.
"""

from __future__ import annotations

import html

from bot.i18n import Translator


def page(t: Translator, title: str, text: str, *, button: str = "", action: str = "") -> str:
    form = ""
    if button:
        form = (
            f'<form method="post" action="{html.escape(action, quote=True)}">'
            f'<button type="submit">{html.escape(button)}</button></form>'
        )
    return (
        f'<!DOCTYPE html><html lang="{t.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form}</body></html>"
    )


def broken(t: Translator) -> str:
    return page(
        t,
        t("This link does not work"),
        t("It may be mistyped, or it belonged to an account that is gone."),
    )


def unsubscribe_question(t: Translator, address: str) -> str:
    return page(
        t,
        t("No more emails from Samtal?"),
        t(
            "Press the button and Samtal sends no more email to {address}. Messages in a "
            "chat app, if you use one, still come."
        ).format(address=address),
        button=t("Stop the emails"),
    )


def unsubscribed(t: Translator, address: str) -> str:
    return page(
        t,
        t("No more emails"),
        t("Samtal sends no more email to {address}. Changed your mind? Press the button.").format(
            address=address
        ),
        button=t("Send me email again"),
        action="?resume=1",
    )


def resumed(t: Translator, address: str) -> str:
    return page(
        t,
        t("Email again"),
        t("Samtal sends email to {address} again.").format(address=address),
    )


def press_question(t: Translator, label: str) -> str:
    return page(
        t,
        t("Answer “{label}”?").format(label=label),
        t("Press the button to send your answer."),
        button=t("Send the answer"),
    )


def pressed(t: Translator, answer: str | None) -> str:
    return page(
        t,
        t("Thank you"),
        answer or t("Your answer is recorded. A confirmation is on its way by email."),
    )


def in_chat(t: Translator, bot_url: str) -> str:
    text = t("This is done in a chat with the bot.")
    if bot_url:
        text = f"{text} {bot_url}"
    return page(t, t("Continue in the chat"), text)
