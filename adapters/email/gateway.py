"""Email as a delivery gateway (platform "email"): the outbox's entries, sent by SMTP.

One connection (aiosmtplib), reopened when the server drops it; sends one at a
time within the `[email] per_minute` budget (a `Window` of a minute, shared
among replicas by `scale`). A send that would wait longer than `MAX_WAIT` for
the budget is handed back (`DeliveryError(deferred=True)`), as on the chat
platforms. The server's answer decides the rest:

- 5xx (a permanent refusal: no such mailbox, rejected): the entry fails for
  good, which marks the address undeliverable (bot/domain/channels.py): later
  messages to that person skip it;
- 4xx (temporary: greylisting, a full mailbox, too many connections): handed
  back, deferred, after a back-off that doubles for the address from
  `FIRST_BACKOFF` up to `LONGEST_BACKOFF`; refused like this for `GIVE_UP_AFTER`
  (three days of waits, counted by this process) it counts as permanent;
- no answer (connection refused, timeout): an ordinary failed attempt, tried
  again with the dispatcher's own back-off.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from adapters.budget import SendStats, Window
from adapters.email.render import Links, Recipient, Sender, render
from bot.delivery import current_delivery_id, platform_call_starting
from bot.messages import OutgoingMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)

MAX_WAIT = 2.0  # seconds a send may wait for the budget before it is handed back
FIRST_BACKOFF = 60.0  # after a first temporary refusal for an address
LONGEST_BACKOFF = 3600.0
GIVE_UP_AFTER = 3 * 86_400.0  # temporary refusals for this long in a row count as permanent

Lookup = Callable[[str, Sequence[str]], Awaitable[Recipient]]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"  # starttls, tls or none
    username: str = ""
    password: str | None = None
    timeout: float = 30.0


class EmailGateway:
    platform = "email"
    reports_call_start = True

    def __init__(
        self,
        smtp: SmtpSettings,
        sender: Sender,
        links: Links,
        lookup: Lookup,
        *,
        per_minute: int = 60,
    ) -> None:
        self.smtp = smtp
        self.sender = sender
        self.links = links
        self._lookup = lookup
        self.per_minute = per_minute
        self.window = Window(per_minute, 60.0)
        self.stats = SendStats()
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self._backoff: dict[str, float] = {}  # address -> the last temporary refusal's wait
        self._waited: dict[str, float] = {}  # address -> the waits so far, added up
        self._monotonic = time.monotonic
        # (when, why) the SMTP server could last not be reached; None once a send went through.
        self.unreachable: tuple[float, str] | None = None

    def scale(self, fraction: float) -> None:
        """Runs at this share of the budget (1/2 when two replicas send)."""
        self.window.limit = max(1, math.floor(self.per_minute * fraction))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str | None:
        if not direct:
            raise DeliveryError("email goes to one person, never to a group", permanent=True)
        tokens = [button.token for button in message.button_list() if button.token]
        recipient = await self._lookup(chat_id, tokens)
        key = hashlib.sha256((current_delivery_id() or repr(message)).encode()).hexdigest()[:24]
        domain = self.sender.address.rpartition("@")[2]
        email = render(
            message,
            recipient,
            self.sender,
            self.links,
            message_id=f"<{key}@{domain}>",
            date=format_datetime(datetime.now(UTC)),
        )
        async with self._lock:
            await self._wait_for_budget()
            self.window.take()
            reached = False
            try:
                await platform_call_starting()
                reached = True
                await self._deliver(email)
            except aiosmtplib.SMTPResponseException as exc:
                raise self._refused(chat_id, exc.code, exc.message) from exc
            except aiosmtplib.SMTPRecipientsRefused as exc:
                first = exc.recipients[0]
                raise self._refused(chat_id, first.code, first.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                await self.close()
                self.unreachable = (self._monotonic(), str(exc) or type(exc).__name__)
                raise DeliveryError(f"email: the server could not be reached: {exc}") from exc
            finally:
                self.window.release(self._monotonic(), reached=reached)
        self._forget(chat_id)
        self.unreachable = None
        self.stats.sent += 1
        return key

    async def _wait_for_budget(self) -> None:
        wait = self.window.wait(self._monotonic())
        if wait > MAX_WAIT:
            self.stats.deferred += 1
            raise DeliveryError("email budget spent", deferred=True, retry_after=wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _deliver(self, email: EmailMessage) -> None:
        for attempt in (1, 2):
            client = await self._connected()
            try:
                await client.send_message(email)
                return
            except aiosmtplib.SMTPServerDisconnected:
                await self.close()  # a connection kept open too long: once more, afresh
                if attempt == 2:
                    raise

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        smtp = self.smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout,
        )
        await client.connect()
        if smtp.username:
            await client.login(smtp.username, smtp.password or "")
        self._client = client
        return client

    def _refused(self, address: str, code: int, text: str) -> DeliveryError:
        reason = f"email: {code} {text}"[:300]
        if 500 <= code < 600:
            log.info("email to an address was refused for good (%s): undeliverable", code)
            return DeliveryError(reason, permanent=True)
        waited = self._waited.get(address, 0.0)
        if waited >= GIVE_UP_AFTER:  # refused "for now" for days: as good as for good
            self._forget(address)
            log.info("email to an address refused temporarily for days (%s): undeliverable", code)
            return DeliveryError(f"{reason} (for {waited / 86_400:.0f} days)", permanent=True)
        wait = min(self._backoff.get(address, FIRST_BACKOFF / 2) * 2, LONGEST_BACKOFF)
        self._backoff[address] = wait
        self._waited[address] = waited + wait
        self.stats.deferred += 1
        return DeliveryError(reason, deferred=True, retry_after=wait)

    def _forget(self, address: str) -> None:
        self._backoff.pop(address, None)
        self._waited.pop(address, None)
