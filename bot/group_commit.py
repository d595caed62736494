"""Small writes from many concurrent tasks, committed together: one transaction for all
that are waiting.

The dispatcher writes a start mark before each platform call and a result after it (see
bot/delivery/__init__.py). With many sends in flight (paid broadcasts: up to 1,000 a second on
Telegram) a transaction of its own for each of those one-row updates costs more than the
update itself: opening the unit of work, waiting for its turn, the commit. A `GroupCommit`
queues each write; a single flusher takes everything queued so far, runs it in one unit
of work and commits, and only then tells each writer its result. So a write is still
durable before its caller goes on (a start mark is committed before the request it
announces), but writers that arrive while a commit is under way share the next one.

If a shared transaction fails, its writes are tried again one transaction each, so one
bad write fails only its own caller, as it would have alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

T = TypeVar("T")
Write = Callable[[UnitOfWork], Awaitable[object]]


class GroupCommit:
    """Runs writes in shared transactions, each caller waiting for the commit of its own."""

    def __init__(self, uow_factory: UnitOfWorkFactory, *, most: int = 64) -> None:
        self._uow_factory = uow_factory
        self._most = most  # writes in one transaction, at most
        self._queued: list[tuple[Write, asyncio.Future[object]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.transactions = 0  # committed so far (for tests and benchmarks)

    async def run(self, write: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Runs `write` in a transaction shared with the writes queued beside it; returns
        its result once that transaction has committed (raises what it raised)."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queued.append((write, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future  # type: ignore[return-value]

    async def _flush(self) -> None:
        # One turn of the event loop first: writers made ready by the same wake-up (answers
        # that arrived together) queue theirs and share this transaction.
        batch: list[tuple[Write, asyncio.Future[object]]] = []
        try:
            await asyncio.sleep(0)
            while self._queued:
                batch, self._queued = self._queued[: self._most], self._queued[self._most :]
                await self._batch(batch)
        except asyncio.CancelledError:  # shutting down: no writer is left waiting forever
            for _, future in batch + self._queued:
                future.cancel()
            self._queued = []
            raise

    async def _batch(self, batch: list[tuple[Write, asyncio.Future[object]]]) -> None:
        try:
            await self._together(batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            log.warning("a shared transaction of %d writes failed; one at a time", len(batch))
            for write, future in batch:
                try:
                    await self._together([(write, future)])
                except Exception as alone:
                    _settle(future, error=alone)

    async def _together(self, batch: list[tuple[Write, asyncio.Future[object]]]) -> None:
        results = []
        async with self._uow_factory() as uow:
            for write, _ in batch:
                results.append(await write(uow))
            await uow.commit()
        self.transactions += 1
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[object], *, result: object = None, error: BaseException | None = None
) -> None:
    if future.done():  # its caller was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
