"""A local SMTP server (aiosmtpd) for the email tests, and an email-only member as the
register import makes her."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.email.gateway import EmailGateway, SmtpSettings
from adapters.email.links import Signer
from adapters.email.render import Links, Sender
from bot.domain.channels import EMAIL, ChannelChoice
from bot.domain.people import Affiliation, Consent, Identity, Person, Status
from samtal.mail import EmailLookup
from tests.conftest import START, Console

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


def free_port() -> int:
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
    port = free_port()
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


async def email_member(
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


def parts(mail: EmailMessage) -> tuple[str, str]:
    plain = mail.get_body(("plain",))
    rich = mail.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()
