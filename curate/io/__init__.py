"""Read and write datasets in every supported format.

Formats: ``squad`` (SQuAD/KorQuAD JSON), ``jsonl`` (``.gz`` too), ``json`` (array of records),
``csv``, ``tsv``, ``parquet`` (a file, or a folder of files), ``beir`` (folder with corpus, queries,
qrels) and ``hf`` (a ``datasets`` ``save_to_disk`` folder, see :mod:`curate.io.hf`). Triplets can also be written
as retriever training files, ``dpr`` and ``sentence-transformers`` (:mod:`curate.io.training`; write
only, always named with ``format=``). The format is inferred from the path where unambiguous, the
kind from the format or the column names.

What a source had that curate's kinds hold otherwise is kept in the metadata and given back when
writing: integer labels (``int_labels``: labels are text in curate, integers again in JSON Lines,
Parquet and datasets folders), ClassLabel names (``class_labels``) and the Hub's MRC layout
(``mrc_layout: hub``: ``answers`` as a struct of lists, written back so in JSON Lines and Parquet).

Every reader gives its rows as a :class:`~curate.io.quarantine.Source`, a schema and chunks:
:func:`read` takes the whole file as one chunk, :func:`read_to_shards` writes chunks of a bounded
size as Parquet shards, both through the same conforming. Paths may be ``s3://`` URLs
(:mod:`curate.objects`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack, overload

import pyarrow as pa
import pyarrow.parquet as pq

from curate.dataset import Dataset, read_metadata, with_metadata
from curate.errors import ConfigError, CurateError, InputError, OutputError, SchemaError, Where
from curate.files import atomic_file
from curate.io.beir import PARTS, beir_source, is_beir_folder, write_beir
from curate.io.files import atomic_folder, check_name, input_file, input_folder, peek_text
from curate.io.hf import (
    ExportPlan,
    export_plan,
    from_hf_dataset,
    has_hf_library,
    hf_columns,
    hf_dataset,
    is_hf_dataset,
    is_hf_folder,
    named_labels,
    parquet_class_labels,
    read_hf,
    write_hf,
)
from curate.io.quarantine import (
    BadRow,
    Rows,
    Source,
    Unstreamable,
    conform_or_set_aside,
    line_of,
    write_quarantine,
)
from curate.io.squad import squad_source, write_squad
from curate.io.tabular import (
    delimited_source,
    jsonl_source,
    parquet_source,
    read_json_records,
    read_jsonl,
    write_delimited,
    write_jsonl,
    write_parquet,
)
from curate.io.training import TRAINING_FORMATS, check_training, write_training
from curate.objects import input_path, is_remote, listing, output_path
from curate.schemas import get_schema, is_struct_of_lists, kinds

FORMATS = ("squad", "jsonl", "json", "csv", "tsv", "parquet", "beir", "hf")
WRITE_FORMATS = ("squad", "jsonl", "csv", "tsv", "parquet", "beir", "hf", *TRAINING_FORMATS)
REPORT_FORMATS = ("csv", "tsv", "jsonl", "parquet")
OnError = Literal["fail", "skip"]
_INT = re.compile(r"-?[0-9]{1,18}")

_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Column sets that identify a kind, most specific first.
_KIND_SIGNATURES = (
    ("mrc", {"context", "question", "answers"}),
    ("triplets", {"query", "positive", "negatives"}),
    ("qrels", {"query_id", "doc_id", "score"}),
    ("corpus", {"doc_id", "text"}),
    ("queries", {"query_id", "text"}),
    ("classification", {"text", "label"}),
    ("document", {"id", "text"}),
)

__all__ = [
    "DEFAULT_SHARD_ROWS",
    "FORMATS",
    "REPORT_FORMATS",
    "WRITE_FORMATS",
    "BadRow",
    "ReadOptions",
    "ShardedInput",
    "check_write",
    "detect_format",
    "infer_kind",
    "is_bundle",
    "read",
    "read_bundle",
    "read_to_shards",
    "report_format",
    "to_hf",
    "write",
    "write_bundle",
    "write_table",
]


def _check_choice(name: str, value: str | None, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"unknown {name}", value=value, hint=f"use one of: {', '.join(choices)}")


def detect_format(path: str | Path, *, writing: bool = False) -> str:
    """Format of ``path`` from its suffix or (for folders and ``.json``) its content."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix == ".json":
        if writing or not path.is_file():
            return "squad"
        return "json" if peek_text(path).lstrip().startswith("[") else "squad"
    if path.is_dir():
        if is_beir_folder(path):
            return "beir"
        if is_hf_folder(path):
            return "hf"
        if any(path.glob("*.parquet")):
            return "parquet"
    if suffix == ".txt":
        return "tsv"
    hint = f"pass the format (--from/--to, or format: in a pipeline): {', '.join(FORMATS)}"
    if not writing and not path.exists():
        raise InputError("file not found", where=Where(file=str(path)), hint="check the path")
    if path.is_dir():
        hint = (
            "a folder is read as BEIR (corpus.jsonl, qrels/), Parquet (*.parquet) or datasets; for a file give its path"
        )
        raise InputError("cannot tell the format of a folder", where=Where(file=str(path)), hint=hint)
    raise InputError("cannot tell the format", where=Where(file=str(path)), hint=hint)


