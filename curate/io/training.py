"""Retriever training files written from ``triplets`` rows; every negative of every row is written.

``dpr``
    A JSON list in DPR's biencoder layout, one entry per triplets row with all its negatives::

        {"question": ..., "answers": [...],
         "positive_ctxs": [{"title", "text", "passage_id"}],
         "negative_ctxs": [],
         "hard_negative_ctxs": [{"title", "text", "passage_id", "score"}, ...]}

    Titles, ids and scores come from ``positive_title``/``positive_id``, ``negative_titles``/
    ``negative_ids``/``negative_scores`` when the rows have them (mined triplets do); otherwise the
    title is ``""`` and the id and score are null. ``answers`` is the rows' ``answers`` (or ``[]``).

``sentence-transformers``
    JSON Lines (``.jsonl``, ``.jsonl.gz``) or Parquet (``.parquet``), chosen by the file name, with
    columns ``anchor, positive, negative``: one row per (anchor, positive, negative), so a triplets
    row with ``K`` negatives gives ``K`` consecutive rows, best-ranked negative first.

    Why this layout: MultipleNegativesRankingLoss (and its cached variant, or TripletLoss) needs the
    same columns in every row, while mined queries get different numbers of negatives (the guards
    leave some short). The wide layout ``negative_1 .. negative_K`` would have to leave out either
    the negatives past the smallest count or the queries with fewer than ``K``; one row per
    negative keeps every mined negative, and it is the layout sentence-transformers' own
    ``mine_hard_negatives`` writes by default (``output_format="triplet"``). Train with
    ``batch_sampler=BatchSamplers.NO_DUPLICATES``, so a batch never holds one anchor twice (the
    other row's positive would count as a negative of it).

    When no row has negatives the file holds ``anchor, positive`` pairs, one per row. A row without
    negatives among rows with some is an error: the layout has no place for its pair.

:func:`training_counts` says what a file written from a table holds (rows and negatives).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError, Where
from curate.io.tabular import Tables, batches_of, write_jsonl, write_parquet

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


def write_dpr(tables: Tables, path: Path) -> None:
    """A JSON list of DPR entries, one per row of ``tables`` (a table, or its batches in order),
    written entry by entry."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        first = True
        for batch in batches_of(tables):
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


def _negative_lists(table: pa.Table) -> list[list[Any]]:
    return [v or [] for v in _column(table, "negatives")]


def _negative_counts(table: pa.Table) -> pa.Array:
    """The number of negatives of each row (0 for none or null)."""
    if "negatives" not in table.column_names:
        return pa.array([0] * table.num_rows, pa.int64())
    return pc.fill_null(pc.list_value_length(table.column("negatives")), 0).combine_chunks()


def sentence_transformers_table(table: pa.Table) -> pa.Table:
    """``anchor, positive, negative`` (one row per negative of each triplets row), or ``anchor,
    positive`` when no row has negatives.

    Raises:
        ConfigError: a row has no negatives while others have some.
    """
    return pa.concat_tables(_sentence_transformers_tables(table))


def _sentence_transformers_tables(tables: Tables) -> Iterator[pa.Table]:
    """:func:`sentence_transformers_table` of every batch of ``tables`` that has rows (one empty
    table for no rows): the layout is the first row's (pairs when it has no negatives), and a row that
    does not fit it is an error naming the first row without negatives (1-based)."""
    pairs: bool | None = None  # the layout, once a row decided it
    first_row = 0
    for batch in batches_of(tables):
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        counts = _negative_counts(table).to_numpy(zero_copy_only=False)
        if pairs is None:
            pairs = not counts.any()
        if (pairs and counts.any()) or (not pairs and not counts.all()):
            row = 0 if pairs else first_row + int((counts == 0).argmax())
            raise ConfigError(
                "a row has no negatives while others have some",
                where=Where(row=row + 1, field="negatives"),
                hint="the sentence-transformers layout has a negative in every row: "
                "remove the rows without negatives, or write them to a separate file",
            )
        first_row += table.num_rows
        anchors, positives = _string_column(table, "query"), _string_column(table, "positive")
        if pairs:
            yield pa.table({"anchor": anchors, "positive": positives})
            continue
        negatives = table.column("negatives").combine_chunks()
        row_of = pc.list_parent_indices(negatives)  # the triplets row of each negative
        yield pa.table(
            {"anchor": anchors.take(row_of), "positive": positives.take(row_of), "negative": pc.list_flatten(negatives)}
        )
    if pairs is None:  # no rows
        yield pa.table({"anchor": pa.array([], pa.string()), "positive": pa.array([], pa.string())})


