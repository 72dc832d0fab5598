"""Split long texts into passages on sentence boundaries (pure functions).

:func:`chunk_text` packs whole sentences (:func:`curate.augment.sentences.sentence_spans`) into
passages of at most ``size`` units, ``chars`` (code points), ``words`` (whitespace-separated) or
``tokens`` (subword tokens of a Hugging Face ``tokenizer.json``, special tokens not counted, each
passage counted as the tokenizer encodes it alone), the whitespace around a passage not counted. A
sentence longer than ``size`` is cut between words, a word longer than ``size`` units between
characters (``tokens``: between its tokens, then characters, since a piece of a word may encode to
more tokens alone); a passage that would end inside a sentence ends at the last sentence end it
holds instead, when it holds one. ``overlap`` is an upper bound: the next
passage starts with as many whole pieces (sentences, or words of a cut sentence) of the previous
one as fit in ``overlap`` units, so with long sentences a small overlap may be none. ``protect``
lists spans no cut may fall inside (answers): pieces around a protected span stay together (its
words are never cut between characters), and a passage grows past ``size`` only when a protected
span, with the words it touches, is longer.

:func:`chunk_corpus` splits a retrieval corpus and re-points its qrels; :func:`chunk_mrc` splits
the contexts of extractive-QA rows and moves every question, with re-based answers, to the passage
that holds its answers. Both leave a text that fits in one passage as it is (same id, same text).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Self, get_args

import pyarrow as pa
from pydantic import Field, ValidationInfo, field_validator, model_validator

from curate import progress
from curate.augment.sentences import core, sentence_spans
from curate.config import Strict
from curate.mrc.checks import span_problem
from curate.text.normalize import Op, normalize_text
from curate.text.spans import find_all
from curate.text.tokens import count_tokens, load_tokenizer, token_offsets

Unit = Literal["chars", "words", "tokens"]
UNITS: tuple[Unit, ...] = get_args(Unit)
Span = tuple[int, int]

_FOLD_OPS: tuple[Op, ...] = ("nfc", "whitespace")


def _check_unit(unit: str, tokenizer: str | Path | None) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {list(UNITS)}: got {unit!r}")
    if unit == "tokens" and tokenizer is None:
        raise ValueError("unit 'tokens' needs a tokenizer (path to a tokenizer.json)")
    if unit != "tokens" and tokenizer is not None:
        raise ValueError(f"a tokenizer is only used with unit 'tokens', not {unit!r}")


class ChunkSettings(Strict):
    """How long texts are cut into passages."""

    size: int = Field(default=500, ge=1)
    """Longest passage, in ``unit``s (whitespace around it not counted)."""
    overlap: int = Field(default=0, ge=0)
    """Units a passage may share with the previous one, in whole sentences (or words of a sentence
    that had to be cut); an upper bound, smaller than ``size``."""
    unit: Unit = "chars"
    """``chars`` (code points), ``words`` (whitespace-separated, eojeol in Korean) or ``tokens``
    (subword tokens of ``tokenizer``, special tokens not counted)."""
    tokenizer: str | None = Field(default=None, validate_default=True)
    """Path to a Hugging Face ``tokenizer.json`` (or a folder holding one), for ``unit: tokens``;
    read from disk, never downloaded."""

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_with_tokens(cls, tokenizer: str | None, info: ValidationInfo) -> str | None:
        if "unit" in info.data:
            _check_unit(info.data["unit"], tokenizer)
        return tokenizer

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


def text_length(text: str, unit: Unit, tokenizer: str | Path | None = None) -> int:
    """Length of ``text`` in ``unit``s, surrounding whitespace not counted (``tokens``: with the
    ``tokenizer.json`` at ``tokenizer``)."""
    _check_unit(unit, tokenizer)
    if tokenizer is not None:
        return count_tokens(load_tokenizer(tokenizer), [text.strip()])[0]
    return len(text.strip()) if unit == "chars" else len(text.split())


class _Measure:
    """Length of any ``text[start:end]`` in units, surrounding whitespace not counted: O(1) for
    ``chars`` and ``words``; for ``tokens`` the span is encoded (each span once)."""

    def __init__(self, text: str, unit: Unit, tokenizer: str | Path | None = None):
        n = len(text)
        self.text, self.unit = text, unit
        self.first = [n] * (n + 1)  # first[i]: first non-space index >= i (n if none)
        for i in range(n - 1, -1, -1):
            self.first[i] = i if not text[i].isspace() else self.first[i + 1]
        self.last = [0] * (n + 1)  # last[i]: 1 + last non-space index < i (0 if none)
        for i in range(1, n + 1):
            self.last[i] = i if not text[i - 1].isspace() else self.last[i - 1]
        self.words = [0] * (n + 1)  # words[i]: word starts before i
        for i in range(n):
            start = not text[i].isspace() and (i == 0 or text[i - 1].isspace())
            self.words[i + 1] = self.words[i] + start
        self.tokenizer = load_tokenizer(tokenizer) if tokenizer is not None else None
        self.tokens: dict[Span, int] = {}

    def __call__(self, start: int, end: int) -> int:
        a, b = self.first[start], self.last[end]
        if a >= b:
            return 0
        if self.unit == "chars":
            return b - a
        if self.unit == "tokens":
            if (a, b) not in self.tokens:
                self.tokens[a, b] = count_tokens(self.tokenizer, [self.text[a:b]])[0]
            return self.tokens[a, b]
        partial = a > 0 and not self.text[a - 1].isspace()  # starts inside a word
        return self.words[b] - self.words[a] + partial

    def token_starts(self, start: int, end: int) -> list[int]:
        """Where the tokens of ``text[start:end]`` (encoded alone) start, inside the span."""
        (offsets,) = token_offsets(self.tokenizer, [self.text[start:end]])
        return sorted({start + s for s, _ in offsets if 0 < s < end - start})


def _blocked(n: int, protect: Sequence[Span]) -> list[bool]:
    """``blocked[p]``: a cut at ``p`` would fall inside a protected span."""
    diff = [0] * (n + 2)
    for start, end in protect:
        start, end = max(0, start), min(n, end)
        if end - start >= 2:
            diff[start + 1] += 1
            diff[end] -= 1
    blocked, depth = [False] * (n + 1), 0
    for p in range(n + 1):
        depth += diff[p]
        blocked[p] = depth > 0
    return blocked


def _pieces(text: str, size: int, unit: Unit, measure: _Measure, blocked: list[bool]) -> tuple[list[Span], list[bool]]:
    """Contiguous spans covering ``text``: sentences, or words / characters (``tokens``: tokens,
    then characters) of the sentences (words, tokens) longer than ``size``; no piece boundary lies
    inside a protected span. Also, per piece, whether it ends a sentence."""
    sentence_cuts = [start for start, _ in sentence_spans(text)[1:]]
    levels = {"words": 2, "chars": 3, "tokens": 4}[unit]  # tokens: a piece of a word may encode longer alone

    def cuts(level: int, start: int, end: int) -> list[int]:
        if level == 0:
            found = [p for p in sentence_cuts if start < p < end]
        elif level == 1:
            found = [p for p in range(start + 1, end) if not text[p].isspace() and text[p - 1].isspace()]
        elif level == 2 and unit == "tokens":
            found = measure.token_starts(start, end)
        else:
            found = list(range(start + 1, end))
        return [p for p in found if not blocked[p]]

    def split(start: int, end: int, level: int) -> list[Span]:
        if level >= levels or measure(start, end) <= size:
            return [(start, end)]
        if level >= 2 and any(blocked[start + 1 : end]):
            return [(start, end)]  # words held together by a protected span: never cut between characters
        bounds = [start, *cuts(level, start, end), end]
        out: list[Span] = []
        for a, b in pairwise(bounds):
            out.extend(split(a, b, level + 1) if measure(a, b) > size else [(a, b)])
        return out

    pieces = split(0, len(text), 0)
    ends = {*sentence_cuts, len(text)}
    return pieces, [end in ends for _, end in pieces]


def _trim(text: str, start: int, end: int, protect: Sequence[Span]) -> Span:
    """``text[start:end]`` without surrounding whitespace, except whitespace of a protected span."""
    s, e = core(text, start, end)
    for ps, pe in protect:
        if ps < end and pe > start and pe > ps:
            s, e = (min(s, max(ps, start)), max(e, min(pe, end))) if s < e else (max(ps, start), min(pe, end))
    return s, e


def chunk_text(
    text: str,
    size: int,
    overlap: int = 0,
    unit: Unit = "chars",
    *,
    protect: Sequence[Span] = (),
    tokenizer: str | Path | None = None,
) -> list[Span]:
    """Passages of ``text`` as ``(start, end)`` code-point spans, in order, each without
    surrounding whitespace (but whole protected spans) and at most ``size`` units long (unless a
    ``protect`` span forces more, or, in ``tokens``, one character encodes to more than ``size``
    tokens). ``tokenizer``: path of the ``tokenizer.json`` for ``unit="tokens"``.

    Every non-whitespace character lies in some passage; consecutive passages share at most
    ``overlap`` units (whole pieces). A text of only whitespace has no passages.
    """
    ChunkSettings(size=size, overlap=overlap, unit=unit, tokenizer=None if tokenizer is None else str(tokenizer))
    if not text or text.isspace():
        return []
    measure = _Measure(text, unit, tokenizer)
    pieces, sentence_end = _pieces(text, size, unit, measure, _blocked(len(text), protect))
    chunks: list[Span] = []
    count = len(pieces)
    i, least = 0, 1  # the passage starts at piece i and takes pieces up to at least least - 1
    while True:
        j = max(i + 1, least)
        while j < count and measure(pieces[i][0], pieces[j][1]) <= size:
            j += 1
        if not sentence_end[j - 1]:  # ends inside a sentence: end at the last sentence end instead
            j = next((k for k in range(j - 1, max(i, least - 1), -1) if sentence_end[k - 1]), j)
        _add(chunks, _trim(text, pieces[i][0], pieces[j - 1][1], protect))
        if j >= count:
            return chunks
        k = j  # the next passage repeats pieces k..j-1: at most `overlap` units
        while k - 1 > i and measure(pieces[k - 1][0], pieces[j - 1][1]) <= overlap:
            k -= 1
        while k < j and measure(pieces[k][0], pieces[j][1]) > size:
            k += 1  # leave room for piece j, so every passage moves forward
        i, least = k, j + 1


def _add(chunks: list[Span], span: Span) -> None:
    """Append ``span`` (unless empty) so that passages keep moving forward: trimmed of whitespace,
    a passage can start where the last one did (then it replaces the last, a prefix of it) or end
    inside it (then it adds nothing)."""
    if span[0] >= span[1] or (chunks and span[1] <= chunks[-1][1]):
        return
    if chunks and span[0] <= chunks[-1][0]:
        chunks[-1] = span
    else:
        chunks.append(span)


def text_key(text: str) -> str:
    """Short stable id of a text (16 hex digits of BLAKE2b), for passages without an id."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _folded(text: str) -> str:
    return normalize_text(text, _FOLD_OPS).casefold()


