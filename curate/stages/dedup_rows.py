"""What the dedup stages (``exact_dedup``, ``minhash_dedup``) share: each row's answer for the
answer-agreement rule, and the split of a batch by a planned :class:`~curate.dedup.outcome.Outcome`."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from curate.dataset import Dataset
from curate.dedup.agreement import Answer, answer_columns, row_answers
from curate.dedup.outcome import CONFLICTS_COLUMN, Outcome
from curate.stages.base import Split, reject

EXTRA_TYPES = {"duplicate_of": pa.string(), "cluster_id": pa.int64(), "similarity": pa.float64()}
"""Columns a dedup stage may add to its rejected rows."""


def dataset_answers(dataset: Dataset) -> list[Answer | None] | None:
    """Each row's answer or label, for the answer-agreement rule of dedup (``None``: the kind has none)."""
    names = [c for c in answer_columns(dataset.kind) if c in dataset.schema.names]
    if not names:
        return None
    return row_answers(pa.table({name: dataset.column(name) for name in names}), dataset.kind)


def with_conflicts(batch: pa.Table, conflicts: list[list[str] | None]) -> pa.Table:
    """``batch`` with ``dedup_conflicts`` (ids of duplicates whose label or answers differ): these
    ``conflicts`` added to the ids an earlier dedup stage put there."""
    if CONFLICTS_COLUMN in batch.column_names:
        earlier = batch.column(CONFLICTS_COLUMN).to_pylist()
        merged = [_union(old, new) for old, new in zip(earlier, conflicts, strict=True)]
        return batch.set_column(
            batch.column_names.index(CONFLICTS_COLUMN), CONFLICTS_COLUMN, pa.array(merged, pa.list_(pa.string()))
        )
    return batch.append_column(CONFLICTS_COLUMN, pa.array(conflicts, pa.list_(pa.string())))


def _union(old: list[str] | None, new: list[str] | None) -> list[str] | None:
    if not new:
        return old
    return list(dict.fromkeys([*(old or []), *new]))


def split_by_outcome(batch: pa.Table, outcome: Outcome, start: int, *, stage: str, extras: Sequence[str]) -> Split:
    """Rows ``start:start + len(batch)`` of ``outcome`` applied to ``batch``: ``dedup_conflicts``
    added, removed rows rejected with their reason, detail and ``extras`` (names in
    :data:`EXTRA_TYPES`), kept rows with conflicts counted as flagged per reason."""
    end = start + batch.num_rows
    conflicts = Outcome.rows(outcome.conflicts, start, end)
    keep = outcome.keep[start:end].tolist()
    reasons, details = Outcome.rows(outcome.reason, start, end), Outcome.rows(outcome.detail, start, end)
    cluster = outcome.cluster[start:end]
    values = {
        "duplicate_of": pa.array(Outcome.rows(outcome.duplicate_of, start, end), pa.string()),
        "cluster_id": pa.array(cluster, pa.int64(), mask=cluster < 0),
        "similarity": pa.array(outcome.similarity[start:end], pa.float64(), from_pandas=True),
    }
    extra = {name: values[name] for name in extras}
    split = reject(with_conflicts(batch, conflicts), keep, stage=stage, reasons=reasons, details=details, extra=extra)
    return split.marked(flags=_flags(outcome, start, keep))


def _flags(outcome: Outcome, start: int, keep: list[bool]) -> list[list[str]]:
    """Per kept row of the batch starting at ``start``, the conflict reasons it is flagged with."""
    found: dict[int, list[str]] = {}
    for reason, rows in outcome.flagged.items():
        for row in rows:
            if 0 <= row - start < len(keep) and keep[row - start]:
                found.setdefault(row, []).append(reason)
    return [found.get(start + i, []) for i, kept in enumerate(keep) if kept]
