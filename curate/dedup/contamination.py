"""Train/eval contamination: which training rows overlap an evaluation set (pure functions + a
small orchestration over datasets).

Texts are compared per field after :func:`~curate.text.shingles.prepare` (NFC, optional lowercase,
whitespace folded), by up to four methods:

- ``minhash``: near-duplicate texts. The evaluation texts' MinHash digests go into rensa LSH
  indexes; the training texts that collide with one get signatures, their LSH band keys are looked
  up among the evaluation texts' keys, and every candidate pair is confirmed by the true Jaccard
  similarity of the shingle sets (``overlap`` = that Jaccard, >= ``threshold``).
- ``ngram_words`` / ``ngram_chars``: a shared run of ``n`` whitespace words (default 13) or ``n``
  characters (default 50). Every window of the evaluation texts is hashed (the polynomial hash of
  :func:`~curate.text.shingles.ngram_hashes`) into one sorted array, with the text it came from;
  every window of the training texts is tested against a bit filter of those hashes and the few
  that pass are looked up with ``np.searchsorted``. ``shared`` = how many of the training text's
  windows occur in the evaluation text, ``overlap`` = that count / the number of windows of the
  shorter of the two texts.
- ``exact``: a text too short for every enabled window size is compared whole (identical after
  ``prepare``; ``overlap`` 1.0).

A text with fewer than ``min_chars`` characters (after ``prepare``) is never compared, so short
common values (an answer like "1990") do not flag everything.

Identical texts are compared once (texts are made unique per side first), so repeated MRC passages
cost nothing extra. The result lists every (training row, evaluation row, field, method) that
overlaps, in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from rensa import RMinHashLSH

from curate import progress
from curate.dataset import Dataset
from curate.dedup.minhash import LshConfig, band_groups, band_keys, digest_batches, jaccard, signatures
from curate.dedup.plan import MinHashSettings
from curate.errors import ConfigError, Where
from curate.io import _as_dataset
from curate.schemas import get_schema, row_ids
from curate.text.shingles import (
    Shingles,
    codepoints,
    korean_analyzer,
    local_positions,
    prepare,
    shingle_hashes,
    window_hashes,
    word_units,
)

if TYPE_CHECKING:
    from curate.executors import Executor, Span

Method = Literal["minhash", "ngram_words", "ngram_chars", "exact"]
METHODS: tuple[Method, ...] = ("minhash", "ngram_words", "ngram_chars", "exact")
NgramUnit = Literal["word", "char"]

REPORT_SCHEMA = pa.schema(
    [
        ("train_id", pa.string()),
        ("eval_id", pa.string()),
        ("field", pa.string()),
        ("method", pa.string()),
        ("overlap", pa.float64()),
        ("shared", pa.int64()),
    ]
)

_WINDOW_CHUNK = 2_000_000  # training units (characters or words) hashed at a time
_MARK = {"minhash": "~", "ngram_words": "~", "ngram_chars": "~", "exact": "="}


class ContaminationSettings(MinHashSettings):
    """How texts are compared: the MinHash settings (``threshold``, ``shingle``, ``ngram``,
    ``num_perm``, ...), the n-gram runs and which texts are compared at all."""

    verify: Literal[True] = True
    """Always true here: every MinHash candidate pair is confirmed by its true Jaccard."""
    minhash: bool = True
    """Also look for near-duplicate texts with MinHash (turn off to use only n-grams and exact matches)."""
    ngram_words: int | None = Field(default=13, ge=1)
    """A shared run of this many whitespace words is an overlap; null turns the check off."""
    ngram_chars: int | None = Field(default=50, ge=1)
    """A shared run of this many characters is an overlap; null turns the check off."""
    ngram_fraction: float = Field(default=0.1, ge=0, le=1)
    """An n-gram finding marks a row contaminated only when the shared windows are at least this
    fraction of the shorter text's windows (0: any shared run does; the report lists every finding
    either way)."""
    min_chars: int = Field(default=20, ge=1)
    """Texts shorter than this (in characters, after normalization) are never compared; a text too
    short for the n-gram checks is compared whole (exact match)."""


@dataclass(frozen=True)
class Overlaps:
    """Overlapping pairs: ``train[i]`` and ``eval[i]`` index the two inputs, ``overlap[i]`` is the
    measure (Jaccard or fraction of windows shared), ``shared[i]`` the number of shared windows
    (-1 where the method has none). Sorted by (train, eval)."""

    train: np.ndarray  # int64
    eval: np.ndarray  # int64
    overlap: np.ndarray  # float64
    shared: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.train)

    @staticmethod
    def empty() -> Overlaps:
        none = np.zeros(0, np.int64)
        return Overlaps(none, none, np.zeros(0, np.float64), none)

    def take(self, index: np.ndarray) -> Overlaps:
        return Overlaps(self.train[index], self.eval[index], self.overlap[index], self.shared[index])

    def sorted(self) -> Overlaps:
        return self.take(np.lexsort((self.eval, self.train)))

    def pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.train.tolist(), self.eval.tolist(), strict=True))


# ----------------------------------------------------------------------------- methods on texts


def _units(texts: Sequence[str], unit: NgramUnit) -> Shingles:
    """Unit values (code points or word hashes) of prepared texts, with per-text offsets."""
    return Shingles(*(word_units(texts) if unit == "word" else codepoints(texts)))


def _window_hashes(units: Shingles, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every ``n``-unit window of the texts ``rows`` (each at least ``n`` units long) and
    the text (an index into ``rows``'s order) each window belongs to."""
    part = units.subset(rows)
    windows = window_hashes(part.hashes, part.offsets, n)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(windows.offsets))
    return windows.hashes, owner


