"""The console platform: people are names, group channels are `#names`, buttons are `[labels]`."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console.render import PLATFORM, render
from adapters.console.transcript import (
    AdvanceClock,
    Press,
    Say,
    SetClock,
    Step,
    TranscriptError,
    parse_line,
)
from bot.clock import MovableClock, ShiftedClock, VirtualClock
from bot.core import Samtal
from bot.events import ButtonPressed, Chat, Sender, TextReceived
from bot.messages import Attachment, OutgoingMessage

log = logging.getLogger(__name__)

Write = Callable[[str], None]


@dataclass(frozen=True)
class Delivered:
    chat_id: str
    direct: bool
    message: OutgoingMessage


class ConsoleGateway:
    """Prints each delivered message and remembers it, so its buttons can be pressed.

    Files the bot sends (exports, attendance lists, charts) are saved under `files`, one
    folder per chat (`files/bertil/poll-2.png`, `files/allmant/...`; a newer file of the same
    name replaces the older), and the path is printed: in full, or relative to `files` when
    `relative` (transcripts, whose output must not depend on where they ran)."""

    platform = PLATFORM

    def __init__(self, write: Write, files: Path | None = None, *, relative: bool = False) -> None:
        self.write = write
        self.files = files
        self.relative = relative
        self.delivered: list[Delivered] = []

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        heading = f"-> {chat_id}:" if direct else f"-> #{chat_id}:"
        saved_as = None
        if message.attachment is not None and self.files is not None:
            path = await asyncio.to_thread(save_file, self.files, chat_id, message.attachment)
            saved_as = str(path.relative_to(self.files) if self.relative else path)
        for line in render(message, heading, saved_as):
            self.write(line)
        self.delivered.append(Delivered(chat_id, direct, message))
        return str(len(self.delivered))

    def find_button(
        self, user: str, channel: str | None, label: str
    ) -> tuple[Delivered, str] | None:
        """The newest message this user can see with a button of that label (or number)."""
        for delivered in reversed(self.delivered):
            visible = (delivered.direct and delivered.chat_id == user and channel is None) or (
                not delivered.direct and channel in (None, delivered.chat_id)
            )
            if not visible:
                continue
            buttons = delivered.message.button_list()
            for button in buttons:
                if button.label.casefold() == label.casefold() and button.token:
                    return delivered, button.token
            if label.isdigit() and 1 <= int(label) <= len(buttons):
                token = buttons[int(label) - 1].token
                if token:
                    return delivered, token
        return None


def save_file(folder: Path, chat_id: str, attachment: Attachment) -> Path:
    """Writes a sent file under `folder/<chat>/`; the folders are the owner's alone (0700)
    and so is the file (0600): attendance lists and exports carry members' data."""
    chat = "".join(c for c in chat_id if c.isalnum() or c in "-_.").lstrip(".") or "chat"
    name = Path(attachment.filename).name.lstrip(".") or "file"
    path = folder / chat / name
    for directory in (folder, path.parent):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(attachment.data)
    return path


def sender(name: str) -> Sender:
    return Sender(PLATFORM, name, display_name=name.capitalize(), username=name)


def chat_for(name: str, channel: str | None) -> Chat:
    if channel is None:
        return Chat(PLATFORM, name, is_private=True)
    return Chat(PLATFORM, channel, is_private=False, title=channel)


class ConsoleSession:
    """Feeds transcript steps to the core and prints what it sends back."""

    def __init__(self, samtal: Samtal, gateway: ConsoleGateway, zone: ZoneInfo) -> None:
        self.samtal = samtal
        self.gateway = gateway
        self.zone = zone
        self._run = uuid.uuid4().hex[:12]
        self._events = 0

    def _event_id(self) -> str:
        self._events += 1
        return f"{self._run}-{self._events}"

    async def step(self, step: Step) -> None:
        match step:
            case Say(user, channel, text):
                await self.samtal.handle(
                    TextReceived(self._event_id(), sender(user), chat_for(user, channel), text)
                )
            case Press(user, channel, label):
                found = self.gateway.find_button(user, channel, label)
                if found is None:
                    self.gateway.write(f"!! {user} sees no button [{label}]")
                    return
                delivered, token = found
                chat = (
                    chat_for(user, None) if delivered.direct else chat_for(user, delivered.chat_id)
                )
                await self.samtal.handle(ButtonPressed(self._event_id(), sender(user), chat, token))
            case SetClock(instant, down):
                await self.move_clock_to(instant, down=down)
            case AdvanceClock(delta, down):
                await self.move_clock_to(self._virtual_clock().now() + delta, down=down)
        await self.samtal.run_due()

    def _virtual_clock(self) -> MovableClock:
        clock = self.samtal.clock
        if not isinstance(clock, VirtualClock | ShiftedClock):
            raise TranscriptError("@clock needs a clock that can be moved (the console's)")
        return clock

    async def move_clock_to(self, target: datetime, *, down: bool = False) -> None:
        """Walks the clock through each due instant on the way, so work runs at its own time;
        `down`: jumps straight there, as after downtime (what fell due runs late, then)."""
        clock = self._virtual_clock()
        if target < clock.now():
            raise TranscriptError("the clock can't go back")
        while not down:
            due = await self.samtal.next_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            await self.samtal.run_due()
            if await self.samtal.next_due() == due:
                break  # nothing moved (a platform without a gateway): don't spin
        clock.set(target)

    async def run_script(self, lines: Iterable[str]) -> int:
        """Replays a transcript, echoing each line before the bot's answers; returns problems found.

        Blank lines are not echoed: in the output a blank line is always part of a bot message.
        """
        problems = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip()
            if line:
                self.gateway.write(line)
            try:
                await self.step(parse_line(line, self.zone))
            except TranscriptError as exc:
                problems += 1
                self.gateway.write(f"!! line {number}: {exc}")
        return problems

    async def run_interactive(self, user: str) -> None:
        write = self.gateway.write
        write(
            f"Samtal console. You are {user}. Write /hjalp (or /help); press a button with [its label]."
        )
        write("Other people: @bertil: /hjalp   Group channel: @anna#allmant: hej   Quit: Ctrl-D")
        if self.gateway.files is not None:
            write(f"Files the bot sends are saved in {self.gateway.files}")
        if isinstance(self.samtal.clock, ShiftedClock):
            write("Move the clock on to see reminders arrive: @clock: +1d (or +2h, +1w)")
        while True:
            try:
                line = await asyncio.to_thread(input, f"{user}> ")
            except (EOFError, KeyboardInterrupt):
                write("")
                return
            line = line.strip()
            if not line:
                continue
            if not line.startswith("@"):
                line = f"@{user}: {line}"
            try:
                await self.step(parse_line(line, self.zone))
            except TranscriptError as exc:
                write(f"!! {exc}")


def stdout_writer() -> Write:
    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return write
