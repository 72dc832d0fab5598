"""Hard-negative mining with false-negative guards (a pure engine over an Arrow corpus).

For every query the corpus is ranked, by BM25 (``bm25s``, over ``title + text``, with our own
tokenizer) or, given embeddings, by inner product (``faiss`` ``IndexFlatIP``, the ``dense`` mode).
The query's positives are taken out of the ranking first, together with every passage whose
normalized text (NFC, whitespace folded, case folded) equals a positive's: counted as the
``positive`` guard. The remaining candidates are numbered 1, 2, ... and those ranked
``rank_from..rank_to`` are examined in order; the first ``count`` that pass every guard are the
negatives. A candidate is dropped by the first guard it fails:

``near_duplicate``
    it is in the same near-duplicate cluster as a positive (MinHash over character 5-grams of the
    text, :mod:`curate.dedup`, Jaccard ``>= near_duplicate_threshold``);
``answer``
    it contains one of the query's answers as written (title and text, both NFC, whitespace folded
    and case folded);
``answer_variant``
    it contains another form of one of them (:func:`curate.text.answers.answer_variants`: NFKC,
    punctuation and spaces folded, the answer without its parentheticals and the parenthetical it
    ends with, so ``아미(ARMY)`` also guards ``아미`` and ``ARMY``; a variant has at least 2
    Hangul/Han/kana or 3 other characters, and matches whole words in space-separated scripts);
``same_question``
    it contains an answer, or a variant of one, of another query with the same text (NFC,
    whitespace and case folded): a question asked twice with two answers is guarded by both;
``margin``
    its score is ``>= margin x`` the query's best positive score (when that score is positive;
    otherwise it scores at least as high as the positive).

The guard counts cover the walk only: it stops once ``count`` negatives are found, so a rate
such as ``guards["answer"] / candidates`` is the share of examined candidates a guard removed.

In BM25 mode a passage sharing no token with the query (score 0) is never a candidate, as with
any inverted index; blank passages are never candidates. Ties are broken by corpus order (also at
the cut of the retrieved list: when the walk reaches the lowest retrieved score, the query is
ranked again over the whole corpus), so the output depends only on the input. Queries without
positives get no negatives (nothing to guard against); ``short`` counts the queries with
positives that got fewer than ``count``.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, get_args

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate import progress
from curate.config import Strict
from curate.errors import ConfigError, Where
from curate.text.answers import KeyedText, answer_variants
from curate.text.shingles import korean_analyzer

if TYPE_CHECKING:
    from curate.executors import Executor, Span

Tokenizer = Literal["bigram", "morph", "word"]
TOKENIZERS: tuple[Tokenizer, ...] = get_args(Tokenizer)
Guard = Literal["positive", "near_duplicate", "answer", "answer_variant", "same_question", "margin"]
GUARDS: tuple[Guard, ...] = get_args(Guard)
_POSITIVE, _NEAR_DUPLICATE, _ANSWER, _VARIANT, _SAME_QUESTION, _MARGIN = range(len(GUARDS))

_BATCH = 1024  # queries retrieved per call
_WORD = re.compile(r"\w+")
# kiwipiepy tags of punctuation and symbols, left out of morpheme tokens (SL/SH/SN are kept)
_PUNCT_TAGS = frozenset({"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "SB"})


class MiningSettings(Strict):
    """How negatives are mined; see the module docstring for the guards."""

    count: int = Field(default=5, ge=1)
    """Negatives per query."""
    rank_from: int = Field(default=1, ge=1)
    """First rank examined (1-based, in retrieval order, after the positives are taken out of the ranking)."""
    rank_to: int = 100
    """Last rank examined."""
    tokenizer: Tokenizer = "bigram"
    """BM25 tokens: ``bigram`` (character bigrams of each word, fine for Korean and other CJK text),
    ``morph`` (kiwipiepy morphemes, punctuation left out) or ``word`` (words); every text is NFC
    normalized and lower-cased, and words are runs of letters and digits (punctuation dropped)."""
    margin: float | None = Field(default=None, gt=0)
    """Drop a candidate whose score is ``>= margin x`` the query's best positive score (e.g. 0.95);
    null: no margin."""
    near_duplicates: bool = True
    """Drop passages in the same near-duplicate cluster as a positive (MinHash, character 5-grams)."""
    near_duplicate_threshold: float = Field(default=0.8, gt=0, lt=1)
    """Jaccard similarity (character 5-grams) from which two passages are near-duplicates."""
    answers: bool = True
    """Drop passages that contain one of the query's answers (NFC, whitespace and case folded),
    another form of one (NFKC, punctuation and spacing folded, ``아미(ARMY)`` -> ``아미``, ``ARMY``)
    or an answer of another query with the same text (the ``answer``, ``answer_variant`` and
    ``same_question`` guards)."""

    @model_validator(mode="after")
    def _ranks(self) -> Self:
        if self.rank_from > self.rank_to:
            raise ValueError(f"rank_from ({self.rank_from}) is after rank_to ({self.rank_to})")
        return self


@dataclass
class Mined:
    """Negatives of every query, in query order.

    ``negatives`` (doc ids) and ``rows`` (corpus row numbers) are best-ranked first with their
    ``scores``; ``positive_scores`` is each query's best positive score (None without positives);
    ``guards`` counts the candidates each guard dropped, ``dropped`` the same per query (columns in
    :data:`GUARDS` order); ``candidates`` counts the candidates examined in the rank window;
    ``short`` the queries with positives that got fewer than ``count`` negatives.
    """

    negatives: list[list[str]]
    scores: list[list[float]]
    positive_scores: list[float | None]
    guards: dict[str, int]
    short: int
    rows: list[list[int]] = field(default_factory=list)
    dropped: np.ndarray = field(default_factory=lambda: np.zeros((0, len(GUARDS)), np.int64))
    positive_counts: list[int] = field(default_factory=list)
    candidates: int = 0
    mode: Literal["bm25", "dense"] = "bm25"
    seconds: float = 0.0
    """Wall time of the whole run (tokenizing, indexing, clustering, search)."""
    search_seconds: float = 0.0
    """Wall time of ranking the queries and applying the guards."""

    @property
    def queries_per_second(self) -> float:
        """Search throughput: queries ranked and guarded per second."""
        searched = sum(1 for p in self.positive_counts if p)
        return searched / self.search_seconds if self.search_seconds > 0 else 0.0


# --------------------------------------------------------------------------- text


def fold(text: str | None) -> str:
    """NFC, case folded, whitespace runs to one space, trimmed (answers and passages compared so)."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _bigrams(text: str) -> list[str]:
    tokens: list[str] = []
    for word in _WORD.findall(text):
        if len(word) == 1:
            tokens.append(word)
        else:
            tokens.extend(word[i : i + 2] for i in range(len(word) - 1))
    return tokens


