"""Quality heuristics as scorer stages: ``gopher_quality``, ``gopher_repetition``, ``c4_quality``,
``fineweb_quality`` and ``korean_quality``.

Each stage scores one text column (``field``; default the kind's first text field: ``context`` for
MRC, ``text`` for documents, classification, corpus and queries, ``query`` for triplets) with the
pure functions of :mod:`curate.quality.heuristics`, adds one score column per rule (named
``<stage prefix>_<statistic>``, e.g. ``gopher_word_count``), then rejects the rows that fail a
rule. The reason code of a rule is its column name; a row failing several rules gets the first
failing rule (in the order listed in the stage docstring) as ``reject_reason`` and every failure,
value against threshold, in ``reject_detail`` (``"gopher_word_count=12 < 50;
gopher_stop_words=0 < 2"``). Every threshold is a parameter; null switches its rule off.

Scores are reused when the input already has the stage's columns (see
:mod:`curate.stages.scoring`), so a second run with other thresholds does not recompute them. The
columns describe the field they were computed from: to score another field of the same rows, set
``reuse_scores: false`` (or drop the columns first).

The published rules were written for English web pages. Korean choices (definitions in
:mod:`curate.quality.heuristics`, thresholds in the parameter docstrings):

- words are whitespace tokens (eojeol); Gopher's word-count and mean-word-length bounds have
  Korean counterparts used when Hangul is at least half of the letters (``korean_min_hangul``):
  40..80,000 eojeol (50..100,000 x 0.8, the eojeol/word ratio of Korean to English news
  sentences) and a mean eojeol length of 2..7 characters (English: 3..10);
- Gopher's English stop-word rule is never applied to Korean text; a Korean function-word rule
  (share of eojeol ending in a particle or ending, at least 0.3) takes its place;
- a word has a letter when it has any Unicode letter; Hangul shares are columns;
- C4 and FineWeb line ends accept Korean final endings (다 요 죠 까 네 냐) and ``…`` after Hangul;
  short lines are 2 eojeol (C4) / 16 characters (FineWeb) in Korean text; C4's policy and
  Javascript phrases include the Korean ones; C4's bad-words rule is not applied (no word list is
  shipped);
- ``korean_quality`` (not a published filter) rejects mostly-jamo texts (``ㅋㅋㅋ``, ``ㅠㅠ``,
  ``ㅁㄴㅇㄹ``) and long runs of one letter or jamo (``ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ``; punctuation runs
  such as ``..........`` pass).

The rules judge documents: on short texts (reviews, questions) several of them reject most rows by
design (Gopher's 50-word minimum, C4's five sentences, Gopher's symbol and ellipsis ratios), so
switch those rules off for such data. On the 712,404 NSMC reviews the defaults reject: 100 %
(``gopher_quality``, word count), 0.3 % (``gopher_repetition``), 99.3 % (``c4_quality``, fewer
than 5 sentences), 50.5 % (``fineweb_quality``; first reasons: no sentence end 36.6 %, short
lines 13.9 %) and 0.5 % (``korean_quality``).

Usage::

    - use: gopher_quality            # documents; Korean bounds apply to Hangul-dominant text
    - use: korean_quality            # reviews: mostly-jamo texts and long ㅋㅋㅋ/ㅠㅠㅠ runs
      params: {field: text, max_repeat_char_run: 20}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_type_hints

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.errors import ConfigError, Where
from curate.quality import heuristics
from curate.schemas import get_schema
from curate.stages.base import ColumnType
from curate.stages.scoring import ScoreParams, ScoreStage, Verdict, map_unique, verdict

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]
Length = Annotated[float, Field(ge=0.0)]
Op = Literal["<", "<=", ">", ">=", "is"]

_TEXT_KINDS = ("mrc", "classification", "corpus", "document", "queries", "triplets")
_ARROW_TYPES: dict[Any, pa.DataType] = {int: pa.int32(), float: pa.float64(), bool: pa.bool_()}


@dataclass(frozen=True)
class Rule:
    """One threshold test on one score column: the row fails when ``value <op> threshold``
    (``"is"``: when the boolean column is true). ``rows`` limits the rule to some rows (a language);
    ``note`` is appended to the detail."""

    column: str
    op: Op
    threshold: float | bool | None
    rows: np.ndarray | None = None
    note: str = ""


class QualityParams(ScoreParams):
    field: str | None = None
    """Text column to score; default the kind's first text field (``context`` for MRC)."""


