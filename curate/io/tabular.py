"""Row-per-record formats: JSON Lines (``.gz`` too), a JSON array of records, CSV/TSV, Parquet.

Readers return :class:`~curate.io.quarantine.Rows`: an Arrow table, the rows they could not parse
(only when asked to skip them; otherwise the first bad row raises an error naming file, line and
value) and, where the format has lines, the source line of every row. Writers take any table; nested values (lists,
structs) become JSON text in CSV/TSV cells. The ``*_source`` functions give the same rows in chunks
(:class:`~curate.io.quarantine.Source`), deciding what depends on the whole file in a first pass.

Values keep their JSON type, with one conversion: a field holding integers and text in different
rows is read as text (``7`` -> ``"7"``, the way ids often are). Any other mix (text and floats,
booleans and text, objects and lists) is an error naming the first row whose type differs from
the field's first value, or with ``skip_bad_rows`` that row is set aside. A JSON object with the
same key twice, a lone surrogate (``"\\ud800"``) or nesting deeper than
:data:`~curate.io.files.MAX_JSON_DEPTH` is a bad row too. CSV/TSV headers must name every column
once.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curate.dataset import parquet_schema
from curate.errors import InputError, OutputError, Where, show_value
from curate.io.files import (
    MAX_JSON_DEPTH,
    create_text,
    input_file,
    json_problem,
    not_utf8,
    open_text,
    unreadable,
)
from curate.io.quarantine import BadRow, Rows, Source, Unstreamable
from curate.sql import connect

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long passage is one CSV cell


_SKIP_HINT = "fix the line, or skip bad rows (--skip-bad-rows / on_error: skip) to quarantine them"

# --------------------------------------------------------------------------- JSON values


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list" if isinstance(value, list) else "object"


def _fits(value_type: str, column_type: str) -> bool:
    """Whether a value of ``value_type`` can sit in a field whose first value is ``column_type``."""
    numbers = {"integer", "number"}
    return (
        value_type == column_type
        or {value_type, column_type} <= numbers
        or (value_type == "integer" and column_type == "text")
        or (value_type == "text" and column_type == "integer")
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise ValueError(f"key '{repeated}' appears twice in one object")
    return record


def _parse_line(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one JSON Lines line: ``(record, None)`` or ``(None, what is wrong)``."""
    try:
        record = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON ({exc.msg}, column {exc.colno})"
    except ValueError as exc:
        return None, str(exc)
    except RecursionError:
        return None, f"value is nested more than {MAX_JSON_DEPTH} levels deep"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, found {_json_type(record) if record is not None else 'null'}"
    found = json_problem(record)
    if found is not None:
        return None, f"{found[1]} (field '{found[0]}')"
    return record, None


class _TypeCheck:
    """The JSON type of every field, taken from its first value, and the values that do not fit it
    (see the module docstring). Rows are checked one at a time in file order, the fields of a row in
    the order the file first names them, so a row set aside for one field is not seen by the next."""

    def __init__(self, skip: bool) -> None:
        self.skip = skip
        self.names: dict[str, int] = {}  # every field, in the order of first appearance
        self.first: dict[str, tuple[str, int]] = {}  # the type of its first value, and that line
        self.misfits: dict[str, tuple[str, int, Any, str]] = {}  # (what, line, value, hint): first misfit

    def check(self, record: dict[str, Any], line: int) -> str | None:
        """Why ``record`` (on ``line``) is set aside when skipping, else ``None``."""
        for name in record:
            if name not in self.names and not _good_name(name):
                what = "field name is empty or holds a NUL character"
                if self.skip:
                    return f"{what}: got {show_value(name)}"
                self.misfits.setdefault(name, (what, line, name, "name every field"))
            self.names.setdefault(name, len(self.names))
        for name in sorted(record, key=self.names.__getitem__):
            value = record[name]
            if value is None:
                continue
            value_type = _json_type(value)
            first = self.first.setdefault(name, (value_type, line))
            if not _fits(value_type, first[0]):
                what = f"field holds {value_type} here but {first[0]} on line {first[1]}"
                if self.skip:
                    return f"{what} (field '{name}'): got {show_value(value)}"
                self.misfits.setdefault(name, (what, line, value, "give the field one type in every row"))
        return None

    def raise_first(self, file: str) -> None:
        """The error for the first misfit of the first field that has one (when failing)."""
        if self.misfits:
            name = min(self.misfits, key=self.names.__getitem__)
            what, line, value, hint = self.misfits[name]
            raise InputError(
                what,
                where=Where(file=file, line=line, field=name),
                value=value,
                hint=f"{hint}, or skip bad rows (--skip-bad-rows / on_error: skip)",
            )


