"""The list of capabilities, in the order their commands appear in /hjalp."""

from __future__ import annotations

from types import ModuleType

from bot.handlers import admin, help, language, linking, start
from bot.registry import Registry

CAPABILITIES: tuple[ModuleType, ...] = (start, help, language, linking, admin)


def build_registry() -> Registry:
    registry = Registry()
    for capability in CAPABILITIES:
        capability.setup(registry)
    return registry