def infer_kind(columns: Sequence[str]) -> str | None:
    """The schema kind whose identifying columns are all present, or ``None``."""
    present = set(columns)
    return next((kind for kind, needed in _KIND_SIGNATURES if needed <= present), None)


def _apply_rename(table: pa.Table, rename: Mapping[str, str] | None, file: str) -> pa.Table:
    """Rename columns; a rename onto a column that stays, or two onto one name, is an error."""
    if not rename:
        return table
    for source in rename:
        if source not in table.column_names:
            raise ConfigError(
                "column to rename not found",
                where=Where(file=file, field=source),
                value=source,
                hint=f"columns are: {', '.join(table.column_names)}",
            )
    names = [rename.get(n, n) for n in table.column_names]
    for source, target in rename.items():
        if names.count(target) > 1:
            other = next(n for n in table.column_names if n != source and rename.get(n, n) == target)
            if other == target:
                what, hint = f"the file already has a column '{target}'", f"rename it away too (--rename {target}=NEW)"
            else:
                what, hint = f"'{other}' is renamed to '{target}' too", "give each column its own name"
            raise ConfigError(
                f"--rename {source}={target}: {what}",
                where=Where(file=file, field=target),
                value=table.column_names,
                hint=hint,
            )
    return table.rename_columns(names)


def _renamed_labels(table: pa.Table, rename: Mapping[str, str]) -> pa.Table:
    """The ``class_labels`` metadata following a column rename."""
    metadata = read_metadata(table.schema)
    if "class_labels" not in metadata:
        return table
    labels = {rename.get(k, k): v for k, v in json.loads(metadata["class_labels"]).items()}
    return with_metadata(table, {**metadata, "class_labels": json.dumps(labels, ensure_ascii=False)})


def source_metadata(table: pa.Table, kind: str) -> dict[str, str]:
    """What rows of ``kind`` had before conforming that the kind holds otherwise: integer labels
    (``int_labels``), the Hub's struct-of-lists answers (``mrc_layout: hub``), no id column
    (``generated_ids``: the ids conforming makes are left out of datasets folders)."""
    found = {}
    key = get_schema(kind).key
    if key and key not in table.column_names and "_id" not in table.column_names:
        found["generated_ids"] = "true"
    if (
        kind == "classification"
        and "label" in table.column_names
        and pa.types.is_integer(table.schema.field("label").type)
    ):
        found["int_labels"] = "true"
    answers = get_schema("mrc").field("answers")
    if (
        kind == "mrc"
        and "answers" in table.column_names
        and answers is not None
        and is_struct_of_lists(table.schema.field("answers").type, answers.type)
    ):
        found["mrc_layout"] = "hub"
    return found


def _source(
    path: Path, fmt: str, kind: str | None, *, skip: bool, split: str | None, quote: Any, chunk_rows: int | None
) -> Source:
    """The rows of ``path`` as its format's reader gives them, in chunks of ``chunk_rows`` rows
    (``None``: the whole file as one chunk)."""
    if fmt in ("beir", "hf") or (fmt == "parquet" and path.is_dir()):
        if not path.is_dir():
            raise InputError(
                f"a {fmt} dataset is a folder, found a file", where=Where(file=str(path)), hint="give the folder"
            )
    else:
        input_file(path)
    if fmt == "squad":
        return squad_source(path, skip_bad_rows=skip, chunk_rows=chunk_rows)
    if fmt == "jsonl":
        if chunk_rows is None:
            return _whole(read_jsonl(path, skip_bad_rows=skip))
        return jsonl_source(path, skip_bad_rows=skip, chunk_rows=chunk_rows)
    if fmt == "json":
        return _sliced(read_json_records(path), chunk_rows)
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        if quote == "default":
            quote = '"' if fmt == "csv" else None
        return delimited_source(path, delimiter=delimiter, quote=quote, skip_bad_rows=skip, chunk_rows=chunk_rows)
    if fmt == "parquet":
        return _parquet(path, kind, chunk_rows)
    if fmt == "beir":
        if kind is None:
            raise ConfigError(
                "a BEIR folder holds several kinds",
                where=Where(file=str(path)),
                hint="pass --kind corpus, queries or qrels",
            )
        return beir_source(path, kind, skip_bad_rows=skip, chunk_rows=chunk_rows)
    return _sliced(read_hf(path, split=split), chunk_rows)  # memory-mapped Arrow files


