"""``validate_spans``: check every answer span of MRC rows; repair or reject the broken ones."""

from __future__ import annotations

import re

import pyarrow as pa

from curate.dataset import Dataset
from curate.mrc.checks import Problem, check_row, repair_row
from curate.schemas import get_schema
from curate.stages.base import Params, PlannedStage, Split, reject

_REPAIRED = re.compile(r"(?:^|; )[\w\[\].]+: (\w+), answer_start")


class ValidateSpansParams(Params):
    repair: bool = True
    """Move a broken span to the nearest occurrence of its text (exact, else after NFC and
    whitespace folding); rows that cannot be repaired are rejected. False rejects every row with
    a problem."""
    reject_duplicate_ids: bool = True
    """Reject a row whose id appeared on an earlier row (reason ``duplicate_id``)."""


class ValidateSpans(PlannedStage):
    """Reject (or repair) MRC rows whose answers do not match their context.

    Reasons: ``span_mismatch``, ``offset_out_of_range``, ``empty_answer``, ``no_answers``,
    ``impossible_with_answers``, ``answer_not_found``, ``duplicate_id`` (see ``curate.mrc.checks``).
    Kept rows get ``span_repair``: what was moved, or null when nothing was; the stats count the
    repaired rows per problem repaired (``rewrites``, e.g. ``span_mismatch``).
    """

    name = "validate_spans"
    role = "filter"  # repair: true also rewrites spans it can move
    description = "Reject (or repair) MRC rows whose answers do not match their context."
    Params = ValidateSpansParams
    kinds = ("mrc",)
    requires = {"id": "any", "context": "string", "answers": "any", "is_impossible": "any", "plausible_answers": "any"}
    adds = {"span_repair": pa.string()}
    rejects_added = False
    params: ValidateSpansParams

    def plan(self, dataset: Dataset) -> frozenset[int]:
        """The rows whose id an earlier row has (empty unless ``reject_duplicate_ids``)."""
        if not self.params.reject_duplicate_ids:
            return frozenset()
        seen: set[str] = set()
        repeated = set()
        for row, row_id in enumerate(dataset.column("id").to_pylist()):
            if row_id in seen:
                repeated.add(row)
            seen.add(row_id)
        return frozenset(repeated)

    def split(self, batch: pa.Table, plan: frozenset[int], start: int) -> Split:
        answer_type = get_schema("mrc").field("answers").type  # type: ignore[union-attr]
        cols = batch.select(["id", "context", "answers", "is_impossible", "plausible_answers"]).to_pylist()
        keep, reasons, details, notes = [], [], [], []
        answers_out, plausible_out = [], []
        for offset, row in enumerate(cols):
            answers, plausible = row["answers"], row["plausible_answers"]
            problems = check_row(row["context"], answers, row["is_impossible"], plausible)
            note = None
            if problems and self.params.repair:
                fixed = repair_row(row["context"], answers, row["is_impossible"], plausible)
                problems = fixed.unrepaired
                if not problems:
                    answers, plausible = fixed.answers, fixed.plausible_answers
                    note = "; ".join(fixed.notes) or None
            if start + offset in plan:
                problems = [*problems, Problem("id", "duplicate_id", f"id {row['id']!r} used by an earlier row")]
            keep.append(not problems)
            reasons.append(problems[0].code if problems else None)
            details.append("; ".join(f"{p.field}: {p.code} ({p.detail})" for p in problems) or None)
            notes.append(note)
            answers_out.append(answers)
            plausible_out.append(plausible)
        table = batch.set_column(batch.column_names.index("answers"), "answers", pa.array(answers_out, answer_type))
        index = table.column_names.index("plausible_answers")
        table = table.set_column(index, "plausible_answers", pa.array(plausible_out, answer_type))
        table = table.append_column("span_repair", pa.array(notes, pa.string()))
        split = reject(table, keep, stage=self.id, reasons=reasons, details=details)
        # rejected rows keep the answers they came with
        split.rejected = reject(batch, keep, stage=self.id, reasons=reasons, details=details).rejected
        return split.marked(rewrites=repaired(split.kept.column("span_repair").to_pylist()))


def repaired(notes: list[str | None]) -> list[list[str]]:
    """Per row, the problem codes its ``span_repair`` note says were repaired
    (``answers[0]: span_mismatch, answer_start 272 -> 273 (exact)`` gives ``span_mismatch``)."""
    return [_REPAIRED.findall(note) if note else [] for note in notes]
