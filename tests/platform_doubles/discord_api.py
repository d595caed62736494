"""A local double of Discord's REST API, for the real discord.py.

Point `discord.http.Route.BASE` at it, log in (GET /users/@me and
/oauth2/applications/@me), and feed gateway payloads to the client's
connection state; the client's answers arrive here. It answers with a
Content-Type of exactly `application/json` (discord.py reads anything else as
text), refuses what Discord refuses (content over 2000 characters, more than
five rows of buttons, custom ids over 100 characters, DMs to someone whose DMs
are closed: 403 code 50007), and works out who a message would ping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

TOKEN = "MTIzNDU2Nzg5.test.discord-token-for-the-double"
APP_ID = 900_000_000_000_000_001
BOT_ID = 900_000_000_000_000_002
GUILD_ID = 900_000_000_000_000_100
TIMESTAMP = "2026-03-02T08:00:00+00:00"
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
EPHEMERAL = 64  # the message flag


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name.lower(),
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


BOT_USER = user_payload(BOT_ID, "Samtal", bot=True)


class Refused(Exception):
    def __init__(self, status: int, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Posted:
    """A message the bot sent: to a channel, a DM, or as an interaction's answer."""

    via: str  # "channel", "response" (the interaction's own answer) or "followup"
    channel_id: int
    message: dict[str, Any]
    allowed_mentions: dict[str, Any] | None
    pinged: list[str]
    files: list[str] = field(default_factory=list)
    interaction_token: str | None = None  # the interaction it answers, if any
    ephemeral: bool = False  # seen only by the person who used the interaction

    @property
    def content(self) -> str:
        return str(self.message.get("content") or "")

    @property
    def text(self) -> str:
        return visible(self.content)

    def buttons(self) -> list[dict[str, Any]]:
        return [
            component
            for row in self.message.get("components", [])
            for component in row.get("components", [])
        ]


def visible(content: str) -> str:
    """What a reader sees of a message's markdown: no emphasis markers, no escapes."""
    content = re.sub(r"\[((?:\\.|[^\]])*)\]\(<[^>]*>\)", r"\1", content)
    out: list[str] = []
    chars = iter(content)
    for char in chars:
        if char == "\\":
            out.append(next(chars, ""))
        elif char != "*":
            out.append(char)
    return "".join(out).replace("\u200b", "")


def pings(content: str, allowed: dict[str, Any] | None, mention_everyone: bool = True) -> list[str]:
    """Who a message pings, by Discord's rules for allowed_mentions (none given: everything)."""
    parse = {"everyone", "users", "roles"} if allowed is None else set(allowed.get("parse", []))
    users = set() if allowed is None else {str(u) for u in allowed.get("users", [])}
    roles = set() if allowed is None else {str(r) for r in allowed.get("roles", [])}
    pinged: list[str] = []
    if mention_everyone and "everyone" in parse:
        pinged += [f"@{m}" for m in re.findall(r"@(everyone|here)\b", content)]
    for user_id in re.findall(r"<@!?(\d+)>", content):
        if "users" in parse or user_id in users:
            pinged.append(f"user:{user_id}")
    for role_id in re.findall(r"<@&(\d+)>", content):
        if "roles" in parse or role_id in roles:
            pinged.append(f"role:{role_id}")
    return pinged


POLL_QUESTION_LIMIT = 300
POLL_ANSWER_LIMIT = 55
POLL_ANSWERS_MAX = 10
POLL_HOURS_MAX = 32 * 24
CODE_POLL_EXPIRED = 520001
CODE_NOT_A_POLL = 520006
DISCORD_EPOCH_MS = 1_420_070_400_000


