"""Folders written by Hugging Face ``datasets``' ``save_to_disk`` (read only).

A ``Dataset`` folder holds ``state.json`` (its ``_data_files``) and Arrow IPC stream files; a
``DatasetDict`` folder holds ``dataset_dict.json`` and one such folder per split. ``ClassLabel``
columns (integers) are turned into their label names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.errors import InputError, Where
from curate.io.files import input_file, input_folder
from curate.io.quarantine import Rows


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists())


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


def _class_labels(folder: Path) -> dict[str, list[str]]:
    info_file = folder / "dataset_info.json"
    if not info_file.exists():
        return {}
    features = _json_file(info_file, dict).get("features") or {}
    if not isinstance(features, dict):
        raise InputError("'features' is not a JSON object", where=Where(file=str(info_file)), value=features)
    return {
        name: spec["names"]
        for name, spec in features.items()
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and isinstance(spec.get("names"), list)
    }


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
        table = pa.concat_tables(tables)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InputError("the data files of a split have different columns", where=Where(file=str(folder))) from None
    for name, names in _class_labels(folder).items():
        if name in table.column_names:
            ids = table.column(name).to_pylist()
            bad = next((i for i in ids if i is not None and not (isinstance(i, int) and -1 <= i < len(names))), None)
            if bad is not None:
                raise InputError(
                    "class label id out of range",
                    where=Where(file=str(folder), field=name),
                    value=bad,
                    hint=f"the labels are {names}",
                )
            labels = pa.array([None if i is None or i < 0 else names[i] for i in ids], pa.string())
            table = table.set_column(table.column_names.index(name), name, labels)
    return table


def read_hf(folder: Path, *, split: str | None = None) -> Rows:
    """Read a ``save_to_disk`` folder; for a ``DatasetDict`` read ``split``, or every split with a
    ``split`` column added."""
    input_folder(folder)
    if (folder / "state.json").exists():
        return Rows(_read_split(folder))
    splits = _json_file(folder / "dataset_dict.json", dict).get("splits")
    if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
        raise InputError("'splits' is not a list of names", where=Where(file=str(folder / "dataset_dict.json")))
    if split is not None:
        if split not in splits:
            raise InputError(
                "unknown split", where=Where(file=str(folder)), value=split, hint=f"splits: {', '.join(splits)}"
            )
        return Rows(_read_split(folder / split))
    tables = []
    for name in splits:
        table = _read_split(folder / name)
        tables.append(table.append_column("split", pa.array([name] * table.num_rows, pa.string())))
    try:
        return Rows(pa.concat_tables(tables, promote_options="permissive"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InputError(
            "the splits have different columns", where=Where(file=str(folder)), hint="pass --split"
        ) from None