def contains_answer(passage: str, answer: str) -> bool:
    """Whether ``answer`` occurs in ``passage``, as it is or after NFC, whitespace folding and
    case folding of both."""
    if not answer.strip():
        return False
    return answer in passage or _folded(answer) in _folded(passage)


# ----------------------------------------------------------------- retrieval corpus


def chunk_corpus(
    corpus: pa.Table,
    qrels: pa.Table,
    *,
    answers: Mapping[str, Sequence[str]] | None = None,
    settings: ChunkSettings,
) -> tuple[pa.Table, pa.Table]:
    """Split every passage of ``corpus`` (``doc_id``, ``text``, any other columns) longer than
    ``settings.size`` into passages ``<doc_id>#<n>`` (n from 0) and re-point ``qrels`` to them.

    The corpus gets ``parent_id`` (the original doc_id) and ``start`` (code-point offset of the
    passage in the original text); other columns, the title included, are copied to every
    passage. A text that fits in one passage keeps its row and id (``start`` 0).

    A qrel of a split document becomes one qrel per passage it points to, same score:

    - a positive qrel (score > 0) of a query with ``answers`` (query_id -> answer strings) points to
      the passages that contain an answer (:func:`contains_answer`); cuts never fall inside an exact
      occurrence of such an answer in the document. When no passage contains one (the answer was
      only found after folding, across a cut), it points to every passage;
    - any other qrel (no answers known, or score <= 0) points to every passage of the document,
      so without answers the split positives include passages that may not hold the answer.

    Qrels of documents missing from the corpus are kept unchanged.
    """
    size, overlap, unit, tokenizer = settings.size, settings.overlap, settings.unit, settings.tokenizer
    answers = answers or {}
    qrel_rows = qrels.to_pylist()
    doc_answers: dict[str, set[str]] = defaultdict(set)
    for qrel in qrel_rows:
        if (qrel.get("score") or 0) > 0:
            doc_answers[str(qrel["doc_id"])].update(a for a in answers.get(str(qrel["query_id"]), ()) if a.strip())
    out_rows: list[dict[str, Any]] = []
    passages: dict[str, list[tuple[str, str]]] = {}  # doc_id -> [(passage id, text)] of split docs
    documents = corpus.to_pylist()
    progress.step("chunking", 0, len(documents), "documents")
    for done, row in enumerate(documents, start=1):
        if progress.every(done, len(documents)):
            progress.step("chunking", done, len(documents), "documents")
        doc_id, text = str(row["doc_id"]), row["text"]
        protect = [(s, s + len(a)) for a in sorted(doc_answers.get(doc_id, ())) for s in find_all(text or "", a)]
        spans = chunk_text(text, size, overlap, unit, protect=protect, tokenizer=tokenizer) if text else []
        if len(spans) <= 1:
            out_rows.append({**row, "parent_id": doc_id, "start": 0})
            continue
        parts = []
        for n, (start, end) in enumerate(spans):
            passage_id = f"{doc_id}#{n}"
            out_rows.append({**row, "doc_id": passage_id, "text": text[start:end], "parent_id": doc_id, "start": start})
            parts.append((passage_id, text[start:end]))
        passages[doc_id] = parts
    schema = corpus.schema
    for name, dtype in (("parent_id", pa.string()), ("start", pa.int32())):
        if name not in schema.names:
            schema = schema.append(pa.field(name, dtype))
    new_corpus = pa.Table.from_pylist(out_rows, schema=schema)

    new_qrels: list[dict[str, Any]] = []
    for qrel in qrel_rows:
        split = passages.get(str(qrel["doc_id"]))
        if split is None:
            new_qrels.append(qrel)
            continue
        known = [a for a in answers.get(str(qrel["query_id"]), ()) if a.strip()]
        targets = split
        if known and (qrel.get("score") or 0) > 0:
            holding = [p for p in split if any(contains_answer(p[1], a) for a in known)]
            targets = holding or split
        new_qrels.extend({**qrel, "doc_id": passage_id} for passage_id, _ in targets)
    return new_corpus, pa.Table.from_pylist(new_qrels, schema=qrels.schema)


