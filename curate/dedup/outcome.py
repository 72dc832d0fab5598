"""What a dedup stage writes for each row, built from its decisions (pure, no I/O).

Per row: kept or removed with a reason (``exact_duplicate``, ``near_duplicate``, ``label_conflict``),
``duplicate_of`` (the id of the row it duplicates or conflicts with), ``similarity`` (the one that
decided), its cluster, a detail, and ``dedup_conflicts``: the ids of rows whose text duplicates this
row's while their label or answers differ. The ``conflicts`` table holds those pairs, one row each
(``id, other_id, reason, similarity, detail``), for review.

Conflict reasons: ``label_conflict`` (a labelled row removed: the kept row is flagged, one of the
two labels is wrong), ``answers_differ`` (MRC questions that read alike but are answered otherwise:
both kept, both flagged), ``answer_not_in_passage`` (``unit: context``: a question left on its own
passage because the kept near-duplicate passage does not hold its answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dedup.agreement import Answer
from curate.dedup.assign import Assignment, cluster_ids
from curate.errors import show_value

CONFLICTS_COLUMN = "dedup_conflicts"
CONFLICTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("other_id", pa.string()),
        ("reason", pa.string()),
        ("similarity", pa.float64()),
        ("detail", pa.string()),
    ]
)

DECISIONS_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("id", pa.string()),
        ("keep", pa.bool_()),
        ("reason", pa.string()),
        ("duplicate_of", pa.string()),
        ("detail", pa.string()),
        ("similarity", pa.float64()),
        ("cluster", pa.int64()),
        ("conflicts", pa.list_(pa.string())),
        ("flags", pa.list_(pa.string())),
    ]
)

T = TypeVar("T")

Describe = Callable[[int, int, float, bool], str]
"""``(row, other row, similarity, exact) -> detail`` of a plain duplicate."""


def how_similar(similarity: float, exact: bool, threshold: float | None = None) -> str:
    """``similarity 0.83 (true Jaccard) >= 0.8``: the value that decided and how it was measured."""
    text = f"similarity {similarity:.2f} ({'true Jaccard' if exact else 'MinHash estimate'})"
    if threshold is None:
        return text
    return text + (f" >= {threshold:g}" if similarity >= threshold else f", below {threshold:g}")


def near_duplicate_detail(other: str, how: str, similarity: float, threshold: float) -> str:
    """The detail of a row removed as a near-duplicate of row ``other``: ``how`` similar it is,
    and whether it was joined through other rows because it is below ``threshold``."""
    text = f"near-duplicate of {other!r}: {how}"
    return text if similarity >= threshold else text + " (joined through other near-duplicates)"


@dataclass
class Outcome:
    """Per-row decisions of a dedup stage over the rows identified by ``keys``: ``keep``,
    ``similarity`` and ``cluster`` per row; ``reason``, ``duplicate_of``, ``detail`` and
    ``conflicts`` only for the rows that have one (:meth:`rows` reads a range of them)."""

    keys: list[str]
    keep: np.ndarray = field(init=False)
    similarity: np.ndarray = field(init=False)
    cluster: np.ndarray = field(init=False)
    reason: dict[int, str] = field(init=False, default_factory=dict)
    duplicate_of: dict[int, str] = field(init=False, default_factory=dict)
    detail: dict[int, str] = field(init=False, default_factory=dict)
    conflicts: dict[int, list[str]] = field(init=False, default_factory=dict)
    pairs: list[dict] = field(init=False, default_factory=list)
    pair_rows: list[int] = field(init=False, default_factory=list)
    flagged: dict[str, set[int]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.keys)
        self.keep = np.ones(n, bool)
        self.similarity = np.full(n, np.nan)
        self.cluster = np.full(n, -1, np.int64)

    @staticmethod
    def rows(values: dict[int, T], start: int, end: int) -> list[T | None]:
        """``values`` of the rows ``start:end`` (None where a row has none)."""
        return [values.get(row) for row in range(start, end)]

    def remove(self, row: int, reason: str, other: str, similarity: float, detail: str) -> None:
        self.keep[row] = False
        self.reason[row], self.duplicate_of[row], self.detail[row] = reason, other, detail
        self.similarity[row] = similarity

    def flag(self, row: int, other: str, reason: str) -> None:
        """Add ``other`` to the row's ``dedup_conflicts`` (counted under ``reason`` if it is kept)."""
        self.flagged.setdefault(reason, set()).add(row)
        flagged = self.conflicts.setdefault(row, [])
        if other not in flagged:
            flagged.append(other)

    def pair(self, row: int, other: str, reason: str, similarity: float, detail: str) -> None:
        """Record a conflict pair; the kept side(s) are flagged by the caller."""
        self.pairs.append(
            {"id": self.keys[row], "other_id": other, "reason": reason, "similarity": similarity, "detail": detail}
        )
        self.pair_rows.append(row)

    def conflicts_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.pairs, schema=CONFLICTS_SCHEMA)

    def decisions(self, rows: np.ndarray | None = None) -> Decisions:
        """The rows with a decision (removed, in a cluster, flagged or listing conflicts) as
        :class:`Decisions`; ``rows``: the dataset row of each of the outcome's rows (default: the
        same numbers)."""
        flags: dict[int, list[str]] = {}
        for reason, flagged in self.flagged.items():
            for row in sorted(flagged):
                flags.setdefault(row, []).append(reason)
        involved = ~self.keep | (self.cluster >= 0)
        involved[list({*self.conflicts, *flags})] = True
        local = np.nonzero(involved)[0]
        at = local.tolist()
        table = pa.table(
            {
                "row": pa.array(local if rows is None else rows[local], pa.int64()),
                "id": pa.array([self.keys[i] for i in at], pa.string()),
                "keep": pa.array(self.keep[local], pa.bool_()),
                "reason": pa.array([self.reason.get(i) for i in at], pa.string()),
                "duplicate_of": pa.array([self.duplicate_of.get(i) for i in at], pa.string()),
                "detail": pa.array([self.detail.get(i) for i in at], pa.string()),
                "similarity": pa.array(self.similarity[local], pa.float64()),
                "cluster": pa.array(self.cluster[local], pa.int64()),
                "conflicts": pa.array([self.conflicts.get(i) for i in at], pa.list_(pa.string())),
                "flags": pa.array([flags.get(i) for i in at], pa.list_(pa.string())),
            },
            schema=DECISIONS_SCHEMA,
        )
        return Decisions(table)

    def clusters_table(self) -> pa.Table:
        """``id, cluster_id, representative_id, jaccard`` (the similarity to the representative that
        decided; 1.0 for the representative) of every row in a cluster of two or more."""
        inside = np.nonzero(self.cluster >= 0)[0].tolist()
        return pa.table(
            {
                "id": pa.array([self.keys[i] for i in inside], pa.string()),
                "cluster_id": pa.array(self.cluster[inside], pa.int64()),
                "representative_id": pa.array(
                    [self.keys[i] if self.keep[i] else self.duplicate_of[i] for i in inside], pa.string()
                ),
                "jaccard": pa.array(np.where(self.keep[inside], 1.0, self.similarity[inside]), pa.float64()),
            }
        )


