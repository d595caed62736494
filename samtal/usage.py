"""What every `samtal` command needs to refuse bad input: one line on stderr, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Awaitable

from bot.domain.organisations import Organisation
from bot.ports import UnitOfWork


class UsageError(Exception):
    """Stops a command with this message (`samtal: …`) and exit status 2."""


async def exit_status(command: Awaitable[int]) -> int:
    """The command's exit status; a `UsageError` is told in one line and gives 2."""
    try:
        return await command
    except UsageError as exc:
        print(f"samtal: {exc}", file=sys.stderr)
        return 2


async def org_by_slug(uow: UnitOfWork, slug: str) -> tuple[Organisation, int]:
    """The organisation a command names, and its id; an unknown slug stops the command."""
    org = await uow.orgs.by_slug(slug)
    if org is None or org.id is None:
        raise UsageError(f"no organisation with the slug {slug!r}; see `samtal orgs`")
    return org, org.id
