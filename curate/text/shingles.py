"""Shingle hashing for near-duplicate detection, vectorized with numpy (pure functions).

A batch of texts becomes one flat ``uint64`` array of shingle hashes plus ``int64`` offsets
(``offsets[i]:offsets[i+1]`` are the hashes of text ``i``), ready for MinHash.

- ``char``: n-grams of code points (the default for Korean, Chinese, Japanese: no word boundaries
  needed, and NFD/NFC differences are removed by :func:`prepare` first).
- ``word``: n-grams of whitespace-separated words (eojeol in Korean).
- ``morph``: n-grams of Korean morphemes from kiwipiepy (an optional extra).

A text shorter than ``n`` units is hashed as one whole shingle, never skipped, so two identical
short texts always match (the empty text included).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from curate import progress
from curate.errors import ConfigError

ShingleKind = Literal["char", "word", "morph"]
SHINGLE_KINDS: tuple[ShingleKind, ...] = ("char", "word", "morph")

_BASE = np.uint64(0x100000001B3)  # odd multiplier of the polynomial rolling hash
_INVERSE = pow(int(_BASE), -1, 1 << 64)  # _BASE is odd, so it has an inverse modulo 2**64
_EMPTY = np.uint64(0x9E3779B97F4A7C15)  # the hash of a text with no units
_SHORT_TAG = np.uint64(0xA5A5A5A5A5A5A5A5)
_ROLLING_MAX = 8  # windows up to this size are hashed by rolling, longer ones from prefix sums


@dataclass(frozen=True)
class Shingles:
    """Shingle hashes of many texts: ``hashes[offsets[i]:offsets[i+1]]`` belong to text ``i``."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len = number of texts + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]

    def slice(self, start: int, end: int) -> Shingles:
        """Texts ``start:end`` without copying the hashes."""
        first, last = int(self.offsets[start]), int(self.offsets[end])
        return Shingles(self.hashes[first:last], self.offsets[start : end + 1] - first)

    def subset(self, rows: np.ndarray) -> Shingles:
        """The shingles of ``rows`` (indices), in that order."""
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        pieces = [self.hashes[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        return Shingles(np.concatenate(pieces) if pieces else np.zeros(0, np.uint64), offsets)

    @staticmethod
    def concat(parts: Sequence[Shingles]) -> Shingles:
        hashes = np.concatenate([p.hashes for p in parts]) if parts else np.zeros(0, np.uint64)
        counts = np.concatenate([np.diff(p.offsets) for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return Shingles(hashes, offsets)


def _fold(text: str | None, lowercase: bool) -> str:
    if not text:
        return ""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join((text.lower() if lowercase else text).split())


def prepare(texts: pa.Array | pa.ChunkedArray | Sequence[str | None], *, lowercase: bool = True) -> list[str]:
    """Fold texts before shingling: NFC, optional lowercase, whitespace runs to one space, trimmed;
    null becomes the empty text."""
    values = texts.to_pylist() if isinstance(texts, pa.Array | pa.ChunkedArray) else texts
    return [_fold(text, lowercase) for text in values]


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, in place: spreads structured hashes (polynomials of code points)."""
    x = values
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Code points of all texts (``uint32``, concatenated) and per-text offsets."""
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32)
    return codes, offsets


_POWER_CACHE: dict[int, np.ndarray] = {}


def powers(base: int, n: int) -> np.ndarray:
    """``base ** k`` modulo 2**64 for ``k < n`` (a cached table, grown by doubling)."""
    table = _POWER_CACHE.get(base)
    if table is None or len(table) < n:
        size = max(n, 2 * len(table) if table is not None else 1 << 16)
        table = np.full(size, np.uint64(base), np.uint64)
        table[0] = 1
        with np.errstate(over="ignore"):
            table = _POWER_CACHE[base] = np.cumprod(table)
    return table[:n]


def span_hashes(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polynomial hash ``sum(values[j] * BASE**(end-1-j) for start <= j < end)`` modulo 2**64 of every
    span, from prefix sums: one pass over ``values`` whatever the span lengths. An empty span gets a
    constant of its own."""
    prefix = np.zeros(len(values) + 1, np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(values.astype(np.uint64) * powers(_INVERSE, len(values)), out=prefix[1:])
        scale = powers(int(_BASE), max(len(values), 1))[np.maximum(ends - 1, 0)]
        hashes = (prefix[ends] - prefix[starts]) * scale
    return np.where(ends > starts, hashes, _EMPTY)


def local_positions(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for segment lengths ``l``."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - lengths, lengths)


def window_hashes(values: np.ndarray, offsets: np.ndarray, n: int) -> Shingles:
    """Hashes of every window of ``n`` consecutive units inside each segment (none for a segment
    shorter than ``n``), mixed with :func:`mix64`."""
    lengths = np.diff(offsets)
    count = np.maximum(lengths - n + 1, 0)
    out_offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(count, out=out_offsets[1:])
    starts = np.repeat(offsets[:-1], count) + local_positions(count)
    if n > _ROLLING_MAX or len(values) < n:
        return Shingles(mix64(span_hashes(values, starts, starts + n)), out_offsets)
    # short windows: n sequential passes beat the prefix sums' random gathers
    m = len(values) - n + 1
    rolling = np.zeros(m, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            rolling *= _BASE
            rolling += values[k : k + m]
    return Shingles(mix64(rolling[starts]), out_offsets)


def ngram_hashes(values: np.ndarray, offsets: np.ndarray, n: int) -> Shingles:
    """Like :func:`window_hashes`, but a segment shorter than ``n`` gives one hash of the whole
    segment (tagged, so it never equals a window of a longer one). ``values`` are unit hashes (code
    points, word hashes, morpheme hashes)."""
    if n < 1:
        raise ValueError(f"n-gram size must be >= 1: got {n}")
    windows = window_hashes(values, offsets, n)
    lengths = np.diff(offsets)
    short = np.nonzero(lengths < n)[0]
    if not len(short):
        return windows
    short_lengths = lengths[short]
    short_values = values[np.repeat(offsets[short], short_lengths) + local_positions(short_lengths)]
    short_offsets = np.zeros(len(short) + 1, np.int64)
    np.cumsum(short_lengths, out=short_offsets[1:])
    whole = mix64(span_hashes(short_values, short_offsets[:-1], short_offsets[1:]) ^ _SHORT_TAG)
    counts = np.diff(windows.offsets)
    counts[short] = 1
    out_offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(counts, out=out_offsets[1:])
    out = np.empty(int(out_offsets[-1]), np.uint64)
    short_slot = np.zeros(len(out), bool)
    short_slot[out_offsets[short]] = True
    out[short_slot] = whole
    out[~short_slot] = windows.hashes
    return Shingles(out, out_offsets)


def word_units(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every word (a run of characters above U+0020) of each text and per-text word offsets."""
    codes = np.frombuffer((" ".join(texts) + " ").encode("utf-32-le"), np.uint32)
    text_starts = np.zeros(len(texts), np.int64)
    if len(texts) > 1:
        np.cumsum(np.fromiter((len(t) + 1 for t in texts[:-1]), np.int64, len(texts) - 1), out=text_starts[1:])
    is_sep = codes <= 32
    word_starts = np.nonzero(~is_sep & np.concatenate(([True], is_sep[:-1])))[0]
    word_ends = np.nonzero(~is_sep & np.concatenate((is_sep[1:], [True])))[0] + 1
    with np.errstate(over="ignore"):
        hashes = mix64(span_hashes(codes, word_starts, word_ends) + (word_ends - word_starts).astype(np.uint64))
    owner = np.searchsorted(text_starts, word_starts, side="right") - 1
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=len(texts)), out=offsets[1:])
    return hashes, offsets


def _morph_units(texts: Sequence[str], analyzer: Any) -> tuple[np.ndarray, np.ndarray]:
    tokens_per_text = [[token.form for token in analyzer.tokenize(text)] if text else [] for text in texts]
    flat = [token for tokens in tokens_per_text for token in tokens]
    codes, token_offsets = codepoints(flat)
    token_hashes = mix64(span_hashes(codes, token_offsets[:-1], token_offsets[1:]))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(tokens) for tokens in tokens_per_text], out=offsets[1:])
    return token_hashes, offsets