def apply_assignment(
    outcome: Outcome,
    assignment: Assignment,
    *,
    duplicate_reason: str,
    describe: Describe,
    answers: Sequence[Answer | None] | None,
    texts: Sequence[str | None] | Mapping[int, str | None],
    reject_conflicts: bool,
) -> None:
    """Write ``assignment`` into ``outcome``: duplicates removed with ``duplicate_reason`` and
    ``describe``'s detail; conflicts removed as ``label_conflict`` (``reject_conflicts``) or kept as
    ``answers_differ``, flagged on the kept rows and listed as pairs."""
    keys = outcome.keys
    outcome.cluster = cluster_ids(np.where(assignment.conflict, -1, assignment.duplicate_of))
    for row in np.nonzero(~assignment.keep & ~assignment.conflict)[0].tolist():
        other = int(assignment.duplicate_of[row])
        similarity, exact = float(assignment.similarity[row]), bool(assignment.exact[row])
        outcome.remove(row, duplicate_reason, keys[other], similarity, describe(row, other, similarity, exact))
    for row in np.nonzero(assignment.conflict)[0].tolist():
        other = int(assignment.conflict_of[row])
        similarity, exact = float(assignment.similarity[row]), bool(assignment.exact[row])
        mine = answers[row] if answers is not None else None
        theirs = answers[other] if answers is not None else None
        reason = "label_conflict" if reject_conflicts else "answers_differ"
        detail = f"{show_value(texts[row])} ({mine}) vs {keys[other]!r}: {show_value(texts[other])} ({theirs})"
        outcome.pair(row, keys[other], reason, similarity, detail)
        outcome.flag(other, keys[row], reason)
        if reject_conflicts:
            described = describe(row, other, similarity, exact)
            outcome.remove(row, reason, keys[other], similarity, f"{described}, but {mine} where it has {theirs}")
        else:
            outcome.flag(row, keys[other], reason)


