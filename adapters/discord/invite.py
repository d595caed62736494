"""What a Discord server needs to add the bot: its permissions, and the link that asks for them.

README's Discord section lists the same permissions and what stops working
without each (tests/test_discord_invite.py checks they agree).
"""

from __future__ import annotations

import aiohttp
import discord

# The bot's permissions in a server, and what degrades without each.
PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("view_channel", "the bot sees no channel: nothing works there"),
    ("send_messages", "no meeting, poll or announcement posts in the channels"),
    ("embed_links", "links in posts show without previews"),
    ("attach_files", "no annual-wheel pictures or calendar files in channels"),
    ("read_message_history", "threads cannot be opened on the bot's own posts"),
    ("create_public_threads", "no discussion thread per meeting: its questions go to the channel"),
    ("send_messages_in_threads", "nothing posted in meeting threads"),
    ("create_events", "no scheduled event per meeting in the server's calendar"),
    ("manage_events", "meetings' events are not updated or cancelled when the meeting changes"),
    ("send_polls", "polls go out as buttons instead of Discord's own polls"),
)
SCOPES = "bot+applications.commands"
LOOKUP_SECONDS = 10.0


def permissions() -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys((name for name, _ in PERMISSIONS), True))


def authorize_url(application_id: int | str) -> str:
    """The link a server admin opens to add the bot with exactly these permissions."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={SCOPES}&permissions={permissions().value}"
    )


async def application_id(token: str, api_base: str) -> str:
    """The bot's application id, from Discord (GET /oauth2/applications/@me)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=LOOKUP_SECONDS)) as session,
        session.get(
            f"{api_base.rstrip('/')}/oauth2/applications/@me",
            headers={"Authorization": f"Bot {token}"},
        ) as response,
    ):
        response.raise_for_status()
        return str((await response.json())["id"])
