"""Move answer spans through a text edit (pure functions).

Every stage that edits a context (normalization, redaction, augmentation) produces an
:class:`~curate.text.normalize.OffsetMap` from the old context to the new one and calls
:func:`move_answers`, which either returns the moved answers or says why the row cannot keep them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curate.text.normalize import OffsetMap


def move_answers(
    answers: list[dict[str, Any]],
    omap: OffsetMap,
    new_context: str,
    edit_answer: Callable[[str], str],
) -> tuple[list[dict[str, Any]], str | None]:
    """Map each ``{"text", "answer_start"}`` through ``omap``.

    ``edit_answer`` applies the same edit to a lone answer text; the moved span must read exactly
    that (after trimming edge whitespace the edit may have left at the span's ends).

    Returns:
        ``(moved answers, None)``, or ``(answers unchanged, detail)`` when an answer no longer
        matches its span, so the caller rejects the row with the detail.
    """
    moved = []
    for i, answer in enumerate(answers):
        text, start = answer["text"], answer["answer_start"]
        end = start + len(text)
        if start < 0 or end > omap.source_len:
            return answers, f"answers[{i}] span ({start}, {end}) outside the context"
        new_start, new_end = omap.span(start, end)
        expected = edit_answer(text)
        found = new_context[new_start:new_end]
        if not found.strip():
            return answers, f"answers[{i}] {text!r} is empty after the edit"
        if found != expected:
            stripped = found.strip()
            if stripped and stripped == expected.strip():
                new_start += len(found) - len(found.lstrip())
                found = stripped
            else:
                return answers, f"answers[{i}] {text!r} became {found!r}, expected {expected!r}"
        moved.append({"text": found, "answer_start": new_start})
    return moved, None
