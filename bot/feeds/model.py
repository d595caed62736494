"""Personal calendar feeds: a secret address per member that serves their own calendar.

Only a fingerprint (SHA-256) of the token is stored, so a copy of the database
does not give anyone the addresses; the token itself is shown once, when made.
A new token replaces the old one, and erasure removes it with the person.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

TOKEN_BYTES = 32  # 43 URL-safe characters: not guessable
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
FEED_PATH = "/calendar/me/{token}.ics"


@dataclass
class CalendarFeed:
    person_id: int
    token_hash: str  # hex SHA-256 of the token: the token itself is never stored
    created_at: datetime
    id: int | None = None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def feed_url(base: str, token: str) -> str:
    return base.rstrip("/") + FEED_PATH.format(token=token)


def well_formed(token: str) -> bool:
    """Whether a presented token could be one of ours (anything else is not looked up)."""
    return bool(TOKEN.match(token))


class FeedRepository(Protocol):
    async def of_person(self, person_id: int) -> CalendarFeed | None: ...
    async def by_fingerprint(self, token_hash: str) -> CalendarFeed | None: ...
    async def replace(self, feed: CalendarFeed) -> None:
        """Stores the person's feed, dropping the one they had (its address stops working)."""
        ...

    async def revoke(self, person_id: int) -> bool:
        """Removes the person's feed; False if they had none."""
        ...
