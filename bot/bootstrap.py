"""The list of capabilities, in the order their commands appear in /hjalp: the everyday
activities first, then what concerns the person themselves, then the setup."""

from __future__ import annotations

from types import ModuleType

from bot.handlers import (
    admin,
    announcements,
    circles,
    help,
    housekeeping,
    insights,
    language,
    linking,
    meetings,
    moderation,
    polls,
    privacy,
    start,
    welcome,
    wheel,
)
from bot.registry import Registry

CAPABILITIES: tuple[ModuleType, ...] = (
    meetings,
    polls,
    circles,
    welcome,
    wheel,
    insights,
    announcements,
    start,
    help,
    language,
    linking,
    privacy,
    moderation,
    admin,
    housekeeping,
)


def build_registry() -> Registry:
    registry = Registry()
    for capability in CAPABILITIES:
        capability.setup(registry)
    return registry
