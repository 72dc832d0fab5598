"""Hugging Face ``datasets``: ``save_to_disk`` folders (read and write) and in-memory ``Dataset`` objects.

A ``Dataset`` folder holds ``state.json`` (its ``_data_files``), ``dataset_info.json`` (its features)
and Arrow IPC stream files; a ``DatasetDict`` folder holds ``dataset_dict.json`` and one such folder
per split. curate writes ``curate.json`` beside them (its metadata: kind, SQuAD top-level keys,
label names), which ``datasets`` ignores.

Mapping to curate's kinds:

- ``ClassLabel`` columns (integer ids) become their names; the names, in order, are kept in the
  metadata ``class_labels`` (``{"column": [names]}``) and written back as the same ``ClassLabel``.
- The Hub's SQuAD layout, ``answers: {text: [...], answer_start: [...]}``, is read by the schema
  cast (:func:`curate.schemas.is_struct_of_lists`) and written back by :func:`hub_layout`.
- A ``DatasetDict`` read whole gets a ``split`` column; rows with one are written as a ``DatasetDict``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.dataset import read_metadata, with_metadata
from curate.errors import ConfigError, InputError, OutputError, Where
from curate.io.files import input_file, input_folder
from curate.io.quarantine import Rows
from curate.schemas import get_schema

CURATE_FILE = "curate.json"
SPLIT = "split"
# the columns the Hub's SQuAD datasets (squad, squad_v2, squad_kor_v1) have, in their order
HUB_MRC = ("id", "title", "context", "question", "answers")
_ANSWER_LISTS = ("answers", "plausible_answers")
_MAX_CLASS_ID = 100_000  # integer labels become ClassLabel names "0".."n": a bound on n


def hf_library() -> Any:
    """The ``datasets`` module; a ConfigError saying how to install it when it is missing."""
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "writing a datasets folder needs the 'datasets' package", hint="pip install 'curate[hf]'"
        ) from None
    return datasets


def has_hf_library() -> bool:
    return importlib.util.find_spec("datasets") is not None


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists())


def is_hf_dataset(data: Any) -> bool:
    """True for a ``datasets.Dataset`` (checked without importing ``datasets``)."""
    return type(data).__module__.startswith("datasets.") and type(data).__name__ == "Dataset"


def _json_file(path: Path, want: type) -> Any:
    """A small JSON file of the folder; malformed or of the wrong shape is an InputError."""
    input_file(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError("malformed JSON in a datasets folder", where=Where(file=str(path)), value=str(exc)) from None
    if not isinstance(value, want):
        raise InputError(
            f"expected a JSON {want.__name__} in a datasets folder", where=Where(file=str(path)), value=value
        )
    return value


def class_labels(features: Any) -> dict[str, list[str]]:
    """``{column: names}`` of the ``ClassLabel`` columns in a features mapping as ``datasets``
    stores it (``dataset_info.json``, or the ``huggingface`` metadata of a Parquet file)."""
    if not isinstance(features, dict):
        return {}
    return {
        name: [str(n) for n in spec["names"]]
        for name, spec in features.items()
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and isinstance(spec.get("names"), list)
    }


def parquet_class_labels(schema: pa.Schema) -> dict[str, list[str]]:
    """ClassLabel names from the ``huggingface`` schema metadata ``datasets`` writes into Parquet."""
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        info = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return class_labels((info.get("info") or {}).get("features") if isinstance(info, dict) else None)


def named_labels(table: pa.Table, labels: dict[str, list[str]], file: str, first_row: int = 0) -> pa.Table:
    """ClassLabel id columns replaced by their names (id -1, "no label", becomes null); the names go
    into the curate metadata ``class_labels``. An id out of range is an InputError naming the column
    (and the row, counting ``first_row`` rows of the file before ``table``)."""
    labels = {
        k: v for k, v in labels.items() if k in table.column_names and pa.types.is_integer(table.schema.field(k).type)
    }
    if not labels:
        return table
    metadata = read_metadata(table.schema)
    for name, names in labels.items():
        ids = table.column(name).to_pylist()
        bad = next((i for i, v in enumerate(ids) if v is not None and not -1 <= v < len(names)), None)
        if bad is not None:
            raise InputError(
                "class label id out of range",
                where=Where(file=file, row=first_row + bad + 1, field=name),
                value=ids[bad],
                hint=f"the labels are {names}",
            )
        values = pa.array([None if v is None or v < 0 else names[v] for v in ids], pa.string())
        table = table.set_column(table.column_names.index(name), name, values)
    known = json.loads(metadata.get("class_labels", "{}"))
    return with_metadata(table, {**metadata, "class_labels": json.dumps({**known, **labels}, ensure_ascii=False)})


# --------------------------------------------------------------------------- reading


def _read_split(folder: Path) -> pa.Table:
    input_folder(folder)
    entries = _json_file(folder / "state.json", dict).get("_data_files", [])
    tables = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or "/" in name or "\\" in name:
            raise InputError(
                "bad data file entry in state.json", where=Where(file=str(folder / "state.json")), value=entry
            )
        path = input_file(folder / name)
        try:
            with pa.memory_map(str(path)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        except (pa.ArrowException, OSError) as exc:
            raise InputError("cannot read an Arrow data file", where=Where(file=str(path)), value=str(exc)) from None
    if not tables:
        raise InputError("the datasets folder has no data files", where=Where(file=str(folder)))
    try:
        table = pa.concat_tables(tables).replace_schema_metadata(None)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InputError("the data files of a split have different columns", where=Where(file=str(folder))) from None
    info_file = folder / "dataset_info.json"
    features = _json_file(info_file, dict).get("features") if info_file.exists() else None
    if features is not None and not isinstance(features, dict):
        raise InputError("'features' is not a JSON object", where=Where(file=str(info_file)), value=features)
    return named_labels(table, class_labels(features), str(folder))


def _curate_metadata(folder: Path) -> dict[str, str]:
    """The metadata curate wrote beside the data (``{}`` for folders written by others)."""
    path = folder / CURATE_FILE
    if not path.exists():
        return {}
    metadata = _json_file(path, dict)
    if not all(isinstance(v, str) for v in metadata.values()):
        raise InputError("expected a JSON object of text values", where=Where(file=str(path)), value=metadata)
    return metadata


def _merged(table: pa.Table, folder: Path) -> Rows:
    """``table`` with the folder's curate metadata under the metadata read from the data."""
    return Rows(with_metadata(table, {**_curate_metadata(folder), **read_metadata(table.schema)}))