def _check_bounds(params: Any, pairs: Sequence[tuple[str, str]]) -> None:
    for low, high in pairs:
        lo, hi = getattr(params, low), getattr(params, high)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"{low} ({lo}) is greater than {high} ({hi})")


class QualityStage(ScoreStage):
    """Shared machinery: score a text field with one heuristics function, test rules on columns."""

    kinds = _TEXT_KINDS
    params: QualityParams
    prefix: ClassVar[str]
    """Column prefix, e.g. ``gopher_``."""
    statistics: ClassVar[str]
    """Name of the :mod:`curate.quality.heuristics` function (looked up at call time)."""
    stats_type: ClassVar[type[tuple]]
    """The NamedTuple that function returns; its fields and types give the columns."""

    def field(self, kind: str) -> str:
        if self.params.field:
            return self.params.field
        fields = get_schema(kind).text_fields
        if not fields:
            raise ConfigError(f"kind '{kind}' has no text field", where=Where(stage=self.id), hint="set field")
        return fields[0]

    def required(self, kind: str) -> dict[str, ColumnType]:
        return {self.field(kind): "string"}

    @classmethod
    def column_types(cls) -> dict[str, pa.DataType]:
        hints = get_type_hints(cls.stats_type)
        return {f"{cls.prefix}{name}": _ARROW_TYPES[hints[name]] for name in cls.stats_type._fields}  # type: ignore[attr-defined]

    def column_names(self, kind: str) -> dict[str, str]:
        """Rule column -> column in the table. Scoring a field other than the kind's first text field
        puts the field's name after the prefix (``gopher_question_word_count``), so scores of two
        fields never stand in for each other."""
        field = self.field(kind)
        default = get_schema(kind).text_fields[:1]
        if [field] == list(default):
            return {name: name for name in self.column_types()}
        return {name: f"{self.prefix}{field}_{name.removeprefix(self.prefix)}" for name in self.column_types()}

    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        types = self.column_types()
        return {column: types[name] for name, column in self.column_names(kind).items()}

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        function: Callable[[str], tuple] = getattr(heuristics, self.statistics)
        texts = batch.column(self.field(kind)).to_pylist()
        stats = map_unique([text if text is not None else "" for text in texts], function)
        types, names = self.column_types(), self.column_names(kind)
        columns = list(zip(*stats, strict=True)) if stats else [()] * len(types)
        return {
            names[name]: pa.array(values, type) for (name, type), values in zip(types.items(), columns, strict=True)
        }

    def rules(self, scored: pa.Table) -> list[Rule]:
        """The rules in reason order (thresholds from the params)."""
        raise NotImplementedError

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        names = self.column_names(kind)
        scored = scored.select(list(names.values())).rename_columns(list(names))
        failures: dict[int, list[tuple[str, str]]] = {}
        for rule in self.rules(scored):
            if rule.threshold is None or rule.threshold is False:
                continue
            values = _floats(scored.column(rule.column))
            failed = _fails(values, rule.op, float(rule.threshold))
            if rule.rows is not None:
                failed &= rule.rows
            for i in np.flatnonzero(failed).tolist():
                failures.setdefault(i, []).append((rule.column, _detail(rule, values[i], names[rule.column])))
        return [verdict(failures[i]) if i in failures else None for i in range(scored.num_rows)]


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A score column as float64 (booleans as 0/1, nulls as NaN, which fail no rule)."""
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int8())
    values = pc.cast(column, pa.float64()).to_numpy()
    return np.asarray(values, dtype=np.float64)


def _fails(values: np.ndarray, op: Op, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if op == "<":
            return values < threshold
        if op == "<=":
            return values <= threshold
        if op == ">":
            return values > threshold
        if op == ">=":
            return values >= threshold
        return values == 1.0


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


def _detail(rule: Rule, value: float, column: str) -> str:
    if rule.op == "is":
        return f"{column}=true"
    assert rule.threshold is not None
    text = f"{column}={_number(value)} {rule.op} {_number(float(rule.threshold))}"
    return f"{text} ({rule.note})" if rule.note else text


# ----------------------------------------------------------------- gopher_quality


class GopherQualityParams(QualityParams):
    min_words: Count | None = 50
    """Fewest words (whitespace tokens besides punctuation) in non-Korean text; Gopher: 50 (Rae et
    al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
    appendix A)."""
    max_words: Count | None = 100_000
    """Most words in non-Korean text; Gopher: 100,000 (appendix A)."""
    min_words_ko: Count | None = 40
    """Fewest eojeol in Hangul-dominant text: Gopher's 50 words x 0.8, the ratio of eojeol to English
    words per sentence measured on Leipzig news sentences (13.9 eojeol against 17.7 words)."""
    max_words_ko: Count | None = 80_000
    """Most eojeol in Hangul-dominant text: Gopher's 100,000 words x 0.8."""
    min_mean_word_length: Length | None = 3.0
    """Smallest mean word length in characters, non-Korean text; Gopher: 3 (appendix A)."""
    max_mean_word_length: Length | None = 10.0
    """Largest mean word length in characters, non-Korean text; Gopher: 10 (appendix A)."""
    min_mean_word_length_ko: Length | None = 2.0
    """Smallest mean eojeol length in characters (syllables), Hangul-dominant text. Gopher's 3 is 0.6x
    the median English document (5.0); Korean news documents have a median of 3.3 (0.5th percentile
    2.85), and 0.6 x 3.3 = 2.0. Spaced-out syllables (1.0) and bare noun lists (median 2.0) fall
    below."""
    max_mean_word_length_ko: Length | None = 7.0
    """Largest mean eojeol length, Hangul-dominant text. Gopher's 10 is 2x the English median and
    1.7x its 99.5th percentile; for Korean news documents that gives 6.6 and 7.6. Text written
    without spaces lies above."""
    max_symbol_ratio: Ratio | None = 0.1
    """Most ``#`` per word, and most ellipses per word (both tested); Gopher: 0.1 (appendix A)."""
    max_bullet_lines_ratio: Ratio | None = 0.9
    """Largest share of lines starting with a bullet point; Gopher: 0.9 (appendix A)."""
    max_ellipsis_lines_ratio: Ratio | None = 0.3
    """Largest share of lines ending with an ellipsis; Gopher: 0.3 (appendix A)."""
    min_alpha_words_ratio: Ratio | None = 0.8
    """Smallest share of words with a letter (any Unicode letter, Hangul included); Gopher: 0.8
    (appendix A)."""
    min_stop_words: Count | None = 2
    """Fewest distinct English stop words (the, be, to, of, and, that, have, with) in non-Korean text;
    Gopher: 2 (appendix A; "at least two of" read as two distinct words). Never applied to
    Hangul-dominant text."""
    min_function_word_ratio_ko: Ratio | None = 0.3
    """Smallest share of eojeol ending in a common particle or ending (은 는 이 가 을 를 의 에 로 ... 다 요)
    in Hangul-dominant text, the Korean counterpart of the stop-word rule (not in Gopher). Measured
    on five-sentence Korean news documents: 0.5th percentile 0.43, median 0.60; on the same news
    reduced to its nouns (a keyword list): median 0.04, 99th percentile 0.28."""
    korean_min_hangul: Ratio | None = 0.5
    """Hangul share of the letters (``gopher_hangul_ratio``) from which a text counts as Korean: the
    ``*_ko`` thresholds and the function-word rule then apply instead of the English ones; null
    treats every text as non-Korean."""

    @model_validator(mode="after")
    def _bounds(self) -> GopherQualityParams:
        _check_bounds(
            self,
            [
                ("min_words", "max_words"),
                ("min_words_ko", "max_words_ko"),
                ("min_mean_word_length", "max_mean_word_length"),
                ("min_mean_word_length_ko", "max_mean_word_length_ko"),
            ],
        )
        return self


