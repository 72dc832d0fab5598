"""``answer_issues``: flag answers that do not fit their question (``curate.mrc.answer_issues``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import pyarrow as pa
from pydantic import Field

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.mrc.answer_issues import TYPED, answer_agreement, answer_types, reader_disagrees, reader_matches
from curate.stages.base import ColumnType, Params, PlannedStage, Split, names_in, reject
from curate.stages.scoring import Probability

Signal = Literal["answer_type_mismatch", "answer_disagreement", "reader_disagreement"]
SIGNALS: tuple[Signal, ...] = get_args(Signal)
FLAGS_COLUMN = "answer_flags"
_TYPE_TYPES = {"asked_type": pa.string(), "answer_type": pa.string(), "answer_type_quality": pa.float64()}
AGREEMENT_COLUMN = "answer_agreement"
READER_COLUMN = "reader_match"

ISSUE_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("question", pa.string()),
        pa.field("answers", pa.list_(pa.string())),
        pa.field("flags", pa.list_(pa.string())),
        pa.field("asked_type", pa.string()),
        pa.field("answer_type", pa.string()),
        pa.field("answer_type_quality", pa.float64()),
        pa.field("answer_type_method", pa.string()),
        pa.field("answer_agreement", pa.float64()),
        pa.field("prediction", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)
"""One row per flagged MRC row, worst first (most signals, then lowest answer-type quality)."""
TYPES_SCHEMA = pa.schema(
    [
        pa.field("asked_type", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("method", pa.string()),
        pa.field("flagged", pa.int64()),
        pa.field("note", pa.string()),
    ]
)
"""One row per question type: answered rows asking for it, how their answer type was found
(``classifier``, or ``rules`` when the type had fewer rows than folds), rows flagged, and the
run's note on the method."""


class AnswerIssuesParams(Params):
    signals: list[Signal] = Field(default_factory=lambda: list(SIGNALS))
    """Signals to compute; ``reader_disagreement`` runs only when ``prediction_column`` is given."""
    reject: list[Signal] = Field(default_factory=list)
    """Signals that reject a row (reason = the signal name); default none: flag only."""
    folds: int = Field(5, ge=2)
    """Folds of the out-of-fold answer-type classifier; a question type needs this many rows."""
    prediction_column: str | None = None
    """Column with a reader's predicted answer text, for ``reader_disagreement``."""
    confidence_column: str | None = None
    """Column with the reader's confidence (0-1) in its prediction; needed with ``prediction_column``."""
    min_confidence: Probability = 0.8
    """A prediction counts from this confidence up."""


@dataclass(frozen=True)
class AnswerPlan:
    """Per dataset row: the signal ``columns`` computed, the ``flags`` fired and their ``details``;
    the ``answer_issues`` and ``answer_types`` artifacts."""

    columns: dict[str, pa.Array]
    flags: list[list[str]]
    details: list[str | None]
    issues: pa.Table
    types: pa.Table | None


