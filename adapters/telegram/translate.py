"""Pure translation between Telegram and the core: updates to events, messages to HTML chunks.

All text from the core is escaped (it may carry what people typed); the only
markup is what the spans' styles ask for. Messages are split at Telegram's
limit measured on the visible text, the way Telegram counts it after parsing
the entities (in UTF-16 code units, which is never less than characters).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Chat as TelegramChat
from telegram import Update
from telegram import User as TelegramUser

from bot.events import ButtonPressed, Chat, Event, PollAnswered, Quoted, Sender, TextReceived
from bot.messages import OutgoingMessage, Span, Style, split_spans

PLATFORM = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
TOAST_LIMIT = 200


def sender_of(user: TelegramUser) -> Sender:
    return Sender(
        PLATFORM,
        str(user.id),
        display_name=user.full_name or user.username or str(user.id),
        username=user.username,
        language=user.language_code,
    )


def event_from_update(update: Update) -> Event | None:
    """The core's event for an update, or None for updates the bot does not act on."""
    event_id = f"u{update.update_id}"
    if update.poll_answer is not None:  # a vote in one of the bot's (non-anonymous) polls
        answer = update.poll_answer
        user = answer.user
        if user is None or user.is_bot:  # voted as a chat: no person to count
            return None
        return PollAnswered(
            event_id,
            sender_of(user),
            Chat(PLATFORM, str(user.id), is_private=True),  # where a refusal is told
            handle=answer.poll_id,
            options=tuple(answer.option_ids),
        )
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or not isinstance(query.data, str):
            return None
        return ButtonPressed(
            event_id, sender_of(query.from_user), chat_of(message.chat), query.data
        )
    message = update.message
    if message is None or message.from_user is None or message.text is None:
        return None
    if message.from_user.is_bot:
        return None
    quoted = message.reply_to_message
    reply_to = None
    if quoted is not None and quoted.from_user is not None and not quoted.from_user.is_bot:
        reply_to = Quoted(sender_of(quoted.from_user), quoted.text or quoted.caption or "")
    return TextReceived(
        event_id, sender_of(message.from_user), chat_of(message.chat), message.text, reply_to
    )


def chat_of(chat: TelegramChat) -> Chat:
    private = chat.type == TelegramChat.PRIVATE
    return Chat(PLATFORM, str(chat.id), is_private=private, title=None if private else chat.title)


def render_span(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    match span.style:
        case Style.BOLD:
            return f"<b>{text}</b>"
        case Style.ITALIC:
            return f"<i>{text}</i>"
        case Style.LINK if span.url and span.url.startswith(("http://", "https://", "tg://")):
            return f'<a href="{html.escape(span.url, quote=True)}">{text}</a>'
    return text


def render_html(spans: Sequence[Span]) -> str:
    return "".join(render_span(span) for span in spans)


def visible_length(spans: Sequence[Span]) -> int:
    """What Telegram counts against its limit: the text after parsing, in UTF-16 code units."""
    return sum(len(span.text.encode("utf-16-le")) // 2 for span in spans)


# An InlineKeyboardMarkup as the Bot API's JSON. It goes to python-telegram-bot's
# send_message as it is (`api_kwargs`), not as its objects: building them and their
# `to_dict` for each send were a fifth of a reply's CPU.
Keyboard = dict[str, list[list[dict[str, str]]]]


@dataclass(frozen=True)
class Chunk:
    html: str
    keyboard: Keyboard | None


def chunks_of(
    message: OutgoingMessage, limit: int = TEXT_LIMIT, *, private_chat_url: str | None = None
) -> list[Chunk]:
    """HTML texts within the limit; the keyboard goes with the last one.

    In a group, a message that asks someone to /start the bot gets a button
    to the bot's private chat, where Telegram offers them the Start button.
    """
    parts = split_spans(message.spans, limit, visible_length, additive=True) or [[Span("…")]]
    keyboard = keyboard_of(message)
    if private_chat_url and "/start" in message.plain_text:
        rows = list(keyboard["inline_keyboard"]) if keyboard else []
        rows.append(
            [{"text": "→ " + private_chat_url.removeprefix("https://"), "url": private_chat_url}]
        )
        keyboard = {"inline_keyboard": rows}
    return [
        Chunk(render_html(part), keyboard if index == len(parts) - 1 else None)
        for index, part in enumerate(parts)
    ]


def keyboard_of(message: OutgoingMessage) -> Keyboard | None:
    rows: list[list[dict[str, str]]] = []
    for row in message.buttons:
        buttons = []
        for button in row:
            token = button.token or ""
            if not token or len(token.encode()) > CALLBACK_DATA_LIMIT:
                raise ValueError(f"button {button.label!r} has no usable token")
            buttons.append({"text": button.label, "callback_data": token})
        if buttons:
            rows.append(buttons)
    return {"inline_keyboard": rows} if rows else None


def toast_text(text: str) -> str:
    return text if len(text) <= TOAST_LIMIT else text[: TOAST_LIMIT - 1] + "…"
