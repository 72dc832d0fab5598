"""What the dedup stages (``exact_dedup``, ``minhash_dedup``) share: each row's answer for the
answer-agreement rule, the split of a batch by a planned :class:`~curate.dedup.outcome.Outcome`,
and the qrels of a retrieval set re-pointed at the passages kept (:func:`repoint_qrels`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from curate.dataset import Dataset
from curate.dedup.agreement import Answer, answer_columns, row_answers
from curate.dedup.outcome import CONFLICTS_COLUMN, Outcome
from curate.dedup.retrieval import remap_qrels
from curate.stages.base import Split, Stage, reject

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
