"""Organisation roles that follow a person's roles on a platform.

The configuration maps a platform's role (a Discord role id) to a role in an
organisation (`[discord] roles = { "123" = "sandviken:organiser" }`). Each
time a person uses the bot where the platform tells their roles (a Discord
server), their organisation roles are brought in line: a mapped role they
hold gives them the organisation role, and a role that came from the
platform goes when the platform role goes. Roles that an organiser granted
with /roll are never touched here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.people import Affiliation, Role, RoleAssignment
from bot.events import Sender
from bot.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleMapping:
    platform: str
    platform_role: str  # the platform's id for the role
    org_slug: str
    role: Role

    @property
    def source(self) -> str:
        return f"{self.platform}:role:{self.platform_role}"


def source_prefix(platform: str) -> str:
    return f"{platform}:role:"


async def sync_roles(
    uow: UnitOfWork,
    person_id: int,
    sender: Sender,
    mappings: Sequence[RoleMapping],
    now: datetime,
) -> None:
    """Grants and revokes the person's platform-given roles to match the sender's roles."""
    if sender.roles is None:
        return  # the platform did not say here: leave everything as it is
    wanted: dict[tuple[int, Role], str] = {}
    for mapping in mappings:
        if mapping.platform != sender.platform or mapping.platform_role not in sender.roles:
            continue
        org = await uow.orgs.by_slug(mapping.org_slug)
        if org is None or org.id is None:
            log.warning(
                "role mapping %s: no organisation with the slug %r",
                mapping.source,
                mapping.org_slug,
            )
            continue
        wanted.setdefault((org.id, mapping.role), mapping.source)
    held = await uow.people.roles_of(person_id)
    prefix = source_prefix(sender.platform)
    for assignment in held:
        from_platform = assignment.source is not None and assignment.source.startswith(prefix)
        if from_platform and (assignment.org_id, assignment.role) not in wanted:
            await uow.people.revoke(person_id, assignment.org_id, assignment.role)
    held_keys = {(a.org_id, a.role) for a in held}
    for (org_id, role), source in wanted.items():
        if (org_id, role) not in held_keys:
            await uow.people.grant(
                RoleAssignment(person_id, org_id, role, granted_at=now, source=source)
            )
    # A role in an organisation makes it theirs: it is then their scope in private chats
    # too (a Discord-only organiser needs no join link to plan a meeting in DMs).
    belongs = {a.org_id for a in await uow.people.affiliations_of(person_id)}
    for org_id in dict.fromkeys(org_id for org_id, _ in wanted):
        if org_id not in belongs:
            await uow.people.affiliate(Affiliation(person_id, org_id, since=now))
