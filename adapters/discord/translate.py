"""Pure translation between Discord and the core.

Text from the core is escaped for Discord's markdown (it may carry what people
typed), so only the spans' own styles format anything. Mentions in text never
ping: the client allows no mentions at all, and `@everyone` in user text is
also broken up so that it does not even look like a mention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord.commands import ADMINISTRATION, MANAGE_SERVER, OPTIONS, option_payloads
from bot.events import Chat, Quoted, Sender
from bot.i18n import N_, Translator
from bot.messages import Button, OutgoingMessage, Span, Style, split_spans
from bot.registry import Registry

PLATFORM = "discord"
TEXT_LIMIT = 2000
ROWS_PER_MESSAGE = 5
BUTTONS_PER_ROW = 5
LABEL_LIMIT = 80
CUSTOM_ID_PREFIX = "samtal:"
# Discord clients in Swedish, or in a language whose readers most likely read Swedish too
# (the Nordic neighbours, Sweden Finns), read the bot in Swedish and see the commands' Swedish
# names (the default); every other client reads English and sees the English names, so the
# names in the help are the ones its command picker offers.
READS_SWEDISH = frozenset({"sv-SE", "da", "no", "fi"})
ENGLISH_LOCALES = tuple(
    locale.value for locale in discord.Locale if locale.value not in READS_SWEDISH
)
LOCALES = {"sv": "sv-SE", "en": ENGLISH_LOCALES}
# The help's hint names /language to Swedish readers and /sprak to English ones, for someone
# who can't read the other language: these commands are offered under both names to everyone.
BOTH_NAMES = ("sprak",)

OPTION_HINT = N_("Anything to add after the command (optional)")
MESSAGE_COMMAND = 3  # an application command in a message's Apps menu

_MASS_MENTION = re.compile(r"@(everyone|here)")


def escape(text: str) -> str:
    text = discord.utils.escape_markdown(text, as_needed=False, ignore_links=False)
    # A zero-width space keeps @everyone and @here from ever reading as mentions.
    return _MASS_MENTION.sub("@\u200b\\1", text)


def render_span(span: Span) -> str:
    text = escape(span.text)
    match span.style:
        case Style.BOLD:
            return f"**{text}**" if text.strip() else text
        case Style.ITALIC:
            return f"*{text}*" if text.strip() else text
        case Style.LINK if span.url and span.url.startswith(("http://", "https://")):
            return f"[{text}](<{span.url}>)"
    return text


def render(spans: Sequence[Span]) -> str:
    return "".join(render_span(span) for span in spans)


def measure(spans: Sequence[Span]) -> int:
    return len(render(spans))


@dataclass(frozen=True)
class Chunk:
    content: str
    buttons: tuple[tuple[Button, ...], ...]


def chunks_of(message: OutgoingMessage, limit: int = TEXT_LIMIT) -> list[Chunk]:
    """Contents within Discord's limit; buttons go with the last chunk, five rows a message."""
    parts = split_spans(message.spans, limit, measure)
    texts = [render(part) for part in parts] or ([""] if message.buttons else [])
    rows = [
        row[i : i + BUTTONS_PER_ROW]
        for row in message.buttons
        for i in range(0, len(row), BUTTONS_PER_ROW)
    ]
    batches = [tuple(rows[i : i + ROWS_PER_MESSAGE]) for i in range(0, len(rows), ROWS_PER_MESSAGE)]
    chunks = [Chunk(text, ()) for text in texts]
    if batches:
        if not chunks:
            chunks.append(Chunk("", ()))
        chunks[-1] = Chunk(chunks[-1].content, batches[0])
        chunks += [Chunk("\u2026", batch) for batch in batches[1:]]
    return chunks


def custom_id(token: str) -> str:
    return CUSTOM_ID_PREFIX + token


