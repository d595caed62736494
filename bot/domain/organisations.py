from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class OrgKind(StrEnum):
    PARTY = "party"
    DISTRICT = "district"
    BRANCH = "branch"  # arbetarekommun: the party in one municipality
    ASSOCIATION = "association"  # S-förening or S-klubb


DEFAULT_TIMEZONE = "Europe/Stockholm"
DEFAULT_LANGUAGE = "sv"


@dataclass
class Organisation:
    slug: str
    name: str
    kind: OrgKind
    parent_id: int | None = None
    timezone: str = DEFAULT_TIMEZONE
    language: str = DEFAULT_LANGUAGE
    created_at: datetime | None = None
    id: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass
class Channel:
    """A group chat on some platform that belongs to one organisation."""

    platform: str
    chat_id: str
    org_id: int
    title: str | None = None
