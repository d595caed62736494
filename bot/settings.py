"""The deployment's choices that the core needs, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.platform_roles import RoleMapping


@dataclass(frozen=True)
class Settings:
    # The party's own page for becoming a member, offered to guests at the right moment.
    join_url: str = ""
    # Guests who have not been seen for this long are erased automatically.
    guest_retention_days: int = 365
    # People in no organisation any more (left the party, removed) are erased after this long.
    left_retention_days: int = 90
    # Commands and button presses a person may send per minute; None for no limit (the console).
    flood_limit: int | None = None
    # Platform roles that give organisation roles (the configuration's [discord] roles).
    role_mappings: tuple[RoleMapping, ...] = ()
    # Organisations (slugs) whose announcements to at least `paid_broadcast_min_recipients`
    # Telegram chats go out as Telegram paid broadcasts (faster, 0.1 Star a message).
    paid_broadcast_orgs: tuple[str, ...] = ()
    paid_broadcast_min_recipients: int = 1000
    # (organisation slug, Discord role id): the opt-in role mentioned in its announcement posts.
    announcement_roles: tuple[tuple[str, str], ...] = ()
    # Where the web server's calendar feeds are reached from outside, e.g.
    # "https://samtal.example.org"; empty when it does not run: no personal feed links then.
    calendar_url: str = ""