def _records_to_table(
    records: list[dict[str, Any]], lines: list[int], file: str, raws: list[str] | None
) -> tuple[pa.Table, list[int], dict[int, BadRow]]:
    """Columns from JSON records, the lines of the rows kept, and the rows set aside by line.

    A value whose type does not fit its field (see the module docstring) raises an InputError, or
    with ``raws`` (the source text of each record, given when skipping) sets its row aside.
    """
    check = _TypeCheck(skip=raws is not None)
    bad: dict[int, str] = {}
    for index, record in enumerate(records):
        reason = check.check(record, lines[index])
        if reason is not None:
            bad[index] = reason
    check.raise_first(file)
    names = dict.fromkeys(check.names)
    while True:
        keep = [i for i in range(len(records)) if i not in bad]
        columns, failed = _columns([records[i] for i in keep], names)
        if failed is None:
            break
        index, name = keep[failed[0]], failed[1]
        what = "value does not fit in one column with the rows before it"
        if raws is None:
            raise InputError(
                what,
                where=Where(file=file, line=lines[index], field=name),
                value=records[index][name],
                hint="give the field one type in every row, or skip bad rows (--skip-bad-rows / on_error: skip)",
            )
        bad[index] = f"{what} (field '{name}'): got {show_value(records[index][name])}"
    set_aside = {
        lines[i]: BadRow(file=file, location=f"line {lines[i]}", reason=reason, raw=raws[i])
        for i, reason in bad.items()
        if raws is not None
    }
    return pa.table(columns), [lines[i] for i in keep], set_aside


def _columns(
    records: list[dict[str, Any]], names: dict[str, None]
) -> tuple[dict[str, pa.Array], tuple[int, str] | None]:
    """Arrow columns of ``records``, or ``(partial, (row, name))`` naming the first row whose value
    Arrow cannot put in one column with the rows before it (huge integers, clashing nested types)."""
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in records]
        kinds = {_json_type(v) for v in values if v is not None}
        if kinds == {"integer", "text"}:
            values = [None if v is None else str(v) for v in values]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return columns, (_first_misfit(values), name)
    return columns, None


def _first_misfit(values: list[Any]) -> int:
    """Index of the first value that Arrow cannot convert together with the values before it."""

    def converts(end: int) -> bool:
        try:
            pa.array(values[:end])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return False
        return True

    # the smallest prefix length that fails, found by bisection; its last value is the misfit
    return bisect_left(range(len(values) + 1), True, key=lambda end: not converts(end)) - 1


def _has_timestamp(dtype: pa.DataType) -> bool:
    return pa.types.is_timestamp(dtype) or any(_has_timestamp(dtype.field(i).type) for i in range(dtype.num_fields))


def _depth(dtype: pa.DataType) -> int:
    return 1 + max((_depth(dtype.field(i).type) for i in range(dtype.num_fields)), default=0)


# A line that does not start with "{" (a top-level null crashes Arrow's reader: apache/arrow#47409).
_NOT_AN_OBJECT = re.compile(rb"\n(?![{\n]|\Z)")


