"""Bias diagnosis of an extractive-QA set: where answers sit, what is asked, how easy it is.

A reader trained on a set whose answers mostly sit in the first sentence, or whose questions copy
the answer's sentence, learns position and word matching instead of reading (Jia and Liang 2017;
Ko et al. 2020, "Look at the first sentence"). Per question (pure functions of one row) and then
aggregated over a set streamed batch by batch:

- metrics ``dataset``: ``rows``, ``answerable`` (not ``is_impossible`` and an answer with text),
  ``unanswerable``, ``bad_span`` (answerable, but no answer whose span matches the context: left
  out of the position measures);
- metrics ``answer_position``: ``mean_relative_start`` (answer start / context length, first
  answer with a valid span), ``first_sentence_share`` (answers starting in the context's first
  sentence, sentences by :func:`curate.augment.sentences.sentence_spans`) against
  ``first_sentence_chars`` (the mean share of the context's characters that its first sentence
  holds: what the first-sentence share would be if answers were placed at random characters);
- distribution ``relative_start`` (tenths of the context: ``0.0-0.1`` ... ``0.9-1.0``) and
  ``answer_sentence`` (``1`` ... ``5``, ``6+``);
- distribution ``question_type`` (:func:`question_type`), and ``answer_type_by_question`` (group:
  the question type; category: :func:`curate.mrc.answer_issues.rule_answer_type` of the first
  answer: ``date``, ``number`` or ``text``);
- metrics ``lexical_overlap``: ``accuracy`` of the heuristic "the answer is in the sentence that
  shares most tokens with the question" (tokens of :func:`curate.mrc.quality.overlap_tokens`:
  question words and English function words left out, Korean particles stripped, CJK as
  bigrams; ties go to the earlier sentence; a hit when the answer starts in that sentence),
  against ``random_sentence`` (the expected accuracy of picking a sentence at random);
- metrics ``answer_length`` (``mean_chars``, ``median_chars``, ``mean_words``) and distributions
  ``answer_chars`` and ``answer_words`` (whitespace words; meaningless for Chinese, Japanese or
  Thai, which write no spaces).
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pyarrow as pa

from curate.augment.sentences import sentence_spans
from curate.bias.result import (
    TOKEN_SCHEMA,
    Diagnostics,
    MetricRows,
    bucket_names,
    bucket_of,
    distribution_table,
    share_rows,
)
from curate.mrc.answer_issues import RuleType, rule_answer_type
from curate.mrc.checks import span_problem
from curate.mrc.quality import overlap_tokens, text_length

QuestionType = Literal["who", "when", "where", "what", "which", "how_many", "why", "how", "other"]
QUESTION_TYPES: tuple[QuestionType, ...] = get_args(QuestionType)
ANSWER_RULE_TYPES: tuple[RuleType, ...] = get_args(RuleType)
RELATIVE_BUCKETS = tuple(f"{i / 10:.1f}-{(i + 1) / 10:.1f}" for i in range(10))
SENTENCE_BUCKETS = ("1", "2", "3", "4", "5", "6+")
ANSWER_CHAR_EDGES = (1, 6, 11, 21, 41, 81)
ANSWER_WORD_EDGES = (1, 2, 3, 4, 6, 11)

# --------------------------------------------------------------------------- question words

_KO_RULES: tuple[tuple[QuestionType, tuple[str, ...], tuple[str, ...]], ...] = (
    ("who", ("누구", "누가"), ("누구나", "누구든")),
    ("when", ("언제", "며칠"), ("언제나", "언제든")),
    ("where", ("어디", "어딘"), ("어디든", "어디나")),
    ("how_many", ("몇", "얼마"), ("몇몇",)),
    ("how", ("어떻", "어떠"), ()),
    ("which", ("어느", "어떤"), ()),
    ("what", ("무엇", "무슨", "뭐", "뭘", "뭔"), ("무엇보다", "뭔가")),
)
"""(type, eojeol starts, starts that are no question word); ``왜`` counts only as a whole eojeol."""
_EN_TYPES: dict[str, QuestionType] = {
    "who": "who",
    "whom": "who",
    "whose": "who",
    "when": "when",
    "where": "where",
    "why": "why",
    "what": "what",
    "which": "which",
}
_EN_HOW_MANY = frozenset(["many", "much", "old", "long", "far", "often", "big", "large", "tall", "high"])
_ZH_RULES: tuple[tuple[str, QuestionType], ...] = (
    ("什么时候", "when"),
    ("何时", "when"),
    ("哪一年", "when"),
    ("哪年", "when"),
    ("为什么", "why"),
    ("为何", "why"),
    ("哪里", "where"),
    ("哪儿", "where"),
    ("何处", "where"),
    ("谁", "who"),
    ("多少", "how_many"),
    ("几", "how_many"),
    ("怎么", "how"),
    ("怎样", "how"),
    ("如何", "how"),
    ("哪", "which"),
    ("什么", "what"),
)
"""Chinese question words; the earliest in the question wins, the longer one at equal places."""
_WORD = re.compile(r"\w+")


def _korean_type(word: str) -> QuestionType | None:
    if word == "왜":
        return "why"
    for kind, starts, not_starts in _KO_RULES:
        if word.startswith(starts) and not word.startswith(not_starts):
            return kind
    return None


def _english_type(word: str, following: str) -> QuestionType | None:
    if word == "how":
        return "how_many" if following in _EN_HOW_MANY else "how"
    return _EN_TYPES.get(word)


def _chinese_type(text: str) -> QuestionType | None:
    found = [(text.find(word), -len(word), kind) for word, kind in _ZH_RULES if word in text]
    return min(found)[2] if found else None


def question_type(question: str | None) -> QuestionType:
    """The kind of question word ``question`` asks with, from its first question word.

    Korean (eojeol starting with it): 누구/누가 ``who``, 언제/며칠 ``when``, 어디 ``where``,
    몇/얼마 ``how_many``, 어떻게/어떠 ``how``, 어느/어떤 ``which``, 무엇/무슨/뭐 ``what``,
    the eojeol 왜 ``why`` (언제나, 어디든, 몇몇, 무엇보다 ... are no question words). English:
    who/whom/whose, when, where, why, what, which, how (``how_many`` before many, much, long,
    old, far, often ...). Chinese: 谁, 什么时候/何时/哪年, 哪里/何处, 为什么/为何, 多少/几,
    怎么/如何, 哪, 什么. Anything else (yes/no questions, other languages): ``other``.
    """
    text = unicodedata.normalize("NFC", question or "").casefold()
    words = _WORD.findall(text)
    for i, word in enumerate(words):
        found = _korean_type(word) or _english_type(word, words[i + 1] if i + 1 < len(words) else "")
        if found is not None:
            return found
    return _chinese_type(text) or "other"


# --------------------------------------------------------------------------- one row


@dataclass(frozen=True)
class AnswerPlace:
    """Where one answer sits in its context: ``relative_start`` (0..1), the 0-based index of the
    ``sentence`` it starts in and the number of ``sentences``, the share of the context's
    characters in its first sentence, and whether the lexical-overlap heuristic picks its
    sentence (``overlap_hit``; None when the question has no overlap tokens)."""

    relative_start: float
    sentence: int
    sentences: int
    first_sentence_chars: float
    overlap_hit: bool | None


def _sentences(context: str) -> list[tuple[int, int]]:
    return sentence_spans(context) or [(0, len(context))]


def answer_place(context: str, question: str, answer_start: int, *, cache: dict[str, Any] | None = None) -> AnswerPlace:
    """Where the answer starting at ``answer_start`` (a valid code-point offset) sits in
    ``context``; ``cache`` keeps each context's sentences and their tokens across calls."""
    cache = {} if cache is None else cache
    if context not in cache:
        spans = _sentences(context)
        cache[context] = (spans, [overlap_tokens(context[s:e]) for s, e in spans])
    spans, sentence_tokens = cache[context]
    sentence = next((i for i, (s, e) in enumerate(spans) if s <= answer_start < e), len(spans) - 1)
    asked = overlap_tokens(question)
    hit = None
    if asked:
        shared = [len(asked & tokens) for tokens in sentence_tokens]
        hit = shared.index(max(shared)) == sentence
    return AnswerPlace(
        relative_start=answer_start / len(context) if context else 0.0,
        sentence=sentence,
        sentences=len(spans),
        first_sentence_chars=(spans[0][1] - spans[0][0]) / len(context) if context else 1.0,
        overlap_hit=hit,
    )


