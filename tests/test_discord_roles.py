"""Discord roles mapped to organisation roles through the configuration.

The real discord.py reads the member's role ids from the interaction (as
Discord sends them, the double's payloads); the core grants the mapped
organisation role and takes it away when the Discord role goes, leaving roles
granted with /roll alone.
"""

from __future__ import annotations

import logging

import pytest

from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.domain.people import Role
from bot.i18n import Translator
from bot.platform_roles import RoleMapping
from bot.settings import Settings
from samtal.config import ConfigError, parse_config, role_mappings
from storage.database import Database
from tests.platform_drivers import DiscordDriver, discord_bot

sv = Translator("sv")
ORGANISERS = 111_111_111_111_111_111
STUDIES = 222_222_222_222_222_222
UNMAPPED = 333_333_333_333_333_333
CONFIG = {
    "discord": {
        "roles": {
            str(ORGANISERS): "sandviken:organiser",
            str(STUDIES): "gavle:study_organiser",
            "444": "nowhere:admin",  # a slug that does not exist: ignored, logged
        }
    }
}
NOT_ALLOWED = sv("Only organisers with the right role in {org} can do that.")
BOUND = sv("This chat now belongs to {org}.")


def settings() -> Settings:
    return Settings(role_mappings=role_mappings(parse_config(CONFIG, "samtal.toml")))


async def roles_of(database: Database, dc: DiscordDriver, name: str) -> set[tuple[str, Role, str]]:
    async with database.unit_of_work() as uow:
        person = await uow.people.by_identity("discord", str(dc.user(name)["id"]))
        assert person is not None and person.id is not None
        held = set()
        for assignment in await uow.people.roles_of(person.id):
            org = await uow.orgs.get(assignment.org_id)
            assert org is not None
            held.add((org.slug, assignment.role, assignment.source or "granted"))
        return held


async def consent(dc: DiscordDriver, name: str) -> None:
    await dc.say(name, "/start join_sandviken")
    await dc.press(name, sv("I agree"))


async def test_a_mapped_discord_role_gives_the_organisation_role_and_takes_it_back(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock, settings=settings()) as dc:
        await consent(dc, "nora")
        # Without the Discord role she may not connect the channel.
        said = await dc.say("nora", "/kanal sandviken", group="allmant")
        assert [s.text for s in said] == [NOT_ALLOWED.format(org="Sandvikens arbetarekommun")]

        dc.roles["nora"] = [ORGANISERS, STUDIES, UNMAPPED]
        said = await dc.say("nora", "/kanal sandviken", group="allmant")
        assert [(s.to, s.text) for s in said] == [
            ("#allmant", BOUND.format(org="Sandvikens arbetarekommun"))
        ]
        assert await roles_of(database, dc, "nora") == {
            ("sandviken", Role.ORGANISER, f"discord:role:{ORGANISERS}"),
            ("gavle", Role.STUDY_ORGANISER, f"discord:role:{STUDIES}"),
        }
        said = await dc.say("nora", "/hjalp", group="allmant")
        organiser_part = sv("As an organiser in {org} you can also").format(
            org="Sandvikens arbetarekommun"
        )
        assert organiser_part in "\n".join(s.text for s in said)

        # In her DMs Discord does not say which roles she has: nothing changes there.
        await dc.say("nora", "/hjalp")
        assert len(await roles_of(database, dc, "nora")) == 2

        # The server's admins take the organiser role away: so does the bot, at her next use.
        dc.roles["nora"] = [STUDIES]
        said = await dc.say("nora", "/hjalp", group="allmant")
        assert organiser_part not in "\n".join(s.text for s in said)
        assert await roles_of(database, dc, "nora") == {
            ("gavle", Role.STUDY_ORGANISER, f"discord:role:{STUDIES}"),
        }
        said = await dc.say("nora", "/kanal sandviken", group="allmant")
        assert [s.text for s in said] == [NOT_ALLOWED.format(org="Sandvikens arbetarekommun")]
        assert dc.double.refusals == []


async def test_roles_granted_in_the_bot_stay_without_a_discord_role(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock, settings=settings()) as dc:
        await dc.link_demo("bertil")  # organiser in sandviken, granted in the bot
        dc.roles["bertil"] = []
        said = await dc.say("bertil", "/kanal sandviken", group="allmant")
        assert [s.text for s in said] == [BOUND.format(org="Sandvikens arbetarekommun")]
        assert await roles_of(database, dc, "bertil") == {("sandviken", Role.ORGANISER, "granted")}
        # With the mapped role too, and then without it: the granted role is still there.
        dc.roles["bertil"] = [ORGANISERS]
        await dc.say("bertil", "/hjalp", group="allmant")
        dc.roles["bertil"] = []
        await dc.say("bertil", "/hjalp", group="allmant")
        assert await roles_of(database, dc, "bertil") == {("sandviken", Role.ORGANISER, "granted")}


async def test_a_mapping_to_an_unknown_organisation_is_skipped_and_logged(
    database: Database, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock, settings=settings()) as dc:
        dc.roles["nora"] = [444]
        with caplog.at_level(logging.WARNING, logger="bot.platform_roles"):
            said = await dc.say("nora", "/hjalp", group="allmant")
        assert said and said[0].text.startswith(sv("What you can do here"))
        assert await roles_of(database, dc, "nora") == set()
        assert "no organisation with the slug 'nowhere'" in caplog.text


