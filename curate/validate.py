"""Dataset validation: one row per problem, and span repair for MRC data.

Schema conformance is checked when a dataset is read (a file that cannot take its schema is
unusable). On top of it, :func:`find_problems` reports, per row:

- every kind with an id column: ``duplicate_id`` (the key seen on an earlier row);
- every kind: ``empty_text`` (a required text field that is empty or only whitespace) and
  ``empty_value`` (another required text column, such as a label or an id, that is empty: an empty
  CSV cell reads as ``""``);
- ``mrc``: the span problems of :mod:`curate.mrc.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from curate import progress
from curate.dataset import Dataset
from curate.mrc.checks import check_row
from curate.schemas import get_schema
from curate.stages.validate_spans import ValidateSpans

PROBLEM_COLUMNS = ("row", "id", "field", "problem", "detail")


@dataclass
class Validation:
    """Problems of a dataset: ``problems`` has columns ``row`` (1-based), ``id``, ``field``,
    ``problem`` (code) and ``detail``, in row order."""

    rows: int
    problems: pa.Table

    @property
    def clean(self) -> bool:
        return self.problems.num_rows == 0

    def counts(self) -> dict[str, int]:
        """Problem code -> number of problems, most frequent first."""
        counts: dict[str, int] = {}
        for code in self.problems.column("problem").to_pylist():
            counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def rows_with_problems(self) -> int:
        return len(set(self.problems.column("row").to_pylist()))


def find_problems(dataset: Dataset) -> Validation:
    """Check every row of ``dataset``; see the module docstring for the problem codes."""
    schema = get_schema(dataset.kind)
    found: list[tuple[int, str | None, str, str, str]] = []
    seen: set[str] = set()
    required_text = [f.name for f in schema.fields if f.required and f.name in schema.text_fields]
    required_values = [
        f.name for f in schema.fields if f.required and f.name not in schema.text_fields and pa.types.is_string(f.type)
    ]
    row = 0
    for batch in progress.track(dataset.batches(), "checking", dataset.num_rows):
        ids = batch.column(schema.key).to_pylist() if schema.key else [None] * batch.num_rows
        texts = {name: batch.column(name).to_pylist() for name in required_text}
        values = {name: batch.column(name).to_pylist() for name in required_values}
        mrc = (
            batch.select(["context", "answers", "is_impossible", "plausible_answers"]).to_pylist()
            if dataset.kind == "mrc"
            else None
        )
        for i, row_id in enumerate(ids):
            row += 1
            if row_id is not None:
                if row_id in seen:
                    found.append(
                        (
                            row,
                            row_id,
                            schema.key or "",
                            "duplicate_id",
                            f"{schema.key} {row_id!r} used by an earlier row",
                        )
                    )
                seen.add(row_id)
            for name, column in texts.items():
                if not column[i].strip():
                    found.append((row, row_id, name, "empty_text", f"{name} is empty"))
            for name, column in values.items():
                if column[i] == "":
                    found.append((row, row_id, name, "empty_value", f"{name} is empty"))
            if mrc is not None:
                r = mrc[i]
                for p in check_row(r["context"], r["answers"], r["is_impossible"], r["plausible_answers"]):
                    found.append((row, row_id, p.field, p.code, p.detail))
    types = (pa.int64(), pa.string(), pa.string(), pa.string(), pa.string())
    problems = pa.table(
        {
            name: pa.array([p[i] for p in found], dtype)
            for i, (name, dtype) in enumerate(zip(PROBLEM_COLUMNS, types, strict=True))
        }
    )
    return Validation(rows=row, problems=problems)


def repair(dataset: Dataset) -> tuple[Dataset, Dataset]:
    """Repair MRC spans (see ``validate_spans``): returns (repaired rows with the input's columns,
    rows that could not be repaired, with ``reject_reason`` and ``reject_detail``)."""
    result = ValidateSpans(repair=True)(dataset)
    kept = result.kept.to_arrow().drop_columns(["span_repair"])
    return Dataset(kind=dataset.kind, table=kept, metadata=dataset.metadata), result.rejected