class _Bitmap:
    """A one-hash Bloom filter over 64-bit hashes (their top bits index a packed bit array, about 32
    bits per hash): a vectorized first test that leaves the binary search only the few windows that
    may be present."""

    def __init__(self, hashes: np.ndarray):
        self.bits = int(np.clip(np.ceil(np.log2(max(len(hashes), 1))) + 5, 16, 31))
        slots = np.unique(hashes >> np.uint64(64 - self.bits))
        self.array = np.zeros(1 << (self.bits - 3), np.uint8)
        if len(slots):
            byte = slots >> np.uint64(3)
            flags = np.left_shift(np.uint8(1), (slots & np.uint64(7)).astype(np.uint8))
            starts = np.nonzero(np.concatenate(([True], byte[1:] != byte[:-1])))[0]
            self.array[byte[starts]] = np.bitwise_or.reduceat(flags, starts)

    def holds(self, hashes: np.ndarray) -> np.ndarray:
        """False where a hash is certainly absent; True where it may be present."""
        slots = hashes >> np.uint64(64 - self.bits)
        shift = (slots & np.uint64(7)).astype(np.uint8)
        return (np.right_shift(self.array[slots >> np.uint64(3)], shift) & np.uint8(1)).astype(bool)


@dataclass
class _Windows:
    """The ``n``-unit windows of the evaluation texts: distinct ``(hash, text)`` pairs sorted by hash,
    a bit filter of the hashes and each text's length in units."""

    n: int
    units: np.ndarray  # units per evaluation text
    hashes: np.ndarray
    owner: np.ndarray
    bitmap: _Bitmap | None

    @staticmethod
    def of(eval: Shingles, n: int) -> _Windows:
        eval_units = np.diff(eval.offsets)
        eval_rows = np.nonzero(eval_units >= n)[0]
        if not len(eval_rows):
            none = np.zeros(0, np.int64)
            return _Windows(n, eval_units, none.astype(np.uint64), none, None)
        hashes, owner = _window_hashes(eval, eval_rows, n)
        order = np.lexsort((owner, hashes))
        hashes, owner = hashes[order], eval_rows[owner[order]]
        distinct = np.ones(len(hashes), bool)  # each (window, eval text) once
        distinct[1:] = (hashes[1:] != hashes[:-1]) | (owner[1:] != owner[:-1])
        hashes, owner = hashes[distinct], owner[distinct]
        return _Windows(n, eval_units, hashes, owner, _Bitmap(hashes))

    def overlaps(self, train: Shingles) -> Overlaps:
        """Pairs of texts sharing at least one window (texts shorter than ``n`` are skipped)."""
        n, hashes, owner, bitmap, eval_units = self.n, self.hashes, self.owner, self.bitmap, self.units
        train_units = np.diff(train.offsets)
        train_rows = np.nonzero(train_units >= n)[0]
        if bitmap is None or not len(train_rows):
            return Overlaps.empty()
        n_eval = len(eval_units)
        found: list[tuple[np.ndarray, np.ndarray]] = []
        ends = np.cumsum(train_units[train_rows])  # train texts are hashed in chunks of about _WINDOW_CHUNK units
        start = 0
        while start < len(train_rows):
            done = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, done + _WINDOW_CHUNK, "right")))
            rows = train_rows[start:stop]
            start = stop
            train_hashes, train_owner = _window_hashes(train, rows, n)
            maybe = np.nonzero(bitmap.holds(train_hashes))[0]
            maybe = maybe[np.argsort(train_hashes[maybe], kind="stable")]  # sorted keys search faster
            position = np.searchsorted(hashes, train_hashes[maybe], "left")
            inside = position < len(hashes)
            equal = np.zeros(len(maybe), bool)
            equal[inside] = hashes[position[inside]] == train_hashes[maybe[inside]]
            hit, position = maybe[equal], position[equal]
            if not len(hit):
                continue
            count = np.searchsorted(hashes, train_hashes[hit], "right") - position
            pair_train = np.repeat(rows[train_owner[hit]], count)
            pair_eval = owner[np.repeat(position, count) + local_positions(count)]
            keys, shared = np.unique(pair_train * n_eval + pair_eval, return_counts=True)
            found.append((keys, shared))
        if not found:
            return Overlaps.empty()
        keys = np.concatenate([k for k, _ in found])
        shared = np.concatenate([s for _, s in found]).astype(np.int64)
        t, e = keys // n_eval, keys % n_eval
        windows = np.minimum(train_units[t], eval_units[e]) - n + 1
        return Overlaps(t, e, shared / windows, shared).sorted()


