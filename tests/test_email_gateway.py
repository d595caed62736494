"""The email gateway and its rendering: the chat-or-email rule, escaping, signed links, the
budget, and what the SMTP server's refusals do (5xx: undeliverable; 4xx: later)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.email import gateway as gateway_module
from adapters.email.gateway import EmailGateway, SmtpSettings
from adapters.email.links import Signer
from adapters.email.render import Links, Recipient, Sender, render
from bot.context import Effects
from bot.domain.channels import EMAIL, EmailReach, pick_identity
from bot.domain.delivery import OutboxStatus
from bot.domain.people import Identity
from bot.messages import Button, OutgoingMessage, Span, Style, bold, link, message
from bot.ports import DeliveryError
from samtal.health import email_probe
from samtal.mail import EmailLookup
from tests.conftest import START, Console
from tests.mail_server import BASE, BOT, Mail, email_member, free_port, parts
from tests.mail_server import mail as mail  # the fixture


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
    plain, rich = parts(mail)
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


async def test_a_permanent_refusal_marks_the_address_and_a_temporary_one_waits(
    console: Console, mail: Mail
) -> None:
    gone = await email_member(console, "Borta", "bounce@example.org")
    later = await email_member(console, "Sen", "later@example.org")
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
    plain, rich = parts(mail)
    assert "a < b" in plain and "a &lt; b" in rich
    assert mail["List-Unsubscribe"] is None  # an address nobody owns: nothing to stop


async def test_a_server_that_cannot_be_reached_is_retried_and_shows_in_health(
    console: Console, mail: Mail
) -> None:
    gateway = EmailGateway(
        SmtpSettings("127.0.0.1", free_port(), security="none", timeout=5),
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
