"""After an erasure nothing names the person: their name and ids leave every text and payload.

The rows that point at a person go with them or stay anonymous through their
foreign keys (CASCADE / SET NULL) and the capabilities' `before_erase`. What
is left are values that name them without pointing at them: a message to a
member officer saying that Nora has joined, a poll result listing her vote, a
harassment report she wrote, a chat id. `forget` walks every text and JSON
column of every table, found from the schema (so a table added later is
covered), and:

- deletes messages to her chat, and private messages to others that name her
  once they have been sent (they were about her: her name, her report);
- in every other value replaces her name, usernames and platform ids with
  `REDACTED`; a message still waiting to go out is sent without them.

Figures are never touched: only text changes. Left alone: the names of other
people (`people`, `identities`: another Nora keeps her name), the organisation
tree (`organisations`, `channels`) and key columns (primary keys, unique and
foreign keys), which identify records rather than describe anyone.

Values are matched as whole words in the exact spelling stored (a Swedish
genitive "s" included: "Noras"), as the bot wrote them into its messages;
text files attached to messages (a CSV list, a JSON export) are redacted
inside, pictures can't be. A search is one query per table; an erasure is
rare, so a scan is acceptable.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.delivery import OutboxStatus
from storage import tables

REDACTED = "[…]"

_SHORTEST = 2  # a one-letter "name" would blank every "a" and "I"
# The register's other entries too: a couple sharing an e-mail address keeps it in the other's.
_LEFT_ALONE = ("people", "identities", "organisations", "channels", "register_entries")


@dataclass(frozen=True)
class Traces:
    """What names one person: their display name, usernames and platform ids."""

    names: frozenset[str]
    platform_ids: frozenset[str]

    @property
    def words(self) -> frozenset[str]:
        return self.names | self.platform_ids

    def pattern(self) -> re.Pattern[str] | None:
        words = sorted((w for w in self.words if len(w) >= _SHORTEST), key=len, reverse=True)
        if not words:
            return None
        alternatives = "|".join(re.escape(w) for w in words)
        return re.compile(rf"(?<!\w)(?:{alternatives})(?:s)?(?!\w)")


async def traces_of(session: AsyncSession, person_id: int) -> Traces:
    """Read before the person's rows go."""
    p, i = tables.people.c, tables.identities.c
    name = (await session.execute(sa.select(p.display_name).where(p.id == person_id))).scalar()
    rows = (
        await session.execute(sa.select(i.username, i.external_id).where(i.person_id == person_id))
    ).all()
    names = {name} if name else set()
    names |= {username for username, _ in rows if username}
    ids = {external_id for _, external_id in rows if external_id}
    return Traces(frozenset(n.strip() for n in names if n.strip()), frozenset(ids))


def text_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns of a table that hold free text or payloads (not keys, not enums)."""
    keyed: set[str] = set()
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
            keyed |= {c.name for c in constraint.columns}
    found = []
    for column in table.columns:
        if column.name in keyed or column.unique or column.foreign_keys:
            continue
        if isinstance(column.type, sa.Enum):
            continue
        if isinstance(column.type, sa.String | sa.JSON):
            found.append(column)
    return found


async def forget(session: AsyncSession, traces: Traces) -> None:
    """Removes or redacts every remaining value that names the person (see the module)."""
    pattern = traces.pattern()
    if pattern is None:
        return
    for table in tables.metadata.sorted_tables:
        if table.name in _LEFT_ALONE:
            continue
        columns = text_columns(table)
        key = list(table.primary_key.columns)
        if not columns or not key:
            continue
        await _forget_in(session, table, key, columns, traces, pattern)


async def _forget_in(
    session: AsyncSession,
    table: sa.Table,
    key: list[sa.Column[Any]],
    columns: list[sa.Column[Any]],
    traces: Traces,
    pattern: re.Pattern[str],
) -> None:
    found = sa.or_(*(_mentions(column, traces.words) for column in columns))
    is_outbox = table is tables.outbox
    extra = [table.c.direct, table.c.status] if is_outbox else []
    rows = (await session.execute(sa.select(*key, *columns, *extra).where(found))).all()
    for row in rows:
        values = row._mapping
        where = sa.and_(*(column == values[column.name] for column in key))
        if is_outbox and _drop_message(values, traces, pattern):
            await session.execute(sa.delete(table).where(where))
            continue
        changed = {}
        for column in columns:
            cleaned = _redact(values[column.name], pattern)
            if cleaned != values[column.name]:
                changed[column.name] = cleaned
        if changed:
            await session.execute(sa.update(table).where(where).values(changed))


def _drop_message(values: Any, traces: Traces, pattern: re.Pattern[str]) -> bool:
    """A message to her chat, or a private one about her that has been delivered."""
    if not values["direct"]:
        return False
    if values["chat_id"] in traces.platform_ids:
        return True
    done = values["status"] in (OutboxStatus.SENT, OutboxStatus.FAILED)
    return done and _redact(values["payload"], pattern) != values["payload"]


def _mentions(column: sa.Column[Any], words: Iterable[str]) -> sa.ColumnElement[bool]:
    """A cheap filter that lets through every row that may name them (Python decides)."""
    as_text: sa.ColumnElement[Any] = (
        sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column
    )
    spellings: set[str] = set()
    for word in words:
        if len(word) >= _SHORTEST:
            spellings.add(word)
            spellings.add(json.dumps(word)[1:-1])  # JSON escapes non-ASCII letters and quotes
    if isinstance(column.type, sa.JSON):
        spellings.add('"media_type"')  # a file's text is base64: looked at in Python
    return sa.or_(*(as_text.contains(s, autoescape=True) for s in sorted(spellings)))


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [_redact(item, pattern) for item in value]
    if isinstance(value, dict):
        if _is_attachment(value):
            return {**value, "data": _redact_file(value["media_type"], value["data"], pattern)}
        return {k: _redact(item, pattern) for k, item in value.items()}
    return value


def _is_attachment(value: dict[str, Any]) -> bool:
    """A file in a message payload (bot/messages.py): its bytes are base64 text."""
    return isinstance(value.get("media_type"), str) and isinstance(value.get("data"), str)


def _redact_file(media_type: str, data: str, pattern: re.Pattern[str]) -> str:
    """A text file (a CSV list, a JSON export) is redacted inside; a picture can't be."""
    if not (media_type.startswith("text/") or media_type == "application/json"):
        return data
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return data
    cleaned = pattern.sub(REDACTED, text)
    return data if cleaned == text else base64.b64encode(cleaned.encode("utf-8")).decode("ascii")
