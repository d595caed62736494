"""The one delivery path: features write to the outbox, the dispatcher sends.

A message enters the outbox in the same transaction as the change that caused
it, under an idempotency key, so it is sent once or (if the change rolled
back) never. The dispatcher marks an entry as being sent before it calls the
platform and as sent after. Chat platforms take no idempotency key, so a crash
between the platform call and the second mark leaves that one entry uncertain:
at start the dispatcher sends such entries again (a rare duplicate is better
than a lost welcome or reminder) and logs each one. The window is one message
per dispatcher.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.delivery import ButtonAction, OutboxEntry, OutboxStatus
from bot.messages import Button, OutgoingMessage
from bot.ports import DeliveryError, Gateway, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 50


async def enqueue(
    uow: UnitOfWork,
    *,
    key: str,
    platform: str,
    chat_id: str,
    direct: bool,
    message: OutgoingMessage,
    now: datetime,
    person_id: int | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Puts a message in the outbox, its buttons registered server-side.

    Buttons in a private message may be pressed only by that person; buttons
    in a group may be pressed by anyone there, and the action checks rights.
    Returns False when a message with this key was queued before.
    """
    rows: list[tuple[Button, ...]] = []
    actions: list[ButtonAction] = []
    for row in message.buttons:
        tokened: list[Button] = []
        for button in row:
            if button.action is None:
                raise ValueError(f"button {button.label!r} has no action")
            token = secrets.token_urlsafe(12)
            actions.append(
                ButtonAction(
                    token=token,
                    name=button.action.name,
                    args=list(button.action.args),
                    platform=platform,
                    chat_id=chat_id,
                    created_at=now,
                    person_id=person_id if direct else None,
                )
            )
            tokened.append(Button(button.label, token=token))
        rows.append(tuple(tokened))
    entry = OutboxEntry(
        key=key,
        platform=platform,
        chat_id=chat_id,
        direct=direct,
        payload=replace(message, buttons=tuple(rows)).to_json(),
        created_at=now,
        not_before=not_before or now,
        person_id=person_id,
    )
    if not await uow.outbox.add(entry):
        return False
    for action in actions:
        await uow.buttons.add(action)
    return True


class Dispatcher:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, gateways: Mapping[str, Gateway]
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._gateways = dict(gateways)

    @property
    def platforms(self) -> list[str]:
        return list(self._gateways)

    def add_gateway(self, gateway: Gateway) -> None:
        self._gateways[gateway.platform] = gateway

    async def recover(self) -> int:
        """Requeues entries a crashed process left half-sent (see the module's note)."""
        async with self._uow_factory() as uow:
            stuck = await uow.outbox.stuck_sending()
            for entry in stuck:
                log.warning(
                    "outbox entry %s (%s) was being sent when the process stopped; sending again",
                    entry.id,
                    entry.key,
                )
                entry.status = OutboxStatus.PENDING
            await uow.commit()
        return len(stuck)

    async def deliver_due(self) -> int:
        """Sends everything due now; returns how many were sent."""
        sent = 0
        while True:
            async with self._uow_factory() as uow:
                batch = await uow.outbox.claim_due(
                    self._clock.now(), BATCH_SIZE, platforms=list(self._gateways)
                )
                await uow.commit()
            if not batch:
                return sent
            for entry in batch:
                sent += await self._deliver(entry)

    async def _reference(self, entry: OutboxEntry, key: str) -> str | None:
        """What the gateway returned for the referred post in this entry's chat, once sent."""
        async with self._uow_factory() as uow:
            opener = await uow.outbox.by_key(f"{key}:{entry.platform}:{entry.chat_id}")
        if opener is None or opener.status != OutboxStatus.SENT:
            return None
        return opener.external_id

    async def _deliver(self, entry: OutboxEntry) -> int:
        gateway = self._gateways[entry.platform]
        message = OutgoingMessage.from_json(entry.payload)
        if message.refers_to and message.reference is None:
            message = replace(message, reference=await self._reference(entry, message.refers_to))
        external_id: str | None = None
        error: DeliveryError | None = None
        try:
            external_id = await gateway.send(entry.chat_id, message, direct=entry.direct)
        except DeliveryError as exc:
            error = exc
        async with self._uow_factory() as uow:
            stored = await uow.outbox.get(entry.id) if entry.id is not None else None
            if stored is None:
                return 0
            now = self._clock.now()
            if error is None:
                stored.status = OutboxStatus.SENT
                stored.sent_at = now
                stored.external_id = external_id
            else:
                stored.attempts += 1
                stored.last_error = error.reason[:500]
                if error.permanent or stored.attempts >= MAX_ATTEMPTS:
                    stored.status = OutboxStatus.FAILED
                    log.info("outbox entry %s failed for good: %s", stored.id, error.reason)
                else:
                    stored.status = OutboxStatus.PENDING
                    backoff = error.retry_after or 2.0**stored.attempts
                    stored.not_before = now + timedelta(seconds=backoff)
            await uow.commit()
        return 1 if error is None else 0