def _read_jsonl_arrow(path: Path) -> pa.Table:
    """Arrow's fast JSON Lines reader, for files whose every line is one object; text it took for a
    timestamp is read again as text. Anything unusual raises ArrowInvalid: the line-by-line reader
    then reads the file and names the bad line."""
    data = pa.input_stream(str(path), compression="detect").read()
    return _arrow_lines(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)


def _arrow_lines(data: bytes) -> pa.Table:
    """What :func:`_read_jsonl_arrow` makes of JSON Lines ``data`` (the whole file, or lines of it)."""
    if not data.startswith(b"{") or _NOT_AN_OBJECT.search(data):
        raise pa.ArrowInvalid("a line that is not one JSON object")
    # one thread: with several, the order of the columns depends on which block is parsed first
    options = pajson.ReadOptions(block_size=16 << 20, use_threads=False)
    table = pajson.read_json(pa.BufferReader(data), read_options=options)
    if any(_depth(f.type) > MAX_JSON_DEPTH for f in table.schema):
        raise pa.ArrowInvalid("nested too deeply")
    if any(_has_timestamp(f.type) for f in table.schema):
        # a nested timestamp cannot be read as text: ArrowInvalid, the line-by-line reader takes over
        as_text = pa.schema([pa.field(f.name, pa.string()) if _has_timestamp(f.type) else f for f in table.schema])
        parse = pajson.ParseOptions(explicit_schema=as_text)
        table = pajson.read_json(pa.BufferReader(data), read_options=options, parse_options=parse)
    table.validate(full=True)  # invalid UTF-8, or lists Arrow built wrong (apache/arrow#51305)
    if table.num_rows != data.count(b"\n{") + 1:
        raise pa.ArrowInvalid("rows and lines differ")
    return table


def _arrow_schema(path: Path, group_rows: int) -> pa.Schema | None:
    """The schema :func:`read_jsonl` gets from Arrow's fast reader for the whole file, found
    ``group_rows`` lines at a time; ``None`` when the fast reader would not take the file (the
    line-by-line reader reads it then, naming lines in its errors)."""
    try:
        schemas = [table.schema for table in _arrow_groups(path, group_rows)]
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, OSError, EOFError, RecursionError, ValueError):
        return None


def _arrow_groups(path: Path, group_rows: int) -> Iterator[pa.Table]:
    """Arrow's fast reader on ``group_rows`` lines of ``path`` at a time (ArrowInvalid where it
    would not take a group)."""
    with pa.input_stream(str(path), compression="detect") as stream:
        data, count, first = bytearray(), 0, True
        for line in _byte_lines(stream):
            if first and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            first = False
            if count >= group_rows and line != b"\n":  # a group starts where a line does
                yield _fast_table(bytes(data))
                data, count = bytearray(), 0
            data += line
            count += line != b"\n"
        yield _fast_table(bytes(data))