class GopherQuality(QualityStage):
    """Gopher's quality filter (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
    Insights from Training Gopher", appendix A), Korean-aware.

    Columns and rules (reason = column, in this order): ``gopher_word_count`` (outside
    [min_words, max_words]), ``gopher_mean_word_length`` (outside [min_mean_word_length,
    max_mean_word_length]), ``gopher_symbol_ratio`` (> max_symbol_ratio),
    ``gopher_bullet_lines_ratio`` (> max_bullet_lines_ratio), ``gopher_ellipsis_lines_ratio``
    (> max_ellipsis_lines_ratio), ``gopher_alpha_words_ratio`` (< min_alpha_words_ratio),
    ``gopher_stop_words`` (< min_stop_words, non-Korean text only),
    ``gopher_function_word_ratio`` (< min_function_word_ratio_ko, Korean text only), and
    ``gopher_hangul_ratio`` (no rule: it picks the Korean thresholds when >= korean_min_hangul).
    Words are whitespace tokens (eojeol), so the word count and mean length have Korean bounds.
    """

    name = "gopher_quality"
    role = "filter"
    description = "Gopher quality rules (word count, word length, symbols, bullets, stop words), Korean-aware"
    Params = GopherQualityParams
    params: GopherQualityParams
    prefix = "gopher_"
    statistics = "gopher_quality_stats"
    stats_type = heuristics.GopherQualityStats

    def rules(self, scored: pa.Table) -> list[Rule]:
        p = self.params
        if p.korean_min_hangul is None:
            korean = np.zeros(scored.num_rows, dtype=bool)
        else:
            korean = _floats(scored.column("gopher_hangul_ratio")) >= p.korean_min_hangul
        other = ~korean
        return [
            Rule("gopher_word_count", "<", p.min_words, other),
            Rule("gopher_word_count", "<", p.min_words_ko, korean, "Korean"),
            Rule("gopher_word_count", ">", p.max_words, other),
            Rule("gopher_word_count", ">", p.max_words_ko, korean, "Korean"),
            Rule("gopher_mean_word_length", "<", p.min_mean_word_length, other),
            Rule("gopher_mean_word_length", "<", p.min_mean_word_length_ko, korean, "Korean"),
            Rule("gopher_mean_word_length", ">", p.max_mean_word_length, other),
            Rule("gopher_mean_word_length", ">", p.max_mean_word_length_ko, korean, "Korean"),
            Rule("gopher_symbol_ratio", ">", p.max_symbol_ratio),
            Rule("gopher_bullet_lines_ratio", ">", p.max_bullet_lines_ratio),
            Rule("gopher_ellipsis_lines_ratio", ">", p.max_ellipsis_lines_ratio),
            Rule("gopher_alpha_words_ratio", "<", p.min_alpha_words_ratio),
            Rule("gopher_stop_words", "<", p.min_stop_words, other),
            Rule("gopher_function_word_ratio", "<", p.min_function_word_ratio_ko, korean, "Korean"),
        ]


