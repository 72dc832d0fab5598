"""``decontaminate``: flag or remove training rows that overlap an evaluation set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import field_validator

from curate.dataset import Dataset
from curate.dedup.contamination import (
    REPORT_SCHEMA,
    ContaminationSettings,
    default_fields,
    find_contamination,
)
from curate.errors import ConfigError, CurateError, Where
from curate.stages.base import ColumnType, PlannedStage, Split, names_in, reject


class DecontaminateParams(ContaminationSettings):
    """The contamination settings, the evaluation set and what happens to contaminated rows."""

    eval_path: str
    """The evaluation set: a file or folder in any readable format (SQuAD JSON, JSON Lines, CSV,
    Parquet, ...)."""
    eval_format: str | None = None
    """Format of ``eval_path``; inferred from the path when not given."""
    eval_kind: str | None = None
    """Schema kind of the evaluation set; default: the training set's kind."""
    eval_columns: dict[str, str] | None = None
    """Renames applied to the evaluation set before comparing: ``{source column: column}``."""
    fields: list[str] | None = None
    """Columns compared (each with the same column of the evaluation set); default: MRC ``context``
    and ``question`` (add ``answers`` to compare each answer on its own), other kinds their text fields."""
    drop: bool = True
    """Reject contaminated rows (reason ``contaminated``); false only flags them."""

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("fields must not be empty (leave it out for the default fields)")
        return value


@dataclass(frozen=True)
class ContaminationPlan:
    """Per training row: contaminated or not, and what overlaps; ``report``: the full report."""

    flags: np.ndarray
    summaries: list[str | None]
    report: pa.Table


class Decontaminate(PlannedStage):
    """Find training rows that overlap an evaluation set (near-duplicate texts by MinHash, shared runs
    of 13 words or 50 characters, exact short texts), then reject or flag them.

    Kept rows get ``contaminated`` (bool) and ``contamination`` (what overlaps, e.g.
    ``context~xq-12 (minhash 0.93, +4 more); question=xq-12 (exact)``; null when clean). With
    ``drop`` contaminated rows are rejected with reason ``contaminated`` and the same text as detail
    (and in a ``contamination`` column). The ``contamination`` artifact is the full report:
    ``train_id, eval_id, field, method, overlap, shared``.
    """

    name = "decontaminate"
    role = "filter"  # drop: false only flags
    description = "Reject (or flag) rows that overlap an evaluation set (MinHash, shared runs, exact short texts)."
    Params = DecontaminateParams
    params: DecontaminateParams
    adds = {"contaminated": pa.bool_(), "contamination": pa.string()}
    reject_extras = {"contamination": pa.string()}
    rejects_added = False

    def _fields(self, kind: str) -> list[str]:
        return list(self.params.fields) if self.params.fields else default_fields(kind)

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(self._fields(kind), "any")

    def check_input(self, dataset: Dataset) -> None:
        if not self._fields(dataset.kind):
            raise ConfigError(
                f"kind '{dataset.kind}' has no text fields to compare",
                where=Where(stage=self.id, field="fields"),
                value=dataset.kind,
                hint="pass fields",
            )
        super().check_input(dataset)
        if not Path(self.params.eval_path).exists():
            raise ConfigError(
                "evaluation set not found",
                where=Where(stage=self.id, file=self.params.eval_path, field="eval_path"),
                hint="check the path (relative paths start from the working directory)",
            )

    def read_eval(self, train_kind: str) -> Dataset:
        """The evaluation set, read with ``eval_format``/``eval_kind``/``eval_columns``."""
        from curate import io

        p = self.params
        try:
            return io.read(p.eval_path, format=p.eval_format, kind=p.eval_kind or train_kind, rename=p.eval_columns)
        except CurateError as exc:
            raise exc.at(stage=self.id, file=p.eval_path) from None

    def plan(self, dataset: Dataset) -> ContaminationPlan:
        """Compare the whole training set with the evaluation set."""
        evaluation = self.read_eval(dataset.kind)
        try:
            found = find_contamination(
                dataset, evaluation, fields=self._fields(dataset.kind), settings=self.params, executor=self.tasks()
            )
        except CurateError as exc:
            raise exc.at(stage=self.id) from None
        return ContaminationPlan(found.contaminated, found.summaries(), found.report.cast(REPORT_SCHEMA))

    def split(self, batch: pa.Table, plan: ContaminationPlan, start: int) -> Split:
        n = batch.num_rows
        flags, summaries = plan.flags[start : start + n], plan.summaries[start : start + n]
        summary = pa.array(summaries, pa.string())
        flagged = batch.append_column("contaminated", pa.array(flags, pa.bool_()))
        flagged = flagged.append_column("contamination", summary)
        if not self.params.drop:
            split = reject(flagged, [True] * n, stage=self.id, reasons="contaminated")
            return split.marked(flags=names_in(split.kept, "contaminated", "contaminated"))
        keep = pa.array(~flags, pa.bool_())
        details: list[str | None] = [None if s is None else f"overlaps the evaluation set: {s}" for s in summaries]
        split = reject(
            batch, keep, stage=self.id, reasons="contaminated", details=details, extra={"contamination": summary}
        )
        return Split(flagged.filter(keep), split.rejected)

    def plan_artifacts(self, plan: ContaminationPlan) -> dict[str, pa.Table]:
        return {"contamination": plan.report}

    def input_files(self) -> list[Path]:
        return [Path(self.params.eval_path)]
