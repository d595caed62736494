"""Meetings' and announcements' buttons on declared arguments: a forged or stale argument
gets the core's one stale answer, and an organiser of another organisation is refused with
the object's organisation named (`bot.actions`)."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Action, Button, message
from bot.registry import CommandSpec
from tests.conftest import Console

STALE = "Den knappen fungerar inte längre"
NOT_SANDVIKEN = "rätt roll i Sandvikens arbetarekommun"


def _with_forged_buttons(console: Console) -> None:
    """`/testknapp NAME ARGS...` shows a button for the real action NAME with those args,
    as a forged or outdated message would carry them."""

    async def show(ctx: Context, text: str) -> None:
        name, *args = text.split()
        await ctx.reply(message("Test", buttons=[[Button("Tryck", Action(name, tuple(args)))]]))

    console.samtal.registry.command(CommandSpec("testknapp", "testbutton", "test", show))


async def _sandviken_id(console: Console) -> int:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
    assert org is not None and org.id is not None
    return org.id


async def _press(console: Console, who: str, args: str) -> str:
    await console.run(f"@{who}: /testknapp {args}")
    return await console.said(f"@{who}: [Tryck]")


async def test_meeting_buttons_with_arguments_that_do_not_read_are_stale(
    console: Console,
) -> None:
    _with_forged_buttons(console)
    await console.run("@bertil: /start join_sandviken")
    for args in (
        "meeting.rsvp 1 perhaps",
        "meeting.rsvp 999 coming",
        "meeting.ics x",
        "meeting.edit 999",
        "meeting.edit_field 1 colour",
        "meeting.audience 1",
        "meeting.cancel_confirm 999 0",
        "meeting.attend 1 someone",
        "meeting.rate 1 9",
        "meeting.export_as 1 pdf",
        "meeting.discard 1",
        "meeting.write 1 everyone",
        "meeting.names 999",
        "poll.rank_next 1 9.9 0",
        "poll.count 1 x",
    ):
        assert STALE in await _press(console, "bertil", args), args


async def test_an_organiser_elsewhere_is_refused_where_the_meeting_belongs(
    console: Console,
) -> None:
    _with_forged_buttons(console)
    # Fatima organises in Gävle; meeting 1 is Sandviken's.
    for args in (
        "meeting.edit 1",
        "meeting.edit_field 1 theme",
        "meeting.cancel 1",
        "meeting.cancel_confirm 1 0",
        "meeting.attendance 1",
        "meeting.export_as 1 csv",
        "meeting.people 1",
        "meeting.write 1 coming",
        "meeting.names 1",
    ):
        assert NOT_SANDVIKEN in await _press(console, "fatima", args), args
    # Nothing changed: the meeting is still on.
    assert "Inställt" not in await console.said("@fatima: /moten 1")


async def test_announcement_buttons_are_stale_or_refused_where_they_belong(
    console: Console,
) -> None:
    _with_forged_buttons(console)
    sandviken = await _sandviken_id(console)
    await console.run("@bertil: /start join_sandviken")
    for args in (
        f"announce.audience {sandviken} nobody",
        f"announce.interest {sandviken} juggling",
        "announce.org 99999",
        "announce.send 999",
        "announce.progress x",
    ):
        assert STALE in await _press(console, "bertil", args), args
    for args in (f"announce.org {sandviken}", f"announce.audience {sandviken} members"):
        assert NOT_SANDVIKEN in await _press(console, "fatima", args), args
