"""What the dedup stages (``exact_dedup``, ``minhash_dedup``) share: each row's answer for the
answer-agreement rule, their plan (:class:`DedupPlan`) and the split of a batch by its decisions,
and the qrels of a retrieval set re-pointed at the passages kept (:func:`repoint_qrels`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dataset import Dataset
from curate.dedup.agreement import Answer, answer_columns, row_answers
from curate.dedup.outcome import CONFLICTS_COLUMN, Decisions
from curate.dedup.retrieval import remap_qrels
from curate.stages.base import Split, Stage, reject
from curate.stages.dedup_shards import StoredDecisions

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


@dataclass(frozen=True)
class DedupPlan:
    """A dedup stage's plan: its :class:`~curate.dedup.outcome.Decisions`, its artifacts
    (``conflicts``; ``clusters`` for near duplicates) and, for ``unit: context``, the re-pointed
    columns of rows ``first:`` (``{name: (values, arrow type)}``). :meth:`between` cuts it for a
    batch (the artifacts stay with the driver)."""

    decisions: Decisions | StoredDecisions
    artifacts: dict[str, pa.Table] = field(default_factory=dict)
    repointed: dict[str, Any] | None = None
    first: int = 0

    def between(self, start: int, stop: int) -> DedupPlan:
        repointed = None
        if self.repointed is not None:
            cut = slice(start - self.first, stop - self.first)
            repointed = {name: (values[cut], dtype) for name, (values, dtype) in self.repointed.items()}
        return DedupPlan(self.decisions.between(start, stop), {}, repointed, start)


def split_by_decisions(
    batch: pa.Table, decisions: Decisions | StoredDecisions, start: int, *, stage: str, extras: Sequence[str]
) -> Split:
    """Rows ``start:start + len(batch)`` of ``decisions`` applied to ``batch``: ``dedup_conflicts``
    added, removed rows rejected with their reason, detail and ``extras`` (names in
    :data:`EXTRA_TYPES`), kept rows with conflicts counted as flagged per reason."""
    n = batch.num_rows
    found = decisions.between(start, start + n).table
    at = found.column("row").to_numpy() - start

    def spread(name: str) -> list[Any]:
        values: list[Any] = [None] * n
        for i, value in zip(at.tolist(), found.column(name).to_pylist(), strict=True):
            values[i] = value
        return values

    found_keep = found.column("keep").to_numpy(zero_copy_only=False)
    keep_mask = np.ones(n, bool)
    keep_mask[at] = found_keep
    cluster = np.full(n, -1, np.int64)
    cluster[at] = found.column("cluster").to_numpy()
    similarity = np.full(n, np.nan)
    similarity[at] = found.column("similarity").to_numpy()
    values = {
        "duplicate_of": pa.array(spread("duplicate_of"), pa.string()),
        "cluster_id": pa.array(cluster, pa.int64(), mask=cluster < 0),
        "similarity": pa.array(similarity, pa.float64(), from_pandas=True),
    }
    extra = {name: values[name] for name in extras}
    split = reject(
        with_conflicts(batch, spread("conflicts")),
        pa.array(keep_mask),
        stage=stage,
        reasons=spread("reason"),
        details=spread("detail"),
        extra=extra,
    )
    # only rows with decisions can carry flags
    flags = [
        row_flags
        for row_flags, kept in zip(found.column("flags").to_pylist(), found_keep.tolist(), strict=True)
        if kept and row_flags
    ]
    return split.marked(flags=flags)


@dataclass
class Repointed:
    """What :func:`repoint_qrels` did: the siblings (qrels re-pointed), how many qrels were
    re-pointed, how many merged away, and how many merges joined different scores (highest kept)."""

    parts: dict[str, Dataset]
    repointed: int = 0
    merged: int = 0
    score_conflicts: int = 0
    moves: pa.Table | None = None
    """One row per qrel re-pointed: ``query_id``, ``doc_id`` (the removed passage), ``duplicate_of``
    (the passage kept) and ``score`` (the stages' ``qrels_repointed`` artifact)."""


def repoint_qrels(parts: Mapping[str, Dataset], rejected: Dataset) -> Repointed:
    """The retrieval ``parts`` after passages were removed as duplicates: qrels of each ``rejected``
    passage with a ``duplicate_of`` point at that kept passage (:func:`~curate.dedup.retrieval.remap_qrels`);
    other parts, and everything when ``rejected`` holds no passages, are returned unchanged."""
    found = Repointed(dict(parts))
    if "qrels" not in parts or rejected.kind != "corpus" or "duplicate_of" not in rejected.schema.names:
        return found
    removed = rejected.to_arrow().select(["doc_id", "duplicate_of"])
    mapping = removed.filter(pc.is_valid(removed.column("duplicate_of")))
    if not mapping.num_rows:
        return found
    qrels, found.repointed, found.merged, found.score_conflicts = remap_qrels(parts["qrels"].to_arrow(), mapping)
    if found.repointed:
        found.parts["qrels"] = Dataset.from_arrow(qrels, "qrels")
        judged = parts["qrels"].to_arrow().select(["query_id", "doc_id", "score"])
        found.moves = judged.join(mapping, "doc_id", join_type="inner").select(
            ["query_id", "doc_id", "duplicate_of", "score"]
        )
    return found


def parts_after_dedup(stage: Stage, parts: Mapping[str, Dataset], rejected: Dataset) -> dict[str, Dataset]:
    """A dedup stage's :meth:`~curate.stages.base.Stage.update_parts`: on a retrieval set's corpus
    the qrels of removed passages point at the passage kept, each move listed in the stage's
    ``qrels_repointed`` artifact."""
    found = repoint_qrels(parts, rejected)
    if found.moves is not None:
        stage.add_artifact("qrels_repointed", found.moves)
    return found.parts