# ----------------------------------------------------------------- gopher_repetition


class GopherRepetitionParams(QualityParams):
    max_dup_line_frac: Ratio | None = 0.30
    """Largest share of lines that repeat an earlier line; Gopher: 0.30 (Rae et al. 2021, appendix A,
    table A1)."""
    max_dup_para_frac: Ratio | None = 0.30
    """Largest share of paragraphs that repeat an earlier paragraph; Gopher: 0.30 (table A1)."""
    max_dup_line_char_frac: Ratio | None = 0.20
    """Largest share of characters in repeated lines; Gopher: 0.20 (table A1)."""
    max_dup_para_char_frac: Ratio | None = 0.20
    """Largest share of characters in repeated paragraphs; Gopher: 0.20 (table A1)."""
    max_top_2gram_frac: Ratio | None = 0.20
    """Largest share of word characters in the most frequent 2-gram; Gopher: 0.20 (table A1)."""
    max_top_3gram_frac: Ratio | None = 0.18
    """Same for the most frequent 3-gram; Gopher: 0.18 (table A1)."""
    max_top_4gram_frac: Ratio | None = 0.16
    """Same for the most frequent 4-gram; Gopher: 0.16 (table A1)."""
    max_dup_5gram_frac: Ratio | None = 0.15
    """Largest share of word characters in repeated 5-grams; Gopher: 0.15 (table A1)."""
    max_dup_6gram_frac: Ratio | None = 0.14
    """Same for 6-grams; Gopher: 0.14 (table A1)."""
    max_dup_7gram_frac: Ratio | None = 0.13
    """Same for 7-grams; Gopher: 0.13 (table A1)."""
    max_dup_8gram_frac: Ratio | None = 0.12
    """Same for 8-grams; Gopher: 0.12 (table A1)."""
    max_dup_9gram_frac: Ratio | None = 0.11
    """Same for 9-grams; Gopher: 0.11 (table A1)."""
    max_dup_10gram_frac: Ratio | None = 0.10
    """Same for 10-grams; Gopher: 0.10 (table A1)."""


