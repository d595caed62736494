"""Discord's command picker: administration commands hidden from members by default,
typed options per command, and autocomplete, through the real discord.py against the
double."""

from __future__ import annotations

from typing import Any

from adapters.discord.commands import ADMINISTRATION
from adapters.discord.translate import command_text
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from storage.database import Database
from tests.platform_drivers import DiscordDriver, discord_bot, eventually
from tests.test_discord_meetings import THEME, connected, plan_meeting

MANAGE_SERVER = "32"
sv = Translator("sv")


async def test_administration_commands_are_for_server_admins_by_default(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        commands = {c["name"]: c for c in dc.double.commands}
        for name in ("kanal", "roll", "ta_bort", "utskick"):
            assert commands[name]["default_member_permissions"] == MANAGE_SERVER, name
        everyone = [c for c in commands.values() if c["name"] not in ADMINISTRATION]
        assert all("default_member_permissions" not in c for c in everyone)
        assert {"hjalp", "moten", "anmal"} <= {c["name"] for c in everyone}


async def test_commands_take_typed_options(database: Database, clock: VirtualClock) -> None:
    async with discord_bot(database, clock) as dc:
        commands = {c["name"]: c for c in dc.double.commands}

        def options(name: str) -> list[tuple[str, int, bool, bool]]:
            return [
                (o["name"], o["type"], o["required"], bool(o.get("autocomplete")))
                for o in commands[name]["options"]
            ]

        assert options("moten") == [("nummer", 4, False, True)]
        assert options("kanal") == [("organisation", 3, True, True)]
        assert options("bidrag") == [("möte", 4, True, True), ("text", 3, True, False)]
        assert options("hjalp") == [("text", 3, False, False)]
        assert commands["bidrag"]["options"][0]["name_localizations"]["en-GB"] == "meeting"
        assert dc.double.refusals == []


def test_options_are_read_in_the_order_the_command_declares() -> None:
    registry = build_registry()
    data = {
        "name": "bidrag",
        "options": [
            {"name": "text", "type": 3, "value": "Mer gatlampor"},
            {"name": "möte", "type": 4, "value": 3},
        ],
    }
    assert command_text(data, registry) == "/bidrag 3 Mer gatlampor"


async def autocomplete(
    dc: DiscordDriver, user: str, command: str, option: str, typed: str, group: str | None
) -> list[dict[str, Any]]:
    payload = dc.double.interaction(
        4,
        dc.user(user),
        {
            "id": "1",
            "name": command,
            "type": 1,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        },
        channel_id=dc.group_id(group) if group else None,
        locale=dc.locales[user],
    )
    expected = dc.client.handled + 1
    dc.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    await eventually(lambda: dc.client.handled >= expected, "the autocomplete")
    (callback,) = [c for c in dc.double.callbacks if c["interaction_id"] == payload["id"]]
    assert callback["type"] == 8
    return list(callback["data"]["choices"])


async def test_autocomplete_offers_organisations_and_meetings(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        meeting = await plan_meeting(database, clock, dc)
        orgs = await autocomplete(dc, "bertil", "kanal", "organisation", "sandv", "allmant")
        assert {c["value"] for c in orgs} == {"sandviken", "sandviken-centrum"}
        meetings = await autocomplete(dc, "nora", "moten", "nummer", "", "allmant")
        assert {"name": f"{meeting.id}: {THEME}", "value": meeting.id} in meetings
        # In a channel of no organisation there is nothing to offer.
        assert await autocomplete(dc, "nora", "moten", "nummer", "", "annat") == []
        await dc.link_demo("anna")
        said = await dc.say("anna", f"/moten {meeting.id}", group="allmant")
        assert said and THEME in said[0].text


async def test_autocomplete_offers_open_polls_and_circles(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock) as dc:
        await dc.link_demo("bertil")
        await dc.bind_group("bertil", "allmant", "sandviken")
        async with database.unit_of_work() as uow:
            org = await uow.orgs.by_slug("sandviken")
            assert org is not None and org.id is not None
            (poll,) = await uow.polls.open_in([org.id])
            circles = await uow.circles.of_orgs([org.id])
        assert poll.id is not None and not poll.members_only
        (circle,) = [c for c in circles if c.title == "Medlemsutbildning steg 1"]

        polls = await autocomplete(dc, "nora", "omrostningar", "nummer", "", "allmant")
        assert polls == [{"name": f"{poll.id}: {poll.question}", "value": poll.id}]
        typed = poll.question.split()[0][:4]
        assert await autocomplete(dc, "nora", "omrostningar", "nummer", typed, "allmant") == polls
        assert await autocomplete(dc, "nora", "omrostningar", "nummer", "zzz", "allmant") == []
        # A channel of no organisation, and DMs of someone with none: nothing to offer.
        assert await autocomplete(dc, "nora", "omrostningar", "nummer", "", "annat") == []
        assert await autocomplete(dc, "nora", "cirklar", "nummer", "", None) == []

        await dc.link_demo("anna")  # a member of sandviken
        offered = await autocomplete(dc, "anna", "cirklar", "nummer", "steg", None)
        assert {"name": f"{circle.id}: {circle.title}", "value": circle.id} in offered
        # The chosen number shows that one.
        said = await dc.say("anna", f"/cirklar {circle.id}")
        assert len(said) == 1 and circle.title in said[0].text
        said = await dc.say("anna", f"/omrostningar {poll.id}", group="allmant")
        assert len(said) == 1 and poll.question in said[0].text
        said = await dc.say("anna", "/omrostningar 99999", group="allmant")
        assert [s.text for s in said] == [sv("That poll no longer exists.")]
        assert dc.double.refusals == []