def read_hf(folder: Path, *, split: str | None = None) -> Rows:
    """Read a ``save_to_disk`` folder; for a ``DatasetDict`` read ``split``, or every split with a
    ``split`` column added."""
    input_folder(folder)
    if (folder / "state.json").exists():
        return _merged(_read_split(folder), folder)
    if not (folder / "dataset_dict.json").exists():
        raise InputError(
            "not a datasets folder: no state.json or dataset_dict.json",
            where=Where(file=str(folder)),
            hint="give a folder written by save_to_disk (or curate convert --to hf)",
        )
    splits = _json_file(folder / "dataset_dict.json", dict).get("splits")
    if not isinstance(splits, list) or not all(isinstance(s, str) and s and "/" not in s for s in splits):
        raise InputError("'splits' is not a list of names", where=Where(file=str(folder / "dataset_dict.json")))
    if split is not None:
        if split not in splits:
            raise InputError(
                "unknown split", where=Where(file=str(folder)), value=split, hint=f"splits: {', '.join(splits)}"
            )
        return _merged(_read_split(folder / split), folder)
    tables = []
    for name in splits:
        table = _read_split(folder / name)
        if SPLIT in table.column_names:
            raise InputError(
                f"split '{name}' has a column named 'split'",
                where=Where(file=str(folder), field=SPLIT),
                hint="pass --split",
            )
        tables.append(table.append_column(SPLIT, pa.array([name] * table.num_rows, pa.string())))
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InputError(
            "the splits have different columns", where=Where(file=str(folder)), hint="pass --split"
        ) from None
    return _merged(table, folder)


def from_hf_dataset(data: Any) -> pa.Table:
    """A ``datasets.Dataset`` as an Arrow table (its row order and selection; ClassLabel ids as names)."""
    from datasets import ClassLabel

    table = data.with_format("arrow")[:]
    labels = {name: list(f.names) for name, f in data.features.items() if isinstance(f, ClassLabel)}
    return named_labels(table.replace_schema_metadata(None), labels, "datasets.Dataset")


# --------------------------------------------------------------------------- writing


def hub_layout(table: pa.Table) -> pa.Table:
    """``answers`` / ``plausible_answers`` as the Hub stores them: a struct of lists
    (``{text: [...], answer_start: [...]}``) instead of a list of structs."""
    for name in _ANSWER_LISTS:
        if name not in table.column_names or not pa.types.is_list(table.schema.field(name).type):
            continue
        item = table.schema.field(name).type.value_type
        if not pa.types.is_struct(item):
            continue
        fields = [item.field(i) for i in range(item.num_fields)]
        target = pa.struct([pa.field(f.name, pa.list_(f.type)) for f in fields])
        values = [
            None if cell is None else {f.name: [a[f.name] for a in cell] for f in fields}
            for cell in table.column(name).to_pylist()
        ]
        table = table.set_column(table.column_names.index(name), name, pa.array(values, target))
    return table


