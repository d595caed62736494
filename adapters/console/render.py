"""Messages as plain text lines for a terminal or a transcript."""

from __future__ import annotations

from bot.messages import OutgoingMessage, Style

PLATFORM = "console"


def render_text(message: OutgoingMessage) -> str:
    parts: list[str] = []
    for span in message.spans:
        if span.style is Style.LINK and span.url and span.url != span.text:
            parts.append(f"{span.text} ({span.url})")
        else:
            parts.append(span.text)
    return "".join(parts)


def render(message: OutgoingMessage, heading: str, saved_as: str | None = None) -> list[str]:
    """`-> anna: first line`, further lines indented, then one `[label]` line per button.

    `saved_as`: where the console saved the message's file, as it should be shown."""
    text_lines = render_text(message).split("\n") or [""]
    lines = [f"{heading} {text_lines[0]}".rstrip()]
    lines += [f"   {line}".rstrip() for line in text_lines[1:]]
    if message.attachment:
        size = len(message.attachment.data)
        kind = f"{message.attachment.media_type}, {size} bytes"
        if saved_as is None:
            lines.append(f"   (file: {message.attachment.filename}, {kind})")
        else:
            lines.append(f"   (file saved: {saved_as}, {kind})")
    lines += [f"[{button.label}]" for button in message.button_list()]
    return lines
