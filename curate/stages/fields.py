"""Helpers shared by stages: which fields to work on, and how to name a row."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.schemas import get_schema


def text_fields(kind: str, fields: Sequence[str] | None) -> list[str]:
    """``fields`` if given, else the kind's declared text fields."""
    return list(fields) if fields else list(get_schema(kind).text_fields)


def require_columns(dataset: Dataset, columns: Sequence[str], *, stage: str, types: tuple[str, ...] = ()) -> None:
    """ConfigError naming the stage, the missing column and the available ones."""
    schema = dataset.schema
    for name in columns:
        if name not in schema.names:
            raise ConfigError(
                "no such column",
                where=Where(stage=stage, field=name),
                value=name,
                hint=f"columns: {', '.join(schema.names)}",
            )
        dtype = schema.field(name).type
        if types and not any(_is(dtype, t) for t in types):
            raise ConfigError(
                f"column must be {' or '.join(types)}",
                where=Where(stage=stage, field=name),
                value=str(dtype),
                hint="choose a text column",
            )


def _is(dtype: pa.DataType, name: str) -> bool:
    if name == "string":
        return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
    if name == "list<string>":
        return pa.types.is_list(dtype) and pa.types.is_string(dtype.value_type)
    return False
