"""``minhash_dedup``: near-duplicate removal with MinHash LSH, QA-aware on MRC data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pydantic
from pydantic import model_validator

from curate import progress
from curate.dataset import Dataset
from curate.dedup.agreement import Answer, conflicts_removed
from curate.dedup.assign import ClusteringMode, Field, cluster_ids
from curate.dedup.index import check_index, check_save_target, load_index, match_index, save_index
from curate.dedup.outcome import CONFLICTS_COLUMN, Outcome, apply_assignment, how_similar, near_duplicate_detail
from curate.dedup.plan import KeepPolicy, MinHashSettings, cluster_texts, find_duplicates
from curate.errors import ConfigError, Where, show_value
from curate.mrc.repoint import repoint_questions
from curate.schemas import row_ids
from curate.sql import order_rows
from curate.stages.base import ColumnType, PlannedStage, Split, StageStats, names_in
from curate.stages.dedup_rows import (
    EXTRA_TYPES,
    DedupPlan,
    dataset_answers,
    parts_after_dedup,
    repoint_qrels,
    split_by_decisions,
)
from curate.stages.dedup_shards import joined_texts, split_search
from curate.stages.fields import text_fields

Unit = Literal["row", "context", "question"]
PART_ROWS = 200_000
"""Rows of near-duplicate groups searched per task by the split search (a larger group is one task)."""


class MinHashDedupParams(MinHashSettings):
    """The MinHash settings, and what is compared, what is a duplicate and which row is kept."""

    fields: list[str] | None = None
    """Text columns compared; default: the kind's text fields (``mrc``: context and question for
    ``unit: row``)."""
    combine: Literal["joined", "all"] = "joined"
    """``joined``: the fields are joined into one text; ``all``: every field must be similar on its own."""
    unit: Unit | None = None
    """What is a duplicate. ``row``: the joined fields. MRC only: ``question`` (the MRC default)
    deduplicates (question, passage cluster) pairs, so different questions on one passage are never
    duplicates of each other; ``context`` deduplicates passages and re-points their questions to
    the kept passage."""
    clustering: ClusteringMode = "greedy"
    """``greedy``: rows, in ``keep`` order, join the most similar kept row at or above the threshold
    in every compared field (else they are kept), so every removed row is that similar to the row it
    duplicates; ``components``: connected components of near-duplicate pairs, whose chains may join
    rows far below the threshold to the kept row. On NSMC reviews at 0.8, components removed rows as
    little as 0.42 similar to their kept row; pairwise F1 on labelled sets within 0.01 (BENCHMARKS.md)."""
    keep: KeepPolicy = "central"
    """Which row of a cluster is kept (rows are visited in this order): ``central`` (the row sharing
    LSH bands with the most rows, the centre of its near-duplicates; the earliest on ties), ``first``,
    ``longest`` (longest text), ``most_answers`` (MRC), or ``sql`` (smallest value of ``order_by``)."""
    order_by: str | None = None
    """DuckDB SQL ORDER BY list over the row's columns for ``keep: sql``; the row that sorts first is
    kept (``x DESC`` for the largest). Expressions only: no other statement, clause or subquery, and
    no file access (see :mod:`curate.sql`)."""
    against: str | None = None
    """Folder of a saved index: rows similar to an indexed row are rejected too (incremental dedup)."""
    save_index: str | None = None
    """Write the index of the kept rows (plus ``against``'s) to this folder."""
    shard_rows: int = pydantic.Field(default=200_000, ge=1)
    """Rows per task of the split search. Rows compared as one text (``unit: row``, one field or
    ``combine: joined``) with keep ``central``, ``first`` or ``longest`` and no index are searched
    in tasks when the stage runs on an executor or the dataset has more rows than this: shards of
    rows, ranges of LSH buckets, then whole groups of near-duplicates
    (:mod:`curate.stages.dedup_shards`). The decisions are those of one search over the whole
    dataset; memory is bounded by a shard and the largest group, not by the dataset."""

    @model_validator(mode="after")
    def _order_by(self) -> MinHashDedupParams:
        if self.keep == "sql" and not self.order_by:
            raise ValueError("keep: sql needs order_by (a DuckDB expression)")
        return self


class MinHashDedup(PlannedStage):
    """Remove near-duplicate rows (MinHash LSH, true-Jaccard verification, greedy or connected
    clusters), never rows whose answers or labels differ from the kept row's.

    Rejected rows get reason ``near_duplicate`` with ``duplicate_of`` (the kept row's id),
    ``cluster_id`` and ``similarity`` (to the kept row: the true Jaccard where it decided, else the
    MinHash estimate; the detail says which). A near-duplicate whose label differs from the kept
    row's (classification, qrels) is rejected as ``label_conflict``; an MRC question whose answers
    differ (other answer texts, or answerable against unanswerable) is kept. Both sides of such a
    pair get its other id in ``dedup_conflicts`` (kept rows; see :mod:`curate.dedup.outcome`).
    Artifacts: ``clusters`` (every row in a cluster of two or more: ``id, cluster_id,
    representative_id, jaccard``) and ``conflicts`` (``id, other_id, reason, similarity, detail``).
    On MRC data with ``unit: context`` kept rows may be re-pointed to the kept passage; they get
    ``repointed_from`` (the passage they came from); a question whose answer the kept passage lacks
    stays on its own passage (conflict ``answer_not_in_passage``).
    """

    name = "minhash_dedup"
    role = "filter"
    description = "Reject near-duplicate rows (MinHash LSH, verified Jaccard) unless their answers or labels differ."
    Params = MinHashDedupParams
    params: MinHashDedupParams
    reject_extras = EXTRA_TYPES
    sliced_plan = True

    def _unit(self, kind: str) -> Unit:
        return self.params.unit or ("question" if kind == "mrc" else "row")

    def _fields(self, kind: str) -> list[str]:
        unit = self._unit(kind)
        if unit == "context":
            return ["context"]
        if unit == "question":
            return ["context", "question"]
        return text_fields(kind, self.params.fields)

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(self._fields(kind), "text")

    def added(self, kind: str) -> dict[str, pa.DataType]:
        repointed = {"repointed_from": pa.string()} if self._unit(kind) == "context" else {}
        return {**repointed, CONFLICTS_COLUMN: pa.list_(pa.string())}

    def check_input(self, dataset: Dataset) -> None:
        self.check_kind(dataset.kind)
        unit = self._unit(dataset.kind)
        if unit != "row" and dataset.kind != "mrc":
            raise ConfigError(
                f"unit '{unit}' works on MRC data",
                where=Where(stage=self.id, field="unit"),
                value=dataset.kind,
                hint="use unit: row for other kinds",
            )
        super().check_input(dataset)
        if self.params.keep == "most_answers" and dataset.kind != "mrc":
            raise ConfigError("keep: most_answers needs MRC data", where=Where(stage=self.id, field="keep"))
        if self.params.keep == "sql" and unit == "context":
            raise ConfigError(
                "keep: sql ranks rows, not passages",
                where=Where(stage=self.id, field="keep"),
                hint="with unit: context use first, longest or most_answers (the passage with most questions)",
            )
        if unit != "row" and (self.params.against or self.params.save_index):
            raise ConfigError(
                f"against and save_index index whole rows, not unit '{unit}'",
                where=Where(stage=self.id, field="against" if self.params.against else "save_index"),
                hint="use unit: row (the joined fields) with an index",
            )
        if self.params.against:  # before any work: a wrong index fails fast
            check_index(Path(self.params.against), self.params, stage=self.id)
        if self.params.save_index:
            check_save_target(Path(self.params.save_index), stage=self.id)

    # ----------------------------------------------------------------- planning (whole dataset)
    def _texts(self, dataset: Dataset, name: str) -> list[str | None]:
        return joined_texts(dataset, (name,))

    def _rank(self, dataset: Dataset, texts: list[str | None], first: Field) -> np.ndarray | None:
        """Keep order of the rows (smallest first; ``None``: row order); ``first`` is the first
        compared field, whose LSH bands tell how central a row is."""
        policy = self.params.keep
        if policy == "first":
            return None
        if policy == "central":
            return -first.found.band_mates()[first.text]
        if policy == "longest":
            return -np.fromiter((len(t or "") for t in texts), np.int64, len(texts))
        if policy == "most_answers":
            return -np.asarray(pc.fill_null(pc.list_value_length(dataset.column("answers")), 0), np.int64)
        return self._sql_rank(dataset)

    def _sql_rank(self, dataset: Dataset) -> np.ndarray:
        order = order_rows(dataset.to_arrow(), str(self.params.order_by), where=Where(stage=self.id, field="order_by"))
        rank = np.empty(dataset.num_rows, np.int64)
        rank[order] = np.arange(1, dataset.num_rows + 1, dtype=np.int64)
        return rank

    def _compared(
        self, dataset: Dataset, settings: MinHashSettings, texts: list[str | None]
    ) -> tuple[list[Field], list[str], np.ndarray | None]:
        """The compared fields (all must be similar), their names, and the keep order."""
        n = dataset.num_rows
        fields = self._fields(dataset.kind)
        if self._unit(dataset.kind) == "question":
            distinct, context_index = _distinct(dataset.column("context").to_pylist())
            questions = self._texts(dataset, "question")
            with progress.scoped("questions"):
                by_question = cluster_texts(questions, settings)
            with progress.scoped("passages"):
                by_passage = cluster_texts(distinct, settings)
            compared = [Field(np.arange(n), questions, by_question), Field(context_index, distinct, by_passage)]
            return compared, ["question", "passage"], self._rank(dataset, questions, compared[0])
        if self.params.combine == "all" and len(fields) > 1:
            columns = [self._texts(dataset, f) for f in fields]
            compared = []
            for name, column in zip(fields, columns, strict=True):
                with progress.scoped(name):
                    compared.append(Field(np.arange(n), column, cluster_texts(column, settings)))
            return compared, fields, self._rank(dataset, texts, compared[0])
        compared = [Field(np.arange(n), texts, cluster_texts(texts, settings))]
        return compared, ["text"], self._rank(dataset, texts, compared[0])

    def _searched_in_tasks(self, dataset: Dataset) -> bool:
        """Whether the search is split into tasks (:mod:`curate.stages.dedup_shards`): one joined
        text per row, an order known per row, no index, and an executor or more rows than a shard."""
        p = self.params
        one_text = self._unit(dataset.kind) == "row" and (p.combine == "joined" or len(self._fields(dataset.kind)) == 1)
        simple = one_text and p.keep in ("central", "first", "longest") and not (p.against or p.save_index)
        spread = self.executor is not None and self.executor.name != "local"
        return simple and (spread or dataset.num_rows > p.shard_rows)

    def plan(self, dataset: Dataset) -> DedupPlan:
        settings = self.params
        if self._searched_in_tasks(dataset):
            folder = self.scratch_folder()
            found = split_search(
                dataset,
                self.tasks(),
                folder,
                fields=tuple(self._fields(dataset.kind)),
                settings=settings,
                clustering=settings.clustering,
                keep=settings.keep,
                shard_rows=settings.shard_rows,
                part_rows=PART_ROWS,
            )
            return DedupPlan(
                found.decisions, {"clusters": found.decisions.clusters_table(), "conflicts": found.conflicts}
            )
        outcome = Outcome(row_ids(dataset, dataset.kind))
        if self._unit(dataset.kind) == "context":
            clusters, repointed = self._plan_context(dataset, settings, outcome)
            return _dedup_plan(outcome, clusters, repointed)
        answers = dataset_answers(dataset)
        texts = joined_texts(dataset, self._fields(dataset.kind))
        compared, names, rank = self._compared(dataset, settings, texts)
        shown = self._texts(dataset, "question") if dataset.kind == "mrc" else texts
        reject_conflicts = conflicts_removed(dataset.kind)
        assignment = find_duplicates(
            compared,
            rank=rank,
            answers=answers,
            clustering=self.params.clustering,
            reject_conflicts=reject_conflicts,
        )
        threshold = self.params.threshold

        def describe(row: int, other: int, similarity: float, exact: bool) -> str:
            if len(compared) == 1:
                how = how_similar(similarity, exact, threshold)
            else:  # each field's similarity; the lowest decided
                each = [f.similarity(row, np.array([other])) for f in compared]
                how = "; ".join(f"{name} {how_similar(v[0], e[0])}" for name, (v, e) in zip(names, each, strict=True))
                how += f"; lowest {similarity:.2f} {'>=' if similarity >= threshold else '<'} {threshold:g}"
            return near_duplicate_detail(outcome.keys[other], how, similarity, threshold)

        apply_assignment(
            outcome,
            assignment,
            duplicate_reason="near_duplicate",
            describe=describe,
            answers=answers,
            texts=shown,
            reject_conflicts=reject_conflicts,
        )
        clusters = outcome.decisions().clusters_table()  # before rows matching the index are removed
        if self.params.against:
            self._match_index(texts, answers, settings, outcome, reject_conflicts)
        if self.params.save_index:
            kept = outcome.keep.tolist()
            save_index(
                Path(self.params.save_index),
                [t for t, k in zip(texts, kept, strict=True) if k],
                [key for key, k in zip(outcome.keys, kept, strict=True) if k],
                settings,
                answers=None if answers is None else [a for a, k in zip(answers, kept, strict=True) if k],
                previous=Path(self.params.against) if self.params.against else None,
                stage=self.id,
            )
        return _dedup_plan(outcome, clusters)

    def _match_index(
        self,
        texts: list[str | None],
        answers: list[Answer | None] | None,
        settings: MinHashSettings,
        outcome: Outcome,
        reject_conflicts: bool,
    ) -> None:
        """Rows still kept that match a row of the ``against`` index are removed (or, conflicting
        MRC questions, flagged)."""
        assert self.params.against is not None
        index = load_index(Path(self.params.against), settings, stage=self.id)
        match = match_index(index, texts, settings, answers)
        threshold = self.params.threshold
        found = zip(match.rows.tolist(), match.ids, match.similarity.tolist(), match.conflict.tolist(), strict=True)
        for row, old, similarity, conflict in found:
            if not outcome.keep[row]:
                continue
            how = how_similar(similarity, False, threshold)
            if not conflict:
                outcome.remove(row, "near_duplicate", old, similarity, f"near-duplicate of indexed row {old!r}: {how}")
                continue
            mine = str(answers[row]) if answers is not None else "no answer"
            reason = "label_conflict" if reject_conflicts else "answers_differ"
            outcome.pair(row, old, reason, similarity, f"{show_value(texts[row])} ({mine}) vs indexed row {old!r}")
            if reject_conflicts:
                detail = f"duplicates indexed row {old!r} ({how}) but has {mine} where it has another"
                outcome.remove(row, reason, old, similarity, detail)
            else:
                outcome.flag(row, old, reason)

    def _plan_context(
        self, dataset: Dataset, settings: MinHashSettings, outcome: Outcome
    ) -> tuple[pa.Table, dict[str, Any]]:
        """``unit: context``: the kept passage of each passage cluster; questions follow it.
        Returns the clusters table and the re-pointed columns."""
        contexts = dataset.column("context").to_pylist()
        distinct, context_index = _distinct(contexts)
        passage = Field(np.arange(len(distinct)), distinct, cluster_texts(distinct, settings))
        rank = None
        if self.params.keep == "central":
            rank = -passage.found.band_mates()
        elif self.params.keep == "longest":
            rank = -np.fromiter(map(len, distinct), np.int64, len(distinct))
        elif self.params.keep == "most_answers":
            rank = -np.bincount(context_index, minlength=len(distinct))
        merged = find_duplicates([passage], rank=rank, clustering=self.params.clustering)
        passage_rep = np.where(merged.keep, np.arange(len(distinct)), merged.duplicate_of)
        result = repoint_questions(dataset, context_index, distinct, passage_rep, outcome.keys)
        similarity = np.where(merged.keep, 1.0, merged.similarity)[context_index]
        for row in np.nonzero(result.conflict)[0].tolist():
            anchor = outcome.keys[result.anchor[row]]
            outcome.pair(row, anchor, "answer_not_in_passage", float(similarity[row]), str(result.details[row]))
            outcome.flag(row, anchor, "answer_not_in_passage")
        passage_cluster = cluster_ids(np.where(merged.keep, -1, merged.duplicate_of))[context_index]
        inside = np.nonzero(passage_cluster >= 0)[0]
        first_row = np.full(len(distinct), -1, np.int64)
        first_row[context_index[::-1]] = np.arange(len(contexts))[::-1]
        clusters = pa.table(
            {
                "id": pa.array([outcome.keys[i] for i in inside.tolist()], pa.string()),
                "cluster_id": pa.array(passage_cluster[inside], pa.int64()),
                "representative_id": pa.array(
                    [outcome.keys[first_row[passage_rep[context_index[i]]]] for i in inside.tolist()], pa.string()
                ),
                "jaccard": pa.array(similarity[inside], pa.float64()),
            }
        )
        return clusters, result.columns

    # ----------------------------------------------------------------- streaming the split
    def plan_rows(self, plan: DedupPlan, start: int, stop: int) -> DedupPlan:
        return plan.between(start, stop)

    def split(self, batch: pa.Table, plan: DedupPlan, start: int) -> Split:
        if plan.repointed is not None:
            batch = _apply_repoint(batch, plan.repointed, start - plan.first, start - plan.first + batch.num_rows)
        split = split_by_decisions(batch, plan.decisions, start, stage=self.id, extras=tuple(EXTRA_TYPES))
        if "repointed_from" in split.kept.column_names:
            split.marked(rewrites=names_in(split.kept, "repointed_from", "repointed"))
        return split

    def plan_artifacts(self, plan: DedupPlan) -> dict[str, pa.Table]:
        return plan.artifacts

    def input_files(self) -> list[Path]:
        return [Path(self.params.against)] if self.params.against else []

    def update_parts(self, parts: Mapping[str, Dataset], kept: Dataset, rejected: Dataset) -> dict[str, Dataset]:
        """On a retrieval set's corpus: the qrels of removed passages point at the passage kept
        (listed in the ``qrels_repointed`` artifact)."""
        return parts_after_dedup(self, parts, rejected)


@dataclass
class RetrievalDedup:
    """The deduplicated parts, the removed passages (with ``duplicate_of``), the stage's artifacts
    (``clusters``, ``conflicts``), how many qrels were re-pointed or merged, and how many merges
    joined judgements with different scores (the highest is kept)."""

    parts: dict[str, Dataset]
    rejected: Dataset
    artifacts: dict[str, pa.Table]
    stats: StageStats
    qrels_repointed: int
    qrels_merged: int
    qrels_score_conflicts: int


def dedup_retrieval(parts: Mapping[str, Dataset], stage: MinHashDedup) -> RetrievalDedup:
    """Run ``stage`` on the corpus of a retrieval set; re-point the qrels (queries are unchanged)."""
    result = stage(parts["corpus"])
    found = repoint_qrels(parts, result.rejected)
    found.parts["corpus"] = result.kept
    return RetrievalDedup(
        found.parts,
        result.rejected,
        result.artifacts,
        result.stats,
        found.repointed,
        found.merged,
        found.score_conflicts,
    )


def _dedup_plan(outcome: Outcome, clusters: pa.Table, repointed: dict[str, Any] | None = None) -> DedupPlan:
    return DedupPlan(outcome.decisions(), {"clusters": clusters, "conflicts": outcome.conflicts_table()}, repointed)


def _distinct(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts in first-seen order, and each text's number among them."""
    unique: dict[str, int] = {}
    index = np.fromiter((unique.setdefault(t, len(unique)) for t in texts), np.int64, len(texts))
    return list(unique), index


def _apply_repoint(batch: pa.Table, columns: dict[str, Any], start: int, end: int) -> pa.Table:
    """Replace the re-pointed rows' context/answers/ids and add ``repointed_from``."""
    for name, (values, dtype) in columns.items():
        array = pa.array(values[start:end], dtype)
        if name in batch.column_names:
            batch = batch.set_column(batch.column_names.index(name), name, array)
        else:
            batch = batch.append_column(name, array)
    return batch
