"""Dataset cards: the ``README.md`` written beside every export, in the Hugging Face Hub's format.

A card describes the exports in one folder: the folder of an export file (``out/clean.json`` ->
``out/README.md``), or the export itself when it is a folder (BEIR, Parquet parts, ``datasets``
folders). It has a YAML header the Hub reads (``license: unknown`` until the user sets one,
``language`` from ``language_id`` columns, ``task_categories``, ``size_categories``, ``configs`` and
``dataset_info`` with each part's features and splits) and a body: what the rows are, how to load
them, the curation steps with their counts (a run's manifest, or the stage a command ran), the
rejected rows' reasons and, after a ``bias_report`` stage, its diagnosis.

An *entry* is a JSON-able dict describing one export (:func:`export_entry`); :func:`render` turns
entries into the card, which keeps them in a closing comment, so the next export into the same
folder adds its entry beside the others (an entry whose files were rewritten or removed is
dropped). A ``README.md`` that curate did not write is never replaced: the card goes to
``README.curate.md`` and :func:`write_card` says so.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from curate._version import __version__
from curate.dataset import Dataset
from curate.files import atomic_file, remove
from curate.io.beir import qrels_splits_of

CARD = "README.md"
OTHER_CARD = "README.curate.md"
_MARK = "<!-- curate dataset card"
_GENERATED = (
    "license",
    "language",
    "task_categories",
    "task_ids",
    "size_categories",
    "tags",
    "configs",
    "dataset_info",
)
_LANGUAGE_SHARE = 0.01
"""A language is listed in the header when at least this share of a ``lang_*`` column has it."""

_TASKS = {
    "mrc": ("question-answering", "extractive-qa"),
    "classification": ("text-classification", None),
    "corpus": ("text-retrieval", "document-retrieval"),
    "queries": ("text-retrieval", "document-retrieval"),
    "qrels": ("text-retrieval", "document-retrieval"),
    "triplets": ("text-retrieval", "document-retrieval"),
}
_SIZES = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
_ROW_FORMATS = ("parquet", "jsonl", "csv", "tsv", "beir", "sentence-transformers")
"""Formats the Hub loads as rows from ``configs: data_files``."""
_READ_FORMATS = ("squad", "jsonl", "json", "csv", "tsv", "parquet", "beir", "hf")
_LOADERS = ((".parquet", "parquet"), (".jsonl", "json"), (".ndjson", "json"), (".csv", "csv"), (".tsv", "csv"))
_LAYOUTS = {
    "squad": "SQuAD JSON (`data` -> `paragraphs` -> `qas`); the features are those of one question per row, "
    "as `curate.read` gives them",
    "dpr": "a JSON list of DPR biencoder entries, one per triplets row; the features are those of an entry",
    "sentence-transformers": "one row per (anchor, positive, negative): a triplets row with K negatives gives K "
    "rows, so the file has more rows than the curation steps kept",
}
_ARROW_NAMES = {"double": "float64", "float": "float32", "halffloat": "float16"}


# ----------------------------------------------------------------------------- entries


def hub_features(schema: pa.Schema, fmt: str = "parquet") -> list[dict[str, Any]]:
    """The Hub's ``dataset_info.features`` list for rows of ``schema`` written as ``fmt``: scalars as
    ``dtype``, lists as ``list``, structs as ``struct`` (CSV and TSV hold nested values as JSON text)."""
    flat = fmt in ("csv", "tsv")
    return [{"name": f.name, **_feature(f.type, flat)} for f in schema]


def _feature(dtype: pa.DataType, flat: bool) -> dict[str, Any]:
    nested = pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_struct(dtype)
    if nested and flat:
        return {"dtype": "string"}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = _feature(dtype.value_type, flat)
        return {"list": inner["dtype"] if list(inner) == ["dtype"] else _unwrap(inner)}
    if pa.types.is_struct(dtype):
        return {"struct": [{"name": f.name, **_feature(f.type, flat)} for f in dtype]}
    if pa.types.is_dictionary(dtype):
        return _feature(dtype.value_type, flat)
    name = str(dtype)
    return {"dtype": _ARROW_NAMES.get(name, name)}


def _unwrap(feature: dict[str, Any]) -> Any:
    """The value under ``list`` for a nested item: a struct's field list, or ``{"list": ...}``."""
    return feature["struct"] if list(feature) == ["struct"] else feature