def _whole(rows: Rows) -> Source:
    return Source(rows.table.schema, [rows])


def _sliced(rows: Rows, chunk_rows: int | None) -> Source:
    """Rows read whole (a JSON array, the memory-mapped files of a datasets folder) in chunks."""
    if chunk_rows is None:
        return _whole(rows)
    table = rows.table
    chunks = [Rows(table.slice(0, 0), rows.bad)]
    chunks += [Rows(table.slice(i, chunk_rows)) for i in range(0, table.num_rows, chunk_rows)]
    return Source(table.schema, chunks, streamed=False)


def _parquet(path: Path, kind: str | None, chunk_rows: int | None) -> Source:
    """A Parquet file or folder (``<kind>.parquet`` in a retrieval folder, else every file);
    ClassLabel ids written by ``datasets`` become their names."""
    if path.is_dir():
        named = path / f"{kind}.parquet"
        files = [named] if kind and named.exists() else sorted(path.glob("*.parquet"))
    else:
        files = [path]
    source = parquet_source(files, chunk_rows=chunk_rows)

    def readable(table: pa.Table, first_row: int) -> pa.Table:
        table = named_labels(table, parquet_class_labels(table.schema), str(files[0]), first_row)
        metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"huggingface"}
        return table.replace_schema_metadata(metadata)

    def chunks() -> Iterator[Rows]:
        first_row = 0
        for rows in source.chunks:
            yield Rows(readable(rows.table, first_row))
            first_row += rows.table.num_rows

    return Source(readable(source.schema.empty_table(), 0).schema, chunks())


@dataclass
class _Reading:
    """A file being read: its ``kind``, ``metadata`` (final once ``tables`` is used up), the
    ``schema`` of the conformed rows and ``tables``, the conformed rows chunk by chunk; ``bad``
    collects the rows set aside."""

    kind: str
    metadata: dict[str, str]
    schema: pa.Schema
    tables: Iterator[pa.Table]
    bad: list[BadRow]
    streamed: bool


def _reading(
    path: Path,
    *,
    format: str | None,
    kind: str | None,
    rename: Mapping[str, str] | None,
    split: str | None,
    on_error: OnError,
    quarantine: Any,
    quote: Any,
    chunk_rows: int | None,
    url: str | None = None,
) -> _Reading:
    """The one way a dataset file is read, whole (``chunk_rows=None``) or chunk by chunk; ``url``:
    the ``s3://`` URL that ``path`` is a local copy of (quarantine entries name it)."""
    _check_choice("format", format, FORMATS)
    _check_choice("kind", kind, kinds())
    _check_choice("on_error", on_error, ("fail", "skip"))
    if on_error == "skip" and quarantine is None:
        raise ConfigError("skipping bad rows needs a quarantine file", hint="pass quarantine=PATH (--quarantine)")
    check_name(path)
    if not path.exists():
        raise InputError("file not found", where=Where(file=str(path)), hint="check the path")
    fmt = format or detect_format(path)
    if fmt == "squad":
        if kind not in (None, "mrc"):
            raise ConfigError("SQuAD files hold kind 'mrc'", where=Where(file=str(path)), value=kind)
        kind = "mrc"
    skip = on_error == "skip"
    source = _source(path, fmt, kind, skip=skip, split=split, quote=quote, chunk_rows=chunk_rows)
    if chunk_rows is None:  # every problem the reader finds comes before those of the whole table
        source = Source(source.schema, list(source.chunks))
    file = str(path)
    head = _apply_rename(source.schema.empty_table(), rename, file)
    if rename:
        head = _renamed_labels(head, rename)
    empty = head.num_columns == 0  # an empty file, or every row set aside
    if empty:
        if kind is None:
            raise InputError(
                "file has no rows, so its kind cannot be told",
                where=Where(file=file),
                hint=f"pass --kind ({', '.join(kinds())}) to read it as an empty dataset",
            )
        head = get_schema(kind).empty_table()
    try:
        metadata = read_metadata(head.schema)
    except CurateError as exc:
        raise exc.at(file=file) from None
    if kind is None:
        kind = metadata.get("kind") or infer_kind(head.column_names)
    if kind is None:
        raise SchemaError(
            "cannot tell the dataset kind from the columns",
            where=Where(file=file),
            value=head.column_names,
            hint=f"pass --kind ({', '.join(kinds())}) and map columns with --rename SOURCE=TARGET",
        )
    metadata.update(source_metadata(head, kind))
    schema = conform_or_set_aside(Rows(head), kind, file, skip=skip).table.schema
    reading = _Reading(kind, {**metadata, "kind": kind}, schema, iter(()), [], source.streamed and bool(chunk_rows))
    found: list[BadRow] = []  # set aside by the reader
    set_aside: list[BadRow] = []  # set aside when conforming

    def tables() -> Iterator[pa.Table]:
        first_row, by_line = 0, False
        for rows in source.chunks:
            table = head if empty else _apply_rename(rows.table, rename, file)
            lines = [] if empty else rows.lines
            conformed = conform_or_set_aside(
                Rows(table, [], lines, rows.raws), reading.kind, file, skip=skip, first_row=first_row
            )
            first_row += table.num_rows
            found.extend(rows.bad)
            set_aside.extend(conformed.bad)
            by_line = by_line or bool(lines)
            yield conformed.table
        # in the order one conforming of the whole file gives: by line where the format has lines
        reading.bad[:] = sorted(found + set_aside, key=line_of) if set_aside and by_line else found + set_aside
        if skip:
            reading.metadata["quarantined_rows"] = str(len(reading.bad))
        if url is not None:
            local = str(path)
            reading.bad[:] = [
                replace(b, file=url + b.file[len(local) :]) if b.file.startswith(local) else b for b in reading.bad
            ]
        if quarantine is not None and skip:
            with output_path(quarantine) as target:
                write_quarantine(reading.bad, target)

    reading.tables = tables()
    return reading


