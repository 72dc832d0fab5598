"""Dataset schema kinds, declared in ``schemas/<kind>.yaml`` and loaded at run time.

A schema file gives ``kind``, ``description``, an optional ``key`` (the unique id column),
``text_fields`` and ``fields``: ``name: {type, required, description}`` where ``type`` uses a small
grammar: ``string``, ``bool``, ``int32``, ``int64``, ``float32``, ``float64``, ``list<T>``,
``struct<name: T, ...>``.

:func:`conform` turns any Arrow table into the kind's shape: schema columns first (cast to their
types, JSON strings parsed for nested types, absent optional columns added as nulls), then every
extra column unchanged, so nothing a user brought is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from curate.errors import SchemaError, Where

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
}


def schemas_dir() -> Path:
    """Folder holding the schema files: ``schemas/`` of the checkout, or the copy inside the wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "schemas", package / "_schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("curate schema files not found (expected schemas/ beside the package)")


def parse_type(spec: str) -> pa.DataType:
    """Parse a type string such as ``list<struct<text: string, answer_start: int32>>``."""
    dtype, rest = _parse(spec.replace(" ", ""), spec)
    if rest:
        raise ValueError(f"unexpected {rest!r} in type {spec!r}")
    return dtype


def _parse(s: str, spec: str) -> tuple[pa.DataType, str]:
    match = re.match(r"[a-z0-9]+", s)
    if not match:
        raise ValueError(f"bad type {spec!r}")
    name, rest = match.group(), s[match.end() :]
    if name in _SCALARS:
        return _SCALARS[name], rest
    if name == "list" and rest.startswith("<"):
        item, rest = _parse(rest[1:], spec)
        if not rest.startswith(">"):
            raise ValueError(f"missing '>' in type {spec!r}")
        return pa.list_(item), rest[1:]
    if name == "struct" and rest.startswith("<"):
        fields = []
        rest = rest[1:]
        while True:
            field_match = re.match(r"([A-Za-z_][A-Za-z0-9_]*):", rest)
            if not field_match:
                raise ValueError(f"bad struct field in type {spec!r}")
            field_type, rest = _parse(rest[field_match.end() :], spec)
            fields.append(pa.field(field_match.group(1), field_type))
            if rest.startswith(","):
                rest = rest[1:]
                continue
            if rest.startswith(">"):
                return pa.struct(fields), rest[1:]
            raise ValueError(f"missing '>' in type {spec!r}")
    raise ValueError(f"unknown type {name!r} in {spec!r} (known: {', '.join(_SCALARS)}, list<T>, struct<...>)")


@dataclass(frozen=True)
class Field:
    name: str
    type: pa.DataType
    type_spec: str
    required: bool
    description: str


@dataclass(frozen=True)
class Schema:
    """One dataset kind: its fields, key column and text fields."""

    kind: str
    description: str
    fields: tuple[Field, ...]
    key: str | None
    text_fields: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def arrow_schema(self) -> pa.Schema:
        """The kind's columns as a pyarrow schema (required fields are non-nullable)."""
        return pa.schema([pa.field(f.name, f.type, nullable=not f.required) for f in self.fields])

    def empty_table(self) -> pa.Table:
        return pa.table({f.name: pa.array([], f.type) for f in self.fields})


@cache
def kinds() -> tuple[str, ...]:
    """Names of every schema kind, sorted."""
    return tuple(sorted(p.stem for p in schemas_dir().glob("*.yaml")))


@cache
def get_schema(kind: str) -> Schema:
    """Load ``schemas/<kind>.yaml``; a ``SchemaError`` names the known kinds when ``kind`` is unknown."""
    if kind not in kinds():
        raise SchemaError("unknown dataset kind", value=kind, hint=f"use one of: {', '.join(kinds())}")
    path = schemas_dir() / f"{kind}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields = tuple(
        Field(
            name=name,
            type=parse_type(str(spec["type"])),
            type_spec=str(spec["type"]),
            required=bool(spec.get("required", False)),
            description=str(spec.get("description", "")),
        )
        for name, spec in raw["fields"].items()
    )
    return Schema(
        kind=raw["kind"],
        description=" ".join(str(raw.get("description", "")).split()),
        fields=fields,
        key=raw.get("key"),
        text_fields=tuple(raw.get("text_fields", ())),
    )


def _first_null(column: pa.ChunkedArray) -> int | None:
    if column.null_count == 0:
        return None
    return int(pc.index(pc.is_null(column), True).as_py())


