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

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

ShingleKind = Literal["char", "word", "morph"]
SHINGLE_KINDS: tuple[ShingleKind, ...] = ("char", "word", "morph")

_BASE = np.uint64(0x100000001B3)  # odd multiplier of the polynomial rolling hash
_EMPTY = np.uint64(0x9E3779B97F4A7C15)  # the hash of a text with no units


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


def _codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32)
    return codes, offsets


def _powers(n: int) -> np.ndarray:
    """``_BASE ** k`` modulo 2**64 for ``k < n``."""
    powers = np.ones(max(n, 1), np.uint64)
    with np.errstate(over="ignore"):
        for k in range(1, n):
            powers[k] = powers[k - 1] * _BASE
    return powers


def _segment_hashes(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Polynomial hash of each whole segment ``values[offsets[i]:offsets[i+1]]`` (empty: a constant)."""
    lengths = np.diff(offsets)
    out = np.full(len(lengths), _EMPTY, np.uint64)
    nonempty = np.nonzero(lengths > 0)[0]
    if not len(nonempty):
        return out
    seg_lengths = lengths[nonempty]
    seg_starts = offsets[:-1][nonempty]
    local = _local_positions(seg_lengths)
    flat = np.repeat(seg_starts, seg_lengths) + local
    exponent = np.repeat(seg_lengths - 1, seg_lengths) - local
    terms = values[flat].astype(np.uint64) * _powers(int(seg_lengths.max()))[exponent]
    sums = np.zeros(len(nonempty), np.uint64)
    np.add.at(sums, np.repeat(np.arange(len(nonempty)), seg_lengths), terms)
    out[nonempty] = sums + seg_lengths.astype(np.uint64) * _EMPTY
    return out


def _local_positions(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for segment lengths ``l``."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - lengths, lengths)


def ngram_hashes(values: np.ndarray, offsets: np.ndarray, n: int) -> Shingles:
    """Hashes of every window of ``n`` consecutive units within each segment; a segment shorter
    than ``n`` gives one hash of the whole segment. ``values`` are unit hashes (code points, word
    hashes, morpheme hashes)."""
    if n < 1:
        raise ValueError(f"n-gram size must be >= 1: got {n}")
    lengths = np.diff(offsets)
    windows = np.maximum(lengths - n + 1, 0)
    short = windows == 0
    out_offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(np.where(short, 1, windows), out=out_offsets[1:])
    out = np.empty(int(out_offsets[-1]), np.uint64)
    short_slot = np.zeros(len(out), bool)
    short_docs = np.nonzero(short)[0]
    short_slot[out_offsets[short_docs]] = True
    m = len(values) - n + 1
    if m > 0 and not short.all():
        rolling = np.zeros(m, np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                rolling *= _BASE
                rolling += values[k : k + m]
        window_end = np.repeat(offsets[1:], lengths)[:m]
        out[~short_slot] = rolling[np.arange(n, m + n) <= window_end]
    if len(short_docs):
        sub_offsets = np.zeros(len(short_docs) + 1, np.int64)
        np.cumsum(lengths[short_docs], out=sub_offsets[1:])
        index = np.repeat(offsets[short_docs], lengths[short_docs]) + _local_positions(lengths[short_docs])
        # a short text must never equal an n-gram of a longer one: tag it
        out[short_slot] = _segment_hashes(values[index], sub_offsets) ^ np.uint64(0xA5A5A5A5A5A5A5A5)
    return Shingles(mix64(out), out_offsets)


def _word_units(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every word (a run of characters above U+0020) and per-text word offsets."""
    codes = np.frombuffer((" ".join(texts) + " ").encode("utf-32-le"), np.uint32)
    text_starts = np.zeros(len(texts), np.int64)
    if len(texts) > 1:
        np.cumsum(np.fromiter((len(t) + 1 for t in texts[:-1]), np.int64, len(texts) - 1), out=text_starts[1:])
    is_sep = codes <= 32
    word_starts = np.nonzero(~is_sep & np.concatenate(([True], is_sep[:-1])))[0]
    word_ends = np.nonzero(~is_sep & np.concatenate((is_sep[1:], [True])))[0] + 1
    lengths = word_ends - word_starts
    word_offsets = np.zeros(len(word_starts) + 1, np.int64)
    np.cumsum(lengths, out=word_offsets[1:])
    index = np.repeat(word_starts, lengths) + _local_positions(lengths)
    word_hashes = _segment_hashes(codes[index], word_offsets)
    owner = np.searchsorted(text_starts, word_starts, side="right") - 1
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=len(texts)), out=offsets[1:])
    return word_hashes, offsets


def _morph_units(texts: Sequence[str], analyzer: Any) -> tuple[np.ndarray, np.ndarray]:
    tokens_per_text = [[token.form for token in analyzer.tokenize(text)] if text else [] for text in texts]
    flat = [token for tokens in tokens_per_text for token in tokens]
    codes, token_offsets = _codepoints(flat)
    token_hashes = _segment_hashes(codes, token_offsets)
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(tokens) for tokens in tokens_per_text], out=offsets[1:])
    return token_hashes, offsets


def korean_analyzer() -> Any:
    """A kiwipiepy analyzer (the ``morph`` extra); a clear error when it is not installed."""
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        from curate.errors import ConfigError

        raise ConfigError(
            "morpheme shingles need kiwipiepy", value="morph", hint="pip install 'curate[morph]' or use shingle: char"
        ) from None
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
    if len(chunks) > 1:
        return Shingles.concat([_shingle_chunk(texts[a:b], kind, n, analyzer) for a, b in chunks])
    return _shingle_chunk(texts, kind, n, analyzer)


def _shingle_chunk(texts: Sequence[str], kind: ShingleKind, n: int, analyzer: Any) -> Shingles:
    if kind == "char":
        codes, offsets = _codepoints(texts)
        return ngram_hashes(codes, offsets, n)
    if kind == "word":
        return ngram_hashes(*_word_units(texts), n)
    if kind == "morph":
        return ngram_hashes(*_morph_units(texts, analyzer or korean_analyzer()), n)
    raise ValueError(f"unknown shingle kind {kind!r}: use one of {', '.join(SHINGLE_KINDS)}")


def shingle_set(text: str, kind: ShingleKind = "char", n: int = 5) -> set[int]:
    """Reference implementation for tests: the set of shingle hashes of one prepared text."""
    return set(shingle_hashes([text], kind, n).hashes.tolist())
