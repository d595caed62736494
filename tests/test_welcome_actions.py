"""The welcome's and membership's buttons on declared arguments: the core answers a stale or
forged button once, and checks an organiser's permission where the new member is welcomed."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Action, Button, message
from bot.registry import CommandSpec
from bot.welcome.model import FlowStatus, WelcomeFlow
from tests.conftest import Console

STALE = "Den knappen fungerar inte längre"


def _with_any_button(console: Console) -> None:
    """/knapp NAME ARGS...: a button for the real action NAME carrying whatever was typed."""

    async def show(ctx: Context, text: str) -> None:
        name, *args = text.split()
        await ctx.reply(message("Test", buttons=[[Button("Tryck", Action(name, tuple(args)))]]))

    console.samtal.registry.command(CommandSpec("knapp", "button", "test", show))


async def _flow_of(console: Console, name: str) -> WelcomeFlow:
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", name)
        assert person is not None and person.id is not None
        flow = await uow.welcome.of_person(person.id)
    assert flow is not None
    return flow


async def _org_id(console: Console, slug: str) -> int:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug(slug)
    assert org is not None and org.id is not None
    return org.id


async def _nora_has_joined(console: Console) -> WelcomeFlow:
    await console.run(
        "@nora: /start member_sandviken\n@nora: [Jag godkänner]\n"
        "@nora: [Ja, jag har precis gått med]"
    )
    return await _flow_of(console, "nora")


async def test_an_organiser_elsewhere_is_refused_where_the_new_member_is_welcomed(
    console: Console,
) -> None:
    _with_any_button(console)
    flow = await _nora_has_joined(console)
    sandviken = await _org_id(console, "sandviken")
    # Fatima organises in Gävle; Nora joined through Sandviken's link.
    for action in (f"welcome.confirm {flow.id}", f"welcome.find {sandviken} climate"):
        await console.run(f"@fatima: /knapp {action}")
        said = await console.said("@fatima: [Tryck]")
        assert "rätt roll i Sandvikens arbetarekommun" in said, action
    assert (await _flow_of(console, "nora")).status is FlowStatus.PENDING
    # Cecilia, Sandviken's member officer, may.
    await console.run(f"@cecilia: /knapp welcome.confirm {flow.id}")
    assert "Bekräftat: Nora är medlem nu" in await console.said("@cecilia: [Tryck]")
    assert (await _flow_of(console, "nora")).status is FlowStatus.ACTIVE


async def test_stale_and_forged_welcome_buttons_get_the_one_stale_answer(
    console: Console,
) -> None:
    _with_any_button(console)
    flow = await _nora_has_joined(console)
    await console.run(f"@cecilia: /knapp welcome.confirm {flow.id}\n@cecilia: [Tryck]")
    sandviken = await _org_id(console, "sandviken")
    for who, action in (
        ("cecilia", "welcome.confirm 999"),
        ("cecilia", "welcome.contacted x"),
        ("cecilia", f"welcome.find {sandviken} astrology"),
        ("nora", f"welcome.interest {flow.id} astrology"),
        ("nora", f"welcome.tasks {flow.id} maybe"),
        ("nora", f"welcome.pause {flow.id} now"),
        ("nora", "welcome.joined 999"),
        # Someone else's introduction reads as gone, not as theirs to pause.
        ("bertil", f"welcome.pause {flow.id}"),
        ("bertil", f"welcome.interest {flow.id} climate"),
    ):
        await console.run(f"@{who}: /knapp {action}")
        assert STALE in await console.said(f"@{who}: [Tryck]"), action
    after = await _flow_of(console, "nora")
    assert (
        after.status is FlowStatus.ACTIVE and after.interests == [] and after.tasks_consent is None
    )
    # The real arguments still work.
    await console.run(f"@nora: /knapp welcome.interest {flow.id} climate")
    assert "Valt: Klimat." in await console.said("@nora: [Tryck]")


async def test_forged_membership_and_privacy_buttons_change_nothing(console: Console) -> None:
    _with_any_button(console)
    for action in ("language.set fr", "privacy.erase now", "consent.decline please"):
        await console.run(f"@bertil: /knapp {action}")
        assert STALE in await console.said("@bertil: [Tryck]"), action
    async with console.database.unit_of_work() as uow:
        bertil = await uow.people.by_identity("console", "bertil")
    assert bertil is not None  # not erased
    await console.run("@bertil: /knapp language.set en")
    assert "From now on I will write to you in English." in await console.said("@bertil: [Tryck]")
