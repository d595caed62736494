"""A local double of the Telegram Bot API, for the real python-telegram-bot over HTTP.

It hands out injected updates through getUpdates (long polling), records what
the bot sends, and refuses what Telegram refuses: text over 4096 characters,
malformed HTML in HTML parse mode, callback data over 64 bytes, sends to a
chat that blocked the bot (403), private messages to someone who never started
the bot (`strangers`, 403: a bot can't write first), and sends over the rate
limits (429 with retry_after).

With `enforce_limits=True` it keeps Telegram's limits as the platform does
(`LIMITS`), counting each request on arrival in sliding windows:

- 30 messages in any second overall; with `allow_paid_broadcast` the message
  counts instead towards 1000 in any second (all messages count there);
- one a second per private chat, with short bursts: at most 3 in any 3 seconds
  (a long message's parts may go at once; a steady stream must keep to 1/s);
- 20 in any minute per group.

A refused request gets 429 with `parameters.retry_after`: the whole seconds
until the window has room again. Like Telegram's flood wait, that scope then
stays closed until the retry_after has passed: a request that comes sooner
is refused again and counted in `counts.early` (a client that does not honour
retry_after). `force_429(seconds)` makes the next request meet such a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Samtal",
    "username": "SamtalTestBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
ALLOWED_TAGS = {"b", "i", "a", "code", "pre"}
_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<tag>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>[^<>]*)>"
    r"|&(?P<entity>lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);"
    r"|(?P<bare>[<>&])"
)
_HREF = re.compile(r'^\s+href="(?P<url>[^"]*)"\s*$')


# Update kinds Telegram sends only when a bot asks for them by name in allowed_updates.
NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
# Bot API 10.0, as python-telegram-bot 22.8 has it (telegram.constants.PollLimit).
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTIONS_MAX = 12
POLL_OPEN_PERIOD = (5, 2_628_000)


@dataclass
class NativePoll:
    """A poll the bot sent, with who chose what (what Telegram itself keeps)."""

    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    anonymous: bool
    multiple: bool
    revoting: bool
    hide_results: bool
    closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)  # user id -> option ids

    def json(self) -> dict[str, Any]:
        counts = [
            sum(o in chosen for chosen in self.votes.values()) for o in range(len(self.options))
        ]
        return {
            "id": self.id,
            "question": self.question,
            "options": [
                {"text": text, "voter_count": count, "persistent_id": str(index)}
                for index, (text, count) in enumerate(zip(self.options, counts, strict=True))
            ],
            "total_voter_count": len(self.votes),
            "is_closed": self.closed,
            "is_anonymous": self.anonymous,
            "type": "regular",
            "allows_multiple_answers": self.multiple,
            "allows_revoting": self.revoting,
            "members_only": False,
        }


# (messages, seconds) in `enforce_limits` mode, by scope.
LIMITS: dict[str, tuple[int, float]] = {
    "overall": (30, 1.0),
    "paid": (1000, 1.0),
    "private": (3, 3.0),
    "group": (20, 60.0),
}


@dataclass
class LimitCounts:
    """What the enforcing double accepted and refused."""

    accepted: int = 0  # messages within the limits
    paid: int = 0  # of those, sent with allow_paid_broadcast
    refused: int = 0  # 429s answered
    # Of those, requests during a flood wait the bot had already been told of: retries too
    # soon, or requests sent concurrently with the one that was refused first.
    early: int = 0


class Refused(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def parse_html(text: str) -> str:
    """The visible text of a message in HTML parse mode, or Refused as Telegram would."""
    visible: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        visible.append(text[position : match.start()])
        position = match.end()
        if match["bare"]:
            raise Refused(
                400,
                f"Bad Request: can't parse entities: unescaped {match['bare']!r} at {match.start()}",
            )
        if match["entity"]:
            visible.append(html.unescape(match.group(0)))
            continue
        tag = match["tag"].lower()
        if tag not in ALLOWED_TAGS:
            raise Refused(400, f"Bad Request: can't parse entities: unsupported start tag {tag!r}")
        if match["close"]:
            if not stack or stack.pop() != tag:
                raise Refused(400, f"Bad Request: can't parse entities: unexpected end tag {tag!r}")
            continue
        attrs = match["attrs"]
        if tag == "a":
            href = _HREF.match(attrs)
            if href is None:
                raise Refused(400, "Bad Request: can't parse entities: a link needs one href")
        elif attrs.strip():
            raise Refused(400, f"Bad Request: can't parse entities: attributes on {tag!r}")
        stack.append(tag)
    visible.append(text[position:])
    if stack:
        raise Refused(400, f"Bad Request: can't parse entities: unclosed tag {stack[-1]!r}")
    return "".join(visible)


@dataclass
class Sent:
    method: str
    chat_id: int
    message_id: int
    text: str  # as sent (HTML in HTML parse mode)
    visible: str  # what the reader sees
    reply_markup: dict[str, Any] | None
    filename: str | None = None
    thread_id: int | None = None  # the forum topic it went to
    reply_to: int | None = None  # the message it answers
    poll_id: str | None = None  # sendPoll: the poll's id (see `TelegramDouble.polls`)

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class TelegramDouble:
    token: str = TOKEN
    port: int = 0
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusals: list[tuple[str, int, str]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    strangers: set[int] = field(default_factory=set)  # users who never started the bot
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # (messages, seconds): Telegram's published limits; private chats have none by default.
    overall_limit: tuple[int, float] = (30, 1.0)
    group_limit: tuple[int, float] = (20, 60.0)
    private_limit: tuple[int, float] | None = None
    retry_after: int = 3
    forums: set[int] = field(default_factory=set)  # groups with topics turned on
    # Telegram's limits as the platform keeps them (see the module's note) instead of the
    # fixed ones above; off by default.
    enforce_limits: bool = False
    # The monotonic clock the limits are counted on: a test may share a fake one with the
    # bot's limiter, so that what is checked does not depend on how busy the machine is.
    clock: Callable[[], float] = field(default=time.monotonic)
    # getMe requests still to leave unanswered for a second (the client times out first),
    # as when Telegram cannot be reached at start.
    stalled_get_me: int = 0

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._new_update = asyncio.Condition()
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self.confirmed = 0  # the highest update id the bot confirmed by asking past it
        self.topics: dict[int, dict[int, str]] = defaultdict(dict)  # chat -> topic id -> name
        self.polls: dict[str, NativePoll] = {}  # sendPoll's polls by their id
        self._poll_ids = itertools.count(5_000_000_000_000_000_001)
        # What getUpdates was last asked for; None: Telegram's default.
        self.allowed_updates: list[str] | None = None
        self.counts = LimitCounts()
        self.accepted_at: list[float] = []  # arrival of each accepted message, on `clock`
        # Scope -> (closed until, whether the bot has been told so with a 429).
        self._floods: dict[str, tuple[float, bool]] = {}

    # -- running ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        async with self._new_update:
            self._new_update.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- injecting updates -----------------------------------------------------------------

    @staticmethod
    def user(user_id: int, first_name: str, language: str = "sv") -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "username": first_name.lower(),
            "language_code": language,
        }

    @staticmethod
    def chat(chat_id: int, title: str | None = None) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "x"}
        return {"id": chat_id, "type": "supergroup", "title": title or "Grupp"}

    async def inject(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        async with self._new_update:
            self._updates.append({"update_id": update_id, **update})
            self._new_update.notify_all()
        return update_id

    async def send_text(
        self,
        user: dict[str, Any],
        text: str,
        chat_id: int | None = None,
        *,
        replying_to: tuple[dict[str, Any], str] | None = None,
        thread_id: int | None = None,
    ) -> int:
        """A message; `replying_to` (author, text) makes it a reply to another member's
        message in the same chat, `thread_id` puts it in a forum topic."""
        chat = self.chat(chat_id if chat_id is not None else user["id"])
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
            "entities": entities,
        }
        if thread_id is not None:
            message |= {"message_thread_id": thread_id, "is_topic_message": True}
        if replying_to is not None:
            author, said = replying_to
            message["reply_to_message"] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": author,
                "text": said,
            }
        return await self.inject({"message": message})

    async def press(self, user: dict[str, Any], sent: Sent, data: str) -> int:
        message = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self.chat(sent.chat_id),
            "from": BOT_USER,
            "text": sent.visible,
        }
        return await self.inject(
            {
                "callback_query": {
                    "id": f"cq{next(self._message_ids)}",
                    "from": user,
                    "chat_instance": "ci",
                    "message": message,
                    "data": data,
                }
            }
        )

    # -- the API ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(Refused(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(Refused(404, "Not Found: method not found"))
        try:
            result = await handler(params)
        except Refused as refused:
            self.refusals.append((method, refused.code, refused.description))
            return self._error(refused)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value) if value[:1] in "[{" else value
                except json.JSONDecodeError:
                    params[key] = value
            else:  # an uploaded file
                params[key] = {"filename": value.filename, "data": value.file.read()}
        return params

    @staticmethod
    def _error(refused: Refused) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": refused.code,
            "description": refused.description,
        }
        if refused.retry_after is not None:
            body["parameters"] = {"retry_after": refused.retry_after}
        return web.json_response(body, status=refused.code)

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        if self.stalled_get_me > 0:
            self.stalled_get_me -= 1
            await asyncio.sleep(1.0)
        return BOT_USER

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.confirmed = max(self.confirmed, offset - 1)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if "allowed_updates" in params:  # remembered, as Telegram does, until asked otherwise
            self.allowed_updates = list(params["allowed_updates"] or []) or None
        # Telegram never delivers updates of kinds the bot did not ask for.
        self._updates = [u for u in self._updates if self._wanted(u)]
        async with self._new_update:
            if not self._updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout)
            self._updates = [u for u in self._updates if self._wanted(u)]
        return list(self._updates[: int(params.get("limit") or 100)])

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed_updates

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params["commands"]
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise Refused(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise Refused(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[params.get("language_code", "")] = commands
        return True

    def force_429(self, seconds: int) -> None:
        """The next message is refused with a flood wait of `seconds`, as are all until then."""
        self._floods["*"] = (self.clock() + seconds, False)

    def _enforce(self, chat_id: int, paid: bool) -> None:
        now = self.clock()
        chat_scope = ("private" if chat_id > 0 else "group", str(chat_id))
        scopes = [("paid", "*")] if paid else [("overall", "*"), ("paid", "*")]
        scopes.append(chat_scope)
        for _, key in scopes:
            until, told = self._floods.get(key, (0.0, False))
            if now < until:
                self.counts.refused += 1
                self.counts.early += told
                self._floods[key] = (until, True)
                wait = math.ceil(until - now)
                raise Refused(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        for kind, key in scopes:
            limit, period = LIMITS[kind]
            times = self._times[f"{kind}:{key}"]
            while times and now - times[0] >= period:
                times.popleft()
            if len(times) >= limit:
                wait = max(1, math.ceil(times[len(times) - limit] + period - now))
                self._floods[key] = (now + wait, True)
                self.counts.refused += 1
                raise Refused(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        for kind, key in scopes:
            self._times[f"{kind}:{key}"].append(now)
        self.counts.accepted += 1
        self.counts.paid += paid
        self.accepted_at.append(now)

    def _check_chat(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise Refused(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.strangers:
            raise Refused(403, "Forbidden: bot can't initiate conversation with a user")
        if self.enforce_limits:
            paid = str(params.get("allow_paid_broadcast", "")).lower() == "true"
            self._enforce(chat_id, paid)
            return chat_id
        now = self.clock()
        limits = [("*", self.overall_limit)]
        per_chat = self.private_limit if chat_id > 0 else self.group_limit
        if per_chat is not None:
            limits.append((str(chat_id), per_chat))
        for key, (limit, period) in limits:
            times = self._times[key]
            while times and now - times[0] >= period:
                times.popleft()
            if len(times) >= limit:
                raise Refused(
                    429,
                    f"Too Many Requests: retry after {self.retry_after}",
                    retry_after=self.retry_after,
                )
        for key, _ in limits:
            self._times[key].append(now)
        return chat_id

    @staticmethod
    def _check_markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise Refused(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and "url" not in button:
                    raise Refused(400, "Bad Request: button has no action")
        return dict(markup)

    def _message(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": BOT_USER,
            "text": text,
        }

    def _visible(self, text: str, parse_mode: str | None, limit: int) -> str:
        visible = parse_html(text) if parse_mode == "HTML" else text
        if not visible.strip():
            raise Refused(400, "Bad Request: message text is empty")
        if len(visible) > limit:
            raise Refused(400, "Bad Request: message is too long")
        return visible

    def _placement(self, params: dict[str, Any]) -> tuple[int | None, int | None]:
        """The topic and the replied-to message, refused as Telegram does when they are not there."""
        chat_id = int(params["chat_id"])
        thread_id = int(params["message_thread_id"]) if "message_thread_id" in params else None
        if thread_id is not None and thread_id not in self.topics.get(chat_id, {}):
            raise Refused(400, "Bad Request: message thread not found")
        reply = params.get("reply_parameters")
        reply_to = int(reply["message_id"]) if reply else None
        missing = not any(s.chat_id == chat_id and s.message_id == reply_to for s in self.sent)
        if reply_to is not None and not reply.get("allow_sending_without_reply") and missing:
            raise Refused(400, "Bad Request: message to be replied not found")
        return thread_id, reply_to

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        visible = self._visible(text, params.get("parse_mode"), 4096)
        markup = self._check_markup(params)
        thread_id, reply_to = self._placement(params)
        chat_id = self._check_chat(params)
        message_id = next(self._message_ids)
        self.sent.append(
            Sent(
                "sendMessage", chat_id, message_id, text, visible, markup, None, thread_id, reply_to
            )
        )
        return self._message(chat_id, message_id, visible)

    async def _api_createForumTopic(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        name = str(params.get("name", ""))
        if chat_id not in self.forums:
            raise Refused(400, "Bad Request: the chat is not a forum")
        if not 1 <= len(name) <= 128:
            raise Refused(400, "Bad Request: TOPIC_NAME_INVALID")
        self._check_chat(params)
        thread_id = next(self._message_ids)  # a topic's id is that of its creation message
        self.topics[chat_id][thread_id] = name
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    async def _send_file(self, method: str, field_name: str, params: dict[str, Any]) -> Any:
        caption = params.get("caption")
        visible = self._visible(caption, params.get("parse_mode"), 1024) if caption else ""
        file = params.get(field_name)
        if not isinstance(file, dict):
            raise Refused(400, "Bad Request: there is no file in the request")
        chat_id = self._check_chat(params)
        message_id = next(self._message_ids)
        self.sent.append(
            Sent(method, chat_id, message_id, caption or "", visible, None, file["filename"])
        )
        return self._message(chat_id, message_id, visible)

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        return await self._send_file("sendDocument", "document", params)

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        return await self._send_file("sendPhoto", "photo", params)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(params.get("text") or "") > 200:
            raise Refused(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        self._check_markup(params)
        return True

    # -- reading what was sent -------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [sent for sent in self.sent if sent.chat_id == chat_id]

    # -- native polls ---------------------------------------------------------------------

    @staticmethod
    def _flag(params: dict[str, Any], name: str, default: bool) -> bool:
        value = params.get(name)
        return default if value is None else str(value).lower() == "true"

    async def _api_sendPoll(self, params: dict[str, Any]) -> Any:
        question = str(params.get("question", ""))
        if not question.strip():
            raise Refused(400, "Bad Request: poll question must be non-empty")
        if len(question) > POLL_QUESTION_LIMIT:
            raise Refused(400, "Bad Request: poll question length must not exceed 300")
        raw = params.get("options")
        if not isinstance(raw, list):
            raise Refused(400, "Bad Request: can't parse options JSON object")
        options = [str(o["text"] if isinstance(o, dict) else o) for o in raw]
        if not options:
            raise Refused(400, "Bad Request: poll must have at least 1 option")
        if len(options) > POLL_OPTIONS_MAX:
            raise Refused(400, "Bad Request: poll can't have more than 12 options")
        if any(not o.strip() for o in options):
            raise Refused(400, "Bad Request: poll options must be non-empty")
        if any(len(o) > POLL_OPTION_LIMIT for o in options):
            raise Refused(400, "Bad Request: poll options length must not exceed 100")
        if "open_period" in params and "close_date" in params:
            raise Refused(400, "Bad Request: can't use open_period and close_date together")
        if "open_period" in params:
            low, high = POLL_OPEN_PERIOD
            if not low <= int(params["open_period"]) <= high:
                raise Refused(400, "Bad Request: wrong open_period specified")
        anonymous = self._flag(params, "is_anonymous", True)
        chat_id = int(params["chat_id"])
        thread_id, reply_to = self._placement(params)
        self._check_chat(params)
        message_id = next(self._message_ids)
        poll = NativePoll(
            str(next(self._poll_ids)),
            chat_id,
            message_id,
            question,
            options,
            anonymous,
            self._flag(params, "allows_multiple_answers", False),
            self._flag(params, "allows_revoting", True),
            self._flag(params, "hide_results_until_closes", False),
        )
        self.polls[poll.id] = poll
        self.sent.append(
            Sent(
                "sendPoll",
                chat_id,
                message_id,
                question,
                question,
                None,
                None,
                thread_id,
                reply_to,
                poll.id,
            )
        )
        sent = self._message(chat_id, message_id, "")
        del sent["text"]
        return {**sent, "poll": poll.json()}

    async def _api_stopPoll(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        poll = next(
            (p for p in self.polls.values() if (p.chat_id, p.message_id) == (chat_id, message_id)),
            None,
        )
        if poll is None:
            raise Refused(400, "Bad Request: message with poll to stop not found")
        if poll.closed:
            raise Refused(400, "Bad Request: poll has already been closed")
        self._check_chat(params)
        poll.closed = True
        return poll.json()

    def poll_in(self, chat_id: int) -> NativePoll:
        """The newest poll the bot sent to a chat."""
        found = [p for p in self.polls.values() if p.chat_id == chat_id]
        assert found, f"no poll was sent to {chat_id}"
        return found[-1]

    async def answer_poll(
        self, user: dict[str, Any], poll: NativePoll, option_ids: list[int]
    ) -> int | None:
        """What a Telegram app does when someone votes (or, with no options, takes a vote back).

        Refuses what the app does not let anyone do (Refused): voting in a closed poll,
        unknown or several options in a single-choice poll, changing a vote where the poll
        does not allow it. The bot hears of it (`poll_answer`) only if the poll is not
        anonymous; returns that update's id, or None.
        """
        if poll.closed:
            raise Refused(400, "the poll is closed")
        if any(not 0 <= o < len(poll.options) for o in option_ids):
            raise Refused(400, "no such option")
        if len(set(option_ids)) != len(option_ids) or (len(option_ids) > 1 and not poll.multiple):
            raise Refused(400, "one option only")
        user_id = int(user["id"])
        if user_id in poll.votes and not poll.revoting:
            raise Refused(400, "this poll does not allow changing a vote")
        if not option_ids and user_id not in poll.votes:
            raise Refused(400, "there is no vote to take back")
        if option_ids:
            poll.votes[user_id] = sorted(option_ids)
        else:
            del poll.votes[user_id]
        if poll.anonymous:
            return None
        return await self.inject(
            {
                "poll_answer": {
                    "poll_id": poll.id,
                    "user": user,
                    "option_ids": sorted(option_ids),
                    "option_persistent_ids": [str(o) for o in sorted(option_ids)],
                }
            }
        )
