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
from collections.abc import Sequence
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


_TEXT_HINT = 'write text values as JSON strings ("1.5", "true"); integers are read as their digits'


def _is_text(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
        or (pa.types.is_dictionary(dtype) and _is_text(dtype.value_type))
    )


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a column of ``source`` may be cast to ``target`` without changing what a value says.

    Text takes text and integers (``7`` -> ``"7"``); a float or a boolean has no one text form
    (``1.0`` / ``1``, ``True`` / ``true``), so it is a wrong type. Numbers take numbers and text
    (CSV cells), never booleans; booleans take booleans and text (``true``/``false``/``1``/``0``).
    """
    if pa.types.is_string(target):
        return _is_text(source) or pa.types.is_integer(source)
    if pa.types.is_boolean(target):
        return pa.types.is_boolean(source) or _is_text(source)
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        return pa.types.is_integer(source) or pa.types.is_floating(source) or _is_text(source)
    return True


def _parse_json_cells(values: list[Any], target: pa.DataType, name: str, errors: dict[int, SchemaError]) -> list:
    """JSON text cells (CSV/TSV) decoded for a nested ``target``; bad cells become null + an error."""
    decoded: list[Any] = []
    for row, text in enumerate(values):
        if text is None or text == "":
            decoded.append(None)
            continue
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            errors[row] = SchemaError(
                "value is not valid JSON",
                where=Where(field=name),
                value=text,
                hint=f"a {name} cell must hold JSON for type {target} ({getattr(exc, 'msg', 'nested too deeply')})",
            )
            value = None
        decoded.append(value)
    return decoded


def _nested_array(values: list[Any], target: pa.DataType, name: str, errors: dict[int, SchemaError]) -> pa.ChunkedArray:
    """``values`` as one array of ``target``; when that fails, value by value, each bad one a row error."""
    try:
        return pa.chunked_array([pa.array(values, type=target)])
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.chunked_array([_cast_values(values, lambda v: pa.array([v], target)[0], target, name, errors)])


def _cast_values(
    values: list[Any], convert: Any, target: pa.DataType, name: str, errors: dict[int, SchemaError]
) -> pa.Array:
    """Convert value by value (the slow path, after a whole-column cast failed): a value that
    ``convert`` cannot take becomes null and gets a "wrong type" error by its row index."""
    out: list[Any] = []
    for row, value in enumerate(values):
        if value is None or row in errors:
            out.append(None)
            continue
        try:
            out.append(convert(value))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            errors[row] = SchemaError("wrong type", where=Where(field=name), value=value, hint=f"expected {target}")
            out.append(None)
    return pa.array(out, type=target)


def is_struct_of_lists(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether ``source`` is the Hugging Face Hub layout of the list of structs ``target``: one
    struct of parallel lists with the same field names (``answers: {text: [...], answer_start:
    [...]}`` for ``answers: [{text, answer_start}]``)."""
    if not (pa.types.is_struct(source) and pa.types.is_list(target) and pa.types.is_struct(target.value_type)):
        return False
    fields = [source.field(i) for i in range(source.num_fields)]
    wanted = {target.value_type.field(i).name for i in range(target.value_type.num_fields)}
    lists = all(pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_null(f.type) for f in fields)
    return lists and {f.name for f in fields} == wanted


def _zip_lists(values: list[Any], target: pa.DataType, name: str, errors: dict[int, SchemaError]) -> list[Any]:
    """Struct-of-lists cells turned into lists of structs; a cell whose lists differ in length
    becomes null with an error by its row index."""
    names = [target.value_type.field(i).name for i in range(target.value_type.num_fields)]
    out: list[Any] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        parts = [value[n] or [] for n in names]
        if len({len(p) for p in parts}) > 1:
            errors[row] = SchemaError(
                f"the lists of '{name}' differ in length",
                where=Where(field=name),
                value=value,
                hint=f"{' and '.join(names)} need one item per answer",
            )
            out.append(None)
            continue
        out.append([dict(zip(names, items, strict=True)) for items in zip(*parts, strict=True)])
    return out


def _cast_column(
    column: pa.ChunkedArray, target: pa.DataType, name: str
) -> tuple[pa.ChunkedArray, dict[int, SchemaError]]:
    """``column`` cast to ``target``, and the rows (0-based) whose value cannot take it (null in
    the returned column)."""
    if column.type == target:
        return column, {}
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), target)]), {}
    errors: dict[int, SchemaError] = {}
    if is_struct_of_lists(column.type, target):
        values = _zip_lists(column.to_pylist(), target, name, errors)
        return _nested_array(values, target, name, errors), errors
    if not _castable(column.type, target):
        for row, value in enumerate(column.to_pylist()):
            if value is not None:
                hint = f"expected {target}" + (f"; {_TEXT_HINT}" if pa.types.is_string(target) else "")
                errors[row] = SchemaError("wrong type", where=Where(field=name), value=value, hint=hint)
        return pa.chunked_array([pa.nulls(len(column), target)]), errors
    nested = pa.types.is_list(target) or pa.types.is_struct(target)
    if nested and _is_text(column.type):
        values = _parse_json_cells(column.to_pylist(), target, name, errors)
        return _nested_array(values, target, name, errors), errors
    if _is_text(column.type) and not pa.types.is_string(target):
        # an empty CSV/TSV cell is a missing value for a bool or number, as for nested types above
        column = column.cast(pa.string())
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    try:
        return column.cast(target), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if nested or pa.types.is_list(column.type) or pa.types.is_struct(column.type):
        one = lambda v: pa.array([v], target)[0]  # noqa: E731
    else:
        source = column.type
        one = lambda v: pa.array([v], source).cast(target)[0]  # noqa: E731
    return pa.chunked_array([_cast_values(column.to_pylist(), one, target, name, errors)]), errors


