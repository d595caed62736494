"""Email as the third channel, against a real SMTP server (aiosmtpd) and a real database.

An email-only member's introduction, an announcement to members reaching chat and email
once each, a meeting's invitation with its calendar file, the signed links (one-click
unsubscribe, an answer from the email) served by the web module, and what the server's
refusals do: 5xx marks the address undeliverable, 4xx is tried again later.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar

from adapters.email import gateway as gateway_module
from adapters.email.gateway import EmailGateway, SmtpSettings
from adapters.email.links import Signer
from adapters.email.render import Links, Recipient, Sender, render
from bot.announcements.model import Announcement, AnnouncementStatus, Audience
from bot.announcements.service import plan_audience, start_sending
from bot.announcements.views import preview
from bot.context import Effects
from bot.domain.channels import EMAIL, ChannelChoice, EmailReach, pick_identity
from bot.domain.delivery import OutboxStatus
from bot.domain.people import Affiliation, Consent, Identity, Person, Status
from bot.i18n import Translator
from bot.meetings.model import Answer
from bot.meetings.service import MeetingDraft, create_meeting
from bot.messages import Button, OutgoingMessage, Span, Style, bold, link, message
from bot.ports import DeliveryError
from bot.welcome import service as welcome
from bot.welcome.model import FlowStatus, WelcomeFlow
from samtal.clock import SystemClock
from samtal.config import Config, DatabaseConfig, EmailConfig, WebConfig
from samtal.health import email_probe
from samtal.mail import EmailLookup, EmailPages
from samtal.platforms import enabled_platforms, run_platforms
from samtal.web import build_app
from storage.database import Database, sqlite_url
from tests.conftest import START, Console
from tests.platform_drivers import eventually

BASE = "http://samtal.test"
BOT = "https://t.me/samtal_demo_bot"


@dataclass
class Mailbox:
    """What the local SMTP server received; some addresses are refused on purpose."""

    received: list[tuple[str, EmailMessage]] = field(default_factory=list)
    greylisted: dict[str, int] = field(default_factory=dict)  # "later…": refused twice

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("full"):
            return "452 4.2.2 Mailbox full"
        if address.startswith("later") and self.greylisted.get(address, 0) < 2:
            self.greylisted[address] = self.greylisted.get(address, 0) + 1
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        for to in envelope.rcpt_tos:
            self.received.append((to, parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for to, mail in self.received if to == address]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mail:
    box: Mailbox
    gateway: EmailGateway
    signer: Signer


@pytest.fixture
async def mail(console: Console) -> AsyncIterator[Mail]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    signer = Signer("test secret")
    gateway = EmailGateway(
        SmtpSettings("127.0.0.1", port, security="none", timeout=10),
        Sender("samtal@example.org", "Samtal"),
        Links(BASE, signer, BOT),
        EmailLookup(console.database.unit_of_work, console.clock),
        per_minute=1000,
    )
    console.samtal.dispatcher.add_gateway(gateway)
    try:
        yield Mail(box, gateway, signer)
    finally:
        await gateway.close()
        controller.stop()


async def _email_member(
    console: Console,
    name: str,
    address: str,
    *,
    chat: str | None = None,
    prefers_email: bool = False,
    status: Status = Status.MEMBER,
) -> int:
    """A member as the register import makes her: a person with an email identity."""
    async with console.database.unit_of_work() as uow:
        person = await uow.people.add(
            Person(name, status=status, created_at=START - timedelta(days=3))
        )
        assert person.id is not None
        await uow.people.add_identity(
            Identity(person.id, EMAIL, address, created_at=START - timedelta(days=3))
        )
        if chat is not None:
            await uow.people.add_identity(
                Identity(
                    person.id,
                    "console",
                    chat,
                    username=chat,
                    created_at=START - timedelta(days=3),
                    last_seen_at=START - timedelta(days=1),
                )
            )
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        await uow.people.affiliate(Affiliation(person.id, sandviken.id, START - timedelta(days=3)))
        await uow.people.add_consent(Consent(person.id, "1", START - timedelta(days=3)))
        if prefers_email:
            await uow.channels.save(ChannelChoice(person.id, prefers_email=True))
        await uow.commit()
    return person.id


def _parts(mail: EmailMessage) -> tuple[str, str]:
    plain = mail.get_body(("plain",))
    rich = mail.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def _client(console: Console, mail: Mail) -> TestClient[Any, Any]:
    pages = EmailPages(console.samtal, mail.signer, BOT)
    app = build_app(console.database.unit_of_work, console.clock, email=pages)
    return TestClient(TestServer(app))


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


# --- the rule and the rendering, pure --------------------------------------------------------


def test_email_is_for_people_without_chat_or_who_chose_it() -> None:
    chat = Identity(1, "telegram", "t1", id=1)
    mail = Identity(1, EMAIL, "a@example.org", id=2)
    assert pick_identity([mail, chat], EmailReach()) == chat
    assert pick_identity([chat, mail], EmailReach(prefers_email=True)) == mail
    assert pick_identity([mail], EmailReach()) == mail
    assert pick_identity([mail], EmailReach(stopped=True)) is None
    bounced = EmailReach(prefers_email=True, undeliverable=frozenset({"a@example.org"}))
    assert pick_identity([mail, chat], bounced) == chat


def test_user_text_is_escaped_and_buttons_become_links() -> None:
    signer = Signer("s")
    spans = (
        bold("Hej <b>Maja</b> & co"),
        Span("\n"),
        link("läs mer", "https://example.org/?a=1&b=2"),
        Span(" "),
        link("inte en länk", "javascript:alert(1)"),
    )
    out = OutgoingMessage(
        spans, ((Button("I'm coming", token="tok1"), Button("Edit", token="tok2")),)
    )
    recipient = Recipient("maja@example.org", 7, "en", {"tok1": "meeting.rsvp", "tok2": "x.y"})
    mail = render(
        out,
        recipient,
        Sender("s@example.org", "Samtal"),
        Links(BASE, signer, BOT),
        message_id="<1@x>",
    )
    plain, rich = _parts(mail)
    assert "<strong>Hej &lt;b&gt;Maja&lt;/b&gt; &amp; co</strong>" in rich
    assert '<a href="https://example.org/?a=1&amp;b=2">läs mer</a>' in rich
    assert "javascript:" not in rich and "inte en länk" in rich
    assert mail["Subject"] == "Hej <b>Maja</b> & co"
    press = re.search(r"I'm coming: (\S+)", plain)
    assert press is not None and press.group(1).startswith(BASE + "/email/press/")
    assert f"Edit: {BOT}" in plain  # not safe from a web page: the bot in a chat
    assert signer.read(_path(press.group(1)).rsplit("/", 1)[1]) is not None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    forged = _path(press.group(1)).rsplit("/", 1)[1].replace(".", "x.", 1)
    assert signer.read(forged) is None


# --- through the outbox, the SMTP server and the web pages ------------------------------------


async def test_an_email_only_member_gets_her_introduction_by_email_and_can_unsubscribe(
    console: Console, mail: Mail
) -> None:
    maja = await _email_member(console, "Maja Svensson", "maja@example.org", status=Status.GUEST)
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
    plain, rich = _parts(welcome_mail)
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
    only_email = await _email_member(console, "Maja", "maja@example.org")
    both = await _email_member(console, "Nils", "nils@example.org", chat="nils")
    chose = await _email_member(
        console, "Olga", "olga@example.org", chat="olga", prefers_email=True
    )
    await _email_member(console, "Gustav", "gustav@example.org", status=Status.GUEST)
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
        assert "Årsmöte på tisdag!" in _parts(sent)[0]
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
    maja = await _email_member(console, "Maja", "maja@example.org")
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
    plain, _ = _parts(invitation)
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


async def test_a_permanent_refusal_marks_the_address_and_a_temporary_one_waits(
    console: Console, mail: Mail
) -> None:
    gone = await _email_member(console, "Borta", "bounce@example.org")
    later = await _email_member(console, "Sen", "later@example.org")
    async with console.database.unit_of_work() as uow:
        fx = Effects(uow, console.clock)
        for person_id in (gone, later):
            person = await uow.people.get(person_id)
            assert person is not None
            assert await fx.notify(person, lambda t: message("Hej"), key="first")
        await uow.commit()
    await console.samtal.dispatcher.deliver_due()
    async with console.database.unit_of_work() as uow:
        bounced = await uow.outbox.by_key(f"first:p{gone}")
        waiting = await uow.outbox.by_key(f"first:p{later}")
        assert bounced is not None and waiting is not None
        assert bounced.status is OutboxStatus.FAILED and "550" in (bounced.last_error or "")
        assert waiting.status is OutboxStatus.PENDING and waiting.attempts == 0
        assert waiting.not_before >= START + timedelta(seconds=60)
        assert (await uow.channels.reach(gone)).undeliverable == {"bounce@example.org"}
        person = await uow.people.get(gone)
        assert person is not None
        assert not await Effects(uow, console.clock).notify(
            person, lambda t: message("again"), key="second"
        )
    assert mail.gateway.stats.deferred == 1 and mail.box.received == []
    # Tried again later, and again refused: it waits twice as long; then it goes.
    console.clock.advance(timedelta(seconds=61))
    await console.samtal.dispatcher.deliver_due()
    async with console.database.unit_of_work() as uow:
        waiting = await uow.outbox.by_key(f"first:p{later}")
        assert waiting is not None and waiting.status is OutboxStatus.PENDING
        assert waiting.not_before >= console.clock.now() + timedelta(seconds=120)
    console.clock.advance(timedelta(seconds=121))
    await console.samtal.dispatcher.deliver_due()
    async with console.database.unit_of_work() as uow:
        waiting = await uow.outbox.by_key(f"first:p{later}")
        assert waiting is not None and waiting.status is OutboxStatus.SENT
    assert len(mail.box.to("later@example.org")) == 1


async def test_a_spent_budget_hands_the_email_back_for_later(console: Console, mail: Mail) -> None:
    gateway = EmailGateway(
        mail.gateway.smtp,
        mail.gateway.sender,
        mail.gateway.links,
        EmailLookup(console.database.unit_of_work, console.clock),
        per_minute=1,
    )
    try:
        await gateway.send("a@example.org", message("ett"), direct=True)
        with pytest.raises(DeliveryError) as spent:
            await gateway.send("b@example.org", message("två"), direct=True)
    finally:
        await gateway.close()
    assert spent.value.deferred and 55 < (spent.value.retry_after or 0) <= 60
    assert [to for to, _ in mail.box.received] == ["a@example.org"]
    with pytest.raises(DeliveryError) as group:
        await mail.gateway.send("a@example.org", message("x"), direct=False)
    assert group.value.permanent


def test_a_link_names_only_what_it_was_made_for() -> None:
    signer = Signer("one secret")
    token = signer.unsubscribe(3, "a@example.org")
    assert Signer("another secret").read(token) is None
    found = signer.read(token)
    assert found is not None and getattr(found, "address", None) == "a@example.org"
    assert signer.read("nonsense") is None and signer.read("a.b") is None


def test_plain_spans_survive_without_markup() -> None:
    out = message(Span("a < b", Style.PLAIN))
    mail = render(
        out,
        Recipient("x@example.org"),
        Sender("s@example.org", "S"),
        Links(BASE, Signer("s")),
        message_id="<2@x>",
    )
    plain, rich = _parts(mail)
    assert "a < b" in plain and "a &lt; b" in rich
    assert mail["List-Unsubscribe"] is None  # an address nobody owns: nothing to stop


async def test_erasure_leaves_no_trace_of_the_address(console: Console, mail: Mail) -> None:
    maja = await _email_member(console, "Maja Svensson", "maja@example.org")
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
    nils = await _email_member(console, "Nils", "nils@example.org", chat="nils")
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
    assert [_parts(m)[0].splitlines()[0] for m in mail.box.to("nils@example.org")] == ["Påminnelse"]
    assert "här i chatten" in await console.said("@nils: /epost chatt")
    assert "ingen e-postadress" in await console.said("@anna: /epost")


async def test_samtal_run_with_only_email_sends_and_serves_the_links(tmp_path: Path) -> None:
    box = Mailbox()
    smtp_port, web_port = _free_port(), _free_port()
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
            assert _parts(sent)[0].startswith("Välkommen, Maja!")
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


async def test_a_server_that_cannot_be_reached_is_retried_and_shows_in_health(
    console: Console, mail: Mail
) -> None:
    gateway = EmailGateway(
        SmtpSettings("127.0.0.1", _free_port(), security="none", timeout=5),
        mail.gateway.sender,
        mail.gateway.links,
        EmailLookup(console.database.unit_of_work, console.clock),
    )
    probe = email_probe(gateway)
    assert probe() is None
    with pytest.raises(DeliveryError) as failed:
        await gateway.send("a@example.org", message("hej"), direct=True)
    assert not failed.value.permanent and not failed.value.deferred  # an attempt, backed off
    assert (probe() or "").startswith("the SMTP server could not be reached")
    gateway.smtp = mail.gateway.smtp  # the server is back
    await gateway.send("a@example.org", message("hej"), direct=True)
    await gateway.close()
    assert probe() is None


async def test_temporary_refusals_for_days_count_as_permanent(
    mail: Mail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_module, "GIVE_UP_AFTER", 300.0)  # instead of three days
    waits = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as refused:
            await mail.gateway.send("full@example.org", message("hej"), direct=True)
        assert refused.value.deferred
        waits.append(refused.value.retry_after)
    assert waits == [60.0, 120.0, 240.0]
    with pytest.raises(DeliveryError) as given_up:
        await mail.gateway.send("full@example.org", message("hej"), direct=True)
    assert given_up.value.permanent and "452" in given_up.value.reason
