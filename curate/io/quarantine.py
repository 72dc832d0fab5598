"""What a reader returns, and the rows it sets aside (with their reason) when the user asks to
skip bad rows instead of failing: the quarantine file, one JSON object per bad row."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.errors import SchemaError, Where
from curate.files import atomic_file
from curate.schemas import conform_rows


@dataclass(frozen=True)
class BadRow:
    """One unreadable row: ``file``, ``location`` (``line 12``, ``row 3`` or a JSON path), ``reason``,
    ``raw`` text."""

    file: str
    location: str
    reason: str
    raw: str


@dataclass
class Rows:
    """What a reader returns: ``table``; ``bad`` rows set aside (when skipping); ``lines``, the
    1-based source line of each table row where the format has lines (else ``None``); ``raws``,
    the source text of each row (kept only when skipping, for the quarantine file)."""

    table: pa.Table
    bad: list[BadRow] = field(default_factory=list)
    lines: list[int] | None = None
    raws: list[str] | None = None


@dataclass
class Source:
    """What a reader gives when it reads a file in chunks: ``schema``, the columns every chunk has
    (decided over the whole file, so all chunks share it), and ``chunks``, the rows in order as
    :class:`Rows` of at most the asked number of rows (their ``bad`` rows, set aside while reading,
    may lie anywhere in the file); ``streamed`` is False when the reader holds the whole file anyway."""

    schema: pa.Schema
    chunks: Iterable[Rows]
    streamed: bool = True


class Unstreamable(Exception):
    """Raised by a chunked reader when one column's values cannot be typed chunk by chunk the way
    the whole file types them (Arrow cannot put two chunks' values in one column): the caller
    reads the file whole instead, so the rows, types and errors stay those of the whole file."""


def conform_or_set_aside(rows: Rows, kind: str, file: str, *, skip: bool, first_row: int = 0) -> Rows:
    """``rows`` conformed to ``kind``. A row that cannot take the schema raises its SchemaError
    (file, line, row, field, value), or with ``skip`` joins ``rows.bad``, named once by its source
    line (else its row) with the reason. ``first_row``: rows of the file before these (a chunk)."""
    table, bad_values = conform_rows(rows.table, kind, file=file, lines=rows.lines, first_row=first_row)
    if not bad_values:
        return Rows(table, rows.bad, rows.lines, rows.raws)
    if not skip:
        raise bad_values[0].error
    set_aside = []
    for bad in bad_values:
        where = bad.error.where
        location = f"line {where.line}" if where.line is not None else f"row {where.row}"
        reason = SchemaError(bad.error.what, where=Where(field=where.field), value=bad.error.value, hint=bad.error.hint)
        raw = rows.raws[bad.row] if rows.raws else raw_json(rows.table.slice(bad.row, 1).to_pylist()[0])
        set_aside.append(BadRow(file=file, location=location, reason=reason.message, raw=raw))
    dropped = {bad.row for bad in bad_values}
    by_line = sorted(rows.bad + set_aside, key=line_of) if rows.lines else rows.bad + set_aside
    kept = [i for i in range(rows.table.num_rows) if i not in dropped]
    return Rows(
        table,
        by_line,
        [rows.lines[i] for i in kept] if rows.lines else None,
        [rows.raws[i] for i in kept] if rows.raws else None,
    )


def line_of(bad: BadRow) -> int:
    number = bad.location.removeprefix("line ")
    return int(number) if number.isdigit() else 0


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
