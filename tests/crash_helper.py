"""Run as a separate process by test_delivery: it dies with SIGKILL at a chosen moment.

python -m tests.crash_helper DATABASE_URL before-delivery|during-delivery
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from adapters.console.render import PLATFORM
from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.events import Chat, Sender, TextReceived
from bot.messages import OutgoingMessage
from storage.database import Database
from tests.conftest import START


class DyingGateway:
    """Dies in the middle of the platform call: the message may or may not have gone out."""

    platform = PLATFORM

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


async def main(url: str, moment: str) -> None:
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