def tokenize(texts: Sequence[str | None], tokenizer: Tokenizer = "bigram") -> list[list[str]]:
    """BM25 tokens of each text (NFC, lower-cased): see :attr:`MiningSettings.tokenizer`."""
    prepared = [unicodedata.normalize("NFC", t).lower() if t else "" for t in texts]
    if tokenizer == "bigram":
        return [_bigrams(t) for t in prepared]
    if tokenizer == "word":
        return [_WORD.findall(t) for t in prepared]
    if tokenizer == "morph":
        analyzer = korean_analyzer(need="morpheme tokens", instead="tokenizer: bigram")
        out: list[list[str]] = []
        for tokens in analyzer.tokenize(prepared):
            out.append([t.form.lower() for t in tokens if t.tag not in _PUNCT_TAGS and t.form.strip()])
        return out
    raise ValueError(f"unknown tokenizer {tokenizer!r}: use one of {', '.join(TOKENIZERS)}")


# --------------------------------------------------------------------------- rankers


class _Ranker(Protocol):
    lexical: bool  # True: a score of 0 means no shared token (never a candidate)

    def top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def full(self, query: int) -> np.ndarray: ...

    def score(self, query: int, rows: np.ndarray) -> np.ndarray: ...


class _Bm25:
    """bm25s over pre-tokenized passages; queries retrieved in batches."""

    lexical = True

    def __init__(self, doc_tokens: list[list[str]], query_tokens: list[list[str]]):
        import bm25s

        self.docs = len(doc_tokens)
        self.query_tokens = query_tokens
        self.model: Any = None
        if any(doc_tokens):
            self.model = bm25s.BM25(backend=_bm25_backend(len(doc_tokens), len(query_tokens)))
            self.model.index(doc_tokens, show_progress=False)
            matrix = self.model.scores
            self.data, self.indices, self.indptr = matrix["data"], matrix["indices"], matrix["indptr"]

    def top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.model is None:
            return np.zeros((len(queries), k), np.int64), np.zeros((len(queries), k))
        tokens = [self.query_tokens[q] for q in queries.tolist()]
        docs, scores = self.model.retrieve(tokens, k=k, show_progress=False, return_as="tuple")
        return np.asarray(docs, np.int64), np.asarray(scores, np.float64)

    def full(self, query: int) -> np.ndarray:
        tokens = self.query_tokens[query]
        if self.model is None or not tokens:
            return np.zeros(self.docs)
        return np.asarray(self.model.get_scores(tokens), np.float64)

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        """BM25 scores of ``rows`` only, read from the index (a token repeated in the query counts
        again, as in bm25s)."""
        out = np.zeros(len(rows))
        if self.model is None:
            return out
        for token in self.model.get_tokens_ids(self.query_tokens[query]):
            start, end = int(self.indptr[token]), int(self.indptr[token + 1])
            postings = self.indices[start:end]  # sorted doc rows of the token
            at = np.searchsorted(postings, rows)
            inside = at < len(postings)
            hit = np.zeros(len(rows), bool)
            hit[inside] = postings[at[inside]] == rows[inside]
            out[hit] += self.data[start + at[hit]]
        return out


