"""Maps the core's plain dataclasses onto the tables, from the outside (the core never knows)."""

from __future__ import annotations

from sqlalchemy.orm import registry

from bot.domain.delivery import ButtonAction, DialogState, OutboxEntry, ProcessedEvent, Timer
from bot.domain.organisations import Channel, Organisation
from bot.domain.people import Affiliation, Consent, Identity, LinkCode, Person, RoleAssignment
from storage import tables

mapper_registry = registry(metadata=tables.metadata)

_MAPPINGS = (
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
    for cls, table in _MAPPINGS:
        if not hasattr(cls, "__mapper__"):
            mapper_registry.map_imperatively(cls, table)
