"""Answers to Discord interactions, with the real discord.py against the REST double:
each answer goes to its own interaction however many are in flight in one channel,
personal answers in a server are ephemeral, and a member whose DMs are closed gets
what a button press caused through the press itself."""

from __future__ import annotations

from typing import Any

from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from bot.messages import OutgoingMessage, message
from bot.outbox import enqueue
from storage.database import Database
from tests.platform_drivers import DiscordDriver, discord_bot, eventually
from tests.test_discord_meetings import connected, plan_meeting
from tests.test_telegram_adapter import outbox

sv = Translator("sv")
en = Translator("en")
HELP = {"anna": sv("What you can do here"), "oliver": en("What you can do here")}


def command(dc: DiscordDriver, name: str, command_name: str, group: str | None) -> dict[str, Any]:
    return dc.double.interaction(
        2,
        dc.user(name, locale="en-GB" if name == "oliver" else "sv-SE"),
        {"id": "1", "name": command_name, "type": 1},
        channel_id=dc.group_id(group) if group else None,
        locale=dc.locales[name],
    )


async def feed(dc: DiscordDriver, *payloads: dict[str, Any]) -> None:
    """Interactions arriving together, before any answer is sent."""
    expected = dc.client.handled + len(payloads)
    for payload in payloads:
        dc.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    await eventually(lambda: dc.client.handled >= expected, "the interactions to be handled")


async def test_two_commands_in_one_channel_at_once_each_get_their_own_answer(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        anna = command(dc, "anna", "hjalp", "allmant")
        oliver = command(dc, "oliver", "hjalp", "allmant")
        await feed(dc, anna, oliver)
        await dc.samtal.run_due()
        answers = {posted.interaction_token: posted for posted in dc.double.posted}
        assert set(answers) == {anna["token"], oliver["token"]}  # nothing as a plain post
        assert answers[anna["token"]].text.startswith(HELP["anna"])
        assert answers[oliver["token"]].text.startswith(HELP["oliver"])
        assert HELP["anna"] != HELP["oliver"]
        assert dc.double.placeholders == {} and dc.double.refusals == []


async def test_late_answers_each_replace_their_own_placeholder(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        dc.client.answer_within = 0.0  # both show "thinking…" before any answer is sent
        anna = command(dc, "anna", "hjalp", "allmant")
        oliver = command(dc, "oliver", "hjalp", "allmant")
        await feed(dc, anna, oliver)
        await eventually(lambda: len(dc.double.placeholders) == 2, "both placeholders")
        await dc.samtal.run_due()
        answers = {posted.interaction_token: posted for posted in dc.double.posted}
        assert set(answers) == {anna["token"], oliver["token"]}
        assert answers[anna["token"]].text.startswith(HELP["anna"])
        assert answers[oliver["token"]].text.startswith(HELP["oliver"])
        assert all(p.via == "followup" and p.ephemeral for p in dc.double.posted)
        assert dc.double.placeholders == {} and dc.double.deleted_placeholders == []


async def test_a_late_personal_answer_follows_its_placeholder_for_her_eyes_only(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        dc.client.answer_within = 0.0
        anna = command(dc, "anna", "hjalp", "allmant")
        await feed(dc, anna)
        await eventually(lambda: bool(dc.double.placeholders), "the placeholder")
        assert dc.double.placeholders == {anna["token"]: True}  # "thinking…" only she sees
        await dc.samtal.run_due()
        (posted,) = dc.double.posted
        # /hjalp is personal: late, it still goes to her interaction, never to the channel.
        assert posted.via == "followup" and posted.ephemeral
        assert posted.text.startswith(HELP["anna"])


async def test_personal_answers_in_a_server_are_ephemeral(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        in_channel = command(dc, "anna", "hjalp", "allmant")
        in_dm = command(dc, "oliver", "hjalp", None)
        await feed(dc, in_channel, in_dm)
        await dc.samtal.run_due()
        answers = {posted.interaction_token: posted for posted in dc.double.posted}
        assert answers[in_channel["token"]].via == "response"
        assert answers[in_channel["token"]].ephemeral  # the channel sees nothing of it
        # Only her channel answer is flagged ephemeral (the two may arrive in either order; on
        # a loaded machine the DM's answer may come late, after a "thinking" callback with no data).
        flags = [c.get("data", {}).get("flags") for c in dc.double.callbacks]
        assert flags.count(64) == 1
        assert not answers[in_dm["token"]].ephemeral  # a DM is private anyway


async def test_a_personal_answer_whose_interaction_is_gone_is_never_posted_publicly(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        channel = str(dc.group_id("allmant"))
        async with database.unit_of_work() as uow:
            await enqueue(
                uow,
                # An answer to an interaction of a process that has since restarted.
                key="reply:discord:i123456789:1",
                platform="discord",
                chat_id=channel,
                direct=False,
                message=OutgoingMessage(message("Din anmälan har skickats").spans, personal=True),
                now=clock.now(),
            )
            await uow.commit()
        await dc.samtal.run_due()
        assert dc.double.posted == []
        assert [row[1] for row in await outbox(database)] == ["failed"]


async def test_a_press_by_a_member_with_closed_dms_is_answered_through_the_press(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        await plan_meeting(database, clock, dc)
        await dc.link_demo("anna")
        dc.double.dms_closed.add(int(str(dc.user("anna")["id"])))
        said = await dc.press("anna", sv("I'm coming"), group="allmant")
        # Her confirmation is meant for her DMs, which are closed: she sees it under the
        # announcement, and only she does; no one is pinged about closed DMs.
        (posted,) = dc.double.posted[-len(said) :]
        assert posted.via == "followup" and posted.ephemeral
        assert posted.text.startswith(sv("Great, you're coming!"))
        assert posted.pinged == []
        assert [r[1] for r in dc.double.refusals] == [403]
        assert (await outbox(database))[-1][1] == "sent"