def _window_overlaps(train: Shingles, eval: Shingles, n: int) -> Overlaps:
    """Pairs of texts sharing at least one window of ``n`` units (texts shorter than ``n`` are skipped)."""
    return _Windows.of(eval, n).overlaps(train)


def ngram_overlaps(train: Sequence[str], eval: Sequence[str], n: int, *, unit: NgramUnit = "word") -> Overlaps:
    """Pairs of prepared texts that share a run of ``n`` words (``unit="word"``) or ``n`` characters
    (``unit="char"``); texts shorter than ``n`` units are skipped.

    Returns:
        :class:`Overlaps` with ``shared`` = the training text's windows found in the evaluation
        text and ``overlap`` = ``shared`` / the training text's number of windows.
    """
    if n < 1:
        raise ValueError(f"n-gram size must be at least 1, got {n}")
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    return _window_overlaps(_units(train, unit), _units(eval, unit), n)


def exact_overlaps(train: Sequence[str], eval: Sequence[str]) -> Overlaps:
    """Pairs of identical texts (compare prepared texts); ``overlap`` 1.0."""
    where: dict[str, list[int]] = {}
    for i, text in enumerate(eval):
        where.setdefault(text, []).append(i)
    t: list[int] = []
    e: list[int] = []
    for i, text in enumerate(train):
        for j in where.get(text, ()):
            t.append(i)
            e.append(j)
    n = len(t)
    return Overlaps(np.array(t, np.int64), np.array(e, np.int64), np.ones(n), np.full(n, -1, np.int64))


def _range_pairs(sorted_keys: np.ndarray, order: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query index, ``order[k]``) with ``sorted_keys[k] == queries[query index]``."""
    left = np.searchsorted(sorted_keys, queries, "left")
    count = np.searchsorted(sorted_keys, queries, "right") - left
    hit = np.nonzero(count)[0]
    count = count[hit]
    return np.repeat(hit, count), order[np.repeat(left[hit], count) + local_positions(count)]


@dataclass
class _MinHashes:
    """The evaluation texts' shingles, one rensa LSH index per band group (:func:`band_groups`) and
    their band keys, each band's keys sorted (``order`` gives the text of each)."""

    config: LshConfig
    shingles: Shingles
    indexes: list[Any]  # RMinHashLSH per band group
    keys: np.ndarray  # (bands, texts) sorted per band
    order: np.ndarray  # (bands, texts)

    @staticmethod
    def of(eval: Shingles, settings: MinHashSettings) -> _MinHashes:
        config = settings.lsh()
        indexes = []
        for group in band_groups(config):
            index = RMinHashLSH(group.threshold, group.num_perm, group.bands)
            for start, matrix in digest_batches(eval, group):
                index.insert_matrix(matrix, start_key=start)
            indexes.append(index)
        keys = band_keys(signatures(eval, config), config) if len(eval) else np.zeros((0, config.bands), np.uint64)
        order = np.argsort(keys, axis=0, kind="stable").T
        return _MinHashes(config, eval, indexes, np.take_along_axis(keys.T, order, axis=1), order)

    def _colliding(self, train: Shingles) -> np.ndarray:
        """Training texts that share at least one LSH band with some evaluation text (a superset of
        the pairs found by band keys), found with rensa's indexes so only these need signatures."""
        flags = np.zeros(len(train), bool)
        done = 0
        progress.step("LSH bands", 0, self.config.bands, "bands")
        for group, index in zip(band_groups(self.config), self.indexes, strict=True):
            for start, matrix in digest_batches(train, group):
                found = np.asarray(index.query_duplicate_flags_matrix_one_shot(matrix), bool)
                flags[start : start + len(found)] |= found
            done += group.bands
            progress.step("LSH bands", done, self.config.bands, "bands")
        return np.nonzero(flags)[0]

    def overlaps(self, train: Shingles) -> Overlaps:
        """Pairs of near-duplicate texts (``overlap`` = their shingle Jaccard, >= the threshold)."""
        eval, config = self.shingles, self.config
        if not len(train) or not len(eval):
            return Overlaps.empty()
        rows = self._colliding(train)
        if not len(rows):
            return Overlaps.empty()
        train_keys = band_keys(signatures(train, config, rows), config)
        n_eval = len(eval)
        candidates = []
        for b in range(config.bands):
            t, e = _range_pairs(self.keys[b], self.order[b], train_keys[:, b])
            candidates.append(rows[t] * n_eval + e)
        keys = np.unique(np.concatenate(candidates))
        if not len(keys):
            return Overlaps.empty()
        t, e = keys // n_eval, keys % n_eval
        train_ids, train_local = np.unique(t, return_inverse=True)
        eval_ids, eval_local = np.unique(e, return_inverse=True)
        both = Shingles.concat([train.subset(train_ids), eval.subset(eval_ids)])
        progress.step("verification", 0, len(keys), "pairs")
        similarity = jaccard(both, train_local, eval_local + len(train_ids))
        progress.step("verification", len(keys), len(keys), "pairs")
        passed = similarity >= config.threshold
        n = int(passed.sum())
        return Overlaps(t[passed], e[passed], similarity[passed], np.full(n, -1, np.int64))


