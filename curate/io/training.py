"""Retriever training files written from ``triplets`` rows.

``dpr``
    A JSON list in DPR's biencoder layout, one entry per triplets row::

        {"question": ..., "answers": [...],
         "positive_ctxs": [{"title", "text", "passage_id"}],
         "negative_ctxs": [],
         "hard_negative_ctxs": [{"title", "text", "passage_id", "score"}, ...]}

    Titles, ids and scores come from ``positive_title``/``positive_id``, ``negative_titles``/
    ``negative_ids``/``negative_scores`` when the rows have them (mined triplets do); otherwise the
    title is ``""`` and the id and score are null. ``answers`` is the rows' ``answers`` (or ``[]``).

``sentence-transformers``
    JSON Lines (``.jsonl``, ``.jsonl.gz``) or Parquet (``.parquet``), chosen by the file name, with
    columns ``anchor``, ``positive``, ``negative_1`` ... ``negative_K``: the layout
    MultipleNegativesRankingLoss takes. Every row of a dataset needs the same columns, so ``K`` is
    the smallest number of negatives of any row: every written negative is a distinct mined one,
    no value is made up or repeated, and no row is dropped (a row's negatives past ``K`` are left
    out). A row without negatives among rows with some is an error (it would leave out every
    negative of the file); when no row has negatives the file holds ``anchor, positive`` pairs.
    :func:`sentence_transformers_table` takes ``negatives=K`` to choose ``K`` (at most the smallest
    count).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import ConfigError, Where

TRAINING_FORMATS = ("dpr", "sentence-transformers")
Layout = Literal["jsonl", "parquet"]


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows


def _nth(values: list[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def dpr_entries(table: pa.Table) -> list[dict[str, Any]]:
    """The DPR entries of triplets rows (see the module docstring)."""
    entries = []
    for query, positive, negatives, answers, pid, ptitle, nids, ntitles, nscores in zip(
        _column(table, "query"),
        _column(table, "positive"),
        _column(table, "negatives"),
        _column(table, "answers"),
        _column(table, "positive_id"),
        _column(table, "positive_title"),
        _column(table, "negative_ids"),
        _column(table, "negative_titles"),
        _column(table, "negative_scores"),
        strict=True,
    ):
        hard = [
            {
                "title": _nth(ntitles, i) or "",
                "text": text,
                "passage_id": _nth(nids, i),
                "score": _nth(nscores, i),
            }
            for i, text in enumerate(negatives or [])
        ]
        entries.append(
            {
                "question": query,
                "answers": list(answers or []),
                "positive_ctxs": [{"title": ptitle or "", "text": positive, "passage_id": pid}],
                "negative_ctxs": [],
                "hard_negative_ctxs": hard,
            }
        )
    return entries


def write_dpr(table: pa.Table, path: Path) -> None:
    """A JSON list of DPR entries, one per row, written entry by entry."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        first = True
        for batch in table.to_batches(4096):
            for entry in dpr_entries(pa.Table.from_batches([batch])):
                handle.write("\n" if first else ",\n")
                handle.write(json.dumps(entry, ensure_ascii=False))
                first = False
        handle.write("\n]\n")


def sentence_transformers_layout(path: str | Path) -> Layout:
    """``jsonl`` or ``parquet`` from the file name; other names are an error."""
    name = Path(path).name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ConfigError(
        "sentence-transformers files are JSON Lines or Parquet",
        where=Where(file=str(path)),
        hint="name the file .jsonl or .parquet",
    )


def sentence_transformers_table(table: pa.Table, negatives: int | None = None) -> pa.Table:
    """``anchor, positive, negative_1..negative_K`` from triplets rows; ``K`` is the smallest
    negatives count (or ``negatives``, which may not exceed it)."""
    lists = [v or [] for v in _column(table, "negatives")]
    counts = [len(v) for v in lists]
    smallest = min(counts, default=0)
    if smallest == 0 and any(counts):
        row = counts.index(0)
        raise ConfigError(
            "a row has no negatives while others have some",
            where=Where(row=row, field="negatives"),
            hint="the sentence-transformers layout gives every row the same negative columns: "
            "remove the rows without negatives, or write them to a separate file",
        )
    k = smallest if negatives is None else negatives
    if not 0 <= k <= smallest:
        raise ConfigError(
            "more negative columns asked than the rows hold",
            value=negatives,
            hint=f"every row has at least {smallest} negatives",
        )
    columns: dict[str, pa.Array] = {
        "anchor": pa.array(_column(table, "query"), pa.string()),
        "positive": pa.array(_column(table, "positive"), pa.string()),
    }
    for i in range(k):
        columns[f"negative_{i + 1}"] = pa.array([v[i] for v in lists], pa.string())
    return pa.table(columns)


def write_sentence_transformers(
    table: pa.Table, path: Path, *, name: str | Path | None = None, negatives: int | None = None
) -> None:
    """Write :func:`sentence_transformers_table` as JSON Lines (gzip for ``.gz``) or Parquet, as the
    file ``name`` says (default: ``path``; a temporary ``path`` is written for a final ``name``)."""
    target = Path(name) if name is not None else path
    layout = sentence_transformers_layout(target)
    rows = sentence_transformers_table(table, negatives)
    if layout == "parquet":
        pq.write_table(rows, path, compression="zstd")
        return
    compressed = target.name.lower().endswith(".gz")
    with gzip.open(path, "wt", encoding="utf-8") if compressed else path.open("w", encoding="utf-8") as handle:
        for batch in rows.to_batches(8192):
            for record in batch.to_pylist():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def check_training(kind: str, fmt: str, name: str | Path) -> None:
    """ConfigError unless rows of ``kind`` can be written as ``fmt`` to a file called ``name``:
    only ``triplets``, and sentence-transformers files are named ``.jsonl`` or ``.parquet``."""
    if kind != "triplets":
        raise ConfigError(
            f"only kind 'triplets' can be written as {fmt}",
            value=kind,
            hint="mine triplets first (the mine_hard_negatives stage), or write jsonl or parquet",
        )
    if fmt == "sentence-transformers":
        sentence_transformers_layout(name)


def write_training(table: pa.Table, kind: str, path: Path, fmt: str, *, name: str | Path | None = None) -> None:
    """Write triplets ``table`` as ``fmt`` (one of :data:`TRAINING_FORMATS`) to ``path``; ``name`` is
    the final file name when ``path`` is a temporary file.

    Raises:
        ConfigError: ``kind`` is not ``triplets``, or a name sentence-transformers cannot take.
    """
    check_training(kind, fmt, name if name is not None else path)
    if fmt == "dpr":
        write_dpr(table, path)
    elif fmt == "sentence-transformers":
        write_sentence_transformers(table, path, name=name)
    else:
        raise ConfigError("unknown training format", value=fmt, hint=f"use one of: {', '.join(TRAINING_FORMATS)}")
