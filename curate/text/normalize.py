"""Offset-preserving text normalization.

Every op turns a string into a list of edits ``(orig_start, orig_end, replacement)``
(sorted, non-overlapping, non-empty regions); :func:`apply_edits` applies them and
returns the new string plus an :class:`OffsetMap` from original to new code-point
boundaries. :func:`normalize` chains ops and composes their maps;
:func:`normalize_text` gives the same string without building a map.

Ops (applied in the order given):

- ``html_tags``: drop known HTML tags and comments; block-level tags (``<br>``,
  ``<p>``, ``</div>``, ``<li>``, ``<td>`` ...) become one space so words stay apart.
  A lone ``<`` (``3 < 5``) or an unknown name (``a<b and c>d`` with ``b and c``) stays.
- ``html_entities``: well-formed entities ending in ``;`` (``&amp;``, ``&nbsp;``,
  ``&#39;``, ``&#x27;``) become ``html.unescape`` of the entity; unknown ones stay.
- ``control_chars``: drop C0/C1 controls except ``\\t``, ``\\n``, ``\\r`` and the
  zero-width characters U+200B, U+200C, U+200D, U+2060, U+FEFF. Dropping U+200D
  (zero-width joiner) splits emoji ZWJ sequences into their parts.
- ``nfc`` / ``nfkc``: Unicode normalization, edited per composition segment (a
  starter plus whatever composes or reorders with it, e.g. Hangul L+V+T jamo or a
  letter plus combining marks). NFKC also expands compatibility characters
  (``㈜`` -> ``(주)``, ``ﬁ`` -> ``fi``, ``Ａ`` -> ``A``) and turns compatibility jamo
  (``ㅋ`` U+314B) into conjoining jamo.
- ``whitespace``: each run of ``str.isspace`` characters (incl. U+3000, U+00A0)
  becomes one ASCII space; leading and trailing runs are removed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

Op = Literal["html_tags", "html_entities", "control_chars", "nfc", "nfkc", "whitespace"]
OPS: tuple[Op, ...] = get_args(Op)
DEFAULT_OPS: tuple[Op, ...] = ("html_tags", "html_entities", "control_chars", "nfc", "whitespace")

Edit = tuple[int, int, str]
"""``(orig_start, orig_end, replacement)``: replace ``text[orig_start:orig_end]``."""


@dataclass(frozen=True, eq=False)
class OffsetMap:
    """Maps code-point boundaries of an original string to the normalized string.

    ``starts`` and ``ends`` are read-only int64 arrays of length ``len(original) + 1``.
    ``starts[i]`` is the new position of a span start at original boundary ``i``,
    ``ends[i]`` the new position of a span end. Inside an edited region a start moves
    to the region's new start and an end to the region's new end, so a mapped span
    always covers everything its original covered. Both arrays are non-decreasing.
    """

    starts: np.ndarray[Any, np.dtype[np.int64]]
    ends: np.ndarray[Any, np.dtype[np.int64]]

    def __post_init__(self) -> None:
        starts = np.array(self.starts, dtype=np.int64)  # private, read-only copies
        ends = np.array(self.ends, dtype=np.int64)
        if starts.ndim != 1 or starts.shape != ends.shape or starts.size == 0:
            raise ValueError(
                f"starts and ends must be 1-D arrays of equal, non-zero length: "
                f"got shapes {starts.shape} and {ends.shape}"
            )
        starts.setflags(write=False)
        ends.setflags(write=False)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "ends", ends)

    @property
    def source_len(self) -> int:
        """Length of the original string (code points)."""
        return int(self.starts.size - 1)

    @property
    def target_len(self) -> int:
        """Length of the normalized string (code points)."""
        return int(self.starts[-1])

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map an original span ``[start, end)`` to ``(new_start, new_end)``.

        The result is ``(starts[start], ends[end])``; if that would be reversed (only
        possible for maps from :meth:`invert` and empty spans) it is made empty at
        ``new_start``.
        """
        if not 0 <= start <= end <= self.source_len:
            raise ValueError(f"span must satisfy 0 <= start <= end <= {self.source_len}: got ({start}, {end})")
        new_start = int(self.starts[start])
        return new_start, max(new_start, int(self.ends[end]))

    @classmethod
    def identity(cls, n: int) -> OffsetMap:
        """Map of a string of length ``n`` onto itself."""
        if n < 0:
            raise ValueError(f"length must be >= 0: got {n}")
        positions = np.arange(n + 1, dtype=np.int64)
        return cls(positions, positions)

    def then(self, other: OffsetMap) -> OffsetMap:
        """Composition: ``self`` applied first, then ``other`` (on ``self``'s output)."""
        if other.source_len != self.target_len:
            raise ValueError(
                f"cannot compose: first map yields length {self.target_len}, second expects length {other.source_len}"
            )
        return OffsetMap(other.starts[self.starts], other.ends[self.ends])

    def invert(self) -> OffsetMap:
        """Map from normalized boundaries back to original boundaries (tight).

        A new start ``k`` goes to the largest original ``i`` with ``ends[i] <= k``; a
        new end ``k`` to the smallest ``i`` with ``starts[i] >= k``. Text deleted next
        to a span (e.g. collapsed whitespace) is thus left out, and a span starting or
        ending inside an expanded replacement widens to the whole original region.
        A non-empty new span always maps to a non-empty original span.
        """
        k = np.arange(self.target_len + 1, dtype=np.int64)
        inv_starts = np.searchsorted(self.ends, k, side="right") - 1
        inv_ends = np.searchsorted(self.starts, k, side="left")
        return OffsetMap(inv_starts, inv_ends)


