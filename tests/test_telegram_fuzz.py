"""A fuzz run over the Telegram update parser: whatever a client or a forger sends, the
translation gives a well-formed event or none, and the core answers without failing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot, Update

from adapters.telegram.translate import event_from_update
from bot.bootstrap import build_registry
from bot.core import Samtal
from bot.events import ButtonPressed, TextReceived
from bot.i18n import Translator
from tests.conftest import Console
from tests.test_delivery import RecordingGateway

BOT = Bot("123456:TEST-not-a-real-token")
FAILURE = Translator("sv")(
    "Sorry, something went wrong on my side. Nothing was changed; please try again."
)

ids = st.integers(min_value=-(2**53), max_value=2**53)
texts = st.one_of(
    st.none(), st.text(max_size=200), st.sampled_from(["/start", "/hjalp", "/start join_x" * 9])
)
user = st.fixed_dictionaries(
    {"id": ids, "is_bot": st.booleans(), "first_name": st.text(max_size=80)},
    optional={
        "last_name": st.text(max_size=80),
        "username": st.text(max_size=40),
        "language_code": st.one_of(
            st.sampled_from(["sv", "en", "en-GB", "fi", ""]), st.text(max_size=8)
        ),
    },
)
chat = st.fixed_dictionaries(
    {"id": ids, "type": st.sampled_from(["private", "group", "supergroup", "channel", "weird"])},
    optional={"title": st.text(max_size=80), "is_forum": st.booleans()},
)
message = st.fixed_dictionaries(
    {"message_id": ids, "date": st.integers(0, 2**31), "chat": chat},
    optional={"from": user, "text": texts, "message_thread_id": ids},
)
callback = st.fixed_dictionaries(
    {"id": st.text(max_size=20), "from": user, "chat_instance": st.text(max_size=20)},
    optional={
        "message": message,
        "data": st.one_of(st.text(max_size=64), st.binary(max_size=64).map(lambda b: b.hex())),
    },
)
update: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"update_id": st.integers(0, 2**31)},
    optional={
        "message": message,
        "edited_message": message,
        "callback_query": callback,
        "channel_post": message,
    },
)


@settings(max_examples=300, deadline=None)
@given(update)
def test_any_update_translates_to_a_well_formed_event_or_none(data: dict[str, Any]) -> None:
    event = event_from_update(Update.de_json(data, BOT))
    if event is None:
        return
    assert isinstance(event, TextReceived | ButtonPressed)
    assert event.chat.platform == event.sender.platform == "telegram"
    assert event.sender.external_id and event.chat.chat_id and event.event_id


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(update)
async def test_the_core_answers_any_update_without_failing(
    console: Console, data: dict[str, Any]
) -> None:
    gateway = RecordingGateway()
    gateway.platform = "telegram"
    samtal = Samtal(
        console.database.unit_of_work, console.clock, build_registry(), {"telegram": gateway}
    )
    event = event_from_update(Update.de_json(data, BOT))
    if event is not None:
        await samtal.handle(event)
        await samtal.run_due()
    assert all(FAILURE not in text for _chat, text in gateway.sent)
