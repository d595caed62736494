"""Who may do what: one table, per organisation, inherited downwards.

A role held in an organisation applies there and in every organisation below
it (a district organiser may organise in each branch of the district).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from bot.domain.people import Role, RoleAssignment


class Permission(StrEnum):
    MANAGE_MEETINGS = "manage_meetings"
    MANAGE_POLLS = "manage_polls"
    MANAGE_CIRCLES = "manage_circles"
    MANAGE_NEW_MEMBERS = "manage_new_members"
    MANAGE_WHEEL = "manage_wheel"
    SEND_ANNOUNCEMENTS = "send_announcements"
    VIEW_STATS = "view_stats"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_ROLES = "manage_roles"
    REMOVE_PEOPLE = "remove_people"
    MANAGE_CONSULTATIONS = "manage_consultations"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ORGANISER: frozenset(
        {
            Permission.MANAGE_MEETINGS,
            Permission.MANAGE_POLLS,
            Permission.MANAGE_CIRCLES,
            Permission.MANAGE_NEW_MEMBERS,  # the chair and organisers welcome new members too
            Permission.MANAGE_WHEEL,
            Permission.SEND_ANNOUNCEMENTS,
            Permission.VIEW_STATS,
            Permission.MANAGE_CHANNELS,
            Permission.REMOVE_PEOPLE,
            Permission.MANAGE_CONSULTATIONS,
        }
    ),
    Role.MEMBER_OFFICER: frozenset({Permission.MANAGE_NEW_MEMBERS, Permission.VIEW_STATS}),
    Role.STUDY_ORGANISER: frozenset({Permission.MANAGE_CIRCLES, Permission.VIEW_STATS}),
    Role.ADMIN: frozenset(Permission),
}


def permissions_in(
    org_lineage: Iterable[int], assignments: Iterable[RoleAssignment]
) -> frozenset[Permission]:
    """The permissions a person has in an organisation, given its lineage (itself and ancestors)."""
    lineage = set(org_lineage)
    granted: set[Permission] = set()
    for assignment in assignments:
        if assignment.org_id in lineage:
            granted |= ROLE_PERMISSIONS[assignment.role]
    return frozenset(granted)