def apply_edits(text: str, edits: Sequence[Edit]) -> tuple[str, OffsetMap]:
    """Apply sorted, non-overlapping edits; return ``(new_text, map original -> new)``.

    Each edit is ``(orig_start, orig_end, replacement)`` with
    ``0 <= orig_start < orig_end <= len(text)``; edits may touch but not overlap.
    """
    n = len(text)
    if not edits:
        return text, OffsetMap.identity(n)
    starts = np.fromiter((e[0] for e in edits), dtype=np.int64, count=len(edits))
    ends = np.fromiter((e[1] for e in edits), dtype=np.int64, count=len(edits))
    new_lens = np.fromiter((len(e[2]) for e in edits), dtype=np.int64, count=len(edits))
    if starts[0] < 0 or ends[-1] > n or np.any(starts >= ends) or np.any(starts[1:] < ends[:-1]):
        raise ValueError("edits must be sorted, non-overlapping (start, end, text) with 0 <= start < end <= len")

    delta = np.zeros(n + 1, dtype=np.int64)
    delta[ends] = new_lens - (ends - starts)
    base = np.arange(n + 1, dtype=np.int64) + np.cumsum(delta)
    new_starts = base.copy()
    new_ends = base.copy()

    inner = ends - starts - 1
    total = int(inner.sum())
    if total:
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(inner) - inner, inner)
        idx = np.repeat(starts, inner) + offsets + 1
        new_starts[idx] = np.repeat(base[starts], inner)
        new_ends[idx] = np.repeat(base[ends], inner)

    pieces: list[str] = []
    pos = 0
    for start, end, replacement in edits:
        pieces.append(text[pos:start])
        pieces.append(replacement)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), OffsetMap(new_starts, new_ends)


# --- html_tags -----------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    """Set of the whitespace-separated words in ``text``."""
    return frozenset(text.split())


_BLOCK_TAGS = _words(
    "address article aside blockquote body br caption center dd details dialog div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hr html legend li "
    "main nav ol option p pre section summary table tbody td tfoot th thead title tr ul"
)
_INLINE_TAGS = _words(
    "a abbr area audio b base bdi bdo big button canvas cite code col colgroup data del dfn em "
    "embed font i iframe img input ins kbd label link map mark math meta nobr noscript object "
    "param picture q rp rt ruby s samp script select small source span strike strong style sub "
    "sup svg template textarea time track tt u var video wbr"
)
_TAG_NAMES = "|".join(sorted(_BLOCK_TAGS | _INLINE_TAGS, key=lambda name: (-len(name), name)))
_TAG_RE = re.compile(
    r"<!--.*?-->"
    r"|<![A-Za-z][^<>]*>"
    rf"|</?({_TAG_NAMES})(?=[\s/>])(?:\s(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?/?>",
    re.IGNORECASE | re.DOTALL,
)


def _tag_replacement(match: re.Match[str]) -> str:
    """``" "`` for block-level tags, ``""`` for inline tags, comments and doctypes."""
    name = match.group(1)
    return " " if name is not None and name.lower() in _BLOCK_TAGS else ""


def _html_tag_edits(text: str) -> list[Edit]:
    """Edits removing HTML tags (block tags -> one space)."""
    if "<" not in text:
        return []
    return [(m.start(), m.end(), _tag_replacement(m)) for m in _TAG_RE.finditer(text)]


def _html_tags_text(text: str) -> str:
    return _TAG_RE.sub(_tag_replacement, text) if "<" in text else text


# --- html_entities -------------------------------------------------------------------

_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def _entity_replacement(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


def _html_entity_edits(text: str) -> list[Edit]:
    """Edits decoding well-formed HTML entities; unknown names are left alone."""
    if "&" not in text:
        return []
    edits: list[Edit] = []
    for m in _ENTITY_RE.finditer(text):
        replacement = _entity_replacement(m)
        if replacement != m.group(0):
            edits.append((m.start(), m.end(), replacement))
    return edits


def _html_entities_text(text: str) -> str:
    return _ENTITY_RE.sub(_entity_replacement, text) if "&" in text else text


# --- control_chars -------------------------------------------------------------------

_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]+")


def _control_edits(text: str) -> list[Edit]:
    """Edits deleting runs of control and zero-width characters."""
    return [(m.start(), m.end(), "") for m in _CONTROL_RE.finditer(text)]


def _control_text(text: str) -> str:
    return _CONTROL_RE.sub("", text)


# --- nfc / nfkc ----------------------------------------------------------------------


