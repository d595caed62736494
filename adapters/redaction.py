"""Keeps platform tokens out of every log record.

The Telegram token is part of every Bot API URL, so an HTTP client's request
log line or an exception message can carry it. A log record factory redacts
each record as it is made, at every level and for every logger and handler,
including the text of an exception attached to it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[token redacted]"

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_original_factory: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    # Case-insensitive: python-telegram-bot capitalize()s error descriptions, which
    # lower-cases a token echoed in them.
    pattern = _pattern
    if pattern is None:
        return text
    return pattern.sub(REDACTED, text)


def _compile() -> None:
    global _pattern
    if not _secrets:
        _pattern = None
        return
    longest_first = sorted(_secrets, key=len, reverse=True)
    _pattern = re.compile("|".join(re.escape(s) for s in longest_first), re.IGNORECASE)


def protect(secrets: Iterable[str | None]) -> None:
    """Redacts these secrets (and, for a Telegram token, its secret half) from all logging."""
    global _original_factory
    with _lock:
        for secret in secrets:
            if not secret:
                continue
            _secrets.add(secret)
            _, _, tail = secret.partition(":")  # Telegram: "<bot id>:<secret>"
            if len(tail) >= 16:
                _secrets.add(tail)
        _compile()
        if _original_factory is None and _secrets:
            _original_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)
    # The per-request lines of the HTTP clients are noise at INFO; warnings still show (redacted).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _original_factory is not None
    record = _original_factory(*args, **kwargs)
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what can be shown
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def forget_all() -> None:
    """Removes the factory again (tests)."""
    global _original_factory
    with _lock:
        _secrets.clear()
        _compile()
        if _original_factory is not None:
            logging.setLogRecordFactory(_original_factory)
            _original_factory = None