def valid_answer(context: str, answers: Sequence[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The first answer whose span matches ``context`` (None when none does)."""
    for i, answer in enumerate(answers or []):
        if span_problem(context, answer, f"answers[{i}]") is None:
            return answer
    return None


# --------------------------------------------------------------------------- a set


def mrc_bias(batches: Iterable[pa.Table]) -> Diagnostics:
    """Diagnose position, question-type and overlap biases of extractive-QA rows (see the module
    notes). ``batches``: Arrow tables with ``context``, ``question``, ``answers`` and optionally
    ``is_impossible``, read once, in order."""
    rows = answerable = bad_span = 0
    places: list[AnswerPlace] = []
    question_types: Counter[str] = Counter()
    answer_types: dict[str, Counter[str]] = {}
    chars: list[int] = []
    words: list[int] = []
    for batch in batches:
        rows += batch.num_rows
        cache: dict[str, Any] = {}
        impossible = (
            batch.column("is_impossible").to_pylist()
            if "is_impossible" in batch.column_names
            else [None] * batch.num_rows
        )
        for context, question, answers, no_answer in zip(
            batch.column("context").to_pylist(),
            batch.column("question").to_pylist(),
            batch.column("answers").to_pylist(),
            impossible,
            strict=True,
        ):
            kind = question_type(question)
            question_types[kind] += 1
            texts = [a["text"] for a in answers or [] if a.get("text") and a["text"].strip()]
            if no_answer or not texts:
                continue
            answerable += 1
            answer_types.setdefault(kind, Counter())[rule_answer_type(texts[0])] += 1
            chars.append(text_length(texts[0], "chars"))
            words.append(text_length(texts[0], "words"))
            answer = valid_answer(context or "", answers)
            if answer is None:
                bad_span += 1
                continue
            places.append(answer_place(context, question or "", answer["answer_start"], cache=cache))

    metrics = MetricRows("mrc")
    metrics.add("dataset", "rows", rows)
    metrics.add("dataset", "answerable", answerable)
    metrics.add("dataset", "unanswerable", rows - answerable, "is_impossible, or no answer with text")
    metrics.add("dataset", "bad_span", bad_span, "answerable, no answer span matches the context")
    placed = len(places)

    def mean(values: Iterable[float]) -> float | None:
        values = list(values)
        return sum(values) / len(values) if values else None

    metrics.add("answer_position", "mean_relative_start", mean(p.relative_start for p in places))
    metrics.add(
        "answer_position", "first_sentence_share", mean(p.sentence == 0 for p in places), f"of {placed:,} answers"
    )
    metrics.add(
        "answer_position",
        "first_sentence_chars",
        mean(p.first_sentence_chars for p in places),
        "mean share of the context in its first sentence",
    )
    judged = [p for p in places if p.overlap_hit is not None]
    metrics.add(
        "lexical_overlap",
        "accuracy",
        mean(bool(p.overlap_hit) for p in judged),
        f"of {len(judged):,} answers whose question has overlap tokens",
    )
    metrics.add("lexical_overlap", "random_sentence", mean(1 / p.sentences for p in judged), "expected accuracy")
    metrics.add("answer_length", "mean_chars", mean(chars))
    metrics.add("answer_length", "median_chars", statistics.median(chars) if chars else None)
    metrics.add("answer_length", "mean_words", mean(words))

    relative = Counter(RELATIVE_BUCKETS[min(int(p.relative_start * 10), 9)] for p in places)
    sentence = Counter(SENTENCE_BUCKETS[min(p.sentence, 5)] for p in places)
    char_names, word_names = bucket_names(ANSWER_CHAR_EDGES), bucket_names(ANSWER_WORD_EDGES)
    shares = share_rows("relative_start", "all", relative, RELATIVE_BUCKETS)
    shares += share_rows("answer_sentence", "all", sentence, SENTENCE_BUCKETS)
    shares += share_rows("question_type", "all", question_types, QUESTION_TYPES)
    for kind in QUESTION_TYPES:
        if kind in answer_types:
            shares += share_rows(
                "answer_type_by_question", kind, answer_types[kind], ANSWER_RULE_TYPES, keep_empty=True
            )
    shares += share_rows(
        "answer_chars", "all", Counter(char_names[bucket_of(n, ANSWER_CHAR_EDGES)] for n in chars), char_names
    )
    shares += share_rows(
        "answer_words", "all", Counter(word_names[bucket_of(n, ANSWER_WORD_EDGES)] for n in words), word_names
    )
    return Diagnostics("mrc", metrics.table(), distribution_table(shares), TOKEN_SCHEMA.empty_table())
