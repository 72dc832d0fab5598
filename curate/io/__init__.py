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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from curate.dataset import Dataset, read_metadata, with_metadata
from curate.errors import ConfigError, CurateError, InputError, OutputError, SchemaError, Where
from curate.files import atomic_file
from curate.io.beir import PARTS, is_beir_folder, read_beir_part, write_beir
from curate.io.files import atomic_folder, check_name, input_file, input_folder, peek_text
from curate.io.hf import (
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
from curate.io.quarantine import BadRow, Rows, conform_or_set_aside, write_quarantine
from curate.io.squad import read_squad, write_squad
from curate.io.tabular import (
    read_delimited,
    read_json_records,
    read_jsonl,
    read_parquet,
    write_delimited,
    write_jsonl,
    write_parquet,
)
from curate.io.training import TRAINING_FORMATS, check_training, write_training
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
    "FORMATS",
    "REPORT_FORMATS",
    "WRITE_FORMATS",
    "BadRow",
    "check_write",
    "detect_format",
    "infer_kind",
    "is_bundle",
    "read",
    "read_bundle",
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


def _read_table(path: Path, fmt: str, kind: str | None, *, skip: bool, split: str | None, quote: Any) -> Rows:
    if fmt in ("beir", "hf") or (fmt == "parquet" and path.is_dir()):
        if not path.is_dir():
            raise InputError(
                f"a {fmt} dataset is a folder, found a file", where=Where(file=str(path)), hint="give the folder"
            )
    else:
        input_file(path)
    if fmt == "squad":
        table, bad = read_squad(path, skip_bad_rows=skip)
        return Rows(table, bad)
    if fmt == "jsonl":
        return read_jsonl(path, skip_bad_rows=skip)
    if fmt == "json":
        return read_json_records(path)
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        if quote == "default":
            quote = '"' if fmt == "csv" else None
        return read_delimited(path, delimiter=delimiter, quote=quote, skip_bad_rows=skip)
    if fmt == "parquet":
        if path.is_dir():
            files = (
                [path / f"{kind}.parquet"]
                if kind and (path / f"{kind}.parquet").exists()
                else sorted(path.glob("*.parquet"))
            )
        else:
            files = [path]
        rows = read_parquet(files)
        table = named_labels(rows.table, parquet_class_labels(rows.table.schema), str(files[0]))
        metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"huggingface"}
        return Rows(table.replace_schema_metadata(metadata))
    if fmt == "beir":
        if kind is None:
            raise ConfigError(
                "a BEIR folder holds several kinds",
                where=Where(file=str(path)),
                hint="pass --kind corpus, queries or qrels",
            )
        return read_beir_part(path, kind, skip_bad_rows=skip)
    return read_hf(path, split=split)


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
    """
    path = Path(path)
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
    rows = _read_table(path, fmt, kind, skip=skip, split=split, quote=quote)
    file = str(path)
    table = _apply_rename(rows.table, rename, file)
    if rename:
        table = _renamed_labels(table, rename)
    if table.num_columns == 0 and table.num_rows == 0:  # an empty file, or every row set aside
        if kind is None:
            raise InputError(
                "file has no rows, so its kind cannot be told",
                where=Where(file=file),
                hint=f"pass --kind ({', '.join(kinds())}) to read it as an empty dataset",
            )
        table = get_schema(kind).empty_table()
    try:
        metadata = read_metadata(table.schema)
    except CurateError as exc:
        raise exc.at(file=file) from None
    if kind is None:
        kind = metadata.get("kind") or infer_kind(table.column_names)
    if kind is None:
        raise SchemaError(
            "cannot tell the dataset kind from the columns",
            where=Where(file=file),
            value=table.column_names,
            hint=f"pass --kind ({', '.join(kinds())}) and map columns with --rename SOURCE=TARGET",
        )
    metadata.update(source_metadata(table, kind))
    conformed = conform_or_set_aside(Rows(table, rows.bad, rows.lines, rows.raws), kind, file, skip=skip)
    table, bad = conformed.table, conformed.bad
    if quarantine is not None and skip:
        write_quarantine(bad, Path(quarantine))
    metadata = {**metadata, "kind": kind, "quarantined_rows": str(len(bad))} if skip else {**metadata, "kind": kind}
    return Dataset(kind=kind, table=table, metadata=metadata)


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


def _restored(table: pa.Table, kind: str, metadata: Mapping[str, str], fmt: str) -> pa.Table:
    """``table`` as its source had it, for JSON Lines and Parquet (``fmt``): integer labels as
    integers; MRC rows in the Hub layout and columns when the source had them (see
    :func:`~curate.io.hf.hf_columns`); ClassLabel columns in Parquet as ``datasets`` writes them
    (ids, and the features in the ``huggingface`` schema metadata) where ``datasets`` is installed."""
    if fmt not in ("jsonl", "parquet"):
        return table
    if fmt == "parquet" and "class_labels" in metadata and has_hf_library():
        return hf_dataset(table, kind, metadata).data.table  # as Dataset.to_parquet writes it
    if metadata.get("int_labels") == "true" and "label" in table.column_names:
        labels = table.column("label")
        try:
            numbers = labels.cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = labels.to_pylist()
            row = next((i for i, v in enumerate(values) if v is not None and not _INT.fullmatch(v)), 0)
            raise OutputError(
                "the source had integer labels, but a label is not a number",
                where=Where(field="label", row=row + 1),
                value=values[row],
                hint="write CSV, or map the labels back to numbers",
            ) from None
        table = table.set_column(table.column_names.index("label"), "label", numbers)
    if metadata.get("mrc_layout") == "hub":
        table = hf_columns(table, kind, metadata)
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


def write(
    data: Any,
    path: str | Path,
    *,
    format: str | None = None,
    kind: str | None = None,
    quote: str | Literal["default"] | None = "default",
    as_source: bool = True,
) -> Path:
    """Write a Dataset, pyarrow Table, polars or pandas DataFrame or ``datasets.Dataset``; the format
    comes from ``path`` if not given. With ``as_source`` (the default) JSON Lines and Parquet get back
    what the source had (integer labels, the Hub's MRC layout); ``False`` keeps curate's own columns,
    as a run folder holds them.

    The write is atomic: a temporary file beside ``path`` is renamed into place (and removed when the
    write fails; a full or read-only disk is an OutputError naming ``path``).
    """
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
    table = dataset.to_arrow()
    if as_source:
        table = _restored(table, dataset.kind, dataset.metadata, fmt)
    with atomic_file(path) as tmp:
        try:
            _write_file(dataset, table, fmt, tmp, path, quote)
        except CurateError as exc:
            raise exc.at(file=str(path)) from None
    return path


def _write_file(dataset: Dataset, table: pa.Table, fmt: str, tmp: Path, path: Path, quote: Any) -> None:
    if fmt in TRAINING_FORMATS:
        write_training(table, dataset.kind, tmp, fmt, name=path)
    elif fmt == "squad":
        write_squad(table, tmp, metadata=dataset.metadata, name=path)
    elif fmt == "jsonl":
        write_jsonl(table, tmp, name=path)
    elif fmt in ("csv", "tsv"):
        default = '"' if fmt == "csv" else None
        delimiter = "," if fmt == "csv" else "\t"
        write_delimited(table, tmp, delimiter=delimiter, quote=default if quote == "default" else quote, name=path)
    else:
        write_parquet(with_metadata(table, {**dataset.metadata, "kind": dataset.kind}), tmp)


def to_hf(data: Any, path: str | Path, *, kind: str | None = None) -> Path:
    """Write rows as a folder ``datasets.load_from_disk`` opens: MRC in the Hub's SQuAD layout
    (``answers: {text, answer_start}``), ``ClassLabel`` labels, a ``DatasetDict`` when the rows have
    a ``split`` column; curate's metadata in ``curate.json``. ``data`` is anything :func:`write` takes.
    The folder is written beside ``path`` first and then moved into place."""
    path = Path(path)
    dataset = _as_dataset(data, kind)
    table = dataset.to_arrow()

    def fill(folder: Path) -> None:
        try:
            write_hf(table, dataset.kind, dataset.metadata, folder)
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


def write_table(table: pa.Table, path: str | Path) -> Path:
    """Write a plain table (a report, not a dataset) as CSV, TSV, JSON Lines or Parquet by suffix."""
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
            write_beir({kind: ds.to_arrow() for kind, ds in parts.items()}, folder)
        else:
            for kind, dataset in parts.items():
                write(dataset, folder / f"{kind}.parquet", format="parquet")

    atomic_folder(path, fill)
    return path