class GopherRepetition(QualityStage):
    """Gopher's repetition filter (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
    Insights from Training Gopher", appendix A, table A1).

    Columns and rules (reason = column, in this order, each rejecting when above its ``max_*``
    parameter): ``gopher_dup_line_frac``, ``gopher_dup_para_frac``, ``gopher_dup_line_char_frac``,
    ``gopher_dup_para_char_frac``, ``gopher_top_{2,3,4}gram_frac``, ``gopher_dup_{5..10}gram_frac``.
    A repeat is an occurrence after the first. n-grams are over whitespace words, i.e. eojeol in
    Korean (a Korean n-gram spans more text than an English one, so the same thresholds are a
    little more lenient on Korean). Character shares count word characters (no whitespace) and
    are capped at 1.
    """

    name = "gopher_repetition"
    role = "filter"
    description = "Gopher repetition rules (repeated lines, paragraphs and word n-grams)"
    Params = GopherRepetitionParams
    params: GopherRepetitionParams
    prefix = "gopher_"
    statistics = "gopher_repetition_stats"
    stats_type = heuristics.GopherRepetitionStats

    def rules(self, scored: pa.Table) -> list[Rule]:
        return [
            Rule(column, ">", getattr(self.params, f"max_{column.removeprefix('gopher_')}"))
            for column in self.column_types()
        ]


# ----------------------------------------------------------------- c4_quality


class C4QualityParams(QualityParams):
    lorem_ipsum: bool | None = True
    """Reject text containing "lorem ipsum"; C4 removes such pages (Raffel et al. 2020, "Exploring
    the Limits of Transfer Learning with a Unified Text-to-Text Transformer", section 2.2)."""
    curly_bracket: bool | None = True
    """Reject text containing ``{``; C4 removes such pages (section 2.2)."""
    min_terminal_punct_ratio: Ratio | None = 1.0
    """Smallest share of lines ending a sentence. C4 keeps only lines ending in terminal punctuation
    (section 2.2); a stage never edits text, so the default 1.0 rejects any text C4 would cut."""
    max_short_lines_ratio: Ratio | None = 0.0
    """Largest share of lines with fewer than 3 words (2 eojeol in Korean text). C4 keeps only lines
    with at least 3 words (section 2.2); 0.0 rejects any text C4 would cut."""
    max_javascript_lines_ratio: Ratio | None = 0.0
    """Largest share of lines mentioning Javascript (자바스크립트). C4 removes such lines (section 2.2);
    0.0 rejects any text C4 would cut."""
    max_policy_lines_ratio: Ratio | None = 0.0
    """Largest share of lines with a policy phrase ("terms of use", "privacy policy", "cookie
    policy", "uses cookies", ...; 이용약관, 개인정보처리방침, 쿠키 정책 ...). C4's reference code (TensorFlow
    Datasets ``c4_utils``) removes such lines; 0.0 rejects any text C4 would cut."""
    min_sentences: Count | None = 5
    """Fewest sentences in the lines C4 would keep; C4 discards pages with fewer than 5 (section
    2.2)."""


