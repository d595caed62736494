"""Telegram's rate limits, kept by the bot so that Telegram never has to answer 429.

Telegram documents: about 30 messages a second overall, one a second per
private chat ("short bursts" tolerated), 20 a minute per group; with
`allow_paid_broadcast` up to 1000 a second overall, paid per message. Each
limit is a sliding `Window`; a send takes a slot in its chat's window and in
the overall one, and holds it until a period after Telegram's answer
(`adapters.budget.Window`): no 429 whatever the network does, at the price of
one round trip per period (30 a second become 30 per 1 s + round trip).

Two kinds of waiting:

- the overall budget is shared by every send, so a send may wait a moment for
  it (up to `max_wait`, about one slot's worth normally). It waits holding a
  reservation (`reserve`): the slot that frees first, not yet promised to an
  earlier send, so it knows when it will go and the gateway can write the
  dispatcher's start mark just before, while the slot is still spent, instead
  of after it freed (the mark's time would add to every round trip);
- a chat's budget is that chat's alone, so when it is spent the send is not
  made at all: `BudgetSpent` tells the gateway to hand the message back to the
  dispatcher (a deferred `DeliveryError`) and other chats go on.

A 429 from Telegram pauses the whole budget for exactly its `retry_after`.
Time comes from an injected monotonic clock (and sleep), so the rules are
tested without waiting.

Several replicas sending for one bot each run at a share of the budget:
`limiter.scale(1 / replicas)`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.budget import Window

Rule = tuple[int, float]  # (messages, seconds)

OVERALL: Rule = (30, 1.0)
PAID_OVERALL: Rule = (1000, 1.0)
PER_GROUP: Rule = (20, 60.0)
# One a second per private chat, allowing a burst of three (a long message's parts, or a
# file and its text): at most three in any three seconds.
PER_PRIVATE: Rule = (3, 3.0)
MAX_WAIT = 2.0  # seconds a send may wait for the overall budget before it is handed back


class BudgetSpent(Exception):
    """The send was not made: this budget is spent for `retry_after` seconds at least."""

    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__(f"{scope} budget spent for {retry_after:.2f} s")
        self.scope = scope
        self.retry_after = retry_after


@dataclass
class Slot:
    """The windows one request holds, from its reservation until `done` after its answer.

    `at` is when the request may start: now, or when the slot handed over to it frees
    (`Window.reserve`). `wait` sleeps until then, or until a moment before (`lead`), so
    that what the request needs first is done while the slot's period runs out.
    """

    limiter: RateLimiter
    windows: tuple[Window, ...]
    borrowed: tuple[float | None, ...] = ()
    at: float = -math.inf
    first: bool = False

    async def wait(self, lead: float = 0.0) -> None:
        """Until `lead` seconds before the slot may be used, and any pause (a 429) is over.

        The first request of a message does not wait out a pause longer than `max_wait`
        that began after its reservation: `BudgetSpent` (and `done(reached=False)`).
        """
        limiter = self.limiter
        while True:
            now = limiter.clock()
            paused = limiter.paused_until - now
            if self.first and paused > limiter.max_wait:
                raise BudgetSpent("overall", paused)
            wait = max(self.at - lead, limiter.paused_until) - now
            if wait <= 0:
                return
            await limiter._sleep(wait)

    def done(self, *, reached: bool = True) -> None:
        """The request ended (or was not made: `reached=False`); the slots free a period
        after now, or as they would have without this reservation."""
        now = self.limiter.clock()
        borrowed = self.borrowed or (None,) * len(self.windows)
        for window, end in zip(self.windows, borrowed, strict=True):
            window.release(now, reached=reached, borrowed=end)


def _scaled(rule: Rule, fraction: float) -> Rule:
    """A share of a rule that replicas can add up without exceeding it.

    The count is shared and the period kept (two replicas at 15 in any second never
    exceed 30 in any second). A rule of fewer messages than replicas can't be shared
    that way: each replica then waits proportionally longer between its messages.
    """
    limit, period = rule
    share = math.floor(limit * fraction + 1e-9)
    if share >= 1:
        return share, period
    return 1, period / (limit * fraction)


class RateLimiter:
    """Telegram's budgets: overall, paid-broadcast overall, and per chat."""

    def __init__(
        self,
        overall: Rule = OVERALL,
        per_group: Rule = PER_GROUP,
        per_private: Rule = PER_PRIVATE,
        paid_overall: Rule = PAID_OVERALL,
        *,
        max_wait: float = MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = {
            "overall": overall,
            "paid": paid_overall,
            "group": per_group,
            "private": per_private,
        }
        self.max_wait = max_wait
        self.clock = clock
        self._sleep = sleep
        self.fraction = 1.0
        self._overall = Window(*overall)
        self._paid = Window(*paid_overall)
        self._chats: dict[tuple[str, str], Window] = {}
        self._sweep_at = 1024
        self.paused_until = -math.inf

    # -- configuration ---------------------------------------------------------------------

    def scale(self, fraction: float) -> None:
        """Runs at this share of every budget (1/2 when two replicas send for one bot)."""
        if not 0 < fraction <= 1:
            raise ValueError("the share of the budget must be in (0, 1]")
        self.fraction = fraction
        for kind, window in (("overall", self._overall), ("paid", self._paid)):
            window.limit, window.period = self.rule(kind)
        for (kind, _), window in self._chats.items():
            window.limit, window.period = self.rule(kind)

    def rule(self, kind: str) -> Rule:
        """The rule in force for `overall`, `paid`, `group` or `private`, after scaling."""
        return _scaled(self.rules[kind], self.fraction)

    # -- pauses ----------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Telegram answered 429: nothing is sent for `seconds` (never sooner)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    # -- taking slots ----------------------------------------------------------------------

    def _chat(self, chat_id: str, private: bool) -> Window:
        kind = "private" if private else "group"
        window = self._chats.get((kind, chat_id))
        if window is None:
            if len(self._chats) >= self._sweep_at:
                self._sweep()
            window = self._chats[(kind, chat_id)] = Window(*self.rule(kind))
        return window

    def _sweep(self) -> None:
        now = self.clock()
        for key in [key for key, window in self._chats.items() if window.idle(now)]:
            del self._chats[key]
        self._sweep_at = max(1024, 2 * len(self._chats))

    def try_take(
        self, chat_id: str, *, private: bool, paid: bool = False, burst: int = 1
    ) -> Slot | tuple[str, float]:
        """A slot now, or what is spent and for how long (the chat's budget or the overall).

        `burst` is how many requests the message needs: a chat's budget must have room
        for all of them (up to its limit) before the first is sent, so a message is not
        cut off halfway by its own chat's limit.
        """
        now = self.clock()
        chat = self._chat(chat_id, private)
        spent = self._spent(chat, paid, burst, now)
        if spent is not None:
            return spent
        windows = (chat, *self._shared(paid))
        for window in windows:
            window.take()
        return Slot(self, windows)

    def _shared(self, paid: bool) -> tuple[Window, ...]:
        """The budgets every chat shares: a paid broadcast counts only towards the 1000/s."""
        return (self._paid,) if paid else (self._overall, self._paid)

    def _spent(self, chat: Window, paid: bool, burst: int, now: float) -> tuple[str, float] | None:
        wait = chat.wait(now, burst)
        if wait > 0:
            return "chat", wait
        wait = max([self.paused_until - now, *(w.wait(now) for w in self._shared(paid))])
        if wait > 0:
            return "overall", wait
        return None

    async def reserve(
        self, chat_id: str, *, private: bool, paid: bool = False, burst: int = 1, first: bool = True
    ) -> Slot:
        """A slot in every window the request needs, to be used at `Slot.at` (`Slot.wait`).

        Raises `BudgetSpent` rather than wait long: the first request of a message is
        never made while its chat's budget is spent (for all its parts) or while the
        overall budget is spent for longer than `max_wait`. A later part of a message that
        has begun waits for its turn instead: sending the first parts again would repeat
        them. Reserving in advance, rather than taking a slot once it is free, lets the
        gateway write the dispatcher's start mark while the slot's period runs out; and
        those who wait are served in turn.
        """
        while True:
            now = self.clock()
            chat = self._chat(chat_id, private)
            if first and (wait := chat.wait(now, burst)) > 0:
                raise BudgetSpent("chat", wait)
            windows = (chat, *self._shared(paid))
            taken: list[tuple[float, float | None]] = []
            for window in windows:
                reserved = window.reserve(now)
                if reserved is None:  # every slot waits for an answer: not before a period
                    for back, (_, borrowed) in zip(windows, taken, strict=False):
                        back.release(now, reached=False, borrowed=borrowed)
                    wait = max(window.period, self.paused_until - now)
                    if first and wait > self.max_wait:
                        raise BudgetSpent("chat" if window is chat else "overall", wait)
                    await self._sleep(wait)
                    break
                taken.append(reserved)
            else:
                slot = Slot(
                    self,
                    windows,
                    tuple(borrowed for _, borrowed in taken),
                    max(at for at, _ in taken),
                    first,
                )
                wait = max(slot.at, self.paused_until) - now
                if first and wait > self.max_wait:
                    slot.done(reached=False)
                    raise BudgetSpent("overall", wait)
                return slot

    async def acquire(
        self, chat_id: str, *, private: bool, paid: bool = False, burst: int = 1, first: bool = True
    ) -> Slot:
        """`reserve`, then `Slot.wait`: a slot to use now, released by `Slot.done`."""
        slot = await self.reserve(chat_id, private=private, paid=paid, burst=burst, first=first)
        try:
            await slot.wait()
        except BaseException:
            slot.done(reached=False)
            raise
        return slot


__all__ = ["BudgetSpent", "RateLimiter", "Slot"]