def korean_analyzer(*, need: str = "morpheme shingles", instead: str = "shingle: char") -> Any:
    """The kiwipiepy analyzer (the ``morph`` extra), loaded once a process; when kiwipiepy is not
    installed, a ConfigError saying what ``need``s it and suggesting the option ``instead``."""
    try:
        return _kiwi()
    except ImportError:
        raise ConfigError(
            f"{need} need kiwipiepy", value="morph", hint=f"pip install 'curate[morph]' or use {instead}"
        ) from None


@functools.cache
def _kiwi() -> Any:
    from kiwipiepy import Kiwi

    return Kiwi()


_CHUNK_CHARS = 1 << 22  # characters hashed at a time, to bound the temporary arrays


def _chunks(texts: Sequence[str]) -> list[tuple[int, int]]:
    """``(start, end)`` ranges of texts holding about ``_CHUNK_CHARS`` characters each."""
    ranges, start, size = [], 0, 0
    for i, text in enumerate(texts):
        size += len(text) + 1
        if size >= _CHUNK_CHARS:
            ranges.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts) or not ranges:
        ranges.append((start, len(texts)))
    return ranges


def shingle_hashes(texts: Sequence[str], kind: ShingleKind = "char", n: int = 5, *, analyzer: Any = None) -> Shingles:
    """Shingle hashes of already :func:`prepare`-d texts (hashed in chunks to bound memory)."""
    chunks = _chunks(texts)
    progress.step("shingling", 0, len(texts))
    parts = []
    for a, b in chunks:
        parts.append(_shingle_chunk(texts[a:b] if len(chunks) > 1 else texts, kind, n, analyzer))
        progress.step("shingling", b, len(texts))
    return Shingles.concat(parts) if len(parts) > 1 else parts[0]


def _shingle_chunk(texts: Sequence[str], kind: ShingleKind, n: int, analyzer: Any) -> Shingles:
    if kind == "char":
        return ngram_hashes(*codepoints(texts), n)
    if kind == "word":
        return ngram_hashes(*word_units(texts), n)
    if kind == "morph":
        return ngram_hashes(*_morph_units(texts, analyzer or korean_analyzer()), n)
    raise ValueError(f"unknown shingle kind {kind!r}: use one of {', '.join(SHINGLE_KINDS)}")


def shingle_set(text: str, kind: ShingleKind = "char", n: int = 5) -> set[int]:
    """Reference implementation for tests: the set of shingle hashes of one prepared text."""
    return set(shingle_hashes([text], kind, n).hashes.tolist())