def read(
    path: str | Path,
    *,
    format: str | None = None,
    kind: str | None = None,
    rename: Mapping[str, str] | None = None,
    split: str | None = None,
    on_error: OnError = "fail",
    quarantine: str | Path | None = None,
    quote: str | Literal["default"] | None = "default",
) -> Dataset:
    """Read a dataset file or folder and conform it to its kind.

    Args:
        path: file or folder.
        format: one of :data:`FORMATS`; inferred from ``path`` when ``None``.
        kind: schema kind; inferred from the format (``squad`` -> ``mrc``) or the columns.
        rename: ``{source column: schema column}`` applied before conforming.
        split: the split to read from a ``datasets`` folder with several.
        on_error: ``"fail"`` stops at the first unreadable row with a one-line error;
            ``"skip"`` writes unreadable rows to ``quarantine`` (JSON Lines) and goes on.
        quarantine: where skipped rows go (required with ``on_error="skip"``).
        quote: CSV/TSV quote character, ``None`` for none; default ``"`` for CSV, none for TSV.

    Returns:
        An in-memory :class:`~curate.dataset.Dataset`.

    ``path`` (and ``quarantine``) may be an ``s3://`` URL: see :mod:`curate.objects`.
    """
    with input_path(path) as (local, url):
        reading = _reading(
            local,
            format=format,
            kind=kind,
            rename=rename,
            split=split,
            on_error=on_error,
            quarantine=quarantine,
            quote=quote,
            chunk_rows=None,
            url=url,
        )
        tables = list(reading.tables)
    table = tables[0] if len(tables) == 1 else pa.concat_tables([reading.schema.empty_table(), *tables])
    return Dataset(kind=reading.kind, table=table, metadata=reading.metadata)


class ReadOptions(TypedDict, total=False):
    """The options of :func:`read` (see there), taken as they are by :func:`read_to_shards`."""

    format: str | None
    kind: str | None
    rename: Mapping[str, str] | None
    split: str | None
    on_error: OnError
    quarantine: str | Path | None
    quote: str | Literal["default"] | None


DEFAULT_SHARD_ROWS = 100_000
"""Rows per Parquet shard written by :func:`read_to_shards` unless told otherwise."""


@dataclass(frozen=True)
class ShardedInput:
    """What :func:`read_to_shards` wrote: ``paths`` of the shards (``part-00000.parquet``, ...) in
    row order, ``rows`` in all, the ``kind``, the dataset ``metadata`` (also in every shard's
    schema), ``quarantined``, the number of rows set aside (``on_error="skip"``), and ``streamed``:
    False when the input had to be read whole (see :func:`read_to_shards`). ``paths`` are local
    paths, or ``s3://`` URLs for shards written to an object store."""

    paths: tuple[str, ...]
    rows: int
    kind: str
    metadata: dict[str, str]
    quarantined: int
    streamed: bool = True

    def dataset(self) -> Dataset:
        """The shards as one on-disk :class:`~curate.dataset.Dataset` (read through DuckDB; local shards only)."""
        if any(is_remote(p) for p in self.paths):
            raise ConfigError("a Dataset reads local shards", value=self.paths[0], hint="copy the shards to a folder")
        return Dataset(kind=self.kind, paths=tuple(Path(p) for p in self.paths), metadata=dict(self.metadata))


