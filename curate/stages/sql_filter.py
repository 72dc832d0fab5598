"""``sql_filter``: keep the rows for which a DuckDB SQL predicate is true."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from curate.dataset import Dataset
from curate.stages.base import Params, Split, Stage, reject
from curate.stages.fields import sql_error


class SqlFilterParams(Params):
    where: str
    """A DuckDB SQL boolean expression over the row's columns, e.g. ``length(question) >= 5``."""
    reason: str = "sql_filter"
    """Reject reason given to rows where the predicate is false or null."""


class SqlFilter(Stage):
    """Evaluates ``where`` per row with DuckDB (any SQL function, regexp, list and struct access);
    false or null rejects the row with ``reason`` and the predicate as detail."""

    name = "sql_filter"
    Params = SqlFilterParams
    params: SqlFilterParams

    def reset(self) -> None:
        self._con = duckdb.connect()

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        self.reset()
        self._keep(dataset.schema.empty_table())

    def _keep(self, batch: pa.Table) -> pa.Array:
        self._con.register("batch", batch)
        try:
            result = self._con.sql(f"SELECT coalesce(CAST(({self.params.where}) AS BOOLEAN), false) AS keep FROM batch")
            keep = result.to_arrow_table().column("keep").combine_chunks()
        except duckdb.Error as exc:
            raise sql_error("bad SQL predicate", exc, stage=self.id, field="where", sql=self.params.where) from None
        finally:
            self._con.unregister("batch")
        return keep

    def process(self, batch: pa.Table, kind: str) -> Split:
        keep = self._keep(batch)
        return reject(
            batch, keep, stage=self.id, reasons=self.params.reason, details=[self.params.where] * batch.num_rows
        )
