"""A dataset: rows of one schema kind, held in memory as Arrow or on disk as Parquet files.

On disk a dataset is read through DuckDB, in record batches, so row-local stages stream it with
bounded memory. Every dataset carries its kind (``mrc``, ``corpus``, ``queries``, ``qrels``,
``triplets``, ``classification``, ``document``) and string metadata (for example the SQuAD
``version`` of the file it came from). A :class:`Bundle` is a retrieval set (corpus + queries +
qrels) with one primary part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate import locations
from curate.errors import InputError, SchemaError, Where
from curate.schemas import conform, get_schema, kinds
from curate.sql import connect

METADATA_KEY = b"curate"
DEFAULT_BATCH_ROWS = 32768


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def read_metadata(schema: pa.Schema) -> dict[str, str]:
    """Curate metadata stored in an Arrow/Parquet schema (``{}`` when absent).

    Raises:
        SchemaError: the stored metadata is not a JSON object of text values, or names an unknown kind.
    """
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if not raw:
        return {}
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        metadata = None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SchemaError(
            "curate metadata in the file is not a JSON object of text values",
            value=raw[:80],
            hint="write the file with curate again, or remove the 'curate' schema metadata",
        )
    if "kind" in metadata and metadata["kind"] not in kinds():
        raise SchemaError("the file's curate metadata names an unknown kind", value=metadata["kind"])
    return metadata


def with_metadata(table: pa.Table, metadata: dict[str, str]) -> pa.Table:
    """``table`` with curate ``metadata`` in its schema (other schema metadata kept)."""
    merged = dict(table.schema.metadata or {})
    merged[METADATA_KEY] = json.dumps(metadata, sort_keys=True).encode()
    return table.replace_schema_metadata(merged)


def parquet_schema(path: Path) -> pa.Schema:
    """The schema of a Parquet file; a missing, unreadable or non-Parquet file is an InputError."""
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        what = "file not found" if not path.exists() else "cannot read Parquet"
        raise InputError(
            what, where=Where(file=str(path)), value=str(exc).splitlines()[0] if str(exc) else ""
        ) from None


@dataclass
class Dataset:
    """Rows of one schema kind.

    Build one with :meth:`from_arrow`, :meth:`from_polars` or :meth:`from_parquet`; read the rows
    with :meth:`to_arrow`, :meth:`to_polars` or stream them with :meth:`batches`.
    """

    kind: str
    table: pa.Table | None = None
    paths: tuple[Path, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    store: str | None = None
    """An object-store prefix holding the files: each path's file is at ``store + path`` (a
    dataset as tasks on nodes without this machine's disk read it: :meth:`num_rows`, :attr:`schema`,
    :meth:`batch_ranges` and :meth:`rows`)."""

    def __post_init__(self) -> None:
        get_schema(self.kind)
        if (self.table is None) == (not self.paths):
            raise ValueError("a Dataset holds either an Arrow table or Parquet paths")

    @classmethod
    def from_arrow(cls, table: pa.Table, kind: str, *, file: str | None = None) -> Dataset:
        """Conform ``table`` to ``kind`` (casts, adds optional columns, keeps extras)."""
        metadata = read_metadata(table.schema)
        return cls(kind=kind, table=conform(table, kind, file=file), metadata=metadata)

    @classmethod
    def from_polars(cls, frame: Any, kind: str) -> Dataset:
        return cls.from_arrow(frame.to_arrow(), kind)

    @classmethod
    def from_parquet(cls, paths: str | Path | Sequence[str | Path], kind: str) -> Dataset:
        """Dataset over existing Parquet files (not read until used); a folder stands for the
        ``*.parquet`` files in it, in name order (a stage's ``kept.parquet/``)."""
        if isinstance(paths, str | Path):
            paths = [paths]
        resolved = tuple(f for p in map(Path, paths) for f in (sorted(p.glob("*.parquet")) if p.is_dir() else [p]))
        metadata = read_metadata(parquet_schema(resolved[0])) if resolved else {}
        return cls(kind=kind, paths=resolved, metadata=metadata)

    @property
    def num_rows(self) -> int:
        if self.table is not None:
            return self.table.num_rows
        return sum(self._file(p).metadata.num_rows for p in self.paths)

    @property
    def schema(self) -> pa.Schema:
        if self.table is not None:
            return self.table.schema
        if self.store is not None:
            return self._file(self.paths[0]).schema_arrow
        return parquet_schema(self.paths[0])

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
        """Rows in order, as Arrow tables of at most ``batch_rows`` rows (conformed to the kind)."""
        if self.table is not None:
            for offset in range(0, self.table.num_rows, batch_rows):
                yield self.table.slice(offset, batch_rows)
            return
        con = connect(reads=self.paths)
        reader = con.sql(f"SELECT * FROM read_parquet({_sql_list(self.paths)})").to_arrow_reader(batch_rows)
        for batch in reader:
            yield conform(pa.Table.from_batches([batch]), self.kind)

    def batch_ranges(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> list[tuple[int, int]]:
        """``(start, stop)`` of each batch :meth:`batches` yields, from the Parquet metadata alone: runs
        of ``batch_rows`` within each row group (as DuckDB streams them), or of the table in memory."""
        sizes = [self.table.num_rows] if self.table is not None else []
        for path in self.paths:
            metadata = self._file(path).metadata
            sizes += [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
        ranges, offset = [], 0
        for size in sizes:
            ranges += [
                (start, min(start + batch_rows, offset + size)) for start in range(offset, offset + size, batch_rows)
            ]
            offset += size
        return ranges

    def rows(self, start: int, stop: int) -> pa.Table:
        """Rows ``start:stop`` as :meth:`batches` gives them (conformed to the kind). From Parquet only
        the row groups that hold them are read, streamed, so a worker reads its slice of a large file."""
        if self.table is not None:
            return self.table.slice(start, max(0, stop - start))
        pieces: list[pa.Table] = []
        offset = 0  # dataset position of the current file's first row
        for path in self.paths:
            if offset >= stop:
                break
            file = self._file(path)
            groups: list[int] = []  # the row groups holding rows of start:stop
            first = offset  # dataset position of the next row read
            for index in range(file.metadata.num_row_groups):
                rows = file.metadata.row_group(index).num_rows
                if offset < stop and offset + rows > start:
                    if not groups:
                        first = offset
                    groups.append(index)
                offset += rows
            if not groups:
                continue
            for batch in file.iter_batches(batch_size=min(max(stop - start, 1), 65536), row_groups=groups):
                lo, hi = max(start - first, 0), min(stop - first, batch.num_rows)
                if hi > lo:
                    pieces.append(pa.Table.from_batches([batch.slice(lo, hi - lo)]).replace_schema_metadata(None))
                first += batch.num_rows
                if first >= stop:
                    break
        table = pa.concat_tables(pieces) if pieces else self.schema.empty_table().replace_schema_metadata(None)
        return conform(table, self.kind)

    def _file(self, path: Path) -> pq.ParquetFile:
        """The Parquet file ``path`` (under :attr:`store` when set)."""
        if self.store is None:
            return pq.ParquetFile(path)
        return locations.parquet_file(self.store + path.as_posix())

    def column(self, name: str) -> pa.ChunkedArray:
        """One column of every row, in order (only that column is read from Parquet)."""
        if self.table is not None:
            return self.table.column(name)
        quoted = '"' + name.replace('"', '""') + '"'
        sql = f"SELECT {quoted} FROM read_parquet({_sql_list(self.paths)})"
        return connect(reads=self.paths).sql(sql).to_arrow_table().column(0)

    def to_arrow(self) -> pa.Table:
        """All rows as one Arrow table, curate metadata in its schema."""
        if self.table is not None:
            table = self.table
        else:
            con = connect(reads=self.paths)
            rel = con.sql(f"SELECT * FROM read_parquet({_sql_list(self.paths)})")
            table = conform(rel.to_arrow_table(), self.kind)
        return with_metadata(table, self.metadata) if self.metadata else table

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def __len__(self) -> int:
        return self.num_rows

    def __repr__(self) -> str:
        where = "in memory" if self.table is not None else ", ".join(str(p) for p in self.paths)
        return f"Dataset(kind={self.kind!r}, rows={self.num_rows}, {where})"


@dataclass(frozen=True)
class Bundle:
    """A retrieval set travelling as one input: ``parts`` by name (``corpus``, ``queries``,
    ``qrels``; each a :class:`Dataset` of that kind) and the name of the ``primary`` part, whose
    rows are the ones a stage keeps or rejects; the other parts (siblings) travel with it."""

    primary: str
    parts: Mapping[str, Dataset]

    def __post_init__(self) -> None:
        if self.primary not in self.parts:
            raise ValueError(f"a bundle's primary part '{self.primary}' is not among its parts")

    @property
    def main(self) -> Dataset:
        """The primary part."""
        return self.parts[self.primary]

    @property
    def siblings(self) -> dict[str, Dataset]:
        """Every part but the primary, by name."""
        return {name: part for name, part in self.parts.items() if name != self.primary}
