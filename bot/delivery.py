"""The one delivery path: features write to the outbox, the dispatcher sends.

A message enters the outbox in the same transaction as the change that caused
it, under an idempotency key (one per cause and recipient), so it is queued
once or, if the change rolled back, never. Sending it takes three steps, each
committed on its own, the same in one process on SQLite as in several replicas
on one PostgreSQL:

1. **Claim**: a dispatcher takes a few due entries, oldest first, as `claimed`
   with its owner id and a lease (`claimed_until`, `LEASE` from now) that it
   renews every few seconds while it holds them. Row locks (`FOR UPDATE SKIP
   LOCKED`) keep two replicas from claiming the same entry, and one chat's
   entries are claimed in order and one at a time, so each chat sees its
   messages in order. One exception: a copy of an announcement still waiting
   its turn does not hold up an answer to the same chat (the person is waiting
   for the answer; the announcement has not reached them yet).
2. **Start mark**: just before the platform request the entry becomes
   `sending` (with `started_at`), but only if the claim is still this
   owner's. Gateways that set `reports_call_start` write the mark themselves
   through `platform_call_starting()` right before their HTTP request, at the
   end of any wait for their rate limiter (Telegram: a tenth of a second before
   its slot frees, so the write does not delay the request); for the others the
   dispatcher writes it just before `send`.
3. **Call, then record**: `sent`, with the platform's message id; or, on a
   `DeliveryError`, pending again (`deferred`: after `retry_after`, never
   sooner, and not counted as an attempt; otherwise counted, with back-off,
   up to `MAX_ATTEMPTS`) or `failed` for good. A personal answer that fails for
   good and carries a `Pointer` (it was asked in a group) queues that pointer
   for the group in the same transaction.

**Paid broadcasts** (a payload with `paid_broadcast`: Telegram's 1000 a second) go in
groups (`_deliver_group`), since two transactions a message cost more CPU than the
message's request: claimed up to `BULK_CLAIM` at a time, a group of up to `GROUP`
entries (one per chat) gets its start marks in one statement, committed before any of
its requests; the requests then go side by side, up to the platform's concurrency,
through the gateway and its rate limiter as any send; the sent ones are recorded as
their answers come, `RECORD_EVERY` to a statement, and each failure or deferral as
above. The steps and the contract
are the same; only the start mark comes earlier, for the whole group, so a group's
entries are uncertain from that mark until their results (see below).

A process that stops (crash, kill -9, lost host) leaves its claims behind.
Every process checks every few seconds (and at start) for claims whose lease
ran out; a live process renews its own, so its work is never taken from it:

- a `claimed` entry never reached its platform call: it is plainly requeued
  and sent once, by whichever process claims it next;
- a `sending` entry is the **one uncertain window**. Its request may or may
  not have reached the platform, and Telegram's Bot API takes no idempotency
  key and cannot be asked what it received. (Discord can: its messages carry
  the entry's id as an enforced nonce, see `current_delivery_id`, so there a
  second send returns the first message; only an answer to a slash command,
  a follow-up without nonces, keeps the window.)
  Such an entry is **sent again**, logged as a warning with its key and
  counted (`DeliveryStats.uncertain`). The choice: a rare duplicate is
  visible and harmless, while a lost welcome, reminder or announcement would
  be noticed by nobody.

How small the window is kept: an entry is uncertain only if the process died
between its start mark and the commit of its result, and it is duplicated only
if the platform had processed the request by then. For Telegram that span
starts at the end of the rate limiter's wait, just before the HTTP request, and ends
at the commit that follows the reply (on PostgreSQL committed without waiting
for the disk: visible to every process at once); it holds at most the
platform's concurrency (`DeliveryOptions.concurrency`) entries at once; for paid
broadcasts, the `GROUPS` groups in flight (up to `GROUP` entries each, marked before
their requests went out: a crash then leaves them uncertain, those not yet sent
included, and they are sent again, logged).
Claimed entries waiting their turn are never uncertain, nor is a deferred send
(nothing was sent). The duplicates to expect from one crash are about the
send rate times the time from the platform's processing to the recorded
result (milliseconds on a quiet machine, far more on a crowded one).
BENCHMARKS.md reports what a kill -9 halfway through an announcement to
5,000 members did.

Edge cases, each leaning the same way: a process paused for longer than its
lease finds its claim taken over and does not start the call (`lost_claims`);
if it was already in the call, its `sent` is still recorded and the other
process does not start its own call if it has not yet. A result that cannot
be recorded (the database went away) leaves the entry `sending`, taken over
as uncertain when its lease runs out. An uncertain message that the gateway
split into several platform messages is sent again whole.

On SQLite there is one process (`DeliveryOptions.exclusive`): at start it
requeues every claim at once instead of waiting for leases to run out.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.delivery import OutboxEntry, OutboxStatus
from bot.group_commit import GroupCommit
from bot.messages import OutgoingMessage
from bot.outbox import enqueue
from bot.polls.native import record_post
from bot.ports import DeliveryError, Gateway, UnitOfWorkFactory
from bot.sending import ClaimLost, _Sending, _sending
from bot.sending import current_delivery_id as current_delivery_id
from bot.sending import current_delivery_key as current_delivery_key
from bot.sending import platform_call_starting as platform_call_starting

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=20)  # a claim's life without renewal; renewed every few seconds
DEFERRAL_SECONDS = 1.0  # when a deferral names no time
MIN_CLAIM = 10  # entries claimed at once, at least (twice the concurrency when that is more)
# Paid broadcasts (Telegram's 1000 a second) go in groups: one statement writes a group's
# start marks and a few its results, instead of two transactions a message.
GROUP = 64  # entries marked together, then sent side by side
GROUPS = 2  # groups in flight: one's requests go out while another's writes are made
BULK_CLAIM = 256  # entries claimed at once while paid broadcasts are being claimed
RECORD_EVERY = 16  # a group's sent entries recorded together, as their answers come


@dataclass(frozen=True)
class DeliveryOptions:
    """How this process delivers; chosen by the composition root (samtal/runtime.py)."""

    owner: str = ""  # this process's name in claims; a random one when empty
    lease: timedelta = LEASE
    # Sends in flight at once, per platform; 1 where absent (strictly in the outbox's order).
    concurrency: Mapping[str, int] = field(default_factory=dict)
    # The only process sending from this database (SQLite): a claim found at start is stale.
    exclusive: bool = True


@dataclass
class DeliveryStats:
    """What this process's dispatcher did since it started, for logs and reports."""

    sent: int = 0
    deferred: int = 0  # the platform's budget was spent: tried again later, not an attempt
    rate_limited: int = 0  # 429s received (also counted as deferred)
    retried: int = 0  # failed attempts that will be tried again
    failed: int = 0  # given up for good
    uncertain: int = 0  # call started, no result recorded: sent again (the module's note)
    requeued: int = 0  # claimed by a process that stopped before calling: sent by another
    lost_claims: int = 0  # taken over by another process before the call started here

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _Result(enum.Enum):
    SENT = "sent"
    HELD = "held"  # pending again (deferred or to be retried): its chat's next entries wait
    DONE = "done"  # failed for good
    LOST = "lost"  # another process holds it now
    UNKNOWN = "unknown"  # the outcome could not be recorded