@dataclass(frozen=True)
class ExportPlan:
    """What an export decides over all its rows before it writes the first, so every batch is
    written alike: ``dropped``, the columns :func:`hf_columns` leaves out; ``labels``, ``{column:
    ClassLabel names}``; ``splits``, the ``split`` values in order of appearance (empty when there
    is no ``split`` column or a row has none)."""

    dropped: tuple[str, ...]
    labels: dict[str, list[str]]
    splits: tuple[str, ...]


class _IdGroups:
    """Whether ``document_id`` / ``passage_id`` group the rows exactly as ``title`` / ``context``
    do (so the SQuAD writer rebuilds the same articles and paragraphs without them), seen batch by
    batch; contexts are kept as 16-byte digests."""

    def __init__(self) -> None:
        self.articles: set[tuple[Any, Any]] = set()
        self.paragraphs: set[tuple[Any, Any]] = set()

    def add(self, table: pa.Table) -> None:
        columns = (table.column(n).to_pylist() for n in ("document_id", "passage_id", "title", "context"))
        for document, passage, title, context in zip(*columns, strict=True):
            digest = None if context is None else hashlib.blake2b(context.encode(), digest_size=16).digest()
            self.articles.add((document, title))
            self.paragraphs.add(((document, passage), (document, digest)))

    def redundant(self) -> bool:
        def one_to_one(pairs: set[tuple[Any, Any]]) -> bool:
            return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})

        return one_to_one(self.articles) and one_to_one(self.paragraphs)


def export_plan(tables: Iterable[pa.Table], kind: str, metadata: Mapping[str, str]) -> ExportPlan:
    """The :class:`ExportPlan` of rows of ``kind`` given as ``tables`` (one pass; at least one table,
    an empty one for no rows, so the columns are known). Optional schema columns that hold nothing
    are left out (reading adds them back as nulls), and so are ids conforming made
    (``generated_ids`` metadata) and the ``document_id`` / ``passage_id`` curate's SQuAD reader made
    when ``title`` / ``context`` group the rows the same way. ClassLabel names: see :func:`_label_names`."""
    schema = get_schema(kind)
    optional = [f.name for f in schema.fields if not f.required and not (kind == "mrc" and f.name in HUB_MRC)]
    filled: set[str] = set()
    known: dict[str, list[str] | None] = json.loads(metadata.get("class_labels", "{}"))
    if kind == "classification":
        known.setdefault("label", None)
    present: dict[str, set[str]] = {}
    splits: dict[str, None] | None = {}
    ids = _IdGroups() if kind == "mrc" and metadata.get("source_format") == "squad" else None
    for table in tables:
        names = table.column_names
        filled |= {n for n in optional if n in names and table.column(n).null_count < table.num_rows}
        for name in known:
            if name in names and pa.types.is_string(table.schema.field(name).type):
                values = pc.unique(table.column(name).drop_null()).to_pylist()
                present.setdefault(name, set()).update(values)
        if splits is not None and SPLIT in names and table.column(SPLIT).null_count == 0:
            splits.update(dict.fromkeys(pc.unique(table.column(SPLIT)).to_pylist()))
        else:
            splits = None
        if ids is not None and all(n in names for n in ("document_id", "passage_id", "title", "context")):
            ids.add(table)
        elif ids is not None:
            ids = None
    dropped = [n for n in optional if n not in filled]
    if metadata.get("generated_ids") == "true" and schema.key:
        dropped.append(schema.key)
    if ids is not None and ids.redundant():
        dropped += [n for n in ("document_id", "passage_id") if n not in dropped]
    labels = {name: _label_names(known[name], values, name, metadata) for name, values in present.items()}
    return ExportPlan(tuple(dropped), labels, tuple(splits or ()))


def hf_columns(table: pa.Table, plan: ExportPlan) -> pa.Table:
    """The columns an export keeps (``plan.dropped`` left out), MRC answers in the Hub layout."""
    return hub_layout(table.drop_columns([n for n in plan.dropped if n in table.column_names]))


def _label_names(names: list[str] | None, present: set[str], column: str, metadata: Mapping[str, str]) -> list[str]:
    """The ClassLabel names of a text column holding the labels ``present``: the known ``names`` in
    their order, then any new label, sorted; integer labels (``int_labels`` metadata) keep their
    numbers as ids ("0", "1", ...)."""
    if column == "label" and metadata.get("int_labels") == "true" and not names:
        numbers = sorted(_label_number(v) for v in present)
        if numbers and not 0 <= numbers[0] <= numbers[-1] < _MAX_CLASS_ID:
            raise OutputError(
                f"integer labels must lie in 0..{_MAX_CLASS_ID - 1} to be ClassLabel ids",
                where=Where(field=column),
                value=numbers[0] if numbers[0] < 0 else numbers[-1],
                hint="write jsonl or parquet",
            )
        names = [str(i) for i in range(numbers[-1] + 1 if numbers else 0)]
    return list(names or []) + sorted(present - set(names or []))