def read_to_shards(
    path: str | Path,
    out_dir: str | Path,
    *,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    **options: Unpack[ReadOptions],
) -> ShardedInput:
    """Read a dataset file or folder chunk by chunk into Parquet shards ``part-00000.parquet``, ...
    of at most ``shard_rows`` rows each in ``out_dir``, with memory bounded by the shard size, not
    the file size.

    Takes the options of :func:`read` (:class:`ReadOptions`) and gives what it gives: the same rows
    in the same order, with the same types, metadata, quarantine entries and error messages; every
    shard of one input has the same schema (curate's metadata included). How each format is read in chunks:

    - JSON Lines (``.gz`` too): a first pass checks every line and decides each column's type over
      the whole file (``1`` in one chunk and ``2.5`` in a later one make a float column
      everywhere), a second writes the shards.
    - CSV/TSV: a first pass finds the file's errors, a second writes the shards.
    - Parquet files and folders: DuckDB record batches. BEIR: its JSON Lines or qrels files as above.
    - SQuAD JSON: the articles one at a time through the incremental parser ``ijson``, in two passes.
    - A JSON array of records and ``datasets`` folders (memory-mapped Arrow files) are read whole,
      then cut into shards.

    What cannot be decided chunk by chunk is read whole instead, so that the result (or the error)
    stays that of :func:`read`: a column whose values Arrow types differently in two chunks and
    cannot widen (``[1]`` here, ``["x"]`` there), or a SQuAD file that ``ijson`` cannot parse or
    that holds a bad question when not skipping. ``streamed`` in the result says which it was.

    ``out_dir`` must not hold shards already; the shards are written beside it and moved in once all
    are written. ``path``, ``out_dir`` and ``quarantine`` may be ``s3://`` URLs (see
    :mod:`curate.objects`).

    Returns:
        A :class:`ShardedInput`; ``.dataset()`` opens local shards as one Dataset.
    """
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, int) or shard_rows < 1:
        raise ConfigError("shard_rows must be a positive integer", value=shard_rows)
    remote = is_remote(out_dir)
    held = (
        listing(str(out_dir)) if remote else [p.name for p in Path(out_dir).glob("*")] if Path(out_dir).is_dir() else []
    )
    if any(name.startswith("part-") and name.endswith(".parquet") for name in held):
        raise OutputError(
            "the shard folder already holds shards", where=Where(file=str(out_dir)), hint="give a new or empty folder"
        )
    defaults = ReadOptions(
        format=None, kind=None, rename=None, split=None, on_error="fail", quarantine=None, quote="default"
    )
    options = defaults | options
    written: list[ShardedInput] = []

    with input_path(path) as (source, url), output_path(out_dir) as out:

        def fill(folder: Path) -> None:
            try:
                reading = _reading(source, **options, chunk_rows=shard_rows, url=url)
                written.append(_write_shards(reading, folder, shard_rows))
            except Unstreamable:
                for shard in folder.glob("part-*.parquet"):
                    shard.unlink()
                reading = _reading(source, **options, chunk_rows=None, url=url)
                written.append(_write_shards(reading, folder, shard_rows))

        try:
            atomic_folder(out, fill)
        except OutputError as exc:
            raise exc.at(file=str(out)) from None
    where = str(out_dir).rstrip("/") if remote else str(out)
    return replace(written[0], paths=tuple(f"{where}/{Path(p).name}" for p in written[0].paths))


def _write_shards(reading: _Reading, folder: Path, shard_rows: int) -> ShardedInput:
    """Write the conformed chunks of ``reading`` as shards of at most ``shard_rows`` rows."""
    paths: list[Path] = []
    rows = 0
    unwritable: OutputError | None = None  # raised once the input has been read: its errors come first
    for table in reading.tables:
        if table.schema.remove_metadata() != reading.schema.remove_metadata():
            raise Unstreamable(str(table.schema))
        for offset in range(0, table.num_rows if unwritable is None else 0, shard_rows):
            piece = table.slice(offset, shard_rows)
            paths.append(folder / f"part-{len(paths):05d}.parquet")
            try:
                write_parquet(with_metadata(piece, reading.metadata), paths[-1])
            except OutputError as exc:
                unwritable = exc
                break
            rows += piece.num_rows
    if unwritable is not None:
        raise unwritable
    if not paths:  # no rows: one empty shard holds the schema
        paths.append(folder / "part-00000.parquet")
        write_parquet(with_metadata(reading.schema.empty_table(), reading.metadata), paths[0])
    elif "quarantined_rows" in reading.metadata:  # known once every chunk is read
        for shard in paths:
            write_parquet(with_metadata(pq.read_table(shard), reading.metadata), shard)
    shards = tuple(str(p) for p in paths)
    return ShardedInput(shards, rows, reading.kind, dict(reading.metadata), len(reading.bad), reading.streamed)


def _has_part(path: Path, fmt: str, part: str) -> bool:
    if fmt == "beir":
        return (path / "qrels").is_dir() if part == "qrels" else (path / f"{part}.jsonl").exists()
    return (path / f"{part}.parquet").exists()


