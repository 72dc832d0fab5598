"""``exact_dedup``: drop rows whose chosen fields equal an earlier row's, after normalization,
unless their label or answers differ (then it is a conflict, said so)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pydantic

from curate import progress
from curate.dataset import Dataset
from curate.dedup.agreement import Answer, conflicts_removed, row_answers
from curate.dedup.assign import GroupCandidates, assign
from curate.dedup.outcome import CONFLICTS_COLUMN, Outcome, apply_assignment
from curate.schemas import row_ids
from curate.stages.base import ColumnType, Params, PlannedStage, Split
from curate.stages.dedup_rows import DedupPlan, parts_after_dedup, split_by_decisions
from curate.stages.dedup_shards import row_digest, split_exact
from curate.stages.fields import text_fields

_DEFAULT_FIELDS = {"qrels": ["query_id", "doc_id"]}
PART_ROWS = 1_000_000
"""Rows of repeated groups one search task of a split search takes, about."""


class ExactDedupParams(Params):
    fields: list[str] | None = None
    """Columns that together make a row's identity; default: the kind's text fields (``mrc``:
    context and question; ``qrels``: query_id and doc_id)."""
    normalize: bool = True
    """Compare after NFC and whitespace folding."""
    casefold: bool = False
    """Also ignore letter case."""
    shard_rows: int = pydantic.Field(default=1_000_000, ge=1)
    """Above this many rows, or on an executor other than ``local``, the rows are hashed in
    tasks of this many rows and only the repeated ones are held together
    (:func:`~curate.stages.dedup_shards.split_exact`); same decisions."""


class ExactDedup(PlannedStage):
    """Keep the first row of every group of equal rows; later ones are rejected with reason
    ``exact_duplicate`` and ``duplicate_of`` (the first row's id, or ``#<row>`` for kinds without
    ids) when their answer agrees (:func:`~curate.dedup.agreement.answers_agree`).

    A repeat whose label differs (classification ``label``, qrels ``score``) is rejected as
    ``label_conflict`` and the kept row lists it in ``dedup_conflicts`` (one of the two labels is
    wrong: ``--select "len(dedup_conflicts) > 0"`` sends them to annotators); an MRC question
    repeated with other answers is kept, both rows flagged (``answers_differ``). The ``conflicts``
    artifact lists the pairs (``id, other_id, reason, similarity, detail``). The plan reads the
    dataset once in batches: memory grows by a 16-byte digest per distinct row and an id per row;
    above ``shard_rows`` rows (or on another executor) the rows are hashed by tasks and shuffled by
    digest, and only the rows of repeated groups are held, a part at a time.
    """

    name = "exact_dedup"
    role = "filter"
    description = "Reject repeats of an earlier row (NFC, spaces folded); a repeat with another label is a conflict."
    Params = ExactDedupParams
    params: ExactDedupParams
    adds = {CONFLICTS_COLUMN: pa.list_(pa.string())}
    reject_extras = {"duplicate_of": pa.string()}
    sliced_plan = True

    def _fields(self, kind: str) -> list[str]:
        return list(self.params.fields or _DEFAULT_FIELDS.get(kind) or text_fields(kind, None))

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(self._fields(kind), "any")

    def _digest(self, values: tuple) -> bytes:
        return row_digest(values, normalize=self.params.normalize, casefold=self.params.casefold)

    def plan(self, dataset: Dataset) -> DedupPlan:
        fields = self._fields(dataset.kind)
        shown = "question" if "question" in fields else fields[0]
        spread = self.executor is not None and self.executor.name != "local"
        if spread or dataset.num_rows > self.params.shard_rows:
            folder = self.scratch_folder()
            searched = split_exact(
                dataset,
                self.tasks(),
                folder,
                fields=tuple(fields),
                shown=shown,
                normalize=self.params.normalize,
                casefold=self.params.casefold,
                shard_rows=self.params.shard_rows,
                part_rows=PART_ROWS,
            )
            return DedupPlan(searched.decisions, {"conflicts": searched.conflicts})
        first: dict[bytes, int] = {}
        groups: list[np.ndarray] = []
        keys: list[str] = []
        answers: list[Answer | None] = []
        interned: dict[Answer | None, Answer | None] = {}
        labelled = True
        total = dataset.num_rows
        progress.step("hashing", 0, total)
        for batch in dataset.batches():
            keys += row_ids(batch, dataset.kind, len(keys))
            columns = [batch.column(name).to_pylist() for name in fields]
            start = len(keys) - batch.num_rows
            found_groups = (
                first.setdefault(self._digest(v), start + i) for i, v in enumerate(zip(*columns, strict=True))
            )
            groups.append(np.fromiter(found_groups, np.int64, batch.num_rows))
            found = row_answers(batch, dataset.kind)
            labelled = labelled and found is not None
            answers.extend(interned.setdefault(a, a) for a in found or ())
            progress.step("hashing", len(keys), total)
        labels = np.concatenate(groups) if groups else np.zeros(0, np.int64)
        n = len(labels)
        repeated = np.nonzero(np.bincount(labels, minlength=n)[labels] > 1)[0]
        reject_conflicts = conflicts_removed(dataset.kind)
        found_answers = answers if labelled else None
        assignment = assign(n, repeated, GroupCandidates(labels), found_answers, reject_conflicts=reject_conflicts)
        conflicting = np.nonzero(assignment.conflict)[0]
        shown_values = _values(dataset, shown, conflicting, assignment.conflict_of)
        outcome = Outcome(keys)
        same = "same " + "+".join(fields) + " as "
        apply_assignment(
            outcome,
            assignment,
            duplicate_reason="exact_duplicate",
            describe=lambda row, other, similarity, exact: same + keys[other],
            answers=found_answers,
            texts=shown_values,
            reject_conflicts=reject_conflicts,
        )
        return DedupPlan(outcome.decisions(), {"conflicts": outcome.conflicts_table()})

    def plan_rows(self, plan: DedupPlan, start: int, stop: int) -> DedupPlan:
        return plan.between(start, stop)

    def split(self, batch: pa.Table, plan: DedupPlan, start: int) -> Split:
        return split_by_decisions(batch, plan.decisions, start, stage=self.id, extras=("duplicate_of",))

    def plan_artifacts(self, plan: DedupPlan) -> dict[str, pa.Table]:
        return plan.artifacts

    def update_parts(self, parts: Mapping[str, Dataset], kept: Dataset, rejected: Dataset) -> dict[str, Dataset]:
        """On a retrieval set's corpus: the qrels of removed passages point at the passage kept
        (listed in the ``qrels_repointed`` artifact)."""
        return parts_after_dedup(self, parts, rejected)


def _values(dataset: Dataset, name: str, rows: np.ndarray, partner: np.ndarray) -> dict[int, str | None]:
    """``{row: value of column name}`` for ``rows`` and their partners (a second pass over the data,
    only when there are such rows)."""
    wanted = set(rows.tolist()) | set(partner[rows].tolist())
    values: dict[int, str | None] = {}
    start = 0
    for batch in dataset.batches() if wanted else ():
        column = batch.column(name)
        for row in sorted(r for r in wanted if start <= r < start + batch.num_rows):
            value = column[row - start].as_py()
            values[row] = None if value is None else str(value)
        start += batch.num_rows
    return values