# What a platform call came to: the external id or the error (None: the claim was lost).
CallOutcome = tuple[str | None, DeliveryError | None] | None


def _paid(entry: OutboxEntry) -> bool:
    """A paid broadcast (Telegram's higher rate): sent in groups, see `_deliver_group`."""
    return bool(entry.payload.get("paid_broadcast"))


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
        running: dict[asyncio.Task[list[tuple[OutboxEntry, _Result]]], bool] = {}  # is a group
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
                    was_bulk, bulk = bulk, any(_paid(entry) for entry in claimed)
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
                        if result is _Result.SENT:
                            sent += 1
                        elif result is not _Result.DONE:
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
        running: dict[asyncio.Task[list[tuple[OutboxEntry, _Result]]], bool],
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
        paid = [entry for entry in ready if _paid(entry)]
        singles = [entry for entry in ready if not _paid(entry)]
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

    async def _deliver_one(self, entry: OutboxEntry) -> list[tuple[OutboxEntry, _Result]]:
        try:
            return [(entry, await self._send(entry))]
        except Exception:  # e.g. the database went away: the lease runs out, another takes it
            log.exception("outbox entry %s: the delivery could not be recorded", entry.id)
            return [(entry, _Result.UNKNOWN)]
        finally:
            if entry.id is not None:
                self._held.discard(entry.id)

    async def _send(self, entry: OutboxEntry) -> _Result:
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
    ) -> list[tuple[OutboxEntry, _Result]]:
        """Paid broadcasts: the group's start marks in one statement, committed before any
        of its requests, then the requests side by side (the gateway keeps the rate), the
        sent ones recorded `RECORD_EVERY` to a statement; failures each as `_record` does.

        A process that dies in between leaves the group's unrecorded entries `sending`:
        uncertain, sent again and logged, never lost (the module's note).
        """
        results: dict[int, _Result] = {}
        try:
            await self._send_group(entries, results, sends)
        except Exception:  # the database went away: the leases run out, another takes them
            log.exception(
                "%d outbox entries: the delivery could not be recorded",
                len(entries) - len(results),
            )
        finally:
            self._held.difference_update(e.id for e in entries if e.id is not None)
        return [(e, results.get(e.id or 0, _Result.UNKNOWN)) for e in entries]

    async def _send_group(
        self, entries: Sequence[OutboxEntry], results: dict[int, _Result], sends: asyncio.Semaphore
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

    def _lost(self, entry: OutboxEntry) -> _Result:
        self.stats.lost_claims += 1
        log.info("outbox entry %s was taken over by another process; not sent here", entry.id)
        return _Result.LOST

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
    ) -> _Result:
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
            result = _Result.HELD
            status = OutboxStatus.PENDING
            attempts = entry.attempts
            if error.deferred:
                wait = DEFERRAL_SECONDS if error.retry_after is None else error.retry_after
            else:
                attempts += 1
                wait = error.retry_after or 2.0**attempts
                if error.permanent or attempts >= MAX_ATTEMPTS:
                    status, result = OutboxStatus.FAILED, _Result.DONE
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
            return _Result.LOST
        if error.deferred:
            self.stats.deferred += 1
            self.stats.rate_limited += int(error.rate_limited)
        elif result is _Result.DONE:
            self.stats.failed += 1
            log.info("outbox entry %s failed for good: %s", entry.id, error.reason)
        else:
            self.stats.retried += 1
        return result

    def _sent(self, entry: OutboxEntry, first: bool) -> _Result:
        if first:
            self.stats.sent += 1
        else:
            log.warning(
                "outbox entry %s (%s) was sent here after another process had sent it",
                entry.id,
                entry.key,
            )
        return _Result.SENT
