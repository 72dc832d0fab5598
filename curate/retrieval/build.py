"""Retrieval sets built from other data: MRC questions as a BEIR-style corpus/queries/qrels, and
mined triplets as training rows (pure functions over Arrow tables).

:func:`mrc_to_retrieval` turns extractive-QA rows into a retrieval set: one passage per distinct
context, one query per question, one qrel per answerable question (its own context).
:func:`mine_retrieval` (and :func:`mine_retrieval_folder`) mines hard negatives for a retrieval set
and returns triplet rows (:data:`TRIPLET_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError, Where
from curate.retrieval.negatives import GUARDS, Mined, MiningSettings, mine_negatives
from curate.schemas import generated_ids
from curate.sql import connect

if TYPE_CHECKING:
    from curate.executors import Executor

CORPUS_SCHEMA = pa.schema([pa.field("doc_id", pa.string()), pa.field("title", pa.string()), ("text", pa.string())])
QUERIES_SCHEMA = pa.schema(
    [pa.field("query_id", pa.string()), pa.field("text", pa.string()), pa.field("answers", pa.list_(pa.string()))]
)
QRELS_SCHEMA = pa.schema(
    [
        pa.field("query_id", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("score", pa.int32()),
        pa.field("split", pa.string()),
    ]
)
TRIPLET_SCHEMA = pa.schema(
    [
        pa.field("query", pa.string(), nullable=False),
        pa.field("positive", pa.string(), nullable=False),
        pa.field("negatives", pa.list_(pa.string()), nullable=False),
        pa.field("query_id", pa.string()),
        pa.field("answers", pa.list_(pa.string())),
        pa.field("positive_id", pa.string()),
        pa.field("positive_title", pa.string()),
        pa.field("negative_ids", pa.list_(pa.string())),
        pa.field("negative_titles", pa.list_(pa.string())),
        pa.field("negative_scores", pa.list_(pa.float64())),
        pa.field("positive_score", pa.float64()),
    ]
)
"""Mined training rows (kind ``triplets``): the schema's ``query``, ``positive`` and ``negatives``
(passage texts, best-ranked first) plus the ids, titles and retrieval scores behind them."""

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("mode", pa.string()),
        pa.field("tokenizer", pa.string()),
        pa.field("corpus", pa.int64()),
        pa.field("queries", pa.int64()),
        pa.field("negatives", pa.int64()),
        pa.field("candidates", pa.int64()),
        *(pa.field(f"dropped_{guard}", pa.int64()) for guard in GUARDS),
        pa.field("short_queries", pa.int64()),
        pa.field("no_negatives", pa.int64()),
        pa.field("seconds", pa.float64()),
        pa.field("queries_per_second", pa.float64()),
    ]
)
"""One row per mining run: passages and queries searched, negatives returned, candidates examined
(ranked inside the rank window), candidates dropped by each guard, queries with fewer than
``count`` negatives (``short_queries``, those with none included) and with none, the wall time
of the whole run and the search throughput."""


# --------------------------------------------------------------------------- MRC -> retrieval


@dataclass(frozen=True)
class MrcPassages:
    """The passages of MRC rows: ``corpus`` (``doc_id, title, text``, first-appearance order),
    ``passage`` (the corpus row of each MRC row), ``answers`` (each row's answer texts, empty for an
    unanswerable question) and ``answerable`` (bool per row)."""

    corpus: pa.Table
    passage: np.ndarray
    answers: pa.ChunkedArray
    answerable: np.ndarray


def _column_or_null(table: pa.Table, name: str, dtype: pa.DataType) -> pa.ChunkedArray | pa.Array:
    return table.column(name) if name in table.column_names else pa.nulls(table.num_rows, dtype)


def mrc_passages(mrc: pa.Table) -> MrcPassages:
    """Group MRC rows by context (DuckDB). A passage's ``doc_id`` is the rows' ``passage_id`` when
    the first row of that context has one and no other context uses it, else
    ``p-<first 12 hex digits of sha1(title + "\\n" + context)>`` (title of the first row, empty when
    null): the same data gives the same ids on every run."""
    for name in ("context", "question", "answers"):
        if name not in mrc.column_names:
            raise ConfigError(f"MRC rows need a '{name}' column", where=Where(field=name))
    rows = pa.table(
        {
            "rn": pa.array(np.arange(mrc.num_rows, dtype=np.int64)),
            "title": _column_or_null(mrc, "title", pa.string()),
            "context": mrc.column("context"),
            "answers": mrc.column("answers"),
            "is_impossible": _column_or_null(mrc, "is_impossible", pa.bool_()),
            "passage_id": _column_or_null(mrc, "passage_id", pa.string()),
        }
    )
    con = connect()
    con.register("mrc_rows", rows)
    con.execute(
        """CREATE TEMP TABLE passages AS
           SELECT context, first(title ORDER BY rn) AS title, first(passage_id ORDER BY rn) AS pid, min(rn) AS first_rn
           FROM mrc_rows GROUP BY context"""
    )
    corpus = con.sql(
        """SELECT CASE WHEN pid IS NOT NULL AND count(*) OVER (PARTITION BY pid) = 1 THEN pid
                       ELSE 'p-' || sha1(coalesce(title, '') || chr(10) || context)[1:12] END AS doc_id,
                  title, context AS text
           FROM passages ORDER BY first_rn"""
    ).to_arrow_table()
    per_row = con.sql(
        """WITH numbered AS (SELECT context, row_number() OVER (ORDER BY first_rn) - 1 AS passage FROM passages),
           texts AS (
               SELECT rn, is_impossible,
                      list_filter(
                          [a.text FOR a IN coalesce(answers, [])],
                          lambda x, i: x IS NOT NULL AND trim(x) <> ''
                              AND list_position([a.text FOR a IN coalesce(answers, [])], x) = i
                      ) AS answer_texts
               FROM mrc_rows
           )
           SELECT r.rn, n.passage,
                  CASE WHEN coalesce(t.is_impossible, false) THEN []::VARCHAR[] ELSE t.answer_texts END AS answers
           FROM mrc_rows r JOIN numbered n ON n.context IS NOT DISTINCT FROM r.context JOIN texts t ON t.rn = r.rn
           ORDER BY r.rn"""
    ).to_arrow_table()
    answers = per_row.column("answers").cast(pa.list_(pa.string()))
    answerable = np.asarray(pc.fill_null(pc.greater(pc.list_value_length(answers), 0), False), bool)
    return MrcPassages(
        corpus=corpus.cast(CORPUS_SCHEMA),
        passage=np.asarray(per_row.column("passage"), np.int64),
        answers=answers,
        answerable=answerable,
    )


def mrc_to_retrieval(mrc: pa.Table, *, split: str = "train") -> dict[str, pa.Table]:
    """A retrieval set from MRC rows: ``corpus`` (``doc_id, title, text``: one passage per distinct
    context), ``queries`` (``query_id, text, answers``: one per question, ``query_id`` = the MRC
    ``id``, ``answers`` the distinct non-blank answer texts) and ``qrels`` (``query_id, doc_id,
    score=1, split``: one per answerable question, pointing to its own context).

    A question is unanswerable when ``is_impossible`` is true or it has no non-blank answer; it
    stays a query, with no qrel and no answers (plausible answers are never answers). Passage ids
    are stable, see :func:`mrc_passages`.
    """
    found = mrc_passages(mrc)
    ids = mrc.column("id") if "id" in mrc.column_names else generated_ids(mrc.num_rows, None)
    queries = pa.table(
        {"query_id": pc.cast(ids, pa.string()), "text": mrc.column("question"), "answers": found.answers},
        schema=QUERIES_SCHEMA,
    )
    rows = np.nonzero(found.answerable)[0]
    doc_ids = found.corpus.column("doc_id").take(pa.array(found.passage[rows]))
    qrels = pa.table(
        {
            "query_id": queries.column("query_id").take(pa.array(rows)),
            "doc_id": doc_ids,
            "score": pa.array(np.ones(len(rows), np.int32)),
            "split": pa.array([split] * len(rows), pa.string()),
        },
        schema=QRELS_SCHEMA,
    )
    return {"corpus": found.corpus, "queries": queries, "qrels": qrels}


# --------------------------------------------------------------------------- triplets


def triplet_rows(
    corpus: pa.Table,
    mined: Mined,
    *,
    queries: Sequence[str],
    query_ids: Sequence[str | None],
    answers: Sequence[Sequence[str]],
    positive_rows: Sequence[int],
    mined_index: Sequence[int],
) -> pa.Table:
    """Triplet rows (:data:`TRIPLET_SCHEMA`): row ``i`` pairs query ``queries[i]`` with the corpus
    passage ``positive_rows[i]`` and the negatives mined for query ``mined_index[i]`` of ``mined``."""
    texts = corpus.column("text").to_pylist()
    titles = corpus.column("title").to_pylist() if "title" in corpus.column_names else [None] * corpus.num_rows
    doc_ids = [None if v is None else str(v) for v in corpus.column("doc_id").to_pylist()]
    negative_rows = [mined.rows[m] for m in mined_index]
    return pa.table(
        {
            "query": pa.array(list(queries), pa.string()),
            "positive": pa.array([texts[p] for p in positive_rows], pa.string()),
            "negatives": pa.array([[texts[r] for r in rows] for rows in negative_rows], pa.list_(pa.string())),
            "query_id": pa.array(list(query_ids), pa.string()),
            "answers": pa.array([list(a) for a in answers], pa.list_(pa.string())),
            "positive_id": pa.array([doc_ids[p] for p in positive_rows], pa.string()),
            "positive_title": pa.array([titles[p] for p in positive_rows], pa.string()),
            "negative_ids": pa.array([[doc_ids[r] for r in rows] for rows in negative_rows], pa.list_(pa.string())),
            "negative_titles": pa.array([[titles[r] for r in rows] for rows in negative_rows], pa.list_(pa.string())),
            "negative_scores": pa.array([mined.scores[m] for m in mined_index], pa.list_(pa.float64())),
            "positive_score": pa.array([mined.positive_scores[m] for m in mined_index], pa.float64()),
        },
        schema=TRIPLET_SCHEMA,
    )


def mining_summary(mined: Mined, settings: MiningSettings, corpus_rows: int) -> pa.Table:
    """One row of :data:`SUMMARY_SCHEMA` for a mining run."""
    counts = [len(rows) for rows in mined.rows]
    row: dict[str, Any] = {
        "mode": mined.mode,
        "tokenizer": settings.tokenizer if mined.mode == "bm25" else None,
        "corpus": corpus_rows,
        "queries": len(counts),
        "negatives": sum(counts),
        "candidates": mined.candidates,
        **{f"dropped_{guard}": mined.guards[guard] for guard in GUARDS},
        "short_queries": mined.short,
        "no_negatives": sum(1 for c, p in zip(counts, mined.positive_counts, strict=True) if c == 0 and p),
        "seconds": round(mined.seconds, 3),
        "queries_per_second": round(mined.queries_per_second, 1),
    }
    return pa.Table.from_pylist([row], schema=SUMMARY_SCHEMA)


@dataclass(frozen=True)
class RetrievalMining:
    """Result of :func:`mine_retrieval`: the ``triplets`` (one row per query and positive passage
    that got at least one negative), the engine's ``mined`` output (one entry per query of the
    queries table) and the one-row ``summary``."""

    triplets: pa.Table
    mined: Mined
    summary: pa.Table


def _arrow(part: Any) -> pa.Table:
    return part if isinstance(part, pa.Table) else part.to_arrow()


def mine_retrieval(
    bundle: Mapping[str, Any],
    settings: MiningSettings = MiningSettings(),
    *,
    split: str | None = None,
    answers_column: str | None = "answers",
    embeddings: tuple[np.ndarray, np.ndarray] | None = None,
    executor: Executor | None = None,
) -> RetrievalMining:
    """Mine hard negatives for a retrieval set (``corpus``, ``queries``, ``qrels``: pyarrow Tables or
    Datasets, e.g. from :func:`curate.io.read_bundle`).

    Positives are the qrels with ``score > 0`` (of ``split`` only, when given) whose passage is in
    the corpus (a query id used again is mined for its first query only); a query's answers come
    from the queries' ``answers_column`` when it has one. Each
    (query, positive) pair becomes one triplet row with the query's negatives, which are guarded
    against all of its positives; queries without positives or without any surviving negative give
    no rows. ``embeddings`` = (corpus rows x dim, query rows x dim) switches to dense mode;
    ``executor``: where the queries are searched (:func:`~curate.retrieval.negatives.mine_negatives`).
    """
    for part in ("corpus", "queries", "qrels"):
        if part not in bundle:
            raise ConfigError(f"the retrieval set has no {part}", hint="give corpus, queries and qrels")
    corpus, queries, qrels = (_arrow(bundle[p]) for p in ("corpus", "queries", "qrels"))
    if split is not None:
        if "split" not in qrels.column_names:
            raise ConfigError("the qrels have no split column", where=Where(field="split"), value=split)
        qrels = qrels.filter(pc.equal(qrels.column("split"), split))
    qrels = qrels.filter(pc.greater(pc.cast(qrels.column("score"), pa.float64()), 0))
    doc_ids = [str(v) for v in corpus.column("doc_id").to_pylist()]
    first_row: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        first_row.setdefault(doc_id, row)
    query_ids = [str(v) for v in queries.column("query_id").to_pylist()]
    positives: dict[str, list[str]] = {}
    for query_id, doc_id in zip(
        pc.cast(qrels.column("query_id"), pa.string()).to_pylist(),
        pc.cast(qrels.column("doc_id"), pa.string()).to_pylist(),
        strict=True,
    ):
        if doc_id in first_row:
            docs = positives.setdefault(query_id, [])
            if doc_id not in docs:
                docs.append(doc_id)
    answers: list[list[str]] = [[] for _ in query_ids]
    if answers_column and answers_column in queries.column_names:
        values = queries.column(answers_column)
        if not (pa.types.is_list(values.type) and pa.types.is_string(values.type.value_type)):
            raise ConfigError(
                "answers column must be list<string>", where=Where(field=answers_column), value=str(values.type)
            )
        answers = [[a for a in (v or []) if a] for v in values.to_pylist()]
    seen: set[str] = set()
    query_positives: list[list[str]] = []
    for query_id in query_ids:  # a repeated query id: only its first query is mined
        query_positives.append(positives.get(query_id, []) if query_id not in seen else [])
        seen.add(query_id)
    texts = queries.column("text").to_pylist()
    mined = mine_negatives(corpus, texts, query_positives, answers, settings, embeddings=embeddings, executor=executor)
    pairs = [(i, doc) for i, docs in enumerate(query_positives) if mined.rows[i] for doc in docs]
    triplets = triplet_rows(
        corpus,
        mined,
        queries=[texts[i] for i, _ in pairs],
        query_ids=[query_ids[i] for i, _ in pairs],
        answers=[answers[i] for i, _ in pairs],
        positive_rows=[first_row[doc] for _, doc in pairs],
        mined_index=[i for i, _ in pairs],
    )
    return RetrievalMining(triplets, mined, mining_summary(mined, settings, corpus.num_rows))


def mine_retrieval_folder(
    bundle: Mapping[str, Any],
    settings: MiningSettings = MiningSettings(),
    *,
    split: str | None = None,
    answers_column: str | None = "answers",
    embeddings: tuple[np.ndarray, np.ndarray] | None = None,
) -> pa.Table:
    """The triplets of :func:`mine_retrieval` (kind ``triplets``, :data:`TRIPLET_SCHEMA`) for a
    BEIR-style folder read with :func:`curate.io.read_bundle`."""
    return mine_retrieval(bundle, settings, split=split, answers_column=answers_column, embeddings=embeddings).triplets
