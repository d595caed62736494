"""What adapters hand to the core: platform events translated into neutral terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sender:
    platform: str
    external_id: str
    display_name: str
    username: str | None = None
    language: str | None = None  # the client's language, a hint for first contact
    # The sender's roles on the platform where it says (a Discord server member's role ids);
    # None where the platform does not say (DMs, Telegram): roles are then left as they are.
    roles: frozenset[str] | None = None


@dataclass(frozen=True)
class Chat:
    """Where something was said. In a private chat `chat_id` is the sender's own id."""

    platform: str
    chat_id: str
    is_private: bool
    title: str | None = None


@dataclass(frozen=True)
class Quoted:
    """The message a line answers (a reply on Telegram or Discord): who wrote it and what.
    An organiser marks what someone said in a meeting's thread this way (`/bidrag`)."""

    sender: Sender
    text: str


@dataclass(frozen=True)
class TextReceived:
    event_id: str  # the platform's id for the event; a redelivered event is ignored
    sender: Sender
    chat: Chat
    text: str
    reply_to: Quoted | None = None


@dataclass(frozen=True)
class ButtonPressed:
    event_id: str
    sender: Sender
    chat: Chat
    token: str


@dataclass(frozen=True)
class PollAnswered:
    """Someone voted, changed or took back their vote in a platform's own poll.

    `chat` is the voter's private chat: anything the bot answers goes there, never to
    the group. Telegram says the whole new choice (`replace`; none: taken back);
    Discord says one option at a time (`added` or removed).
    """

    event_id: str
    sender: Sender
    chat: Chat
    handle: str  # what the platform names the poll by (see bot.polls.native)
    options: tuple[int, ...]  # 0-based
    replace: bool = True
    added: bool = True  # when not `replace`: the option was ticked (else unticked)


@dataclass(frozen=True)
class FormSubmitted:
    """Answers to a dialog's questions given in a form the platform showed (`bot.forms`):
    for the dialog `dialog` at its step `step`, each field's value by its name."""

    event_id: str
    sender: Sender
    chat: Chat
    dialog: str
    step: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MessageMarked:
    """Someone marked a message in a chat for the bot (Discord: the message's Apps menu),
    where the platform has no reply command: what it said and who wrote it."""

    event_id: str
    sender: Sender
    chat: Chat
    quoted: Quoted


Event = TextReceived | ButtonPressed | PollAnswered | FormSubmitted | MessageMarked


@dataclass(frozen=True)
class Outcome:
    """What an adapter may show at once besides the outbox (e.g. a button's toast)."""

    toast: str | None = None
