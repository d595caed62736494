"""Membership's words and rules: the privacy text's version and the names of roles."""

from __future__ import annotations

from bot.domain.people import Role
from bot.i18n import N_, Translator

# Raise when the privacy text of /start changes in substance: consents record the version they saw.
CONSENT_VERSION = "2026-12-03"

ROLE_WORDS: dict[str, Role] = {
    "organisator": Role.ORGANISER,
    "organiser": Role.ORGANISER,
    "organizer": Role.ORGANISER,
    "medlemsansvarig": Role.MEMBER_OFFICER,
    "member_officer": Role.MEMBER_OFFICER,
    "studieorganisator": Role.STUDY_ORGANISER,
    "study_organiser": Role.STUDY_ORGANISER,
    "admin": Role.ADMIN,
}

ROLE_NAMES = {
    Role.ORGANISER: N_("organiser"),
    Role.MEMBER_OFFICER: N_("member officer"),
    Role.STUDY_ORGANISER: N_("study organiser"),
    Role.ADMIN: N_("admin"),
}


def role_name(t: Translator, role: Role) -> str:
    return t(ROLE_NAMES[role])
