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

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.model import (
    GROUP,
    LEASE,
    MAX_ATTEMPTS,
    DeliveryOptions,
    DeliveryStats,
)
from bot.sending import current_delivery_id, current_delivery_key, platform_call_starting

__all__ = [
    "GROUP",
    "LEASE",
    "MAX_ATTEMPTS",
    "DeliveryOptions",
    "DeliveryStats",
    "Dispatcher",
    "current_delivery_id",
    "current_delivery_key",
    "platform_call_starting",
]