def _label_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise OutputError(
            "integer labels hold text that is not a number",
            where=Where(field="label"),
            value=text,
            hint="write jsonl or parquet",
        ) from None


def _features(table: pa.Table, labels: Mapping[str, list[str]]) -> Any:
    """The ``datasets.Features`` of an export's columns (``table``, as :func:`hf_columns` gives
    them): Arrow's types, ``ClassLabel`` for the columns of ``labels``."""
    datasets = hf_library()
    features = datasets.Features.from_arrow_schema(table.schema)
    for name, names in labels.items():
        if name in features:
            features[name] = datasets.ClassLabel(names=names)
    return features


def _with_features(table: pa.Table, features: Any) -> pa.Table:
    """``table`` (as :func:`hf_columns` gives it) cast to ``features``: ClassLabel columns as ids."""
    for name, feature in features.items():
        if type(feature).__name__ == "ClassLabel":
            index = {n: i for i, n in enumerate(feature.names)}
            ids = pa.array([None if v is None else index[v] for v in table.column(name).to_pylist()], pa.int64())
            table = table.set_column(table.column_names.index(name), name, ids)
    return table.cast(features.arrow_schema)


def hf_dataset(table: pa.Table, kind: str, metadata: Mapping[str, str], plan: ExportPlan | None = None) -> Any:
    """A ``datasets.Dataset`` of curate rows as an export has them (``plan``, default the table's
    own :func:`export_plan`): the MRC Hub layout, ``ClassLabel`` columns, other types as Arrow has them."""
    datasets = hf_library()
    plan = plan or export_plan([table], kind, metadata)
    table = hf_columns(table.replace_schema_metadata(None), plan)
    features = _features(table, plan.labels)
    return datasets.Dataset(_with_features(table, features), info=datasets.DatasetInfo(features=features))


def write_hf(batches: Callable[[], Iterable[pa.Table]], kind: str, metadata: dict[str, str], folder: Path) -> None:
    """Write ``save_to_disk`` output into the empty ``folder``: one ``Dataset``, or a ``DatasetDict``
    when the rows have a ``split`` column (its values are the split names, in order of appearance),
    and ``curate.json`` with the metadata.

    ``batches()`` gives the rows in order (at least one table, an empty one for no rows); it is
    called twice: once for the :class:`ExportPlan`, once to write each split's rows batch by batch
    into an Arrow file beside ``folder`` that ``datasets`` memory-maps and saves, so memory follows
    the batch, not the dataset."""
    datasets = hf_library()
    plan = export_plan(batches(), kind, metadata)
    if not all(isinstance(n, str) and n and "/" not in n for n in plan.splits):
        raise OutputError("a split name is not a folder name", where=Where(field=SPLIT), value=list(plan.splits))
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".hf-") as scratch:
        files: dict[str, Path] = {}
        writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        features = None
        try:
            for batch in batches():
                table = hf_columns(batch.replace_schema_metadata(None), plan)
                pieces = (
                    {n: table.filter(pc.equal(table.column(SPLIT), n)).drop_columns([SPLIT]) for n in plan.splits}
                    if plan.splits
                    else {"": table}
                )
                for split, rows in pieces.items():
                    features = features or _features(rows, plan.labels)
                    rows = _with_features(rows, features)
                    if split not in writers:
                        files[split] = Path(scratch) / f"{len(files)}.arrow"
                        writers[split] = pa.ipc.new_stream(str(files[split]), rows.schema)
                    writers[split].write_table(rows)
        finally:
            for writer in writers.values():
                writer.close()
        info = datasets.DatasetInfo(features=features)
        parts = {split: datasets.Dataset.from_file(str(file), info=info) for split, file in files.items()}
        data = datasets.DatasetDict(parts) if plan.splits else parts[""]
        with _quiet():
            data.save_to_disk(str(folder))
        del data, parts
    saved = {**metadata, "kind": kind}
    (folder / CURATE_FILE).write_text(json.dumps(saved, ensure_ascii=False, sort_keys=True), encoding="utf-8")


@contextmanager
def _quiet() -> Iterator[None]:
    """``datasets`` without its progress bars (curate prints its own counts)."""
    datasets = hf_library()
    was_off = datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_off:
            datasets.enable_progress_bars()
