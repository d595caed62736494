"""python-telegram-bot's requests on aiohttp (adapters/telegram/request.py), against the
Bot API double: parameters and files arrive as sent, answers and errors come back as
python-telegram-bot's own, timeouts and failed connections as TimedOut and NetworkError."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from adapters.telegram.gateway import TelegramGateway
from adapters.telegram.request import AiohttpRequest
from bot.messages import Button, OutgoingMessage, Span
from tests.platform_doubles.telegram_api import TelegramDouble


@pytest.fixture
async def double() -> AsyncIterator[TelegramDouble]:
    double = TelegramDouble()
    await double.start()
    try:
        yield double
    finally:
        await double.stop()


async def _bot(double: TelegramDouble, request: AiohttpRequest | None = None) -> Bot:
    bot = Bot(double.token, base_url=double.base_url, request=request or AiohttpRequest())
    await bot.initialize()
    return bot


async def test_a_message_with_its_parameters_and_the_answer_parsed(
    double: TelegramDouble,
) -> None:
    bot = await _bot(double)
    try:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="r:1:yes")]])
        sent = await bot.send_message(
            42,
            "<b>Hej</b> &amp; välkommen",
            parse_mode="HTML",
            reply_markup=keyboard,
            allow_paid_broadcast=True,
        )
        assert sent.chat.id == 42 and sent.message_id > 0
        method, params = double.calls[-1]
        assert method == "sendMessage"
        assert params["chat_id"] == 42
        assert params["text"] == "<b>Hej</b> &amp; välkommen"
        assert params["allow_paid_broadcast"] is True
        assert params["reply_markup"] == {
            "inline_keyboard": [[{"text": "Ja", "callback_data": "r:1:yes"}]]
        }
        assert double.sent[-1].visible == "Hej & välkommen"
    finally:
        await bot.shutdown()


async def test_a_file_goes_as_multipart_with_the_other_parameters(double: TelegramDouble) -> None:
    bot = await _bot(double)
    data = bytes(range(256)) * 40  # not text, not UTF-8
    try:
        await bot.send_document(
            7, InputFile(data, filename="protokoll.pdf"), caption="Protokollet", message_thread_id=3
        )
        method, params = double.calls[-1]
        assert method == "sendDocument"
        assert params["document"] == {"filename": "protokoll.pdf", "data": data}
        assert params["caption"] == "Protokollet"
        assert params["chat_id"] == "7" and params["message_thread_id"] == "3"
        assert double.sent[-1].filename == "protokoll.pdf"
    finally:
        await bot.shutdown()


async def test_errors_are_python_telegram_bots_own(double: TelegramDouble) -> None:
    bot = await _bot(double)
    try:
        double.blocked.add(5)
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(5, "hej")
        with pytest.raises(BadRequest):
            await bot.send_message(6, "x" * 5000)
        double.overall_limit = (1, 60.0)
        await bot.send_message(6, "hej")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(6, "hej")
        assert str(refused.value) == "Flood control exceeded. Retry in 3 seconds"
    finally:
        await bot.shutdown()
    wrong = Bot("1:wrong", base_url=double.base_url, request=AiohttpRequest())
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()


async def test_a_slow_answer_times_out(double: TelegramDouble) -> None:
    double.stalled_get_me = 1  # answered after a second
    request = AiohttpRequest(read_timeout=0.2)
    bot = Bot(double.token, base_url=double.base_url, request=request)
    with pytest.raises(TimedOut):
        await bot.initialize()
    await bot.initialize()  # the next is answered at once
    try:
        # A timeout given for one call overrides the default, in both directions.
        double.stalled_get_me = 1
        me = await bot.get_me(read_timeout=3)
        assert me.username == bot.username
    finally:
        await bot.shutdown()


async def test_a_full_pool_times_out_without_sending(double: TelegramDouble) -> None:
    bot = await _bot(double, AiohttpRequest(connection_pool_size=1, pool_timeout=0.1))
    try:
        double.stalled_get_me = 1
        slow = asyncio.create_task(bot.get_me())
        await asyncio.sleep(0.2)  # it holds the only connection
        with pytest.raises(TimedOut, match="not\\* sent"):
            await bot.send_message(1, "hej", connect_timeout=0.1)
        await slow
        assert [m for m, _ in double.calls].count("sendMessage") == 0
    finally:
        await bot.shutdown()


async def test_an_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
        await bot.initialize()
    await bot.shutdown()


async def test_not_initialized_and_reopened_after_shutdown(double: TelegramDouble) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{double.base_url}{double.token}/getMe", "POST")
    bot = await _bot(double, request)
    await bot.shutdown()
    await bot.initialize()  # python-telegram-bot allows it after a shutdown
    try:
        assert (await bot.get_me()).id
    finally:
        await bot.shutdown()


def test_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    request = AiohttpRequest()
    proxy, auth = request._proxy("https://api.telegram.org/bot123:abc/sendMessage")
    assert str(proxy) == "http://proxy.example:3128"
    assert auth is not None and (auth.login, auth.password) == ("user", "secret")
    assert request._proxy("http://127.0.0.1:8081/bot1:x/getMe") == (None, None)
    monkeypatch.delenv("HTTPS_PROXY")
    assert request._proxy("https://api.telegram.org/x") == (proxy, auth)  # read once
    assert AiohttpRequest()._proxy("https://api.telegram.org/x") == (None, None)


async def test_the_gateway_sends_its_keyboard_and_no_link_preview_as_json(
    double: TelegramDouble,
) -> None:
    """The keyboard and link preview go as the Bot API's JSON (`api_kwargs`), the same as
    python-telegram-bot's objects would: in a group, with the /start link button added."""
    bot = await _bot(double)
    gateway = TelegramGateway(bot)
    gateway.private_chat_url = "https://t.me/samtal_test_bot"
    message = OutgoingMessage(
        (Span("Kom på mötet, skriv /start till mig"),),
        buttons=((Button("Ja", token="r:1:yes"), Button("Nej", token="r:1:no")),),
    )
    try:
        reference = await gateway.send("-100123", message, direct=False)
        method, params = double.calls[-1]
        assert method == "sendMessage" and reference == str(double.sent[-1].message_id)
        assert params["link_preview_options"] == {"is_disabled": True}
        assert params["reply_markup"] == {
            "inline_keyboard": [
                [
                    {"text": "Ja", "callback_data": "r:1:yes"},
                    {"text": "Nej", "callback_data": "r:1:no"},
                ],
                [{"text": "→ t.me/samtal_test_bot", "url": "https://t.me/samtal_test_bot"}],
            ]
        }
        await gateway.send("42", OutgoingMessage((Span("Hej"),)), direct=True)
        method, params = double.calls[-1]
        assert params["link_preview_options"] == {"is_disabled": True}
        assert "reply_markup" not in params
    finally:
        await bot.shutdown()
