"""The member register in use: an import's new members get the welcome by e-mail, chat
accounts join the imported person, /obetalda, the figures, GDPR export and erasure."""

from __future__ import annotations

import sqlalchemy as sa

from bot.domain.people import Status
from bot.insights.model import GoalKind
from bot.insights.service import current_value, gather
from bot.privacy.service import export_person
from bot.welcome.model import FlowStatus
from storage import tables
from storage.register import register_tombstones
from tests.conftest import START, Console
from tests.mail_server import BASE, Mail, parts
from tests.mail_server import mail as mail  # the fixture
from tests.register_helpers import HEADER, entry, import_demo, import_file, outbox

NORA = "nora.lind@example.org"


async def test_a_new_email_only_member_gets_a_contact_person_and_the_introduction(
    console: Console,
) -> None:
    report = await import_demo(console)
    assert (report.added, report.changed, report.unchanged, report.missing) == (5, 0, 0, 0)
    assert report.refused == [] and report.welcomed == 1  # only Nora joined lately
    assert await outbox(console) == []  # the running bot welcomes her, just after
    await console.run("@clock: +1s")
    nora = await entry(console, "100101")
    async with console.database.unit_of_work() as uow:
        person = await uow.people.get(nora.person_id)
        identities = await uow.people.identities_of(nora.person_id)
        flow = await uow.welcome.of_person(nora.person_id)
        cecilia = await uow.people.by_identity("console", "cecilia")
    assert person is not None and person.status is Status.MEMBER
    assert person.display_name == "Nora Lind"
    assert [(i.platform, i.external_id) for i in identities] == [("email", NORA)]
    assert flow is not None and flow.status is FlowStatus.ACTIVE
    assert cecilia is not None and flow.officer_id == cecilia.id
    mails = [text for chat, text in await outbox(console) if chat == NORA]
    # Her welcome, then the introduction's first step (due the same day), both by e-mail.
    assert len(mails) == 2
    assert "Välkommen till S-föreningen Sandviken Centrum, Nora Lind!" in mails[0]
    assert f"https://t.me/samtal_bot?start=reg_{nora.join_token}" in mails[0]
    assert "https://discord.gg/samtal" in mails[0]
    assert "/introduktion" in mails[1]
    told = [text for chat, text in await outbox(console, "console") if chat == "cecilia"]
    assert any("Nora Lind" in text for text in told)
    # Nobody else was welcomed: they joined years ago.
    assert {chat for chat, _ in await outbox(console)} == {NORA}


async def test_her_personal_link_makes_her_chat_account_the_imported_person(
    console: Console,
) -> None:
    await import_demo(console)
    nora = await entry(console, "100101")
    said = await console.run(f"@nora: /start reg_{nora.join_token}\n@nora: [Jag godkänner]")
    assert "Nu vet jag att du är medlemmen i S-föreningen Sandviken Centrum" in said
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", "nora")
        platforms = {i.platform for i in await uow.people.identities_of(nora.person_id)}
        count = await uow.session.scalar(
            sa.select(sa.func.count()).where(tables.people.c.display_name.like("Nora%"))
        )
    assert person is not None and person.id == nora.person_id
    assert platforms == {"email", "console"}
    assert count == 1  # no duplicate person
    # Her introduction now reaches her in chat, the account she used last.
    assert "din introduktion" in (await console.said("@nora: /introduktion")).lower()


async def test_confirming_a_member_number_sends_a_code_to_her_address(console: Console) -> None:
    await import_demo(console)
    maria = await entry(console, "100103")
    said = await console.said("@maja: /start")
    said = await console.said("@maja: [Jag godkänner]")
    said = await console.said("@maja: /medlemsnummer 100103")
    assert "har jag skickat en kod dit" in said
    # Someone else trying a number that isn't there gets the very same answer.
    assert await console.said("@maja: /medlemsnummer 999999") == said
    codes = [text for chat, text in await outbox(console) if chat == "maria.nilsson@example.org"]
    assert len(codes) == 1
    code = codes[0].split("/koppla ")[1].split()[0]
    # A second request within the code's lifetime sends nothing more (no mail bombing).
    await console.said("@maja: /medlemsnummer 100103")
    assert len([c for c, _ in await outbox(console) if c == "maria.nilsson@example.org"]) == 1
    assert "kopplade" in await console.said(f"@maja: /koppla {code}")
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", "maja")
    assert person is not None and person.id == maria.person_id


async def test_obetalda_lists_privately_and_reminds_only_after_approval(console: Console) -> None:
    await import_demo(console)
    refused = await console.said("@anna: /obetalda")
    assert "Sandvikens arbetarekommun" in refused and "Olle" not in refused
    listed = await console.said("@cecilia: /obetalda")
    assert "2 medlemmar i Sandvikens arbetarekommun vars avgift har gått ut" in listed
    assert "Karl Ek (100104): betalt t.o.m. 30 juni 2025" in listed
    assert "Olle Berg (100102): betalt t.o.m. 31 december 2025" in listed
    assert "[Skicka den till 2 medlemmar]" in listed
    welcomed = await outbox(console)  # Nora's welcome
    assert {chat for chat, _ in welcomed} == {NORA}  # nothing goes before she approves
    sent = await console.said("@cecilia: [Skicka den till 2 medlemmar]")
    # Karl has no address and no chat: he can't be reached.
    assert "Påminnelsen är på väg till 1 medlem." in sent and "1 hoppades över" in sent
    reminders = (await outbox(console))[len(welcomed) :]
    assert [chat for chat, _ in reminders] == ["olle.berg@example.org"]
    assert "betalt till och med 31 december 2025" in reminders[0][1]
    again = await console.said("@cecilia: /obetalda")
    assert "påmind 2 mars 2026" in again


