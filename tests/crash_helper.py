"""Run as a separate process by test_delivery: it dies with SIGKILL at a chosen moment.

python -m tests.crash_helper DATABASE_URL before-delivery|during-delivery|during-paid-group
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from adapters.console.render import PLATFORM
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.delivery import DeliveryOptions
from bot.events import Chat, Sender, TextReceived
from bot.messages import OutgoingMessage, Span
from bot.outbox import enqueue
from storage.database import Database
from tests.conftest import START


class DyingGateway:
    """Dies in the middle of the platform call: the message may or may not have gone out."""

    platform = PLATFORM

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class DyingGroupGateway:
    """Notes each chat it sends to in a file, and dies in the third request: a group of
    paid broadcasts is then marked, partly sent and not recorded."""

    platform = PLATFORM

    def __init__(self, sent_file: str) -> None:
        self.sent_file = sent_file
        self.sent: list[str] = []

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        self.sent.append(chat_id)  # the request went out; the answer is never recorded
        with open(self.sent_file, "w") as file:
            json.dump(self.sent, file)
        if len(self.sent) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(0)
        return f"m-{chat_id}"


async def paid_group(url: str) -> None:
    database = Database(url)
    await database.upgrade()
    gateway = DyingGroupGateway(os.environ["SAMTAL_CRASH_SENT"])
    samtal = Samtal(
        database.unit_of_work,
        VirtualClock(START),
        build_registry(),
        {PLATFORM: gateway},
        delivery=DeliveryOptions(concurrency={PLATFORM: 2}),
    )
    message = OutgoingMessage((Span("Årsmöte på lördag"),), paid_broadcast=True)
    async with database.unit_of_work() as uow:
        for n in range(int(os.environ["SAMTAL_CRASH_CHATS"])):
            await enqueue(
                uow,
                key=f"t:{n}",
                platform=PLATFORM,
                chat_id=f"c{n}",
                direct=True,
                message=message,
                now=START,
                batch="announcement:1",
            )
        await uow.commit()
    await samtal.run_due()


async def main(url: str, moment: str) -> None:
    if moment == "during-paid-group":
        await paid_group(url)
        return
    database = Database(url)
    await database.upgrade()
    samtal = Samtal(
        database.unit_of_work, VirtualClock(START), build_registry(), {PLATFORM: DyingGateway()}
    )
    await samtal.handle(
        TextReceived(
            "crash-1", Sender(PLATFORM, "anna", "Anna"), Chat(PLATFORM, "anna", True), "/hjalp"
        )
    )
    if moment == "before-delivery":
        os.kill(os.getpid(), signal.SIGKILL)  # the reply is in the outbox, nothing was sent
    await samtal.run_due()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
