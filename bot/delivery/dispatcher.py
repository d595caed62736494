"""The Dispatcher: claims due outbox entries, sends them through the platforms'
gateways and records what came of each, as the contract in bot/delivery/__init__.py says."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.delivery.model import (
    BULK_CLAIM,
    DEFERRAL_SECONDS,
    GROUP,
    GROUPS,
    MAX_ATTEMPTS,
    MIN_CLAIM,
    RECORD_EVERY,
    CallOutcome,
    DeliveryOptions,
    DeliveryStats,
    Result,
    is_paid,
)
from bot.domain.delivery import OutboxEntry, OutboxStatus
from bot.group_commit import GroupCommit
from bot.messages import OutgoingMessage
from bot.outbox import enqueue
from bot.polls.native import record_post
from bot.ports import DeliveryError, Gateway, UnitOfWorkFactory
from bot.sending import ClaimLost, _Sending, _sending

log = logging.getLogger(__name__)


async def _marked_already() -> None:
    """The gateway's start-mark hook for a group's entry: its mark was written already."""


class Dispatcher:
    """Sends the outbox: per platform up to its concurrency at once, one chat in order."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        gateways: Mapping[str, Gateway],
        options: DeliveryOptions | None = None,
    ) -> None:
        options = options or DeliveryOptions()
        self._uow_factory = uow_factory
        self._clock = clock
        self._gateways = dict(gateways)
        self.owner = options.owner or f"samtal-{secrets.token_hex(4)}"
        self.lease = options.lease
        self.exclusive = options.exclusive
        self._concurrency = dict(options.concurrency)
        self.stats = DeliveryStats()
        self._held: set[int] = set()  # claimed here and not settled yet: renewed, never taken
        # Start marks, and results that are plain "sent", of concurrent sends share their
        # transactions (bot/group_commit.py); marks and results apart, so a start mark
        # is always committed durably.
        self._marks = GroupCommit(uow_factory)
        self._results = GroupCommit(uow_factory)
        self._running = asyncio.Lock()
        self._halted = False

    @property
    def platforms(self) -> list[str]:
        return list(self._gateways)

    @property
    def gateways(self) -> list[Gateway]:
        return list(self._gateways.values())

    def add_gateway(self, gateway: Gateway) -> None:
        self._gateways[gateway.platform] = gateway

    def halt(self) -> None:
        """Starts no more sends: those under way finish, claimed ones are given back."""
        self._halted = True

    async def idle(self) -> None:
        """Waits until no delivery runs."""
        async with self._running:
            pass

    async def recover(self) -> int:
        """At start: requeues what a stopped process left claimed (see the module's note).

        Exclusive (SQLite): every claim. Shared: only claims whose lease ran out.
        """
        return await self._take_over(None if self.exclusive else self._clock.now())

    async def maintain(self) -> int:
        """Every few seconds: renews this process's claims and takes over expired ones.

        Returns how many entries were requeued (so the caller can deliver them).
        """
        await self.renew()
        return await self._take_over(self._clock.now())

    async def renew(self) -> int:
        held = sorted(self._held)
        if not held:
            return 0
        async with self._uow_factory() as uow:
            renewed = await uow.outbox.renew(self.owner, self._clock.now() + self.lease, held)
            await uow.commit()
        return renewed

    async def _take_over(self, expired_before: datetime | None) -> int:
        async with self._uow_factory() as uow:
            stale = [
                entry
                for entry in await uow.outbox.claimed(expired_before)
                if entry.id not in self._held
            ]
            for entry in stale:
                if entry.status is OutboxStatus.SENDING:
                    self.stats.uncertain += 1
                    log.warning(
                        "outbox entry %s (%s) is uncertain: its platform call started at %s "
                        "in %s, which stopped before recording the result; sending it again",
                        entry.id,
                        entry.key,
                        entry.started_at,
                        entry.claimed_by,
                    )
                else:
                    self.stats.requeued += 1
                entry.status = OutboxStatus.PENDING
                entry.claimed_by = None
                entry.claimed_until = None
            await uow.commit()
        if stale:
            log.info("requeued %d outbox entries claimed by stopped processes", len(stale))
        return len(stale)

    async def deliver_due(self) -> int:
        """Sends everything due now, each platform on its own; returns how many were sent."""
        async with self._running:
            if self._halted:
                return 0
            results = await asyncio.gather(
                *(self._drain(platform) for platform in list(self._gateways)),
                return_exceptions=True,
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _drain(self, platform: str) -> int:
        """Claims and sends until nothing of this platform is due.

        Up to `limit` sends at once, never two of one chat; an entry that goes back to
        pending sends its chat's later entries back too, so the chat keeps its order.
        Paid broadcasts go in groups (`_deliver_group`), up to `GROUPS` at once.
        """
        limit = max(1, self._concurrency.get(platform, 1))
        batch = max(2 * limit, MIN_CLAIM)
        queue: list[OutboxEntry] = []
        running: dict[asyncio.Task[list[tuple[OutboxEntry, Result]]], bool] = {}  # is a group
        busy: set[str] = set()  # chats with a send under way
        sent = 0
        more = True  # whether a claim may find something
        bulk = False  # the last claim found paid broadcasts: claim many at once
        # The groups' requests in flight at once: the platform's concurrency, as for single
        # sends (more in flight cost more CPU in httpx's connection pool).
        sends = asyncio.Semaphore(limit)
        try:
            while True:
                if more and not self._halted and len(queue) < (GROUP if bulk else limit):
                    claimed = await self._claim(
                        platform, (BULK_CLAIM if bulk else batch) - len(queue)
                    )
                    queue.extend(claimed)
                    more = bool(claimed)
                    was_bulk, bulk = bulk, any(is_paid(entry) for entry in claimed)
                    if bulk and not was_bulk and more:
                        continue  # paid broadcasts: claim a whole group's worth first
                if not self._halted:
                    queue = self._start_sends(queue, busy, running, limit, sends)
                if not running:
                    if self._halted or not (more or queue):
                        break
                    continue
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del running[task]
                    for entry, result in task.result():
                        busy.discard(entry.chat_id)
                        if result is Result.SENT:
                            sent += 1
                        elif result is not Result.DONE:
                            behind = [e for e in queue if e.chat_id == entry.chat_id]
                            if behind:
                                queue = [e for e in queue if e.chat_id != entry.chat_id]
                                await self._release(behind)
                more = True  # a finished send may have let its chat's next entry through
        finally:
            if running:  # only when cancelled or failing: let the calls under way end
                await asyncio.gather(*running, return_exceptions=True)
            if queue:
                await self._release(queue)
        return sent

    def _start_sends(
        self,
        queue: list[OutboxEntry],
        busy: set[str],
        running: dict[asyncio.Task[list[tuple[OutboxEntry, Result]]], bool],
        limit: int,
        sends: asyncio.Semaphore,
    ) -> list[OutboxEntry]:
        """Starts what may go now: of each chat without a send under way its first queued
        entry, paid broadcasts in groups and the others one by one. Returns the rest."""
        seen = set(busy)
        ready: list[OutboxEntry] = []
        for entry in queue:
            if entry.chat_id not in seen:
                seen.add(entry.chat_id)
                ready.append(entry)
        paid = [entry for entry in ready if is_paid(entry)]
        singles = [entry for entry in ready if not is_paid(entry)]
        groups = sum(running.values())
        started: list[OutboxEntry] = []
        while paid and groups < GROUPS:
            group, paid = paid[:GROUP], paid[GROUP:]
            running[asyncio.create_task(self._deliver_group(group, sends))] = True
            groups += 1
            started += group
        free = limit - (len(running) - groups)
        for entry in singles[: max(free, 0)]:
            running[asyncio.create_task(self._deliver_one(entry))] = False
            started.append(entry)
        if not started:
            return queue
        busy.update(entry.chat_id for entry in started)
        gone = {id(entry) for entry in started}
        return [entry for entry in queue if id(entry) not in gone]

    async def _claim(self, platform: str, limit: int) -> list[OutboxEntry]:
        now = self._clock.now()
        async with self._uow_factory() as uow:
            claimed = list(
                await uow.outbox.claim_due(
                    now, limit, [platform], owner=self.owner, until=now + self.lease
                )
            )
            await uow.commit()
        self._held.update(entry.id for entry in claimed if entry.id is not None)
        return claimed

    async def _release(self, entries: Sequence[OutboxEntry]) -> None:
        ids = [entry.id for entry in entries if entry.id is not None]
        try:
            async with self._uow_factory() as uow:
                await uow.outbox.release(ids, self.owner)
                await uow.commit()
        except Exception:  # their leases run out and another claim takes them
            log.exception("could not give back %d claimed outbox entries", len(ids))
        self._held.difference_update(ids)

    async def _reference(self, entry: OutboxEntry, key: str) -> str | None:
        """What the gateway returned for the referred post in this entry's chat, once sent."""
        async with self._uow_factory() as uow:
            opener = await uow.outbox.by_key(f"{key}:{entry.platform}:{entry.chat_id}")
        if opener is None or opener.status != OutboxStatus.SENT:
            return None
        return opener.external_id

    async def _deliver_one(self, entry: OutboxEntry) -> list[tuple[OutboxEntry, Result]]:
        try:
            return [(entry, await self._send(entry))]
        except Exception:  # e.g. the database went away: the lease runs out, another takes it
            log.exception("outbox entry %s: the delivery could not be recorded", entry.id)
            return [(entry, Result.UNKNOWN)]
        finally:
            if entry.id is not None:
                self._held.discard(entry.id)

    async def _send(self, entry: OutboxEntry) -> Result:
        message = await self._message(entry)
        marked = False

        async def mark() -> None:  # the start mark, written once, as the gateway calls
            nonlocal marked
            if marked:
                return
            if not await self._start(entry):
                raise ClaimLost(f"outbox entry {entry.id} was taken over by another process")
            marked = True

        outcome = await self._call(entry, message, mark)
        if outcome is None:
            return self._lost(entry)
        return await self._record(entry, message, *outcome)

    async def _deliver_group(
        self, entries: Sequence[OutboxEntry], sends: asyncio.Semaphore
    ) -> list[tuple[OutboxEntry, Result]]:
        """Paid broadcasts: the group's start marks in one statement, committed before any
        of its requests, then the requests side by side (the gateway keeps the rate), the
        sent ones recorded `RECORD_EVERY` to a statement; failures each as `_record` does.

        A process that dies in between leaves the group's unrecorded entries `sending`:
        uncertain, sent again and logged, never lost (the module's note).
        """
        results: dict[int, Result] = {}
        try:
            await self._send_group(entries, results, sends)
        except Exception:  # the database went away: the leases run out, another takes them
            log.exception(
                "%d outbox entries: the delivery could not be recorded",
                len(entries) - len(results),
            )
        finally:
            self._held.difference_update(e.id for e in entries if e.id is not None)
        return [(e, results.get(e.id or 0, Result.UNKNOWN)) for e in entries]

    async def _send_group(
        self, entries: Sequence[OutboxEntry], results: dict[int, Result], sends: asyncio.Semaphore
    ) -> None:
        now = self._clock.now()
        async with self._uow_factory() as uow:
            marked = await uow.outbox.start_calls(
                [e.id for e in entries if e.id is not None], self.owner, now, now + self.lease
            )
            await uow.commit()
        going: list[OutboxEntry] = []
        for entry in entries:
            assert entry.id is not None
            if entry.id in marked:
                going.append(entry)
            else:
                results[entry.id] = self._lost(entry)

        async def call(entry: OutboxEntry) -> tuple[OutboxEntry, OutgoingMessage, CallOutcome]:
            async with sends:
                message = await self._message(entry)
                return entry, message, await self._call(entry, message, _marked_already)

        # Results are recorded as the requests come back, `RECORD_EVERY` sent ones to a
        # statement, not at the group's end: an entry sent but not yet recorded is what a
        # crash would send twice, and the group's slowest request would hold up the rest.
        sent: dict[int, OutboxEntry] = {}
        external: dict[int, str | None] = {}

        async def record_sent() -> None:
            group = dict(external)
            external.clear()
            try:
                async with self._uow_factory() as uow:
                    first = await uow.outbox.mark_sent_many(group, self._clock.now())
                    await uow.commit()
            except Exception:  # left `sending`: uncertain once their lease runs out
                log.exception("%d sent outbox entries could not be recorded", len(group))
                return
            for entry_id in group:
                results[entry_id] = self._sent(sent[entry_id], entry_id in first)

        for finished in asyncio.as_completed([call(entry) for entry in going]):
            entry, message, outcome = await finished
            assert entry.id is not None and outcome is not None  # marks never lose a claim
            external_id, error = outcome
            if error is None and message.native_poll is None:
                sent[entry.id], external[entry.id] = entry, external_id
                if len(external) >= RECORD_EVERY:
                    await record_sent()
                continue
            try:
                results[entry.id] = await self._record(entry, message, external_id, error)
            except Exception:
                log.exception("outbox entry %s: the delivery could not be recorded", entry.id)
        if external:
            await record_sent()

    async def _message(self, entry: OutboxEntry) -> OutgoingMessage:
        message = OutgoingMessage.from_json(entry.payload)
        if message.refers_to and message.reference is None:
            message = replace(message, reference=await self._reference(entry, message.refers_to))
        return message

    async def _call(
        self, entry: OutboxEntry, message: OutgoingMessage, mark: Callable[[], Awaitable[None]]
    ) -> CallOutcome:
        """The gateway's send, with the entry handed over to it (`bot.sending`) and `mark`
        writing the start mark: the external id or the error, None if the claim was lost."""
        gateway = self._gateways[entry.platform]
        lost = False

        async def marking() -> None:
            nonlocal lost
            if lost:
                raise ClaimLost(f"outbox entry {entry.id} was taken over by another process")
            try:
                await mark()
            except ClaimLost:
                lost = True
                raise

        delivery_id = f"{entry.id}:{entry.key}:{entry.created_at.isoformat()}"
        token = _sending.set(_Sending(delivery_id, marking, entry.key))
        try:
            if not getattr(gateway, "reports_call_start", False):
                await marking()
            external_id = await gateway.send(entry.chat_id, message, direct=entry.direct)
        except DeliveryError as exc:
            return None if lost else (None, exc)
        except Exception as exc:
            if lost:
                return None
            log.exception("sending outbox entry %s failed unexpectedly", entry.id)
            return None, DeliveryError(f"unexpected {type(exc).__name__}: {exc}")
        finally:
            _sending.reset(token)
        return None if lost else (external_id, None)

    def _lost(self, entry: OutboxEntry) -> Result:
        self.stats.lost_claims += 1
        log.info("outbox entry %s was taken over by another process; not sent here", entry.id)
        return Result.LOST

    async def _start(self, entry: OutboxEntry) -> bool:
        assert entry.id is not None
        entry_id, now = entry.id, self._clock.now()
        return await self._marks.run(
            lambda uow: uow.outbox.start_call(entry_id, self.owner, now, now + self.lease)
        )

    async def _record(
        self,
        entry: OutboxEntry,
        message: OutgoingMessage,
        external_id: str | None,
        error: DeliveryError | None,
    ) -> Result:
        assert entry.id is not None
        entry_id, now = entry.id, self._clock.now()
        if error is None and message.native_poll is None:
            first = await self._results.run(
                lambda uow: uow.outbox.mark_sent(entry_id, now, external_id)
            )
            return self._sent(entry, first)
        async with self._uow_factory() as uow:
            if error is None:
                first = await uow.outbox.mark_sent(entry.id, now, external_id)
                if first and message.native_poll is not None:  # which platform poll is ours
                    entry.external_id = external_id
                    await record_post(uow.native_polls, entry, message.native_poll, now)
                await uow.commit()
                return self._sent(entry, first)
            result = Result.HELD
            status = OutboxStatus.PENDING
            attempts = entry.attempts
            if error.deferred:
                wait = DEFERRAL_SECONDS if error.retry_after is None else error.retry_after
            else:
                attempts += 1
                wait = error.retry_after or 2.0**attempts
                if error.permanent or attempts >= MAX_ATTEMPTS:
                    status, result = OutboxStatus.FAILED, Result.DONE
            settled = await uow.outbox.settle(
                entry.id,
                self.owner,
                status=status,
                attempts=attempts,
                not_before=now + timedelta(seconds=max(wait, 0.0)),
                error=error.reason,
            )
            pointer = message.pointer
            if settled and status is OutboxStatus.FAILED and pointer is not None:
                # A personal answer that can't reach the private chat: the group where it
                # was asked gets the neutral pointer instead, never the content.
                await enqueue(
                    uow,
                    key=f"{entry.key}:pointer",
                    platform=entry.platform,
                    chat_id=pointer.chat_id,
                    direct=False,
                    message=OutgoingMessage(pointer.spans),
                    now=now,
                )
            await uow.commit()
        if not settled:
            self.stats.lost_claims += 1
            return Result.LOST
        if error.deferred:
            self.stats.deferred += 1
            self.stats.rate_limited += int(error.rate_limited)
        elif result is Result.DONE:
            self.stats.failed += 1
            log.info("outbox entry %s failed for good: %s", entry.id, error.reason)
        else:
            self.stats.retried += 1
        return result

    def _sent(self, entry: OutboxEntry, first: bool) -> Result:
        if first:
            self.stats.sent += 1
        else:
            log.warning(
                "outbox entry %s (%s) was sent here after another process had sent it",
                entry.id,
                entry.key,
            )
        return Result.SENT
