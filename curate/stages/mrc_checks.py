"""``mrc_checks``: score every extractive-QA row on ten checks (twelve with a tokenizer), then
reject or flag by threshold.

Every check writes one column (prefix ``mrc_``); ``reject`` names the checks whose failure rejects
a row (reason = the check name), the others only flag it: every row lists its failed checks in
``mrc_flags``. Scores already in the input are reused, so re-thresholding recomputes nothing.

Checks (reason: column, when it fails):

- ``mrc_span_invalid``: ``mrc_span_problem`` (e.g. ``answers[0].answer_start: span_mismatch``) is set:
  a span does not match the context, an answer is empty, or an answerable question has none
  (the codes of ``curate.mrc.checks``).
- ``mrc_impossible_with_answers``: ``mrc_impossible_with_answers`` is true.
- ``mrc_duplicate_question``: ``mrc_duplicate_of`` names an earlier row with the same question
  (NFC, spacing, case and a final ``?`` ignored) on the same context; the first row passes.
- ``mrc_answer_length``: ``mrc_answer_chars`` (first answer) outside [``min_answer_chars``,
  ``max_answer_chars``].
- ``mrc_question_length``: ``mrc_question_chars`` outside [``min_question_chars``, ``max_question_chars``].
- ``mrc_question_form``: ``mrc_question_form`` is false (null, for a language without rules, passes).
- ``mrc_answer_ambiguous``: ``mrc_answer_occurrences`` (of the first answer's text in the context)
  above ``max_answer_occurrences``.
- ``mrc_mismatched``: ``mrc_overlap`` (share of the question's tokens in the context) at or below
  ``mismatch_overlap``: the question probably belongs to another passage.
- ``mrc_too_easy``: ``mrc_copied`` (longest run of the question found word for word in the
  context, as a share of the question) at or above ``too_easy_copied``.
- ``mrc_context_too_long``: ``mrc_context_words`` (or ``mrc_context_chars``) above ``max_context_tokens``.

With ``tokenizer`` (a local Hugging Face ``tokenizer.json``), the reader's own budget: a reader sees
``[CLS] question [SEP] context [SEP]`` cut to ``max_length`` tokens (special tokens measured from the
tokenizer's post-processor, not assumed). Columns ``mrc_question_tokens``, ``mrc_context_tokens``,
``mrc_input_tokens`` (both plus the special tokens) and ``mrc_answer_end_tokens`` (the smallest
``max_length`` whose first window still holds the whole first answer: question, special tokens and
the context tokens up to the first one reaching the answer's end, the test Hugging Face's
question-answering examples use to label a window; null without an exact answer). None of them
depends on ``max_length``, so changing it recomputes nothing.

- ``mrc_over_token_budget``: ``mrc_input_tokens`` above ``max_length``: the reader truncates the
  context (or, with ``doc_stride``, splits it into windows; the detail counts them).
- ``mrc_answer_beyond_budget``: ``mrc_answer_end_tokens`` above ``max_length``: the answer ends
  past what fits in the first window, so a reader that truncates never sees it. With
  ``doc_stride`` a later window holds it, whole when it is at most ``doc_stride + 1`` tokens long.

Measurements behind the defaults. Data: XQuAD (1,190 SQuAD-style questions in each of 12
languages), every Korean question of ``sample_data/korquad_sample.json`` and 49 real KorQuAD 1.0/2.1
questions; a wrong pair puts a question on a paragraph of another article (or of the same article).

- question form, with the ``?`` removed: 100% of the Korean questions pass, and 99.7% of XQuAD-en;
  of real Korean statements 1.8% (Leipzig news sentences) and 0.5% (KorSTS) pass, of English ones
  10%. Other languages without a ``?`` get null, never false.
- overlap, right vs wrong paragraph (ROC AUC): Korean sample 0.998 (same article 0.98), XQuAD en
  0.994 (0.966), zh 0.997, th 0.996, de/ru/ar 0.95-0.96. At ``mismatch_overlap`` 0.15 the share of
  right pairs flagged / wrong-article pairs caught: Korean 0.4% / 92%, en 0.8% / 90%, zh 2.4% / 99%,
  th 0% / 55%; languages without a function-word list catch less (de 38%, es 14%).
- copied at >= 0.8, share of gold questions: Korean sample 0.4%, en 2.6%, zh 1.7%, th 3.6%. A
  bag-of-tokens overlap cannot tell copying from rewording (17% of XQuAD-en questions have every
  content word in their paragraph), hence the longest shared run.
- lengths: XQuAD questions have 6-221 characters, answers 1-188, paragraphs at most 522 words.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
from pydantic import Field, ValidationInfo, field_validator, model_validator

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.mrc.checks import check_row, reader_input, reader_windows
from curate.mrc.quality import (
    LengthUnit,
    answer_occurrences,
    folded,
    lexical_overlap,
    longest_shared_run,
    overlap_tokens,
    question_form,
    question_key,
    text_length,
)
from curate.schemas import row_ids
from curate.stages.base import PlannedStage, Split, names_in
from curate.stages.scoring import ScoreParams, ScoreStage, Verdict, map_unique, set_columns, verdict
from curate.text.normalize import normalize_text
from curate.text.tokens import count_tokens, load_tokenizer, pair_special_tokens, token_offsets

Check = Literal[
    "mrc_span_invalid",
    "mrc_impossible_with_answers",
    "mrc_duplicate_question",
    "mrc_answer_length",
    "mrc_question_length",
    "mrc_question_form",
    "mrc_answer_ambiguous",
    "mrc_mismatched",
    "mrc_too_easy",
    "mrc_context_too_long",
    "mrc_over_token_budget",
    "mrc_answer_beyond_budget",
]
CHECKS: tuple[Check, ...] = get_args(Check)
DEFAULT_REJECT: tuple[Check, ...] = ("mrc_span_invalid", "mrc_impossible_with_answers", "mrc_duplicate_question")
FLAGS_COLUMN = "mrc_flags"
_COLUMNS = (
    "mrc_span_problem",
    "mrc_impossible_with_answers",
    "mrc_duplicate_of",
    "mrc_answer_chars",
    "mrc_question_chars",
    "mrc_question_form",
    "mrc_answer_occurrences",
    "mrc_overlap",
    "mrc_copied",
)
_TYPES = {
    "mrc_span_problem": pa.string(),
    "mrc_impossible_with_answers": pa.bool_(),
    "mrc_duplicate_of": pa.string(),
    "mrc_answer_chars": pa.int32(),
    "mrc_question_chars": pa.int32(),
    "mrc_question_form": pa.bool_(),
    "mrc_answer_occurrences": pa.int32(),
    "mrc_overlap": pa.float64(),
    "mrc_copied": pa.float64(),
}
TOKEN_COLUMNS = ("mrc_question_tokens", "mrc_context_tokens", "mrc_input_tokens", "mrc_answer_end_tokens")


class MrcChecksParams(ScoreParams):
    reject: list[Check] = Field(default_factory=lambda: list(DEFAULT_REJECT))
    """Checks whose failure rejects the row (reason = the check name); the others only flag it in
    ``mrc_flags``. Default: ``mrc_span_invalid``, ``mrc_impossible_with_answers``,
    ``mrc_duplicate_question``."""
    min_answer_chars: int = 1
    """Shortest first answer (code points) that passes ``mrc_answer_length``."""
    max_answer_chars: int | None = 200
    """Longest first answer that passes ``mrc_answer_length`` (XQuAD's longest is 188); null: no limit."""
    min_question_chars: int = 5
    """Shortest question (code points, stripped) that passes ``mrc_question_length`` (XQuAD's
    shortest is 6, a Chinese one; ``수도는?`` has 4)."""
    max_question_chars: int | None = 250
    """Longest question that passes ``mrc_question_length`` (XQuAD's longest is 221); null: no limit."""
    max_answer_occurrences: int = 1
    """``mrc_answer_ambiguous`` fails when the first answer's exact text occurs more often than this
    in the context."""
    mismatch_overlap: float = 0.15
    """``mrc_mismatched`` fails at an overlap at or below this (share of the question's tokens found
    in the context)."""
    too_easy_copied: float = 0.8
    """``mrc_too_easy`` fails when the longest run of the question found word for word in the
    context covers at least this share of the question."""
    context_unit: LengthUnit = "words"
    """Unit of ``max_context_tokens``: ``words`` (whitespace-separated; eojeol in Korean) or
    ``chars`` (code points; use it for Chinese, Japanese and Thai). For a model's subword tokens
    give ``tokenizer`` and ``max_length``."""
    max_context_tokens: int | None = 1000
    """``mrc_context_too_long`` fails above this many ``context_unit``\\s (about twice XQuAD's longest
    paragraph of 522 words); null: no limit."""
    tokenizer: str | None = None
    """Path to the reader's Hugging Face ``tokenizer.json`` (or a folder holding one; read from disk,
    never downloaded): adds the token columns and the checks ``mrc_over_token_budget`` and
    ``mrc_answer_beyond_budget``. Null: no token checks."""
    max_length: int = Field(384, ge=1)
    """The reader's input length in tokens, special tokens included (BERT-style readers: 384 or 512)."""
    doc_stride: int | None = Field(None, ge=0)
    """The reader's stride (tokens shared by consecutive windows of a long context), if it splits
    contexts into windows instead of truncating them: the ``mrc_over_token_budget`` detail then
    counts the windows."""

    @model_validator(mode="after")
    def _check(self) -> MrcChecksParams:
        for low, high in (("min_answer_chars", "max_answer_chars"), ("min_question_chars", "max_question_chars")):
            lo, hi = getattr(self, low), getattr(self, high)
            if hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is greater than {high} ({hi})")
        for name in ("mismatch_overlap", "too_easy_copied"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.max_answer_occurrences < 1:
            raise ValueError(f"max_answer_occurrences must be at least 1, got {self.max_answer_occurrences}")
        unused = sorted({"max_length", "doc_stride"} & self.model_fields_set)
        if self.tokenizer is None and unused:
            verb = "needs" if len(unused) == 1 else "need"
            raise ValueError(f"{' and '.join(unused)} {verb} tokenizer: the path to the reader's tokenizer.json")
        return self

    @field_validator("doc_stride")
    @classmethod
    def _stride_below_max_length(cls, doc_stride: int | None, info: ValidationInfo) -> int | None:
        max_length = info.data.get("max_length")
        if doc_stride is not None and max_length is not None and doc_stride >= max_length:
            raise ValueError(f"doc_stride ({doc_stride}) must be smaller than max_length ({max_length})")
        return doc_stride


@dataclass(frozen=True)
class MrcChecksPlan:
    """Per dataset row, the id of the first earlier row asking the same question on the same
    context (``mrc_duplicate_of``), or None."""

    duplicate_of: list[str | None]


class MrcChecks(ScoreStage, PlannedStage):
    """Score MRC rows on span validity, answer and question length, question form, answer
    ambiguity, question/context overlap, copying, impossible-with-answers, repeated questions and
    context length; reject the rows failing a check named in ``reject``, flag the rest.

    Adds the score columns (see the module table) and ``mrc_flags`` (list of the failed checks,
    also on rejected rows). Reject reasons are the check names. The ``checks`` artifact counts,
    per check, the rows that failed it and whether it rejects.
    """

    name = "mrc_checks"
    role = "filter"  # checks not listed in reject only flag
    Params = MrcChecksParams
    params: MrcChecksParams
    kinds = ("mrc",)
    requires = {"context": "string", "question": "string", "answers": "any"}
    description = "Quality checks of extractive-QA rows: reject or flag by threshold."

    @property
    def context_column(self) -> str:
        return f"mrc_context_{self.params.context_unit}"

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        if self.params.tokenizer:
            self.tokenizer()  # a bad tokenizer file fails before any row is read

    def input_files(self) -> list[Path]:
        return [Path(self.params.tokenizer)] if self.params.tokenizer else []

    def tokenizer(self) -> Any:
        assert self.params.tokenizer is not None
        try:
            return load_tokenizer(self.params.tokenizer)
        except ConfigError as exc:
            raise exc.at(stage=self.id, field="tokenizer") from None

    def plan(self, dataset: Dataset) -> MrcChecksPlan:
        """Each row's ``mrc_duplicate_of``: the id of the first earlier row asking the same question
        (folded) on the same context (NFC, spaces folded), or None; scored input keeps its own."""
        if self.params.reuse_scores and set(self.score_columns(dataset.kind)) <= set(dataset.schema.names):
            return MrcChecksPlan(dataset.column("mrc_duplicate_of").to_pylist())
        first: dict[bytes, str] = {}
        duplicate_of: list[str | None] = []
        for batch in dataset.batches():
            keys = row_ids(batch, dataset.kind, len(duplicate_of))
            contexts = batch.column("context").to_pylist()
            context_keys = map_unique([c or "" for c in contexts], lambda c: normalize_text(c, ("nfc", "whitespace")))
            questions = batch.column("question").to_pylist()
            for key, context_key, question in zip(keys, context_keys, questions, strict=True):
                text = f"{context_key}\x1f{question_key(question or '')}"
                digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
                duplicate_of.append(first.get(digest))
                first.setdefault(digest, key)
        return MrcChecksPlan(duplicate_of)

    def split(self, batch: pa.Table, plan: MrcChecksPlan, start: int) -> Split:
        found = pa.array(plan.duplicate_of[start : start + batch.num_rows], pa.string())
        return self.process(set_columns(batch, {"mrc_duplicate_of": found}), "mrc")

    # ----------------------------------------------------------------- scores
    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        tokens = dict.fromkeys(TOKEN_COLUMNS, pa.int32()) if self.params.tokenizer else {}
        return {**{name: _TYPES[name] for name in _COLUMNS}, self.context_column: pa.int32(), **tokens}

    def added(self, kind: str) -> dict[str, pa.DataType]:
        return {**self.score_columns(kind), FLAGS_COLUMN: pa.list_(pa.string())}

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        contexts = [c or "" for c in batch.column("context").to_pylist()]
        questions = [q or "" for q in batch.column("question").to_pylist()]
        answers = [a or [] for a in batch.column("answers").to_pylist()]
        impossible = _column(batch, "is_impossible")
        plausible = _column(batch, "plausible_answers")
        planned = _column(batch, "mrc_duplicate_of")  # set by split from the plan
        unit = self.params.context_unit
        per_context = map_unique(
            contexts,
            lambda c: (overlap_tokens(c), folded(c), text_length(c, unit)),
        )
        span, impossible_out, duplicate_of = [], [], []
        answer_chars, question_chars, form, occurrences, overlap, copied = [], [], [], [], [], []
        for i, (context, question, spans) in enumerate(zip(contexts, questions, answers, strict=True)):
            tokens, context_folded, _ = per_context[i]
            problems = check_row(context, spans, impossible[i], plausible[i])
            span.append(
                "; ".join(f"{p.field}: {p.code}" for p in problems if p.code != "impossible_with_answers") or None
            )
            impossible_out.append(bool(impossible[i]) and bool(spans))
            duplicate_of.append(planned[i])
            first_answer = spans[0]["text"] if spans else None
            answer_chars.append(len(first_answer) if first_answer is not None else None)
            question_chars.append(len(question.strip()))
            form.append(question_form(question))
            occurrences.append(answer_occurrences(context, first_answer))
            share = lexical_overlap(overlap_tokens(question), tokens)
            overlap.append(None if share is None else round(share, 4))
            question_folded = folded(question)
            run = longest_shared_run(question_folded, context_folded) if question_folded else None
            copied.append(None if run is None else round(run / len(question_folded), 4))
        values: dict[str, list[Any]] = {
            "mrc_span_problem": span,
            "mrc_impossible_with_answers": impossible_out,
            "mrc_duplicate_of": duplicate_of,
            "mrc_answer_chars": answer_chars,
            "mrc_question_chars": question_chars,
            "mrc_question_form": form,
            "mrc_answer_occurrences": occurrences,
            "mrc_overlap": overlap,
            "mrc_copied": copied,
        }
        columns = {name: pa.array(values[name], _TYPES[name]) for name in _COLUMNS}
        columns[self.context_column] = pa.array([info[2] for info in per_context], pa.int32())
        if self.params.tokenizer:
            columns.update(self._token_columns(contexts, questions, answers))
        return columns

    def _token_columns(
        self, contexts: list[str], questions: list[str], answers: list[list[dict[str, Any]]]
    ) -> dict[str, pa.Array]:
        """The reader-input token counts of every row (:func:`curate.mrc.checks.reader_input`),
        each distinct question and context encoded once."""
        tokenizer = self.tokenizer()
        special = pair_special_tokens(tokenizer)
        distinct_contexts = list(dict.fromkeys(contexts))
        offsets = dict(zip(distinct_contexts, token_offsets(tokenizer, distinct_contexts), strict=True))
        distinct_questions = list(dict.fromkeys(questions))
        counts = dict(zip(distinct_questions, count_tokens(tokenizer, distinct_questions), strict=True))
        inputs = [
            reader_input(context, counts[question], offsets[context], special, spans[0] if spans else None)
            for context, question, spans in zip(contexts, questions, answers, strict=True)
        ]
        return {
            "mrc_question_tokens": pa.array([r.question for r in inputs], pa.int32()),
            "mrc_context_tokens": pa.array([r.context for r in inputs], pa.int32()),
            "mrc_input_tokens": pa.array([r.total for r in inputs], pa.int32()),
            "mrc_answer_end_tokens": pa.array([r.answer_end for r in inputs], pa.int32()),
        }

    # ----------------------------------------------------------------- thresholds
    def _rules(self) -> list[tuple[Check, str | tuple[str, ...], Callable[[Any], str | None]]]:
        """``(check, column, test)``: ``test(value)`` is the failure detail, or None when it passes;
        for a tuple of columns ``value`` is the tuple of the row's values."""
        p = self.params

        def between(column: str, lo: int, hi: int | None) -> Callable[[Any], str | None]:
            def test(v: Any) -> str | None:
                if v is None:
                    return None
                if v < lo:
                    return f"{column}={v} < min {lo}"
                if hi is not None and v > hi:
                    return f"{column}={v} > max {hi}"
                return None

            return test

        return [
            ("mrc_span_invalid", "mrc_span_problem", lambda v: None if v is None else f"mrc_span_problem={v}"),
            ("mrc_impossible_with_answers", "mrc_impossible_with_answers", _true("mrc_impossible_with_answers=true")),
            ("mrc_duplicate_question", "mrc_duplicate_of", lambda v: None if v is None else f"mrc_duplicate_of={v}"),
            (
                "mrc_answer_length",
                "mrc_answer_chars",
                between("mrc_answer_chars", p.min_answer_chars, p.max_answer_chars),
            ),
            (
                "mrc_question_length",
                "mrc_question_chars",
                between("mrc_question_chars", p.min_question_chars, p.max_question_chars),
            ),
            ("mrc_question_form", "mrc_question_form", lambda v: "mrc_question_form=false" if v is False else None),
            (
                "mrc_answer_ambiguous",
                "mrc_answer_occurrences",
                lambda v: (
                    f"mrc_answer_occurrences={v} > {p.max_answer_occurrences}"
                    if v is not None and v > p.max_answer_occurrences
                    else None
                ),
            ),
            (
                "mrc_mismatched",
                "mrc_overlap",
                lambda v: (
                    f"mrc_overlap={v:.2f} <= {p.mismatch_overlap}"
                    if v is not None and v <= p.mismatch_overlap
                    else None
                ),
            ),
            (
                "mrc_too_easy",
                "mrc_copied",
                lambda v: (
                    f"mrc_copied={v:.2f} >= {p.too_easy_copied}" if v is not None and v >= p.too_easy_copied else None
                ),
            ),
            (
                "mrc_context_too_long",
                self.context_column,
                lambda v: (
                    f"{self.context_column}={v} > max {p.max_context_tokens}"
                    if p.max_context_tokens is not None and v is not None and v > p.max_context_tokens
                    else None
                ),
            ),
            *(self._token_rules() if p.tokenizer else []),
        ]

    def _token_rules(self) -> list[tuple[Check, str | tuple[str, ...], Callable[[Any], str | None]]]:
        p = self.params

        def over_budget(row: tuple[int | None, ...]) -> str | None:
            total, question, context = row
            if total is None or total <= p.max_length:
                return None
            detail = f"mrc_input_tokens={total} > max_length {p.max_length}"
            if p.doc_stride is None or question is None or context is None:
                return detail
            windows = reader_windows(question, context, total - question - context, p.max_length, p.doc_stride)
            if windows is None:
                return f"{detail} (the question leaves no more than doc_stride {p.doc_stride} context tokens a window)"
            return f"{detail} ({windows} windows with doc_stride {p.doc_stride})"

        return [
            ("mrc_over_token_budget", ("mrc_input_tokens", "mrc_question_tokens", "mrc_context_tokens"), over_budget),
            (
                "mrc_answer_beyond_budget",
                "mrc_answer_end_tokens",
                lambda v: (
                    f"mrc_answer_end_tokens={v} > max_length {p.max_length}"
                    if v is not None and v > p.max_length
                    else None
                ),
            ),
        ]

    def failures(self, scored: pa.Table) -> list[list[tuple[Check, str]]]:
        """Every failed check of every row of ``scored``, in check order, with its detail."""
        found: list[list[tuple[Check, str]]] = [[] for _ in range(scored.num_rows)]
        for check, column, test in self._rules():
            if isinstance(column, str):
                values = scored.column(column).to_pylist()
            else:
                values = list(zip(*(scored.column(name).to_pylist() for name in column), strict=True))
            for i, value in enumerate(values):
                detail = test(value)
                if detail is not None:
                    found[i].append((check, detail))
        return found

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        rejecting = set(self.params.reject)
        return [verdict([failure for failure in row if failure[0] in rejecting]) for row in self.failures(scored)]

    def process(self, batch: pa.Table, kind: str) -> Split:
        split = super().process(batch, kind)
        kept, rejected = self._flag(split.kept), self._flag(split.rejected)
        failed = Counter(name for table in (kept, rejected) for row in names_in(table, FLAGS_COLUMN) for name in row)
        return Split(kept, rejected, tally=failed).marked(flags=names_in(kept, FLAGS_COLUMN))

    def _flag(self, table: pa.Table) -> pa.Table:
        names = [[check for check, _ in row] for row in self.failures(table)]
        return set_columns(table, {FLAGS_COLUMN: pa.array(names, pa.list_(pa.string()))})

    def tally_artifacts(self, tally: Counter[str]) -> dict[str, pa.Table]:
        """The ``checks`` artifact from the rows failed per check (the batches' tallies)."""
        rejecting = set(self.params.reject) if self.params.filter else set()
        return {
            "checks": pa.table(
                {
                    "check": pa.array(CHECKS, pa.string()),
                    "rejects": pa.array([c in rejecting for c in CHECKS], pa.bool_()),
                    "rows_failed": pa.array([tally.get(c, 0) for c in CHECKS], pa.int64()),
                }
            )
        }


def _column(batch: pa.Table, name: str) -> list[Any]:
    return batch.column(name).to_pylist() if name in batch.column_names else [None] * batch.num_rows


def _true(detail: str) -> Callable[[Any], str | None]:
    return lambda v: detail if v else None
