"""What the run report knows about each stage, in one table (:data:`STAGES`, keyed by the stage's
registry name): which score columns it thresholds and with which parameters, where its flags and
rewrites show on a row, and which columns pair a given label with a suggested one.

The report reads thresholds from the parameters recorded in ``stats.json``, so a rule whose
parameter is null (switched off) draws no line. A stage missing here still gets its reasons,
``flags`` and ``rewrites`` counts from ``stats.json`` and a histogram of every numeric column it adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from curate.errors import SchemaError
from curate.schemas import get_schema

Params = Mapping[str, Any]
Side = Literal["min", "max"]


@dataclass(frozen=True)
class Threshold:
    """One threshold on a score column: rows below a ``min`` (above a ``max``) fail the rule named
    by ``param``; ``note`` says which rows the rule applies to (``Korean``)."""

    column: str
    param: str
    value: float
    side: Side
    note: str | None = None


@dataclass(frozen=True)
class Flags:
    """Where a stage marks flagged rows: a ``list`` column of flag names, or a ``bool`` column whose
    true rows carry the flag ``name``. ``evidence`` maps a flag to the column holding its value."""

    column: str
    shape: Literal["list", "bool"]
    name: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)

    def names_sql(self) -> str:
        """SQL giving the flags of a row as a list."""
        quoted = _quote(self.column)
        if self.shape == "list":
            return f"coalesce({quoted}, [])"
        return f"CASE WHEN {quoted} THEN ['{self.name}'] ELSE [] END"


@dataclass(frozen=True)
class Rewrites:
    """How to find the rows a stage rewrote: ``where`` (SQL on its kept rows; None: rows whose
    ``fields`` differ from the stage's input), ``what`` (a column saying what changed), and
    ``columns`` compared for the before/after view besides the stage's text fields."""

    where: str | None = None
    what: str | None = None
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelPair:
    """A given label against a suggested one: ``quality`` (lower = more likely wrong) orders the
    worst rows, ``flagged`` is SQL selecting the rows the stage flagged."""

    given: str
    suggested: str
    quality: str
    flagged: str


@dataclass(frozen=True)
class StageInfo:
    """What the report knows about one stage; every callable takes the recorded params and the kind."""

    thresholds: Callable[[Params, str], list[Threshold]] = lambda params, kind: []
    flags: Callable[[Params], Flags | None] = lambda params: None
    rewrites: Callable[[Params], Rewrites | None] = lambda params: None
    languages: bool = False
    labels: LabelPair | None = None
    sensitive: bool = False
    """The stage finds personal data: the report masks it in every example of the run."""


def stage_fields(params: Params, kind: str) -> list[str]:
    """The text columns a stage looks at: its ``field`` or ``fields`` parameter, else the kind's text fields."""
    if isinstance(params.get("field"), str):
        return [params["field"]]
    fields = params.get("fields")
    if isinstance(fields, str):
        return [fields]
    if isinstance(fields, list) and fields:
        return [str(f) for f in fields]
    return list(_text_fields(kind))


def _text_fields(kind: str) -> tuple[str, ...]:
    try:
        return get_schema(kind).text_fields
    except SchemaError:
        return ()


def _rules(params: Params, specs: Sequence[Spec]) -> list[Threshold]:
    """Thresholds for ``(column, param, side, note)`` specs whose parameter is set to a number."""
    found = []
    for column, param, side, note in specs:
        value = params.get(param)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append(Threshold(column, param, float(value), side, note))
    return found


def _quality(prefix: str, specs: Sequence[Spec]) -> Callable[[Params, str], list[Threshold]]:
    """Quality stages name their columns ``<prefix><stat>``, or ``<prefix><field>_<stat>`` when they
    score a field other than the kind's first text field."""

    def thresholds(params: Params, kind: str) -> list[Threshold]:
        field_ = params.get("field")
        first = _text_fields(kind)[:1]
        rename = field_ and [field_] != list(first)

        def column(name: str) -> str:
            return f"{prefix}{field_}_{name.removeprefix(prefix)}" if rename else name

        return _rules(params, [(column(c), p, s, n) for c, p, s, n in specs])

    return thresholds


def _bounds(column: str, low: str, high: str, note: str | None = None) -> list[Spec]:
    return [(column, low, "min", note), (column, high, "max", note)]


Spec = tuple[str, str, Side, str | None]
"""``(column, param, side, note)`` of one threshold."""

_GOPHER_QUALITY: list[Spec] = [
    *_bounds("gopher_word_count", "min_words", "max_words", "non-Korean"),
    *_bounds("gopher_word_count", "min_words_ko", "max_words_ko", "Korean"),
    *_bounds("gopher_mean_word_length", "min_mean_word_length", "max_mean_word_length", "non-Korean"),
    *_bounds("gopher_mean_word_length", "min_mean_word_length_ko", "max_mean_word_length_ko", "Korean"),
    ("gopher_symbol_ratio", "max_symbol_ratio", "max", None),
    ("gopher_bullet_lines_ratio", "max_bullet_lines_ratio", "max", None),
    ("gopher_ellipsis_lines_ratio", "max_ellipsis_lines_ratio", "max", None),
    ("gopher_alpha_words_ratio", "min_alpha_words_ratio", "min", None),
    ("gopher_stop_words", "min_stop_words", "min", "non-Korean"),
    ("gopher_function_word_ratio", "min_function_word_ratio_ko", "min", "Korean"),
    ("gopher_hangul_ratio", "korean_min_hangul", "min", "Korean rules from here"),
]
_GOPHER_REPETITION: list[Spec] = [
    (f"gopher_{stat}", f"max_{stat}", "max", None)
    for stat in (
        "dup_line_frac",
        "dup_para_frac",
        "dup_line_char_frac",
        "dup_para_char_frac",
        *(f"top_{n}gram_frac" for n in (2, 3, 4)),
        *(f"dup_{n}gram_frac" for n in range(5, 11)),
    )
]
_C4: list[Spec] = [
    ("c4_terminal_punct_ratio", "min_terminal_punct_ratio", "min", None),
    ("c4_short_lines_ratio", "max_short_lines_ratio", "max", None),
    ("c4_javascript_lines_ratio", "max_javascript_lines_ratio", "max", None),
    ("c4_policy_lines_ratio", "max_policy_lines_ratio", "max", None),
    ("c4_sentences", "min_sentences", "min", None),
]
_FINEWEB: list[Spec] = [
    ("fineweb_line_punct_ratio", "min_line_punct_ratio", "min", "fails at or below"),
    ("fineweb_short_line_ratio", "max_short_line_ratio", "max", "fails at or above"),
    ("fineweb_dup_line_char_ratio", "max_dup_line_char_ratio", "max", "fails at or above"),
    ("fineweb_list_ratio", "max_list_ratio", "max", None),
]
_KOREAN: list[Spec] = [
    ("korean_jamo_ratio", "max_jamo_ratio", "max", None),
    ("korean_repeat_char_run", "max_repeat_char_run", "max", None),
    ("korean_hangul_ratio", "min_hangul_ratio", "min", None),
    ("korean_hangul_char_ratio", "min_hangul_char_ratio", "min", None),
]

_MRC_EVIDENCE = {
    "mrc_span_invalid": "mrc_span_problem",
    "mrc_impossible_with_answers": "mrc_impossible_with_answers",
    "mrc_duplicate_question": "mrc_duplicate_of",
    "mrc_answer_length": "mrc_answer_chars",
    "mrc_question_length": "mrc_question_chars",
    "mrc_question_form": "mrc_question_form",
    "mrc_answer_ambiguous": "mrc_answer_occurrences",
    "mrc_mismatched": "mrc_overlap",
    "mrc_too_easy": "mrc_copied",
    "mrc_context_too_long": "mrc_context_words",
    "mrc_over_token_budget": "mrc_input_tokens",
    "mrc_answer_beyond_budget": "mrc_answer_end_tokens",
}


def _mrc_thresholds(params: Params, kind: str) -> list[Threshold]:
    context = "mrc_context_chars" if params.get("context_unit") == "chars" else "mrc_context_words"
    specs: list[Spec] = [
        *_bounds("mrc_answer_chars", "min_answer_chars", "max_answer_chars"),
        *_bounds("mrc_question_chars", "min_question_chars", "max_question_chars"),
        ("mrc_answer_occurrences", "max_answer_occurrences", "max", None),
        ("mrc_overlap", "mismatch_overlap", "min", "fails at or below"),
        ("mrc_copied", "too_easy_copied", "max", "fails at or above"),
        (context, "max_context_tokens", "max", None),
    ]
    if params.get("tokenizer"):
        specs += [("mrc_input_tokens", "max_length", "max", None), ("mrc_answer_end_tokens", "max_length", "max", None)]
    return _rules(params, specs)


def _length_thresholds(params: Params, kind: str) -> list[Threshold]:
    column = params.get("column") or f"{params.get('field')}_{params.get('unit', 'chars')}"
    return _rules(params, _bounds(column, "min", "max"))


def _language_thresholds(params: Params, kind: str) -> list[Threshold]:
    fields = params.get("fields") or list(_text_fields(kind)[:1])
    return _rules(params, [(f"lang_{f}_score", "threshold", "min", None) for f in fields])


def _token_thresholds(params: Params, kind: str) -> list[Threshold]:
    prefix = params.get("prefix", "tokens")
    fields = stage_fields(params, kind)
    return _rules(params, [spec for f in fields for spec in _bounds(f"{prefix}_{f}", "min_tokens", "max_tokens")])


def _pii_flags(params: Params) -> Flags | None:
    return Flags("pii_kinds", "list") if params.get("action") == "flag" else None


def _pii_rewrites(params: Params) -> Rewrites | None:
    return (
        Rewrites(where="pii_count > 0", what="pii_kinds", columns=("answers",))
        if params.get("action", "redact") == "redact"
        else None
    )


STAGES: dict[str, StageInfo] = {
    "validate_spans": StageInfo(
        rewrites=lambda p: Rewrites(where="span_repair IS NOT NULL", what="span_repair", columns=("answers",))
    ),
    "normalize_text": StageInfo(rewrites=lambda p: Rewrites(columns=("answers", "plausible_answers"))),
    "language_id": StageInfo(languages=True),
    "language_filter": StageInfo(thresholds=_language_thresholds, languages=True),
    "length_filter": StageInfo(thresholds=_length_thresholds),
    "token_count": StageInfo(thresholds=_token_thresholds),
    "gopher_quality": StageInfo(thresholds=_quality("gopher_", _GOPHER_QUALITY)),
    "gopher_repetition": StageInfo(thresholds=_quality("gopher_", _GOPHER_REPETITION)),
    "c4_quality": StageInfo(thresholds=_quality("c4_", _C4)),
    "fineweb_quality": StageInfo(thresholds=_quality("fineweb_", _FINEWEB)),
    "korean_quality": StageInfo(thresholds=_quality("korean_", _KOREAN)),
    "quality_classifier": StageInfo(
        thresholds=lambda p, k: _rules(p, [(p.get("column", "quality_score"), "threshold", "min", None)])
    ),
    "pii": StageInfo(flags=_pii_flags, rewrites=_pii_rewrites, sensitive=True),
    "minhash_dedup": StageInfo(
        rewrites=lambda p: (
            Rewrites(where="repointed_from IS NOT NULL", what="repointed_from", columns=("answers",))
            if p.get("unit") == "context"
            else None
        )
    ),
    "chunk_passages": StageInfo(rewrites=lambda p: Rewrites(what="parent_id", columns=("answers",))),
    "mrc_checks": StageInfo(
        thresholds=_mrc_thresholds, flags=lambda p: Flags("mrc_flags", "list", evidence=_MRC_EVIDENCE)
    ),
    "answer_issues": StageInfo(
        flags=lambda p: Flags(
            "answer_flags",
            "list",
            evidence={
                "answer_type_mismatch": "answer_type_quality",
                "answer_disagreement": "answer_agreement",
                "reader_disagreement": "reader_match",
            },
        ),
        labels=LabelPair(
            "asked_type", "answer_type", "answer_type_quality", "list_contains(answer_flags, 'answer_type_mismatch')"
        ),
    ),
    "label_issues": StageInfo(
        flags=lambda p: Flags("label_issue", "bool", name="label_issue", evidence={"label_issue": "label_quality"}),
        labels=LabelPair("label", "suggested_label", "label_quality", "label_issue"),
    ),
    "decontaminate": StageInfo(
        flags=lambda p: Flags("contaminated", "bool", name="contaminated", evidence={"contaminated": "contamination"})
    ),
    "retrieval_checks": StageInfo(flags=lambda p: Flags("retrieval_flags", "list")),
    "retrieval_label_issues": StageInfo(flags=lambda p: Flags("label_flags", "list")),
}


def stage_info(use: str) -> StageInfo:
    """The report's knowledge of stage ``use`` (an empty :class:`StageInfo` for stages it does not know)."""
    return STAGES.get(use, StageInfo())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
