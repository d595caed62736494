"""The Telegram adapter with the real python-telegram-bot against the local Bot API double:
HTML that Telegram accepts, splitting at its limit, blocked recipients, 429s, the
webhook's secret header, the command menus, and a token that never reaches a log."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from telegram.error import BadRequest

from adapters import redaction
from adapters.telegram import app
from adapters.telegram.app import SECRET_HEADER, TelegramAdapter, Webhook
from adapters.telegram.translate import TEXT_LIMIT, chunks_of, visible_length
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.events import Event, Outcome
from bot.i18n import Translator
from bot.messages import Attachment, Button, OutgoingMessage, Span, Style, bold, link
from bot.ports import DeliveryError
from storage import tables
from storage.database import Database
from tests.platform_doubles.telegram_api import TelegramDouble, parse_html
from tests.platform_drivers import eventually, telegram_bot

sv = Translator("sv")


async def outbox(database: Database) -> list[tuple[str, str, int, str | None]]:
    o = tables.outbox.c
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(o.chat_id, o.status, o.attempts, o.last_error).order_by(o.id)
        )
        return [(r[0], str(r[1]), r[2], r[3]) for r in rows]


def long_message() -> OutgoingMessage:
    spans: list[Span] = []
    for n in range(400):
        spans += [bold(f"Punkt {n} "), Span(f'<tagg> & "citat" {"ord " * 3}'), Span("\n")]
    spans.append(link("Läs mer", "https://example.org/a?b=1&c=2"))
    return OutgoingMessage(tuple(spans), ((Button("OK", token="tok-123"),),))


def test_long_messages_split_into_valid_html_within_the_limit() -> None:
    message = long_message()
    chunks = chunks_of(message)
    assert len(chunks) > 1
    seen = []
    for chunk in chunks:
        visible = parse_html(chunk.html)  # what the double (and Telegram) accepts
        assert 0 < len(visible) <= TEXT_LIMIT
        seen.append(visible)
    assert all(c.keyboard is None for c in chunks[:-1])
    last = chunks[-1].keyboard
    assert last is not None and last["inline_keyboard"][0][0]["callback_data"] == "tok-123"
    # Nothing is lost: the chunks hold all the text, cut only at whitespace.
    assert "".join(seen).replace("\n", "").replace(" ", "") == message.plain_text.replace(
        "\n", ""
    ).replace(" ", "")


def test_user_text_is_escaped_and_only_spans_make_markup() -> None:
    message = OutgoingMessage(
        (Span("<b>not bold</b> & <script>"), Span("x", Style.ITALIC), link("a<b", "javascript:x"))
    )
    (chunk,) = chunks_of(message)
    assert chunk.html == "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;script&gt;<i>x</i>a&lt;b"
    assert parse_html(chunk.html) == "<b>not bold</b> & <script>xa<b"


def test_length_is_measured_as_telegram_counts_it() -> None:
    emoji = "🙂" * 3000  # 2 UTF-16 units each: 6000 > 4096
    chunks = chunks_of(OutgoingMessage((Span(emoji),)))
    assert len(chunks) == 2
    assert all(visible_length([Span(parse_html(c.html))]) <= TEXT_LIMIT for c in chunks)


async def test_a_long_message_reaches_telegram_in_valid_parts(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        sent_id = await tg.adapter.gateway.send("4242", long_message(), direct=True)
        parts = tg.double.sent_to(4242)
        assert len(parts) > 1 and str(parts[-1].message_id) == sent_id
        assert [bool(p.buttons()) for p in parts] == [False] * (len(parts) - 1) + [True]
        assert tg.double.refusals == []


async def test_malformed_html_is_refused_by_the_double(
    database: Database, clock: VirtualClock
) -> None:
    """The double is as strict as Telegram, so the tests above mean something."""
    async with telegram_bot(database, clock) as tg:
        bot = tg.adapter.application.bot
        for bad in ("<b>open", "a < b", "<u>x</u>", "&nbsp;", "x" * 4097):
            with pytest.raises(BadRequest, match=r"parse entities|too long"):
                await bot.send_message(1, bad, parse_mode="HTML")
        assert len(tg.double.refusals) == 5


async def test_names_with_markup_and_mentions_are_shown_as_typed(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        tg.users["eve"] = tg.double.user(6001, "<b>Eve</b> & @everyone")
        said = await tg.say("eve", "/start")
        assert said[0].text.startswith("Välkommen till Samtal, <b>Eve</b> & @everyone!")
        assert tg.double.refusals == []


async def test_commands_menus_in_swedish_and_english(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        menus = tg.double.commands
        assert set(menus) == {"", "sv", "en"}
        sv_names = [c["command"] for c in menus["sv"]]
        en_names = [c["command"] for c in menus["en"]]
        registry = build_registry()  # the menu follows /hjalp's order: everyday things first
        assert sv_names == [spec.swedish for spec in registry.commands]
        assert en_names == [spec.english for spec in registry.commands]
        help_en = next(c for c in menus["en"] if c["command"] == "help")
        assert help_en["description"] == "What you can do here"


async def test_english_speaker_gets_english(database: Database, clock: VirtualClock) -> None:
    async with telegram_bot(database, clock) as tg:
        tg.user("owen", language="en")
        said = await tg.say("owen", "/help")
        assert said[0].text.startswith("What you can do here")


async def test_group_reply_offers_the_private_chat(database: Database, clock: VirtualClock) -> None:
    async with telegram_bot(database, clock) as tg:
        # Someone who never started the bot writes /start in a group: the answer can't reach
        # her privately, so the group's pointer offers the private chat.
        tg.double.strangers.add(int(str(tg.user("nora")["id"])))
        await tg.say("nora", "/start", group="allmant")
        (sent,) = tg.double.sent_to(tg.group_id("allmant"))
        assert sent.buttons() == [
            {"text": "→ t.me/SamtalTestBot", "url": "https://t.me/SamtalTestBot"}
        ]


async def test_a_personal_answer_to_something_typed_in_a_group_goes_to_the_private_chat(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        said = await tg.say("nora", "/hjalp", group="allmant")
        assert [s.to for s in said] == ["nora"]
        assert said[0].text.startswith(sv("What you can do here"))
        assert tg.double.sent_to(tg.group_id("allmant")) == []


async def test_a_group_gets_only_a_neutral_pointer_when_the_private_chat_is_out_of_reach(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        nora = tg.user("nora")
        tg.double.strangers.add(int(str(nora["id"])))  # she never started the bot
        said = await tg.say("nora", "/hjalp", group="allmant")
        assert [r[1:] for r in tg.double.refusals] == [
            (403, "Forbidden: bot can't initiate conversation with a user")
        ]
        (pointer,) = said
        assert pointer.to == "#allmant"
        assert pointer.text == sv(
            "{name}, I can't write to you privately yet. Start a private chat with me "
            "(/start), then try again."
        ).format(name="Nora")
        assert "/moten" not in pointer.text  # never the answer's content
        (sent,) = tg.double.sent_to(tg.group_id("allmant"))
        assert sent.buttons() == [
            {"text": "→ t.me/SamtalTestBot", "url": "https://t.me/SamtalTestBot"}
        ]
        clock.advance(timedelta(hours=1))
        await tg.samtal.run_due()
        assert len(tg.double.sent_to(tg.group_id("allmant"))) == 1  # once, never retried


async def test_forged_button_gets_a_clear_answer_and_toast(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        await tg.say("nora", "/start")
        said = await tg.forge("nora", "forged-data")
        text = sv("That button no longer works. Try the command again.")
        assert [s.text for s in said] == [text]
        answers = [p for m, p in tg.double.calls if m == "answerCallbackQuery"]
        assert answers[-1]["text"] == text


async def test_blocked_recipient_fails_for_good_and_is_not_retried(
    database: Database, clock: VirtualClock
) -> None:
    async with telegram_bot(database, clock) as tg:
        nora = tg.user("nora")
        tg.double.blocked.add(int(str(nora["id"])))
        said = await tg.say("nora", "/start")
        assert said == []
        assert [r[1] for r in tg.double.refusals] == [403]
        rows = await outbox(database)
        assert rows[-1][1] == "failed" and rows[-1][2] == 1
        assert "blocked" in (rows[-1][3] or "")
        clock.advance(timedelta(hours=2))
        await tg.samtal.run_due()
        assert len(tg.double.refusals) == 1  # never tried again
        assert (await outbox(database))[-1][1:3] == ("failed", 1)


async def test_429_waits_for_retry_after_then_delivers(
    database: Database, clock: VirtualClock
) -> None:
    # A 429 also pauses the gateway's own budget for its retry_after, in real time: keep it short.
    double = TelegramDouble(private_limit=(1, 3600.0), retry_after=1)
    async with telegram_bot(database, clock, double) as tg:
        said = await tg.say("nora", "/start")
        assert len(said) == 1
        said = await tg.say("nora", "/hjalp")
        assert said == []
        assert [r[1] for r in double.refusals] == [429]
        assert tg.adapter.gateway.stats.rate_limited == 1
        rows = await outbox(database)
        assert rows[-1][1] == "pending" and rows[-1][2] == 0  # deferred: not a failed attempt
        assert await tg.samtal.next_due() == clock.now() + timedelta(seconds=1)
        double.private_limit = None
        clock.advance(timedelta(seconds=2))
        await tg.samtal.run_due()
        assert double.sent_to(int(str(tg.user("nora")["id"])))[-1].visible.startswith(
            sv("What you can do here")
        )


async def test_gateway_maps_errors(database: Database, clock: VirtualClock) -> None:
    async with telegram_bot(database, clock) as tg:
        tg.double.blocked.add(77)
        with pytest.raises(DeliveryError) as blocked:
            await tg.adapter.gateway.send("77", OutgoingMessage((Span("hej"),)), direct=True)
        assert blocked.value.permanent
        tg.double.private_limit = (0, 60.0)
        with pytest.raises(DeliveryError) as limited:
            await tg.adapter.gateway.send("78", OutgoingMessage((Span("hej"),)), direct=True)
        assert not limited.value.permanent and limited.value.retry_after == 3
        assert limited.value.rate_limited and tg.adapter.gateway.stats.rate_limited == 1
        tokenless = OutgoingMessage((Span("hej"),), ((Button("OK"),),))
        with pytest.raises(DeliveryError) as broken:
            await tg.adapter.gateway.send("79", tokenless, direct=True)
        assert broken.value.permanent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def webhook_bot(
    database: Database, clock: VirtualClock, secret: str = "s3cret-value"
) -> AsyncIterator[tuple[TelegramDouble, TelegramAdapter, str]]:
    """The adapter in webhook mode against the double: (double, adapter, webhook URL)."""
    double = TelegramDouble()
    await double.start()
    samtal = Samtal(database.unit_of_work, clock, build_registry())
    await samtal.start()
    port = _free_port()
    hook = Webhook("https://bot.example.org/telegram", secret, "127.0.0.1", port)
    adapter = TelegramAdapter(samtal, double.token, base_url=double.base_url, webhook=hook)
    samtal.dispatcher.add_gateway(adapter.gateway)
    await adapter.start()
    try:
        yield double, adapter, f"http://127.0.0.1:{port}/telegram"
    finally:
        await adapter.stop()
        await double.stop()
        redaction.forget_all()


async def test_webhook_refuses_posts_without_the_secret(
    database: Database, clock: VirtualClock
) -> None:
    async with webhook_bot(database, clock) as (double, adapter, url):
        registered = [p for m, p in double.calls if m == "setWebhook"]
        assert registered[0]["secret_token"] == "s3cret-value"
        assert not any(m == "getUpdates" for m, _ in double.calls)
        methods = [m for m, _ in double.calls]  # the menus once it listens (cold start)
        assert methods.index("setWebhook") < methods.index("setMyCommands")
        update = {
            "update_id": 9,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 5, "type": "private", "first_name": "N"},
                "from": {"id": 5, "is_bot": False, "first_name": "Nora"},
                "text": "/hjalp",
            },
        }
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                async with session.post(url, data=json.dumps(update), headers=headers) as r:
                    assert r.status == 403
            await asyncio.sleep(0.1)
            assert adapter.handled == 0
            headers = {SECRET_HEADER: "s3cret-value", "Content-Type": "application/json"}
            async with session.post(url, data=json.dumps(update), headers=headers) as r:
                assert r.status == 200
        await eventually(lambda: adapter.handled == 1, "the update")
        await adapter.samtal.run_due()
        assert double.sent_to(5)[0].visible.startswith(sv("What you can do here"))


def _press(update_id: int, data: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": {"id": 5, "is_bot": False, "first_name": "Nora"},
            "chat_instance": "ci",
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 5, "type": "private", "first_name": "N"},
                "text": "…",
            },
            "data": data,
        },
    }


async def _post(url: str, update: dict[str, object]) -> tuple[int, str]:
    headers = {SECRET_HEADER: "s3cret-value", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=json.dumps(update), headers=headers) as r,
    ):
        return r.status, await r.text()


async def test_a_press_is_answered_in_the_webhooks_response(
    database: Database, clock: VirtualClock
) -> None:
    async with webhook_bot(database, clock) as (double, adapter, url):
        assert [str(p["max_connections"]) for m, p in double.calls if m == "setWebhook"] == ["100"]
        status, body = await _post(url, _press(10, "forged-data"))
        assert status == 200
        # The Bot API runs the method a webhook's response names; no request of our own.
        assert json.loads(body) == {
            "method": "answerCallbackQuery",
            "callback_query_id": "cq10",
            "text": sv("That button no longer works. Try the command again."),
        }
        assert adapter.handled == 1
        assert not any(m == "answerCallbackQuery" for m, _ in double.calls)
        assert adapter._answers == {}


async def test_a_slow_press_is_answered_by_a_request_of_its_own(
    database: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "ANSWER_IN_RESPONSE_SECONDS", 0.05)
    async with webhook_bot(database, clock) as (double, adapter, url):
        handle = adapter.samtal.handle

        async def slow(event: Event) -> Outcome:
            await asyncio.sleep(0.3)
            return await handle(event)

        monkeypatch.setattr(adapter.samtal, "handle", slow)
        assert await _post(url, _press(11, "forged-data")) == (200, "ok")
        await eventually(
            lambda: any(m == "answerCallbackQuery" for m, _ in double.calls), "the answer"
        )
        answers = [p for m, p in double.calls if m == "answerCallbackQuery"]
        assert [a["callback_query_id"] for a in answers] == ["cq11"]  # once, not twice
        # A press the bot does not act on (no data) is not waited for.
        no_data = _press(12, "x")
        del no_data["callback_query"]["data"]  # type: ignore[attr-defined]
        assert await _post(url, no_data) == (200, "ok")
        assert adapter._answers == {}


def test_token_never_reaches_a_log(caplog: pytest.LogCaptureFixture) -> None:
    token = "987654:AAH-secret-part-of-the-token-xyz"
    redaction.protect([token])
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("httpx").warning(
                "HTTP Request: POST https://api.telegram.org/bot%s/getMe", token
            )
            logging.getLogger("telegram.ext").debug("url %s", f"/bot{token}/getUpdates")
            try:
                raise RuntimeError(f"connect failed for https://api.telegram.org/bot{token}/x")
            except RuntimeError:
                logging.getLogger("samtal").exception("start-up failed")
            logging.getLogger("x").error("secret half only: %s", token.split(":")[1])
        mine = [r for r in caplog.records if r.name in {"httpx", "telegram.ext", "samtal", "x"}]
        assert len(mine) == 4
        for record in mine:
            shown = record.getMessage() + (record.exc_text or "")
            assert "secret-part" not in shown
            assert redaction.REDACTED in shown
        assert "secret-part" not in caplog.text
    finally:
        redaction.forget_all()


def test_lower_cased_token_is_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    # python-telegram-bot capitalize()s a "Bad Request: ..." description, lower-casing a
    # token the description echoes.
    from telegram.error import BadRequest

    token = "987654:AAH-Secret-Part-Of-The-Token-XYZ"
    redaction.protect([token])
    try:
        error = BadRequest(f"Bad Request: wrong url https://api.telegram.org/bot{token}/x")
        assert token.lower() in str(error)
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("samtal").error("send failed: %s", error)
            try:
                raise error
            except BadRequest:
                logging.getLogger("samtal").exception("start-up failed")
        assert "secret-part" not in caplog.text.lower()
        assert "secret-part" not in redaction.redact(str(error)).lower()
        assert caplog.text.count(redaction.REDACTED) >= 2
    finally:
        redaction.forget_all()


async def test_attachments_go_as_photo_or_document(database: Database, clock: VirtualClock) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    async with telegram_bot(database, clock) as tg:
        picture = OutgoingMessage(
            (Span("Årshjulet 2026"),), attachment=Attachment("hjul.png", "image/png", png)
        )
        calendar = OutgoingMessage(
            (), attachment=Attachment("moten.ics", "text/calendar", b"BEGIN:VCALENDAR")
        )
        await tg.adapter.gateway.send("4343", picture, direct=True)
        await tg.adapter.gateway.send("4343", calendar, direct=True)
        sent = tg.double.sent_to(4343)
        assert [(s.method, s.filename) for s in sent] == [
            ("sendPhoto", "hjul.png"),
            ("sendMessage", None),
            ("sendDocument", "moten.ics"),
        ]
        assert sent[1].visible == "Årshjulet 2026"
