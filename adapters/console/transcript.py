"""The transcript format (see DESIGN.md), parsed into steps.

@anna: /hjalp              anna writes to the bot in her private chat
@anna#allmant: /moten      anna writes in the group channel "allmant"
@anna: [Jag kommer]        anna presses the newest button with that label she can see
@clock: 2026-03-02T18:00   set the virtual clock (ISO, organisation's zone)
@clock: +1d                advance it (s, m, h, d, w); due work runs
@clock: down +2d           the bot is down meanwhile: what fell due runs late, at the end
# comment
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class TranscriptError(ValueError):
    pass


@dataclass(frozen=True)
class Say:
    user: str
    channel: str | None
    text: str


@dataclass(frozen=True)
class Press:
    user: str
    channel: str | None
    label: str


@dataclass(frozen=True)
class SetClock:
    instant: datetime
    down: bool = False  # nothing runs on the way (the bot was down): due work runs late


@dataclass(frozen=True)
class AdvanceClock:
    delta: timedelta
    down: bool = False


Step = Say | Press | SetClock | AdvanceClock | None  # None: a comment or a blank line

_EVENT = re.compile(r"^@(?P<user>[\w.-]+)(?:#(?P<channel>[\w.-]+))?:\s?(?P<text>.*)$")
_DELTA_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_line(line: str, zone: ZoneInfo) -> Step:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _EVENT.match(stripped)
    if match is None:
        raise TranscriptError(
            "expected '@name: text', '@name#channel: text', '@clock: ...' or '# comment'"
        )
    user, channel, text = match["user"].lower(), match["channel"], match["text"].strip()
    if user == "clock":
        return _clock(text, zone)
    if text.startswith("[") and text.endswith("]") and len(text) > 2:
        return Press(user, channel, text[1:-1])
    return Say(user, channel, text)


def _clock(text: str, zone: ZoneInfo) -> SetClock | AdvanceClock:
    head, _, rest = text.partition(" ")
    if head == "down" and rest.strip():
        step = _clock(rest.strip(), zone)
        return replace(step, down=True)
    if text.startswith("+"):
        parts = _DELTA_PART.findall(text[1:])
        if not parts or "".join(n + u for n, u in parts) != text[1:]:
            raise TranscriptError(
                f"can't read the clock step {text!r}; write e.g. +30m, +1d or +1w2d"
            )
        delta = timedelta()
        for amount, unit in parts:
            delta += timedelta(**{_UNITS[unit]: int(amount)})
        return AdvanceClock(delta)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TranscriptError(f"can't read the time {text!r}; write e.g. 2026-03-02T18:00") from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return SetClock(instant)