def check_modal(modal: dict[str, Any]) -> None:
    """What Discord refuses in a modal: a title over 45, no or over 5 inputs, a label over
    45, a placeholder over 100, a custom id over 100, a length over 4000."""
    if not 1 <= len(modal.get("title") or "") <= 45:
        raise Refused(400, "Invalid Form Body: title", 50035)
    if not 1 <= len(modal.get("custom_id") or "") <= 100:
        raise Refused(400, "Invalid Form Body: custom_id", 50035)
    rows = modal.get("components") or []
    inputs = [
        inner
        for row in rows
        for inner in (row.get("components") or [row.get("component") or {}])
        if inner.get("type") == 4
    ]
    if not 1 <= len(rows) <= 5 or len(inputs) != len(rows):
        raise Refused(400, "Invalid Form Body: components", 50035)
    labels = [
        row.get("label") or inner.get("label") or ""
        for row, inner in zip(rows, inputs, strict=True)
    ]
    for text_input, text in zip(inputs, labels, strict=True):
        if not 1 <= len(text) <= 45 or len(text_input.get("placeholder") or "") > 100:
            raise Refused(400, "Invalid Form Body: label", 50035)
        if not 1 <= len(text_input.get("custom_id") or "") <= 100:
            raise Refused(400, "Invalid Form Body: custom_id", 50035)
        if not 1 <= int(text_input.get("max_length", 4000)) <= 4000:
            raise Refused(400, "Invalid Form Body: max_length", 50035)


def check_poll(poll: dict[str, Any]) -> None:
    """Discord's rules for a poll in a new message (Invalid Form Body otherwise)."""
    question = str((poll.get("question") or {}).get("text") or "")
    if not 1 <= len(question) <= POLL_QUESTION_LIMIT:
        raise Refused(400, "Invalid Form Body: poll.question.text", 50035)
    answers = poll.get("answers") or []
    if not 1 <= len(answers) <= POLL_ANSWERS_MAX:
        raise Refused(400, "Invalid Form Body: poll.answers: at most 10", 50035)
    for answer in answers:
        text = str((answer.get("poll_media") or {}).get("text") or "")
        if not 1 <= len(text) <= POLL_ANSWER_LIMIT:
            raise Refused(400, "Invalid Form Body: poll.answers.poll_media.text", 50035)
    hours = float(poll.get("duration", 24))
    if not hours.is_integer() or not 1 <= hours <= POLL_HOURS_MAX:
        raise Refused(400, "Invalid Form Body: poll.duration", 50035)


@dataclass
class NativePoll:
    """A poll the bot posted, with who chose what (what Discord itself keeps)."""

    message_id: int
    channel_id: int
    question: str
    answers: list[str]
    multiple: bool
    hours: int
    ended: bool = False
    votes: dict[int, set[int]] = field(default_factory=dict)  # user id -> answer ids (from 1)

    @classmethod
    def of(cls, message_id: int, channel_id: int, poll: dict[str, Any]) -> NativePoll:
        return cls(
            message_id,
            channel_id,
            poll["question"]["text"],
            [answer["poll_media"]["text"] for answer in poll["answers"]],
            bool(poll.get("allow_multiselect", False)),
            int(float(poll.get("duration", 24))),
        )

    def json(self) -> dict[str, Any]:
        created = ((self.message_id >> 22) + DISCORD_EPOCH_MS) / 1000
        expiry = datetime.fromtimestamp(created + self.hours * 3600, UTC)
        return {
            "question": {"text": self.question},
            "answers": [
                {"answer_id": index, "poll_media": {"text": text}}
                for index, text in enumerate(self.answers, start=1)
            ],
            "expiry": expiry.isoformat(),
            "allow_multiselect": self.multiple,
            "layout_type": 1,
            "results": {
                "is_finalized": self.ended,
                "answer_counts": [
                    {
                        "id": index,
                        "count": sum(index in chosen for chosen in self.votes.values()),
                        "me_voted": False,
                    }
                    for index in range(1, len(self.answers) + 1)
                ],
            },
        }