class AnswerIssues(PlannedStage):
    """Flag MRC rows whose answer does not fit the question: the answer's type is not what the
    question asks (``answer_type_mismatch``, a classifier trained on the answers with cleanlab),
    annotators gave answers that do not overlap (``answer_disagreement``), or the user's reader
    confidently predicts something else (``reader_disagreement``).

    Every row gets ``answer_flags`` (the signals that fired) and the columns of each signal
    computed: ``asked_type``, ``answer_type``, ``answer_type_quality`` (answer type); ``answer_agreement``
    (share of answer pairs that agree); ``reader_match`` (reader). The ``answer_issues`` artifact
    lists the flagged rows worst first, with how the answer type was found (``classifier`` or
    ``rules`` when a question type had too few rows) and a detail naming the answers; the
    ``answer_types`` artifact says, per question type, which method was used and how many rows it
    flagged.
    """

    name = "answer_issues"
    role = "flag"  # rejects only the signals listed in reject
    Params = AnswerIssuesParams
    params: AnswerIssuesParams
    kinds = ("mrc",)
    requires = {"question": "string", "answers": "any"}
    description = "Flag answers whose type, annotators or reader disagree with the question."

    def _signals(self) -> list[Signal]:
        p = self.params
        return [s for s in p.signals if s != "reader_disagreement" or p.prediction_column is not None]

    def required(self, kind: str) -> dict[str, ColumnType]:
        p = self.params
        reader = {c: "any" for c in (p.prediction_column, p.confidence_column) if c is not None}
        return {**self.requires, **(reader if p.prediction_column is not None else {})}

    def added(self, kind: str) -> dict[str, pa.DataType]:
        signals = self._signals()
        return {
            FLAGS_COLUMN: pa.list_(pa.string()),
            **(_TYPE_TYPES if "answer_type_mismatch" in signals else {}),
            **({AGREEMENT_COLUMN: pa.float64()} if "answer_disagreement" in signals else {}),
            **({READER_COLUMN: pa.bool_()} if "reader_disagreement" in signals else {}),
        }

    def check_input(self, dataset: Dataset) -> None:
        p = self.params
        if p.prediction_column is not None and p.confidence_column is None:
            raise ConfigError(
                f"missing parameter 'confidence_column' for stage '{self.name}'",
                where=Where(stage=self.id, field="confidence_column"),
                hint="reader_disagreement needs both prediction_column and confidence_column",
            )
        super().check_input(dataset)

    # ----------------------------------------------------------------- plan and split
    def plan(self, dataset: Dataset) -> AnswerPlan:
        return self._compute(dataset.to_arrow())

    def _compute(self, table: pa.Table) -> AnswerPlan:
        p = self.params
        signals = self._signals()
        n = table.num_rows
        questions = table.column("question").to_pylist()
        answers = [a or [] for a in table.column("answers").to_pylist()]
        texts = [[x.get("text") or "" for x in a] for a in answers]
        flags: list[list[str]] = [[] for _ in range(n)]
        notes: list[list[str]] = [[] for _ in range(n)]
        columns: dict[str, pa.Array] = {}
        method: list[str | None] = [None] * n
        quality: list[float | None] = [None] * n
        asked: list[str | None] = [None] * n
        found_type: list[str | None] = [None] * n
        note = ""
        if "answer_type_mismatch" in signals:
            result = answer_types(questions, [t[0] if t else None for t in texts], folds=p.folds)
            asked, found_type, quality, method = list(result.asked), result.answer_type, result.quality, result.method
            note = result.note
            for i in range(n):
                if result.mismatch[i]:
                    flags[i].append("answer_type_mismatch")
                    notes[i].append(f"asks {asked[i]}, answer {texts[i][0]!r} looks like {found_type[i]}")
            columns["asked_type"] = pa.array(asked, pa.string())
            columns["answer_type"] = pa.array(found_type, pa.string())
            columns["answer_type_quality"] = pa.array(quality, pa.float64())
        agreement: list[float | None] = [None] * n
        if "answer_disagreement" in signals:
            agreement = [answer_agreement(a) for a in answers]
            for i, value in enumerate(agreement):
                if value is not None and value < 1.0:
                    flags[i].append("answer_disagreement")
                    shown = ", ".join(f"{x.get('text')!r}@{x.get('answer_start')}" for x in answers[i])
                    notes[i].append(f"answers do not overlap: {shown}")
            columns[AGREEMENT_COLUMN] = pa.array(agreement, pa.float64())
        predictions: list[Any] = [None] * n
        confidences: list[Any] = [None] * n
        if "reader_disagreement" in signals:
            assert p.prediction_column is not None and p.confidence_column is not None
            predictions = _column(table, p.prediction_column)
            confidences = _column(table, p.confidence_column)
            matches: list[bool | None] = []
            for i in range(n):
                given = predictions[i] is not None or confidences[i] is not None
                matches.append(reader_matches(predictions[i], texts[i]) if given else None)
                conf = None if confidences[i] is None else float(confidences[i])
                if reader_disagrees(predictions[i], conf, texts[i], p.min_confidence):
                    flags[i].append("reader_disagreement")
                    notes[i].append(f"reader predicts {predictions[i]!r} ({conf:.2f}), gold {texts[i]}")
            columns[READER_COLUMN] = pa.array(matches, pa.bool_())
        details = ["; ".join(x) or None for x in notes]
        ids = _column(table, "id")
        order = sorted(
            (i for i in range(n) if flags[i]),
            key=lambda i: (-len(flags[i]), quality[i] if quality[i] is not None else 2.0, i),
        )
        rows = [
            {
                "row": i,
                "id": None if ids[i] is None else str(ids[i]),
                "question": questions[i],
                "answers": texts[i],
                "flags": flags[i],
                "asked_type": asked[i],
                "answer_type": found_type[i],
                "answer_type_quality": quality[i],
                "answer_type_method": method[i],
                "answer_agreement": agreement[i],
                "prediction": None if predictions[i] is None else str(predictions[i]),
                "confidence": None if confidences[i] is None else float(confidences[i]),
                "detail": details[i],
            }
            for i in order
        ]
        issues = pa.Table.from_pylist(rows, schema=ISSUE_SCHEMA)
        types = None
        if "answer_type_mismatch" in signals:
            summary = []
            for kind in TYPED:
                members = [i for i in range(n) if asked[i] == kind and method[i] is not None]
                used = {method[i] for i in members}
                summary.append(
                    {
                        "asked_type": kind,
                        "rows": len(members),
                        "method": "/".join(sorted(m for m in used if m)) or None,
                        "flagged": sum("answer_type_mismatch" in flags[i] for i in members),
                        "note": note,
                    }
                )
            types = pa.Table.from_pylist(summary, schema=TYPES_SCHEMA)
        return AnswerPlan(columns, flags, details, issues, types)

    def split(self, batch: pa.Table, plan: AnswerPlan, start: int) -> Split:
        end = start + batch.num_rows
        table = batch
        flags = plan.flags[start:end]
        table = table.append_column(FLAGS_COLUMN, pa.array(flags, pa.list_(pa.string())))
        for name, values in plan.columns.items():
            table = table.append_column(name, values[start:end])
        rejecting = set(self.params.reject)
        failed = [[f for f in row if f in rejecting] for row in flags]
        split = reject(
            table,
            [not f for f in failed],
            stage=self.id,
            reasons=[f[0] if f else None for f in failed],
            details=[d if f else None for f, d in zip(failed, plan.details[start:end], strict=True)],
        )
        return split.marked(flags=names_in(split.kept, FLAGS_COLUMN))

    def plan_artifacts(self, plan: AnswerPlan) -> dict[str, pa.Table]:
        out = {"answer_issues": plan.issues}
        if plan.types is not None:
            out["answer_types"] = plan.types
        return out


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
