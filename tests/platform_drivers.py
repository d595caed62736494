"""One way to drive the bot on every platform, so a scenario is written once.

Each driver takes what a person does (writes a line, presses a button with a
label, in their private chat or in a group) through that platform's real
adapter, runs the core's due work (the outbox), and returns what the bot said
as `Said(to, text, buttons)`: `to` is the person's name or `#group`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from adapters import redaction
from adapters.console.app import Delivered, chat_for, sender
from adapters.console.render import render_text
from adapters.discord.app import SamtalClient
from adapters.telegram.app import TelegramAdapter
from adapters.telegram.gateway import RateLimiter
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.domain.people import Identity
from bot.events import ButtonPressed
from bot.settings import Settings
from storage.database import Database
from tests.conftest import Console
from tests.platform_doubles.discord_api import DiscordDouble, Posted, user_payload
from tests.platform_doubles.telegram_api import Sent, TelegramDouble


@dataclass(frozen=True)
class Said:
    to: str
    text: str
    buttons: tuple[str, ...] = ()
    poll: tuple[str, ...] = ()  # a native poll's options, where the platform posted one


async def eventually(condition: object, what: str, timeout: float = 10.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _link(samtal: Samtal, platform: str, name: str, external_id: str) -> None:
    """What /koppla does: a demo person's account on this platform, in use now."""
    async with samtal.uow_factory() as uow:
        person = await uow.people.by_identity("console", name)
        assert person is not None and person.id is not None, name
        now = samtal.clock.now()
        await uow.people.add_identity(
            Identity(person.id, platform, external_id, name, created_at=now, last_seen_at=now)
        )
        await uow.commit()


class ConsoleDriver:
    platform = "console"

    def __init__(self, console: Console) -> None:
        self.console = console

    async def say(self, user: str, text: str, group: str | None = None) -> list[Said]:
        where = f"#{group}" if group else ""
        return await self._step(f"@{user}{where}: {text}")

    async def press(self, user: str, label: str, group: str | None = None) -> list[Said]:
        where = f"#{group}" if group else ""
        if self.console.gateway.find_button(user, group, label) is None:
            raise AssertionError(f"{user} sees no button [{label}]")
        return await self._step(f"@{user}{where}: [{label}]")

    async def link_demo(self, name: str) -> None:
        """The demo people are console people already."""

    async def bind_group(self, organiser: str, group: str, slug: str) -> None:
        """The demo's console channels are bound already."""

    def token_of(self, user: str, label: str) -> str:
        """The opaque token behind a button someone was sent (what a forger could copy)."""
        found = self.console.gateway.find_button(user, None, label)
        assert found is not None, f"{user} has no button [{label}]"
        return found[1]

    async def forge(self, user: str, token: str) -> list[Said]:
        """Presses a button with made-up or someone else's data, in the user's private chat."""
        delivered = self.console.gateway.delivered
        start = len(delivered)
        event = ButtonPressed(f"forged-{token}-{user}", sender(user), chat_for(user, None), token)
        await self.console.samtal.handle(event)
        await self.console.samtal.run_due()
        return self._said(delivered[start:])

    def _said(self, delivered: list[Delivered]) -> list[Said]:
        return [
            Said(
                d.chat_id if d.direct else f"#{d.chat_id}",
                render_text(d.message),
                tuple(b.label for b in d.message.button_list()),
            )
            for d in delivered
        ]

    async def _step(self, line: str) -> list[Said]:
        delivered = self.console.gateway.delivered
        start = len(delivered)
        await self.console.run(line)
        return self._said(delivered[start:])


