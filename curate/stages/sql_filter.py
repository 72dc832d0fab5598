"""``sql_filter``: keep the rows for which a DuckDB SQL predicate is true."""

from __future__ import annotations

import pyarrow as pa

from curate.dataset import Dataset
from curate.errors import Where
from curate.sql import filter_rows
from curate.stages.base import Params, Split, Stage, reject


class SqlFilterParams(Params):
    where: str
    """A DuckDB SQL boolean expression over the row's columns, e.g. ``length(question) >= 5`` (one
    expression: no other statement, clause or subquery; it cannot read files; see :mod:`curate.sql`)."""
    reason: str = "sql_filter"
    """Reject reason given to rows where the predicate is false or null."""


class SqlFilter(Stage):
    """Evaluates ``where`` per row with DuckDB (any SQL function, regexp, list and struct access);
    false or null rejects the row with ``reason`` and the predicate as detail."""

    name = "sql_filter"
    role = "filter"
    description = "Keep rows for which a DuckDB SQL expression is true."
    Params = SqlFilterParams
    params: SqlFilterParams

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        self._keep(dataset.schema.empty_table())

    def _keep(self, batch: pa.Table) -> pa.Array:
        return filter_rows(batch, self.params.where, where=Where(stage=self.id, field="where"))

    def process(self, batch: pa.Table, kind: str) -> Split:
        keep = self._keep(batch)
        return reject(
            batch, keep, stage=self.id, reasons=self.params.reason, details=[self.params.where] * batch.num_rows
        )
