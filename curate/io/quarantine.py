"""Rows that could not be parsed, kept with their reason when the user asks to skip them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class BadRow:
    """One unreadable row: ``file``, ``location`` (``line 12`` or a JSON path), ``reason``, ``raw`` text."""

    file: str
    location: str
    reason: str
    raw: str


def write_quarantine(rows: Sequence[BadRow], path: Path) -> None:
    """Write bad rows as JSON Lines (one object per row with the fields of :class:`BadRow`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
