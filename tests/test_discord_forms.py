"""Planning a meeting through a Discord modal, with the real discord.py against the double.

/nytt_mote opens the meeting dialog's declared form as a modal (theme, time,
place, description, questions); its submission goes through the same steps and
parsers as typed answers, and the dialog goes on with its other questions
(ephemeral in a server channel, where a typed question gets a button that opens
a one-field modal). Bad input in a field gets the dialog's own refusal and
nothing is created.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import VirtualClock
from bot.i18n import Translator
from bot.meetings.model import Meeting
from storage.database import Database
from tests.platform_drivers import DiscordDriver, discord_bot
from tests.test_discord_meetings import connected

sv = Translator("sv")
FORM = {
    "theme": "Trygghet i Sandviken",
    "when": "12/3 18:00-20:00",
    "place": "Folkets hus",
    "description": "Ett samtal om hur vi kan göra staden tryggare.",
    "questions": "Var känner du dig otrygg?\n\nVad kan kommunen göra?\n",
}


async def meetings(database: Database) -> list[Meeting]:
    async with database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        return [m for m in await uow.meetings.of_org(org.id) if m.theme == FORM["theme"]]


def form_of(dc: DiscordDriver, user: str) -> dict[str, tuple[str, bool, str]]:
    modal = dc.modal(user)
    return {
        i["custom_id"]: (i["label"], i["required"], i.get("placeholder") or "")
        for i in dc.modal_inputs(modal)
    }


async def test_a_meeting_planned_in_a_modal_in_a_server_channel(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        said = await dc.say("bertil", "/nytt_mote sandviken", group="allmant")
        assert said == []  # the answer is the modal itself
        modal = dc.modal("bertil")
        assert modal["title"] == sv("New themed meeting")
        assert modal["custom_id"] == "samtal-form:meeting.new:theme"
        assert form_of(dc, "bertil") == {
            "theme": (sv("Theme"), True, sv("Safety in our town")),
            "when": (sv("When"), True, sv("12/3 18:00-20:00")),
            "place": (sv("Where: address or link"), True, ""),
            "description": (sv("About the evening"), False, ""),
            "questions": (sv("Discussion questions, one a line"), False, ""),
        }

        said = await dc.submit("bertil", FORM, group="allmant")
        assert [(s.to, s.text) for s in said] == [("#allmant", sv("Who may come?"))]
        assert dc.double.posted[-1].ephemeral
        said = await dc.press("bertil", sv("Everyone, guests too"), group="allmant")
        (capacity,) = said
        assert capacity.buttons == (sv("No limit"), sv("Answer"))
        # Typing isn't read in a server: the Answer button opens a one-field modal.
        said = await dc.press("bertil", sv("Answer"), group="allmant")
        assert said == [] and form_of(dc, "bertil") == {"capacity": (sv("Your answer"), False, "")}
        (summary,) = await dc.submit("bertil", {"capacity": "20"}, group="allmant")
        assert summary.text.startswith(sv("Does this look right?"))
        assert "1. Var känner du dig otrygg?\n2. Vad kan kommunen göra?" in summary.text
        assert await meetings(database) == []
        said = await dc.press("bertil", sv("Save"), group="allmant")
        assert any(sv("The invitation is posted in the group chat.") in s.text for s in said)

        (meeting,) = await meetings(database)
        assert meeting.questions == ["Var känner du dig otrygg?", "Vad kan kommunen göra?"]
        assert meeting.description == FORM["description"]
        assert meeting.place == "Folkets hus" and meeting.capacity == 20
        assert meeting.ends_at - meeting.starts_at == timedelta(hours=2)
        assert meeting.starts_at.astimezone(clock.now().tzinfo).day == 12
        assert dc.double.refusals == []


async def test_bad_input_in_the_modal_is_refused_and_nothing_is_created(
    database: Database, clock: VirtualClock
) -> None:
    async with discord_bot(database, clock) as dc:
        await connected(database, clock, dc)
        assert await dc.say("bertil", "/nytt_mote sandviken") == []  # in DMs: the modal too
        refusals = {
            "när det passar": sv(
                "I couldn't read that time. Write e.g. 2026-03-12 18:00-20:00 or 12/3 18-20."
            ),
            "2026-03-01 18:00-20:00": sv(
                "That time has already passed. Choose a time in the future."
            ),
            "12/3 18:00": sv("Add when it ends too, e.g. 12/3 18:00-20:00."),
        }
        for when, refusal in refusals.items():
            said = await dc.submit("bertil", {**FORM, "when": when})
            assert [s.text for s in said] == [refusal], when
        said = await dc.submit("bertil", {**FORM, "theme": "x" * 201})
        assert [s.text for s in said] == [
            sv("Write the theme in a few words (at most 200 characters).")
        ]
        assert await meetings(database) == []

        # The dialog is still at its first question: the same form, filled in well, goes on.
        said = await dc.submit("bertil", FORM)
        assert [s.text for s in said] == [sv("Who may come?")]
        # A form submitted again for a question already answered is stale.
        said = await dc.submit("bertil", FORM)
        assert [s.text for s in said] == [
            sv("That form belongs to an earlier step. Answer the latest question.")
        ]
        # In DMs typing works, so a typed question gets no Answer button there.
        (capacity,) = await dc.press("bertil", sv("Members only"))
        assert capacity.buttons == (sv("No limit"),)
        assert await meetings(database) == []
        assert dc.double.refusals == []
