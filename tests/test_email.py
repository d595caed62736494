"""Email as the third channel, end to end: a real SMTP server (aiosmtpd), a real database.

An email-only member's introduction, an announcement to members reaching chat and email
once each, a meeting's invitation with its calendar file and its answer from the email,
the one-click unsubscribe served by the web module, /epost, erasure, and `samtal run`.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from icalendar import Calendar

from bot.announcements.model import Announcement, AnnouncementStatus, Audience
from bot.announcements.service import plan_audience, start_sending
from bot.announcements.views import preview
from bot.context import Effects
from bot.domain.channels import EMAIL, ChannelChoice
from bot.domain.people import Consent, Identity, Person, Status
from bot.i18n import Translator
from bot.meetings.model import Answer
from bot.meetings.service import MeetingDraft, create_meeting
from bot.messages import message
from bot.welcome import service as welcome
from bot.welcome.model import FlowStatus, WelcomeFlow
from samtal.clock import SystemClock
from samtal.config import Config, DatabaseConfig, EmailConfig, WebConfig
from samtal.mail import EmailPages
from samtal.platforms import enabled_platforms, run_platforms
from samtal.web import build_app
from storage.database import Database, sqlite_url
from tests.conftest import START, Console
from tests.mail_server import BASE, BOT, Mail, Mailbox, email_member, free_port, parts
from tests.mail_server import mail as mail  # the fixture
from tests.platform_drivers import eventually


def _client(console: Console, mail: Mail) -> TestClient[Any, Any]:
    pages = EmailPages(console.samtal, mail.signer, BOT)
    app = build_app(console.database.unit_of_work, console.clock, email=pages)
    return TestClient(TestServer(app))


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


# --- the rule and the rendering, pure --------------------------------------------------------


async def test_an_email_only_member_gets_her_introduction_by_email_and_can_unsubscribe(
    console: Console, mail: Mail
) -> None:
    maja = await email_member(console, "Maja Svensson", "maja@example.org", status=Status.GUEST)
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        flow = await uow.welcome.add(
            WelcomeFlow(
                person_id=maja, org_id=sandviken.id, status=FlowStatus.PENDING, created_at=START
            )
        )
        person = await uow.people.get(maja)
        assert person is not None
        officer = await welcome.start(Effects(uow, console.clock), flow, person, officer=None)
        await uow.commit()
    assert officer is not None and officer.display_name.lower().startswith("cecilia")
    await console.samtal.run_due()
    (welcome_mail,) = mail.box.to("maja@example.org")
    assert welcome_mail.is_multipart()
    plain, rich = parts(welcome_mail)
    assert "Maja" in plain and "<html" in rich
    assert welcome_mail["From"].addresses[0].addr_spec == "samtal@example.org"
    unsubscribe = welcome_mail["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(BASE + "/email/unsubscribe/")
    assert welcome_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert BOT in plain  # how to reach the bot in a chat instead
    # Her contact person hears that she is on email, once, whatever steps follow.
    told = [
        d.message.plain_text
        for d in console.gateway.delivered
        if d.chat_id == "cecilia" and "med e-post" in d.message.plain_text
    ]
    assert told == [
        "Maja Svensson chattar inte med boten, så introduktionen når hen med e-post "
        "(maja@example.org). Ett samtal eller ett personligt mejl från dig hjälper hen att "
        "komma igång."
    ]
    console.clock.advance(timedelta(days=1, hours=2))
    await console.samtal.run_due()
    assert len(mail.box.to("maja@example.org")) == 2  # the next step, by email too
    assert (
        len([d for d in console.gateway.delivered if "(maja@example.org)" in d.message.plain_text])
        == 1
    )

    async with _client(console, mail) as client:
        page = await client.get(_path(unsubscribe))  # a link scanner's GET changes nothing
        assert page.status == 200 and "<form" in await page.text()
        async with console.database.unit_of_work() as uow:
            assert not (await uow.channels.reach(maja)).stopped
        done = await client.post(_path(unsubscribe), data={"List-Unsubscribe": "One-Click"})
        assert done.status == 200
        forged = await client.post(_path(unsubscribe)[:-3] + "abc")
        assert forged.status == 404
        async with console.database.unit_of_work() as uow:
            assert (await uow.channels.reach(maja)).stopped
        again = await client.post(_path(unsubscribe) + "?resume=1")  # the page's own button
        assert again.status == 200
        async with console.database.unit_of_work() as uow:
            assert not (await uow.channels.reach(maja)).stopped
        await client.post(_path(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    async with console.database.unit_of_work() as uow:
        assert (await uow.channels.reach(maja)).stopped
        person = await uow.people.get(maja)
        assert person is not None
        assert not await Effects(uow, console.clock).notify(
            person, lambda t: message("hello"), key="after"
        )


async def test_an_announcement_to_members_reaches_chat_in_chat_and_email_by_email_once_each(
    console: Console, mail: Mail
) -> None:
    only_email = await email_member(console, "Maja", "maja@example.org")
    both = await email_member(console, "Nils", "nils@example.org", chat="nils")
    chose = await email_member(console, "Olga", "olga@example.org", chat="olga", prefers_email=True)
    await email_member(console, "Gustav", "gustav@example.org", status=Status.GUEST)
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        announcement = await uow.announcements.add(
            Announcement(
                sandviken.id,
                "Årsmöte på tisdag!",
                Audience.MEMBERS,
                START,
                status=AnnouncementStatus.QUEUEING,
                sent_at=START,
            )
        )
        await start_sending(Effects(uow, console.clock), announcement)
        await uow.commit()
    await console.samtal.run_due()
    await console.samtal.run_due()
    emailed = sorted(to for to, _ in mail.box.received)
    assert emailed == ["maja@example.org", "olga@example.org"]  # not the guest, nor Nils
    in_chat = [
        d.chat_id
        for d in console.gateway.delivered
        if d.direct and "Årsmöte" in d.message.plain_text
    ]
    assert "nils" in in_chat and "olga" not in in_chat
    assert len(in_chat) == len(set(in_chat))
    for _, sent in mail.box.received:
        assert "Årsmöte på tisdag!" in parts(sent)[0]
        assert sent["List-Unsubscribe"]
    async with console.database.unit_of_work() as uow:
        assert announcement.id is not None
        done = await uow.announcements.get(announcement.id)
        assert done is not None and done.by_platform.get(EMAIL) == 2
        # The author's preview counted them where they would be reached.
        plan = await plan_audience(Effects(uow, console.clock), sandviken, Audience.MEMBERS, None)
        shown = preview(Translator("sv"), done, sandviken, plan).plain_text
    assert "– e-post: 2 privata meddelanden" in shown
    assert {only_email, both, chose}  # three people, three routes


async def test_a_meeting_invitation_carries_an_ics_and_its_answer_works_from_the_email(
    console: Console, mail: Mail
) -> None:
    maja = await email_member(console, "Maja", "maja@example.org")
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None
        meeting = await create_meeting(
            Effects(uow, console.clock),
            sandviken,
            MeetingDraft(
                "Skolan i Sandviken",
                START + timedelta(days=7, hours=9),
                START + timedelta(days=7, hours=11),
                place="Folkets hus",
            ),
        )
        await uow.commit()
    await console.samtal.run_due()
    (invitation,) = mail.box.to("maja@example.org")
    (ics,) = [part for part in invitation.iter_attachments()]
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    calendar = ics.get_content()
    calendar = calendar if isinstance(calendar, str) else calendar.decode()
    assert "METHOD:REQUEST" in calendar and f"UID:meeting-{meeting.id}@samtal" in calendar
    assert "ORGANIZER" in calendar
    assert "ATTENDEE;RSVP=FALSE:mailto:maja@example.org" in calendar
    (event,) = Calendar.from_ical(calendar).walk("VEVENT")
    assert str(event["attendee"]) == "mailto:maja@example.org"
    plain, _ = parts(invitation)
    coming = re.search(r"(?:I'm coming|Jag kommer): (\S+)", plain)
    assert coming is not None, plain
    async with _client(console, mail) as client:
        asked = await client.get(_path(coming.group(1)))
        assert asked.status == 200 and 'method="post"' in await asked.text()
        async with console.database.unit_of_work() as uow:
            assert meeting.id is not None
            assert not await uow.meetings.rsvps(meeting.id)
        answered = await client.post(_path(coming.group(1)))
        assert answered.status == 200
    async with console.database.unit_of_work() as uow:
        (rsvp,) = await uow.meetings.rsvps(meeting.id)
    assert (rsvp.person_id, rsvp.answer) == (maja, Answer.COMING)
    await console.samtal.run_due()
    assert len(mail.box.to("maja@example.org")) == 2  # the confirmation, by email


async def test_erasure_leaves_no_trace_of_the_address(console: Console, mail: Mail) -> None:
    maja = await email_member(console, "Maja Svensson", "maja@example.org")
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        cecilia = await uow.people.by_identity("console", "cecilia")
        person = await uow.people.get(maja)
        assert sandviken is not None and sandviken.id is not None
        assert cecilia is not None and person is not None
        await uow.channels.save(ChannelChoice(maja, prefers_email=True))
        flow = await uow.welcome.add(
            WelcomeFlow(
                person_id=maja, org_id=sandviken.id, status=FlowStatus.PENDING, created_at=START
            )
        )
        await welcome.start(Effects(uow, console.clock), flow, person, officer=cecilia)
        await uow.commit()
    await console.samtal.run_due()
    assert mail.box.to("maja@example.org")
    async with console.database.unit_of_work() as uow:
        await uow.people.erase(maja)
        await uow.commit()
    async with console.database.engine.connect() as connection:
        for table in ("outbox", "button_actions", "identities", "channel_choices", "people"):
            rows = (await connection.exec_driver_sql(f"SELECT * FROM {table}")).all()
            assert not any("maja@example.org" in str(row) for row in rows), table
        assert not (await connection.exec_driver_sql("SELECT * FROM channel_choices")).all()


async def test_a_member_chooses_email_in_the_chat_and_messages_follow(
    console: Console, mail: Mail
) -> None:
    nils = await email_member(console, "Nils", "nils@example.org", chat="nils")
    async with console.database.unit_of_work() as uow:
        await uow.people.add_consent(Consent(nils, "1", START))
        await uow.commit()
    assert "Du får mina meddelanden i chatten" in await console.said("@nils: /epost")
    said = await console.said("@nils: [Med e-post]")
    assert "med e-post, till nils@example.org" in said
    async with console.database.unit_of_work() as uow:
        person = await uow.people.get(nils)
        assert person is not None
        assert await Effects(uow, console.clock).notify(
            person, lambda t: message("Påminnelse"), key="reminder"
        )
        await uow.commit()
    await console.samtal.dispatcher.deliver_due()
    assert [parts(m)[0].splitlines()[0] for m in mail.box.to("nils@example.org")] == ["Påminnelse"]
    assert "här i chatten" in await console.said("@nils: /epost chatt")
    assert "ingen e-postadress" in await console.said("@anna: /epost")


async def test_samtal_run_with_only_email_sends_and_serves_the_links(tmp_path: Path) -> None:
    box = Mailbox()
    smtp_port, web_port = free_port(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    url = sqlite_url(tmp_path / "run.db")
    web_base = f"http://127.0.0.1:{web_port}"
    config = Config(
        database=DatabaseConfig(url=url),
        web=WebConfig(port=web_port, public_url=web_base),
        email=EmailConfig(
            host="127.0.0.1", port=smtp_port, security="none", from_address="samtal@localhost"
        ),
        email_secret="a secret for the test",
    )
    assert enabled_platforms(config) == ["email"]
    stop = asyncio.Event()
    running = asyncio.create_task(run_platforms(config, stop))
    database = Database(url)
    try:
        async with aiohttp.ClientSession() as http:

            async def web_is_up() -> bool:
                try:
                    async with http.get(f"{web_base}/healthz") as answer:
                        return answer.status == 200
                except aiohttp.ClientError:
                    return False

            for _ in range(300):
                if running.done() or await web_is_up():
                    break
                await asyncio.sleep(0.1)
            assert not running.done()
            async with database.unit_of_work() as uow:
                person = await uow.people.add(Person("Maja", status=Status.MEMBER))
                assert person.id is not None
                await uow.people.add_identity(Identity(person.id, EMAIL, "maja@example.org"))
                await Effects(uow, SystemClock()).notify(
                    person, lambda t: message("Välkommen, Maja!"), key="welcome"
                )
                await uow.commit()
            await eventually(lambda: bool(box.received), "the email", 30)
            (sent,) = box.to("maja@example.org")
            assert parts(sent)[0].startswith("Välkommen, Maja!")
            unsubscribe = sent["List-Unsubscribe"].strip("<>")
            assert unsubscribe.startswith(web_base + "/email/unsubscribe/")
            async with http.post(unsubscribe, data="List-Unsubscribe=One-Click") as answer:
                assert answer.status == 200
            async with database.unit_of_work() as uow:
                assert (await uow.channels.reach(person.id)).stopped
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
        await database.dispose()
        controller.stop()
