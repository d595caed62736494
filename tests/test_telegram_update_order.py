"""Telegram updates are handled side by side, each sender's in the order they came."""

from __future__ import annotations

import asyncio

from telegram import Update

from adapters.telegram.app import InOrderPerSender
from tests.platform_doubles.telegram_api import TelegramDouble


def _update(update_id: int, user_id: int) -> Update:
    user = TelegramDouble.user(user_id, f"U{user_id}")
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": TelegramDouble.chat(user_id),
                "from": user,
                "text": "hej",
            },
        },
        None,
    )


async def test_one_senders_updates_keep_their_order_while_others_go_alongside() -> None:
    processor = InOrderPerSender(64)
    done: list[tuple[int, int]] = []

    async def handle(user: int, n: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append((user, n))

    # Anna's first update is the slowest: her later ones wait for it, Bo's does not.
    arrivals = [(1, 1, 0.06), (1, 2, 0.0), (2, 1, 0.0), (1, 3, 0.0)]
    await asyncio.gather(
        *(
            processor.process_update(_update(index, user), handle(user, n, seconds))
            for index, (user, n, seconds) in enumerate(arrivals)
        )
    )
    assert [n for user, n in done if user == 1] == [1, 2, 3]
    assert done[0] == (2, 1)  # not held up behind Anna
    assert not processor._turns  # nothing kept for senders with nothing under way
