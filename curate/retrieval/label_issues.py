"""Likely wrong or missing relevance labels of a retrieval set (a pure function over Arrow tables).

Every query with a judged passage or a known answer is ranked by BM25 over the whole corpus
(``title + text``, the tokenizer and ranker of :mod:`curate.retrieval.negatives`). Ranks count
unlabelled passages only: a passage's rank is 1 + the number of passages the query has no
judgment for that score higher (ties broken by corpus order); blank passages and passages
sharing no token with the query (score 0) are never counted.

``buried_positive``
    a labelled positive (qrels score > 0) ranked below ``rank_threshold`` unlabelled passages
    (rank > ``rank_threshold``): the label may point to the wrong passage. Reported with its rank,
    its score and the best-ranked unlabelled passage.
``missing_positive``
    an unlabelled passage among the query's ``top_k`` that contains one of the query's answers
    (the passage text, NFC, whitespace and case folded): probably a positive nobody labelled.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa

from curate import progress
from curate.errors import ConfigError, Where
from curate.retrieval.negatives import Tokenizer, _Bm25, fold, tokenize

IssueKind = Literal["buried_positive", "missing_positive"]

ISSUE_SCHEMA = pa.schema(
    [
        pa.field("issue", pa.string()),
        pa.field("query_id", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("qrels_row", pa.int64()),
        pa.field("rank", pa.int64()),
        pa.field("score", pa.float64()),
        pa.field("best_doc_id", pa.string()),
        pa.field("best_score", pa.float64()),
        pa.field("answer", pa.string()),
        pa.field("detail", pa.string()),
    ]
)
"""One row per issue: its kind, the query and passage, the qrels row (``buried_positive`` only),
the passage's rank among unlabelled passages and its BM25 score, the best-ranked unlabelled passage
(``buried_positive``), the answer found in the passage (``missing_positive``) and a detail."""


def _strings(table: pa.Table, name: str, what: str) -> list[str | None]:
    if name not in table.column_names:
        raise ConfigError(f"the {what} have no column '{name}'", where=Where(field=name))
    return [None if v is None else str(v) for v in table.column(name).to_pylist()]


def find_retrieval_label_issues(
    corpus: pa.Table,
    queries: pa.Table,
    qrels: pa.Table,
    *,
    answers_column: str | None = "answers",
    tokenizer: Tokenizer = "bigram",
    rank_threshold: int = 100,
    top_k: int = 20,
) -> pa.Table:
    """Buried and missing positives of a retrieval set (:data:`ISSUE_SCHEMA`), buried positives first
    (qrels order), then missing positives (query order, best-ranked first).

    Args:
        corpus: ``doc_id``, ``text`` and optionally ``title``.
        queries: ``query_id``, ``text`` and optionally the answers column.
        qrels: ``query_id``, ``doc_id``, ``score`` (> 0 is a positive; 0 an explicit negative,
            which is judged, so never a missing positive).
        answers_column: ``list<string>`` column of the queries with each query's answers; None or
            absent: no ``missing_positive`` check.
        rank_threshold: a positive ranked below this many unlabelled passages is buried.
        top_k: unlabelled passages examined per query for missing positives.
    """
    if rank_threshold < 0 or top_k < 0:
        raise ConfigError("rank_threshold and top_k must not be negative", value=f"{rank_threshold}, {top_k}")
    doc_ids = _strings(corpus, "doc_id", "corpus")
    texts = [t or "" for t in corpus.column("text").to_pylist()] if "text" in corpus.column_names else None
    if texts is None:
        raise ConfigError("the corpus has no column 'text'", where=Where(field="text"))
    titles = corpus.column("title").to_pylist() if "title" in corpus.column_names else [None] * corpus.num_rows
    query_ids = _strings(queries, "query_id", "queries")
    query_texts = _strings(queries, "text", "queries")
    answers: list[list[str]] = [[] for _ in query_ids]
    if answers_column is not None and answers_column in queries.column_names:
        answers = [
            [a for a in dict.fromkeys(fold(x) for x in v or [] if x) if a]
            for v in queries.column(answers_column).to_pylist()
        ]
    qrel_queries = _strings(qrels, "query_id", "qrels")
    qrel_docs = _strings(qrels, "doc_id", "qrels")
    qrel_scores = qrels.column("score").to_pylist() if "score" in qrels.column_names else [1] * qrels.num_rows

    row_of_doc: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        if doc_id is not None:
            row_of_doc.setdefault(doc_id, row)
    row_of_query: dict[str, int] = {}
    for row, query_id in enumerate(query_ids):
        if query_id is not None:
            row_of_query.setdefault(query_id, row)
    judged: dict[int, set[int]] = {}
    positives: dict[int, list[tuple[int, int]]] = {}  # query row -> (qrels row, corpus row)
    for i, (query_id, doc_id, score) in enumerate(zip(qrel_queries, qrel_docs, qrel_scores, strict=True)):
        q, d = row_of_query.get(query_id or ""), row_of_doc.get(doc_id or "")
        if q is None or d is None:
            continue  # broken judgments are retrieval_checks' business
        judged.setdefault(q, set()).add(d)
        if score is not None and score > 0:
            positives.setdefault(q, []).append((i, d))

    searched = [q for q in range(len(query_ids)) if q in positives or answers[q]]
    rows: list[dict[str, Any]] = []
    if not searched or not doc_ids:
        return pa.Table.from_pylist(rows, schema=ISSUE_SCHEMA)
    passages = [f"{title} {text}" if title else text for title, text in zip(titles, texts, strict=True)]
    progress.step("BM25 index", 0, len(passages), "passages")
    ranker = _Bm25(tokenize(passages, tokenizer), tokenize(query_texts, tokenizer))
    progress.step("BM25 index", len(passages), len(passages), "passages")
    folded = [fold(t) for t in texts]
    blank = np.array([not t for t in folded], bool)
    order_index = np.arange(len(doc_ids))
    missing: list[dict[str, Any]] = []
    progress.step("queries", 0, len(searched), "queries")
    for done, q in enumerate(searched, start=1):
        if progress.every(done, len(searched), 100):
            progress.step("queries", done, len(searched), "queries")
        scores = ranker.full(q)
        unlabelled = ~blank & (scores > 0)
        own = judged.get(q, set())
        if own:
            unlabelled[list(own)] = False
        ranked = np.lexsort((order_index, -scores))
        ranked = ranked[unlabelled[ranked]]
        best = int(ranked[0]) if len(ranked) else None
        for qrels_row, d in positives.get(q, []):
            score = float(scores[d])
            above = scores[ranked]
            rank = int(np.sum(above > score) + np.sum((above == score) & (ranked < d))) + 1
            if rank > rank_threshold:
                rows.append(
                    {
                        "issue": "buried_positive",
                        "query_id": query_ids[q],
                        "doc_id": doc_ids[d],
                        "qrels_row": qrels_row,
                        "rank": rank,
                        "score": score,
                        "best_doc_id": None if best is None else doc_ids[best],
                        "best_score": None if best is None else float(scores[best]),
                        "answer": None,
                        "detail": f"rank {rank} > {rank_threshold} (score {score:.3f}); best unlabelled "
                        f"{doc_ids[best] if best is not None else None} scores "
                        f"{float(scores[best]) if best is not None else 0.0:.3f}",
                    }
                )
        if not answers[q]:
            continue
        for rank, d in enumerate(ranked[:top_k].tolist(), start=1):
            found = next((a for a in answers[q] if a in folded[d]), None)
            if found is not None:
                missing.append(
                    {
                        "issue": "missing_positive",
                        "query_id": query_ids[q],
                        "doc_id": doc_ids[d],
                        "qrels_row": None,
                        "rank": rank,
                        "score": float(scores[d]),
                        "best_doc_id": None,
                        "best_score": None,
                        "answer": found,
                        "detail": f"unlabelled passage ranked {rank} holds the answer {found!r}",
                    }
                )
    rows.sort(key=lambda r: r["qrels_row"])
    return pa.Table.from_pylist(rows + missing, schema=ISSUE_SCHEMA)