def test_the_configuration_reads_the_role_map() -> None:
    assert role_mappings(parse_config(CONFIG, "samtal.toml")) == (
        RoleMapping("discord", str(ORGANISERS), "sandviken", Role.ORGANISER),
        RoleMapping("discord", str(STUDIES), "gavle", Role.STUDY_ORGANISER),
        RoleMapping("discord", "444", "nowhere", Role.ADMIN),
    )
    assert role_mappings(parse_config({}, "samtal.toml")) == ()


@pytest.mark.parametrize(
    ("roles", "error"),
    [
        ({"organisers": "sandviken:organiser"}, r"\[discord\] roles\.'organisers': expected a "),
        ({"123": "sandviken:boss"}, r"\[discord\] roles\.'123': expected 'ORG-SLUG:ROLE' with "),
        ({"123": "organiser"}, r"\[discord\] roles\.'123': expected 'ORG-SLUG:ROLE'"),
        ({"123": 5}, r"\[discord\] roles\.'123': expected 'ORG-SLUG:ROLE'.*got 5"),
        ("sandviken", r"\[discord\] roles: expected dict, got 'sandviken'"),
    ],
)
def test_a_bad_role_map_is_named(roles: object, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_config({"discord": {"roles": roles}}, "samtal.toml")


async def plan_in_dms(dc: DiscordDriver, name: str) -> list[str]:
    """/nytt_mote in the person's DMs, through to the saved meeting; what the bot said."""
    said = await dc.say(name, "/nytt_mote")
    if said and said[-1].buttons and "Sandvikens arbetarekommun" in said[-1].buttons:
        said += await dc.press(name, "Sandvikens arbetarekommun")
    for line in ("Trygghet i Sandviken", "Kaffe och samtal.", "Var känner du dig otrygg?"):
        said += await dc.say(name, line)
    said += await dc.press(name, sv("Done"))
    for line in ("2026-03-12 18:00", "20:30", "Folkets hus, Sandviken"):
        said += await dc.say(name, line)
    said += await dc.press(name, sv("Everyone, guests too"))
    said += await dc.press(name, sv("No limit"))
    said += await dc.press(name, sv("Save"))
    return [s.to + ": " + s.text for s in said]


async def test_a_discord_only_organiser_connects_a_channel_and_plans_a_meeting(
    database: Database, clock: VirtualClock
) -> None:
    """Greta has only the mapped Discord role: no join link, no Telegram, no /roll."""
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock, settings=settings()) as dc:
        dc.roles["greta"] = [ORGANISERS]
        await dc.say("greta", "/start", group="allmant")  # her first use, in the server
        await dc.say("greta", "/start")
        await dc.press("greta", sv("I agree"))
        said = await dc.say("greta", "/kanal sandviken", group="styrelsen")
        assert [(s.to, s.text) for s in said] == [
            ("#styrelsen", BOUND.format(org="Sandvikens arbetarekommun"))
        ]
        lines = await plan_in_dms(dc, "greta")
        assert any(line.startswith("#styrelsen: " + sv("New themed meeting")) for line in lines)
        assert lines[-1].startswith("greta: ") and "Trygghet i Sandviken" in lines[-1]
        assert dc.double.refusals == []


SERVER_ADMIN = 32  # Discord's Manage Server permission


async def test_the_admins_of_a_server_bound_in_the_config_organise_there(
    database: Database, clock: VirtualClock
) -> None:
    from tests.platform_doubles.discord_api import GUILD_ID

    bound = Settings(
        role_mappings=role_mappings(
            parse_config({"discord": {"servers": {str(GUILD_ID): "sandviken"}}}, "samtal.toml")
        )
    )
    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock, settings=bound) as dc:
        await dc.say("hugo", "/start")
        await dc.press("hugo", sv("I agree"))
        # A member without Manage Server may not connect a channel...
        said = await dc.say("hugo", "/kanal sandviken", group="allmant")
        assert [s.text for s in said] != [BOUND.format(org="Sandvikens arbetarekommun")]
        # ...the server's admin may, and plans meetings in DMs afterwards.
        dc.permissions["hugo"] = SERVER_ADMIN
        said = await dc.say("hugo", "/kanal sandviken", group="allmant")
        assert [s.text for s in said] == [BOUND.format(org="Sandvikens arbetarekommun")]
        assert await roles_of(database, dc, "hugo") == {
            ("sandviken", Role.ORGANISER, f"discord:role:manage_server:{GUILD_ID}")
        }
        lines = await plan_in_dms(dc, "hugo")
        assert any(line.startswith("#allmant: " + sv("New themed meeting")) for line in lines)


def test_a_bad_server_binding_is_named() -> None:
    with pytest.raises(ConfigError, match=r"\[discord\] servers\.'x': expected a Discord server"):
        parse_config({"discord": {"servers": {"x": "sandviken"}}}, "samtal.toml")
    with pytest.raises(ConfigError, match=r"\[discord\] servers\.123: expected an organisation"):
        parse_config({"discord": {"servers": {"123": "Sandviken!"}}}, "samtal.toml")