# ----------------------------------------------------------------- extractive QA


def answer_spans(context: str, row: Mapping[str, Any]) -> tuple[list[Span], str | None]:
    """Spans of every answer and plausible answer of ``row`` on ``context``, or ``([], detail)``
    when one of them is not exact."""
    spans: list[Span] = []
    for name in ("answers", "plausible_answers"):
        for i, answer in enumerate(row.get(name) or []):
            problem = span_problem(context, answer, f"{name}[{i}]")
            if problem is not None:
                return [], f"{problem.field}: {problem.code} ({problem.detail})"
            spans.append((answer["answer_start"], answer["answer_start"] + len(answer["text"])))
    return spans, None


def context_chunks(context: str, rows: Iterable[Mapping[str, Any]], settings: ChunkSettings) -> list[Span]:
    """Passages of one MRC ``context``, never cutting an exact answer or plausible answer of any of
    ``rows`` (the questions asked on it). ``[(0, len(context))]`` when the context fits in one
    (or an answer as long as the context keeps it whole)."""
    size, overlap, unit, tokenizer = settings.size, settings.overlap, settings.unit, settings.tokenizer
    if text_length(context, unit, tokenizer) <= size:
        return [(0, len(context))]
    protect = [span for row in rows for span in answer_spans(context, row)[0]]
    chunks = chunk_text(context, size, overlap, unit, protect=protect, tokenizer=tokenizer)
    return chunks if len(chunks) > 1 else [(0, len(context))]