def _parse_json_column(column: pa.ChunkedArray, target: pa.DataType, name: str, file: str | None) -> pa.Array:
    values: list[Any] = []
    for row, text in enumerate(column.to_pylist()):
        if text is None or text == "":
            values.append(None)
            continue
        try:
            values.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SchemaError(
                "value is not valid JSON",
                where=Where(file=file, row=row + 1, field=name),
                value=text,
                hint=f"a {name} cell must hold JSON for type {target} ({exc.msg})",
            ) from None
    return _array_from_python(values, target, name, file)


def _array_from_python(values: list, target: pa.DataType, name: str, file: str | None) -> pa.Array:
    try:
        return pa.array(values, type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        pass
    for row, value in enumerate(values):
        try:
            pa.array([value], type=target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            raise SchemaError(
                "wrong type",
                where=Where(file=file, row=row + 1, field=name),
                value=value,
                hint=f"expected {target}",
            ) from None
    raise SchemaError("wrong type", where=Where(file=file, field=name), hint=f"expected {target}")


def _cast_column(column: pa.ChunkedArray, target: pa.DataType, name: str, file: str | None) -> pa.ChunkedArray:
    if column.type == target:
        return column
    nested = pa.types.is_list(target) or pa.types.is_struct(target)
    if nested and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pa.chunked_array([_parse_json_column(column, target, name, file)])
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), target)])
    textual = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    if textual and not pa.types.is_string(target):
        # an empty CSV/TSV cell is a missing value for a bool or number, as for nested types above
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if nested or pa.types.is_list(column.type) or pa.types.is_struct(column.type):
        return pa.chunked_array([_array_from_python(column.to_pylist(), target, name, file)])
    for row, value in enumerate(column.to_pylist()):
        try:
            pa.array([value], type=column.type).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise SchemaError(
                "wrong type",
                where=Where(file=file, row=row + 1, field=name),
                value=value,
                hint=f"expected {target}",
            ) from None
    raise SchemaError(
        "wrong type", where=Where(file=file, field=name), value=str(column.type), hint=f"expected {target}"
    )


def generated_ids(rows: int, file: str | None) -> pa.Array:
    """Ids for data that has none: ``<file stem>-<1-based row>`` (``row-<n>`` without a file)."""
    prefix = Path(file).name.split(".")[0] if file else "row"
    return pa.array([f"{prefix}-{i}" for i in range(1, rows + 1)], pa.string())


def conform(table: pa.Table, kind: str, *, file: str | None = None) -> pa.Table:
    """Cast ``table`` to ``kind``: schema columns first in schema order, extra columns kept after.

    A kind's id column (``key``) that the data lacks is taken from a BEIR-style ``_id`` column, or
    else generated (see :func:`generated_ids`).

    Raises:
        SchemaError: a required column is missing, holds nulls, or a value cannot take its type;
            the message names the file, the 1-based row, the field and the value.
    """
    schema = get_schema(kind)
    if schema.key and schema.key not in table.column_names:
        if "_id" in table.column_names:
            index = table.column_names.index("_id")
            table = table.set_column(index, schema.key, table.column("_id").cast(pa.string()))
        else:
            table = table.append_column(schema.key, generated_ids(table.num_rows, file))
    present = set(table.column_names)
    missing = [name for name in schema.required if name not in present]
    if missing:
        raise SchemaError(
            f"missing required field '{missing[0]}' for kind '{kind}'",
            where=Where(file=file),
            value=sorted(present) if len(present) < 12 else f"{len(present)} columns",
            hint=f"rename a column to '{missing[0]}' (--rename SOURCE={missing[0]}, or `columns:` in a pipeline)",
        )
    columns: dict[str, pa.ChunkedArray] = {}
    for field in schema.fields:
        if field.name not in present:
            columns[field.name] = pa.chunked_array([pa.nulls(table.num_rows, field.type)])
            continue
        column = _cast_column(table.column(field.name), field.type, field.name, file)
        if field.required and (row := _first_null(column)) is not None:
            raise SchemaError(
                "missing value in a required field",
                where=Where(file=file, row=row + 1, field=field.name),
                value=None,
                hint=f"every row of kind '{kind}' needs '{field.name}'",
            )
        columns[field.name] = column
    for name in table.column_names:
        if name not in columns:
            columns[name] = table.column(name)
    return pa.table(columns, metadata=table.schema.metadata)


def describe(kind: str) -> str:
    """Human-readable listing of one schema kind (used by ``curate schema show``)."""
    schema = get_schema(kind)
    lines = [f"kind: {schema.kind}", f"description: {schema.description}"]
    if schema.key:
        lines.append(f"key: {schema.key}")
    lines.append("fields:")
    width = max(len(f.name) for f in schema.fields)
    for f in schema.fields:
        flag = "required" if f.required else "optional"
        lines.append(f"  {f.name:<{width}}  {f.type_spec:<45} {flag}  {f.description}".rstrip())
    lines.append("extra columns: kept as they are")
    return "\n".join(lines)