def _string_column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(name).combine_chunks().cast(pa.string())


def write_sentence_transformers(tables: Tables, path: Path, *, name: str | Path | None = None) -> None:
    """Write :func:`sentence_transformers_table` of ``tables`` (a table, or its batches in order) as
    JSON Lines (gzip for ``.gz``) or Parquet, as the file ``name`` says (default: ``path``; a
    temporary ``path`` is written for a final ``name``), batch by batch."""
    target = Path(name) if name is not None else path
    layout = sentence_transformers_layout(target)
    rows = _sentence_transformers_tables(tables)
    if layout == "parquet":
        write_parquet(rows, path)
    else:
        write_jsonl(rows, path, name=target)


@dataclass(frozen=True)
class TrainingCounts:
    """What a file written from triplets rows holds: ``rows`` (lines, Parquet rows or DPR entries),
    ``negatives`` (negative passages, each counted once per row it is written in) and ``triplets``
    (the triplets rows they come from), in the ``format`` written."""

    format: str
    rows: int
    negatives: int
    triplets: int

    def describe(self) -> str:
        """One line for a user, e.g. ``1,189 entries, 5,890 hard negatives``."""
        if self.format == "dpr":
            return f"{self.rows:,} entries, {self.negatives:,} hard negatives"
        if self.format != "sentence-transformers":
            return f"{self.rows:,} triplets, {self.negatives:,} negatives"
        if not self.negatives:
            return f"{self.rows:,} rows (anchor, positive), no negatives"
        return f"{self.rows:,} rows (anchor, positive, negative), one per negative of {self.triplets:,} triplets"


def training_counts(tables: Tables, fmt: str | None = None) -> TrainingCounts:
    """The counts of the file :func:`write_training` (``fmt`` in :data:`TRAINING_FORMATS`) or a plain
    triplets writer (``fmt`` None, ``jsonl`` or ``parquet``: one row per triplets row) writes from
    ``tables`` (a table, or its batches; only ``negatives`` is used)."""
    triplets = negatives = 0
    for batch in batches_of(tables):
        triplets += batch.num_rows
        negatives += int(pc.sum(_negative_counts(pa.Table.from_batches([batch]))).as_py() or 0)
    rows = negatives if fmt == "sentence-transformers" and negatives else triplets
    return TrainingCounts(format=fmt or "triplets", rows=rows, negatives=negatives, triplets=triplets)


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


def write_training(tables: Tables, kind: str, path: Path, fmt: str, *, name: str | Path | None = None) -> None:
    """Write triplets ``tables`` (a table, or its batches in order: memory follows the batch) as
    ``fmt`` (one of :data:`TRAINING_FORMATS`) to ``path``; ``name`` is the final file name when
    ``path`` is a temporary file.

    Raises:
        ConfigError: ``kind`` is not ``triplets``, or a name sentence-transformers cannot take.
    """
    check_training(kind, fmt, name if name is not None else path)
    if fmt == "dpr":
        write_dpr(tables, path)
    elif fmt == "sentence-transformers":
        write_sentence_transformers(tables, path, name=name)
    else:
        raise ConfigError("unknown training format", value=fmt, hint=f"use one of: {', '.join(TRAINING_FORMATS)}")
