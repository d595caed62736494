"""Names as they are searched: folded in Python, the same on SQLite and PostgreSQL.

SQLite's lower() folds only ASCII ("Örjan Åberg" stays as it is), and
PostgreSQL's depends on the database's locale. So people's names and usernames
are stored a second time, folded here (`people.name_key`,
`identities.username_key`), and a search compares folded with folded.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import event

from bot.domain.people import Identity, Person


def fold(text: str | None) -> str | None:
    """Case- and form-insensitive: "ÅBERG", "åberg" and a decomposed "Åberg" are one key."""
    if text is None:
        return None
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def folded_copy_of(column: str) -> Any:
    """A column default: bulk inserts in SQL (benchmarks, imports) get the key too."""

    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(column)
        return fold(value) if isinstance(value, str) else None

    return default


def _fill_person(_mapper: Any, _connection: Any, person: Any) -> None:
    key = fold(person.display_name)
    if getattr(person, "name_key", None) != key:
        person.name_key = key


def _fill_identity(_mapper: Any, _connection: Any, identity: Any) -> None:
    key = fold(identity.username)
    if getattr(identity, "username_key", None) != key:
        identity.username_key = key


def keep_search_keys() -> None:
    """Every insert or update through the ORM writes the folded copies (idempotent)."""
    for cls, fill in ((Person, _fill_person), (Identity, _fill_identity)):
        for moment in ("before_insert", "before_update"):
            if not event.contains(cls, moment, fill):
                event.listen(cls, moment, fill)