def generated_ids(rows: int, file: str | None, first_row: int = 0) -> pa.Array:
    """Ids for data that has none: ``<file stem>-<1-based row>`` (``row-<n>`` without a file);
    ``first_row`` rows of the same file came before (in earlier chunks)."""
    prefix = Path(file).name.split(".")[0] if file else "row"
    return pa.array([f"{prefix}-{i}" for i in range(first_row + 1, first_row + rows + 1)], pa.string())


def row_ids(rows: Any, kind: str, first_row: int = 0) -> list[str]:
    """Each row's id as text: the kind's key column, or ``#<row number>`` (0-based, ``first_row``
    the number of the first) for kinds without a key. ``rows`` is an Arrow table or anything with
    its ``schema``, ``column(name)`` and ``num_rows`` (a :class:`~curate.dataset.Dataset`)."""
    key = get_schema(kind).key
    if key and key in rows.schema.names:
        return [str(v) for v in rows.column(key).to_pylist()]
    return [f"#{first_row + i}" for i in range(rows.num_rows)]


@dataclass(frozen=True)
class BadValue:
    """A row that cannot take its kind's schema: ``row`` (0-based index into the table) and the
    ``error`` (its ``where`` names the file, the line when known, the 1-based row and the field)."""

    row: int
    error: SchemaError


def conform_rows(
    table: pa.Table,
    kind: str,
    *,
    file: str | None = None,
    lines: Sequence[int] | None = None,
    first_row: int = 0,
) -> tuple[pa.Table, list[BadValue]]:
    """Cast ``table`` to ``kind`` like :func:`conform`, setting aside the rows that cannot take it.

    Returns:
        The conformed rows that fit, and one :class:`BadValue` per row that does not (its first
        problem, in schema order), by row. ``lines`` (1-based source lines of the rows) are named
        in the errors when given. ``first_row``: rows of the same file before ``table`` (a chunk
        of a file read piece by piece), counted into the row numbers and generated ids.

    Raises:
        SchemaError: a problem of the whole table (a missing required column, a repeated column name).
    """
    schema = get_schema(kind)
    unreadable = next((n for n in table.column_names if "\x00" in n), None)
    if unreadable is not None:
        raise SchemaError(
            "column name holds a NUL character",
            where=Where(file=file, field=repr(unreadable)[1:-1]),
            value=unreadable,
            hint="Parquet readers cut such a name short: rename the column",
        )
    repeated = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
    if repeated:
        raise SchemaError(
            f"column '{repeated[0]}' appears twice",
            where=Where(file=file, field=repeated[0]),
            value=table.column_names,
            hint="give every column its own name (check --rename / `columns:`)",
        )
    if schema.key and schema.key not in table.column_names:
        if "_id" in table.column_names:
            index = table.column_names.index("_id")
            column, problems = _cast_column(table.column("_id"), pa.string(), "_id")
            if problems:
                row, error = min(problems.items())
                raise error.at(file=file, row=first_row + row + 1)
            table = table.set_column(index, schema.key, column)
        else:
            table = table.append_column(schema.key, generated_ids(table.num_rows, file, first_row))
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
    bad: dict[int, SchemaError] = {}
    for field in schema.fields:
        if field.name not in present:
            columns[field.name] = pa.chunked_array([pa.nulls(table.num_rows, field.type)])
            continue
        column, errors = _cast_column(table.column(field.name), field.type, field.name)
        for row, error in errors.items():
            bad.setdefault(row, error)
        if field.required and column.null_count:
            for row in pc.indices_nonzero(pc.is_null(column)).to_pylist():
                bad.setdefault(
                    row,
                    SchemaError(
                        "missing value in a required field",
                        where=Where(field=field.name),
                        value=None,
                        hint=f"every row of kind '{kind}' needs '{field.name}'",
                    ),
                )
        columns[field.name] = column
    for name in table.column_names:
        if name not in columns:
            columns[name] = table.column(name)
    conformed = pa.table(columns, metadata=table.schema.metadata)
    found = [
        BadValue(row, error.at(file=file, line=lines[row] if lines else None, row=first_row + row + 1))
        for row, error in sorted(bad.items())
    ]
    if found:
        keep = pa.array([i not in bad for i in range(conformed.num_rows)])
        conformed = conformed.filter(keep)
    return conformed, found


def conform(table: pa.Table, kind: str, *, file: str | None = None, lines: Sequence[int] | None = None) -> pa.Table:
    """Cast ``table`` to ``kind``: schema columns first in schema order, extra columns kept after.

    A kind's id column (``key``) that the data lacks is taken from a BEIR-style ``_id`` column, or
    else generated (see :func:`generated_ids`). Values change type only where the meaning cannot
    change (see :func:`_castable`): integers into text, text cells of CSV into numbers, booleans and
    JSON for nested types.

    Raises:
        SchemaError: a required column is missing, holds nulls, or a value cannot take its type;
            the message names the file, the line (with ``lines``), the 1-based row, the field and
            the value, for the first such row.
    """
    conformed, bad = conform_rows(table, kind, file=file, lines=lines)
    if bad:
        raise bad[0].error
    return conformed


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