class TelegramDriver:
    platform = "telegram"

    def __init__(self, double: TelegramDouble, adapter: TelegramAdapter) -> None:
        self.double = double
        self.adapter = adapter
        self.samtal = adapter.samtal
        self._ids = itertools.count(1001)
        self.users: dict[str, dict[str, object]] = {}
        self.groups: dict[str, int] = {}

    def user(self, name: str, language: str = "sv") -> dict[str, object]:
        if name not in self.users:
            self.users[name] = self.double.user(next(self._ids), name.capitalize(), language)
        return self.users[name]

    def group_id(self, group: str) -> int:
        return self.groups.setdefault(group, -100_000 - len(self.groups))

    async def link_demo(self, name: str) -> None:
        await _link(self.samtal, self.platform, name, str(self.user(name)["id"]))

    async def bind_group(self, organiser: str, group: str, slug: str) -> None:
        said = await self.say(organiser, f"/kanal {slug}", group=group)
        assert said and said[-1].to == f"#{group}", said

    def _name(self, chat_id: int) -> str:
        for name, user in self.users.items():
            if user["id"] == chat_id:
                return name
        return "#" + next(g for g, i in self.groups.items() if i == chat_id)

    async def say(self, user: str, text: str, group: str | None = None) -> list[Said]:
        chat_id = self.group_id(group) if group else None
        return await self._after(self.double.send_text(self.user(user), text, chat_id))

    async def reply(
        self, user: str, text: str, group: str, to: str, said: str, thread_id: int | None = None
    ) -> list[Said]:
        """`user` answers `to`'s message `said` in a group (in a forum topic, with `thread_id`)."""
        sending = self.double.send_text(
            self.user(user),
            text,
            self.group_id(group),
            replying_to=(self.user(to), said),
            thread_id=thread_id,
        )
        return await self._after(sending)

    async def press(self, user: str, label: str, group: str | None = None) -> list[Said]:
        chat_id = self.group_id(group) if group else int(self.user(user)["id"])  # type: ignore[call-overload]
        for sent in reversed(self.double.sent_to(chat_id)):
            for button in sent.buttons():
                if button["text"] == label and "callback_data" in button:
                    return await self._after(
                        self.double.press(self.user(user), sent, button["callback_data"])
                    )
        raise AssertionError(f"{user} sees no button [{label}]")

    def token_of(self, user: str, label: str) -> str:
        for sent in reversed(self.double.sent_to(int(str(self.user(user)["id"])))):
            for button in sent.buttons():
                if button["text"] == label:
                    return str(button["callback_data"])
        raise AssertionError(f"{user} has no button [{label}]")

    async def forge(self, user: str, token: str) -> list[Said]:
        """A callback query with made-up data, on a message in the user's own private chat."""
        chat_id = int(str(self.user(user)["id"]))
        own = self.double.sent_to(chat_id)
        message = own[-1] if own else Sent("sendMessage", chat_id, 1, "x", "x", None)
        return await self._after(self.double.press(self.user(user), message, token))

    async def answer_poll(self, user: str, group: str, options: list[int]) -> list[Said]:
        """Votes (or with no options takes the vote back) in the newest native poll in a group."""
        poll = self.double.poll_in(self.group_id(group))
        start = len(self.double.sent)
        expected = self.adapter.handled + 1
        if await self.double.answer_poll(self.user(user), poll, options) is not None:
            await eventually(lambda: self.adapter.handled >= expected, "the answer to be handled")
        await self.samtal.run_due()
        return self._said(start)

    def _said(self, start: int) -> list[Said]:
        return [
            Said(
                self._name(sent.chat_id),
                sent.visible,
                tuple(b["text"] for b in sent.buttons() if "callback_data" in b),
                tuple(self.double.polls[sent.poll_id].options) if sent.poll_id else (),
            )
            for sent in self.double.sent[start:]
        ]

    async def _after(self, injected: object) -> list[Said]:
        start = len(self.double.sent)
        expected = self.adapter.handled + 1
        await injected  # type: ignore[misc]
        await eventually(lambda: self.adapter.handled >= expected, "the update to be handled")
        await self.samtal.run_due()
        return self._said(start)


@asynccontextmanager
async def telegram_bot(
    database: Database, clock: VirtualClock, double: TelegramDouble | None = None
) -> AsyncIterator[TelegramDriver]:
    """The real python-telegram-bot, long polling the double over HTTP."""
    double = double or TelegramDouble()
    await double.start()
    samtal = Samtal(database.unit_of_work, clock, build_registry())
    await samtal.start()
    adapter = TelegramAdapter(
        samtal,
        double.token,
        base_url=double.base_url,
        poll_timeout=1,
        limiter=RateLimiter(per_private=(30, 1.0)),
    )
    samtal.dispatcher.add_gateway(adapter.gateway)
    await adapter.start()
    try:
        yield TelegramDriver(double, adapter)
    finally:
        await adapter.stop()
        await double.stop()
        redaction.forget_all()  # the adapter protected its token for the whole process