@dataclass(frozen=True)
class Decisions:
    """What a dedup decided about the rows it touched, one row each in row order
    (:data:`DECISIONS_SCHEMA`: ``row``, ``keep``, ``reason``, ``duplicate_of``, ``detail``,
    ``similarity`` (NaN: none), ``cluster`` (-1: none), ``conflicts`` and ``flags`` (the conflict
    reasons a kept row is flagged with)); every row not listed is kept as it is. A plain value:
    cut per batch with :meth:`between`, joined from the parts of a split search with :meth:`join`."""

    table: pa.Table

    def clusters_table(self) -> pa.Table:
        """``id, cluster_id, representative_id, jaccard`` (the similarity to the representative that
        decided; 1.0 for the representative) of every row in a cluster of two or more."""
        shown = self.table.select(["id", "cluster", "keep", "duplicate_of", "similarity"])
        inside = shown.filter(pc.greater_equal(shown.column("cluster"), 0))
        keep = inside.column("keep")
        return pa.table(
            {
                "id": inside.column("id"),
                "cluster_id": inside.column("cluster"),
                "representative_id": pc.if_else(keep, inside.column("id"), inside.column("duplicate_of")),
                "jaccard": pc.if_else(keep, 1.0, inside.column("similarity")),
            }
        )

    def between(self, start: int, stop: int) -> Decisions:
        """The decisions about rows ``start:stop``, copied out (a slice of an Arrow table pickles
        with every row of the table, and this part goes to a batch task)."""
        rows = self.table.column("row").to_numpy()
        lo, hi = np.searchsorted(rows, [start, stop])
        return Decisions(self.table.take(pa.array(np.arange(lo, hi), pa.int64())))

    @staticmethod
    def join(parts: Sequence[Decisions]) -> Decisions:
        """The decisions of several parts about different rows, in row order (put together a
        column at a time: the parts and the result are held, not a second copy of the result)."""
        if not parts:
            return Decisions(DECISIONS_SCHEMA.empty_table())
        rows = np.concatenate([p.table.column("row").to_numpy() for p in parts])
        order = pa.array(np.argsort(rows, kind="stable"), pa.int64())
        columns = [
            pa.chunked_array([c for p in parts for c in p.table.column(name).chunks], field_.type)
            .take(order)
            .combine_chunks()
            for name, field_ in zip(DECISIONS_SCHEMA.names, DECISIONS_SCHEMA, strict=True)
        ]
        return Decisions(pa.Table.from_arrays(columns, schema=DECISIONS_SCHEMA))
