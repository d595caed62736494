"""The list of capabilities, in the order their commands appear in /hjalp: the everyday
activities first, then what concerns the person themselves, then the setup."""

from __future__ import annotations

from types import ModuleType

from bot.announcements import entry as announcements
from bot.campaigns import entry as campaigns
from bot.circles import entry as circles
from bot.consultations import entry as consultations
from bot.feeds import entry as feeds
from bot.help import entry as help
from bot.insights import entry as insights
from bot.meetings import entry as meetings
from bot.membership import admin, language, linking, start
from bot.membership import email as email_choice
from bot.moderation import entry as moderation
from bot.polls import entry as polls
from bot.privacy import entry as privacy
from bot.privacy import retention
from bot.register import entry as register
from bot.registry import Registry
from bot.welcome import entry as welcome
from bot.wheel import entry as wheel

CAPABILITIES: tuple[ModuleType, ...] = (
    meetings,
    polls,
    circles,
    consultations,
    campaigns,
    welcome,
    register,
    wheel,
    feeds,
    insights,
    announcements,
    start,
    help,
    language,
    email_choice,
    linking,
    privacy,
    moderation,
    admin,
    retention,
)


def build_registry() -> Registry:
    registry = Registry()
    for capability in CAPABILITIES:
        capability.setup(registry)
    return registry