class _Dense:
    """Exact inner-product search with faiss."""

    lexical = False

    def __init__(self, corpus: np.ndarray, queries: np.ndarray):
        try:
            import faiss
        except ImportError:
            raise ConfigError(
                "dense mining needs faiss", hint="pip install 'curate[dense]', or mine with BM25 (no embeddings)"
            ) from None
        self.corpus, self.queries = corpus, queries
        self.index = faiss.IndexFlatIP(corpus.shape[1])
        if len(corpus):
            self.index.add(corpus)

    def __getstate__(self) -> dict[str, Any]:
        """Sent to a worker without the faiss index (it does not pickle): made again there from the vectors."""
        return {"corpus": self.corpus, "queries": self.queries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["corpus"], state["queries"])  # type: ignore[misc]

    def top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, docs = self.index.search(self.queries[queries], k)
        return np.asarray(docs, np.int64), np.asarray(scores, np.float64)

    def full(self, query: int) -> np.ndarray:
        return np.asarray(self.corpus @ self.queries[query], np.float64)

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.corpus[rows] @ self.queries[query], np.float64)


def _matrix(values: Any, rows: int, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
    if array.ndim != 2 or array.shape[0] != rows:
        raise ConfigError(
            f"{name} embeddings must be a 2-D array with one row per {'query' if name == 'queries' else 'passage'}",
            value=f"shape {array.shape}",
            hint=f"expected {rows} rows",
        )
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} embeddings hold NaN or infinite values")
    return array


# --------------------------------------------------------------------------- the engine


@dataclass
class _Context:
    settings: MiningSettings
    ranker: _Ranker
    label: np.ndarray | None  # near-duplicate cluster label per passage
    passages: list[str]  # folded title + text, for the answer guard
    blank: np.ndarray  # bool per passage
    docs: int
    raw: list[str] = field(default_factory=list)  # title + text, for the variant guards
    keyed: dict[int, KeyedText] = field(default_factory=dict)  # built when first examined

    def keyed_passage(self, doc: int) -> KeyedText:
        found = self.keyed.get(doc)
        if found is None:
            found = self.keyed[doc] = KeyedText.of(self.raw[doc])
        return found


@dataclass(frozen=True)
class _Answers:
    """What the answer guards of one query look for: its own answers (folded) and their variant
    keys, and those of the other queries with the same text."""

    own: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    same_question: tuple[str, ...] = ()
    same_question_variants: tuple[str, ...] = ()


def _answer_guards(queries: Sequence[str | None], answers: Sequence[Sequence[str]]) -> list[_Answers]:
    """Per query, the answers and variant keys the ``answer``, ``answer_variant`` and
    ``same_question`` guards look for (each without what an earlier guard already checks)."""
    texts = [fold(q) for q in queries]
    pooled: dict[str, list[str]] = {}  # folded query text -> the answers of every query with it
    for text, given in zip(texts, answers, strict=True):
        if text:
            pooled.setdefault(text, []).extend(a for a in given if a)
    out = []
    for text, given in zip(texts, answers, strict=True):
        own = tuple(a for a in dict.fromkeys(fold(x) for x in given if x) if a)
        variants = tuple(dict.fromkeys(k for a in given for k in answer_variants(a)))
        others = [a for a in pooled.get(text, []) if fold(a) not in own] if text else []
        same = tuple(dict.fromkeys(fold(a) for a in others))
        same_keys = tuple(dict.fromkeys(k for a in others for k in answer_variants(a) if k not in variants))
        out.append(_Answers(own, variants, same, same_keys))
    return out