def _minhash_overlaps(train: Shingles, eval: Shingles, settings: MinHashSettings) -> Overlaps:
    return _MinHashes.of(eval, settings).overlaps(train)


def _minhash_prepared(train: Sequence[str], eval: Sequence[str], settings: MinHashSettings) -> Overlaps:
    analyzer = korean_analyzer() if settings.shingle == "morph" else None
    with progress.scoped("training set"):
        train_shingles = shingle_hashes(train, settings.shingle, settings.ngram, analyzer=analyzer)
    with progress.scoped("evaluation set"):
        eval_shingles = shingle_hashes(eval, settings.shingle, settings.ngram, analyzer=analyzer)
    return _minhash_overlaps(train_shingles, eval_shingles, settings)


def minhash_overlaps(train: Sequence[str | None], eval: Sequence[str | None], settings: MinHashSettings) -> Overlaps:
    """Pairs of near-duplicate texts: MinHash LSH candidates whose true shingle Jaccard similarity is
    at least ``settings.threshold`` (``overlap`` = that Jaccard)."""
    return _minhash_prepared(
        prepare(train, lowercase=settings.lowercase), prepare(eval, lowercase=settings.lowercase), settings
    )


# ----------------------------------------------------------------------------- all methods on one field


def _unique(texts: Sequence[str | None]) -> tuple[list[Any], np.ndarray]:
    first: dict[str | None, int] = {}
    inverse = np.fromiter((first.setdefault(t, len(first)) for t in texts), np.int64, len(texts))
    return list(first), inverse


def _prepared_unique(texts: Sequence[str | None], lowercase: bool) -> tuple[list[str], np.ndarray]:
    """Distinct prepared texts and, per input, the index of its prepared text (raw duplicates are
    prepared once)."""
    raw, raw_inverse = _unique(texts)
    prepared, inverse = _unique(prepare(raw, lowercase=lowercase))
    return prepared, inverse[raw_inverse]


