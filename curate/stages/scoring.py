"""Score first, filter second: the base of every scorer/filter stage.

A :class:`ScoreStage` adds score columns to every row (:meth:`ScoreStage.score`), then decides from
those columns alone which rows fail (:meth:`ScoreStage.verdicts`). When the input already carries
all of the stage's score columns (an earlier run or an earlier scorer stage wrote them), they are
reused, so changing a threshold never recomputes a score::

    - use: language_id          # scores once: lang_context, lang_context_score, ...
    - use: language_filter      # reads those columns; editing its threshold re-runs only this step
      params: {languages: [ko], threshold: 0.5}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

import pyarrow as pa
from pydantic import Field

from curate import progress
from curate.stages.base import Params, Split, Stage, StageParams, reject

T = TypeVar("T")

SCORE_ROWS = 4096
"""Rows scored at a time inside a batch, so a slow scorer shows its progress (scores are per row)."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
"""A score or threshold between 0 and 1."""


class ScoreParams(Params):
    filter: bool = True
    """Reject rows that fail a rule; false only adds the score columns and counts the rows that fail
    a rule as flagged (per reason) in the stage's stats."""
    reuse_scores: bool = True
    """Reuse score columns the input already has (re-thresholding without recomputing); false
    recomputes them."""


@dataclass(frozen=True)
class Verdict:
    """Why one row fails: the ``reason`` code of the first failed rule and a ``detail`` naming
    every failed rule with its value, e.g. ``"word_count=3 < 50; symbol_ratio=0.4 > 0.1"``."""

    reason: str
    detail: str


def verdict(failures: Sequence[tuple[str, str]]) -> Verdict | None:
    """A :class:`Verdict` from ``(reason, detail)`` pairs in rule order, or None when empty."""
    if not failures:
        return None
    return Verdict(failures[0][0], "; ".join(detail for _, detail in failures))


def map_unique(values: Sequence[T], fn: Callable[[T], Any]) -> list[Any]:
    """``[fn(v) for v in values]``, calling ``fn`` once per distinct value (MRC rows repeat their
    context once per question). Values must be hashable; None maps to None."""
    cache: dict[Hashable, Any] = {}
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        key: Hashable = value  # type: ignore[assignment]
        if key not in cache:
            cache[key] = fn(value)
        out.append(cache[key])
    return out


def set_columns(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """Replace or append each named column."""
    for name, values in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    return table


class ScoreStage(Stage):
    """Base of scorer stages. Subclasses implement :meth:`score_columns`, :meth:`score` and
    :meth:`verdicts`; the base reuses existing scores and rejects failing rows with their rule."""

    Params: ClassVar[type[StageParams]] = ScoreParams
    params: ScoreParams

    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        """The columns :meth:`score` adds, in order, with their types."""
        raise NotImplementedError

    def added(self, kind: str) -> dict[str, pa.DataType]:
        return self.score_columns(kind)

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        """One array per score column, one value per row of ``batch`` (pure; must accept 0 rows)."""
        raise NotImplementedError

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        """One entry per row of ``scored`` (the batch with its score columns): None keeps the row."""
        raise NotImplementedError

    def _scores(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        """:meth:`score` on ``SCORE_ROWS`` rows at a time, stepping phase ``rows``."""
        if batch.num_rows <= SCORE_ROWS:
            return self.score(batch, kind)
        parts = []
        for start in range(0, batch.num_rows, SCORE_ROWS):
            parts.append(self.score(batch.slice(start, SCORE_ROWS), kind))
            progress.step("rows", min(start + SCORE_ROWS, batch.num_rows), batch.num_rows)
        return {name: pa.concat_arrays([part[name] for part in parts]) for name in parts[0]}

    def flagged(self, kept: pa.Table, kind: str) -> list[list[str]]:
        """With ``filter: false``, per kept row the flags it carries: the reason it would have been
        rejected for (``StageStats.flags``)."""
        return [[found.reason] if found else [] for found in self.verdicts(kept, kind)]

    def process(self, batch: pa.Table, kind: str) -> Split:
        columns = self.score_columns(kind)
        present = all(name in batch.column_names for name in columns)
        table = batch if present and self.params.reuse_scores else set_columns(batch, self._scores(batch, kind))
        if not self.params.filter:
            split = reject(table, [True] * table.num_rows, stage=self.id, reasons=[None] * table.num_rows)
            return split.marked(flags=self.flagged(split.kept, kind))
        found = self.verdicts(table, kind)
        keep = [v is None for v in found]
        reasons = [v.reason if v else None for v in found]
        details = [v.detail if v else None for v in found]
        return reject(table, keep, stage=self.id, reasons=reasons, details=details)
