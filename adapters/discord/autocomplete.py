"""Autocomplete for slash command options: organisations, upcoming meetings, open polls
and study circles open for sign-up.

Read straight from the core's repositories, without a transaction that writes:
what is offered is what anyone in that place may see anyway (open meetings and
polls of the channel's organisation and those above it; in DMs, of the person's
own organisations), so autocomplete never reveals a members-only meeting, and
members-only polls only to members. Circles are those the person could sign up
for with /cirklar.
"""

from __future__ import annotations

from typing import Any

import discord

from adapters.discord.commands import autocomplete_kind
from adapters.discord.translate import PLATFORM
from bot.circles.service import open_circles
from bot.context import Effects
from bot.core import Samtal
from bot.domain.people import Status
from bot.meetings.model import Audience
from bot.ports import UnitOfWork

MAX_CHOICES = 25  # Discord's limit
NAME_LIMIT = 100


def _focused(data: dict[str, Any]) -> tuple[str, str]:
    for option in data.get("options", []) or []:
        if option.get("focused"):
            return str(option.get("name", "")), str(option.get("value", ""))
    return "", ""


def _fits(name: str) -> str:
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…"


async def choices(
    samtal: Samtal, interaction: discord.Interaction[Any]
) -> list[discord.app_commands.Choice[Any]]:
    data: dict[str, Any] = dict(interaction.data or {})
    command = samtal.registry.find_command(str(data.get("name", "")))
    option, typed = _focused(data)
    kind = autocomplete_kind(command.swedish, option) if command else None
    typed = typed.strip().lower()
    async with samtal.uow_factory() as uow:
        if kind == "organisation":
            found: list[discord.app_commands.Choice[Any]] = [
                discord.app_commands.Choice(name=_fits(f"{org.name} ({org.slug})"), value=org.slug)
                for org in await uow.orgs.list_all()
                if typed in org.slug or typed in org.name.lower()
            ]
        elif kind == "meeting":
            found = [
                discord.app_commands.Choice[Any](
                    name=_fits(f"{meeting.id}: {meeting.theme}"), value=meeting.id
                )
                for meeting in await uow.meetings.upcoming(
                    await _orgs_seen(uow, interaction), samtal.clock.now(), MAX_CHOICES
                )
                if meeting.id is not None
                and meeting.audience is Audience.OPEN
                and (typed in meeting.theme.lower() or typed == str(meeting.id))
            ]
        elif kind == "poll":
            found = await _polls(samtal, uow, interaction, typed)
        elif kind == "circle":
            found = await _circles(samtal, uow, interaction, typed)
        else:
            found = []
    return found[:MAX_CHOICES]


def _numbered(number: int, name: str, typed: str) -> discord.app_commands.Choice[Any] | None:
    if typed and typed not in name.lower() and typed != str(number):
        return None
    return discord.app_commands.Choice[Any](name=_fits(f"{number}: {name}"), value=number)


async def _polls(
    samtal: Samtal, uow: UnitOfWork, interaction: discord.Interaction[Any], typed: str
) -> list[discord.app_commands.Choice[Any]]:
    found = await uow.people.sender(PLATFORM, str(interaction.user.id))
    member = found is not None and found[1].status is Status.MEMBER
    choices = []
    for poll in await uow.polls.open_in(await _orgs_seen(uow, interaction)):
        if poll.id is None or (poll.members_only and not member):
            continue
        choice = _numbered(poll.id, poll.question, typed)
        if choice is not None:
            choices.append(choice)
    return choices


async def _circles(
    samtal: Samtal, uow: UnitOfWork, interaction: discord.Interaction[Any], typed: str
) -> list[discord.app_commands.Choice[Any]]:
    found = await uow.people.sender(PLATFORM, str(interaction.user.id))
    if found is None:
        return []  # someone the bot doesn't know yet has no circles to reach
    choices = []
    for circle in await open_circles(Effects(uow, samtal.clock), found[1]):
        choice = _numbered(circle.id, circle.title, typed) if circle.id is not None else None
        if choice is not None:
            choices.append(choice)
    return choices


async def _orgs_seen(uow: UnitOfWork, interaction: discord.Interaction[Any]) -> list[int]:
    """The channel's organisation (in a server), else the person's own, and those above."""
    roots: list[int] = []
    if interaction.guild_id is not None and interaction.channel_id is not None:
        channel = await uow.orgs.channel(PLATFORM, str(interaction.channel_id))
        roots = [channel.org_id] if channel is not None else []
    else:
        found = await uow.people.sender(PLATFORM, str(interaction.user.id))
        if found is not None and found[1].id is not None:
            roots = [a.org_id for a in await uow.people.affiliations_of(found[1].id)]
    seen: list[int] = []
    for root in roots:
        for org in await uow.orgs.lineage(root):
            if org.id is not None and org.id not in seen:
                seen.append(org.id)
    return seen