def _contains(ctx: _Context, doc: int, folded: tuple[str, ...], keys: tuple[str, ...]) -> bool:
    if folded and any(a in ctx.passages[doc] for a in folded):
        return True
    return bool(keys) and any(ctx.keyed_passage(doc).contains(k) for k in keys)


@dataclass
class _Pick:
    rows: list[int]
    scores: list[float]
    dropped: list[int]
    candidates: int


def _threshold(best: float | None, margin: float | None) -> float | None:
    if margin is None or best is None:
        return None
    return margin * best if best > 0 else best


def _pick(
    ctx: _Context,
    docs: np.ndarray,
    scores: np.ndarray,
    complete: bool,
    excluded: set[int],
    answers: _Answers,
    limit: float | None,
) -> _Pick | None:
    """Walk one query's ranking (sorted by score, then corpus order); None when the walk reached the
    lowest returned score of an incomplete ranking (other passages may tie with it)."""
    s = ctx.settings
    lowest = scores[-1] if len(scores) else 0.0
    trusted_above = -np.inf if complete else lowest
    pick = _Pick([], [], [0] * len(GUARDS), 0)
    labels = ctx.label
    positive_labels = {int(labels[r]) for r in excluded} if labels is not None else set()
    rank = 0
    for doc, score in zip(docs.tolist(), scores.tolist(), strict=True):
        if ctx.ranker.lexical and score <= 0:
            break
        if score <= trusted_above:
            return None
        if ctx.blank[doc]:
            continue
        if doc in excluded:
            pick.dropped[_POSITIVE] += 1
            continue
        rank += 1
        if rank < s.rank_from:
            continue
        if rank > s.rank_to:
            break
        pick.candidates += 1
        if labels is not None and int(labels[doc]) in positive_labels:
            pick.dropped[_NEAR_DUPLICATE] += 1
        elif _contains(ctx, doc, answers.own, ()):
            pick.dropped[_ANSWER] += 1
        elif _contains(ctx, doc, (), answers.variants):
            pick.dropped[_VARIANT] += 1
        elif _contains(ctx, doc, answers.same_question, answers.same_question_variants):
            pick.dropped[_SAME_QUESTION] += 1
        elif limit is not None and score >= limit:
            pick.dropped[_MARGIN] += 1
        else:
            pick.rows.append(doc)
            pick.scores.append(float(score))
            if len(pick.rows) == s.count:
                break
    return pick