class _Groups:
    """Which items (input positions) hold each unique text."""

    def __init__(self, inverse: np.ndarray, size: int):
        self.order = np.argsort(inverse, kind="stable")
        self.count = np.bincount(inverse, minlength=size)
        self.start = np.concatenate(([0], np.cumsum(self.count)[:-1])).astype(np.int64)

    def expand(self, unique_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(which, item)``: for every ``unique_ids[which]``, each item holding that text."""
        count = self.count[unique_ids]
        which = np.repeat(np.arange(len(unique_ids)), count)
        return which, self.order[np.repeat(self.start[unique_ids], count) + local_positions(count)]


def _to_items(found: Overlaps, train: _Groups, eval: _Groups, train_ids: np.ndarray, eval_ids: np.ndarray) -> Overlaps:
    """Overlaps between compared (unique) texts -> overlaps between every input text holding them."""
    if not len(found):
        return found
    first, train_items = train.expand(train_ids[found.train])
    second, eval_items = eval.expand(eval_ids[found.eval[first]])
    pick = first[second]
    return Overlaps(train_items[second], eval_items, found.overlap[pick], found.shared[pick]).sorted()


def _long_enough(texts: list[str], min_chars: int) -> np.ndarray:
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    return np.nonzero(lengths >= min_chars)[0]


_WINDOW_METHODS: tuple[tuple[Method, NgramUnit], ...] = (("ngram_words", "word"), ("ngram_chars", "char"))


@dataclass
class TextIndex:
    """The evaluation texts of one field, ready to compare many training texts with
    (:meth:`overlaps`): distinct prepared texts and the items holding each, those long enough to
    compare, their MinHash index, the windows of each n-gram method, and the texts too short for
    every window method (compared whole). Built by :meth:`of`; it pickles, so it can be shared."""

    settings: ContaminationSettings
    groups: _Groups
    ids: np.ndarray  # distinct texts compared (long enough)
    minhash: _MinHashes | None
    windows: dict[Method, _Windows]
    whole: np.ndarray  # positions (in ids) of the texts too short for every window method
    exact: dict[str, list[int]]  # text -> positions in ``whole``

    @staticmethod
    def of(eval: Sequence[str | None], settings: ContaminationSettings | None = None) -> TextIndex:
        settings = settings or ContaminationSettings()
        texts, inverse = _prepared_unique(eval, settings.lowercase)
        ids = _long_enough(texts, settings.min_chars)
        kept = [texts[i] for i in ids.tolist()]
        minhash = None
        if settings.minhash:
            analyzer = korean_analyzer() if settings.shingle == "morph" else None
            with progress.scoped("evaluation set"):
                shingles = shingle_hashes(kept, settings.shingle, settings.ngram, analyzer=analyzer)
            minhash = _MinHashes.of(shingles, settings)
        windows: dict[Method, _Windows] = {}
        whole = np.ones(len(kept), bool)
        for method, unit in _WINDOW_METHODS:
            n = getattr(settings, method)
            if n is not None:
                windows[method] = _Windows.of(_units(kept, unit), n)
                whole &= windows[method].units < n
        short = np.nonzero(whole)[0]
        exact: dict[str, list[int]] = {}
        for i, j in enumerate(short.tolist()):
            exact.setdefault(kept[j], []).append(i)
        return TextIndex(settings, _Groups(inverse, len(texts)), ids, minhash, windows, short, exact)

    def overlaps(self, train: Sequence[str | None]) -> dict[Method, Overlaps]:
        """Every method's overlapping pairs between ``train`` (raw texts) and the indexed texts;
        indices refer to the inputs (see :func:`text_overlaps`)."""
        settings = self.settings
        train_texts, train_inverse = _prepared_unique(train, settings.lowercase)
        train_groups = _Groups(train_inverse, len(train_texts))
        train_ids = _long_enough(train_texts, settings.min_chars)
        train_kept = [train_texts[i] for i in train_ids.tolist()]
        found: dict[Method, Overlaps] = {}
        if self.minhash is not None:
            with progress.scoped("minhash"):
                analyzer = korean_analyzer() if settings.shingle == "morph" else None
                with progress.scoped("training set"):
                    shingles = shingle_hashes(train_kept, settings.shingle, settings.ngram, analyzer=analyzer)
                found["minhash"] = self.minhash.overlaps(shingles)
        whole_train = np.ones(len(train_kept), bool)  # too short for every window method
        for method, unit in _WINDOW_METHODS:
            windows = self.windows.get(method)
            if windows is None:
                continue
            progress.step(method, 0, len(train_kept), "texts")
            train_units = _units(train_kept, unit)
            whole_train &= np.diff(train_units.offsets) < windows.n
            found[method] = windows.overlaps(train_units)
            progress.step(method, len(train_kept), len(train_kept), "texts")
        short_train = np.nonzero(whole_train)[0]
        progress.step("exact", 0, len(short_train), "texts")
        t: list[int] = []
        e: list[int] = []
        for i, j in enumerate(short_train.tolist()):
            for k in self.exact.get(train_kept[j], ()):
                t.append(i)
                e.append(k)
        progress.step("exact", len(short_train), len(short_train), "texts")
        n = len(t)
        exact = Overlaps(np.array(t, np.int64), np.array(e, np.int64), np.ones(n), np.full(n, -1, np.int64))
        found["exact"] = Overlaps(short_train[exact.train], self.whole[exact.eval], exact.overlap, exact.shared)
        return {
            method: _to_items(found[method], train_groups, self.groups, train_ids, self.ids)
            for method in METHODS
            if method in found
        }


def text_overlaps(
    train: Sequence[str | None], eval: Sequence[str | None], settings: ContaminationSettings | None = None
) -> dict[Method, Overlaps]:
    """Every method's overlapping pairs between two lists of raw texts (one field).

    Texts are prepared, made unique per side, and those with fewer than ``settings.min_chars``
    characters are skipped. A text is compared whole (``exact``) when it is too short for every
    enabled window method. Indices in the result refer to the inputs, so repeated texts give one
    pair per repetition.
    """
    return TextIndex.of(eval, settings).overlaps(train)


# ----------------------------------------------------------------------------- datasets


def default_fields(kind: str) -> list[str]:
    """Fields compared by default: MRC ``context`` and ``question`` (an answer alone is no leak:
    ask for ``answers`` explicitly); other kinds their declared text fields."""
    if kind == "mrc":
        return ["context", "question"]
    return list(get_schema(kind).text_fields)


def field_texts(column: pa.ChunkedArray | pa.Array) -> tuple[list[str | None], np.ndarray]:
    """The texts of one column and the row each comes from.

    A string column gives one text per row; a list of strings or a list of structs with a ``text``
    field (MRC ``answers``) gives one text per element, so each answer is compared separately.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    dtype = array.type
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return array.to_pylist(), np.arange(len(array), dtype=np.int64)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        values = pc.list_flatten(array)
        owner = np.asarray(pc.list_parent_indices(array), np.int64)
        value_type = values.type
        if pa.types.is_struct(value_type) and value_type.get_field_index("text") >= 0:
            values = pc.struct_field(values, "text")
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return values.to_pylist(), owner
    raise TypeError(f"not a text column: {dtype}")


def _is_text(dtype: pa.DataType) -> bool:
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return True
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = dtype.value_type
        if pa.types.is_struct(inner):
            index = inner.get_field_index("text")
            return index >= 0 and pa.types.is_string(inner.field(index).type)
        return pa.types.is_string(inner) or pa.types.is_large_string(inner)
    return False


@dataclass(frozen=True)
class Contamination:
    """Every overlap between a training set and an evaluation set.

    ``report`` has one row per (training row, evaluation row, field, method):
    ``train_id, eval_id, field, method, overlap, shared`` (see :data:`REPORT_SCHEMA`), ordered by
    training row, evaluation row, field (in the order asked) and method (:data:`METHODS` order).
    ``train_row`` / ``eval_row`` give the 0-based row number of each report row on both sides;
    ``counted`` says which report rows make their training row contaminated (all of them unless
    ``ngram_fraction`` set a floor for n-gram findings).
    """

    report: pa.Table
    train_row: np.ndarray
    eval_row: np.ndarray
    counted: np.ndarray
    num_train: int
    num_eval: int
    fields: tuple[str, ...]

    @property
    def contaminated(self) -> np.ndarray:
        """One bool per training row: True when a counted finding (any field, any method) names it."""
        mask = np.zeros(self.num_train, bool)
        mask[self.train_row[self.counted]] = True
        return mask

    def counts(self) -> pa.Table:
        """``field, method, train_rows, eval_rows``: distinct rows with a counted finding per field and
        method (only pairs that occur), ordered by field then method."""
        fields = np.asarray(self.report.column("field").to_pylist(), object)
        methods = np.asarray(self.report.column("method").to_pylist(), object)
        rows = []
        for field in self.fields:
            for method in METHODS:
                where = (fields == field) & (methods == method) & self.counted
                if where.any():
                    rows.append(
                        {
                            "field": field,
                            "method": method,
                            "train_rows": len(np.unique(self.train_row[where])),
                            "eval_rows": len(np.unique(self.eval_row[where])),
                        }
                    )
        schema = pa.schema(
            [("field", pa.string()), ("method", pa.string()), ("train_rows", pa.int64()), ("eval_rows", pa.int64())]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    def summaries(self) -> list[str | None]:
        """One text per training row (None when clean): for each field and method the best-matching
        evaluation row of the counted findings, e.g.
        ``context~xq-12 (minhash 0.93, +4 more); question=xq-12 (exact)``. ``=`` marks an exact
        match, ``~`` an overlap; n-gram findings add the number of shared windows."""
        out: list[str | None] = [None] * self.num_train
        if not self.counted.any():
            return out
        field_rank = {f: i for i, f in enumerate(self.fields)}
        method_rank = {m: i for i, m in enumerate(METHODS)}
        fields = self.report.column("field").to_pylist()
        methods = self.report.column("method").to_pylist()
        field_index = np.fromiter((field_rank[f] for f in fields), np.int64, len(fields))
        method_index = np.fromiter((method_rank[m] for m in methods), np.int64, len(methods))
        overlap = np.asarray(self.report.column("overlap"), np.float64)
        order = np.lexsort((self.eval_row, -overlap, method_index, field_index, self.train_row))
        order = order[self.counted[order]]
        group = np.stack([self.train_row[order], field_index[order], method_index[order]], axis=1)
        starts = np.nonzero(np.concatenate(([True], (group[1:] != group[:-1]).any(axis=1))))[0]
        sizes = np.diff(np.append(starts, len(order)))
        best = order[starts]
        eval_ids = self.report.column("eval_id").to_pylist()
        shared = self.report.column("shared").to_pylist()
        parts: dict[int, list[str]] = {}
        for row, size in zip(best.tolist(), sizes.tolist(), strict=True):
            method = methods[row]
            measure = "exact" if method == "exact" else f"{method} {overlap[row]:.2f}"
            if shared[row] is not None:
                measure += f", {shared[row]} shared"
            if size > 1:
                measure += f", +{size - 1} more"
            text = f"{fields[row]}{_MARK[method]}{eval_ids[row]} ({measure})"
            parts.setdefault(int(self.train_row[row]), []).append(text)
        for row, texts in parts.items():
            out[row] = "; ".join(texts)
        return out


def _check_fields(dataset: Dataset, fields: Sequence[str], side: str) -> None:
    names = dataset.schema.names
    for name in fields:
        if name not in names:
            raise ConfigError(
                f"no such column in the {side} set",
                where=Where(field=name),
                value=name,
                hint=f"columns: {', '.join(names)}",
            )
        dtype = dataset.schema.field(name).type
        if not _is_text(dtype):
            raise ConfigError(
                f"column of the {side} set is not text",
                where=Where(field=name),
                value=str(dtype),
                hint="choose a string column, a list of strings, or a list of structs with a 'text' field",
            )


def _rows(found: Overlaps, train_owner: np.ndarray, eval_owner: np.ndarray) -> Overlaps:
    """Item pairs -> row pairs, the largest overlap per (training row, evaluation row)."""
    if not len(found):
        return found
    rows = Overlaps(train_owner[found.train], eval_owner[found.eval], found.overlap, found.shared)
    rows = rows.take(np.lexsort((-rows.overlap, rows.eval, rows.train)))
    first = np.ones(len(rows), bool)
    first[1:] = (rows.train[1:] != rows.train[:-1]) | (rows.eval[1:] != rows.eval[:-1])
    return rows.take(np.nonzero(first)[0])


@dataclass(frozen=True)
class ContaminationIndex:
    """An evaluation set ready to check training rows with: per compared field its
    :class:`TextIndex` and the row each of its texts comes from; the rows' ids. It pickles, so an
    executor can share it with every worker (:func:`find_contamination`)."""

    fields: tuple[str, ...]
    settings: ContaminationSettings
    texts: tuple[TextIndex, ...]
    owners: tuple[np.ndarray, ...]
    ids: pa.Array
    num_rows: int

    @staticmethod
    def of(eval: Dataset, fields: Sequence[str], settings: ContaminationSettings) -> ContaminationIndex:
        texts, owners = [], []
        for name in fields:
            values, owner = field_texts(eval.column(name))
            with progress.scoped(name):
                texts.append(TextIndex.of(values, settings))
            owners.append(owner)
        ids = pa.array(row_ids(eval, eval.kind), pa.string())
        return ContaminationIndex(tuple(fields), settings, tuple(texts), tuple(owners), ids, eval.num_rows)

    def check(self, train: pa.Table | Dataset, kind: str, first_row: int = 0) -> Contamination:
        """The findings about ``train``, rows ``first_row:first_row + len(train)`` of a training set
        of ``kind`` (report rows in order; ``train_row`` counts from ``first_row``)."""
        train_rows, eval_rows, overlaps, shared, field_index, method_index = [], [], [], [], [], []
        for f, (name, index, eval_owner) in enumerate(zip(self.fields, self.texts, self.owners, strict=True)):
            train_texts, train_owner = field_texts(train.column(name))
            with progress.scoped(name):
                overlapping = index.overlaps(train_texts)
            for method, found in overlapping.items():
                rows = _rows(found, train_owner, eval_owner)
                train_rows.append(rows.train)
                eval_rows.append(rows.eval)
                overlaps.append(rows.overlap)
                shared.append(rows.shared)
                field_index.append(np.full(len(rows), f, np.int64))
                method_index.append(np.full(len(rows), METHODS.index(method), np.int64))
        t = np.concatenate(train_rows) if train_rows else np.zeros(0, np.int64)
        e = np.concatenate(eval_rows) if eval_rows else np.zeros(0, np.int64)
        fi = np.concatenate(field_index) if field_index else np.zeros(0, np.int64)
        mi = np.concatenate(method_index) if method_index else np.zeros(0, np.int64)
        order = np.lexsort((mi, fi, e, t))
        t, e, fi, mi = t[order], e[order], fi[order], mi[order]
        overlap = np.concatenate(overlaps)[order] if overlaps else np.zeros(0)
        count = np.concatenate(shared)[order] if shared else np.zeros(0, np.int64)
        report = pa.table(
            {
                "train_id": pa.array(row_ids(train, kind, first_row), pa.string()).take(pa.array(t, pa.int64())),
                "eval_id": self.ids.take(pa.array(e, pa.int64())),
                "field": pa.array(np.asarray(self.fields, object)[fi] if len(fi) else [], pa.string()),
                "method": pa.array(np.asarray(METHODS, object)[mi] if len(mi) else [], pa.string()),
                "overlap": pa.array(overlap, pa.float64()),
                "shared": pa.array(count, pa.int64(), mask=count < 0),
            },
            schema=REPORT_SCHEMA,
        )
        ngram = np.isin(mi, [METHODS.index("ngram_words"), METHODS.index("ngram_chars")])
        counted = ~ngram | (overlap >= self.settings.ngram_fraction)
        return Contamination(report, t + first_row, e, counted, train.num_rows, self.num_rows, self.fields)


def _check_range(span: Span[tuple[Dataset, ContaminationIndex]]) -> Contamination:
    """A task: the findings about rows ``span.start:span.stop`` of the training set, read here (only
    the compared columns when the range is the whole set)."""
    train, index = span.value()
    rows = train if span.stop - span.start == train.num_rows else train.rows(span.start, span.stop)
    return index.check(rows, train.kind, span.start)


def _joined(parts: list[Contamination], num_train: int, index: ContaminationIndex) -> Contamination:
    """The findings of consecutive row ranges as one (their report rows are in row order already)."""
    none = np.zeros(0, np.int64)
    if not parts:
        empty = REPORT_SCHEMA.empty_table()
        return Contamination(empty, none, none, none.astype(bool), 0, index.num_rows, index.fields)
    return Contamination(
        pa.concat_tables([p.report for p in parts]),
        np.concatenate([p.train_row for p in parts]),
        np.concatenate([p.eval_row for p in parts]),
        np.concatenate([p.counted for p in parts]),
        num_train,
        index.num_rows,
        index.fields,
    )


def find_contamination(
    train: Dataset | pa.Table,
    eval: Dataset | pa.Table,
    *,
    fields: Sequence[str] | None = None,
    settings: ContaminationSettings | None = None,
    executor: Executor | None = None,
) -> Contamination:
    """Find training rows that overlap evaluation rows.

    Args:
        train: the training set (a Dataset, or an Arrow table whose kind is inferred).
        eval: the evaluation set; it must have every compared field.
        fields: columns to compare, each with the same column on the other side; default
            :func:`default_fields` of the training set's kind. A list column (MRC ``answers``)
            compares each element separately.
        settings: methods and thresholds (:class:`ContaminationSettings`).
        executor: where the training rows are checked, in row ranges read by each task
            (:func:`~curate.executors.map_ranges`; the evaluation set's :class:`ContaminationIndex`
            is built here once and shared). None: in this process. The findings are the same on
            every executor.

    Returns:
        :class:`Contamination` (report table, row numbers, per-row flags and summaries).
    """
    from curate.executors import Executor, map_ranges

    settings = settings or ContaminationSettings()
    train_ds, eval_ds = _as_dataset(train, None), _as_dataset(eval, None)
    chosen = list(fields) if fields else default_fields(train_ds.kind)
    if not chosen:
        raise ConfigError(
            f"kind '{train_ds.kind}' has no text fields to compare", value=train_ds.kind, hint="pass the fields"
        )
    _check_fields(train_ds, chosen, "training")
    _check_fields(eval_ds, chosen, "evaluation")
    index = ContaminationIndex.of(eval_ds, chosen, settings)
    tasks = executor or Executor()
    train_ds = tasks.readable(train_ds)
    found = map_ranges(tasks, _check_range, (train_ds, index), train_ds.num_rows, what="row range")
    return _joined(list(found), train_ds.num_rows, index)


__all__ = [
    "METHODS",
    "REPORT_SCHEMA",
    "Contamination",
    "ContaminationIndex",
    "ContaminationSettings",
    "Method",
    "Overlaps",
    "TextIndex",
    "default_fields",
    "exact_overlaps",
    "field_texts",
    "find_contamination",
    "minhash_overlaps",
    "ngram_overlaps",
    "row_ids",
    "text_overlaps",
]