def language_counts(table: pa.Table) -> dict[str, dict[str, int]]:
    """Rows per language in each ``lang_<field>`` column a ``language_id`` stage added:
    ``{"lang_context": {"ko": 250, "en": 3}}``, most rows first (rows without a language are left out)."""
    found = {}
    for name in table.column_names:
        if (
            name.startswith("lang_")
            and not name.endswith("_score")
            and pa.types.is_string(table.schema.field(name).type)
        ):
            counts = pc.value_counts(table.column(name).drop_null()).to_pylist()
            ranked = sorted(((c["values"], c["counts"]) for c in counts if c["values"]), key=lambda vc: (-vc[1], vc[0]))
            if ranked:
                found[name] = dict(ranked)
    return found


def step(stage_id: str, use: str, stats: Mapping[str, Any], role: str = "") -> dict[str, Any]:
    """One curation step of a card from a stage's stats (``StageStats.as_dict()`` or a manifest
    record) and its role (``filter``, ``flag``, ...; empty when not known)."""
    keys = ("rows_in", "rows_added", "rows_kept", "rows_rejected", "rows_flagged", "rows_rewritten")
    return {
        "stage": stage_id,
        "use": use,
        "role": role,
        **{k: int(stats.get(k, 0)) for k in keys},
        "reasons": dict(stats.get("reasons", {})),
        "flags": dict(stats.get("flags", {})),
        "rewrites": dict(stats.get("rewrites", {})),
    }


def _part(name: str, kind: str, fmt: str, schema: pa.Schema, files: list[dict[str, Any]]) -> dict[str, Any]:
    """A part (a Hub config): ``files`` are ``{split, path, rows, bytes}``, ``bytes`` the Arrow size
    of the file's rows (the Hub's ``num_bytes``)."""
    splits: dict[str, dict[str, Any]] = {}
    for file in files:
        split = splits.setdefault(file["split"], {"name": file["split"], "num_bytes": 0, "num_examples": 0})
        split["num_bytes"] += file.pop("bytes")
        split["num_examples"] += file.pop("rows")
    return {
        "name": name,
        "kind": kind,
        "rows": sum(s["num_examples"] for s in splits.values()),
        "features": hub_features(schema, fmt),
        "splits": list(splits.values()),
        "files": files,
    }


def _file_parts(dataset: Dataset, path: Path, fmt: str, size: int) -> list[dict[str, Any]]:
    """The part of one export file (or ``datasets`` folder) in split ``train``: its rows and features
    as the format holds them (a SQuAD file as read back, DPR entries, sentence-transformers pairs or
    triplets), read batch by batch; ``size`` is the Arrow size of the dataset's rows."""
    if fmt == "hf":
        return [_hf_part(dataset.kind, path)]
    schema, rows = dataset.rows(0, 0).schema, dataset.num_rows
    if fmt == "squad":
        schema = _squad_schema(path)
    elif fmt == "dpr":
        from curate.io.training import dpr_entries

        batches = [pa.Table.from_pylist(dpr_entries(batch)).schema for batch in dataset.batches()]
        schema = pa.unify_schemas([pa.schema([]), *batches], promote_options="permissive")
    elif fmt == "sentence-transformers":
        from curate.io.training import training_counts

        counts = training_counts(_column_batches(dataset, "negatives"), fmt)
        names = ("anchor", "positive", "negative") if counts.negatives else ("anchor", "positive")
        schema, rows = pa.schema([(c, pa.string()) for c in names]), counts.rows
    file = {"split": "train", "path": path.name, "rows": rows, "bytes": size}
    return [_part("default", dataset.kind, fmt, schema, [file])]


def _squad_schema(path: Path) -> pa.Schema:
    """The schema of a SQuAD file as curate reads it back (parsed article by article when it can be)."""
    from curate.io.quarantine import Unstreamable
    from curate.io.squad import read_squad, squad_source

    try:
        return squad_source(path, chunk_rows=1024).schema
    except Unstreamable:
        return read_squad(path)[0].schema


def _column_batches(dataset: Dataset, name: str) -> Iterator[pa.Table]:
    """One column of ``dataset`` (none when it lacks it) in batches."""
    return (batch.select([name] if name in batch.column_names else []) for batch in dataset.batches())


