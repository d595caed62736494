"""Marking what was said in a meeting's thread as a rådslag contribution, through the real
libraries against the doubles: on Telegram an organiser replies to the message with
/bidrag M F1; on Discord they use "Bidrag till rådslag" in the message's Apps menu."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import VirtualClock
from bot.consultations import service
from bot.consultations.model import Consultation, Visibility
from bot.context import Effects
from bot.demo.seed import seed_demo
from storage.database import Database
from tests.platform_drivers import telegram_bot

SAID = "Vi behöver nattbussar till Järbo"


async def _open_and_tie(database: Database, clock: VirtualClock) -> None:
    async with database.unit_of_work() as uow:
        party = await uow.orgs.by_slug("socialdemokraterna")
        assert party is not None and party.id is not None
        fx = Effects(uow, clock)
        c = Consultation(
            party.id,
            "Trafik",
            ["Vad behövs i kollektivtrafiken?"],
            clock.now() + timedelta(days=14),
            Visibility.NAMED,
            [party.id],
            created_at=clock.now(),
        )
        await service.open_consultation(fx, c)
        assert c.id is not None
        await service.tie_meeting(fx, c, 1)
        await uow.commit()


async def test_an_organisers_reply_in_a_topic_marks_the_members_message(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with telegram_bot(database, clock) as tg:
        group = tg.group_id("allmant")
        tg.double.forums.add(group)
        for name in ("bertil", "anna"):
            await tg.link_demo(name)
        await tg.bind_group("bertil", "allmant", "sandviken")
        await _open_and_tie(database, clock)
        await tg.samtal.run_due()  # the invitations go out first

        said = await tg.reply(
            "bertil", "/bidrag 1 F1", "allmant", to="anna", said=SAID, thread_id=7
        )
        assert [s.to for s in said] == ["bertil"]  # confirmed privately, nothing in the group
        assert "fråga 1" in said[0].text and "Anna" not in said[0].text

        refused = await tg.reply("anna", "/bidrag 1 F1", "allmant", to="bertil", said="Bra sagt")
        assert [s.to for s in refused] == ["anna"]
        assert "organisatörer" in refused[0].text

    async with database.unit_of_work() as uow:
        anna = await uow.people.by_identity("telegram", str(tg.user("anna")["id"]))
        bertil = await uow.people.by_identity("telegram", str(tg.user("bertil")["id"]))
        assert anna is not None and bertil is not None
        [marked] = await uow.consultations.contributions(1)
    assert (marked.text, marked.person_id, marked.recorded_by, marked.question) == (
        SAID,
        anna.id,
        bertil.id,
        0,
    )
    assert marked.meeting_id == 1


async def test_on_discord_an_organiser_marks_a_message_from_its_apps_menu(
    database: Database, clock: VirtualClock
) -> None:
    from tests.platform_drivers import discord_bot

    await seed_demo(database.unit_of_work, clock)
    async with discord_bot(database, clock) as dc:
        for name in ("bertil", "anna"):
            await dc.link_demo(name)
        await dc.bind_group("bertil", "allmant", "sandviken")
        await _open_and_tie(database, clock)
        await dc.samtal.run_due()
        clock.set(clock.now() + timedelta(days=9, hours=9, minutes=30))  # the meeting is on

        asked = await dc.mark_message("bertil", "allmant", author="anna", said=SAID)
        assert [s.to for s in asked] == ["#allmant"]  # ephemeral: only Bertil sees it
        assert "Vilken fråga" in asked[0].text and asked[0].buttons[0].startswith("F1")
        saved = await dc.press("bertil", asked[0].buttons[0], group="allmant")
        assert "fråga 1" in saved[0].text

        refused = await dc.mark_message("anna", "allmant", author="bertil", said="Bra sagt")
        assert "Ingen träff" in refused[0].text
        assert dc.double.refusals == []

    async with database.unit_of_work() as uow:
        anna = await uow.people.by_identity("discord", str(dc.user("anna")["id"]))
        assert anna is not None
        [marked] = await uow.consultations.contributions(1)
    assert (marked.text, marked.person_id, marked.question) == (SAID, anna.id, 0)
