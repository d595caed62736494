"""The welcome flow through the console on a real database: what is stored, who is told, when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from adapters.console.app import ConsoleGateway, ConsoleSession
from bot.bootstrap import build_registry
from bot.circles.model import EducationKind
from bot.clock import VirtualClock
from bot.context import Effects
from bot.core import Samtal
from bot.domain.people import Person, Role, RoleAssignment, Status
from bot.meetings.model import Attendance, Audience, Meeting
from bot.settings import Settings
from bot.welcome.model import FlowStatus, StepKind, WelcomeFlow
from bot.welcome.service import plan_for
from samtal.usage import exit_status
from samtal.welcome_cli import import_plan
from storage.database import Database
from tests.conftest import START, STOCKHOLM, Console

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def _inputs(name: str) -> str:
    text = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith(("@", "#")))


async def _person(console: Console, name: str) -> Person:
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", name)
    assert person is not None
    return person


async def _flow(console: Console, name: str) -> WelcomeFlow:
    person = await _person(console, name)
    assert person.id is not None
    async with console.database.unit_of_work() as uow:
        flow = await uow.welcome.of_person(person.id)
    assert flow is not None
    return flow


async def test_the_first_month_stores_the_answers_and_the_contact(console: Console) -> None:
    await console.run(_inputs("welcome_first_month.txt"))
    nora = await _person(console, "nora")
    cecilia = await _person(console, "cecilia")
    assert nora.status is Status.MEMBER
    flow = await _flow(console, "nora")
    assert flow.status is FlowStatus.COMPLETED
    assert flow.started_at == START
    assert flow.officer_id == cecilia.id
    assert flow.steps_done == [k.value for k in StepKind]
    assert flow.interests == ["climate", "writing"]  # school was chosen, then taken back
    assert flow.ways == ["online"]
    assert flow.tasks_consent is True
    assert flow.tasks_consent_at == START.replace(day=3, hour=10)
    assert flow.contacted_by == cecilia.id
    assert flow.contacted_at is not None and flow.contacted_at.date().isoformat() == "2026-03-17"
    assert flow.meeting_invited_at is not None and flow.education_offered_at is not None
    async with console.database.unit_of_work() as uow:
        assert nora.id is not None
        signed_up = await uow.circles.enrolments_of(nora.id)
        circle = await uow.circles.get(signed_up[0].circle_id)
    assert circle is not None and circle.kind is EducationKind.MEMBER_EDUCATION_1
    assert flow.checkin_done == ["meeting", "contact"]
    assert flow.checkin_wish == "Jag skriver gärna insändare om skolan!"
    association = await _org(console, "sandviken-centrum")
    assert flow.association_id == association
    async with console.database.unit_of_work() as uow:
        assert await uow.timers.next_due() is not None  # only the daily guest run is left
        pending = [
            t.key
            for t in await uow.timers.due(START + timedelta(days=400), 100)
            if t.key.startswith(f"welcome:{flow.id}:")
        ]
    assert pending == []


async def _org(console: Console, slug: str) -> int:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug(slug)
    assert org is not None and org.id is not None
    return org.id


async def test_stopping_cancels_every_later_step_and_reminder(console: Console) -> None:
    await console.run("@bertil: /ny_medlem david")
    flow = await _flow(console, "david")
    assert flow.status is FlowStatus.ACTIVE
    await console.run("@david: [Avsluta]")
    flow = await _flow(console, "david")
    assert flow.status is FlowStatus.STOPPED and flow.stopped_at == START
    output = await console.run("@clock: +6w")
    assert "-> david" not in output and "-> cecilia" not in output and "-> bertil" not in output
    assert (await _flow(console, "david")).steps_done == ["welcome"]


async def test_member_officers_take_new_members_in_turn_and_an_association_its_own(
    console: Console,
) -> None:
    anna, erik = await _person(console, "anna"), await _person(console, "erik")
    cecilia = await _person(console, "cecilia")
    sandviken, centrum = await _org(console, "sandviken"), await _org(console, "sandviken-centrum")
    assert anna.id is not None and erik.id is not None
    async with console.database.unit_of_work() as uow:
        await uow.people.grant(RoleAssignment(anna.id, sandviken, Role.MEMBER_OFFICER, START))
        await uow.commit()
    for name in ("nora", "olle", "pia"):
        await console.run(f"@{name}: /start join_sandviken\n@{name}: [Jag godkänner]")
    await console.run("@bertil: /ny_medlem nora\n@bertil: /ny_medlem olle\n@bertil: /ny_medlem pia")
    officers = [(await _flow(console, n)).officer_id for n in ("nora", "olle", "pia")]
    # The branch's two member officers in turn (in the order they came to the bot).
    assert officers == [anna.id, cecilia.id, anna.id]
    # Someone in Sandviken Centrum gets its own member officer, whoever's turn it is.
    async with console.database.unit_of_work() as uow:
        await uow.people.grant(RoleAssignment(erik.id, centrum, Role.MEMBER_OFFICER, START))
        await uow.commit()
    await console.run("@rut: /start member_sandviken-centrum\n@rut: [Jag godkänner]")
    output = await console.run("@rut: [Ja, jag har precis gått med]")
    assert "-> erik: Rut (console @rut)" in output
    await console.run("@erik: [Bekräfta medlemskapet]")
    flow = await _flow(console, "rut")
    assert flow.officer_id == erik.id and flow.association_id == centrum
    assert flow.org_id == sandviken


async def test_only_members_who_said_yes_are_found_by_interest(console: Console) -> None:
    for name in ("nora", "olle"):
        await console.run(f"@{name}: /start join_sandviken\n@{name}: [Jag godkänner]")
    await console.run("@bertil: /ny_medlem nora\n@bertil: /ny_medlem olle\n@clock: +1d2h")
    for name, consent in (("nora", "Ja, gärna"), ("olle", "Nej tack")):
        await console.run(
            f"@{name}: [Klimat]\n@{name}: [Klart]\n@{name}: [Klart]\n@{name}: [{consent}]"
        )
    found = await console.said("@bertil: /intresse klimat")
    assert "Nora (console @nora)" in found and "Olle" not in found
    # Nora changes her mind: she is no longer listed.
    await console.run("@nora: /introduktion\n@nora: [Inga fler frågor om uppdrag]")
    assert "Nora" not in (await console.said("@bertil: /intresse klimat")).split("\n", 1)[1]
    # A member without the role can't look.
    refused = await console.said("@anna: /intresse klimat")
    assert "organisatörer med rätt roll" in refused and "Intresserade" not in refused


async def test_an_organisation_plan_from_a_file_sets_the_days(
    console: Console, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        "[contact]\nreminder_after_days = 2\nescalate_after_days = 3\n"
        "[steps.welcome]\nday = 0\nnote = 'Fika varje tisdag på Sosserian!'\n"
        "[steps.checkin]\nday = 21\nat = '18:00'\n",
        encoding="utf-8",
    )
    assert await import_plan(console.database, console.clock, plan_file, "gavleborg") == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[steps.welcome]\nday = 0\n[steps.checkin]\ndag = 21\n", encoding="utf-8")
    assert await import_plan(console.database, console.clock, bad, "sandviken") == 2
    assert (
        await exit_status(import_plan(console.database, console.clock, plan_file, "nowhere")) == 2
    )
    async with console.database.unit_of_work() as uow:
        plan = await plan_for(Effects(uow, console.clock), await _org(console, "sandviken"))
    assert [s.kind for s in plan.steps] == [StepKind.WELCOME, StepKind.CHECKIN]
    welcome = await console.run("@bertil: /ny_medlem david")
    assert "Fika varje tisdag på Sosserian!" in welcome
    reminded = await console.run("@clock: +2d")
    assert "-> cecilia: En påminnelse: David" in reminded
    escalated = await console.run("@clock: +1d")
    assert "-> bertil: David blev medlem" in escalated
    checkin = await console.run("@clock: 2026-03-23T17:59\n@clock: 2026-03-23T18:00")
    assert checkin.count("Nu har du varit medlem i en månad") == 1
    assert checkin.index("Nu har du varit medlem") > checkin.index("@clock: 2026-03-23T18:00")
    assert (await _flow(console, "david")).status is FlowStatus.COMPLETED


async def test_a_guest_who_keeps_coming_is_invited_once_with_the_join_link(
    database: Database,
) -> None:
    clock = VirtualClock(START)
    lines: list[str] = []
    gateway = ConsoleGateway(lines.append)
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        {gateway.platform: gateway},
        Settings(join_url="https://www.socialdemokraterna.se/bli-medlem"),
    )
    await samtal.start()
    console = Console(database, clock)  # the fixture's helpers, on a core with a join link
    console.lines, console.gateway, console.samtal = lines, gateway, samtal
    console.session = ConsoleSession(samtal, gateway, STOCKHOLM)
    await console.seed_demo()
    david, anna = await _person(console, "david"), await _person(console, "anna")
    sandviken = await _org(console, "sandviken")
    async with database.unit_of_work() as uow:
        for days, audience in ((20, Audience.OPEN), (13, Audience.OPEN), (6, Audience.MEMBERS)):
            starts = START - timedelta(days=days)
            meeting = await uow.meetings.add(
                Meeting(
                    sandviken,
                    f"Träff {days}",
                    starts,
                    starts + timedelta(hours=2),
                    audience=audience,
                )
            )
            assert meeting.id is not None
            for person in (david, anna):
                assert person.id is not None
                await uow.meetings.add_attendance(Attendance(meeting.id, person.id, starts))
        await uow.commit()
    # Two open meetings (the members' meeting does not count): not yet.
    assert "-> david" not in await console.run("@clock: +1d")
    async with database.unit_of_work() as uow:
        starts = START - timedelta(days=2)
        meeting = await uow.meetings.add(
            Meeting(sandviken, "Träff 3", starts, starts + timedelta(hours=2))
        )
        assert meeting.id is not None and david.id is not None
        await uow.meetings.add_attendance(Attendance(meeting.id, david.id, starts))
        await uow.commit()
    invited = await console.run("@clock: +1d")
    assert "-> david: Tack för att du har varit med på 3 av våra öppna träffar, David!" in invited
    assert "https://www.socialdemokraterna.se/bli-medlem" in invited
    assert "-> anna" not in invited  # a member is not invited
    assert "-> david" not in await console.run("@clock: +1w")  # once, ever
    # The invitation's button starts the path to membership.
    answer = await console.run("@david: [Jag har gått med]")
    assert "-> cecilia: David (console @david)" in answer


async def test_an_existing_member_or_the_organiser_himself_gets_no_introduction(
    console: Console,
) -> None:
    # Anna has been a member since long before; nothing starts and the figures stay.
    refused = await console.run("@bertil#allmant: /ny_medlem anna")
    assert "-> bertil: Anna är redan medlem, så det finns ingen introduktion att starta." in refused
    assert "-> cecilia" not in refused and "-> anna" not in refused
    mine = await console.said("@bertil#allmant: /ny_medlem bertil")
    assert "Du kan inte registrera dig själv som ny medlem" in mine
    for name in ("anna", "bertil"):
        person = await _person(console, name)
        async with console.database.unit_of_work() as uow:
            assert await uow.welcome.of_person(person.id or 0) is None
    # A guest is still welcomed as before.
    welcomed = await console.run("@bertil: /ny_medlem david")
    assert "David är registrerad som ny medlem" in welcomed