def _arrow_chunks(path: Path, chunk_rows: int, schema: pa.Schema) -> Iterator[Rows]:
    """The rows of ``path`` through Arrow's fast reader, ``chunk_rows`` at a time, as the whole
    file gives them: each chunk cast to ``schema`` (:func:`_arrow_schema`), the columns it lacks
    null. Raises :class:`Unstreamable` when a chunk cannot be cast."""
    for table in _arrow_groups(path, chunk_rows):
        columns = []
        for field in schema:
            if field.name not in table.column_names:
                columns.append(pa.nulls(table.num_rows, field.type))
                continue
            try:
                columns.append(table.column(field.name).cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                raise Unstreamable(field.name) from None
        try:  # a cast can give an invalid array (a list of structs whose fields are all null)
            chunk = pa.table(columns, schema=schema)
        except pa.ArrowInvalid:
            raise Unstreamable(str(path)) from None
        yield Rows(chunk)


def _byte_lines(stream: Any) -> Iterator[bytes]:
    """The lines of a binary stream, each with its ``\\n``."""
    rest = b""
    while block := stream.read(1 << 20):
        *lines, rest = (rest + block).split(b"\n")
        yield from (line + b"\n" for line in lines)
    if rest:
        yield rest


def _fast_table(data: bytes) -> pa.Table:
    table = _arrow_lines(data)
    if not table.num_columns or _has_empty_row(table) or not all(map(_good_name, table.column_names)):
        raise pa.ArrowInvalid("a row without values, or a field without a name")
    return table


def _good_name(name: str) -> bool:
    """Whether a field name can name a column (Parquet's too): not empty, no NUL character."""
    return bool(name) and "\x00" not in name


def _has_empty_row(table: pa.Table) -> bool:
    """A row with no value at all: a ``null`` or ``{}`` line, which the line reader names."""
    empty = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        empty = pc.and_(empty, pc.is_null(column))
    return bool(pc.any(empty).as_py())


def _jsonl_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, str]]:
    """Every non-blank line of a JSON Lines file: ``(line number, record or None, what is wrong, line)``."""
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, *_parse_line(line), line
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except (OSError, EOFError) as exc:
        raise unreadable(path, exc) from None


def _bad_line(file: str, number: int, problem: str | None, line: str, skip: bool) -> BadRow:
    """The quarantine entry of an unparsable line; when not skipping, its InputError."""
    if not skip:
        raise InputError(str(problem), where=Where(file=file, line=number), value=line.strip(), hint=_SKIP_HINT)
    return BadRow(file=file, location=f"line {number}", reason=str(problem), raw=line.rstrip("\r\n"))


def read_jsonl(path: Path, *, skip_bad_rows: bool = False) -> Rows:
    """Read JSON Lines (one object per line; ``.gz`` allowed; blank lines ignored)."""
    input_file(path)
    if not skip_bad_rows:
        try:
            table = _read_jsonl_arrow(path)
        except (pa.ArrowException, OSError, RecursionError, ValueError):
            pass  # the line-by-line reader below names the bad line (ValueError: a key not UTF-8)
        else:
            if table.num_columns and not _has_empty_row(table) and all(map(_good_name, table.column_names)):
                return Rows(table)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    raws: list[str] = []
    bad: dict[int, BadRow] = {}
    file = str(path)
    for number, record, problem, line in _jsonl_lines(path):
        if record is None:
            bad[number] = _bad_line(file, number, problem, line, skip_bad_rows)
            continue
        records.append(record)
        lines.append(number)
        raws.append(line.rstrip("\r\n"))
    table, kept_lines, misfits = _records_to_table(records, lines, file, raws if skip_bad_rows else None)
    bad.update(misfits)
    kept_raws = [raws[i] for i, line in enumerate(lines) if line not in misfits] if skip_bad_rows else None
    return Rows(table, [bad[line] for line in sorted(bad)], kept_lines, kept_raws)


def jsonl_source(path: Path, *, chunk_rows: int, skip_bad_rows: bool = False) -> Source:
    """JSON Lines in chunks of ``chunk_rows`` rows, with the rows, types and errors of
    :func:`read_jsonl`, in two passes. A file Arrow's fast reader takes (as :func:`read_jsonl` reads
    it when not skipping) goes through it chunk by chunk: the first pass decides each column's type
    over the whole file, the second casts each chunk to it. Otherwise the first pass parses every
    line, checks the field types and decides each column's Arrow type over the whole file (a chunk
    that widens a type, ``1`` then ``2.5``, widens it for all); the second parses the lines again
    and builds the chunks. Raises :class:`Unstreamable` when Arrow cannot type a column chunk by
    chunk (the file is read whole then).
    """
    input_file(path)
    file = str(path)
    # the whole file goes through Arrow's fast reader when not skipping and it can: no lines then
    fast = None if skip_bad_rows else _arrow_schema(path, chunk_rows)
    if fast is not None:
        return Source(fast, _arrow_chunks(path, chunk_rows, fast))
    return _jsonl_chunks(path, file, chunk_rows, skip_bad_rows)


