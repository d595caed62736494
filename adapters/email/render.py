"""An outgoing message as an email: plain text and HTML from the same spans as chat.

User text is escaped in the HTML (never markup); links are kept only for http(s)
addresses. Buttons become links: a button whose action is safe to take with one
press on a web page (`WEB_ACTIONS`: answering a meeting invitation, getting its
calendar file) gets a signed link to this bot's web server (adapters/email/links.py);
the others, which need a conversation, point to the bot in a chat app. A calendar
attachment goes as an invitation (iTIP METHOD:REQUEST), which mail programs offer
to add. Every email carries `List-Unsubscribe` with RFC 8058's one-click POST.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache

from icalendar import Calendar, vCalAddress

from adapters.email.links import PRESS_PATH, UNSUBSCRIBE_PATH, Signer, link
from bot.i18n import Translator
from bot.messages import OutgoingMessage, Span, Style

# Actions a person may take from an email with one press on a web page: each completes in
# one step and concerns only them. Anything else (a dialog, an organiser's menu) needs a chat.
WEB_ACTIONS = frozenset({"meeting.rsvp", "meeting.ics"})
SUBJECT_LENGTH = 78


@dataclass(frozen=True)
class Sender:
    address: str
    name: str


@dataclass(frozen=True)
class Recipient:
    """What the gateway looks up about an address before rendering (samtal/email.py)."""

    address: str
    person_id: int | None = None
    language: str = "sv"
    actions: Mapping[str, str] = field(default_factory=dict)  # button token -> action name


@dataclass(frozen=True)
class Links:
    base_url: str  # this bot's web server as people reach it
    signer: Signer
    bot_url: str = ""  # the bot in a chat app (a Telegram link), if there is one


def subject_of(message: OutgoingMessage) -> str:
    first = next((line.strip() for line in message.plain_text.splitlines() if line.strip()), "")
    if len(first) > SUBJECT_LENGTH:
        first = first[: SUBJECT_LENGTH - 1].rstrip() + "…"
    return first or "Samtal"


def _safe_url(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def _plain(spans: Sequence[Span]) -> str:
    parts = []
    for span in spans:
        url = _safe_url(span.url) if span.style is Style.LINK else None
        parts.append(f"{span.text} <{url}>" if url and url != span.text else span.text)
    return "".join(parts)


def _html(spans: Sequence[Span]) -> str:
    parts = []
    for span in spans:
        text = html.escape(span.text).replace("\n", "<br>\n")
        if span.style is Style.BOLD:
            text = f"<strong>{text}</strong>"
        elif span.style is Style.ITALIC:
            text = f"<em>{text}</em>"
        elif span.style is Style.LINK and (url := _safe_url(span.url)):
            text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
        parts.append(text)
    return "".join(parts)


def button_links(
    message: OutgoingMessage, recipient: Recipient, links: Links
) -> list[tuple[str, str | None]]:
    """(label, where pressing it leads) for every button; None when there is nowhere."""
    found: list[tuple[str, str | None]] = []
    for button in message.button_list():
        action = recipient.actions.get(button.token or "")
        if action in WEB_ACTIONS and button.token:
            token = links.signer.press(button.token, recipient.address, button.label)
            found.append((button.label, link(links.base_url, PRESS_PATH, token)))
        else:
            found.append((button.label, links.bot_url or None))
    return found


def unsubscribe_url(recipient: Recipient, links: Links) -> str | None:
    if recipient.person_id is None:
        return None
    token = links.signer.unsubscribe(recipient.person_id, recipient.address)
    return link(links.base_url, UNSUBSCRIBE_PATH, token)


@lru_cache(maxsize=64)  # one meeting's invitation goes to many people in a row
def invitation(data: bytes, organiser: Sender) -> bytes:
    """A calendar file as an invitation: METHOD:REQUEST, organised by the bot's address."""
    calendar = Calendar.from_ical(data)
    if "METHOD" not in calendar:
        calendar.add("method", "REQUEST")
    for event in calendar.walk("VEVENT"):
        if "ORGANIZER" not in event:
            organizer = vCalAddress(f"mailto:{organiser.address}")
            organizer.params["cn"] = organiser.name
            event["organizer"] = organizer
    result: bytes = calendar.to_ical()
    return result


_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+$")


def _attending(data: bytes, address: str) -> bytes:
    """The invitation names its reader as attendee (iTIP asks for one), RSVP=FALSE: answers
    come through the email's buttons, not as calendar replies to the bot's address."""
    if not _PLAIN_ADDRESS.match(address):
        return data
    line = f"ATTENDEE;RSVP=FALSE:mailto:{address}\r\n".encode("ascii")
    return data.replace(b"END:VEVENT\r\n", line + b"END:VEVENT\r\n")


def render(
    message: OutgoingMessage,
    recipient: Recipient,
    sender: Sender,
    links: Links,
    *,
    message_id: str,
    date: str | None = None,
) -> EmailMessage:
    t = Translator(recipient.language)
    buttons = button_links(message, recipient, links)
    stop = unsubscribe_url(recipient, links)
    plain = [_plain(message.spans)]
    rich = [f"<p>{_html(message.spans)}</p>"]
    if buttons:
        in_chat = t("answer in the chat")
        plain.append("\n".join(f"{label}: {url or in_chat}" for label, url in buttons))
        rich.append(
            "<p>"
            + " ".join(
                f'<a href="{html.escape(url, quote=True)}" style="display:inline-block;'
                f'padding:6px 12px;margin:2px;border:1px solid #999;border-radius:4px">'
                f"{html.escape(label)}</a>"
                if url
                else f"[{html.escape(label)}]"
                for label, url in buttons
            )
            + "</p>"
        )
    footer = [
        t(
            "You get this email from Samtal because you are a member and chose email, or "
            "have no chat with the bot."
        )
    ]
    if links.bot_url:
        footer.append(t("Chat with the bot instead: {url}").format(url=links.bot_url))
    if stop:
        footer.append(t("No more emails: {url}").format(url=stop))
    plain.append("-- \n" + "\n".join(footer))
    rich.append(
        '<hr><p style="font-size:smaller;color:#555">'
        + "<br>".join(html.escape(line) for line in footer)
        + "</p>"
    )
    email = EmailMessage()
    email["From"] = Address(sender.name, addr_spec=sender.address)
    email["To"] = recipient.address
    email["Subject"] = subject_of(message)
    email["Message-ID"] = message_id
    if date:
        email["Date"] = date
    email["Auto-Submitted"] = "auto-generated"
    if stop:
        email["List-Unsubscribe"] = f"<{stop}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content("\n\n".join(plain))
    email.add_alternative(
        f'<!DOCTYPE html><html lang="{recipient.language}"><body>{"".join(rich)}</body></html>',
        subtype="html",
    )
    attachment = message.attachment
    if attachment is not None:
        if attachment.media_type.startswith("text/calendar"):
            email.add_attachment(
                _attending(invitation(attachment.data, sender), recipient.address),
                maintype="text",
                subtype="calendar",
                params={"method": "REQUEST"},
                filename=attachment.filename,
            )
        else:
            maintype, _, subtype = attachment.media_type.partition("/")
            email.add_attachment(
                attachment.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    return email
