"""Folders written by Hugging Face ``datasets``' ``save_to_disk`` (read only).

A ``Dataset`` folder holds ``state.json`` (its ``_data_files``) and Arrow IPC stream files; a
``DatasetDict`` folder holds ``dataset_dict.json`` and one such folder per split. ``ClassLabel``
columns (integers) are turned into their label names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from curate.errors import InputError, Where


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists())


def _class_labels(folder: Path) -> dict[str, list[str]]:
    info_file = folder / "dataset_info.json"
    if not info_file.exists():
        return {}
    features = json.loads(info_file.read_text(encoding="utf-8")).get("features") or {}
    return {
        name: spec["names"]
        for name, spec in features.items()
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and spec.get("names")
    }


def _read_split(folder: Path) -> pa.Table:
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    tables = []
    for entry in state.get("_data_files", []):
        with pa.memory_map(str(folder / entry["filename"])) as source:
            tables.append(pa.ipc.open_stream(source).read_all())
    if not tables:
        raise InputError("the datasets folder has no data files", where=Where(file=str(folder)))
    table = pa.concat_tables(tables)
    for name, names in _class_labels(folder).items():
        if name in table.column_names:
            ids = table.column(name).to_pylist()
            labels = pa.array([None if i is None or i < 0 else names[i] for i in ids], pa.string())
            table = table.set_column(table.column_names.index(name), name, labels)
    return table


def read_hf(folder: Path, *, split: str | None = None) -> pa.Table:
    """Read a ``save_to_disk`` folder; for a ``DatasetDict`` read ``split``, or every split with a
    ``split`` column added."""
    if (folder / "state.json").exists():
        return _read_split(folder)
    splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    if split is not None:
        if split not in splits:
            raise InputError(
                "unknown split", where=Where(file=str(folder)), value=split, hint=f"splits: {', '.join(splits)}"
            )
        return _read_split(folder / split)
    tables = []
    for name in splits:
        table = _read_split(folder / name)
        tables.append(table.append_column("split", pa.array([name] * table.num_rows, pa.string())))
    return pa.concat_tables(tables, promote_options="permissive")
