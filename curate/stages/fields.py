"""Helpers shared by stages: which fields to work on."""

from __future__ import annotations

from collections.abc import Sequence

from curate.schemas import get_schema


def text_fields(kind: str, fields: Sequence[str] | None) -> list[str]:
    """``fields`` if given, else the kind's declared text fields."""
    return list(fields) if fields else list(get_schema(kind).text_fields)
