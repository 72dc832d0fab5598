"""What a bias diagnosis returns, and how two diagnoses compare.

Every diagnosis is a :class:`Diagnostics`: three small Arrow tables with fixed schemas, so they
can be written as artifacts, queried with DuckDB and read back for a comparison.

``metrics`` (:data:`METRICS_SCHEMA`)
    one number per row: ``task`` (``classification``, ``mrc`` or ``retrieval``), ``section``
    (which diagnostic), ``metric``, ``value`` (float) and a ``detail`` in words (for example the
    token and labels of the best one-token rule).
``distributions`` (:data:`DISTRIBUTION_SCHEMA`)
    shares of rows: ``section``, ``group`` (the group the share is taken in, ``all`` for the
    whole set), ``category``, ``rows`` and ``share`` (rows / rows of the group). Label shares per
    length bucket are ``section=label_by_length, group=20-39, category=<label>``.
``tokens`` (:data:`TOKEN_SCHEMA`, classification only)
    token-label associations (see :mod:`curate.bias.tokens`), empty for other tasks.

:func:`compare` lines two diagnoses up (before and after a filter, a dedup, an augmentation) and
returns the shifts (:data:`SHIFT_SCHEMA`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc

Task = Literal["classification", "mrc", "retrieval"]
TASKS: tuple[Task, ...] = get_args(Task)

METRICS_SCHEMA = pa.schema(
    [
        pa.field("task", pa.string()),
        pa.field("section", pa.string()),
        pa.field("metric", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)
DISTRIBUTION_SCHEMA = pa.schema(
    [
        pa.field("section", pa.string()),
        pa.field("group", pa.string()),
        pa.field("category", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("share", pa.float64()),
    ]
)
TOKEN_SCHEMA = pa.schema(
    [
        pa.field("label", pa.string()),
        pa.field("token", pa.string()),
        pa.field("rank", pa.int32()),
        pa.field("rows", pa.int64()),
        pa.field("token_rows", pa.int64()),
        pa.field("label_rows", pa.int64()),
        pa.field("p_label", pa.float64()),
        pa.field("pmi", pa.float64()),
        pa.field("npmi", pa.float64()),
        pa.field("pmi_low", pa.float64()),
        pa.field("g", pa.float64()),
        pa.field("p_value", pa.float64()),
        pa.field("significant", pa.bool_()),
        pa.field("covered_by", pa.string()),
    ]
)
"""One row per (label, token) with a positive association (PMI > 0) among the tokens seen in at
least ``min_count`` rows: ``rows`` holding the token with the label, ``token_rows``, ``label_rows``,
``p_label`` = P(label | token), ``pmi``, ``npmi``, ``pmi_low`` (the lower end of PMI's confidence
interval), the G statistic ``g`` and its ``p_value``, ``significant`` (p below the
Bonferroni-corrected level), ``covered_by`` (a token one character longer found in at least 90% of
this token's rows) and ``rank`` in the label's list of shortcut tokens (null when not listed)."""
SHIFT_SCHEMA = pa.schema(
    [
        pa.field("section", pa.string()),
        pa.field("group", pa.string()),
        pa.field("name", pa.string()),
        pa.field("measure", pa.string()),
        pa.field("before", pa.float64()),
        pa.field("after", pa.float64()),
        pa.field("change", pa.float64()),
    ]
)
"""One row per compared number: metrics (``measure=value``, ``group`` empty), shares of the
distributions (``measure=share``; a category missing from a group has share 0, a group missing on
one side, such as a length bucket a filter emptied, has null shares there) and the shortcut
tokens of either side (``group`` = label, ``name`` = token, ``measure`` = ``p_label`` or ``rows``;
null where the token is not positively associated or below ``min_count`` on that side).
``change`` = after - before (null when either is null)."""


@dataclass(frozen=True)
class Diagnostics:
    """A bias diagnosis: ``metrics``, ``distributions`` and ``tokens`` (see the module notes)."""

    task: Task
    metrics: pa.Table
    distributions: pa.Table
    tokens: pa.Table

    def metric(self, section: str, metric: str) -> float | None:
        """The value of one metric (None when absent or undefined)."""
        for row in self.metrics.to_pylist():
            if row["section"] == section and row["metric"] == metric:
                return row["value"]  # type: ignore[no-any-return]
        return None

    def shares(self, section: str, group: str = "all") -> dict[str, float]:
        """``{category: share}`` of one distribution group."""
        return {
            row["category"]: row["share"]
            for row in self.distributions.to_pylist()
            if row["section"] == section and row["group"] == group
        }

    def shortcuts(self, label: str) -> list[str]:
        """The listed shortcut tokens of ``label``, best first."""
        rows = [r for r in self.listed().to_pylist() if r["label"] == label]
        return [r["token"] for r in sorted(rows, key=lambda r: r["rank"])]

    def listed(self) -> pa.Table:
        """The rows of ``tokens`` in a shortcut list (``rank`` not null)."""
        return self.tokens.filter(pc.is_valid(self.tokens.column("rank")))

    def artifacts(self) -> dict[str, pa.Table]:
        """The tables under their artifact names (``bias_metrics``, ``bias_distributions``,
        ``bias_tokens``)."""
        return {"bias_metrics": self.metrics, "bias_distributions": self.distributions, "bias_tokens": self.tokens}

    @classmethod
    def from_artifacts(cls, tables: Mapping[str, pa.Table]) -> Diagnostics:
        """Read back the tables of :meth:`artifacts` (a missing ``bias_tokens`` is empty)."""
        metrics = tables["bias_metrics"].cast(METRICS_SCHEMA)
        tasks = set(metrics.column("task").to_pylist())
        if len(tasks) != 1 or not tasks <= set(TASKS):
            raise ValueError(f"bias_metrics must name one task of {', '.join(TASKS)}, got {sorted(map(str, tasks))}")
        tokens = tables.get("bias_tokens")
        return cls(
            task=tasks.pop(),
            metrics=metrics,
            distributions=tables["bias_distributions"].cast(DISTRIBUTION_SCHEMA),
            tokens=TOKEN_SCHEMA.empty_table() if tokens is None else tokens.cast(TOKEN_SCHEMA),
        )


class MetricRows:
    """Collects metric rows of one task in order; :meth:`table` gives :data:`METRICS_SCHEMA`."""

    def __init__(self, task: Task):
        self.task = task
        self.rows: list[dict[str, Any]] = []

    def add(self, section: str, metric: str, value: float | None, detail: str | None = None) -> None:
        self.rows.append({"task": self.task, "section": section, "metric": metric, "value": value, "detail": detail})

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=METRICS_SCHEMA)


def share_rows(
    section: str,
    group: str,
    counts: Mapping[str, int],
    order: Sequence[str] | None = None,
    *,
    keep_empty: bool = False,
) -> list[dict[str, Any]]:
    """Distribution rows of one group: each category's rows and share of the group's rows, in
    ``order`` (default: the order of ``counts``); categories with no rows are left out, unless
    ``keep_empty`` (for groups read side by side, which then have the same categories)."""
    total = sum(counts.values())
    names = [c for c in (order if order is not None else counts) if keep_empty or counts.get(c, 0) > 0]
    return [
        {"section": section, "group": group, "category": c, "rows": counts.get(c, 0), "share": counts.get(c, 0) / total}
        for c in names
    ]


def distribution_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=DISTRIBUTION_SCHEMA)


def bucket_names(edges: Sequence[int]) -> list[str]:
    """Names of the integer buckets ``[edges[i], edges[i+1])``, the last open: ``0-9``, ``10-19``,
    ..., ``640+``."""
    names = [f"{a}-{b - 1}" if b - 1 > a else str(a) for a, b in itertools.pairwise(edges)]
    return [*names, f"{edges[-1]}+"]


def bucket_of(value: int, edges: Sequence[int]) -> int:
    """Index of the bucket of ``value`` (values below ``edges[0]`` go to the first)."""
    index = 0
    for i, edge in enumerate(edges):
        if value >= edge:
            index = i
    return index


# --------------------------------------------------------------------------- comparison


def _shift(
    section: str, group: str, name: str, measure: str, before: float | None, after: float | None
) -> dict[str, Any]:
    change = None if before is None or after is None else after - before
    return {
        "section": section,
        "group": group,
        "name": name,
        "measure": measure,
        "before": before,
        "after": after,
        "change": change,
    }


def compare(before: Diagnostics, after: Diagnostics) -> pa.Table:
    """The shifts from ``before`` to ``after`` (:data:`SHIFT_SCHEMA`), in this order: every metric
    (in ``before``'s order, then metrics only ``after`` has), every distribution share (see
    :data:`SHIFT_SCHEMA` for missing categories and groups), then for each label the shortcut tokens listed on
    either side (``before``'s list first): their P(label | token) and rows on both sides.

    Raises:
        ValueError: the two diagnoses are of different tasks.
    """
    if before.task != after.task:
        raise ValueError(f"cannot compare diagnoses of two tasks: {before.task} and {after.task}")
    rows: list[dict[str, Any]] = []

    def keyed(table: pa.Table, key: Sequence[str], value: str) -> dict[tuple[Any, ...], Any]:
        return {tuple(r[k] for k in key): r[value] for r in table.to_pylist()}

    metric_key = ("section", "metric")
    old, new = keyed(before.metrics, metric_key, "value"), keyed(after.metrics, metric_key, "value")
    for section, metric in dict.fromkeys([*old, *new]):
        rows.append(_shift(section, "", metric, "value", old.get((section, metric)), new.get((section, metric))))

    share_key = ("section", "group", "category")
    old, new = keyed(before.distributions, share_key, "share"), keyed(after.distributions, share_key, "share")
    old_groups, new_groups = {k[:2] for k in old}, {k[:2] for k in new}
    for section, group, category in dict.fromkeys([*old, *new]):
        key = (section, group, category)
        rows.append(
            _shift(
                section,
                group,
                category,
                "share",
                old.get(key, 0.0) if key[:2] in old_groups else None,
                new.get(key, 0.0) if key[:2] in new_groups else None,
            )
        )

    token_key = ("label", "token")
    old_p, new_p = keyed(before.tokens, token_key, "p_label"), keyed(after.tokens, token_key, "p_label")
    old_n, new_n = keyed(before.tokens, token_key, "rows"), keyed(after.tokens, token_key, "rows")
    labels = dict.fromkeys([*before.tokens.column("label").to_pylist(), *after.tokens.column("label").to_pylist()])
    for label in labels:
        for token in dict.fromkeys([*before.shortcuts(label), *after.shortcuts(label)]):
            pair = (label, token)
            rows.append(_shift("shortcut_tokens", label, token, "p_label", old_p.get(pair), new_p.get(pair)))
            n_old, n_new = old_n.get(pair), new_n.get(pair)
            rows.append(
                _shift(
                    "shortcut_tokens",
                    label,
                    token,
                    "rows",
                    None if n_old is None else float(n_old),
                    None if n_new is None else float(n_new),
                )
            )
    return pa.Table.from_pylist(rows, schema=SHIFT_SCHEMA)