def _scan(datasets: Sequence[Dataset]) -> tuple[list[int], dict[str, dict[str, int]]]:
    """The Arrow size of each dataset's rows and their :func:`language_counts` together, most rows
    first, read batch by batch: memory follows the batch, not the dataset."""
    sizes = []
    languages: dict[str, Counter[str]] = {}
    for dataset in datasets:
        size = 0
        for batch in dataset.batches():
            size += batch.nbytes
            for column, counts in language_counts(batch).items():
                languages.setdefault(column, Counter()).update(counts)
        sizes.append(size)
    ranked = {c: dict(sorted(n.items(), key=lambda cn: (-cn[1], cn[0]))) for c, n in languages.items()}
    return sizes, ranked


def _hf_part(kind: str, folder: Path) -> dict[str, Any]:
    """The part of a ``datasets`` folder as ``load_from_disk`` opens it: its own features (the Hub's
    SQuAD layout, ``ClassLabel`` names) and its splits (``train`` for a single ``Dataset``)."""
    import datasets

    loaded = datasets.load_from_disk(str(folder))
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    files = [
        {"split": name, "path": ".", "rows": split.num_rows, "bytes": split.data.nbytes}
        for name, split in splits.items()
    ]
    part = _part("default", kind, "hf", next(iter(splits.values())).data.schema, files)
    part["features"] = next(iter(splits.values())).features._to_yaml_list()
    return part


