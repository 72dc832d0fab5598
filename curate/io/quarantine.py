"""Rows that could not be parsed, kept with their reason when the user asks to skip them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from curate.io.files import atomic_file


@dataclass(frozen=True)
class BadRow:
    """One unreadable row: ``file``, ``location`` (``line 12``, ``row 3`` or a JSON path), ``reason``,
    ``raw`` text."""

    file: str
    location: str
    reason: str
    raw: str


def raw_json(value: Any) -> str:
    """``value`` as JSON text for a quarantine entry: real characters where UTF-8 can hold them,
    ``\\u`` escapes where it cannot (a lone surrogate); a short note for values nested too deeply."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, default=str)
    except RecursionError:
        return "(value nested too deeply to show)"
    return text


def write_quarantine(rows: Sequence[BadRow], path: Path) -> None:
    """Write bad rows as JSON Lines (one object per row with the fields of :class:`BadRow`)."""
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(raw_json(asdict(row)) + "\n")
