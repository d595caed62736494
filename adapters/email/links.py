"""Signed links in emails: one-click unsubscribe and a button's answer, served by samtal/web.py.

A link carries what it acts on (the person and address, or the button's token
and label) and an HMAC-SHA256 of it under the deployment's secret
(`SAMTAL_EMAIL_SECRET`), so nobody can make one for another address or button.
Opening a link (GET) only shows a page with a confirm button; only the POST
acts, so a mail server's link scanner that fetches every link presses nothing.
RFC 8058's one-click POST (`List-Unsubscribe=One-Click`) acts at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

UNSUBSCRIBE_PATH = "/email/unsubscribe/{token}"
PRESS_PATH = "/email/press/{token}"
MAX_TOKEN = 1500  # characters: a label is short, an address at most 254


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Unsubscribe:
    person_id: int
    address: str


@dataclass(frozen=True)
class Press:
    button: str  # the button's token in the outbox (bot.outbox.enqueue)
    address: str
    label: str


class Signer:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"samtal email links\0" + secret.encode()).digest()

    def _mac(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest()[:16])

    def _sign(self, data: dict[str, Any]) -> str:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(payload)}.{self._mac(payload)}"

    def _open(self, token: str) -> dict[str, Any] | None:
        if len(token) > MAX_TOKEN or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        try:
            payload = _unb64(body)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def unsubscribe(self, person_id: int, address: str) -> str:
        return self._sign({"k": "u", "p": person_id, "a": address})

    def press(self, button: str, address: str, label: str) -> str:
        return self._sign({"k": "b", "t": button, "a": address, "l": label})

    def read(self, token: str) -> Unsubscribe | Press | None:
        """What a signed token says, or None if it is not one of ours, unaltered."""
        data = self._open(token)
        if data is None:
            return None
        try:
            if data["k"] == "u":
                return Unsubscribe(int(data["p"]), str(data["a"]))
            if data["k"] == "b":
                return Press(str(data["t"]), str(data["a"]), str(data["l"]))
        except (KeyError, TypeError, ValueError):
            return None
        return None


def link(base_url: str, path: str, token: str) -> str:
    return base_url.rstrip("/") + path.format(token=token)