class DiscordDriver:
    platform = "discord"

    def __init__(self, double: DiscordDouble, client: SamtalClient) -> None:
        self.double = double
        self.client = client
        self.samtal = client.samtal
        self._ids = itertools.count(700_000_000_000_000_001)
        self.users: dict[str, dict[str, object]] = {}
        self.groups: dict[str, int] = {}
        self.locales: dict[str, str] = {}
        self.roles: dict[str, list[int]] = {}  # each user's role ids in the server
        self.permissions: dict[str, int] = {}  # each user's permissions in the server

    def user(self, name: str, locale: str = "sv-SE") -> dict[str, object]:
        if name not in self.users:
            self.users[name] = user_payload(next(self._ids), name.capitalize())
            self.locales[name] = locale
        return self.users[name]

    def group_id(self, group: str) -> int:
        return self.groups.setdefault(group, 800_000_000_000_000_001 + len(self.groups))

    async def link_demo(self, name: str) -> None:
        await _link(self.samtal, self.platform, name, str(self.user(name)["id"]))

    async def bind_group(self, organiser: str, group: str, slug: str) -> None:
        said = await self.say(organiser, f"/kanal {slug}", group=group)
        assert said and said[-1].to == f"#{group}", said

    def dm_channel(self, name: str) -> int:
        user_id = int(str(self.user(name)["id"]))
        for channel_id, owner in self.double.dm_channels.items():
            if owner == user_id:
                return channel_id
        channel_id = self.double.next_id()
        self.double.dm_channels[channel_id] = user_id
        return channel_id

    def _name(self, channel_id: int) -> str:
        owner = self.double.dm_channels.get(channel_id)
        if owner is not None:
            return next(n for n, u in self.users.items() if int(str(u["id"])) == owner)
        thread = self.double.threads.get(channel_id)
        if thread is not None:  # "#allmant/Theme": the thread in that channel
            return f"{self._name(int(thread['parent_id']))}/{thread['name']}"
        return "#" + next(g for g, i in self.groups.items() if i == channel_id)

    async def say(self, user: str, text: str, group: str | None = None) -> list[Said]:
        payload = self.user(user)
        if text.startswith("/"):
            typed, _, args = text[1:].partition(" ")
            spec = self.samtal.registry.find_command(typed)
            data: dict[str, object] = {
                "id": "1",
                "name": spec.swedish if spec else typed,
                "type": 1,
            }
            if args.strip():
                data["options"] = self._options(str(data["name"]), args.strip())
            interaction = self.double.interaction(
                2,
                payload,
                data,
                channel_id=self.group_id(group) if group else None,
                locale=self.locales[user],
                roles=self.roles.get(user),
                permissions=self.permissions.get(user, 0),
            )
            return await self._after(
                lambda: self.client._connection.parse_interaction_create(interaction)  # type: ignore[arg-type]
            )
        if group is not None:
            raise AssertionError("Discord delivers only slash commands from server channels")
        message = {
            "id": str(self.double.next_id()),
            "channel_id": str(self.dm_channel(user)),
            "type": 0,
            "content": text,
            "author": payload,
            "timestamp": "2026-03-02T08:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        return await self._after(lambda: self.client._connection.parse_message_create(message))  # type: ignore[arg-type]

    async def mark_message(self, user: str, group: str, author: str, said: str) -> list[Said]:
        """`user` uses the message command (a message's Apps menu) on `author`'s message."""
        command = next(c for c in self.double.commands if c.get("type") == 3)
        target = str(self.double.next_id())
        message = {
            "id": target,
            "channel_id": str(self.group_id(group)),
            "type": 0,
            "content": said,
            "author": self.user(author),
            "timestamp": "2026-03-02T08:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        data = {
            "id": command["id"],
            "name": command["name"],
            "type": 3,
            "target_id": target,
            "resolved": {"messages": {target: message}},
        }
        interaction = self.double.interaction(
            2,
            self.user(user),
            data,
            channel_id=self.group_id(group),
            locale=self.locales[user],
            roles=self.roles.get(user),
            permissions=self.permissions.get(user, 0),
        )
        return await self._after(
            lambda: self.client._connection.parse_interaction_create(interaction)  # type: ignore[arg-type]
        )

    def _options(self, command: str, args: str) -> list[dict[str, object]]:
        """What a Discord client sends for the typed arguments: the registered command's
        options filled in order, the last one taking the rest; numbers as numbers."""
        registered = next((c for c in self.double.commands if c["name"] == command), None)
        declared = (registered or {}).get("options") or [{"name": "text", "type": 3}]
        words = args.split(" ", len(declared) - 1)
        filled: list[dict[str, object]] = []
        for option, word in zip(declared, words, strict=False):
            value: object = word
            if option["type"] == 4 and word.isascii() and word.isdigit():
                value = int(word)
            filled.append({"name": option["name"], "type": option["type"], "value": value})
        return filled

    async def press(self, user: str, label: str, group: str | None = None) -> list[Said]:
        channel_id = self.group_id(group) if group else self.dm_channel(user)
        for posted in reversed(self.double.posted):
            if posted.channel_id != channel_id:
                continue
            for button in posted.buttons():
                if button.get("label") == label:
                    return await self.press_id(user, posted, button["custom_id"], group)
        raise AssertionError(f"{user} sees no button [{label}]")

    def token_of(self, user: str, label: str) -> str:
        channel_id = self.dm_channel(user)
        for posted in reversed(self.double.posted):
            if posted.channel_id == channel_id:
                for button in posted.buttons():
                    if button.get("label") == label:
                        return str(button["custom_id"]).removeprefix("samtal:")
        raise AssertionError(f"{user} has no button [{label}]")

    async def forge(self, user: str, token: str) -> list[Said]:
        """A component interaction with a made-up custom id, on a message in the user's DMs.

        Discord itself only sends custom ids of components on the message, so the
        message is forged too (as a modified client or a stale message would show it).
        """
        channel_id = self.dm_channel(user)
        custom_id = f"samtal:{token}"
        button = {"type": 2, "style": 2, "label": "?", "custom_id": custom_id}
        message = self.double._message(
            channel_id, {"content": "x", "components": [{"type": 1, "components": [button]}]}
        )
        posted = Posted("channel", channel_id, message, None, [])
        return await self.press_id(user, posted, custom_id)

    async def press_id(
        self, user: str, posted: Posted, custom_id: str, group: str | None = None
    ) -> list[Said]:
        interaction = self.double.interaction(
            3,
            self.user(user),
            {"custom_id": custom_id, "component_type": 2},
            channel_id=self.group_id(group) if group else None,
            locale=self.locales[user],
            message=posted.message,
            roles=self.roles.get(user),
            permissions=self.permissions.get(user, 0),
        )
        return await self._after(
            lambda: self.client._connection.parse_interaction_create(interaction)  # type: ignore[arg-type]
        )

    def modal(self, user: str) -> dict[str, Any]:
        """The newest modal shown to the user: its custom id, title and inputs."""
        user_id = int(str(self.user(user)["id"]))
        for modal in reversed(self.double.modals):
            if modal["user"] == user_id:
                return modal
        raise AssertionError(f"{user} was shown no modal")

    @staticmethod
    def modal_inputs(modal: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            inner
            for row in modal["components"]
            for inner in (row.get("components") or [row.get("component") or {}])
        ]

    async def submit(
        self, user: str, values: dict[str, str], group: str | None = None
    ) -> list[Said]:
        """Submits the newest modal shown to the user, its inputs filled in with `values`."""
        modal = self.modal(user)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": i["custom_id"], "value": v}]}
            for i in self.modal_inputs(modal)
            for v in [values.get(i["custom_id"], "")]
        ]
        interaction = self.double.interaction(
            5,
            self.user(user),
            {"custom_id": modal["custom_id"], "components": rows},
            channel_id=self.group_id(group) if group else None,
            locale=self.locales[user],
            roles=self.roles.get(user),
            permissions=self.permissions.get(user, 0),
        )
        return await self._after(
            lambda: self.client._connection.parse_interaction_create(interaction)  # type: ignore[arg-type]
        )

    async def vote(self, user: str, group: str, answers: list[int]) -> list[Said]:
        """Changes a vote in the newest native poll in a channel to `answers` (from 1; none: no vote)."""
        poll = self.double.poll_in(self.group_id(group))
        events = self.double.vote(self.user(user), poll, answers)
        start = len(self.double.posted)
        expected = self.client.handled + len(events)
        state = self.client._connection
        # Back to back, as the gateway delivers them: discord.py runs each in a task of its own.
        for kind, payload in events:
            if kind == "MESSAGE_POLL_VOTE_ADD":
                state.parse_message_poll_vote_add(payload)  # type: ignore[arg-type]
            else:
                state.parse_message_poll_vote_remove(payload)  # type: ignore[arg-type]
        await eventually(lambda: self.client.handled >= expected, "the votes to be handled")
        await self.samtal.run_due()
        return self._said(start)

    def _said(self, start: int) -> list[Said]:
        return [
            Said(
                self._name(posted.channel_id),
                posted.text,
                tuple(str(b.get("label")) for b in posted.buttons()),
                tuple(
                    a["poll_media"]["text"]
                    for a in (posted.message.get("poll") or {}).get("answers", [])
                ),
            )
            for posted in self.double.posted[start:]
        ]

    async def _after(self, feed: Callable[[], None]) -> list[Said]:
        start = len(self.double.posted)
        expected = self.client.handled + 1
        feed()
        await eventually(lambda: self.client.handled >= expected, "the interaction to be handled")
        await self.samtal.run_due()
        return self._said(start)


@asynccontextmanager
async def discord_bot(
    database: Database,
    clock: VirtualClock,
    double: DiscordDouble | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[DiscordDriver]:
    """The real discord.py, its REST calls answered by the double, gateway payloads fed in."""
    double = double or DiscordDouble()
    await double.start()
    samtal = Samtal(database.unit_of_work, clock, build_registry(), settings=settings)
    await samtal.start()
    client = SamtalClient(samtal, api_base=double.base, gateway_url=double.gateway_url)
    samtal.dispatcher.add_gateway(client.gateway)
    try:
        await client.login(double.token)
        yield DiscordDriver(double, client)
    finally:
        await client.close()
        await double.stop()
