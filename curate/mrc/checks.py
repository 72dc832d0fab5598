"""Answer-span checks and repairs for extractive QA rows (pure functions).

An answer is ``{"text": str, "answer_start": int}`` with code-point offsets; it is valid when
``context[answer_start : answer_start + len(text)] == text``.

Problem codes:

- ``span_mismatch``: the offset is in range but the context there is not the answer text.
- ``offset_out_of_range``: ``answer_start`` < 0 or the span ends past the context.
- ``empty_answer``: the answer text is empty or only whitespace.
- ``no_answers``: an answerable question (``is_impossible`` not true) has no answer.
- ``impossible_with_answers``: ``is_impossible`` is true but answers are given.
- ``duplicate_id``: the id appeared on an earlier row.
- ``answer_not_found``: (repair only) the answer text occurs nowhere in the context, even after
  NFC and whitespace folding.

Token budgets of a reader (:func:`reader_input`, :func:`reader_windows`): a reader sees
``[CLS] question [SEP] context [SEP]`` (its tokenizer's special tokens) cut to ``max_length``
tokens; the context is truncated (or, with a stride, split into overlapping windows), never the
question. Counts come from :mod:`curate.text.tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.text.spans import repair_span
from curate.text.tokens import Offsets, tokens_through

PROBLEMS = {
    "span_mismatch": "context at answer_start is not the answer text",
    "offset_out_of_range": "answer span lies outside the context",
    "empty_answer": "answer text is empty",
    "no_answers": "answerable question without answers",
    "impossible_with_answers": "unanswerable question that carries answers",
    "duplicate_id": "id used by an earlier row",
    "answer_not_found": "answer text occurs nowhere in the context",
}


@dataclass(frozen=True)
class Problem:
    """One problem of one row: ``field`` like ``answers[0].answer_start``, a ``code`` from
    :data:`PROBLEMS`, and a human ``detail``."""

    field: str
    code: str
    detail: str


def span_problem(context: str, answer: dict[str, Any], field: str) -> Problem | None:
    """The problem of one answer span, or ``None`` when it is exact."""
    text, start = answer["text"], answer["answer_start"]
    if text is None or not text.strip():
        return Problem(f"{field}.text", "empty_answer", f"text={text!r}")
    if start is None or start < 0 or start + len(text) > len(context):
        return Problem(
            f"{field}.answer_start",
            "offset_out_of_range",
            f"answer_start={start}, len(text)={len(text)}, len(context)={len(context)}",
        )
    found = context[start : start + len(text)]
    if found != text:
        return Problem(
            f"{field}.answer_start", "span_mismatch", f"context has {found!r} at {start}, answer is {text!r}"
        )
    return None


def check_row(
    context: str,
    answers: list[dict[str, Any]],
    is_impossible: bool | None = None,
    plausible_answers: list[dict[str, Any]] | None = None,
) -> list[Problem]:
    """Every problem of one question row (duplicate ids are checked across rows, elsewhere)."""
    problems = [
        p
        for name, spans in (("answers", answers), ("plausible_answers", plausible_answers or []))
        for i, answer in enumerate(spans)
        if (p := span_problem(context, answer, f"{name}[{i}]")) is not None
    ]
    if is_impossible and answers:
        problems.append(Problem("is_impossible", "impossible_with_answers", f"{len(answers)} answers given"))
    if not is_impossible and not answers:
        problems.append(Problem("answers", "no_answers", "answers is empty and is_impossible is not true"))
    return problems


@dataclass(frozen=True)
class RowRepair:
    """Result of repairing one row: new answer lists, one note per moved span, and the problems
    that could not be repaired (the row is rejected when there are any)."""

    answers: list[dict[str, Any]]
    plausible_answers: list[dict[str, Any]] | None
    notes: list[str]
    unrepaired: list[Problem]


def _repair_spans(
    context: str, spans: list[dict[str, Any]], name: str
) -> tuple[list[dict[str, Any]], list[str], list[Problem]]:
    fixed, notes, unrepaired = [], [], []
    for i, answer in enumerate(spans):
        field = f"{name}[{i}]"
        problem = span_problem(context, answer, field)
        if problem is None:
            fixed.append(answer)
            continue
        if problem.code == "empty_answer":
            unrepaired.append(problem)
            fixed.append(answer)
            continue
        start = answer["answer_start"] if answer["answer_start"] is not None else 0
        near = max(0, min(start, len(context)))
        siblings = [
            other["answer_start"]
            for other in spans
            if other is not answer and other["text"] == answer["text"] and span_problem(context, other, "") is None
        ]
        if siblings:  # another answer with the same text already marks where it is
            new_start = min(siblings, key=lambda s: (abs(s - near), s))
            new_end, method = new_start + len(answer["text"]), "same as another answer"
        elif (repair := repair_span(context, answer["text"], near)) is not None:
            new_start, new_end, method = repair.start, repair.end, repair.method
        else:
            unrepaired.append(Problem(f"{field}.text", "answer_not_found", f"{answer['text']!r} not in context"))
            fixed.append(answer)
            continue
        new_text = context[new_start:new_end]
        fixed.append({"text": new_text, "answer_start": new_start})
        change = f"{field}: {problem.code}, answer_start {answer['answer_start']} -> {new_start}"
        if new_text != answer["text"]:
            change += f", text {answer['text']!r} -> {new_text!r}"
        notes.append(f"{change} ({method})")
    return fixed, notes, unrepaired


def repair_row(
    context: str,
    answers: list[dict[str, Any]],
    is_impossible: bool | None = None,
    plausible_answers: list[dict[str, Any]] | None = None,
) -> RowRepair:
    """Move each broken span to where its text is: the span of another answer of the same row with
    the same text when there is one, else the occurrence nearest to the given offset (exact, else
    after NFC and whitespace folding, taking the context's own characters as the new text)."""
    fixed, notes, unrepaired = _repair_spans(context, answers, "answers")
    plausible = None
    if plausible_answers is not None:
        plausible, more_notes, more = _repair_spans(context, plausible_answers, "plausible_answers")
        notes += more_notes
        unrepaired += more
    unrepaired += [
        p for p in check_row(context, fixed, is_impossible) if p.code in ("no_answers", "impossible_with_answers")
    ]
    return RowRepair(fixed, plausible, notes, unrepaired)


@dataclass(frozen=True)
class ReaderInput:
    """Token lengths of one (question, context) reader input: ``question`` and ``context`` tokens,
    ``total`` = question + context + the special tokens of a pair, and ``answer_end``: the smallest
    ``max_length`` whose first window holds the whole answer (question + special tokens + the
    context tokens up to the first one whose end offset reaches the answer's end, the test of
    Hugging Face's question-answering examples), None without an exact answer."""

    question: int
    context: int
    total: int
    answer_end: int | None


def reader_input(
    context: str,
    question_tokens: int,
    context_offsets: Offsets,
    special_tokens: int,
    answer: dict[str, Any] | None,
) -> ReaderInput:
    """The :class:`ReaderInput` of a question with ``question_tokens`` tokens on ``context``, whose
    tokens have ``context_offsets`` (code points), for a tokenizer adding ``special_tokens`` to a
    pair; ``answer`` is the answer the reader learns (``{"text", "answer_start"}``), or None."""
    fixed = question_tokens + special_tokens
    end = None
    if answer is not None and span_problem(context, answer, "answer") is None:
        end = fixed + tokens_through(context_offsets, answer["answer_start"] + len(answer["text"]))
    return ReaderInput(question_tokens, len(context_offsets), fixed + len(context_offsets), end)


def reader_windows(
    question_tokens: int, context_tokens: int, special_tokens: int, max_length: int, doc_stride: int
) -> int | None:
    """How many windows a reader with ``max_length`` and ``doc_stride`` (consecutive windows share
    ``doc_stride`` context tokens) makes of one input, as Hugging Face tokenizers' truncation of
    the second sequence with a stride does; None when the question and special tokens leave no
    more than ``doc_stride`` tokens of context per window and the context does not fit (such a
    reader refuses the input)."""
    room = max_length - question_tokens - special_tokens
    if context_tokens <= room:
        return 1
    if room <= doc_stride:
        return None
    step = room - doc_stride
    return 1 + -(-(context_tokens - room) // step)