def label(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def sender_of(
    user: discord.abc.User,
    locale: discord.Locale | None,
    interaction: discord.Interaction[Any] | None = None,
) -> Sender:
    return Sender(
        PLATFORM,
        str(user.id),
        display_name=user.display_name,
        username=user.name,
        language=reading_language(locale),
        roles=roles_of(user, interaction),
    )


def reading_language(locale: discord.Locale | None) -> str | None:
    """The language a Discord client reads the bot in (see READS_SWEDISH)."""
    if locale is None:
        return None
    return "sv" if locale.value in READS_SWEDISH else "en"


def server_admin_role(guild_id: int | str) -> str:
    """The platform role a server's admins (Manage Server) hold in the role mappings, for
    servers bound to an organisation in the configuration (`[discord] servers`)."""
    return f"manage_server:{guild_id}"


def roles_of(
    user: discord.abc.User, interaction: discord.Interaction[Any] | None = None
) -> frozenset[str] | None:
    """A server member's role ids (from the interaction itself); None outside a server.

    Read from the member's role ids rather than `Member.roles`, which drops ids of
    roles not in the guild cache. Someone with Manage Server there (as the interaction
    says) also holds `server_admin_role`.
    """
    if not isinstance(user, discord.Member):
        return None
    roles = {str(role_id) for role_id in user._roles}
    if (
        interaction is not None
        and interaction.guild_id is not None
        and interaction.permissions.manage_guild
    ):
        roles.add(server_admin_role(interaction.guild_id))
    return frozenset(roles)


def chat_of(interaction: discord.Interaction[Any]) -> Chat:
    if interaction.guild_id is None:  # a DM: the chat is the person
        return Chat(PLATFORM, str(interaction.user.id), is_private=True)
    channel = interaction.channel
    title = getattr(channel, "name", None)
    return Chat(PLATFORM, str(interaction.channel_id), is_private=False, title=title)


def command_text(data: dict[str, Any], registry: Registry) -> str:
    """A slash command as the core reads typed commands: '/name args'."""
    name = data.get("name", "")
    spec = registry.find_command(name)
    typed = spec.swedish if spec else name
    given = {str(o.get("name")): str(o.get("value", "")) for o in data.get("options", []) or []}
    # In the order the command declares its options (the client sends them as filled in).
    order = [option.swedish for option in OPTIONS.get(typed, ())]
    names = [n for n in order if n in given] + [n for n in given if n not in order]
    args = " ".join(given[n] for n in names)
    return f"/{typed} {args}".strip()


def command_payloads(registry: Registry) -> list[dict[str, Any]]:
    """The slash commands, named in Swedish and localised to English, with their options
    (adapters/discord/commands.py)."""
    sv, en = Translator("sv"), Translator("en")
    english_locales = LOCALES["en"]
    payloads: list[dict[str, Any]] = []
    for spec in registry.commands:
        usage = spec.usage or OPTION_HINT
        base: dict[str, Any] = {
            "type": 1,
            "description": sv(spec.summary)[:100],
            "description_localizations": {
                locale: en(spec.summary)[:100] for locale in english_locales
            },
            "contexts": [0, 1],  # in servers and in DMs with the bot
            "options": option_payloads(spec.swedish, usage, english_locales),
        }
        if spec.swedish in ADMINISTRATION:
            base["default_member_permissions"] = str(MANAGE_SERVER)
        if spec.swedish in BOTH_NAMES:
            payloads += [{"name": spec.swedish, **base}, {"name": spec.english, **base}]
        else:
            english = {locale: spec.english for locale in english_locales}
            payloads.append({"name": spec.swedish, "name_localizations": english, **base})
    if registry.mark is not None:  # in a message's Apps menu: Discord's way to answer a message
        payloads.append(
            {
                "type": MESSAGE_COMMAND,
                "name": sv(registry.mark[0])[:32],
                "name_localizations": {loc: en(registry.mark[0])[:32] for loc in english_locales},
                "contexts": [0],  # in servers
            }
        )
    return payloads


def quoted_of(data: dict[str, Any]) -> Quoted | None:
    """The message a message command (`MESSAGE_COMMAND`) was used on, from the interaction's
    resolved data: who wrote it and what; None for a bot's message or one without text."""
    target = str(data.get("target_id", ""))
    found = ((data.get("resolved") or {}).get("messages") or {}).get(target)
    author = (found or {}).get("author") or {}
    if not found or author.get("bot") or not author.get("id"):
        return None
    name = str(author.get("global_name") or author.get("username") or "")
    sender = Sender(PLATFORM, str(author["id"]), name, author.get("username"))
    return Quoted(sender, str(found.get("content") or ""))