async def test_the_figures_count_the_register_and_show_reach(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        before = await gather(uow, org, console.clock.now())
    await import_demo(console)
    async with console.database.unit_of_work() as uow:
        after = await gather(uow, org, console.clock.now())
    assert after.members == before.members + 5
    assert after.reach.registered == 5
    assert after.reach.by_platform["email"] == 4
    assert after.reach.unreachable == 1  # Karl: no address, no chat
    assert after.new_members_this_year == before.new_members_this_year + 1
    assert after.took_part.of == after.members  # "took part" is out of register members too
    async with console.database.unit_of_work() as uow:
        goal = await current_value(uow, org, GoalKind.MEMBERS, START, console.clock.now())
    assert goal == after.members
    shown = await console.said("@bertil#allmant: /statistik")
    assert "Medlemmar som kan nås: konsolen 5, e-post 4; inte alls: 1" in shown
    assert "I medlemsregistret: 5" in shown


async def test_a_full_import_marks_the_missing_former_and_a_partial_one_does_not(
    console: Console,
) -> None:
    await import_demo(console)
    lena = "100105,Lena,Åberg,lena.aberg@example.org,jarbo,2021-01-10,2026-12-31"
    partial = await import_file(console, f"{HEADER}\n{lena}\n", full=False)
    assert (partial.unchanged, partial.missing) == (1, 0)
    full = await import_file(console, f"{HEADER}\n{lena}\n")
    assert (full.unchanged, full.missing) == (1, 4)
    olle = await entry(console, "100102")
    async with console.database.unit_of_work() as uow:
        person = await uow.people.get(olle.person_id)
    assert olle.status.value == "former" and person is not None
    assert person.status is Status.GUEST  # retention erases former members as guests
    back = await import_demo(console)
    assert (back.changed, back.unchanged, back.added) == (4, 1, 0)


async def test_export_and_erasure_cover_the_register_and_leave_a_tombstone(
    console: Console,
) -> None:
    await import_demo(console)
    olle = await entry(console, "100102")
    async with console.database.unit_of_work() as uow:
        exported = await export_person(uow, olle.person_id)
    assert exported["register_entries"][0]["member_number"] == "100102"
    assert exported["register_entries"][0]["email"] == "olle.berg@example.org"
    async with console.database.unit_of_work() as uow:
        await uow.people.erase(olle.person_id)
        await uow.commit()
    async with console.database.engine.connect() as connection:
        stones = (await connection.execute(sa.select(register_tombstones))).all()
        left = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(tables.people)
            .where(tables.people.c.display_name == "Olle Berg")
        )
    assert len(stones) == 1 and "100102" not in stones[0][0]
    assert left == 0
    again = await import_demo(console)
    assert again.added == 0 and again.unchanged == 4
    assert [(r.line, r.reason) for r in again.refused] == [
        (3, "erased at the member's own request: not imported again")
    ]


async def test_my_data_shows_the_register_and_the_tombstone_promise(console: Console) -> None:
    await import_demo(console)
    nora = await entry(console, "100101")
    await console.run(f"@nora: /start reg_{nora.join_token}\n@nora: [Jag godkänner]")
    shown = await console.said("@nora: /mina_uppgifter")
    assert "I medlemsregistret för S-föreningen Sandviken Centrum: medlemsnummer 100101." in shown
    assert "nyckelskyddat fingeravtryck av ditt medlemsnummer" in shown
    assert "Din post i medlemsregistret: 1" in shown


async def test_a_member_erased_before_her_welcome_runs_gets_none(console: Console) -> None:
    await import_demo(console)
    nora = await entry(console, "100101")
    async with console.database.unit_of_work() as uow:
        await uow.people.erase(nora.person_id)
        await uow.commit()
    await console.run("@clock: +1s")
    assert await outbox(console) == []
    async with console.database.unit_of_work() as uow:
        every = [o.id for o in await uow.orgs.list_all() if o.id is not None]
        flows = await uow.welcome.in_orgs(every)
    assert flows == []  # nobody's introduction was started


async def test_a_member_number_is_asked_for(console: Console) -> None:
    said = await console.said("@anna: /medlemsnummer")
    assert "Skriv ditt medlemsnummer efter kommandot" in said


async def test_an_imported_email_only_member_gets_real_mail_with_links_and_unsubscribe(
    console: Console, mail: Mail
) -> None:
    """The register and the email channel together: import, then the bot's own delivery
    through SMTP to a local server, as a member officer would see it work."""
    await import_demo(console)
    await console.run("@clock: +1s")  # the running bot welcomes her and starts her month
    await console.samtal.run_due()
    nora = await entry(console, "100101")
    welcome_mail, first_step = mail.box.to(NORA)
    for sent in (welcome_mail, first_step):
        assert sent.is_multipart()
        assert sent["List-Unsubscribe"].startswith(f"<{BASE}/email/unsubscribe/")
        assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain, rich = parts(welcome_mail)
    assert "Nora Lind" in plain and "<html" in rich
    # Her personal links: the Telegram deep link that makes her chat account this person,
    # and the Discord invite.
    link = f"https://t.me/samtal_bot?start=reg_{nora.join_token}"
    assert link in plain and link in rich
    assert "https://discord.gg/samtal" in plain
    assert "/introduktion" in parts(first_step)[0]
    # Nobody else in the file was mailed: they joined years ago.
    assert {to for to, _ in mail.box.received} == {NORA}
