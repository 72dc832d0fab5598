"""Bias diagnosis of a retrieval set: are its positives found by word matching alone?

When most queries share their words with their positive passage, a retriever learns lexical
matching, and the set says little about meaning (the BEIR authors' lexical-overlap bias, Thakur et
al. 2021). Every query with a positive (qrels score > 0) is ranked with BM25 over the whole corpus
(``title + text``; bm25s with the tokenizers of :mod:`curate.retrieval.negatives`). A query's rank
is 1 + the number of passages that are not its positives and score at least as high as its best
positive (a tie is not a win); a positive sharing no token with the query (score 0) is ``none``.

- metrics ``dataset``: ``queries`` (with a positive found in the corpus), ``corpus`` passages,
  ``qrels`` rows, ``positives`` (distinct positive passages);
- metrics ``bm25``: ``first_share`` (queries whose positive ranks first: too easy for a
  lexical retriever), ``top5_share``, ``top20_share``, ``beyond100_share`` and ``none_share``;
  distribution ``positive_rank`` (``1``, ``2-5``, ``6-20``, ``21-100``, ``101+``, ``none``);
- metrics ``passage_length``: ``positive_mean_chars``, ``corpus_mean_chars`` and their medians,
  and distribution ``passage_chars`` (groups ``positive`` and ``corpus``; buckets 0-49, 50-99,
  100-199, ... 3200+): a set whose positives are longer than the rest favours long passages.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from curate.bias.result import (
    TOKEN_SCHEMA,
    Diagnostics,
    MetricRows,
    bucket_names,
    bucket_of,
    distribution_table,
    share_rows,
)
from curate.retrieval.negatives import Tokenizer, _Bm25, tokenize

RANK_BUCKETS = ("1", "2-5", "6-20", "21-100", "101+", "none")
PASSAGE_CHAR_EDGES = (0, 50, 100, 200, 400, 800, 1600, 3200)
DEPTH = 100
"""Ranks are exact up to this depth; deeper ones are ``101+``."""
_BATCH = 1024


def _strings(table: pa.Table, name: str) -> list[str]:
    return ["" if v is None else str(v) for v in table.column(name).to_pylist()]


def rank_bucket(rank: int | None) -> str:
    """The :data:`RANK_BUCKETS` name of a rank (None: no shared token)."""
    if rank is None:
        return "none"
    for name, top in (("1", 1), ("2-5", 5), ("6-20", 20), ("21-100", DEPTH)):
        if rank <= top:
            return name
    return "101+"


def positive_ranks(
    passages: Sequence[str],
    queries: Sequence[str],
    positives: Sequence[Sequence[int]],
    *,
    tokenizer: Tokenizer = "bigram",
) -> list[int | None]:
    """BM25 rank of each query's best positive among the other passages (see the module notes):
    an int up to :data:`DEPTH`, ``DEPTH + 1`` for anything deeper, None for score 0.

    Args:
        passages: the corpus texts (title and text joined).
        queries: one text per query.
        positives: for each query, the corpus rows of its positives (at least one).
    """
    ranker = _Bm25(tokenize(passages, tokenizer), tokenize(queries, tokenizer))
    depth = min(len(passages), DEPTH + max((len(p) for p in positives), default=0))
    ranks: list[int | None] = []
    for start in range(0, len(queries), _BATCH):
        batch = np.arange(start, min(start + _BATCH, len(queries)))
        docs, scores = (
            ranker.top(batch, depth) if depth else (np.zeros((len(batch), 0), np.int64), np.zeros((len(batch), 0)))
        )
        for row, q in enumerate(batch.tolist()):
            own = np.asarray(sorted(set(positives[q])), np.int64)
            best = float(ranker.score(q, own).max()) if len(own) else 0.0
            if best <= 0:
                ranks.append(None)
                continue
            others = ~np.isin(docs[row], own)
            beaten = int(np.sum(scores[row][others] >= best))
            ranks.append(beaten + 1 if beaten < DEPTH else DEPTH + 1)
    return ranks


def retrieval_bias(
    corpus: pa.Table, queries: pa.Table, qrels: pa.Table, *, tokenizer: Tokenizer = "bigram"
) -> Diagnostics:
    """Diagnose lexical-overlap and length biases of a retrieval set (see the module notes).

    Args:
        corpus: ``doc_id``, ``text`` and optionally ``title``.
        queries: ``query_id`` and ``text``.
        qrels: ``query_id``, ``doc_id`` and ``score`` (> 0 marks a positive). Judgments naming a
            query or passage that does not exist are left out (``retrieval_checks`` reports them).
    """
    doc_ids, texts = _strings(corpus, "doc_id"), _strings(corpus, "text")
    titles = _strings(corpus, "title") if "title" in corpus.column_names else [""] * len(doc_ids)
    query_ids, query_texts = _strings(queries, "query_id"), _strings(queries, "text")
    row_of_doc: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        row_of_doc.setdefault(doc_id, row)
    row_of_query: dict[str, int] = {}
    for row, query_id in enumerate(query_ids):
        row_of_query.setdefault(query_id, row)
    positives: dict[int, list[int]] = {}
    for query_id, doc_id, score in zip(
        _strings(qrels, "query_id"), _strings(qrels, "doc_id"), qrels.column("score").to_pylist(), strict=True
    ):
        q, d = row_of_query.get(query_id), row_of_doc.get(doc_id)
        if q is not None and d is not None and score is not None and score > 0:
            positives.setdefault(q, []).append(d)
    asked = sorted(positives)
    passages = [f"{title} {text}" if title else text for title, text in zip(titles, texts, strict=True)]
    ranks = positive_ranks(
        passages, [query_texts[q] for q in asked], [positives[q] for q in asked], tokenizer=tokenizer
    )

    metrics = MetricRows("retrieval")
    metrics.add("dataset", "queries", len(asked), "queries with a positive in the corpus")
    metrics.add("dataset", "corpus", len(doc_ids))
    metrics.add("dataset", "qrels", qrels.num_rows)
    positive_rows = sorted({d for rows in positives.values() for d in rows})
    metrics.add("dataset", "positives", len(positive_rows), "distinct positive passages")
    buckets = Counter(rank_bucket(r) for r in ranks)

    def share(*names: str) -> float | None:
        return sum(buckets[n] for n in names) / len(ranks) if ranks else None

    metrics.add("bm25", "first_share", share("1"), f"tokenizer {tokenizer}; ties count against the positive")
    metrics.add("bm25", "top5_share", share("1", "2-5"))
    metrics.add("bm25", "top20_share", share("1", "2-5", "6-20"))
    metrics.add("bm25", "beyond100_share", share("101+"))
    metrics.add("bm25", "none_share", share("none"), "positive shares no token with the query")

    lengths = [len(t) for t in texts]
    positive_lengths = [lengths[d] for d in positive_rows]
    for group, values in (("positive", positive_lengths), ("corpus", lengths)):
        metrics.add("passage_length", f"{group}_mean_chars", sum(values) / len(values) if values else None)
        metrics.add("passage_length", f"{group}_median_chars", statistics.median(values) if values else None)
    names = bucket_names(PASSAGE_CHAR_EDGES)
    shares = share_rows("positive_rank", "all", buckets, RANK_BUCKETS)
    for group, values in (("positive", positive_lengths), ("corpus", lengths)):
        shares += share_rows(
            "passage_chars", group, Counter(names[bucket_of(n, PASSAGE_CHAR_EDGES)] for n in values), names
        )
    return Diagnostics("retrieval", metrics.table(), distribution_table(shares), TOKEN_SCHEMA.empty_table())
