"""``mine_hard_negatives``: MRC questions into retriever training triplets with mined hard negatives."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import model_validator

from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, Where
from curate.retrieval.build import (
    CORPUS_SCHEMA,
    TRIPLET_SCHEMA,
    mine_retrieval,
    mine_retrieval_folder,
    mining_summary,
    mrc_passages,
    triplet_rows,
)
from curate.retrieval.negatives import GUARDS, Mined, MiningSettings, mine_negatives
from curate.stages.base import ColumnType, PlannedStage, Split, reject

__all__ = ["MineHardNegatives", "MineHardNegativesParams", "mine_retrieval", "mine_retrieval_folder"]


@dataclass(frozen=True)
class MiningPlan:
    """The mined negatives, the corpus they index, and per MRC row its query number among the mined
    ones (-1: unanswerable), its positive passage's corpus row and its answers; ``summary``: the
    ``mining`` artifact."""

    mined: Mined
    corpus: pa.Table
    query_of_row: np.ndarray
    passage: np.ndarray
    answers: list[list[str]]
    summary: pa.Table


@dataclass(frozen=True)
class QueriesPlan:
    """A retrieval set's queries mined from its corpus and qrels: the ``triplets``, and per query row
    its triplet rows ``(start, end)`` or the reason and detail it has none; ``summary``: the
    ``mining`` artifact."""

    triplets: pa.Table
    rows: list[tuple[int, int] | None]
    reasons: list[str | None]
    details: list[str | None]
    summary: pa.Table


class MineHardNegativesParams(MiningSettings):
    """The mining settings, and where more passages and the embeddings come from."""

    corpus: str | None = None
    """More candidate passages: a BEIR or Parquet folder (its corpus), or a corpus file in any
    readable format (``doc_id``/``_id``, ``title``, ``text``)."""
    corpus_format: str | None = None
    """Format of ``corpus``; inferred from the path when not given."""
    embedding_column: str | None = None
    """``list<float>`` column of the MRC rows holding the context's embedding: rank by inner product
    (faiss) instead of BM25. An extra ``corpus`` needs the same column."""
    query_embedding_column: str | None = None
    """``list<float>`` column of the MRC rows holding the question's embedding (with ``embedding_column``)."""

    @model_validator(mode="after")
    def _embeddings(self) -> MineHardNegativesParams:
        if (self.embedding_column is None) != (self.query_embedding_column is None):
            raise ValueError("give both embedding_column and query_embedding_column, or neither")
        return self


