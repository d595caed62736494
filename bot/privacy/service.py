"""A person's data, for /mina_uppgifter and `samtal gdpr export`."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from bot.ports import UnitOfWork


async def export_person(uow: UnitOfWork, person_id: int) -> dict[str, Any]:
    """Everything about one person as JSON-ready data (for /mina_uppgifter and `samtal gdpr`)."""
    records = await uow.people.personal_records(person_id)
    exported: dict[str, Any] = json.loads(json.dumps(records, default=_plain))
    return exported


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot export {type(value).__name__}")