def _jsonl_chunks(path: Path, file: str, chunk_rows: int, skip_bad_rows: bool) -> Source:
    check = _TypeCheck(skip_bad_rows)
    bad: dict[int, BadRow] = {}
    kinds: dict[str, set[str]] = {}  # JSON types of the values kept
    types: dict[str, dict[pa.DataType, None]] = {}  # Arrow types of the chunks, in order

    def note(records: list[dict[str, Any]]) -> None:
        for name in check.names:
            values = [record.get(name) for record in records]
            found = {_json_type(v) for v in values if v is not None}
            kinds.setdefault(name, set()).update(found)
            if found == {"integer", "text"}:
                values = [None if v is None else str(v) for v in values]
            try:
                dtype = pa.array(values).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                raise Unstreamable(name) from None
            if not pa.types.is_null(dtype):
                types.setdefault(name, {})[dtype] = None

    buffer: list[dict[str, Any]] = []
    for number, record, problem, line in _jsonl_lines(path):
        if record is None:
            bad[number] = _bad_line(file, number, problem, line, skip_bad_rows)
            continue
        reason = check.check(record, number)
        if reason is not None:
            bad[number] = BadRow(file=file, location=f"line {number}", reason=reason, raw=line.rstrip("\r\n"))
            continue
        buffer.append(record)
        if len(buffer) == chunk_rows:
            note(buffer)
            buffer = []
    note(buffer)
    check.raise_first(file)
    schema = pa.schema([pa.field(name, _decided(name, kinds[name], list(types.get(name, {})))) for name in check.names])
    as_text = {name for name, found in kinds.items() if found == {"integer", "text"}}

    def table(records: list[dict[str, Any]]) -> pa.Table:
        columns = {}
        for field in schema:
            values = [record.get(field.name) for record in records]
            if field.name in as_text:
                values = [None if v is None else str(v) for v in values]
            try:
                columns[field.name] = pa.array(values, field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                raise Unstreamable(field.name) from None
        return pa.table(columns, schema=schema)

    def chunks() -> Iterator[Rows]:
        yield Rows(schema.empty_table(), [bad[line] for line in sorted(bad)], [], [] if skip_bad_rows else None)
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        raws: list[str] = []
        for number, record, _, line in _jsonl_lines(path):
            if record is None or number in bad:
                continue
            records.append(record)
            lines.append(number)
            raws.append(line.rstrip("\r\n"))
            if len(records) == chunk_rows:
                yield Rows(table(records), [], lines, raws if skip_bad_rows else None)
                records, lines, raws = [], [], []
        if records:
            yield Rows(table(records), [], lines, raws if skip_bad_rows else None)

    return Source(schema, chunks())


def _decided(name: str, kinds: set[str], types: list[pa.DataType]) -> pa.DataType:
    """The type of a column over the whole file from the types of its chunks (first seen first:
    struct fields keep the order the file names them)."""
    if kinds == {"integer", "text"}:
        return pa.string()
    if len(types) <= 1:
        return types[0] if types else pa.null()
    try:
        schema = pa.unify_schemas([pa.schema([pa.field(name, t)]) for t in types], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise Unstreamable(name) from None
    return schema.field(name).type


def read_json_records(path: Path) -> Rows:
    """Read a JSON array of objects (``[{...}, {...}]``)."""
    file = str(path)
    try:
        with open_text(path) as handle:
            records = json.load(handle, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", where=Where(file=file, line=exc.lineno)) from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except RecursionError:
        raise InputError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep", where=Where(file=file)) from None
    except ValueError as exc:
        raise InputError(str(exc), where=Where(file=file)) from None
    except (OSError, EOFError) as exc:
        raise unreadable(path, exc) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(
            "expected a JSON array of objects", where=Where(file=file), hint="SQuAD files need --from squad"
        )
    for index, record in enumerate(records):
        found = json_problem(record)
        if found is not None:
            raise InputError(found[1], where=Where(file=file, row=index + 1, field=found[0]))
    # a JSON array has no lines per record: the 1-based position stands in for them
    table, _, _ = _records_to_table(records, list(range(1, len(records) + 1)), file, None)
    return Rows(table)


def _split_lines(blocks: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Rows of text cut at every ``\\n`` only (a lone ``\\r`` stays in its field), then at ``delimiter``."""
    number, rest = 0, ""
    for block in blocks:
        *lines, rest = (rest + block).split("\n")
        for line in lines:
            number += 1
            yield number, (line[:-1] if line.endswith("\r") else line).split(delimiter)
    if rest:
        yield number + 1, (rest[:-1] if rest.endswith("\r") else rest).split(delimiter)


def _blocks(handle: IO[str]) -> Iterator[str]:
    while block := handle.read(1 << 20):
        yield block


def _check_header(header: list[str], file: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(header):
        if not name.strip():
            raise InputError(
                f"column {index + 1} of the header has no name",
                where=Where(file=file, line=1),
                value=header,
                hint="name every column in the first line (an unnamed index column: drop it)",
            )
        if name in seen:
            raise InputError(
                f"column name '{name}' appears twice in the header",
                where=Where(file=file, line=1, field=name),
                value=header,
                hint="give every column its own name",
            )
        seen.add(name)


def read_delimited(path: Path, *, delimiter: str, quote: str | None, skip_bad_rows: bool = False) -> Rows:
    """Read CSV/TSV with a header row; every value is read as text (the schema casts it later).

    With ``quote=None`` (the TSV default) each ``\\n``-terminated line is one row, split on the
    delimiter, so stray quotes and carriage returns inside fields are kept as text.
    """
    source = delimited_source(path, delimiter=delimiter, quote=quote, skip_bad_rows=skip_bad_rows)
    return next(iter(source.chunks))


def delimited_source(
    path: Path, *, delimiter: str, quote: str | None, skip_bad_rows: bool = False, chunk_rows: int | None = None
) -> Source:
    """CSV/TSV as :func:`read_delimited` reads it, in chunks of ``chunk_rows`` rows (``None``: one
    chunk). A first pass reads the whole file, so its errors (not UTF-8, not valid CSV, a bad
    header, a row with another number of fields when not skipping) come before any row, as when it
    is read whole; a second builds the chunks."""
    file = str(path)
    header: list[str] = []

    def rows() -> Iterator[tuple[int, list[str]]]:
        if whole is not None:
            yield from whole
            return
        try:
            with open_text(path) as handle:
                if quote is None:
                    yield from _split_lines(_blocks(handle), delimiter)
                    return
                reader = csv.reader(handle, delimiter=delimiter, quotechar=quote, strict=True)
                try:
                    for row in reader:
                        yield reader.line_num, row
                except csv.Error as exc:
                    error = InputError(f"malformed CSV ({exc})", where=Where(file=file, line=reader.line_num))
                    for _ in _blocks(handle):  # a file that is not UTF-8 further on fails so first
                        pass
                    raise error from None
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None
        except (OSError, EOFError) as exc:
            raise unreadable(path, exc) from None

    def body(found: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str], str | None]]:
        """The rows after the header, each with what is wrong with it (or None)."""
        for number, row in found:
            if row == [""] or not row:
                continue
            problem = None if len(row) == len(header) else f"expected {len(header)} fields, found {len(row)}"
            if problem and not skip_bad_rows:
                raise InputError(
                    problem,
                    where=Where(file=file, line=number),
                    value=delimiter.join(row),
                    hint="check the delimiter and quoting (--quote for quoted TSV), or --skip-bad-rows",
                )
            yield number, row, problem

    def start() -> Iterator[tuple[int, list[str]]]:
        """The rows after the header; the header is checked."""
        nonlocal header
        header, found = [], rows()
        for _, header in found:
            if header not in ([], [""]):
                break
        if header in ([], [""]):
            raise InputError(
                "file is empty: no header row", where=Where(file=file), hint="the first line names the columns"
            )
        _check_header(header, file)
        return found

    whole: list[tuple[int, list[str]]] | None = None
    if chunk_rows is None:  # read once, kept for both passes
        whole = list(rows())
    checked = rows()
    try:
        for _ in body(start()):
            pass
    except InputError as exc:
        for _ in checked:  # not UTF-8 or not CSV further on: that error comes first
            pass
        raise exc from None
    schema = pa.schema([pa.field(name, pa.string()) for name in header])

    def table(kept: list[list[str]], bad: list[BadRow], lines: list[int]) -> Rows:
        columns = {name: pa.array([row[i] for row in kept], pa.string()) for i, name in enumerate(header)}
        raws = [delimiter.join(row) for row in kept] if skip_bad_rows else None
        return Rows(pa.table(columns, schema=schema), bad, lines, raws)

    def chunks() -> Iterator[Rows]:
        kept: list[list[str]] = []
        lines: list[int] = []
        bad: list[BadRow] = []
        for number, row, problem in body(start()):
            if problem:
                bad.append(BadRow(file=file, location=f"line {number}", reason=problem, raw=delimiter.join(row)))
                continue
            kept.append(row)
            lines.append(number)
            if len(kept) == chunk_rows:
                yield table(kept, bad, lines)
                kept, lines, bad = [], [], []
        if kept or bad or chunk_rows is None:
            yield table(kept, bad, lines)

    return Source(schema, chunks())


def read_parquet(paths: list[Path]) -> Rows:
    """Read Parquet file(s) through DuckDB, keeping curate's schema metadata. Every file must have
    the same columns with the same types, each name once."""
    return next(iter(parquet_source(paths).chunks))


def parquet_source(paths: list[Path], *, chunk_rows: int | None = None) -> Source:
    """Parquet file(s) as :func:`read_parquet` reads them, in record batches of ``chunk_rows`` rows
    (``None``: one chunk)."""
    if not paths:
        raise InputError("no Parquet files to read", hint="give a .parquet file or a folder holding some")
    schemas = [parquet_schema(input_file(p)) for p in paths]
    names = schemas[0].names
    for name in names:
        if not name or names.count(name) > 1 or "\x00" in name:
            raise InputError(
                "Parquet column name is empty, appears twice or holds a NUL character",
                where=Where(file=str(paths[0]), field=name),
                value=names,
                hint="give every column its own name",
            )
    for path, schema in zip(paths[1:], schemas[1:], strict=True):
        if [(f.name, f.type) for f in schema] != [(f.name, f.type) for f in schemas[0]]:
            raise InputError(
                "Parquet files of one dataset have different columns or types",
                where=Where(file=str(path)),
                value=str(schema.remove_metadata()).replace("\n", ", "),
                hint=f"{paths[0].name} has {', '.join(f'{f.name}: {f.type}' for f in schemas[0])}",
            )
    metadata = schemas[0].metadata
    files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
    sql = f"SELECT * FROM read_parquet({files})"
    try:
        if chunk_rows is None:
            table = connect(reads=paths).sql(sql).to_arrow_table()
            table = table.replace_schema_metadata(metadata) if metadata else table
            return Source(table.schema, [Rows(table)])
        schema = connect(reads=paths).sql(sql + " LIMIT 0").to_arrow_table().schema
    except duckdb.Error as exc:
        raise _not_parquet(paths, exc) from None

    def chunks() -> Iterator[Rows]:
        con = connect(reads=paths)
        try:
            for batch in con.sql(sql).to_arrow_reader(chunk_rows):
                yield Rows(pa.Table.from_batches([batch], schema).replace_schema_metadata(metadata))
        except duckdb.Error as exc:
            raise _not_parquet(paths, exc) from None

    return Source(schema.with_metadata(metadata or {}), chunks())


def _not_parquet(paths: list[Path], exc: duckdb.Error) -> InputError:
    return InputError("cannot read Parquet", where=Where(file=str(paths[0])), value=str(exc).splitlines()[0])


# --------------------------------------------------------------------------- writing


Tables: TypeAlias = pa.Table | Iterable[pa.Table]
"""Rows to write: one table, or tables of one schema in row order (batches, read one at a time)."""


def batches_of(tables: Tables) -> Iterator[pa.RecordBatch]:
    """The rows of a table, or of tables in order, as record batches of at most 8,192 rows."""
    for table in [tables] if isinstance(tables, pa.Table) else tables:
        yield from table.to_batches(8192)


def write_jsonl(tables: Tables, path: Path, *, name: Path | None = None) -> None:
    """One JSON object per row, UTF-8, in row order (gzip when the final ``name`` ends in ``.gz``)."""
    with create_text(path, name) as handle:
        for batch in batches_of(tables):
            for record in batch.to_pylist():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_delimited(tables: Tables, path: Path, *, delimiter: str, quote: str | None, name: Path | None = None) -> None:
    """CSV (quoted where needed) or TSV (no quoting: a tab or newline inside a value is an error
    naming the final file ``name``); gzip when ``name`` (default ``path``) ends in ``.gz``. The
    header is the first table's column names (give at least one table, empty if need be)."""
    with create_text(path, name) as handle:
        header = False
        if quote is not None:
            writer = csv.writer(handle, delimiter=delimiter, quotechar=quote, lineterminator="\n")
            # the csv module quotes a field holding "\n" (the line end) but not a lone "\r", which
            # every reader takes for a line end too: such rows are written with every field quoted
            quoted = csv.writer(
                handle, delimiter=delimiter, quotechar=quote, lineterminator="\n", quoting=csv.QUOTE_ALL
            )
            for table in [tables] if isinstance(tables, pa.Table) else tables:
                if not header:
                    writer.writerow(table.column_names)
                    header = True
                for batch in table.to_batches(8192):
                    for record in batch.to_pylist():
                        cells = [_cell(v) for v in record.values()]
                        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
            return
        row_index = 0
        for table in [tables] if isinstance(tables, pa.Table) else tables:
            if not header:
                handle.write(delimiter.join(table.column_names) + "\n")
                header = True
            for batch in table.to_batches(8192):
                for record in batch.to_pylist():
                    row_index += 1
                    cells = [_cell(v) for v in record.values()]
                    for column, cell in zip(table.column_names, cells, strict=True):
                        if delimiter in cell or "\n" in cell or "\r" in cell:
                            raise InputError(
                                "value holds a tab or line break, which TSV without quoting cannot store",
                                where=Where(file=str(name or path), row=row_index, field=column),
                                value=cell,
                                hint="write CSV, JSON Lines or Parquet instead, or --quote '\"'",
                            )
                    handle.write(delimiter.join(cells) + "\n")


def write_parquet(tables: Tables, path: Path) -> None:
    """Parquet with zstd compression; curate metadata kept in the schema (the first table's schema:
    the others are cast to it, as batches of one dataset are). A column Parquet cannot hold (a
    struct without fields: ``{}`` in every row of a JSON field) is an OutputError."""
    try:
        if isinstance(tables, pa.Table):
            pq.write_table(tables, path, compression="zstd")
            return
        writer: pq.ParquetWriter | None = None
        try:
            for table in tables:
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(path, schema, compression="zstd")
                elif table.schema != schema:
                    table = table.cast(schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ValueError("write_parquet needs at least one table (an empty one holds the schema)")
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
        raise OutputError(
            "Parquet cannot hold these rows",
            value=str(exc).splitlines()[0],
            hint="drop or fill the column (a JSON object that is empty in every row), or write JSON Lines",
        ) from None
