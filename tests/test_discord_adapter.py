"""The Discord adapter with the real discord.py against the local REST double: slash
commands with localisations, the three-second acknowledgement and the follow-up, no
pings from user text, closed DMs, splitting at 2000, and buttons that survive a restart."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest
import sqlalchemy as sa

from adapters.discord.app import SamtalClient
from adapters.discord.gateway import DMS_CLOSED
from adapters.discord.translate import TEXT_LIMIT, chunks_of
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.i18n import Translator
from bot.messages import Attachment, Button, OutgoingMessage, Span, bold, message
from bot.outbox import enqueue
from bot.ports import DeliveryError
from storage import tables
from storage.database import Database
from tests.platform_doubles.discord_api import DiscordDouble, user_payload, visible
from tests.platform_drivers import DiscordDriver, discord_bot, eventually
from tests.test_telegram_adapter import outbox

sv = Translator("sv")


async def test_slash_commands_are_registered_in_swedish_and_english(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        commands = {c["name"]: c for c in dc.double.commands if c.get("type") == 1}
        # /sprak also as /language (see test_every_client_is_offered_the_command_its_help_names)
        assert len(commands) == len(build_registry().commands) + 1
        help_command = commands["hjalp"]
        assert help_command["name_localizations"]["en-US"] == "help"
        assert help_command["name_localizations"]["de"] == "help"
        assert "sv-SE" not in help_command["name_localizations"]
        assert help_command["description"] == sv("What you can do here")
        assert help_command["description_localizations"]["en-US"] == "What you can do here"
        assert dc.double.refusals == []


async def test_command_is_answered_by_its_response_or_after_thinking(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await dc.say("nora", "/hjalp", group="allmant")
        assert [c["type"] for c in dc.double.callbacks] == [4]  # the answer is the response
        (posted,) = dc.double.posted
        assert posted.via == "response" and posted.ephemeral  # /hjalp is personal
        assert posted.channel_id == dc.group_id("allmant")
        # A late answer: "thinking…" first (in DMs for everyone to see: only she is there),
        # then the answer replaces it.
        dc.client.answer_within = 0.0
        payload = dc.double.interaction(
            2, dc.user("nora"), {"id": "1", "name": "hjalp", "type": 1}, locale="sv-SE"
        )
        dc.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await eventually(lambda: len(dc.double.callbacks) == 2, "the placeholder")
        assert dc.double.callbacks[-1]["type"] == 5
        await dc.samtal.run_due()
        assert dc.double.posted[-1].via == "followup"
        assert dc.double.posted[-1].interaction_token == payload["token"]
        assert dc.double.placeholders == {}
        # A button press is acknowledged without a placeholder; its answers come as messages.
        await dc.say("nora", "/start")
        await dc.press("nora", sv("No thanks"))
        assert [c["type"] for c in dc.double.callbacks][-1] == 6


async def test_english_locale_reads_english(database: Database, clock: VirtualClock) -> None:
    async with discord_bot(database, clock) as dc:
        dc.user("owen", locale="en-GB")
        said = await dc.say("owen", "/hjalp")
        assert said[0].text.startswith("What you can do here")


async def test_no_mention_in_user_text_pings_anyone(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        dc.users["eve"] = user_payload(123_456_789, "@everyone <@42> <@&7> **Eve**")
        dc.locales["eve"] = "sv-SE"
        said = await dc.say("eve", "/start", group="allmant")
        said += await dc.say("eve", "/start")
        assert len(said) == 2
        for posted in dc.double.posted:
            assert posted.allowed_mentions == {"parse": []}
            assert posted.pinged == []
            assert "@everyone" not in posted.content  # not even as text
        assert said[1].text.startswith("Välkommen till Samtal, @everyone <@42> <@&7> **Eve**!")


async def test_closed_dms_fail_for_good_and_the_person_is_told_in_the_channel(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        nora = dc.user("nora")
        await dc.say("nora", "/hjalp", group="allmant")  # she has used the bot in #allmant
        dc.client.gateway.in_flight = 0.0  # a while ago: that interaction carries nothing now
        dc.double.dms_closed.add(int(str(nora["id"])))
        async with database.unit_of_work() as uow:
            await enqueue(
                uow,
                key="test:dm",
                platform="discord",
                chat_id=str(nora["id"]),
                direct=True,
                message=message("Din påminnelse"),
                now=clock.now(),
            )
            await uow.commit()
        await dc.samtal.run_due()
        assert [r[1] for r in dc.double.refusals] == [403]
        rows = await outbox(database)
        assert rows[-1][1:3] == ("failed", 1)
        notice = dc.double.posted[-1]
        assert notice.channel_id == dc.group_id("allmant")
        assert visible(notice.content) == f"<@{nora['id']}> {sv(DMS_CLOSED)}"
        assert notice.pinged == [f"user:{nora['id']}"]  # only her, and only here
        await dc.samtal.run_due()
        assert len(dc.double.refusals) == 1  # not retried


async def test_long_messages_split_within_discords_limit(
    database: Database, clock: VirtualClock
) -> None:
    spans = tuple(
        s
        for n in range(300)
        for s in (bold(f"Punkt {n}: "), Span("text_med *stjärnor* " * 3 + "\n"))
    )
    buttons = tuple((Button(f"Val {r}{c}", token=f"t{r}{c}"),) for r in range(7) for c in range(1))
    msg = OutgoingMessage(spans, buttons)
    chunks = chunks_of(msg)
    assert all(len(c.content) <= TEXT_LIMIT for c in chunks)
    assert sum(1 for c in chunks if c.buttons) == 2  # seven rows: five, then two more
    async with discord_bot(database, clock) as dc:
        await dc.client.gateway.send("555", msg, direct=False)
        assert len(dc.double.posted) == len(chunks) > 2
        assert dc.double.refusals == []
        text = "".join(visible(p.content) for p in dc.double.posted if p.content != "…")
        assert "text_med *stjärnor*" in text


async def test_buttons_work_after_a_restart(database: Database, clock: VirtualClock) -> None:
    double = DiscordDouble()
    async with discord_bot(database, clock, double) as dc:
        await dc.say("nora", "/start")
        old_message = double.posted[-1]
        custom_id = next(
            b["custom_id"] for b in old_message.buttons() if b["label"] == sv("I agree")
        )
        users, locales = dc.users, dc.locales
    # A new process: a new client, nothing in memory, the message still on Discord.
    async with discord_bot(database, clock, double) as restarted:
        restarted.users, restarted.locales = users, locales
        said = await restarted.press_id("nora", old_message, custom_id)
        assert said[0].text == sv(
            "Thank you! You are all set. Write /hjalp to see what you can do."
        )


async def test_gateway_maps_errors(database: Database, clock: VirtualClock) -> None:
    async with discord_bot(database, clock) as dc:
        dc.double.dms_closed.add(31337)
        with pytest.raises(DeliveryError) as closed:
            await dc.client.gateway.send("31337", message("hej"), direct=True)
        assert closed.value.permanent


def test_client_allows_no_mentions_by_default(database: Database, clock: VirtualClock) -> None:
    client = SamtalClient(Samtal(database.unit_of_work, clock, build_registry()))
    allowed = client.allowed_mentions
    assert allowed is not None and allowed.to_dict() == discord.AllowedMentions.none().to_dict()


__all__ = ["DiscordDriver"]


async def test_an_unused_placeholder_is_removed(database: Database, clock: VirtualClock) -> None:
    async with discord_bot(database, clock) as dc:
        dc.client.settle_after = 0.5
        await dc.say("nora", "/hjalp", group="allmant")  # answered at once: no placeholder
        # A command whose answers all went elsewhere (or none came) shows "thinking…" for
        # a while, to her only, then the placeholder goes.
        dc.client.answer_within = 0.0
        payload = dc.double.interaction(
            2,
            dc.user("nora"),
            {"id": "1", "name": "hjalp", "type": 1},
            channel_id=dc.group_id("allmant"),
        )
        dc.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await eventually(lambda: bool(dc.double.deleted_placeholders), "the placeholder to go")
        assert dc.double.callbacks[-1]["type"] == 5
        assert dc.double.callbacks[-1]["data"]["flags"] == 64  # only she saw it
        assert dc.double.deleted_placeholders == [payload["token"]]


async def test_attachments_are_uploaded_with_the_text(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        picture = OutgoingMessage(
            (Span("Årshjulet 2026"),), attachment=Attachment("hjul.png", "image/png", b"\x89PNG")
        )
        await dc.client.gateway.send("556", picture, direct=False)
        (posted,) = dc.double.posted
        assert posted.content == "Årshjulet 2026"
        assert posted.files == ["hjul.png"]


async def test_a_message_sent_again_after_a_crash_is_posted_once(
    database: Database, clock: VirtualClock
) -> None:
    """The uncertain window (bot/delivery/__init__.py) is closed on Discord: the outbox entry's id
    goes as an enforced nonce, so a second send returns the message posted the first time."""
    async with discord_bot(database, clock) as dc:
        async with database.unit_of_work() as uow:
            await enqueue(
                uow,
                key="news:1",
                platform="discord",
                chat_id="556",
                direct=False,
                message=message("Nyheter"),
                now=clock.now(),
            )
            await uow.commit()
        await dc.samtal.dispatcher.deliver_due()
        async with database.engine.begin() as connection:  # as if its result was never recorded
            (first,) = (await connection.execute(sa.select(tables.outbox.c.external_id))).all()
            await connection.execute(
                sa.update(tables.outbox).values(status="pending", external_id=None)
            )
        await dc.samtal.dispatcher.deliver_due()
        assert [p.content for p in dc.double.posted] == ["Nyheter"]
        assert [row[1] for row in await outbox(database)] == ["sent"]
        async with database.engine.connect() as connection:
            (again,) = (await connection.execute(sa.select(tables.outbox.c.external_id))).all()
        assert again == first


async def test_a_new_message_reusing_a_deleted_rows_id_is_still_posted(
    database: Database, clock: VirtualClock
) -> None:
    """SQLite gives a deleted row's id to the next one (after an erasure): the nonce must
    still differ, or Discord would return the old message instead of posting the new."""
    async with discord_bot(database, clock) as dc:
        for text in ("Första", "Andra"):
            async with database.unit_of_work() as uow:
                await enqueue(
                    uow,
                    key=f"news:{text}",
                    platform="discord",
                    chat_id="556",
                    direct=False,
                    message=message(text),
                    now=clock.now(),
                )
                await uow.commit()
            await dc.samtal.dispatcher.deliver_due()
            async with database.engine.begin() as connection:
                await connection.execute(sa.delete(tables.outbox))
        assert [p.content for p in dc.double.posted] == ["Första", "Andra"]


def offered(commands: list[dict[str, Any]], locale: str) -> set[str]:
    """The command names a Discord client with this locale sees in its command picker."""
    return {c.get("name_localizations", {}).get(locale, c["name"]) for c in commands}


@pytest.mark.parametrize(
    ("locale", "reads"),
    [("sv-SE", "sv"), ("en-GB", "en"), ("de", "en"), ("fr", "en"), ("fi", "sv"), ("da", "sv")],
)
async def test_every_client_is_offered_the_command_its_help_names(
    database: Database, clock: VirtualClock, locale: str, reads: str
) -> None:
    async with discord_bot(database, clock) as dc:
        dc.user("kai", locale=locale)
        (said,) = await dc.say("kai", "/hjalp")
        assert said.text.startswith(Translator(reads)("What you can do here"))
        named = set(re.findall(r"/([a-z_]+)", said.text))
        picker = offered(dc.double.commands, locale)
        assert named - {"start"} <= picker | {"start"}, named - picker
        hint = "language" if reads == "sv" else "sprak"  # the other language's command
        assert hint in named and hint in picker