class C4Quality(QualityStage):
    """C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a
    Unified Text-to-Text Transformer", section 2.2) as row rules, Korean-aware.

    Columns and rules (reason = column, in this order): ``c4_lorem_ipsum`` (true),
    ``c4_curly_bracket`` (true), ``c4_terminal_punct_ratio`` (< min_terminal_punct_ratio),
    ``c4_short_lines_ratio`` (> max_short_lines_ratio), ``c4_javascript_lines_ratio``
    (> max_javascript_lines_ratio), ``c4_policy_lines_ratio`` (> max_policy_lines_ratio),
    ``c4_sentences`` (< min_sentences). C4 drops offending lines and keeps the rest of the page; a
    stage cannot edit a row (answer offsets and labels point into it), so by default a row passes
    only when C4 would keep it unchanged. Raise the line thresholds to keep texts with a few such
    lines. Sentence ends accept Korean final endings without punctuation (다, 요, 죠, 까, 네, 냐) and
    ``…`` after Hangul; see :mod:`curate.quality.heuristics`. C4's bad-words rule is not applied:
    no word list is shipped.
    """

    name = "c4_quality"
    role = "filter"
    description = "C4 rules (terminal punctuation, short lines, javascript, policy, lorem ipsum, {, sentences)"
    Params = C4QualityParams
    params: C4QualityParams
    prefix = "c4_"
    statistics = "c4_stats"
    stats_type = heuristics.C4Stats

    def rules(self, scored: pa.Table) -> list[Rule]:
        p = self.params
        return [
            Rule("c4_lorem_ipsum", "is", p.lorem_ipsum),
            Rule("c4_curly_bracket", "is", p.curly_bracket),
            Rule("c4_terminal_punct_ratio", "<", p.min_terminal_punct_ratio),
            Rule("c4_short_lines_ratio", ">", p.max_short_lines_ratio),
            Rule("c4_javascript_lines_ratio", ">", p.max_javascript_lines_ratio),
            Rule("c4_policy_lines_ratio", ">", p.max_policy_lines_ratio),
            Rule("c4_sentences", "<", p.min_sentences),
        ]


# ----------------------------------------------------------------- fineweb_quality


class FineWebQualityParams(QualityParams):
    min_line_punct_ratio: Ratio | None = 0.12
    """Rows whose share of lines ending in punctuation is *at or below* this are rejected; FineWeb:
    0.12 (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text Data at
    Scale", custom filters)."""
    max_short_line_ratio: Ratio | None = 0.67
    """Rows whose share of short lines (<= 30 characters; <= 16 in Korean text) is *at or above*
    this are rejected; FineWeb: 0.67 with 30 characters (custom filters)."""
    max_dup_line_char_ratio: Ratio | None = 0.1
    """Rows whose share of characters in repeated lines is *at or above* this are rejected;
    FineWeb: 0.1 (custom filters; the released datatrove default is 0.01)."""
    max_list_ratio: Length | None = 0.3
    """Rows with more than this many newlines per word are rejected (a list, not prose); FineWeb's
    list rule, 0.3 (datatrove ``FineWebQualityFilter``). Kept at 0.3 for Korean: it then takes fewer
    than 3.3 eojeol per line, about 4 English words, a list either way."""