@dataclass
class DiscordDouble:
    port: int = 0
    token: str = TOKEN
    posted: list[Posted] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[tuple[str, int, str]] = field(default_factory=list)
    dms_closed: set[int] = field(default_factory=set)
    # Channels where the bot may not create threads (no "Create Public Threads" permission).
    threads_forbidden: set[int] = field(default_factory=set)
    events_forbidden: bool = False  # the bot lacks "Manage Events" in the server
    # 429s to answer to the next messages posted, in order: (retry_after, global), as
    # Discord answers them (JSON body, Retry-After and X-RateLimit-* headers, Via).
    too_many: list[tuple[float, bool]] = field(default_factory=list)
    # Log-ins (GET /users/@me) still to leave unanswered for a second: Discord unreachable.
    stalled_logins: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(950_000_000_000_000_000)
        self.dm_channels: dict[int, int] = {}  # DM channel id -> user id
        self.interaction_channels: dict[str, int] = {}  # interaction token -> its channel
        self.interaction_users: dict[str, int] = {}  # interaction token -> who it is from
        # Modals shown (callback type 9): their data, with "user" and "channel_id" added.
        self.modals: list[dict[str, Any]] = []
        self.nonces: dict[tuple[int, str], dict[str, Any]] = {}  # enforced nonces -> message
        self.deleted_placeholders: list[str] = []  # interaction tokens
        # Interactions deferred with "thinking…" whose placeholder no answer has replaced
        # yet: token -> whether the placeholder is ephemeral. The first follow-up replaces
        # it and keeps its visibility, as on Discord.
        self.placeholders: dict[str, bool] = {}
        self.responded: dict[str, int] = {}  # interaction id -> the callback type it got
        self.sockets: list[web.WebSocketResponse] = []  # gateway connections that identified
        self.message_channels: dict[int, int] = {}  # message id -> the channel it is in
        self.threads: dict[int, dict[str, Any]] = {}  # thread id (its first message's id) -> thread
        self.channels: dict[int, dict[str, Any]] = {}  # server channels seen in interactions
        self.events: dict[int, dict[str, Any]] = {}  # guild scheduled events, by id
        self.polls: dict[int, NativePoll] = {}  # polls the bot posted, by their message's id
        self.users: dict[int, dict[str, Any]] = {}  # people seen voting (GET /users/<id>)
        self._sequence = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def next_id(self) -> int:
        return next(self._ids)

    async def start(self) -> None:
        app = web.Application()
        api = "/api/v10"
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(api + "/users/@me", self._me)
        app.router.add_get(api + "/oauth2/applications/@me", self._application)
        app.router.add_put(api + "/applications/{app}/commands", self._put_commands)
        app.router.add_post(api + "/interactions/{id}/{token}/callback", self._callback)
        app.router.add_post(api + "/webhooks/{app}/{token}", self._followup)
        app.router.add_delete(
            api + "/webhooks/{app}/{token}/messages/@original", self._delete_original
        )
        app.router.add_post(api + "/channels/{channel}/messages", self._channel_message)
        app.router.add_post(api + "/users/@me/channels", self._open_dm)
        app.router.add_post(
            api + "/channels/{channel}/messages/{message}/threads", self._thread_from_message
        )
        app.router.add_get(api + "/channels/{channel}", self._get_channel)
        app.router.add_post(api + "/guilds/{guild}/scheduled-events", self._create_event)
        app.router.add_patch(api + "/guilds/{guild}/scheduled-events/{event}", self._edit_event)
        app.router.add_post(api + "/channels/{channel}/polls/{message}/expire", self._end_poll)
        app.router.add_get(api + "/users/{user}", self._user)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def stop(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- answers ---------------------------------------------------------------------------

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # Exactly application/json: discord.py reads "application/json; charset=utf-8" as text.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    def _refuse(self, request: web.Request, refused: Refused) -> web.Response:
        self.refusals.append((request.path, refused.status, refused.message))
        return self._json({"message": refused.message, "code": refused.code}, refused.status)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            payload["_files"] = [
                value.filename for key, value in form.items() if not isinstance(value, str)
            ]
            return dict(payload)
        text = await request.text()
        return dict(json.loads(text)) if text else {}

    async def _me(self, request: web.Request) -> web.Response:
        if self.stalled_logins > 0:
            self.stalled_logins -= 1
            await asyncio.sleep(1.0)
        if not self._authorised(request):
            return self._refuse(request, Refused(401, "401: Unauthorized"))
        return self._json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "id": str(APP_ID),
                "name": "Samtal",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "Owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        commands = await request.json()
        for command in commands:
            names = [command["name"], *command.get("name_localizations", {}).values()]
            if command.get("type") == 3:  # a message command: any name of 1-32, no description
                if not all(1 <= len(n) <= 32 for n in names) or command.get("description"):
                    return self._refuse(request, Refused(400, "Invalid Form Body: name", 50035))
                continue
            if not all(COMMAND_NAME.match(n) and n == n.lower() for n in names):
                return self._refuse(request, Refused(400, "Invalid Form Body: name", 50035))
            descriptions = [
                command["description"],
                *command.get("description_localizations", {}).values(),
            ]
            if not all(1 <= len(d) <= 100 for d in descriptions):
                return self._refuse(request, Refused(400, "Invalid Form Body: description", 50035))
        self.commands = [
            {**command, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1"}
            for command in commands
        ]
        return self._json(self.commands)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        interaction_id, token = request.match_info["id"], request.match_info["token"]
        self.callbacks.append({"interaction_id": interaction_id, **body})
        kind = body.get("type")
        if interaction_id in self.responded:  # Discord: one response per interaction
            return self._refuse(
                request, Refused(400, "Interaction has already been acknowledged.", 40060)
            )
        data = dict(body.get("data") or {})
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        message: dict[str, Any] | None = None
        if kind == 4:  # a message as the answer itself
            data["_files"] = body.get("_files", [])
            try:
                message = self._record(
                    "response",
                    self.interaction_channels[token],
                    data,
                    token=token,
                    ephemeral=ephemeral,
                )
            except Refused as refused:
                return self._refuse(request, refused)
        elif kind == 5:  # "thinking…"
            self.placeholders[token] = ephemeral
        elif kind == 9:  # a modal: only as the first response, and within Discord's limits
            try:
                check_modal(data)
            except Refused as refused:
                return self._refuse(request, refused)
            self.modals.append(
                {
                    **data,
                    "user": self.interaction_users[token],
                    "channel_id": self.interaction_channels[token],
                }
            )
        self.responded[interaction_id] = int(kind or 0)
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "type": kind,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": ephemeral,
        }
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            interaction["response_message_id"] = message["id"]
            resource["message"] = message
        return self._json({"interaction": interaction, "resource": resource})

    def _check_message(self, body: dict[str, Any]) -> None:
        content = body.get("content") or ""
        if len(content) > 2000:
            raise Refused(
                400, "Invalid Form Body: content: Must be 2000 or fewer in length.", 50035
            )
        rows = body.get("components") or []
        if not content and not rows and not body.get("_files") and not body.get("poll"):
            raise Refused(400, "Cannot send an empty message", 50006)
        if len(rows) > 5:
            raise Refused(400, "Invalid Form Body: components: at most 5 rows", 50035)
        for row in rows:
            for component in row.get("components", []):
                if (
                    len(component.get("custom_id", "")) > 100
                    or len(component.get("label", "")) > 80
                ):
                    raise Refused(400, "Invalid Form Body: component too long", 50035)

    def _message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(self.next_id()),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": BOT_USER,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "components": body.get("components") or [],
        }

    def _record(
        self,
        via: str,
        channel_id: int,
        body: dict[str, Any],
        *,
        token: str | None = None,
        ephemeral: bool = False,
    ) -> dict[str, Any]:
        self._check_message(body)
        poll = body.get("poll")
        if poll is not None:
            check_poll(poll)
        message = self._plain_record(via, channel_id, body, token=token, ephemeral=ephemeral)
        if poll is not None:
            native = NativePoll.of(int(message["id"]), channel_id, poll)
            self.polls[native.message_id] = native
            message["poll"] = native.json()
        return message

    def _plain_record(
        self,
        via: str,
        channel_id: int,
        body: dict[str, Any],
        *,
        token: str | None = None,
        ephemeral: bool = False,
    ) -> dict[str, Any]:
        message = self._message(channel_id, body)
        if ephemeral:
            message["flags"] = EPHEMERAL
        self.message_channels[int(message["id"])] = channel_id
        allowed = body.get("allowed_mentions")
        self.posted.append(
            Posted(
                via,
                channel_id,
                message,
                allowed,
                pings(message["content"], allowed),
                list(body.get("_files", [])),
                token,
                ephemeral,
            )
        )
        return message

    async def _followup(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        token = request.match_info["token"]
        if token not in self.interaction_channels:
            return self._refuse(request, Refused(404, "Unknown Webhook", 10015))
        if token in self.placeholders:  # replaces "thinking…", whose visibility it keeps
            ephemeral = self.placeholders.pop(token)
        else:
            ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
        try:
            channel_id = self.interaction_channels[token]
            message = self._record("followup", channel_id, body, token=token, ephemeral=ephemeral)
        except Refused as refused:
            return self._refuse(request, refused)
        return self._json(message)

    async def _delete_original(self, request: web.Request) -> web.Response:
        self.deleted_placeholders.append(request.match_info["token"])
        self.placeholders.pop(request.match_info["token"], None)
        return web.Response(status=204)

    def _too_many(self, request: web.Request) -> web.Response:
        retry_after, is_global = self.too_many.pop(0)
        self.refusals.append((request.path, 429, "You are being rate limited."))
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        return web.Response(
            body=json.dumps({**body, "global": is_global}).encode(),
            status=429,
            headers={
                "Content-Type": "application/json",
                "Via": "1.1 google",
                "Retry-After": str(retry_after),
                "X-RateLimit-Global": str(is_global).lower(),
                "X-RateLimit-Scope": "global" if is_global else "user",
            },
        )

    async def _channel_message(self, request: web.Request) -> web.Response:
        if self.too_many:
            return self._too_many(request)
        channel_id = int(request.match_info["channel"])
        user_id = self.dm_channels.get(channel_id)
        if user_id is not None and user_id in self.dms_closed:
            return self._refuse(request, Refused(403, "Cannot send messages to this user", 50007))
        body = await self._body(request)
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            return self._refuse(request, Refused(400, "Invalid Form Body: nonce", 50035))
        if body.get("enforce_nonce") and nonce is not None:
            # Like Discord: the same nonce from the bot again (within minutes) returns the
            # message it created the first time, and creates nothing.
            earlier = self.nonces.get((channel_id, str(nonce)))
            if earlier is not None:
                return self._json(earlier)
        try:
            message = self._record("channel", channel_id, body)
        except Refused as refused:
            return self._refuse(request, refused)
        if body.get("enforce_nonce") and nonce is not None:
            self.nonces[(channel_id, str(nonce))] = message
        return self._json(message)

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        """Starts a thread on a message; like Discord, the thread's id is the message's id."""
        channel_id = int(request.match_info["channel"])
        message_id = int(request.match_info["message"])
        body = await self._body(request)
        name = str(body.get("name") or "")
        if channel_id in self.dm_channels:
            return self._refuse(
                request, Refused(400, "Cannot execute action on a DM channel", 50003)
            )
        if channel_id in self.threads_forbidden:
            return self._refuse(request, Refused(403, "Missing Permissions", 50013))
        if self.message_channels.get(message_id) != channel_id:
            return self._refuse(request, Refused(404, "Unknown Message", 10008))
        if message_id in self.threads:
            return self._refuse(
                request,
                Refused(400, "A thread has already been created for this message", 160004),
            )
        if not 1 <= len(name) <= 100:
            return self._refuse(request, Refused(400, "Invalid Form Body: name", 50035))
        if body.get("auto_archive_duration") not in (60, 1440, 4320, 10080):
            return self._refuse(
                request, Refused(400, "Invalid Form Body: auto_archive_duration", 50035)
            )
        self.threads[message_id] = {
            "id": str(message_id),
            "type": 11,  # a public thread
            "guild_id": str(GUILD_ID),
            "parent_id": str(channel_id),
            "name": name,
            "owner_id": str(BOT_ID),
            "message_count": 0,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body["auto_archive_duration"],
                "archive_timestamp": TIMESTAMP,
                "locked": False,
            },
        }
        return self._json(self.threads[message_id], 201)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel"])
        found = self.threads.get(channel_id) or self.channels.get(channel_id)
        if found is None:
            return self._refuse(request, Refused(404, "Unknown Channel", 10003))
        return self._json(found)

    @staticmethod
    def _check_event(event: dict[str, Any]) -> None:
        """Discord's rules for an external scheduled event."""
        from datetime import datetime

        if not 1 <= len(str(event.get("name") or "")) <= 100:
            raise Refused(400, "Invalid Form Body: name", 50035)
        if event.get("privacy_level") != 2:
            raise Refused(400, "Invalid Form Body: privacy_level", 50035)
        if len(str(event.get("description") or "")) > 1000:
            raise Refused(400, "Invalid Form Body: description", 50035)
        if event.get("entity_type") != 3:
            raise Refused(400, "Invalid Form Body: entity_type", 50035)
        location = str((event.get("entity_metadata") or {}).get("location") or "")
        if not 1 <= len(location) <= 100:
            raise Refused(400, "Invalid Form Body: entity_metadata.location", 50035)
        start, end = event.get("scheduled_start_time"), event.get("scheduled_end_time")
        if not start or not end:  # an external event needs both
            raise Refused(400, "Invalid Form Body: scheduled_end_time", 50035)
        if datetime.fromisoformat(end) <= datetime.fromisoformat(start):
            raise Refused(400, "Invalid Form Body: end must be after start", 50035)

    async def _create_event(self, request: web.Request) -> web.Response:
        if self.events_forbidden:
            return self._refuse(request, Refused(403, "Missing Permissions", 50013))
        body = await self._body(request)
        try:
            self._check_event(body)
        except Refused as refused:
            return self._refuse(request, refused)
        event_id = self.next_id()
        self.events[event_id] = {
            **body,
            "id": str(event_id),
            "guild_id": request.match_info["guild"],
            "channel_id": None,
            "creator_id": str(BOT_ID),
            "status": 1,  # scheduled
            "entity_id": None,
        }
        return self._json(self.events[event_id])

    async def _edit_event(self, request: web.Request) -> web.Response:
        event = self.events.get(int(request.match_info["event"]))
        if event is None or event["guild_id"] != request.match_info["guild"]:
            return self._refuse(request, Refused(404, "Unknown Guild Scheduled Event", 10070))
        body = await self._body(request)
        status = body.get("status", event["status"])
        # scheduled -> active or cancelled; active -> completed; nothing after those.
        allowed = {1: {1, 2, 4}, 2: {2, 3}}.get(event["status"], set())
        if status not in allowed:
            return self._refuse(
                request, Refused(400, "Cannot update an event that is over or cancelled", 180000)
            )
        updated = {**event, **body}
        try:
            self._check_event(updated)
        except Refused as refused:
            return self._refuse(request, refused)
        event.update(updated)
        return self._json(event)

    def thread_of(self, message_id: int) -> dict[str, Any] | None:
        return self.threads.get(message_id)

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user_id = int(body["recipient_id"])
        channel_id = next((c for c, u in self.dm_channels.items() if u == user_id), None)
        if channel_id is None:
            channel_id = self.next_id()
            self.dm_channels[channel_id] = user_id
        return self._json(
            {"id": str(channel_id), "type": 1, "recipients": [user_payload(user_id, f"u{user_id}")]}
        )

    # -- the gateway: a websocket that says hello, accepts the identify, and dispatches ----

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": 41250}})
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if message["op"] == 1:  # heartbeat
                await socket.send_json({"op": 11, "s": None, "t": None, "d": None})
            elif message["op"] == 2:  # identify
                if message["d"].get("token") != self.token:
                    await socket.close(code=4004, message=b"Authentication failed.")
                    break
                self.sockets.append(socket)
                await self._send(
                    socket,
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [],
                        "session_id": "session-1",
                        "resume_gateway_url": self.gateway_url,
                        "application": {"id": str(APP_ID), "flags": 0},
                    },
                )
        if socket in self.sockets:
            self.sockets.remove(socket)
        return socket

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Sends a gateway event (e.g. INTERACTION_CREATE) to every identified client."""
        for socket in self.sockets:
            await self._send(socket, event, data)

    # -- interactions (gateway payloads to feed the client) -------------------------------

    def interaction(
        self,
        kind: int,
        user: dict[str, Any],
        data: dict[str, Any],
        *,
        channel_id: int | None = None,
        locale: str = "sv-SE",
        message: dict[str, Any] | None = None,
        roles: list[int] | None = None,
        permissions: int = 0,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload: in a server channel, or in the user's DM (channel_id None).

        In a server channel the member carries their role ids and their permissions there
        (e.g. 32: Manage Server), as Discord sends them.
        """
        interaction_id = self.next_id()
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"itoken{interaction_id}",
            "version": 1,
            "data": data,
            "locale": locale,
            "app_permissions": "0",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if channel_id is None:
            dm_id = next((c for c, u in self.dm_channels.items() if u == int(user["id"])), None)
            if dm_id is None:
                dm_id = self.next_id()
                self.dm_channels[dm_id] = int(user["id"])
            payload |= {
                "user": user,
                "channel_id": str(dm_id),
                "channel": {"id": str(dm_id), "type": 1, "recipients": [user]},
                "context": 1,
            }
        else:
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 0,
                "name": f"kanal{channel_id % 1000}",
                "guild_id": str(GUILD_ID),
            }
            payload |= {
                "guild_id": str(GUILD_ID),
                "guild_locale": "sv-SE",
                "channel_id": str(channel_id),
                "channel": {
                    "id": str(channel_id),
                    "type": 0,
                    "name": f"kanal{channel_id % 1000}",
                    "position": 0,
                    "guild_id": str(GUILD_ID),
                    "permission_overwrites": [],
                },
                "member": {
                    "user": user,
                    "roles": [str(role) for role in roles or []],
                    "joined_at": TIMESTAMP,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "permissions": str(permissions),
                },
                "context": 0,
            }
        if message is not None:
            payload["message"] = message
        self.interaction_channels[payload["token"]] = int(payload["channel_id"])
        self.interaction_users[payload["token"]] = int(user["id"])
        return payload

    # -- native polls ---------------------------------------------------------------------

    async def _end_poll(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel"])
        message_id = int(request.match_info["message"])
        if self.message_channels.get(message_id) != channel_id:
            return self._refuse(request, Refused(404, "Unknown Message", 10008))
        poll = self.polls.get(message_id)
        if poll is None:
            return self._refuse(
                request, Refused(400, "Cannot expire a non-poll message", CODE_NOT_A_POLL)
            )
        if poll.ended:
            return self._refuse(request, Refused(400, "Poll expired", CODE_POLL_EXPIRED))
        poll.ended = True
        message = self._message(channel_id, {"content": ""})
        return self._json({**message, "id": str(message_id), "poll": poll.json()})

    async def _user(self, request: web.Request) -> web.Response:
        user_id = int(request.match_info["user"])
        return self._json(self.users.get(user_id) or user_payload(user_id, f"u{user_id}"))

    def poll_in(self, channel_id: int) -> NativePoll:
        """The newest poll the bot posted in a channel."""
        found = [p for p in self.polls.values() if p.channel_id == channel_id]
        assert found, f"no poll was posted in {channel_id}"
        return found[-1]

    def vote(
        self, user: dict[str, Any], poll: NativePoll, answers: list[int]
    ) -> list[tuple[str, dict[str, Any]]]:
        """What Discord's app does when someone changes their vote to `answers` (ids from 1).

        Refuses what the app does not let anyone do (Refused): voting in an ended poll,
        unknown answers, several answers in a single-choice poll. Returns the gateway
        events Discord sends the bot: a removal per answer taken back, then an addition
        per answer ticked.
        """
        if poll.ended:
            raise Refused(400, "Poll expired", CODE_POLL_EXPIRED)
        if any(not 1 <= a <= len(poll.answers) for a in answers):
            raise Refused(400, "Unknown answer")
        if len(set(answers)) != len(answers) or (len(answers) > 1 and not poll.multiple):
            raise Refused(400, "one answer only")
        user_id = int(user["id"])
        self.users[user_id] = user
        before = poll.votes.get(user_id, set())
        after = set(answers)
        if after:
            poll.votes[user_id] = after
        else:
            poll.votes.pop(user_id, None)
        base = {
            "user_id": str(user_id),
            "channel_id": str(poll.channel_id),
            "message_id": str(poll.message_id),
            "guild_id": str(GUILD_ID),
        }
        events = [
            ("MESSAGE_POLL_VOTE_REMOVE", {**base, "answer_id": answer})
            for answer in sorted(before - after)
        ]
        events += [
            ("MESSAGE_POLL_VOTE_ADD", {**base, "answer_id": answer})
            for answer in sorted(after - before)
        ]
        return events
