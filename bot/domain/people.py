from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    GUEST = "guest"  # intresserad, sympathiser: welcome at every open activity
    MEMBER = "member"


class Role(StrEnum):
    """Roles are held per organisation and reach down to every organisation below it."""

    ORGANISER = "organiser"
    MEMBER_OFFICER = "member_officer"  # medlemsansvarig
    STUDY_ORGANISER = "study_organiser"  # studieorganisatör
    ADMIN = "admin"


@dataclass
class Person:
    display_name: str
    status: Status = Status.GUEST
    language: str | None = None  # None: follow the organisation's language
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    id: int | None = None


@dataclass
class Identity:
    """One account on one platform; several identities can belong to one person."""

    person_id: int
    platform: str
    external_id: str
    username: str | None = None
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    id: int | None = None


@dataclass
class Affiliation:
    """The organisations a person belongs to or follows."""

    person_id: int
    org_id: int
    since: datetime
    id: int | None = None


@dataclass
class RoleAssignment:
    person_id: int
    org_id: int
    role: Role
    granted_at: datetime
    granted_by: int | None = None
    # Where the role comes from when no person granted it, e.g. "discord:role:123": such a
    # role follows the platform's role and goes when it goes (see bot/platform_roles.py).
    source: str | None = None
    id: int | None = None


@dataclass
class Consent:
    """What a person agreed to, when, and which version of the text they were shown."""

    person_id: int
    version: str
    given_at: datetime
    withdrawn_at: datetime | None = None
    id: int | None = None


@dataclass
class LinkCode:
    """A short-lived code that joins a second platform account to a person."""

    code: str
    person_id: int
    expires_at: datetime
