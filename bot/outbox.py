"""Putting messages in the outbox: the one way a feature sends anything.

A message waits there, its buttons registered server-side, until the Dispatcher
(bot/delivery/__init__.py) sends it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from bot.domain.delivery import ButtonAction, OutboxEntry
from bot.messages import Button, OutgoingMessage
from bot.ports import UnitOfWork


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
    batch: str | None = None,
    about_id: int | None = None,
    coalesce: bool = False,
) -> bool:
    """Puts a message in the outbox, its buttons registered server-side.

    Buttons in a private message may be pressed only by that person; buttons
    in a group may be pressed by anyone there, and the action checks rights.
    Returns False when a message with this key was queued before. `batch` groups
    entries whose progress is counted together (an announcement's messages).
    `coalesce` (answers in a group): not queued when the same message, buttons and
    all, already waits unsent for that chat, so that one person repeating a command in
    a rate-limited group does not queue everyone else's answers behind their copies.
    """
    if (
        coalesce
        and not direct
        and batch is None
        and await _queued_alike(uow, platform, chat_id, message)
    ):
        return False
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
        batch=batch,
        about_id=about_id,
    )
    return await uow.outbox.add(entry, actions)


async def _queued_alike(
    uow: UnitOfWork, platform: str, chat_id: str, message: OutgoingMessage
) -> bool:
    if (
        message.attachment
        or message.thread
        or message.event
        or message.refers_to
        or message.native_poll
        or message.stop_native_poll
        or message.mention_role
    ):
        return False  # a post others may refer to, or one that does more than show text
    bare = replace(message, buttons=())
    for entry in await uow.outbox.pending_in_chat(platform, chat_id):
        queued = OutgoingMessage.from_json(entry.payload)
        if replace(queued, buttons=()) == bare and await _same_buttons(
            uow, queued.buttons, message.buttons
        ):
            return True
    return False


async def _same_buttons(
    uow: UnitOfWork,
    queued: tuple[tuple[Button, ...], ...],
    wanted: tuple[tuple[Button, ...], ...],
) -> bool:
    if [len(row) for row in queued] != [len(row) for row in wanted]:
        return False
    for queued_row, wanted_row in zip(queued, wanted, strict=True):
        for old, new in zip(queued_row, wanted_row, strict=True):
            if old.label != new.label or old.token is None or new.action is None:
                return False
            action = await uow.buttons.get(old.token)
            if action is None or (action.name, list(action.args)) != (
                new.action.name,
                list(new.action.args),
            ):
                return False
    return True
