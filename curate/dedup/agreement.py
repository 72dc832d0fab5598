"""When two rows that look alike also say the same thing: the answer-agreement rule of every dedup.

Two rows whose texts are duplicates (exact, near, a merged passage, a future semantic match) are
duplicates only when their answers agree. A row's :class:`Answer` is its label (classification
``label``, qrels ``score``, compared as they are) or, for an MRC question, whether it is answerable
and its answer texts, folded to words (NFC, case folded, punctuation and spacing ignored). Kinds
without labels or answers have none (``None``), which agrees with anything.

MRC answers agree when both questions are unanswerable, or both are answerable and one's answer
texts overlap the other's: a folded text equals, or contains as whole words, one of the other's
("Guildhall" and "London's Guildhall"). An answerable question never agrees with an unanswerable
one, so the adversarial unanswerable questions of SQuAD 2.0, written as minimal edits of answerable
ones, are never taken for their duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from curate.mrc.quality import folded

ANSWER_COLUMNS = {"classification": "label", "qrels": "score"}
"""Kinds whose rows carry one label, and its column (MRC rows carry answers)."""


def conflicts_removed(kind: str) -> bool:
    """Whether a row whose text duplicates a kept row's but whose answer differs is removed (a
    label: one of the two is wrong) or kept beside it (an MRC question: another question)."""
    return kind != "mrc"


def answer_columns(kind: str) -> tuple[str, ...]:
    """The columns :func:`row_answers` reads for ``kind``."""
    return ("answers", "is_impossible") if kind == "mrc" else tuple(c for c in [ANSWER_COLUMNS.get(kind)] if c)


@dataclass(frozen=True)
class Answer:
    """What a row says about its text: a ``label``, or (MRC) ``answerable`` and folded ``texts``."""

    label: str | None = None
    answerable: bool = True
    texts: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.label is not None:
            return f"label {self.label!r}"
        if not self.answerable:
            return "unanswerable"
        return "answer " + " | ".join(repr(t) for t in sorted(self.texts)) if self.texts else "no answer text"

    def to_json(self) -> str:
        if self.label is not None:
            return json.dumps({"label": self.label}, ensure_ascii=False)
        return json.dumps({"answerable": self.answerable, "texts": sorted(self.texts)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Answer | None:
        if text is None:
            return None
        value = json.loads(text)
        if "label" in value:
            return cls(label=str(value["label"]))
        return cls(answerable=bool(value["answerable"]), texts=frozenset(map(str, value["texts"])))


def _contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def answers_agree(a: Answer | None, b: Answer | None) -> bool:
    """Whether two rows with duplicate texts say the same thing (the rule in the module doc)."""
    if a is None or b is None:
        return True
    if a.label is not None or b.label is not None:
        return a.label == b.label
    if a.answerable != b.answerable:
        return False
    if not a.answerable or (not a.texts and not b.texts):
        return True
    return any(x == y or _contains(x, y) or _contains(y, x) for x in a.texts for y in b.texts)


def mrc_answer(is_impossible: bool | None, answers: Sequence[dict] | None) -> Answer:
    """The :class:`Answer` of an MRC question (``answers``: ``{"text", ...}`` dicts)."""
    texts = frozenset(t for t in (folded(a.get("text") or "") for a in answers or ()) if t)
    return Answer(answerable=not is_impossible, texts=texts)


def row_answers(table: pa.Table, kind: str) -> list[Answer | None] | None:
    """Each row's :class:`Answer`, or ``None`` when the kind (or the table) carries no answers; a
    row without a label has none."""
    if kind == "mrc" and "answers" in table.column_names:
        impossible = (
            table.column("is_impossible").to_pylist() if "is_impossible" in table.column_names else [None] * len(table)
        )
        return [mrc_answer(i, a) for i, a in zip(impossible, table.column("answers").to_pylist(), strict=True)]
    column = ANSWER_COLUMNS.get(kind)
    if column is None or column not in table.column_names:
        return None
    labels: dict[object, Answer | None] = {None: None}
    values = table.column(column).to_pylist()
    return [labels[v] if v in labels else labels.setdefault(v, Answer(label=str(v))) for v in values]
