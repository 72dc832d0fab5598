"""Re-point questions from a removed passage to the kept near-duplicate passage (orchestration
over pure span search: answers are re-anchored in the kept passage, or, when the kept passage does
not hold them, the question stays on its own passage as a conflict)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curate.dataset import Dataset
from curate.dedup.agreement import answers_agree, mrc_answer
from curate.schemas import get_schema
from curate.text.spans import repair_span


@dataclass(frozen=True)
class Repointed:
    """Per row: ``anchor`` (the first row on the kept passage, for rows whose passage was merged
    into another; -1 else), ``moved`` (re-pointed there), ``conflict`` (stays on its own passage:
    an answer is not in the kept passage, or reads otherwise there), ``details`` (where a row moved
    or why it stayed), and ``columns``: ``{name: (values, arrow type)}`` replacing context, answers,
    plausible_answers, passage_id, document_id, title and adding ``repointed_from``."""

    anchor: np.ndarray
    moved: np.ndarray
    conflict: np.ndarray
    details: list[str | None]
    columns: dict[str, tuple[list[Any], pa.DataType]]


def _reanchor(answers: list[dict[str, Any]] | None, context: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Answers moved into ``context`` (nearest occurrence to their old offset), or the missing text."""
    if answers is None:
        return None, None
    moved = []
    for answer in answers:
        found = repair_span(context, answer["text"], max(0, min(answer["answer_start"], len(context))))
        if found is None:
            return None, answer["text"]
        moved.append({"text": context[found.start : found.end], "answer_start": found.start})
    return moved, None


def repoint_questions(
    dataset: Dataset,
    context_index: np.ndarray,
    contexts: list[str],
    passage_rep: np.ndarray,
    keys: list[str],
) -> Repointed:
    """Move every question whose passage (``contexts[context_index[row]]``) is not its cluster's kept
    passage (``passage_rep``) onto the kept one."""
    n = len(context_index)
    first_row = np.full(len(contexts), -1, np.int64)
    first_row[context_index[::-1]] = np.arange(n)[::-1]
    names = ["context", "answers", "plausible_answers", "passage_id", "document_id", "title"]
    values = {name: dataset.column(name).to_pylist() for name in names}
    impossible = dataset.column("is_impossible").to_pylist()
    anchors = np.full(n, -1, np.int64)
    moved = np.zeros(n, bool)
    conflict = np.zeros(n, bool)
    details: list[str | None] = [None] * n
    repointed_from: list[str | None] = [None] * n
    for row in np.nonzero(passage_rep[context_index] != context_index)[0].tolist():
        target = int(passage_rep[context_index[row]])
        anchor = int(first_row[target])
        anchors[row] = anchor
        new_context = contexts[target]
        answers, missing = _reanchor(values["answers"][row], new_context)
        plausible, missing_plausible = _reanchor(values["plausible_answers"][row], new_context)
        missing = missing or missing_plausible
        before = mrc_answer(impossible[row], values["answers"][row])
        if missing is not None or not answers_agree(before, mrc_answer(impossible[row], answers)):
            conflict[row] = True
            details[row] = f"kept on its passage: the near-duplicate passage of {keys[anchor]!r} " + (
                f"lacks the answer {missing!r}" if missing is not None else "reads the answer otherwise"
            )
            continue
        moved[row] = True
        repointed_from[row] = values["passage_id"][row] or f"context of {keys[row]}"
        details[row] = f"re-pointed to the passage of {keys[anchor]!r}"
        values["context"][row] = new_context
        values["answers"][row] = answers
        values["plausible_answers"][row] = plausible
        for name in ("passage_id", "document_id", "title"):
            values[name][row] = values[name][anchor]
    answer_type = get_schema("mrc").field("answers").type  # type: ignore[union-attr]
    types = {"context": pa.string(), "answers": answer_type, "plausible_answers": answer_type}
    columns = {name: (values[name], types.get(name, pa.string())) for name in names}
    columns["repointed_from"] = (repointed_from, pa.string())
    return Repointed(anchors, moved, conflict, details, columns)
