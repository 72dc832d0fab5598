"""Row-per-record formats: JSON Lines (``.gz`` too), a JSON array of records, CSV/TSV, Parquet.

Readers return an Arrow table plus the rows they could not parse (only when asked to skip them;
otherwise the first bad row raises an error naming file, line and value). Writers take any table;
nested values (lists, structs) become JSON text in CSV/TSV cells.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curate.errors import InputError, Where
from curate.io.quarantine import BadRow
from curate.sql import connect

# --------------------------------------------------------------------------- reading


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _records_to_table(records: list[dict[str, Any]], file: str) -> pa.Table:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            kinds = {type(v).__name__ for v in values if v is not None}
            if kinds <= {"int", "float", "str", "bool"}:
                columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
            else:
                raise InputError(
                    "field holds values of mixed types",
                    where=Where(file=file, field=name),
                    value=sorted(kinds),
                    hint="give the field one type in every row",
                ) from None
    return pa.table(columns)


def _has_timestamp(dtype: pa.DataType) -> bool:
    return pa.types.is_timestamp(dtype) or any(_has_timestamp(dtype.field(i).type) for i in range(dtype.num_fields))


def _read_jsonl_arrow(path: Path) -> pa.Table:
    """Arrow's fast JSON Lines reader; text it took for a timestamp is read again as text."""
    options = pajson.ReadOptions(block_size=16 << 20)
    table = pajson.read_json(pa.input_stream(str(path), compression="detect"), read_options=options)
    if any(_has_timestamp(f.type) for f in table.schema):
        # a nested timestamp cannot be read as text: ArrowInvalid, the line-by-line reader takes over
        as_text = pa.schema([pa.field(f.name, pa.string()) if _has_timestamp(f.type) else f for f in table.schema])
        parse = pajson.ParseOptions(explicit_schema=as_text)
        stream = pa.input_stream(str(path), compression="detect")
        table = pajson.read_json(stream, read_options=options, parse_options=parse)
    table.validate(full=True)  # the reader lets invalid UTF-8 through; the line reader names it
    return table


def read_jsonl(path: Path, *, skip_bad_rows: bool = False) -> tuple[pa.Table, list[BadRow]]:
    """Read JSON Lines (one object per line; ``.gz`` allowed)."""
    if not skip_bad_rows:
        try:
            return _read_jsonl_arrow(path), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass  # the line-by-line reader below names the bad line
    records: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    file = str(path)
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                problem = None
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        problem = f"expected a JSON object, found {type(record).__name__}"
                except json.JSONDecodeError as exc:
                    problem = f"malformed JSON ({exc.msg}, column {exc.colno})"
                if problem is None:
                    records.append(record)
                elif skip_bad_rows:
                    bad.append(BadRow(file=file, location=f"line {number}", reason=problem, raw=line.rstrip("\n")))
                else:
                    raise InputError(
                        problem,
                        where=Where(file=file, line=number),
                        value=line.strip(),
                        hint="fix the line, or skip bad rows (--skip-bad-rows / on_error: skip) to quarantine them",
                    )
    except UnicodeDecodeError as exc:
        raise InputError(
            "file is not UTF-8 text", where=Where(file=file), value=exc.object[exc.start : exc.end]
        ) from None
    return _records_to_table(records, file), bad


def read_json_records(path: Path) -> pa.Table:
    """Read a JSON array of objects (``[{...}, {...}]``)."""
    file = str(path)
    try:
        with _open_text(path) as handle:
            records = json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", where=Where(file=file, line=exc.lineno)) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(
            "expected a JSON array of objects", where=Where(file=file), hint="SQuAD files need --from squad"
        )
    return _records_to_table(records, file)


def read_delimited(
    path: Path, *, delimiter: str, quote: str | None, skip_bad_rows: bool = False
) -> tuple[pa.Table, list[BadRow]]:
    """Read CSV/TSV with a header row; every value is read as text (the schema casts it later).

    With ``quote=None`` (the TSV default) each ``\\n``-terminated line is one row, split on the
    delimiter, so stray quotes and carriage returns inside fields are kept as text.
    """
    file = str(path)
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(
            "file is not UTF-8 text", where=Where(file=file), value=exc.object[exc.start : exc.end]
        ) from None
    if quote is None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        numbered = [(i + 1, line[:-1] if line.endswith("\r") else line) for i, line in enumerate(lines)]
        rows = [(n, line.split(delimiter)) for n, line in numbered]
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote, strict=True)
        rows = []
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise InputError(f"malformed CSV ({exc})", where=Where(file=file, line=reader.line_num)) from None
    if not rows:
        raise InputError(
            "file is empty: no header row", where=Where(file=file), hint="the first line names the columns"
        )
    header = rows[0][1]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    body: list[list[str]] = []
    bad: list[BadRow] = []
    for number, row in rows[1:]:
        if row == [""] or not row:
            continue
        if len(row) != len(header):
            problem = f"expected {len(header)} fields, found {len(row)}"
            if not skip_bad_rows:
                raise InputError(
                    problem,
                    where=Where(file=file, line=number),
                    value=delimiter.join(row),
                    hint="check the delimiter and quoting (--quote for quoted TSV), or --skip-bad-rows",
                )
            bad.append(BadRow(file=file, location=f"line {number}", reason=problem, raw=delimiter.join(row)))
            continue
        body.append(row)
    columns = {name: pa.array([row[i] for row in body], pa.string()) for i, name in enumerate(header)}
    return pa.table(columns), bad


def read_parquet(paths: list[Path]) -> pa.Table:
    """Read Parquet file(s) through DuckDB, keeping curate's schema metadata."""
    files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
    try:
        table = connect(reads=paths).sql(f"SELECT * FROM read_parquet({files})").to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(
            "cannot read Parquet", where=Where(file=str(paths[0])), value=str(exc).splitlines()[0]
        ) from None
    metadata = pq.read_schema(paths[0]).metadata
    return table.replace_schema_metadata(metadata) if metadata else table


# --------------------------------------------------------------------------- writing


def write_jsonl(table: pa.Table, path: Path) -> None:
    """One JSON object per row, UTF-8, in row order."""
    with path.open("w", encoding="utf-8") as handle:
        for batch in table.to_batches(8192):
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


def write_delimited(table: pa.Table, path: Path, *, delimiter: str, quote: str | None) -> None:
    """CSV (quoted where needed) or TSV (no quoting: a tab or newline inside a value is an error)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        if quote is not None:
            writer = csv.writer(handle, delimiter=delimiter, quotechar=quote, lineterminator="\n")
            writer.writerow(table.column_names)
            for batch in table.to_batches(8192):
                for record in batch.to_pylist():
                    writer.writerow([_cell(v) for v in record.values()])
            return
        handle.write(delimiter.join(table.column_names) + "\n")
        for row_index, record in enumerate(table.to_pylist()):
            cells = [_cell(v) for v in record.values()]
            for name, cell in zip(table.column_names, cells, strict=True):
                if delimiter in cell or "\n" in cell or "\r" in cell:
                    raise InputError(
                        "value holds a tab or line break, which TSV without quoting cannot store",
                        where=Where(file=str(path), row=row_index + 1, field=name),
                        value=cell,
                        hint="write CSV, JSON Lines or Parquet instead, or --quote '\"'",
                    )
            handle.write(delimiter.join(cells) + "\n")


def write_parquet(table: pa.Table, path: Path) -> None:
    """Parquet with zstd compression; curate metadata kept in the schema."""
    pq.write_table(table, path, compression="zstd")
