"""``quality_classifier``: score rows with a fastText quality model made by ``curate train-quality``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.quality.classifier import good_probability, label_token
from curate.schemas import get_schema
from curate.stages.base import ColumnType
from curate.stages.scoring import Probability, ScoreParams, ScoreStage, Verdict, map_unique
from curate.text.langid import load_fasttext


class QualityClassifierParams(ScoreParams):
    model: str
    """Path to the fastText model written by ``curate train-quality`` (``.bin`` or ``.ftz``)."""
    field: str | None = None
    """Text column scored; default: the kind's first text field (MRC: context)."""
    good: str = "good"
    """The label that means "keep"."""
    threshold: Probability = 0.5
    """Smallest probability of ``good`` kept."""
    column: str = "quality_score"
    """Name of the score column (float32, P(good))."""


class QualityClassifier(ScoreStage):
    """Adds ``quality_score`` = P(good) from the model; rejects rows below ``threshold`` with
    reason ``low_quality``."""

    name = "quality_classifier"
    role = "filter"
    description = "Add quality_score from a fastText model and reject rows below the threshold."
    Params = QualityClassifierParams
    params: QualityClassifierParams
    _model: Any = None

    def field(self, kind: str) -> str:
        if self.params.field:
            return self.params.field
        fields = get_schema(kind).text_fields
        if not fields:
            raise ConfigError(f"kind '{kind}' has no text field", where=Where(stage=self.id), hint="set params.field")
        return fields[0]

    def input_files(self) -> list[Path]:
        return [Path(self.params.model)]

    def required(self, kind: str) -> dict[str, ColumnType]:
        return {self.field(kind): "string"}

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        model = self.model()
        if label_token(self.params.good) not in model.get_labels():
            raise ConfigError(
                "the model has no such label",
                where=Where(file=self.params.model, stage=self.id, field="good"),
                value=self.params.good,
                hint=f"labels: {', '.join(label.removeprefix('__label__') for label in model.get_labels())}",
            )

    def model(self) -> Any:
        if self._model is None:
            path = Path(self.params.model)
            if not path.is_file():
                raise ConfigError(
                    "quality model not found",
                    where=Where(file=str(path), stage=self.id, field="model"),
                    hint="train one with: curate train-quality LABELLED_FILE --out MODEL.bin",
                )
            try:
                self._model = load_fasttext(str(path))
            except ValueError as exc:
                raise ConfigError(
                    "not a fastText model", where=Where(file=str(path), stage=self.id), hint=str(exc)
                ) from None
        return self._model

    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        return {self.params.column: pa.float32()}

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        texts = batch.column(self.field(kind)).to_pylist()
        distinct = list(dict.fromkeys(t for t in texts if t is not None))
        found = [float(p) for p in good_probability(self.model(), distinct, self.params.good)]
        probabilities = dict(zip(distinct, found, strict=True))
        scores = [0.0 if p is None else p for p in map_unique(texts, probabilities.__getitem__)]
        return {self.params.column: pa.array(scores, pa.float32())}

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        threshold, column = self.params.threshold, self.params.column
        return [
            Verdict("low_quality", f"{column}={score:.3f} < {threshold}") if score < threshold else None
            for score in scored.column(column).to_pylist()
        ]
