"""Locating and repairing extractive-QA answer spans.

Offsets are Python code-point offsets (SQuAD convention): a span ``(start, end)``
has ``answer == context[start:end]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curate.text.normalize import Op, normalize, normalize_text

FOLD_OPS: tuple[Op, ...] = ("nfc", "whitespace")
"""Ops used to compare answer and context when the exact text is not found."""


def find_all(context: str, answer: str) -> list[int]:
    """Every start offset of ``answer`` in ``context``, overlapping, ascending.

    An empty ``answer`` has no occurrences (``[]``).
    """
    if not answer:
        return []
    hits: list[int] = []
    pos = context.find(answer)
    while pos != -1:
        hits.append(pos)
        pos = context.find(answer, pos + 1)
    return hits


def nearest_occurrence(context: str, answer: str, near: int) -> int | None:
    """Start of the exact occurrence nearest to ``near`` (ties -> the earlier); None if absent."""
    hits = find_all(context, answer)
    if not hits:
        return None
    return min(hits, key=lambda pos: (abs(pos - near), pos))


@dataclass(frozen=True)
class SpanRepair:
    """A located answer span in the original context.

    ``context[start:end]`` is the repaired answer text. ``method`` is ``"exact"`` when
    the answer text itself was found, ``"normalized"`` when it was found only after
    NFC + whitespace folding of both sides.
    """

    start: int
    end: int
    method: Literal["exact", "normalized"]


def _trim(context: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` so it neither starts nor ends with whitespace."""
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    return start, end


def repair_span(context: str, answer: str, near: int) -> SpanRepair | None:
    """Find ``answer`` in ``context`` near offset ``near``; None if the folded answer is empty or absent.

    Tries the exact text first; otherwise folds both sides with :data:`FOLD_OPS`,
    takes the folded occurrence nearest to the folded ``near``, maps it back to the
    original context and trims surrounding whitespace.
    """
    folded_answer = normalize_text(answer, FOLD_OPS)
    if not folded_answer:
        return None
    pos = nearest_occurrence(context, answer, near)
    if pos is not None:
        return SpanRepair(pos, pos + len(answer), "exact")

    folded, omap = normalize(context, FOLD_OPS)
    folded_near = int(omap.starts[min(max(near, 0), len(context))])
    hit = nearest_occurrence(folded, folded_answer, folded_near)
    if hit is None:
        return None
    start, end = omap.invert().span(hit, hit + len(folded_answer))
    start, end = _trim(context, start, end)
    if start >= end:
        return None
    return SpanRepair(start, end, "normalized")
