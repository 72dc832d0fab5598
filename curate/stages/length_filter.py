"""``length_filter``: score a text column's length, then keep rows within [min, max]."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import model_validator

from curate.stages.base import ColumnType, Params, Split, Stage, reject


class LengthFilterParams(Params):
    field: str
    """Text column to measure."""
    unit: Literal["chars", "words"] = "chars"
    """``chars``: Unicode code points; ``words``: whitespace-separated words (eojeol in Korean)."""
    min: int | None = None
    """Smallest length kept (inclusive); null: no lower bound."""
    max: int | None = None
    """Largest length kept (inclusive); null: no upper bound."""
    column: str | None = None
    """Name of the score column added; default ``<field>_<unit>``."""

    @model_validator(mode="after")
    def _bounds(self) -> LengthFilterParams:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class LengthFilter(Stage):
    """Adds ``<field>_<unit>`` (int32, null text counts 0) to every row, then rejects rows below
    ``min`` (reason ``too_short``) or above ``max`` (reason ``too_long``)."""

    name = "length_filter"
    role = "filter"
    description = "Add a length column (chars, words or tokens) and reject rows below min or above max."
    Params = LengthFilterParams
    params: LengthFilterParams

    @property
    def score_column(self) -> str:
        return self.params.column or f"{self.params.field}_{self.params.unit}"

    def required(self, kind: str) -> dict[str, ColumnType]:
        return {self.params.field: "string"}

    def added(self, kind: str) -> dict[str, pa.DataType]:
        return {self.score_column: pa.int32()}

    def process(self, batch: pa.Table, kind: str) -> Split:
        text = batch.column(self.params.field)
        if self.params.unit == "chars":
            lengths = pc.utf8_length(text)
        else:
            lengths = pc.list_value_length(pc.utf8_split_whitespace(text))
        lengths = pc.fill_null(lengths, 0).cast(pa.int32())
        table = batch.append_column(self.score_column, lengths)
        values = lengths.to_pylist()
        lo, hi = self.params.min, self.params.max
        reasons: list[str | None] = []
        details: list[str | None] = []
        for n in values:
            if lo is not None and n < lo:
                reasons.append("too_short")
                details.append(f"{self.score_column}={n} < min {lo}")
            elif hi is not None and n > hi:
                reasons.append("too_long")
                details.append(f"{self.score_column}={n} > max {hi}")
            else:
                reasons.append(None)
                details.append(None)
        keep = [r is None for r in reasons]
        return reject(table, keep, stage=self.id, reasons=reasons, details=details)
