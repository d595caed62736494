"""The platform-neutral message model.

Features describe *what* to say: text made of spans (plain, emphasis, links),
rows of buttons, and at most one attachment. Each adapter decides *how*: it
escapes and renders the spans for its platform and splits the text at its
length limit. A message is plain data so that it can wait in the outbox as
JSON and be rendered after a restart.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.forms import FormOffer


class Style(StrEnum):
    PLAIN = "plain"
    BOLD = "bold"
    ITALIC = "italic"
    LINK = "link"


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = Style.PLAIN
    url: str | None = None


def bold(text: str) -> Span:
    return Span(text, Style.BOLD)


def italic(text: str) -> Span:
    return Span(text, Style.ITALIC)


def link(text: str, url: str) -> Span:
    return Span(text, Style.LINK, url)


@dataclass(frozen=True)
class Action:
    """What pressing a button does: a handler name and its arguments.

    Actions never travel to a platform. The outbox stores them on the server
    and gives the platform an opaque token, so callback data cannot be forged.
    """

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Button:
    label: str
    action: Action | None = None
    token: str | None = None  # filled in when the message is put in the outbox


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class ThreadRequest:
    """Asks platforms with threads to open one on this post (e.g. a meeting's discussion)."""

    title: str


@dataclass(frozen=True)
class CalendarEvent:
    """A happening that platforms with calendars mirror (Discord's scheduled events).

    On a post without `refers_to` it creates the event; on a later post that
    refers to that one it updates the same event, or cancels it.
    """

    title: str
    starts_at: datetime
    ends_at: datetime
    place: str  # where, as people read it: an address or a link
    description: str = ""
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "place": self.place,
            "description": self.description,
            "cancelled": self.cancelled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CalendarEvent:
        return cls(
            data["title"],
            datetime.fromisoformat(data["starts_at"]),
            datetime.fromisoformat(data["ends_at"]),
            data["place"],
            data.get("description", ""),
            bool(data.get("cancelled", False)),
        )


@dataclass(frozen=True)
class NativePollLimits:
    """What one platform's own polls can hold (its adapter declares them)."""

    max_options: int
    question_length: int
    option_length: int
    longest: timedelta | None = None  # how long a poll may stay open; None: no limit
    hides_results: bool = False  # can keep the counts hidden until the poll closes


def _platform_length(text: str) -> int:
    # Platforms count UTF-16 code units, never fewer than characters.
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class NativePoll:
    """Asks a platform to post a poll of its own (Telegram's, Discord's) instead of the buttons.

    The message it rides on is the fallback: platforms that can't, or where the poll
    does not fit (`fits`), send the message's own text and buttons; the console always
    does. Where it goes native, the platform posts `spans` with its poll instead. The
    core decides which polls may go native at all (`bot.polls.native`); the
    platform's limits are checked here, by the adapter, with its own `NativePollLimits`.

    A gateway that posted the poll natively returns its external id through
    `native_poll_reference`, naming the poll by the handle its answer events carry, so
    the dispatcher can record which of our polls a platform's vote belongs to.
    """

    ref: str  # our poll, e.g. "poll:12": a native post's answers are handed back with it
    question: str
    options: tuple[str, ...]
    multiple: bool
    opened_at: datetime  # when the post was queued (the platform's duration counts from it)
    closes_at: datetime  # the bot itself ends the poll then; the platform's timer is a backstop
    hide_results: bool = False
    spans: tuple[Span, ...] = ()  # the text posted with the native poll

    def fits(self, limits: NativePollLimits) -> bool:
        if not 1 <= len(self.options) <= limits.max_options:
            return False
        if not 0 < _platform_length(self.question) <= limits.question_length:
            return False
        if any(not 0 < _platform_length(o) <= limits.option_length for o in self.options):
            return False
        if self.hide_results and not limits.hides_results:
            return False
        return limits.longest is None or self.closes_at - self.opened_at <= limits.longest

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "question": self.question,
            "options": list(self.options),
            "multiple": self.multiple,
            "opened_at": self.opened_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "hide_results": self.hide_results,
            "spans": _spans_json(self.spans),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NativePoll:
        return cls(
            data["ref"],
            data["question"],
            tuple(data["options"]),
            bool(data["multiple"]),
            datetime.fromisoformat(data["opened_at"]),
            datetime.fromisoformat(data["closes_at"]),
            bool(data.get("hide_results", False)),
            _spans_from_json(data.get("spans", [])),
        )


NATIVE_POLL_MARK = ";poll="


def native_poll_reference(reference: str, handle: str) -> str:
    """A gateway's external id for a post whose poll went native, naming the poll's handle."""
    return f"{reference}{NATIVE_POLL_MARK}{handle}"


def native_poll_handle(external_id: str | None) -> str | None:
    """The handle in an external id made by `native_poll_reference`, else None."""
    _, mark, handle = (external_id or "").partition(NATIVE_POLL_MARK)
    return handle if mark and handle else None


def without_native_poll(external_id: str | None) -> str:
    """The gateway's own reference, without the native poll's handle."""
    return (external_id or "").partition(NATIVE_POLL_MARK)[0]


def _spans_json(spans: Sequence[Span]) -> list[dict[str, str]]:
    return [
        {"text": s.text, "style": s.style.value, **({"url": s.url} if s.url else {})} for s in spans
    ]


def _spans_from_json(data: Sequence[dict[str, Any]]) -> tuple[Span, ...]:
    return tuple(Span(s["text"], Style(s["style"]), s.get("url")) for s in data)


@dataclass(frozen=True)
class Pointer:
    """What a group is told instead when a personal answer to something typed there can't
    reach the person's private chat (Telegram: they never started the bot, or blocked it):
    short and neutral, never the answer's content. The dispatcher posts it to `chat_id`."""

    chat_id: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class OutgoingMessage:
    spans: tuple[Span, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    # Mentions are off unless a feature's own announcement asks for one opt-in role.
    mention_role: str | None = None
    # Open a thread on this post, where the platform has threads; others just post it.
    thread: ThreadRequest | None = None
    # Create (or, with `refers_to`, update or cancel) an event in the platform's calendar.
    event: CalendarEvent | None = None
    # Post inside the thread opened on the post that `refers_to` names.
    in_thread: bool = False
    # An earlier post to the same chat, by the key it was given to `post_to_org`. The
    # dispatcher fills `reference` with what the platform's gateway returned for that post
    # (opaque to the core) once it has been sent; without it the message stands alone.
    refers_to: str | None = None
    reference: str | None = None
    # Telegram's paid broadcast (far higher rate, a fee per message), for announcements of an
    # organisation that enabled it; other platforms ignore it.
    paid_broadcast: bool = False
    # Post the poll natively where the platform can and it fits; else this message as it is.
    native_poll: NativePoll | None = None
    # End the native poll of the post `reference` names (then send the text, if any).
    stop_native_poll: bool = False
    personal: bool = False  # for one person only (Discord: ephemeral when answering in a server)
    # Where a personal answer that could not be delivered privately is pointed at instead.
    pointer: Pointer | None = None
    # This question may be answered with a form, where the platform shows one (bot.forms).
    form: FormOffer | None = None

    @property
    def plain_text(self) -> str:
        return "".join(span.text for span in self.spans)

    def after_native_poll(self) -> OutgoingMessage | None:
        """What is left to post once a platform has handled the native poll part, if anything."""
        rest = replace(self, stop_native_poll=False, native_poll=None)
        return rest if rest.plain_text.strip() or rest.buttons or rest.attachment else None

    def concerns_native_poll(self, limits: NativePollLimits, *, direct: bool) -> bool:
        """Whether a platform with these limits posts this as its own poll, or ends one."""
        if self.stop_native_poll:
            return True
        native = self.native_poll
        return native is not None and not direct and native.fits(limits)

    def button_list(self) -> list[Button]:
        return [button for row in self.buttons for button in row]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "spans": [
                {"text": s.text, "style": s.style.value, **({"url": s.url} if s.url else {})}
                for s in self.spans
            ],
            "buttons": [
                [{"label": b.label, "token": b.token} for b in row] for row in self.buttons
            ],
        }
        if self.attachment:
            data["attachment"] = {
                "filename": self.attachment.filename,
                "media_type": self.attachment.media_type,
                "data": base64.b64encode(self.attachment.data).decode("ascii"),
            }
        if self.mention_role:
            data["mention_role"] = self.mention_role
        if self.thread:
            data["thread"] = {"title": self.thread.title}
        if self.event:
            data["event"] = self.event.to_json()
        if self.in_thread:
            data["in_thread"] = True
        if self.refers_to:
            data["refers_to"] = self.refers_to
        if self.reference:
            data["reference"] = self.reference
        if self.paid_broadcast:
            data["paid_broadcast"] = True
        if self.native_poll:
            data["native_poll"] = self.native_poll.to_json()
        if self.stop_native_poll:
            data["stop_native_poll"] = True
        if self.personal:
            data["personal"] = True
        if self.pointer:
            data["pointer"] = {
                "chat_id": self.pointer.chat_id,
                "spans": _spans_json(self.pointer.spans),
            }
        if self.form:
            data["form"] = self.form.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutgoingMessage:
        attachment = data.get("attachment")
        return cls(
            spans=tuple(Span(s["text"], Style(s["style"]), s.get("url")) for s in data["spans"]),
            buttons=tuple(
                tuple(Button(b["label"], token=b["token"]) for b in row) for row in data["buttons"]
            ),
            attachment=Attachment(
                attachment["filename"],
                attachment["media_type"],
                base64.b64decode(attachment["data"]),
            )
            if attachment
            else None,
            mention_role=data.get("mention_role"),
            thread=ThreadRequest(data["thread"]["title"]) if data.get("thread") else None,
            event=CalendarEvent.from_json(data["event"]) if data.get("event") else None,
            in_thread=bool(data.get("in_thread", False)),
            refers_to=data.get("refers_to"),
            reference=data.get("reference"),
            paid_broadcast=bool(data.get("paid_broadcast", False)),
            native_poll=NativePoll.from_json(data["native_poll"])
            if data.get("native_poll")
            else None,
            stop_native_poll=bool(data.get("stop_native_poll", False)),
            personal=bool(data.get("personal", False)),
            pointer=Pointer(data["pointer"]["chat_id"], _spans_from_json(data["pointer"]["spans"]))
            if data.get("pointer")
            else None,
            form=FormOffer.from_json(data["form"]) if data.get("form") else None,
        )


@dataclass
class MessageBuilder:
    """Builds a message piece by piece, so handlers read like the text they send."""

    spans: list[Span] = field(default_factory=list)
    rows: list[tuple[Button, ...]] = field(default_factory=list)
    attachment: Attachment | None = None

    def add(self, *parts: str | Span) -> MessageBuilder:
        for part in parts:
            self.spans.append(Span(part) if isinstance(part, str) else part)
        return self

    def line(self, *parts: str | Span) -> MessageBuilder:
        """Adds the parts, then a line break (none before the first line)."""
        if self.spans:
            self.spans.append(Span("\n"))
        return self.add(*parts)

    def paragraph(self, *parts: str | Span) -> MessageBuilder:
        if self.spans:
            self.spans.append(Span("\n\n"))
        return self.add(*parts)

    def button_row(self, *buttons: Button) -> MessageBuilder:
        if buttons:
            self.rows.append(tuple(buttons))
        return self

    def attach(self, attachment: Attachment) -> MessageBuilder:
        self.attachment = attachment
        return self

    def build(self) -> OutgoingMessage:
        return OutgoingMessage(tuple(self.spans), tuple(self.rows), self.attachment)


def message(*parts: str | Span, buttons: Iterable[Iterable[Button]] = ()) -> OutgoingMessage:
    return OutgoingMessage(
        tuple(Span(p) if isinstance(p, str) else p for p in parts),
        tuple(tuple(row) for row in buttons),
    )


def split_spans(
    spans: Sequence[Span],
    limit: int,
    measure: Callable[[Sequence[Span]], int],
    *,
    additive: bool = False,
) -> list[list[Span]]:
    """Splits spans into chunks whose `measure` stays within `limit`.

    Cuts prefer a paragraph break, then a line break, then a space, and only
    then the middle of a word, so a long message reads as several whole ones.
    `measure` is the platform's own length after rendering, so escaping and
    markup are counted the way the platform counts them.

    `additive`: the measure of spans is the sum of their texts' (no markup counted), so
    cutting spans into words does not change it. A message that fits is then measured
    and merged whole, with the same result, without first cutting it into words (most
    messages fit; the words were most of the time a send took here).
    """
    if additive and measure(spans) <= limit:
        whole = [span for span in spans if span.text or span.style is Style.LINK]
        return [_merge_and_trim(whole)] if "".join(s.text for s in whole).strip() else []
    pieces = _atoms(spans)
    if measure(pieces) <= limit:  # all in one, as most messages are: what the loop would find
        return [_merge_and_trim(pieces)] if "".join(s.text for s in pieces).strip() else []
    chunks: list[list[Span]] = []
    current: list[Span] = []
    for piece in pieces:
        if measure([*current, piece]) <= limit:
            current.append(piece)
            continue
        if current:
            cut = _best_cut(current, limit, measure)
            chunks.append(current[:cut])
            current = current[cut:]
            if measure([*current, piece]) <= limit:
                current.append(piece)
                continue
            if current:
                chunks.append(current)
                current = []
        while measure([piece]) > limit:  # a single word longer than the limit
            head, tail = _cut_to_fit(piece, limit, measure)
            chunks.append([head])
            piece = tail
        current = [piece]
    if current:
        chunks.append(current)
    return [_merge_and_trim(chunk) for chunk in chunks if "".join(s.text for s in chunk).strip()]


def _best_cut(atoms: list[Span], limit: int, measure: Callable[[Sequence[Span]], int]) -> int:
    """Where to end a full chunk: after the last paragraph break, else line break, else all of it.

    A break counts only past a third of the limit, so a chunk is never cut tiny.
    """
    for ending in ("\n\n", "\n"):
        for index in range(len(atoms) - 1, 0, -1):
            if atoms[index - 1].text.endswith(ending) and measure(atoms[:index]) > limit // 3:
                return index
    return len(atoms)


_WORD = re.compile(r"\S+\s*|\s+")


def _atoms(spans: Sequence[Span]) -> list[Span]:
    """Breaks spans into words with their trailing whitespace attached."""
    atoms: list[Span] = []
    for span in spans:
        if span.style is Style.LINK:
            atoms.append(span)  # a link is never cut
            continue
        for word in _WORD.findall(span.text):
            atoms.append(Span(word, span.style, span.url))
    return atoms


def _cut_to_fit(
    piece: Span, limit: int, measure: Callable[[Sequence[Span]], int]
) -> tuple[Span, Span]:
    low, high = 1, len(piece.text)
    while low < high:  # the longest prefix that still fits
        middle = (low + high + 1) // 2
        if measure([Span(piece.text[:middle], piece.style, piece.url)]) <= limit:
            low = middle
        else:
            high = middle - 1
    return (
        Span(piece.text[:low], piece.style, piece.url),
        Span(piece.text[low:], piece.style, piece.url),
    )


def _merge_and_trim(chunk: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in chunk:
        if merged and merged[-1].style == span.style and merged[-1].url == span.url:
            merged[-1] = Span(merged[-1].text + span.text, span.style, span.url)
        else:
            merged.append(span)
    if merged:
        last = merged[-1]
        merged[-1] = Span(last.text.rstrip(), last.style, last.url)
        first = merged[0]
        merged[0] = Span(first.text.lstrip("\n"), first.style, first.url)
    return [span for span in merged if span.text]
