"""Email send rate against a local SMTP server (aiosmtpd, in a process of its own).

Two runs of N emails each, the budget set high enough not to hold anything back:

- **gateway only**: `EmailGateway.send` N times in a row (one SMTP connection, kept
  open), each email rendered from an `OutgoingMessage` with a button and a
  calendar attachment; the recipient's look-up is a constant;
- **outbox + Dispatcher**: N email-only members in a scratch SQLite database (bulk
  inserts into the real tables), one private message each queued with `enqueue`,
  then the core's `Dispatcher` delivers them through the gateway, looking up each
  address in the database (`samtal.mail.EmailLookup`), as `samtal run` does.

    .venv/bin/python benchmarks/email_rate.py [--emails 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.email.gateway import EmailGateway, SmtpSettings
from adapters.email.links import Signer
from adapters.email.render import Links, Recipient, Sender
from benchmarks._world import bulk_people, org_id, scratch_database
from bot.clock import VirtualClock
from bot.delivery import DeliveryOptions, Dispatcher
from bot.demo.seed import seed_demo
from bot.messages import Action, Attachment, Button, MessageBuilder, bold
from bot.outbox import enqueue
from samtal.mail import EmailLookup
from storage import tables

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Samtal//bench//SV\r\nBEGIN:VEVENT\r\n"
    b"UID:meeting-1@samtal\r\nDTSTAMP:20260302T080000Z\r\nDTSTART:20260309T170000Z\r\n"
    b"DTEND:20260309T190000Z\r\nSUMMARY:Skolan\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _message(n: int, *, token: str | None = None) -> MessageBuilder:
    """A meeting's invitation; `token`: the button as the outbox stores it (gateway only)."""
    action = None if token else Action("meeting.rsvp", ("1", "coming"))
    return (
        MessageBuilder()
        .line(bold(f"Tematräff {n}: Skolan i Sandviken"))
        .line("Tisdag 9 mars 18.00–20.00, Folkets hus. Välkommen!")
        .button_row(Button("Jag kommer", action, token))
        .attach(Attachment("meeting-1.ics", "text/calendar", ICS))
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _server(port: int) -> asyncio.subprocess.Process:
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    server = await asyncio.create_subprocess_exec(*command, "-l", f"127.0.0.1:{port}")
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return server
    server.terminate()
    raise SystemExit("aiosmtpd did not start")


def _gateway(port: int, lookup: EmailLookup | None) -> EmailGateway:
    async def constant(address: str, tokens: Sequence[str]) -> Recipient:
        return Recipient(address, 1, "sv", {token: "meeting.rsvp" for token in tokens})

    return EmailGateway(
        SmtpSettings("127.0.0.1", port, security="none"),
        Sender("samtal@example.org", "Samtal"),
        Links("https://samtal.example.org", Signer("bench"), "https://t.me/samtal_bot"),
        lookup or constant,
        per_minute=10_000_000,
    )


async def gateway_only(port: int, count: int) -> float:
    gateway = _gateway(port, None)
    messages = [_message(n, token=f"token{n}").build() for n in range(count)]
    began = time.perf_counter()
    for n, message in enumerate(messages):
        await gateway.send(f"m{n}@example.org", message, direct=True)
    spent = time.perf_counter() - began
    await gateway.close()
    return count / spent


async def through_outbox(port: int, count: int) -> float:
    async with scratch_database(None) as database:
        clock = VirtualClock(START)
        await seed_demo(database.unit_of_work, clock)
        org = await org_id(database, "sandviken")
        ids = await bulk_people(database, count=count, org_ids=[org], platform="email", now=START)
        i = tables.identities.c
        async with database.engine.begin() as connection:
            await connection.execute(
                sa.update(tables.identities)
                .where(i.platform == "email")
                .values(external_id="m" + i.external_id + "@example.org")
            )
        async with database.unit_of_work() as uow:
            for n, person_id in enumerate(ids):
                await enqueue(
                    uow,
                    key=f"bench:{n}",
                    platform="email",
                    chat_id=f"m{1_000_000 + n}@example.org",
                    direct=True,
                    message=_message(n).build(),
                    now=START,
                    person_id=person_id,
                )
            await uow.commit()
        gateway = _gateway(port, EmailLookup(database.unit_of_work, clock))
        dispatcher = Dispatcher(
            database.unit_of_work, clock, {"email": gateway}, DeliveryOptions(exclusive=True)
        )
        began = time.perf_counter()
        sent = await dispatcher.deliver_due()
        spent = time.perf_counter() - began
        await gateway.close()
        assert sent == count, (sent, dispatcher.stats)
    return count / spent


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()
    port = _free_port()
    server = await _server(port)
    try:
        load = os.getloadavg()[0]
        direct = await gateway_only(port, args.emails)
        outbox = await through_outbox(port, args.emails)
    finally:
        server.terminate()
        await server.wait()
    print(f"{args.emails:,} emails to a local aiosmtpd (load average {load:.1f} at the start)")
    print(f"  gateway only          {direct:8.1f} emails/s")
    print(f"  outbox + Dispatcher   {outbox:8.1f} emails/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