def is_bundle(path: str | Path, fmt: str) -> bool:
    """True for a folder holding several retrieval parts (BEIR, or Parquet corpus/queries/qrels)."""
    path = Path(path)
    return fmt == "beir" or (fmt == "parquet" and path.is_dir() and any(_has_part(path, fmt, p) for p in PARTS))


def read_bundle(path: str | Path, *, format: str | None = None) -> dict[str, Dataset]:
    """Read every part of a retrieval folder (BEIR, or Parquet ``corpus/queries/qrels.parquet``)."""
    path = input_folder(Path(path))
    fmt = format or detect_format(path)
    found = {part: read(path, format=fmt, kind=part) for part in PARTS if _has_part(path, fmt, part)}
    if not found:
        raise InputError(
            "no corpus, queries or qrels found", where=Where(file=str(path)), hint="a BEIR folder or a Parquet folder"
        )
    return found


def _as_dataset(data: Any, kind: str | None) -> Dataset:
    """A curate Dataset of a Dataset, pyarrow Table, polars or pandas DataFrame or ``datasets.Dataset``
    (the one place in-memory rows are taken in; :func:`_like` gives them back)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, pa.Table):
        table = data
    elif is_hf_dataset(data):
        table = from_hf_dataset(data)
    elif hasattr(data, "to_arrow"):
        table = data.to_arrow()
    elif type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "to_dict"):
        table = pa.Table.from_pandas(data, preserve_index=False)
    else:
        raise TypeError(
            "expected a Dataset, pyarrow.Table, polars or pandas DataFrame or datasets.Dataset, "
            f"got {type(data).__name__}"
        )
    found = kind or read_metadata(table.schema).get("kind") or infer_kind(table.column_names)
    if found is None:
        raise SchemaError("cannot tell the dataset kind from the columns", value=table.column_names, hint="pass kind=")
    dataset = Dataset.from_arrow(table, found)
    dataset.metadata.update(source_metadata(table, found))
    return dataset


def _like(data: Any, table: pa.Table, kind: str, metadata: dict[str, str]) -> Any:
    """Rows of ``kind`` given back in the type of ``data`` (what :func:`_as_dataset` took in):
    a Dataset, an Arrow table, a polars or pandas DataFrame or a ``datasets.Dataset``. pandas gets
    its integer labels and Hub answer layout back (see :func:`_restored`), ``datasets`` its features
    (ClassLabel, Hub layout: see :func:`~curate.io.hf.hf_dataset`)."""
    if isinstance(data, Dataset):
        return Dataset(kind=kind, table=table, metadata=metadata)
    if isinstance(data, pa.Table):
        return table
    if is_hf_dataset(data):  # ids curate made stay: rejected rows may name them (duplicate_of)
        return hf_dataset(table, kind, {k: v for k, v in metadata.items() if k != "generated_ids"})
    if hasattr(data, "to_arrow"):
        import polars as pl

        return pl.from_arrow(table)
    return _restored(table, kind, metadata, "jsonl").to_pandas()


def _restoring(kind: str, metadata: Mapping[str, str], fmt: str) -> bool:
    """Whether :func:`_restored` needs an :class:`~curate.io.hf.ExportPlan` for rows of ``kind``."""
    return metadata.get("mrc_layout") == "hub" or (fmt == "parquet" and "class_labels" in metadata and has_hf_library())


def _restored(
    table: pa.Table,
    kind: str,
    metadata: Mapping[str, str],
    fmt: str,
    plan: ExportPlan | None = None,
    *,
    first_row: int = 0,
) -> pa.Table:
    """``table`` as its source had it, for JSON Lines and Parquet (``fmt``): integer labels as
    integers; MRC rows in the Hub layout and columns when the source had them (see
    :func:`~curate.io.hf.hf_columns`); ClassLabel columns in Parquet as ``datasets`` writes them
    (ids, and the features in the ``huggingface`` schema metadata) where ``datasets`` is installed.
    ``plan``: the :func:`~curate.io.hf.export_plan` of every row when :func:`_restoring` (``None``:
    the table's own); ``first_row``: the position of the table's first row in the dataset (a
    batch), for errors."""
    if fmt not in ("jsonl", "parquet"):
        return table
    if _restoring(kind, metadata, fmt):
        plan = plan or export_plan([table], kind, metadata)
    if fmt == "parquet" and "class_labels" in metadata and has_hf_library():
        return hf_dataset(table, kind, metadata, plan).data.table  # as Dataset.to_parquet writes it
    if metadata.get("int_labels") == "true" and "label" in table.column_names:
        labels = table.column("label")
        try:
            numbers = labels.cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = labels.to_pylist()
            row = next((i for i, v in enumerate(values) if v is not None and not _INT.fullmatch(v)), 0)
            raise OutputError(
                "the source had integer labels, but a label is not a number",
                where=Where(field="label", row=first_row + row + 1),
                value=values[row],
                hint="write CSV, or map the labels back to numbers",
            ) from None
        table = table.set_column(table.column_names.index("label"), "label", numbers)
    if metadata.get("mrc_layout") == "hub":
        assert plan is not None
        table = hf_columns(table, plan)
    return table


def check_write(path: str | Path, format: str | None = None, kind: str | None = None) -> str:
    """The format :func:`write` uses for ``path``, checked before anything is written (a pipeline
    checks its exports with it before its first stage).

    Raises:
        ConfigError: an unknown format, or one that cannot hold rows of ``kind`` (SQuAD takes ``mrc``,
            BEIR a retrieval part, DPR and sentence-transformers ``triplets``).
        InputError: no format given and none can be told from ``path``.
    """
    _check_choice("format", format, WRITE_FORMATS)
    fmt = format or detect_format(path, writing=True)
    if kind is None:
        return fmt
    if fmt == "squad" and kind != "mrc":
        hint = "use jsonl or parquet"
        raise ConfigError("only kind 'mrc' can be written as SQuAD", where=Where(file=str(path)), value=kind, hint=hint)
    if fmt == "beir" and kind not in PARTS:
        raise ConfigError(
            f"only kinds {', '.join(PARTS)} can be written as BEIR", value=kind, hint="use jsonl or parquet"
        )
    if fmt in TRAINING_FORMATS:
        check_training(kind, fmt, path)
    return fmt


@overload
def write(
    data: Any,
    path: Path,
    *,
    format: str | None = None,
    kind: str | None = None,
    quote: str | Literal["default"] | None = "default",
    as_source: bool = True,
) -> Path: ...
@overload
def write(
    data: Any,
    path: str,
    *,
    format: str | None = None,
    kind: str | None = None,
    quote: str | Literal["default"] | None = "default",
    as_source: bool = True,
) -> Path | str: ...
def write(
    data: Any,
    path: str | Path,
    *,
    format: str | None = None,
    kind: str | None = None,
    quote: str | Literal["default"] | None = "default",
    as_source: bool = True,
) -> Path | str:
    """Write a Dataset, pyarrow Table, polars or pandas DataFrame or ``datasets.Dataset``; the format
    comes from ``path`` if not given. With ``as_source`` (the default) JSON Lines and Parquet get back
    what the source had (integer labels, the Hub's MRC layout); ``False`` keeps curate's own columns,
    as a run folder holds them.

    Row formats (JSON Lines, CSV, TSV, Parquet) are written batch by batch (of :data:`WRITE_BATCH_ROWS`
    rows; a dataset on disk is read one batch at a time), so memory follows the batch, not the
    dataset; so is SQuAD when each article's and paragraph's rows are consecutive (memory follows
    an article; see :func:`~curate.io.squad.write_squad`), and so are the training formats (DPR,
    sentence-transformers), BEIR folders and ``datasets`` folders (through memory-mapped Arrow
    files). What a batch cannot decide alone (columns empty in every row, ClassLabel names, split
    names: see :func:`~curate.io.hf.export_plan`) is decided in a first pass over the rows.

    The write is atomic: a temporary file beside ``path`` is renamed into place (and removed when the
    write fails; a full or read-only disk is an OutputError naming ``path``). An ``s3://`` URL is
    written locally first, then copied up (see :mod:`curate.objects`); the URL is returned.
    """
    if is_remote(path):
        with output_path(path) as local:
            write(data, local, format=format, kind=kind, quote=quote, as_source=as_source)
        return str(path)
    path = Path(path)
    dataset = _as_dataset(data, kind)
    folder_format = format in ("beir", "hf") or (format is None and (is_beir_folder(path) or is_hf_folder(path)))
    if path.is_dir() and not folder_format:
        raise OutputError(
            "the destination is a folder", where=Where(file=str(path)), hint="give a file name, e.g. out.parquet"
        )
    fmt = check_write(path, format, dataset.kind)
    if fmt == "beir":
        return write_bundle({dataset.kind: dataset}, path, format="beir")
    if fmt == "hf":
        return to_hf(dataset, path)
    with atomic_file(path) as tmp:
        try:
            _write_file(dataset, fmt, tmp, path, quote, as_source)
        except CurateError as exc:
            raise exc.at(file=str(path)) from None
    return path


WRITE_BATCH_ROWS = 32768
"""Rows per batch when :func:`write` streams a row format."""


def _batches_or_empty(dataset: Dataset) -> Iterator[pa.Table]:
    """The rows of ``dataset`` in batches of :data:`WRITE_BATCH_ROWS`; one empty table for no rows."""
    return itertools.chain(dataset.batches(WRITE_BATCH_ROWS), [] if dataset.num_rows else [dataset.rows(0, 0)])


def _row_batches(dataset: Dataset, fmt: str, as_source: bool) -> Iterator[pa.Table]:
    """The rows of ``dataset`` in batches as ``fmt`` holds them (restored to the source's shape with
    ``as_source``), at least one table (an empty one for no rows), curate's metadata in the schema
    for Parquet."""
    first_row = 0
    plan = None
    if as_source and _restoring(dataset.kind, dataset.metadata, fmt):  # decided over every row, used in each batch
        plan = export_plan(_batches_or_empty(dataset), dataset.kind, dataset.metadata)
    for batch in _batches_or_empty(dataset):
        if as_source:
            batch = _restored(batch, dataset.kind, dataset.metadata, fmt, plan, first_row=first_row)
        if fmt == "parquet":
            batch = with_metadata(batch, {**dataset.metadata, "kind": dataset.kind})
        first_row += batch.num_rows
        yield batch


def _write_file(dataset: Dataset, fmt: str, tmp: Path, path: Path, quote: Any, as_source: bool) -> None:
    if fmt in ("jsonl", "csv", "tsv", "parquet"):
        batches = _row_batches(dataset, fmt, as_source)
        if fmt == "jsonl":
            write_jsonl(batches, tmp, name=path)
        elif fmt == "parquet":
            write_parquet(batches, tmp)
        else:
            default = '"' if fmt == "csv" else None
            delimiter = "," if fmt == "csv" else "\t"
            write_delimited(
                batches, tmp, delimiter=delimiter, quote=default if quote == "default" else quote, name=path
            )
        return
    if fmt in TRAINING_FORMATS:
        write_training(_batches_or_empty(dataset), dataset.kind, tmp, fmt, name=path)
    else:
        write_squad(lambda: dataset.batches(WRITE_BATCH_ROWS), tmp, metadata=dataset.metadata, name=path)


def to_hf(data: Any, path: str | Path, *, kind: str | None = None) -> Path:
    """Write rows as a folder ``datasets.load_from_disk`` opens: MRC in the Hub's SQuAD layout
    (``answers: {text, answer_start}``), ``ClassLabel`` labels, a ``DatasetDict`` when the rows have
    a ``split`` column; curate's metadata in ``curate.json``. ``data`` is anything :func:`write` takes.
    The folder is written beside ``path`` first and then moved into place."""
    path = Path(path)
    dataset = _as_dataset(data, kind)

    def fill(folder: Path) -> None:
        try:
            write_hf(lambda: _batches_or_empty(dataset), dataset.kind, dataset.metadata, folder)
        except CurateError as exc:
            raise exc.at(file=str(path)) from None

    atomic_folder(path, fill)
    return path


def report_format(path: str | Path) -> str:
    """The format :func:`write_table` gives ``path`` (csv, tsv, jsonl or parquet, by suffix); raises
    ConfigError for any other, before anything is written."""
    try:
        fmt = detect_format(path, writing=True)
    except InputError:
        fmt = ""
    if fmt not in REPORT_FORMATS:
        raise ConfigError(
            "unknown report format",
            where=Where(file=str(path)),
            value=Path(path).suffix or "(no suffix)",
            hint="name the report .csv, .tsv, .jsonl or .parquet",
        )
    return fmt


@overload
def write_table(table: pa.Table, path: Path) -> Path: ...
@overload
def write_table(table: pa.Table, path: str) -> Path | str: ...
def write_table(table: pa.Table, path: str | Path) -> Path | str:
    """Write a plain table (a report, not a dataset) as CSV, TSV, JSON Lines or Parquet by suffix
    (to an ``s3://`` URL too)."""
    if is_remote(path):
        with output_path(path) as local:
            write_table(table, local)
        return str(path)
    path = Path(path)
    fmt = report_format(path)
    with atomic_file(path) as tmp:
        if fmt == "jsonl":
            write_jsonl(table, tmp, name=path)
        elif fmt == "parquet":
            write_parquet(table, tmp)
        else:
            write_delimited(table, tmp, delimiter="," if fmt == "csv" else "\t", quote='"', name=path)
    return path


def write_bundle(parts: Mapping[str, Dataset], path: str | Path, *, format: str = "parquet") -> Path:
    """Write retrieval parts (``corpus``, ``queries``, ``qrels``) as a BEIR or Parquet folder; the
    parts are written to a temporary folder first, so a failure leaves ``path`` as it was."""
    path = Path(path)
    _check_choice("format", format, ("beir", "parquet"))

    def fill(folder: Path) -> None:
        if format == "beir":
            write_beir(parts, folder)
        else:
            for kind, dataset in parts.items():
                write(dataset, folder / f"{kind}.parquet", format="parquet")

    atomic_folder(path, fill)
    return path