def _bundle_parts(parts: Mapping[str, Dataset], fmt: str, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """The parts of a retrieval folder: BEIR ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``
    (the ``split`` column, else ``test``), or Parquet ``<part>.parquet`` in split ``train``;
    ``sizes``: the Arrow size of each part's rows."""
    found = []
    for (name, dataset), size in zip(parts.items(), sizes, strict=True):
        schema, file_fmt = dataset.rows(0, 0).schema, fmt
        files = [{"split": "train", "path": f"{name}.parquet", "rows": dataset.num_rows, "bytes": size}]
        if fmt == "beir" and name == "qrels":
            names = {"query_id": "query-id", "doc_id": "corpus-id", "score": "score"}
            schema = pa.schema([schema.field(n).with_name(new) for n, new in names.items()])
            files, file_fmt = _qrels_files(dataset), "tsv"
        elif fmt == "beir":
            schema = pa.schema([f.with_name("_id") if f.name in ("doc_id", "query_id") else f for f in schema])
            files[0]["path"] = f"{name}.jsonl"
        found.append(_part(name, dataset.kind, file_fmt, schema, files))
    return found


def _qrels_files(qrels: Dataset) -> list[dict[str, Any]]:
    """The ``qrels/<split>.tsv`` files of BEIR qrels (the ``split`` column, else ``test``) with their
    rows and the Arrow size of their three columns, read batch by batch."""
    files: dict[str, dict[str, Any]] = {}
    for batch in qrels.batches():
        splits = qrels_splits_of(batch)
        rows = batch.select(["query_id", "doc_id", "score"])
        for split in pc.unique(splits).to_pylist():
            mine = rows.filter(pc.equal(splits, split))
            file = files.setdefault(split, {"split": split, "path": f"qrels/{split}.tsv", "rows": 0, "bytes": 0})
            file["rows"] += mine.num_rows
            file["bytes"] += mine.nbytes
    return list(files.values())


def export_entry(
    data: Dataset | Mapping[str, Dataset],
    path: str | Path,
    fmt: str,
    *,
    made_by: str,
    source: str | None = None,
    input_rows: int | None = None,
    quarantined: int = 0,
    steps: Sequence[Mapping[str, Any]] = (),
    bias: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The card entry of one export: ``data`` (one dataset, or retrieval parts written as a folder)
    written to ``path`` as ``fmt``, made by ``made_by`` (e.g. ``curate convert``) from ``source``.

    ``steps`` are :func:`step` dicts; ``bias`` is ``[{"title", "blocks": [{"title", "headers",
    "rows"}]}]`` (:func:`curate.report.bias.card_sections`). Returns a JSON-able dict for :func:`render`.
    """
    path = Path(path)
    if isinstance(data, Dataset) and fmt == "beir":
        data = {data.kind: data}
    if isinstance(data, Dataset):
        (size,), languages = _scan([data])
        folder, parts = path.is_dir(), _file_parts(data, path, fmt, size)
    else:
        sizes, languages = _scan(list(data.values()))
        folder, parts = True, _bundle_parts(data, fmt, sizes)
    return {
        "path": path.name,
        "folder": folder,
        "format": fmt,
        "made_by": made_by,
        "curate": __version__,
        "source": source,
        "input_rows": input_rows,
        "quarantined": quarantined,
        "parts": parts,
        "languages": languages,
        "steps": [dict(s) for s in steps],
        "bias": [dict(b) for b in bias],
    }


def run_entry(
    run_dir: Path,
    manifest: Mapping[str, Any],
    output: Dataset | Mapping[str, Dataset],
    path: Path,
    fmt: str,
    bias: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The card entry of a pipeline export: ``output`` written to ``path``, steps from ``manifest``,
    ``bias`` sections as :func:`export_entry` takes them."""
    stages = manifest.get("stages", [])
    source = manifest.get("input", {})
    manifest_path = os.path.relpath(run_dir / "manifest.json", card_folder(path))
    return export_entry(
        output,
        path,
        fmt,
        made_by=f"`curate run` (pipeline `{manifest.get('name')}`, its manifest: `{manifest_path}`)",
        source=source.get("path"),
        input_rows=source.get("rows"),
        quarantined=int(source.get("quarantined") or 0),
        steps=[step(s["id"], s["use"], s, s.get("role", "")) for s in stages],
        bias=bias,
    )


# ----------------------------------------------------------------------------- rendering


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for ``rows`` examples."""
    return next((name for limit, name in _SIZES if rows < limit), "n>1T")


def _config_names(entries: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """A unique Hub config name per part: ``default`` for a lone part, else from the file or part name."""
    parts = [(e, p) for e in entries for p in e["parts"]]
    if len(parts) == 1:
        return [["default"]]
    names: list[list[str]] = []
    taken: set[str] = set()
    for entry in entries:
        row = []
        for part in entry["parts"]:
            stem = part["name"] if entry["folder"] else entry["path"].split(".")[0]
            name = stem if stem not in taken else f"{stem}-{entry['format']}"
            while name in taken:
                name += "_"
            taken.add(name)
            row.append(name)
        names.append(row)
    return names


def _loader(path: str) -> str | None:
    """The ``datasets`` loader of a data file, by its name (as the Hub picks it)."""
    name = path.lower().removesuffix(".gz")
    return next((m for ends, m in _LOADERS if name.endswith(ends)), None)


def loadable_configs(entries: Sequence[Mapping[str, Any]], names: Sequence[Sequence[str]]) -> list[str]:
    """The configs listed under ``configs:``: those whose files all take the loader most parts take
    (``datasets`` loads every config of a folder with one loader; the others are described only)."""
    loaders = {}
    for entry, row in zip(entries, names, strict=True):
        for part, name in zip(entry["parts"], row, strict=True):
            found = {_loader(f["path"]) for f in part["files"]} if entry["format"] in _ROW_FORMATS else {None}
            loaders[name] = found.pop() if len(found) == 1 else None
    counts = Counter(m for m in loaders.values() if m)
    if not counts:
        return []
    best = max(counts, key=lambda m: (counts[m], m == "parquet"))
    return [name for name, m in loaders.items() if m == best]


def header(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The card's YAML metadata (without ``license``, which :func:`render` writes with its comment)."""
    names = _config_names(entries)
    loadable = loadable_configs(entries, names)
    languages: dict[str, None] = {}
    tasks: dict[str, None] = {}
    task_ids: dict[str, None] = {}
    configs, infos, largest = [], [], 0
    for entry, row in zip(entries, names, strict=True):
        largest = max(largest, sum(p["rows"] for p in entry["parts"]))
        for counts in entry["languages"].values():
            seen = sum(counts.values())
            languages.update((code, None) for code, n in counts.items() if seen and n / seen >= _LANGUAGE_SHARE)
        for part, name in zip(entry["parts"], row, strict=True):
            task, task_id = _TASKS.get(part["kind"], (None, None))
            if task:
                tasks[task] = None
            if task_id:
                task_ids[task_id] = None
            size = sum(s["num_bytes"] for s in part["splits"])
            infos.append(
                {"config_name": name, "features": part["features"], "splits": part["splits"], "dataset_size": size}
            )
            if name in loadable:
                files = [{"split": f["split"], "path": f["path"]} for f in part["files"]]
                configs.append({"config_name": name, "data_files": files})
    meta: dict[str, Any] = {}
    if languages:
        meta["language"] = list(languages)
    if tasks:
        meta["task_categories"] = list(tasks)
    if task_ids:
        meta["task_ids"] = list(task_ids)
    if entries:
        meta["size_categories"] = [size_category(largest)]
    if configs:
        meta["configs"] = configs
    if infos:
        meta["dataset_info"] = infos
    return meta


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]


def _counts(counts: Mapping[str, int], top: int | None = None) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{name} {n:,}" for name, n in ranked[:top])
    return (shown + (f", ... ({len(ranked) - top} more)" if top and len(ranked) > top else "")) or "-"


def _where(entry: Mapping[str, Any]) -> str:
    return "this folder" if entry["path"] == "." else f"`{entry['path']}`" + ("/" if entry["folder"] else "")


def _load_lines(entry: Mapping[str, Any], names: Sequence[str], loadable: Sequence[str]) -> list[str]:
    """How to load an entry: ``datasets.load_dataset`` for its configs under ``configs:``, and curate."""
    folder = "path/to/this/folder"
    target = folder + ("" if entry["path"] == "." else f"/{entry['path']}")
    fmt = "" if entry["format"] in ("squad", "beir") or entry["folder"] else f', format="{entry["format"]}"'
    lines = ["```python"]
    shown = [n for n in names if n in loadable]
    if len(shown) < len(names) and entry["format"] in _ROW_FORMATS:
        lines = [
            "Not under `configs` in the header: `datasets` loads every config of a folder with one loader.",
            "",
            *lines,
        ]
    if shown:
        lines += ["from datasets import load_dataset", ""]
        lines += [
            f"{'ds' if n == 'default' else n.replace('-', '_')} = load_dataset("
            + ", ".join(f'"{a}"' for a in (folder, n) if a != "default")
            + ")"
            for n in shown
        ]
        lines.append("")
    if entry["format"] not in _READ_FORMATS:
        return [*lines[:-1], "```"] if shown else []
    lines += ["import curate", ""]
    if entry["folder"] and len(entry["parts"]) > 1:
        lines.append(f'parts = curate.read_bundle("{target}")  # {", ".join(p["name"] for p in entry["parts"])}')
    elif entry["format"] == "beir":
        lines.append(f'rows = curate.read("{target}", kind="{entry["parts"][0]["kind"]}")')
    else:
        lines.append(f'rows = curate.read("{target}"{fmt})')
    return [*lines, "```"]


def _entry_lines(entry: Mapping[str, Any], names: Sequence[str], loadable: Sequence[str]) -> list[str]:
    lines = ["", f"## {_where(entry)}", ""]
    kinds = ", ".join(f"`{p['kind']}`" for p in entry["parts"])
    lines.append(
        f"Format `{entry['format']}`, kind {kinds}; written by {entry['made_by']} with curate {entry['curate']}"
        + (f" from `{entry['source']}`." if entry.get("source") else ".")
    )
    if entry["format"] in _LAYOUTS:
        lines += ["", f"Layout: {_LAYOUTS[entry['format']]}."]
    lines += [
        "",
        *_table(
            ("config", "kind", "split", "file", "rows"),
            [
                (n, p["kind"], f["split"], f"`{f['path']}`", f"{s['num_examples']:,}")
                for p, n in zip(entry["parts"], names, strict=True)
                for f, s in zip(p["files"], _split_rows(p), strict=True)
            ],
            right=(4,),
        ),
    ]
    if entry["languages"]:
        lines += ["", "Languages (`language_id` columns, rows per language):", ""]
        lines += _table(("column", "languages"), [(f"`{c}`", _counts(v, 8)) for c, v in entry["languages"].items()])
    else:
        lines += ["", "Languages were not measured: add a `language_id` stage to the pipeline to list them."]
    lines += ["", "### Loading", "", *_load_lines(entry, names, loadable)]
    lines += _steps_lines(entry)
    for section in entry["bias"]:
        lines += ["", f"### Bias diagnostics: {section['title']}"]
        for block in section["blocks"]:
            lines += ["", f"**{block['title']}**", "", *_table(block["headers"], block["rows"])]
    return lines


def _split_rows(part: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The split record of each file of ``part`` (files of one split share its count)."""
    by_name = {s["name"]: s for s in part["splits"]}
    return [by_name[f["split"]] for f in part["files"]]


def _steps_lines(entry: Mapping[str, Any]) -> list[str]:
    steps = entry["steps"]
    lines = ["", "### Curation"]
    if entry.get("input_rows") is not None:
        quarantined = entry.get("quarantined") or 0
        lines.append(
            "\n"
            f"Input: {entry['input_rows']:,} rows"
            + (f" ({quarantined:,} unreadable rows set aside in quarantine)" if quarantined else "")
            + (f" from `{entry['source']}`." if entry.get("source") else ".")
        )
    if not steps:
        return [*lines, "", "No curation step: the rows were written as read."]
    rows = []
    for s in steps:
        rows_in = f"{s['rows_in']:,}" + (f" +{s['rows_added']:,} new" if s["rows_added"] else "")
        rows.append(
            (
                f"`{s['stage']}`",
                s["use"],
                s.get("role") or "-",
                rows_in,
                f"{s['rows_kept']:,}",
                f"{s['rows_rejected']:,}",
                _counts(s["reasons"], 3),
                _counts(s["flags"], 3),
                _counts(s.get("rewrites", {}), 3),
            )
        )
    lines += [
        "",
        *_table(
            ("stage", "uses", "role", "rows in", "kept", "rejected", "top reasons", "flags", "rewrites"),
            rows,
            right=(3, 4, 5),
        ),
    ]
    rejected: Counter[tuple[str, str]] = Counter()
    for s in steps:
        for reason, n in s["reasons"].items():
            rejected[(s["stage"], reason)] += n
    if rejected:
        total = sum(s["rows_rejected"] for s in steps)
        lines += ["", f"Rejected rows: {total:,}, by reason:", ""]
        lines += _table(
            ("stage", "reason", "rows"), [(f"`{st}`", r, f"{n:,}") for (st, r), n in rejected.most_common()], right=(2,)
        )
    return lines


def render(entries: Sequence[Mapping[str, Any]], user: Mapping[str, Any] | None = None) -> str:
    """The card (Markdown with a YAML header) describing ``entries`` (:func:`export_entry`, data file
    paths relative to the card's folder); ends with the entries as JSON in a comment, so
    :func:`write_card` can add the next export's entry. ``user``: header keys the user set
    (:func:`read_card`), written first (``license``) and kept."""
    user = dict(user or {})
    tags = ["curate", *(t for t in user.pop("tags", []) if t != "curate")]
    names = _config_names(entries)
    meta = {**header(entries), "tags": tags}
    licence = (
        "license: unknown  # set the data's licence: an identifier from https://hf.co/docs/hub/repositories-licenses"
    )
    if "license" in user:
        licence = _yaml({"license": user.pop("license")})
    counts = "; ".join(f"{_where(e)}, {sum(p['rows'] for p in e['parts']):,} rows" for e in entries)
    lines = [
        "---",
        licence,
        *([_yaml(user)] if user else []),
        _yaml(meta),
        "---",
        "",
        "# Dataset card",
        "",
        f"Rows written by curate, with the curation steps that made them: {counts or 'none now'}. The counts, "
        "features and steps are filled in by curate; set `license` in the header (and say where the data comes "
        "from) before publishing. When curate updates this card it keeps the header keys it does not write and "
        "your licence; the text below is written anew.",
    ]
    loadable = loadable_configs(entries, names)
    for entry, row in zip(entries, names, strict=True):
        lines += _entry_lines(entry, row, loadable)
    blob = json.dumps({"entries": list(entries)}, ensure_ascii=False, separators=(",", ":")).replace("--", "-\\u002d")
    lines += ["", f"{_MARK} (entries of the exports above, read by curate when it adds one)", blob, "-->", ""]
    return "\n".join(lines)


def _yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=1000).rstrip("\n")


# ----------------------------------------------------------------------------- files


def read_entries(card: Path) -> list[dict[str, Any]] | None:
    """The entries of a card curate wrote; ``None`` when ``card`` is not one (or is absent)."""
    return read_card(card)[0]


def read_card(card: Path) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
    """``(entries, user keys)`` of a card curate wrote: the entries (``None`` when ``card`` is absent or
    not curate's) and the header keys the user set (a licence other than ``unknown``, keys curate
    does not write, tags besides ``curate``)."""
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, {}
    start = text.rfind(_MARK)
    if start < 0:
        return None, {}
    body = text[start:].split("\n", 1)[1].rsplit("-->", 1)[0]
    try:
        entries = json.loads(body).get("entries")
    except (ValueError, AttributeError):
        return None, {}
    if not isinstance(entries, list):
        return None, {}
    try:
        meta = yaml.safe_load(text.split("---\n", 2)[1]) if text.startswith("---\n") else {}
    except yaml.YAMLError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    user = {k: v for k, v in meta.items() if k not in _GENERATED}
    if meta.get("license") not in (None, "unknown"):
        user["license"] = meta["license"]
    if isinstance(meta.get("tags"), list) and [t for t in meta["tags"] if t != "curate"]:
        user["tags"] = [t for t in meta["tags"] if t != "curate"]
    return entries, user


def _files(folder: Path, entry: Mapping[str, Any]) -> set[Path]:
    return {(folder / f["path"]).resolve() for p in entry["parts"] for f in p["files"]}


def card_folder(export: Path) -> Path:
    """The folder whose card describes ``export``: the export itself when it is a folder."""
    return export if export.is_dir() else export.parent


def write_card(export: str | Path, entry: Mapping[str, Any]) -> tuple[Path | None, str | None]:
    """Write (or update) the card describing ``export`` with its ``entry``, atomically.

    Entries of other exports in the card stay while their files exist and are not among this
    export's. Returns ``(card path, warning)``: the warning says when ``README.md`` was not
    curate's (the card went to ``README.curate.md``) or when neither name was free (no card).
    """
    export = Path(export)
    folder = card_folder(export)
    entry = {**entry, "path": "." if export.is_dir() else export.name}
    card, warning = folder / CARD, None
    existing, user = read_card(card)
    if card.exists() and existing is None:
        card = folder / OTHER_CARD
        existing, user = read_card(card)
        if card.exists() and existing is None:
            return None, f"no dataset card written: {folder / CARD} and {card} were not written by curate"
        warning = f"{folder / CARD} was not written by curate, so the dataset card is {card} (rename it to publish it)"
    ours = _files(folder, entry)
    kept = [e for e in existing or [] if not (_files(folder, e) & ours) and all(p.exists() for p in _files(folder, e))]
    with atomic_file(card) as tmp:
        tmp.write_text(render([*kept, entry], user), encoding="utf-8")
    return card, warning


def forget(export: Path) -> None:
    """Take the file ``export`` out of the card beside it, removing the card when it describes
    nothing else and holds no header key the user set (a folder export's card goes with the
    folder); cards curate did not write stay."""
    if export.is_dir():
        return
    target = export.resolve()
    for name in (CARD, OTHER_CARD):
        card = export.parent / name
        entries, user = read_card(card)
        if entries is None:
            continue
        kept = [e for e in entries if target not in _files(export.parent, e)]
        if not kept and not user:
            remove(card)
        elif len(kept) < len(entries):
            with atomic_file(card) as tmp:
                tmp.write_text(render(kept, user), encoding="utf-8")


def write_run_cards(
    run_dir: Path,
    manifest: Mapping[str, Any],
    outputs: Sequence[Dataset | Mapping[str, Dataset]],
    exports: Sequence[tuple[Path, str | None]],
    bias: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[str], list[str]]:
    """Write the card beside each export ``(path, format)`` of a pipeline run (one card per folder,
    an entry per export) holding its rows ``outputs[i]`` (a retrieval set: its parts by name),
    with the run's ``bias`` sections. Returns the cards written (relative to ``run_dir`` where
    inside it) and the warnings of :func:`write_card`."""
    from curate.io import check_write

    cards: dict[Path, None] = {}
    warnings = []
    for output, (path, fmt) in zip(outputs, exports, strict=True):
        card, warning = write_card(path, run_entry(run_dir, manifest, output, path, check_write(path, fmt), bias))
        if card is not None:
            cards[card] = None
        if warning:
            warnings.append(warning)
    shown = [str(c.relative_to(run_dir)) if c.is_relative_to(run_dir) else str(c) for c in cards]
    return shown, warnings
