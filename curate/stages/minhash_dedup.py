"""``minhash_dedup``: near-duplicate removal with MinHash LSH, QA-aware on MRC data."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import model_validator

from curate.dataset import Dataset
from curate.dedup.index import IndexMatch, load_index, match_index, save_index
from curate.dedup.plan import (
    Decision,
    KeepPolicy,
    MinHashSettings,
    cluster_texts,
    decide,
    intersect_labels,
    representatives,
    similarity_to_representative,
)
from curate.errors import ConfigError, Where
from curate.mrc.repoint import repoint_questions
from curate.schemas import get_schema
from curate.sql import order_rows
from curate.stages.base import Params, PlannedStage, Split, reject
from curate.stages.fields import require_columns, text_fields
from curate.text.shingles import ShingleKind

Unit = Literal["row", "context", "question"]


class MinHashDedupParams(Params):
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
    shingle: ShingleKind = "char"
    """``char`` n-grams (Korean, Chinese, Japanese), ``word`` n-grams, or Korean ``morph``emes (kiwipiepy)."""
    ngram: int = 5
    """Shingle size in units; a text shorter than this is one whole shingle, never skipped."""
    lowercase: bool = True
    """Compare case-insensitively (texts are also NFC-normalized and whitespace-folded)."""
    num_perm: int = 128
    """MinHash permutations (bands x rows of them are used)."""
    threshold: float = 0.8
    """Jaccard similarity from which two texts are duplicates."""
    bands: int | None = None
    """LSH bands; with ``rows`` overrides the choice made from the threshold."""
    rows: int | None = None
    """LSH rows per band."""
    seed: int = 42
    """Seed of the MinHash permutations."""
    verify: bool = True
    """Confirm every LSH candidate pair by the true Jaccard of its shingle sets (cuts false positives)."""
    keep: KeepPolicy = "first"
    """Which row of a cluster is kept: ``first``, ``longest`` (longest text), ``most_answers`` (MRC),
    or ``sql`` (smallest value of ``order_by``)."""
    order_by: str | None = None
    """DuckDB SQL ORDER BY list over the row's columns for ``keep: sql``; the row that sorts first is
    kept (``x DESC`` for the largest). Expressions only: no other statement, clause or subquery, and
    no file access (see :mod:`curate.sql`)."""
    against: str | None = None
    """Folder of a saved index: rows similar to an indexed row are rejected too (incremental dedup)."""
    save_index: str | None = None
    """Write the index of the kept rows (plus ``against``'s) to this folder."""

    @model_validator(mode="after")
    def _check(self) -> MinHashDedupParams:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.keep == "sql" and not self.order_by:
            raise ValueError("keep: sql needs order_by (a DuckDB expression)")
        return self

    def settings(self) -> MinHashSettings:
        names = {f.name for f in dataclasses.fields(MinHashSettings)}
        return MinHashSettings(**self.model_dump(include=names))


_ADDED_REJECT = {"duplicate_of": pa.string(), "cluster_id": pa.int64(), "similarity": pa.float64()}


class MinHashDedup(PlannedStage):
    """Remove near-duplicate rows (MinHash LSH, transitive clusters, true-Jaccard verification).

    Rejected rows get reason ``near_duplicate`` with ``duplicate_of`` (the kept row's id),
    ``cluster_id`` and ``similarity`` (estimated Jaccard to the kept row). The ``clusters`` artifact
    lists every row in a cluster of two or more: ``id, cluster_id, representative_id, jaccard``.
    On MRC data with ``unit: context`` kept rows may be re-pointed to the kept passage; they get
    ``repointed_from`` (the passage they came from).
    """

    name = "minhash_dedup"
    Params = MinHashDedupParams
    params: MinHashDedupParams

    def _unit(self, kind: str) -> Unit:
        return self.params.unit or ("question" if kind == "mrc" else "row")

    def _fields(self, kind: str) -> list[str]:
        unit = self._unit(kind)
        if unit == "context":
            return ["context"]
        if unit == "question":
            return ["context", "question"]
        return text_fields(kind, self.params.fields)

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        unit = self._unit(dataset.kind)
        if unit != "row" and dataset.kind != "mrc":
            raise ConfigError(
                f"unit '{unit}' works on MRC data",
                where=Where(stage=self.id, field="unit"),
                value=dataset.kind,
                hint="use unit: row for other kinds",
            )
        require_columns(dataset, self._fields(dataset.kind), stage=self.id, types=("string", "list<string>"))
        if self.params.keep == "most_answers" and dataset.kind != "mrc":
            raise ConfigError("keep: most_answers needs MRC data", where=Where(stage=self.id, field="keep"))
        if self.params.keep == "sql" and unit == "context":
            raise ConfigError(
                "keep: sql ranks rows, not passages",
                where=Where(stage=self.id, field="keep"),
                hint="with unit: context use first, longest or most_answers (the passage with most questions)",
            )

    def reset(self) -> None:
        self._decision: Decision | None = None
        self._keys: list[str] = []
        self._clusters: pa.Table | None = None
        self._repointed: dict[str, Any] | None = None

    # ----------------------------------------------------------------- planning (whole dataset)
    def _texts(self, dataset: Dataset, name: str) -> list[str | None]:
        column = dataset.column(name)
        if pa.types.is_list(column.type):
            return [None if v is None else "\n".join(x or "" for x in v) for v in column.to_pylist()]
        return column.to_pylist()

    def _joined(self, dataset: Dataset, fields: list[str]) -> list[str | None]:
        columns = [self._texts(dataset, f) for f in fields]
        if len(columns) == 1:
            return columns[0]
        return ["\n".join(v or "" for v in values) for values in zip(*columns, strict=True)]

    def _rank(self, dataset: Dataset, texts: list[str | None]) -> np.ndarray | None:
        policy = self.params.keep
        if policy == "first":
            return None
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

    def plan(self, dataset: Dataset) -> None:
        settings = self.params.settings()
        self._keys = self._all_keys(dataset)
        n = dataset.num_rows
        fields = self._fields(dataset.kind)
        if self._unit(dataset.kind) != "row":
            self._plan_mrc(dataset, settings)
            return
        if self.params.combine == "all" and len(fields) > 1:
            found = [cluster_texts(self._texts(dataset, f), settings) for f in fields]
            label = intersect_labels(*(c.label for c in found))
            texts = self._joined(dataset, fields)
        else:
            texts = self._joined(dataset, fields)
            found = [cluster_texts(texts, settings)]
            label = found[0].label
        match = self._against(dataset, texts, settings)
        rep = representatives(label, self._rank(dataset, texts))
        decision = decide(label, rep, similarity_to_representative(found, rep))
        self._finish(decision, match, dataset, texts, settings, n)

    def _all_keys(self, dataset: Dataset) -> list[str]:
        key = get_schema(dataset.kind).key
        if key:
            return [str(v) for v in dataset.column(key).to_pylist()]
        return [f"#{i}" for i in range(dataset.num_rows)]

    def _against(self, dataset: Dataset, texts: list[str | None], settings: MinHashSettings) -> IndexMatch | None:
        if not self.params.against:
            return None
        index = load_index(Path(self.params.against), settings, stage=self.id)
        return match_index(index, texts, settings)

    def _finish(
        self,
        decision: Decision,
        match: IndexMatch | None,
        dataset: Dataset,
        texts: list[str | None],
        settings: MinHashSettings,
        n: int,
    ) -> None:
        keys = self._keys
        duplicate_of: list[str | None] = [None if d < 0 else keys[d] for d in decision.duplicate_of.tolist()]
        keep = decision.keep.copy()
        similarity = decision.similarity.copy()
        details: list[str | None] = [None] * n
        if match is not None:
            for row, old_id, sim in zip(match.rows.tolist(), match.ids, match.similarity.tolist(), strict=True):
                keep[row] = False
                duplicate_of[row] = old_id
                similarity[row] = sim
                details[row] = f"near-duplicate of indexed row {old_id!r} (similarity {sim:.2f})"
        for row in np.nonzero(~keep)[0].tolist():
            if details[row] is None:
                details[row] = f"near-duplicate of {duplicate_of[row]!r} (similarity {similarity[row]:.2f})"
        self._decision = Decision(keep, decision.duplicate_of, decision.cluster, similarity)
        self._duplicate_of = duplicate_of
        self._details = details
        in_cluster = np.nonzero(decision.cluster >= 0)[0]
        rep = np.where(decision.duplicate_of >= 0, decision.duplicate_of, np.arange(n))
        self._clusters = pa.table(
            {
                "id": pa.array([keys[i] for i in in_cluster.tolist()], pa.string()),
                "cluster_id": pa.array(decision.cluster[in_cluster], pa.int64()),
                "representative_id": pa.array([keys[i] for i in rep[in_cluster].tolist()], pa.string()),
                "jaccard": pa.array(decision.similarity[in_cluster], pa.float64()),
            }
        )
        if self.params.save_index:
            save_index(
                Path(self.params.save_index),
                [t for t, k in zip(texts, keep.tolist(), strict=True) if k],
                [key for key, k in zip(keys, keep.tolist(), strict=True) if k],
                settings,
                previous=Path(self.params.against) if self.params.against else None,
            )

    def _plan_mrc(self, dataset: Dataset, settings: MinHashSettings) -> None:
        contexts = dataset.column("context").to_pylist()
        unique: dict[str, int] = {}
        context_index = np.fromiter((unique.setdefault(c, len(unique)) for c in contexts), np.int64, len(contexts))
        distinct = list(unique)
        passage = cluster_texts(distinct, settings)
        n = len(contexts)
        if self._unit(dataset.kind) == "question":
            questions = self._texts(dataset, "question")
            found = [cluster_texts(questions, settings)]
            label = intersect_labels(passage.label[context_index], found[0].label)
            rep = representatives(label, self._rank(dataset, questions))
            decision = decide(label, rep, similarity_to_representative(found, rep))
            self._finish(decision, None, dataset, questions, settings, n)
            return
        # unit: context -- the kept passage of each passage cluster; questions follow it
        passage_rank = None
        if self.params.keep == "longest":
            passage_rank = -np.fromiter(map(len, distinct), np.int64, len(distinct))
        elif self.params.keep == "most_answers":
            counts = np.bincount(context_index, minlength=len(distinct))
            passage_rank = -counts
        passage_rep = representatives(passage.label, passage_rank)
        result = repoint_questions(dataset, context_index, distinct, passage_rep, self._keys)
        similarity = np.full(n, np.nan)
        moved = np.nonzero(passage_rep[context_index] != context_index)[0]
        if len(moved):
            similarity[moved] = passage.estimated_jaccard(context_index[moved], passage_rep[context_index[moved]])
        cluster_of_passage = decide(passage.label, passage_rep, np.ones(len(distinct))).cluster
        decision = Decision(result.keep, result.duplicate_of, cluster_of_passage[context_index], similarity)
        self._repointed = result.columns
        self._finish(decision, None, dataset, contexts, settings, n)
        self._details = [
            d if k else r for d, k, r in zip(self._details, result.keep.tolist(), result.details, strict=True)
        ]

    # ----------------------------------------------------------------- streaming the split
    def process(self, batch: pa.Table, kind: str) -> Split:
        n = batch.num_rows
        start, end = self.next_rows(n)
        if self._decision is None:  # schema probe on an empty batch
            keep = [True] * n
            extra = {name: pa.nulls(n, dtype) for name, dtype in _ADDED_REJECT.items()}
            details: list[str | None] = [None] * n
        else:
            keep = self._decision.keep[start:end].tolist()
            extra = {
                "duplicate_of": pa.array(self._duplicate_of[start:end], pa.string()),
                "cluster_id": pa.array(_nullable(self._decision.cluster[start:end]), pa.int64()),
                "similarity": pa.array(self._decision.similarity[start:end], pa.float64(), from_pandas=True),
            }
            details = self._details[start:end]
        if kind == "mrc" and self._unit(kind) == "context":
            batch = _apply_repoint(batch, self._repointed, start, end)
        return reject(batch, keep, stage=self.id, reasons="near_duplicate", details=details, extra=extra)

    def artifacts(self) -> dict[str, pa.Table]:
        return {"clusters": self._clusters} if self._clusters is not None else {}

    def input_files(self) -> list[Path]:
        return [Path(self.params.against)] if self.params.against else []


def _nullable(values: np.ndarray) -> list[int | None]:
    return [None if v < 0 else int(v) for v in values.tolist()]


def _apply_repoint(batch: pa.Table, columns: dict[str, Any] | None, start: int, end: int) -> pa.Table:
    """Replace the re-pointed rows' context/answers/ids and add ``repointed_from``."""
    n = batch.num_rows
    if columns is None:
        return batch.append_column("repointed_from", pa.nulls(n, pa.string()))
    for name, (values, dtype) in columns.items():
        array = pa.array(values[start:end], dtype)
        if name in batch.column_names:
            batch = batch.set_column(batch.column_names.index(name), name, array)
        else:
            batch = batch.append_column(name, array)
    return batch
