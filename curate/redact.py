"""Keep a secret (an API key, an access token) out of everything curate prints or stores."""

from __future__ import annotations

from typing import Any

MASK = "***"


def redact(value: Any, secret: str | None) -> Any:
    """``value`` with every occurrence of ``secret`` in its strings replaced by :data:`MASK`.

    Strings, and the strings inside dicts (keys and values), lists and tuples, are redacted; other
    values are returned as they are. Nothing changes when ``secret`` is empty or None.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, MASK)
    if isinstance(value, dict):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, secret) for v in value)
    return value