@dataclass(frozen=True)
class ChunkedQuestion:
    """One question after chunking: ``row`` is the input row with ``context``, ``answers``,
    ``plausible_answers`` and ``passage_id`` replaced and ``parent_id``, ``start``,
    ``chunk_widened`` added; or, when ``problem`` is set, the input row unchanged."""

    row: dict[str, Any]
    problem: str | None = None


def _moved(spans: list[dict[str, Any]] | None, offset: int) -> list[dict[str, Any]] | None:
    if spans is None:
        return None
    return [{"text": a["text"], "answer_start": a["answer_start"] - offset} for a in spans]


def place_question(row: Mapping[str, Any], chunks: Sequence[Span], settings: ChunkSettings) -> ChunkedQuestion:
    """Move ``row`` to the first of its context's ``chunks`` (from :func:`context_chunks`) that holds
    all of its answer and plausible-answer spans; a question without any goes to the first chunk.

    When no chunk holds them all (answers far apart), the question gets the union of the chunks
    from the one where its first span starts to the one where its last ends, as passage
    ``<parent>#<a>-<b>``. ``chunk_widened`` is true when the new context is longer than ``settings.size``,
    from that union or from a chunk that had to grow around an answer. A row with an inexact span
    cannot move: it comes back unchanged with a ``problem``.
    """
    context: str = row["context"]
    size, unit, tokenizer = settings.size, settings.unit, settings.tokenizer
    parent = row.get("passage_id") or text_key(context)
    if len(chunks) <= 1:
        widened = text_length(context, unit, tokenizer) > size  # one answer longer than size kept it whole
        return ChunkedQuestion({**row, "parent_id": parent, "start": 0, "chunk_widened": widened})
    spans, problem = answer_spans(context, row)
    if problem is not None:
        return ChunkedQuestion(dict(row), problem)
    if spans:
        lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    else:
        lo, hi = chunks[0]
    index = next((n for n, (s, e) in enumerate(chunks) if s <= lo and hi <= e), None)
    if index is not None:
        start, end = chunks[index]
        passage_id = f"{parent}#{index}"
    else:
        first = max((n for n, (s, _) in enumerate(chunks) if s <= lo), default=0)
        last = min((n for n, (_, e) in enumerate(chunks) if e >= hi), default=len(chunks) - 1)
        first, last = min(first, last), max(first, last)
        start, end = min(chunks[first][0], lo), max(chunks[last][1], hi)
        passage_id = f"{parent}#{first}-{last}"
    new_context = context[start:end]
    new = {
        **row,
        "context": new_context,
        "answers": _moved(row.get("answers"), start),
        "plausible_answers": _moved(row.get("plausible_answers"), start),
        "passage_id": passage_id,
        "parent_id": parent,
        "start": start,
        "chunk_widened": text_length(new_context, unit, tokenizer) > size,
    }
    _, problem = answer_spans(new_context, new)
    if problem is not None:  # cannot happen when the spans were exact before; kept as a guard
        return ChunkedQuestion(dict(row), f"after chunking: {problem}")
    return ChunkedQuestion(new)


def chunk_mrc(rows: Iterable[Mapping[str, Any]], settings: ChunkSettings) -> list[ChunkedQuestion]:
    """Chunk the contexts of MRC ``rows`` (dicts with ``context``, ``answers`` and optionally
    ``plausible_answers``, ``passage_id``) and place every question (:func:`place_question`), in
    input order. The same question count comes out; a context that fits is left as it is.

    Unanswerable questions go to the chunk holding their plausible answers, else to the first
    chunk: a question with no answer in the whole context has none in any part of it.
    """
    rows = list(rows)
    by_context: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_context[row["context"]].append(row)
    chunks = {context: context_chunks(context, group, settings) for context, group in by_context.items()}
    return [place_question(row, chunks[row["context"]], settings) for row in rows]