def _sorted(docs: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = docs >= 0
    docs, scores = docs[valid], scores[valid]
    order = np.lexsort((docs, -scores))
    return docs[order], scores[order]


def _best_positive(ranker: _Ranker, query: int, own: list[int], docs: np.ndarray, scores: np.ndarray) -> float:
    """The best score of the query's positives: read from its retrieved list when they are all in
    it (the usual case), else looked up in the index."""
    rows = np.asarray(own, np.int64)
    found = np.isin(rows, docs)
    values = scores[np.isin(docs, rows)]
    if found.all():
        return float(values.max())
    looked_up = ranker.score(query, rows[~found])
    return float(max(values.max(initial=-np.inf), looked_up.max()))


def _exact(ctx: _Context, query: int, lowest: float) -> tuple[np.ndarray, np.ndarray]:
    """Every passage scoring at least ``lowest``, sorted (the ranking with its ties resolved)."""
    full = ctx.ranker.full(query)
    rows = np.nonzero(full >= lowest - 1e-6 * max(1.0, abs(lowest)))[0]  # float noise of another code path
    return _sorted(rows, full[rows])


NUMBA_WORK = 200_000_000
"""Queries x passages from which bm25s's numba backend pays for its JIT compilation (about 11 s once
a process, measured): after it, 5,000 queries over 100,000 NSMC reviews take 1.4 s, against about
45 s with the numpy backend (110 queries a second)."""


def _bm25_backend(docs: int, queries: int) -> str:
    import importlib.util

    if docs * queries >= NUMBA_WORK and importlib.util.find_spec("numba") is not None:
        return "numba"
    return "numpy"


def mine_negatives(
    corpus: pa.Table,
    queries: Sequence[str | None],
    positives: Sequence[Sequence[str]],
    answers: Sequence[Sequence[str]],
    settings: MiningSettings = MiningSettings(),
    *,
    embeddings: tuple[Any, Any] | None = None,
    executor: Executor | None = None,
) -> Mined:
    """Mine up to ``settings.count`` hard negatives for each query.

    Args:
        corpus: ``doc_id``, ``text`` and optionally ``title``; the candidates.
        queries: the query texts.
        positives: each query's positive doc ids (all rows with such an id are positives).
        answers: each query's answer strings (blank ones are ignored).
        settings: see :class:`MiningSettings`.
        embeddings: ``(corpus_vectors, query_vectors)``, 2-D float arrays with one row per corpus
            row and per query: rank by inner product (faiss) instead of BM25.

    Raises:
        ConfigError: a positive id is not in the corpus, lengths disagree, bad embeddings, or a
            missing optional package (kiwipiepy for ``morph``, faiss for embeddings).
    """
    from curate.executors import map_ranges

    started = time.perf_counter()
    n = len(queries)
    if len(positives) != n or len(answers) != n:
        raise ConfigError(
            "queries, positives and answers must have one entry per query",
            value=f"{n} queries, {len(positives)} positives, {len(answers)} answers",
        )
    for name in ("doc_id", "text"):
        if name not in corpus.column_names:
            raise ConfigError(f"the corpus has no column '{name}'", where=Where(field=name))
    docs = corpus.num_rows
    doc_ids = [str(v) for v in corpus.column("doc_id").to_pylist()]
    texts = [t or "" for t in corpus.column("text").to_pylist()]
    titles = [t or "" for t in corpus.column("title").to_pylist()] if "title" in corpus.column_names else [""] * docs
    rows_of: dict[str, list[int]] = {}
    for row, doc_id in enumerate(doc_ids):
        rows_of.setdefault(doc_id, []).append(row)

    folded_texts = [fold(t) for t in texts]
    group_of: dict[str, int] = {}
    group = np.fromiter((group_of.setdefault(t, len(group_of)) for t in folded_texts), np.int64, docs)
    sizes = np.bincount(group, minlength=len(group_of))
    members: dict[int, list[int]] = {}  # rows of each normalized text held by several passages
    for row in np.nonzero(sizes[group] > 1)[0].tolist():
        members.setdefault(int(group[row]), []).append(row)
    positive_rows: list[list[int]] = []
    excluded: list[set[int]] = []
    for q, ids in enumerate(positives):
        own: list[int] = []
        for doc_id in dict.fromkeys(str(i) for i in ids):
            if doc_id not in rows_of:
                raise ConfigError(
                    "positive passage not in the corpus", where=Where(row=q, field="positives"), value=doc_id
                )
            own += rows_of[doc_id]
        positive_rows.append(own)
        same: set[int] = set(own)
        for r in own:
            same.update(members.get(int(group[r]), ()))
        excluded.append(same)
    blank = np.array([not t for t in folded_texts], bool)
    searched = np.array([q for q in range(n) if positive_rows[q]], np.int64)

    mode: Literal["bm25", "dense"] = "bm25" if embeddings is None else "dense"
    ranker: _Ranker
    if embeddings is not None:
        corpus_vectors, query_vectors = _matrix(embeddings[0], docs, "corpus"), _matrix(embeddings[1], n, "queries")
        if corpus_vectors.shape[1] != query_vectors.shape[1]:
            raise ConfigError(
                "corpus and query embeddings differ in size",
                value=f"{corpus_vectors.shape[1]} and {query_vectors.shape[1]}",
            )
    if not len(searched):  # nothing to rank
        ranker = _Bm25([], [])
    elif embeddings is not None:
        ranker = _Dense(corpus_vectors, query_vectors)
    else:
        passages = [f"{title} {text}" if title else text for title, text in zip(titles, texts, strict=True)]
        progress.step("BM25 index", 0, docs, "passages")
        ranker = _Bm25(tokenize(passages, settings.tokenizer), tokenize(queries, settings.tokenizer))
        progress.step("BM25 index", docs, docs, "passages")

    label = None
    if settings.near_duplicates and docs > 1 and len(searched):
        from curate.dedup.plan import MinHashSettings, cluster_texts

        minhash = MinHashSettings(shingle="char", ngram=5, threshold=settings.near_duplicate_threshold)
        with progress.scoped("passage near-duplicates"):
            label = cluster_texts(texts, minhash).label
    raw_passages = [f"{title} {text}" for title, text in zip(titles, texts, strict=True)] if settings.answers else []
    ctx = _Context(settings, ranker, label, [fold(p) for p in raw_passages], blank, docs, raw=raw_passages)
    guards = _answer_guards(queries, answers) if settings.answers else [_Answers()] * n
    index = _Index(ctx, positive_rows, excluded, guards, searched, mode)

    search_started = time.perf_counter()
    out_rows: list[list[int]] = [[] for _ in range(n)]
    out_scores: list[list[float]] = [[] for _ in range(n)]
    best: list[float | None] = [None] * n
    dropped = np.zeros((n, len(GUARDS)), np.int64)
    candidates = 0
    progress.step("queries", 0, len(searched), "queries")
    found = map_ranges(executor, _search, index, len(searched), align=_BATCH, what="query range")
    for part in found:
        for q, rows, scores, positive, counts in zip(
            part.queries.tolist(), part.rows, part.scores, part.best, part.dropped, strict=True
        ):
            out_rows[q], out_scores[q], best[q], dropped[q] = rows, scores, positive, counts
        candidates += part.candidates
        progress.step("queries", part.stop, len(searched), "queries")
    finished = time.perf_counter()

    short = sum(1 for q in searched.tolist() if len(out_rows[q]) < settings.count)
    return Mined(
        negatives=[[doc_ids[r] for r in rows] for rows in out_rows],
        scores=out_scores,
        positive_scores=best,
        guards={guard: int(dropped[:, j].sum()) for j, guard in enumerate(GUARDS)},
        short=short,
        rows=out_rows,
        dropped=dropped,
        positive_counts=[len(p) for p in positive_rows],
        candidates=candidates,
        mode=mode,
        seconds=finished - started,
        search_seconds=finished - search_started,
    )


@dataclass
class _Index:
    """What every search task reads: the ranker and guards (:class:`_Context`), each query's positive
    rows, the rows taken out of its ranking and its answer guards, and the queries searched (those
    with positives), in order."""

    ctx: _Context
    positive_rows: list[list[int]]
    excluded: list[set[int]]
    guards: list[_Answers]
    searched: np.ndarray
    mode: Literal["bm25", "dense"]


@dataclass(frozen=True)
class _Found:
    """The negatives of the searched queries ``start:stop``: per query (its number in ``queries``)
    the corpus rows, scores, best positive score and guard counts; the candidates examined."""

    stop: int
    queries: np.ndarray
    rows: list[list[int]]
    scores: list[list[float]]
    best: list[float | None]
    dropped: np.ndarray
    candidates: int


def _search(span: Span[_Index]) -> _Found:
    """A search task: rank and guard the searched queries ``span.start:span.stop``, :data:`_BATCH`
    queries a call (ranges start at a multiple of it, so each call is the one a single range makes)."""
    index = span.value()
    ctx, settings, ranker, excluded = index.ctx, index.ctx.settings, index.ctx.ranker, index.excluded
    docs, total = ctx.docs, len(index.searched)
    queries = index.searched[span.start : span.stop]
    rows: list[list[int]] = []
    scores: list[list[float]] = []
    best: list[float | None] = []
    dropped = np.zeros((len(queries), len(GUARDS)), np.int64)
    candidates = 0
    for start in range(0, len(queries), _BATCH):
        batch = queries[start : start + _BATCH]
        widest = max(len(excluded[q]) for q in batch.tolist())
        extra = int(ctx.blank.sum()) if index.mode == "dense" else 0
        k = min(docs, settings.rank_to + widest + extra)
        top_docs, top_scores = ranker.top(batch, k)
        for i, q in enumerate(batch.tolist()):
            ranked_docs, ranked_scores = _sorted(top_docs[i], top_scores[i])
            positive = _best_positive(ranker, q, index.positive_rows[q], top_docs[i], top_scores[i])
            limit = _threshold(positive, settings.margin)
            complete = k >= docs or len(ranked_docs) == 0
            pick = _pick(ctx, ranked_docs, ranked_scores, complete, excluded[q], index.guards[q], limit)
            if pick is None:  # ties at the cut: rank again over the whole corpus
                ranked_docs, ranked_scores = _exact(ctx, q, float(ranked_scores[-1]))
                pick = _pick(ctx, ranked_docs, ranked_scores, True, excluded[q], index.guards[q], limit)
                assert pick is not None
            rows.append(pick.rows)
            scores.append(pick.scores)
            best.append(positive)
            dropped[start + i] = pick.dropped
            candidates += pick.candidates
            done = span.start + start + i + 1
            if progress.every(done, total, 100):
                progress.step("queries", done, total, "queries")
    return _Found(span.stop, queries, rows, scores, best, dropped, candidates)
