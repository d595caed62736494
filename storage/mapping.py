"""Maps the core's plain dataclasses onto the tables, from the outside (the core never knows).

Each capability with tables of its own has a module in `storage/` that defines
them on `tables.metadata` and lists `MAPPINGS`; add that module to
`CAPABILITY_STORAGE` below.
"""

from __future__ import annotations

from types import ModuleType

from sqlalchemy.orm import registry

from bot.domain.delivery import ButtonAction, DialogState, OutboxEntry, ProcessedEvent, Timer
from bot.domain.organisations import Channel, Organisation
from bot.domain.people import Affiliation, Consent, Identity, LinkCode, Person, RoleAssignment
from storage import (
    announcements,
    campaigns,
    channels,
    circles,
    consultations,
    feeds,
    insights,
    meetings,
    native_polls,
    polls,
    register,
    tables,
    welcome,
    wheel,
)
from storage.search_keys import keep_search_keys

mapper_registry = registry(metadata=tables.metadata)

CAPABILITY_STORAGE: tuple[ModuleType, ...] = (
    meetings,
    welcome,
    polls,
    native_polls,
    wheel,
    circles,
    insights,
    announcements,
    feeds,
    channels,
    register,
    consultations,
    campaigns,
)

_CORE_MAPPINGS = (
    (Organisation, tables.organisations),
    (Channel, tables.channels),
    (Person, tables.people),
    (Identity, tables.identities),
    (Affiliation, tables.affiliations),
    (RoleAssignment, tables.role_assignments),
    (Consent, tables.consents),
    (LinkCode, tables.link_codes),
    (OutboxEntry, tables.outbox),
    (Timer, tables.timers),
    (ButtonAction, tables.button_actions),
    (DialogState, tables.dialogs),
    (ProcessedEvent, tables.processed_events),
)


def start_mappers() -> None:
    """Idempotent: safe to call from every engine set-up and every test."""
    mappings = list(_CORE_MAPPINGS)
    for module in CAPABILITY_STORAGE:
        mappings.extend(module.MAPPINGS)
    for cls, table in mappings:
        if not hasattr(cls, "__mapper__"):
            mapper_registry.map_imperatively(cls, table)
    keep_search_keys()
