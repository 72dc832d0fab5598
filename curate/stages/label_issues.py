"""``label_issues``: flag (or reject) classification rows whose label looks wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.labels.issues import (
    LabelIssueSettings,
    find_label_issues,
    label_classes,
    out_of_fold_probabilities,
    ranked_issues,
)
from curate.stages.base import ColumnType, PlannedStage, Split, names_in, reject

ADDED = ("label_issue", "label_quality", "suggested_label")
ISSUES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("text_pair", pa.string()),
        ("label", pa.string()),
        ("suggested_label", pa.string()),
        ("label_quality", pa.float32()),
        ("given_label_probability", pa.float32()),
    ]
)


class LabelIssuesParams(LabelIssueSettings):
    """The label-issue settings, where your own probabilities are, and whether flagged rows go."""

    pred_probs_column: str | None = None
    """A ``list<float>`` column holding your own model's out-of-fold probabilities, one per class in
    the order of ``classes`` (default: the sorted labels); skips cross-validation."""
    reject: bool = False
    """Reject the flagged rows (reason ``label_issue``); false only adds the columns."""


_NO_SCORES = pa.table(
    {
        "label_issue": pa.array([], pa.bool_()),
        "label_quality": pa.array([], pa.float32()),
        "suggested_label": pa.array([], pa.string()),
        "given_label_probability": pa.array([], pa.float32()),
        "suggested_probability": pa.array([], pa.float32()),
    }
)


@dataclass(frozen=True)
class LabelPlan:
    """cleanlab's scores per row (``label_issue``, ``label_quality``, ``suggested_label``,
    ``given_label_probability``, ``suggested_probability``) and the ``issues`` artifact (None on
    an empty dataset)."""

    scores: pa.Table
    issues: pa.Table | None = None


class LabelIssues(PlannedStage):
    """Find rows whose label disagrees with out-of-fold predictions (confident learning, cleanlab).

    Every row gets ``label_issue`` (bool), ``label_quality`` (probability of the given label; lower
    = more likely wrong) and ``suggested_label`` (the most probable class). With ``reject: true``
    flagged rows are rejected with reason ``label_issue`` and a detail such as
    ``given 'negative' (p=0.03), suggested 'positive' (p=0.95)``. The ``issues`` artifact lists the
    flagged rows worst first: ``id, text, text_pair, label, suggested_label, label_quality,
    given_label_probability``.
    """

    name = "label_issues"
    role = "flag"  # reject: true also rejects
    Params = LabelIssuesParams
    params: LabelIssuesParams
    kinds = ("classification",)
    requires = {"text": "string", "label": "any"}
    adds = {"label_issue": pa.bool_(), "label_quality": pa.float32(), "suggested_label": pa.string()}
    description = "Flag or reject classification rows whose label looks wrong (cleanlab)."

    def required(self, kind: str) -> dict[str, ColumnType]:
        column = self.params.pred_probs_column
        return {**self.requires, **({column: "list<float>"} if column else {})}

    def _error(self, what: str, field: str | None = None) -> ConfigError:
        return ConfigError(what, where=Where(stage=self.id, field=field))

    def plan(self, dataset: Dataset) -> LabelPlan:
        """Probabilities (cross-validated or given) and cleanlab's verdict for every row."""
        p = self.params
        table = dataset.to_arrow()
        if table.num_rows == 0:  # nothing to judge
            return LabelPlan(_NO_SCORES)
        labels = table.column("label").to_pylist()
        if any(label is None for label in labels):
            raise self._error("a row has no label", "label")
        try:
            if p.pred_probs_column:
                classes = label_classes(labels, p.classes)
                values = table.column(p.pred_probs_column).to_pylist()
                for row, probs in enumerate(values):
                    if probs is None or len(probs) != len(classes):
                        raise ConfigError(
                            f"expected {len(classes)} probabilities (classes: {', '.join(classes)})",
                            where=Where(stage=self.id, row=row, field=p.pred_probs_column),
                            value=probs,
                        )
                pred_probs = np.asarray(values, dtype=np.float64).reshape(len(values), len(classes))
            else:
                pairs = table.column("text_pair").to_pylist() if "text_pair" in table.column_names else None
                pred_probs, classes = out_of_fold_probabilities(
                    table.column("text").to_pylist(), labels, p, text_pairs=pairs, executor=self.tasks()
                )
            scores = find_label_issues(labels, pred_probs, classes, filter_by=p.filter_by)
        except ValueError as exc:
            raise self._error(str(exc), p.pred_probs_column or "label") from None
        best = pred_probs.max(axis=1) if len(labels) else np.zeros(0)
        scores_out = scores.append_column("suggested_probability", pa.array(best, pa.float32()))
        order = ranked_issues(scores)
        picked = table.take(pa.array(order, pa.int64()))
        scored = scores.take(pa.array(order, pa.int64()))
        n = len(order)
        issues = pa.table(
            {
                "id": picked.column("id").cast(pa.string())
                if "id" in picked.column_names
                else pa.nulls(n, pa.string()),
                "text": picked.column("text").cast(pa.string()),
                "text_pair": picked.column("text_pair").cast(pa.string())
                if "text_pair" in picked.column_names
                else pa.nulls(n, pa.string()),
                "label": picked.column("label").cast(pa.string()),
                "suggested_label": scored.column("suggested_label").cast(pa.string()),
                "label_quality": scored.column("label_quality"),
                "given_label_probability": scored.column("given_label_probability"),
            },
            schema=ISSUES_SCHEMA,
        )
        return LabelPlan(scores_out, issues)

    def split(self, batch: pa.Table, plan: LabelPlan, start: int) -> Split:
        part = plan.scores.slice(start, batch.num_rows)
        out = batch
        for name in ADDED:
            values = part.column(name)
            if name == "suggested_label":
                values = values.cast(pa.string())
            if name in out.column_names:
                out = out.set_column(out.column_names.index(name), name, values)
            else:
                out = out.append_column(name, values)
        flags = part.column("label_issue").to_pylist()
        if not self.params.reject:
            split = reject(out, [True] * out.num_rows, stage=self.id, reasons=[None] * out.num_rows)
            return split.marked(flags=names_in(split.kept, "label_issue", "label_issue"))
        given_p = part.column("given_label_probability").to_pylist()
        best_p = part.column("suggested_probability").to_pylist()
        suggested = out.column("suggested_label").to_pylist()
        labels = out.column("label").to_pylist()
        details = [
            f"given '{labels[i]}' (p={given_p[i]:.2f}), suggested '{suggested[i]}' (p={best_p[i]:.2f})"
            if flag
            else None
            for i, flag in enumerate(flags)
        ]
        return reject(
            out,
            [not flag for flag in flags],
            stage=self.id,
            reasons=["label_issue" if flag else None for flag in flags],
            details=details,
        )

    def plan_artifacts(self, plan: LabelPlan) -> dict[str, pa.Table]:
        return {"issues": plan.issues} if plan.issues is not None else {}