class MineHardNegatives(PlannedStage):
    """Turn MRC questions into retriever training triplets with hard negatives mined from the
    contexts (plus an optional extra ``corpus``), guarded against false negatives
    (:mod:`curate.retrieval.negatives`).

    Every distinct context is a passage; an answerable question is a query whose positive is its
    own context. Kept rows are of kind ``triplets``: ``query``, ``positive``, ``negatives``
    (passage texts, best-ranked first), ``query_id``, ``answers``, ``positive_id``,
    ``positive_title``, ``negative_ids``, ``negative_titles``, ``negative_scores`` and
    ``positive_score``. Rejected rows keep their MRC columns, with reason ``no_positive``
    (unanswerable question) or ``no_negatives`` (no candidate survived the guards); a question with
    fewer than ``count`` negatives is kept and counted in the ``mining`` artifact (one row: queries,
    negatives, candidates, ``dropped_<guard>`` per guard, short queries, seconds, queries/s).

    On a retrieval set (a pipeline input read whole) the stage works on its queries and mines from
    its corpus and qrels as ``curate mine-negatives`` does on a folder
    (:func:`~curate.retrieval.build.mine_retrieval`): each query becomes one triplet per positive
    passage, or is rejected (``no_positive``, ``no_negatives``, or ``repeated_query``: a query id
    used again is mined for its first query only). The set ends there: the output is triplets.
    """

    name = "mine_hard_negatives"
    role = "convert"  # MRC questions become retrieval triplets
    Params = MineHardNegativesParams
    params: MineHardNegativesParams
    kinds = ("mrc", "queries")
    requires = {"id": "any", "context": "string", "question": "string", "answers": "any"}
    adds = {f.name: f.type for f in TRIPLET_SCHEMA if f.name not in ("query", "positive", "negatives")}
    rejects_added = False
    description = "Turn MRC questions into triplets with BM25/dense hard negatives, guarded against false negatives."

    def output_kind(self, kind: str) -> str:
        return "triplets"

    def required(self, kind: str) -> dict[str, ColumnType]:
        if kind == "queries":
            return {"query_id": "any"}
        vectors = (self.params.embedding_column, self.params.query_embedding_column)
        return {**self.requires, **{name: "list<float>" for name in vectors if name is not None}}

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        p = self.params
        if dataset.kind == "queries":
            missing = [part for part in ("corpus", "qrels") if part not in self.parts]
            if missing or p.corpus or p.embedding_column:
                raise ConfigError(
                    f"stage '{self.name}' on queries mines from their retrieval set"
                    + (f", which has no {' and no '.join(missing)}" if missing else ", without corpus or embeddings"),
                    where=Where(stage=self.id, field="embedding_column" if p.embedding_column else "corpus"),
                    hint="read a BEIR or Parquet folder whole (input.path without kind), or mine MRC rows",
                )
        if p.corpus is not None and not Path(p.corpus).exists():
            raise ConfigError(
                "corpus not found",
                where=Where(stage=self.id, file=p.corpus, field="corpus"),
                hint="check the path (relative paths start from the working directory)",
            )

    def input_files(self) -> list[Path]:
        return [Path(self.params.corpus)] if self.params.corpus else []

    # ----------------------------------------------------------------- planning (whole dataset)
    def read_corpus(self) -> Dataset:
        """The extra ``corpus``: a folder's corpus part, or a corpus file."""
        from curate import io

        path = self.params.corpus
        assert path is not None
        try:
            fmt = self.params.corpus_format or io.detect_format(path)
            return io.read(path, format=fmt, kind="corpus")
        except CurateError as exc:
            raise exc.at(stage=self.id, file=path) from None

    def update_parts(self, parts: Mapping[str, Dataset], kept: Dataset, rejected: Dataset) -> dict[str, Dataset]:
        """Triplets are no part of a retrieval set: the set ends here."""
        return {}

    def _plan_queries(self, queries: Dataset) -> QueriesPlan:
        """Mine for a retrieval set's queries with :func:`mine_retrieval`: each query row's triplets,
        or why it has none."""
        try:
            found = mine_retrieval({**self.parts, "queries": queries}, self.params, executor=self.tasks())
        except CurateError as exc:
            raise exc.at(stage=self.id) from None
        rows_of: dict[str, tuple[int, int]] = {}
        for row, query_id in enumerate(found.triplets.column("query_id").to_pylist()):
            first, _ = rows_of.get(query_id, (row, row))
            rows_of[query_id] = (first, row + 1)
        qrels, corpus = self.parts["qrels"].to_arrow(), self.parts["corpus"].column("doc_id").to_pylist()
        judged = zip(qrels.column("query_id").to_pylist(), qrels.column("doc_id").to_pylist(), strict=True)
        scores = pc.cast(qrels.column("score"), pa.float64()).to_pylist()
        known = set(corpus)
        positives = {q for (q, d), score in zip(judged, scores, strict=True) if (score or 0) > 0 and d in known}
        rows: list[tuple[int, int] | None] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        seen: set[str] = set()
        for query_id in queries.column("query_id").to_pylist():
            slice_ = rows_of.pop(query_id, None)
            rows.append(slice_)
            if slice_ is not None:
                reasons.append(None)
                details.append(None)
            elif query_id in seen:
                reasons.append("repeated_query")
                details.append(f"query id {query_id} was used before: mined for its first query only")
            elif query_id not in positives:
                reasons.append("no_positive")
                details.append("no qrel with score > 0 points at a passage of the corpus")
            else:
                reasons.append("no_negatives")
                details.append("no candidate passage survived the guards")
            seen.add(query_id)
        return QueriesPlan(found.triplets, rows, reasons, details, found.summary)

    def _split_queries(self, batch: pa.Table, plan: QueriesPlan, start: int) -> Split:
        """Each query's triplets, or the query rejected with the reason it has none."""
        end = start + batch.num_rows
        keep = [rows is not None for rows in plan.rows[start:end]]
        pieces = [plan.triplets.slice(a, b - a) for a, b in filter(None, plan.rows[start:end])]
        kept = pa.concat_tables([TRIPLET_SCHEMA.empty_table(), *pieces])
        split = reject(batch, keep, stage=self.id, reasons=plan.reasons[start:end], details=plan.details[start:end])
        return Split(kept, split.rejected, added=kept.num_rows - sum(keep))

    def plan(self, dataset: Dataset) -> MiningPlan | QueriesPlan:
        """Build the corpus from the contexts, mine negatives for every answerable question (a
        retrieval set's queries: mine from the set)."""
        if dataset.kind == "queries":
            return self._plan_queries(dataset)
        started = time.perf_counter()
        table = dataset.to_arrow()
        found = mrc_passages(table)
        corpus = found.corpus
        p = self.params
        corpus_vectors: list[Any] = []
        if p.embedding_column:
            first_row = np.full(corpus.num_rows, table.num_rows, np.int64)  # each passage's first MRC row
            np.minimum.at(first_row, found.passage, np.arange(table.num_rows))
            vectors = _vectors(table.column(p.embedding_column), stage=self.id, field="embedding_column")
            corpus_vectors.append(vectors[first_row] if len(first_row) else vectors[:0])
        if p.corpus:
            extra = self.read_corpus().to_arrow()
            if p.embedding_column:
                if p.embedding_column not in extra.column_names:
                    raise ConfigError(
                        "the extra corpus has no embedding column",
                        where=Where(stage=self.id, file=p.corpus, field="embedding_column"),
                        value=p.embedding_column,
                        hint="give its passages the same embedding column, or mine without embeddings",
                    )
                corpus_vectors.append(_vectors(extra.column(p.embedding_column), stage=self.id, field="corpus"))
            corpus = pa.concat_tables([corpus, extra.select(CORPUS_SCHEMA.names).cast(CORPUS_SCHEMA)])
        rows = np.nonzero(found.answerable)[0]
        doc_ids = corpus.column("doc_id").to_pylist()
        positives = [[doc_ids[found.passage[r]]] for r in rows.tolist()]
        answers = found.answers.to_pylist()
        questions = table.column("question").take(pa.array(rows, pa.int64())).to_pylist()
        embeddings = None
        if p.embedding_column and p.query_embedding_column:
            query_column = table.column(p.query_embedding_column)
            query_vectors = _vectors(query_column, stage=self.id, field="query_embedding_column")
            embeddings = (np.concatenate(corpus_vectors), query_vectors[rows])
        try:
            mined = mine_negatives(
                corpus,
                questions,
                positives,
                [answers[r] or [] for r in rows.tolist()],
                p,
                embeddings=embeddings,
                executor=self.tasks(),
            )
        except CurateError as exc:
            raise exc.at(stage=self.id) from None
        mined.seconds = time.perf_counter() - started
        query_of_row = np.full(table.num_rows, -1, np.int64)
        query_of_row[rows] = np.arange(len(rows))
        summary = mining_summary(mined, p, corpus.num_rows)
        return MiningPlan(mined, corpus, query_of_row, found.passage, [a or [] for a in answers], summary)

    # ----------------------------------------------------------------- streaming the split
    def split(self, batch: pa.Table, plan: MiningPlan | QueriesPlan, start: int) -> Split:
        if isinstance(plan, QueriesPlan):
            return self._split_queries(batch, plan, start)
        n = batch.num_rows
        end = start + n
        mined, corpus = plan.mined, plan.corpus
        queries = plan.query_of_row[start:end]
        keep = [q >= 0 and bool(mined.rows[q]) for q in queries.tolist()]
        reasons: list[str | None] = []
        details: list[str | None] = []
        for q, kept in zip(queries.tolist(), keep, strict=True):
            if kept:
                reasons.append(None)
                details.append(None)
            elif q < 0:
                reasons.append("no_positive")
                details.append("unanswerable question (no answer, or is_impossible): no positive passage")
            else:
                reasons.append("no_negatives")
                details.append(self._why_none(mined, q))
        local = [i for i, k in enumerate(keep) if k]
        rows = [start + i for i in local]
        ids = batch.column("id").to_pylist()
        triplets = triplet_rows(
            corpus,
            mined,
            queries=[batch.column("question")[i].as_py() for i in local],
            query_ids=[ids[i] for i in local],
            answers=[plan.answers[r] for r in rows],
            positive_rows=[int(plan.passage[r]) for r in rows],
            mined_index=[int(plan.query_of_row[r]) for r in rows],
        )
        split = reject(batch, keep, stage=self.id, reasons=reasons, details=details)
        return Split(triplets, split.rejected)

    def _why_none(self, mined: Mined, query: int) -> str:
        s = self.params
        dropped = ", ".join(
            f"{guard} {count}" for guard, count in zip(GUARDS, mined.dropped[query].tolist(), strict=True) if count
        )
        window = f"ranks {s.rank_from}-{s.rank_to}"
        if not mined.dropped[query][1:].any():  # no candidate was examined at all
            found = "shares a token with the question" if mined.mode == "bm25" else "was retrieved"
            return f"no passage besides the positive {found} at {window}"
        return f"no candidate at {window} survived the guards (dropped: {dropped})"

    def plan_artifacts(self, plan: MiningPlan | QueriesPlan) -> dict[str, pa.Table]:
        return {"mining": plan.summary}


def _is_vector(dtype: pa.DataType) -> bool:
    listed = pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)
    return listed and (pa.types.is_floating(dtype.value_type) or pa.types.is_integer(dtype.value_type))


def _vectors(column: pa.ChunkedArray, *, stage: str, field: str) -> np.ndarray:
    """Rows of a list<float> column as a float32 matrix; a clear error on nulls or ragged rows."""
    values = column.to_pylist()
    sizes = {len(v) for v in values if v is not None}
    if any(v is None for v in values):
        row = next(i for i, v in enumerate(values) if v is None)
        raise ConfigError("missing embedding", where=Where(stage=stage, row=row, field=field))
    if len(sizes) > 1:
        raise ConfigError("embeddings differ in size", where=Where(stage=stage, field=field), value=sorted(sizes))
    if not values:
        return np.zeros((0, 0), np.float32)
    return np.asarray(values, np.float32)