def _segments(text: str, form: Literal["NFC", "NFKC"]) -> list[tuple[int, int, str]]:
    """Split ``text`` into composition segments ``(start, end, normalized_segment)``.

    A character joins the current segment if its full decomposition starts with a
    non-starter (combining class != 0, e.g. U+0301, or U+0F73 which decomposes to
    two marks) or if normalizing it together with the segment differs from
    normalizing each apart (Hangul L+V, LV+T, and other starter pairs).
    """
    if not text:
        return []
    nf = unicodedata.normalize
    combining = unicodedata.combining
    decomposed_form: Literal["NFD", "NFKD"] = "NFD" if form == "NFC" else "NFKD"
    segments: list[tuple[int, int, str]] = []
    start = 0
    norm_seg = nf(form, text[0])
    for i in range(1, len(text)):
        c = text[i]
        if c >= "\x80":
            norm_c = nf(form, c)
            joined = nf(form, text[start : i + 1])
            if combining(nf(decomposed_form, c)[0]) or joined != norm_seg + norm_c:
                norm_seg = joined
                continue
        else:
            norm_c = c
        segments.append((start, i, norm_seg))
        start, norm_seg = i, norm_c
    segments.append((start, len(text), norm_seg))
    return segments


def _coarse_edit(text: str, target: str) -> list[Edit]:
    """One edit turning ``text`` into ``target``, trimmed to the differing middle."""
    prefix = 0
    limit = min(len(text), len(target))
    while prefix < limit and text[prefix] == target[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and text[-1 - suffix] == target[-1 - suffix]:
        suffix += 1
    if prefix + suffix == len(text):  # keep the edited region non-empty
        if prefix:
            prefix -= 1
        else:
            suffix -= 1
    return [(prefix, len(text) - suffix, target[prefix : len(target) - suffix])]


def _unicode_edits(text: str, form: Literal["NFC", "NFKC"]) -> list[Edit]:
    """Edits normalizing ``text`` to ``form``, one per changed composition segment.

    Already-normalized text returns ``[]`` without a per-character pass. Should the
    segments ever disagree with whole-string normalization, one coarse edit is used.
    """
    if unicodedata.is_normalized(form, text):
        return []
    segments = _segments(text, form)
    target = unicodedata.normalize(form, text)
    if "".join(seg for _, _, seg in segments) != target:
        return _coarse_edit(text, target)
    return [(s, e, seg) for s, e, seg in segments if text[s:e] != seg]


# --- whitespace ----------------------------------------------------------------------

_SPACE_RE = re.compile(r"\s+")  # same set as str.isspace


def _whitespace_edits(text: str) -> list[Edit]:
    """Edits folding whitespace runs to one space and stripping both ends."""
    n = len(text)
    edits: list[Edit] = []
    for m in _SPACE_RE.finditer(text):
        replacement = "" if m.start() == 0 or m.end() == n else " "
        if m.group(0) != replacement:
            edits.append((m.start(), m.end(), replacement))
    return edits


def _whitespace_text(text: str) -> str:
    return " ".join(text.split())


# --- driver --------------------------------------------------------------------------

_EDITORS: dict[str, Callable[[str], list[Edit]]] = {
    "html_tags": _html_tag_edits,
    "html_entities": _html_entity_edits,
    "control_chars": _control_edits,
    "nfc": lambda text: _unicode_edits(text, "NFC"),
    "nfkc": lambda text: _unicode_edits(text, "NFKC"),
    "whitespace": _whitespace_edits,
}
_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "html_tags": _html_tags_text,
    "html_entities": _html_entities_text,
    "control_chars": _control_text,
    "nfc": lambda text: unicodedata.normalize("NFC", text),
    "nfkc": lambda text: unicodedata.normalize("NFKC", text),
    "whitespace": _whitespace_text,
}


def check_ops(ops: Sequence[str]) -> tuple[Op, ...]:
    """Validate op names; return them as a tuple. Raises ValueError on unknown names."""
    if type(ops) is tuple and ops in _CHECKED:
        return ops  # type: ignore[return-value]
    if isinstance(ops, str):
        raise TypeError(f"ops must be a sequence of op names, not a string: got {ops!r}")
    bad = [op for op in ops if op not in OPS]
    if bad:
        raise ValueError(f"unknown normalization op(s) {bad}: allowed ops are {list(OPS)}")
    checked: tuple[Op, ...] = tuple(ops)  # type: ignore[arg-type]
    _CHECKED.add(checked)
    return checked


_CHECKED: set[tuple[str, ...]] = set()


def normalize(text: str, ops: Sequence[Op] = DEFAULT_OPS) -> tuple[str, OffsetMap]:
    """Apply ``ops`` in order; return ``(new_text, map original -> new boundaries)``."""
    omap = OffsetMap.identity(len(text))
    for op in check_ops(ops):
        edits = _EDITORS[op](text)
        if edits:
            text, step = apply_edits(text, edits)
            omap = omap.then(step)
    return text, omap


def normalize_text(text: str, ops: Sequence[Op] = DEFAULT_OPS) -> str:
    """Same string as ``normalize(text, ops)[0]``, without building an offset map."""
    for op in check_ops(ops):
        text = _TRANSFORMS[op](text)
    return text
