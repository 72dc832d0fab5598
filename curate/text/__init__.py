"""Text utilities: offset-preserving normalization and answer-span search.

``curate.text.normalize`` is the module; call ``curate.text.normalize.normalize``
(``from curate.text.normalize import normalize``) for text plus offset map.
"""

from curate.text.normalize import (
    DEFAULT_OPS,
    OPS,
    Edit,
    OffsetMap,
    Op,
    apply_edits,
    check_ops,
    normalize_text,
)
from curate.text.spans import FOLD_OPS, SpanRepair, find_all, nearest_occurrence, repair_span

__all__ = [
    "DEFAULT_OPS",
    "FOLD_OPS",
    "OPS",
    "Edit",
    "OffsetMap",
    "Op",
    "SpanRepair",
    "apply_edits",
    "check_ops",
    "find_all",
    "nearest_occurrence",
    "normalize_text",
    "repair_span",
]