class FineWebQuality(QualityStage):
    """FineWeb's own quality filters (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web
    for the Finest Text Data at Scale", custom filters), Korean-aware.

    Columns and rules (reason = column, in this order): ``fineweb_line_punct_ratio``
    (<= min_line_punct_ratio), ``fineweb_short_line_ratio`` (>= max_short_line_ratio),
    ``fineweb_dup_line_char_ratio`` (>= max_dup_line_char_ratio), ``fineweb_list_ratio``
    (> max_list_ratio). The comparisons include equality where FineWeb's do. Line ends accept a
    trailing ``...`` (FineWeb counts any final ``.``) and Korean final endings; short lines are at
    most 16 characters in Hangul-dominant text (see :mod:`curate.quality.heuristics`).
    """

    name = "fineweb_quality"
    role = "filter"
    description = "FineWeb rules (line punctuation, short lines, duplicated line characters, lists)"
    Params = FineWebQualityParams
    params: FineWebQualityParams
    prefix = "fineweb_"
    statistics = "fineweb_stats"
    stats_type = heuristics.FineWebStats

    def rules(self, scored: pa.Table) -> list[Rule]:
        p = self.params
        return [
            Rule("fineweb_line_punct_ratio", "<=", p.min_line_punct_ratio),
            Rule("fineweb_short_line_ratio", ">=", p.max_short_line_ratio),
            Rule("fineweb_dup_line_char_ratio", ">=", p.max_dup_line_char_ratio),
            Rule("fineweb_list_ratio", ">", p.max_list_ratio),
        ]


# ----------------------------------------------------------------- korean_quality


class KoreanQualityParams(QualityParams):
    max_jamo_ratio: Ratio | None = 0.5
    """Largest share of bare jamo (ㅋ ㅎ ㅠ ㅜ ㄷ ...) among non-whitespace characters: above it the text
    is mostly laughter, crying or keyboard mash (``ㅋㅋㅋ``, ``ㅠㅠ``, ``ㅁㄴㅇㄹ``). ``재밌다ㅋㅋ`` is 0.4.
    In NSMC reviews 0.44 % are above 0.5 (99th percentile 0.33)."""
    max_repeat_char_run: Count | None = 10
    """Longest allowed run of one letter or one two-letter unit, jamo included (``ㅋㅋㅋ``, ``하하하``,
    ``ㅋㅎㅋㅎ``, ``ㅠㅠㅠ``); punctuation, symbols and digits never count (``.....``, ``!!!``, ``~~~``
    pass). In NSMC reviews the 99th percentile is 4 and 0.21 % have a run above 10."""
    min_hangul_ratio: Ratio | None = None
    """Smallest Hangul share of the letters; null (default): no rule (use language_id to pick a
    language)."""
    min_hangul_char_ratio: Ratio | None = None
    """Smallest Hangul share of the non-whitespace characters; null (default): no rule."""


class KoreanQuality(QualityStage):
    """Korean web-text noise: texts that are mostly bare jamo and long repeated runs.

    Columns and rules (reason = column, in this order): ``korean_jamo_ratio`` (> max_jamo_ratio),
    ``korean_repeat_char_run`` (> max_repeat_char_run), ``korean_hangul_ratio``
    (< min_hangul_ratio, off by default), ``korean_hangul_char_ratio`` (< min_hangul_char_ratio,
    off by default). Not a published filter: the rules target patterns the English rules miss
    (``ㅋㅋㅋㅋ``, ``ㅠㅠㅠ``, ``ㄷㄷ``, ``하하하하``), with defaults set from the NSMC review
    distribution so that ordinary use (``재밌다ㅋㅋ``, ``최고!!``, ``정말 재밌는 영화다.........``)
    passes. Works on any length of text, unlike the document rules of the other quality stages.
    """

    name = "korean_quality"
    role = "filter"
    description = "Korean noise rules (mostly bare jamo, long repeated character runs)"
    Params = KoreanQualityParams
    params: KoreanQualityParams
    prefix = "korean_"
    statistics = "korean_stats"
    stats_type = heuristics.KoreanStats

    def rules(self, scored: pa.Table) -> list[Rule]:
        p = self.params
        return [
            Rule("korean_jamo_ratio", ">", p.max_jamo_ratio),
            Rule("korean_repeat_char_run", ">", p.max_repeat_char_run),
            Rule("korean_hangul_ratio", "<", p.min_hangul_ratio),
            Rule("korean_hangul_char_ratio", "<", p.min_hangul_char_ratio),
        ]


QUALITY_STAGES: tuple[type[QualityStage], ...] = (
    GopherQuality,
    GopherRepetition,
    C4Quality,
    FineWebQuality,
    KoreanQuality,
)
"""Every quality stage, for the registry."""
