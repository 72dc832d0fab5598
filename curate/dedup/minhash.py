"""MinHash + LSH near-duplicate candidates (pure functions over shingle hashes).

Semantics follow datasketch: a ``num_perm``-value MinHash signature per text, the first ``b * r``
values banded into ``b`` bands of ``r`` rows; two texts are candidates when any band is equal, which
happens with probability ``1 - (1 - J**r)**b`` for Jaccard similarity ``J``; ``b, r`` are chosen
for a threshold as datasketch does (minimizing the weighted false-positive and false-negative areas).

Speed: signatures are computed by rensa (Rust) from the flat shingle hashes. A first pass inserts
every text's signature into rensa's LSH index and flags the texts that collide with an earlier one;
a second pass flags the texts those collide with. Only these involved texts (usually a few percent)
get their signatures copied out to numpy, where the bands are grouped and candidate pairs verified
by the true Jaccard of the shingle sets (:class:`Clustering`). Who duplicates whom is decided on
top of it (:mod:`curate.dedup.assign`): greedily, or by the connected components kept here.
"""

from __future__ import annotations

import array
import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
from rensa import RMinHash, RMinHashLSH

from curate import progress
from curate.text.shingles import Shingles

_BAND_MULT = np.uint64(0x9E3779B97F4A7C15)
_SIG_BATCH = 50_000
_GROUP_BANDS = 4
_UINT32 = "I" if array.array("I").itemsize == 4 else "L"
_SKETCH_TEXTS = 20_000
"""Texts from which signatures are computed by :mod:`curate.dedup.sketch` (below, rensa's lists cost
less than loading numba)."""


@cache
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimizing the weighted probability of
    false positives (below ``threshold``) and false negatives (above it)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1: got {threshold}")
    grid = np.linspace(0.0, 1.0, 1001)
    best, best_error = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - grid**r) ** b
            below, above = grid <= threshold, grid >= threshold
            fp = np.trapezoid(p[below], grid[below])
            fn = np.trapezoid(1.0 - p[above], grid[above])
            error = fp_weight * fp + fn_weight * fn
            if error < best_error - 1e-12:
                best, best_error = (b, r), error
    return best


@dataclass(frozen=True)
class LshConfig:
    """MinHash/LSH settings: signatures of ``num_perm`` permutations (``seed`` fixes them), the first
    ``bands * rows`` of them cut into bands; the rest only sharpen the similarity estimate."""

    bands: int
    rows: int
    threshold: float
    seed: int = 42
    width: int = 0
    """Signature length asked for; at least ``bands * rows`` are always computed."""

    @property
    def num_perm(self) -> int:
        return max(self.width, self.bands * self.rows)

    @classmethod
    def for_threshold(
        cls, threshold: float, num_perm: int = 128, seed: int = 42, *, verified: bool = False
    ) -> LshConfig:
        """Bands and rows for ``threshold``. ``verified``: candidates will be confirmed by their true
        Jaccard, so false positives only cost time and the choice weighs false negatives 19 to 1
        (128 permutations at 0.8: 16 x 8, catching a pair at the threshold with probability 0.95
        instead of datasketch's 0.40 with 9 x 13)."""
        weights = (0.05, 0.95) if verified else (0.5, 0.5)
        bands, rows = optimal_bands(threshold, num_perm, *weights)
        return cls(bands, rows, threshold, seed, num_perm)


def band_groups(config: LshConfig) -> list[LshConfig]:
    """The bands split into groups of at most ``_GROUP_BANDS``, each hashed with its own seed: one LSH
    index per group keeps the peak memory of the index a fraction of one index over every band."""
    return [
        LshConfig(min(_GROUP_BANDS, config.bands - first), config.rows, config.threshold, config.seed + first)
        for first in range(0, config.bands, _GROUP_BANDS)
    ]


def _digest_groups(config: LshConfig) -> list[LshConfig]:
    """The band groups, then the permutations past the bands (when ``num_perm`` leaves some) as one
    more group with its own seed: together they make the ``num_perm`` columns of a signature."""
    groups = band_groups(config)
    rest = config.num_perm - config.bands * config.rows
    if rest:
        groups.append(LshConfig(1, rest, config.threshold, config.seed + config.bands))
    return groups


def _batches(shingles: Shingles, rows: np.ndarray | None) -> Iterator[tuple[int, Shingles]]:
    """Consecutive batches of the texts (all, or ``rows``): ``(first, shingles)`` where ``first``
    counts from the start of the texts (or of ``rows``)."""
    total = len(shingles) if rows is None else len(rows)
    for start in range(0, total, _SIG_BATCH):
        end = min(start + _SIG_BATCH, total)
        yield start, shingles.slice(start, end) if rows is None else shingles.subset(rows[start:end])


def digest_batches(
    shingles: Shingles, config: LshConfig, rows: np.ndarray | None = None
) -> Iterable[tuple[int, object]]:
    """rensa digest matrices of consecutive batches of texts (all, or ``rows``): ``(first, matrix)``
    where ``first`` counts from the start of the texts (or of ``rows``)."""
    for start, part in _batches(shingles, rows):
        yield start, _digest_matrix(part, config)


def _digest_matrix(part: Shingles, config: LshConfig) -> object:
    return RMinHash.digest_matrix_from_flat_token_hashes(
        part.hashes, part.offsets.astype(np.uint64), config.num_perm, config.seed
    )


def signatures(shingles: Shingles, config: LshConfig, rows: np.ndarray | None = None) -> np.ndarray:
    """MinHash signatures of all texts (or of ``rows``), ``uint32`` of shape ``(texts, num_perm)``,
    band groups side by side (the bands' columns first); steps phase ``signatures`` (permutations
    done of ``num_perm``). rensa's digests: from :mod:`curate.dedup.sketch` for
    ``_SKETCH_TEXTS`` texts or more, else (or should the sketch disagree with rensa) from rensa's lists."""
    n = len(shingles) if rows is None else len(rows)
    out = np.empty((n, config.num_perm), np.uint32)
    compute = _sketch_digests() if n >= _SKETCH_TEXTS else None
    column = 0
    progress.step("signatures", 0, config.num_perm, "permutations")
    for group in _digest_groups(config):
        for start, part in _batches(shingles, rows):
            if compute is not None:
                values = compute(part.hashes, part.offsets, group.num_perm, group.seed)
            else:
                values = _digest_values(_digest_matrix(part, group)).reshape(-1, group.num_perm)
            out[start : start + len(values), column : column + group.num_perm] = values
        column += group.num_perm
        progress.step("signatures", column, config.num_perm, "permutations")
    return out


def _sketch_digests() -> Callable[[np.ndarray, np.ndarray, int, int], np.ndarray] | None:
    """:func:`curate.dedup.sketch.digests` when it agrees with the installed rensa (imported here:
    numba loads only for jobs large enough to gain from it)."""
    from curate.dedup import sketch

    return sketch.digests if sketch.agrees_with_rensa() else None


def _digest_values(matrix: object) -> np.ndarray:
    """A rensa digest matrix's values, row after row, as flat ``uint32``. rensa hands them over only
    as a list of ints per text: an ``array`` extended list by list is the cheapest way into numpy."""
    values = array.array(_UINT32)
    with _collector_paused():  # a list per text: collections would rescan every live object
        for row in matrix.to_rows():  # type: ignore[attr-defined]
            values.extend(row)
    return np.frombuffer(values, np.uint32)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused (if it was on) while rensa hands digests over as lists of
    ints, which make no cycles: a collection every few hundred lists costs more than the lists."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def involved_rows(shingles: Shingles, config: LshConfig) -> np.ndarray:
    """Indices of texts that share at least one LSH band with another text (sorted); steps phase
    ``LSH bands``."""
    found, done = [], 0
    progress.step("LSH bands", 0, config.bands, "bands")
    for group in band_groups(config):
        found.append(_involved_in_group(shingles, group))
        done += group.bands
        progress.step("LSH bands", done, config.bands, "bands")
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def _involved_in_group(shingles: Shingles, config: LshConfig) -> np.ndarray:
    lsh = RMinHashLSH(config.threshold, config.num_perm, config.bands)
    flagged: list[np.ndarray] = []
    matrices = []  # kept for the partner pass: a group's digests are a few bytes per text and band
    for start, matrix in digest_batches(shingles, config):
        flags = np.asarray(lsh.insert_matrix_and_query_duplicate_flags(matrix, start_key=start), bool)
        flagged.append(start + np.nonzero(flags)[0])
        matrices.append((start, matrix))
    del lsh
    later = np.concatenate(flagged) if flagged else np.zeros(0, np.int64)
    if not len(later):
        return later
    if len(later) * 4 > len(shingles):  # most texts collide anyway: skip the partner pass
        return np.arange(len(shingles))
    # the earlier partners: every text that collides with a flagged one
    partners = RMinHashLSH(config.threshold, config.num_perm, config.bands)
    for start, matrix in digest_batches(shingles, config, later):
        partners.insert_matrix(matrix, start_key=start)
    earlier = [
        start + np.nonzero(np.asarray(partners.query_duplicate_flags_matrix_one_shot(matrix), bool))[0]
        for start, matrix in matrices
    ]
    return np.union1d(later, np.concatenate(earlier))


def band_keys(signature: np.ndarray, config: LshConfig) -> np.ndarray:
    """One ``uint64`` key per band (from the first ``bands * rows`` columns): ``(n, bands)``; equal
    keys mean an equal band. A band's values are taken two at a time as one 64-bit word (an odd
    last one alone), each word mixed into the key (xor, multiply, xor-shift)."""
    signature = signature.astype(np.uint32, copy=False)  # two values to a word
    n = len(signature)
    keys = np.empty((n, config.bands), np.uint64)
    key = np.empty(n, np.uint64)
    pairs = config.rows // 2
    with np.errstate(over="ignore"):
        for b in range(config.bands):
            band = signature[:, b * config.rows : (b + 1) * config.rows]
            words = np.ascontiguousarray(band[:, : 2 * pairs]).view(np.uint64)  # (n, pairs), exact
            key.fill(b + 1)
            for word in [*np.ascontiguousarray(words.T), *band[:, 2 * pairs :].T.astype(np.uint64)]:
                key ^= word
                key *= _BAND_MULT
                key ^= key >> np.uint64(29)
            keys[:, b] = key
    return keys


def candidate_edges(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(a, b)`` (``a < b``, unique) linking texts that share a band: each member of a band
    group to the group's first member and to the member before it."""
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for b in range(keys.shape[1]):
        order = np.argsort(keys[:, b], kind="stable")
        sorted_keys = keys[order, b]
        same = sorted_keys[1:] == sorted_keys[:-1]
        if not same.any():
            continue
        group_start = np.concatenate(([True], ~same))
        first = order[np.maximum.accumulate(np.where(group_start, np.arange(len(order)), 0))]
        members = np.nonzero(~group_start)[0]
        sources += [first[members], order[members - 1]]
        targets += [order[members], order[members]]
    if not sources:
        empty = np.zeros(0, np.int64)
        return empty, empty
    first_end, second_end = np.concatenate(sources), np.concatenate(targets)
    low, high = np.minimum(first_end, second_end), np.maximum(first_end, second_end)
    keep = low != high
    pairs = np.unique(np.stack([low[keep], high[keep]], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def jaccard(shingles: Shingles, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True Jaccard similarity of the shingle sets of each pair ``(a[i], b[i])``."""
    out = np.empty(len(a), np.float64)
    order = np.argsort(a, kind="stable")
    current, current_set = -1, np.zeros(0, np.uint64)
    for k in order.tolist():
        x, y = int(a[k]), int(b[k])
        if x != current:
            current, current_set = x, np.unique(shingles.of(x))
        other = np.unique(shingles.of(y))
        inter = len(np.intersect1d(current_set, other, assume_unique=True))
        out[k] = inter / (len(current_set) + len(other) - inter)
    return out


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes: the smallest node index in its component."""
    return merged_components(np.arange(n, dtype=np.int64), a, b)


def merged_components(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``labels`` (each node's component: its smallest node, as :func:`components` gives) once the
    edges ``(a[i], b[i])`` join their components too; ``labels`` is left as it was."""
    labels = labels.copy()
    while len(a):
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)  # hook each root under the smaller root
        np.minimum.at(labels, lb, low)
        while not np.array_equal(jumped := labels[labels], labels):  # compress paths
            labels = jumped
    return labels


_VERIFY_STEP = 20_000  # candidate pairs verified between two progress steps

VERIFY_MARGIN = 0.15
"""Pairs whose MinHash estimate is this far above (below) the threshold are accepted (dropped)
without computing the true Jaccard: over 4 standard deviations of the estimate at 128 permutations."""


@dataclass(frozen=True)
class Clustering:
    """Near-duplicate candidates among the texts of ``shingles``, and what is needed to compare any
    two of them: ``rows`` are the involved texts (those sharing an LSH band with another) with
    ``signature`` (their MinHash signatures, in ``rows`` order).

    Computed when first asked for: ``keys`` (band keys of the involved texts), ``edges`` (the
    candidate pairs that pass, see :func:`cluster`) and ``label`` (``label[i]`` is the smallest
    index in text ``i``'s connected component of those pairs, ``i`` itself when alone).
    """

    rows: np.ndarray
    signature: np.ndarray
    shingles: Shingles
    config: LshConfig
    verify: bool = True

    @cached_property
    def slot(self) -> np.ndarray:
        """Each text's position in ``rows`` (-1 for a text outside the involved set)."""
        slot = np.full(len(self.shingles), -1, np.int64)
        slot[self.rows] = np.arange(len(self.rows))
        return slot

    @cached_property
    def keys(self) -> np.ndarray:
        """``band_keys`` of the involved texts, in ``rows`` order."""
        return band_keys(self.signature, self.config)

    @cached_property
    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, similarity)``: candidate pairs of texts (each member of a band group linked to
        the group's first and to the one before it) whose similarity reaches the threshold; with
        ``verify=False``, every candidate pair with its MinHash estimate."""
        local_a, local_b = candidate_edges(self.keys)
        a, b = self.rows[local_a], self.rows[local_b]
        if not self.verify:
            return a, b, (self.signature[local_a] == self.signature[local_b]).mean(axis=1)
        similarity = self.verified_similarity(a, b)
        passed = similarity >= self.config.threshold
        return a[passed], b[passed], similarity[passed]

    @cached_property
    def label(self) -> np.ndarray:
        a, b, _ = self.edges
        return components(len(self.shingles), a, b)

    def band_mates(self) -> np.ndarray:
        """Per text, how many texts share each of its LSH bands, summed over the bands (0 for a
        text that shares none): how central a text is among its near-duplicates."""
        mates = np.zeros(len(self.shingles), np.int64)
        for b in range(self.keys.shape[1]):
            _, inverse, sizes = np.unique(self.keys[:, b], return_inverse=True, return_counts=True)
            mates[self.rows] += sizes[inverse] - 1
        return mates

    def estimated_jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """MinHash estimate of the Jaccard similarity of pairs of involved texts."""
        return (self.signature[self.slot[a]] == self.signature[self.slot[b]]).mean(axis=1)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The similarity a decision rests on for each pair ``(a[i], b[i])``, and whether it is the
        true Jaccard (else the MinHash estimate): 1.0 (true) for a text with itself; the estimate,
        or, when verifying and the estimate is within ``VERIFY_MARGIN`` of the threshold, the true
        Jaccard of the shingle sets; 0.0 when a text shares no LSH band with any text."""
        value = np.zeros(len(a))
        exact = a == b
        value[exact] = 1.0
        both = np.nonzero(~exact & (self.slot[a] >= 0) & (self.slot[b] >= 0))[0]
        value[both] = self.estimated_jaccard(a[both], b[both])
        if self.verify:
            unsure = both[np.abs(value[both] - self.config.threshold) < VERIFY_MARGIN]
            value[unsure] = [self._jaccard(x, y) for x, y in zip(a[unsure].tolist(), b[unsure].tolist(), strict=True)]
            exact[unsure] = True
        return value, exact

    def pair_similarity(self, a: int, b: int) -> tuple[float, bool]:
        """:meth:`similarity` of one pair, without numpy's per-call cost on arrays."""
        if a == b:
            return 1.0, True
        slot_a, slot_b = int(self.slot[a]), int(self.slot[b])
        if slot_a < 0 or slot_b < 0:
            return 0.0, False
        signature = self.signature
        value = np.count_nonzero(signature[slot_a] == signature[slot_b]) / signature.shape[1]
        if self.verify and abs(value - self.config.threshold) < VERIFY_MARGIN:
            return self._jaccard(a, b), True
        return value, False

    def verified_similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`similarity` of many pairs, stepping phase ``verification`` (pairs done)."""
        total = len(a)
        out = np.empty(total)
        progress.step("verification", 0, total, "pairs")
        for start in range(0, total, _VERIFY_STEP):
            end = min(start + _VERIFY_STEP, total)
            out[start:end] = self.similarity(a[start:end], b[start:end])[0]
            progress.step("verification", end, total, "pairs")
        return out

    def _jaccard(self, a: int, b: int) -> float:
        x, y = self._set(a), self._set(b)
        inter = len(np.intersect1d(x, y, assume_unique=True))
        return inter / (len(x) + len(y) - inter)

    def _set(self, text: int) -> np.ndarray:
        """The sorted distinct shingle hashes of a text (kept for texts compared more than once)."""
        found = self._sets.get(text)
        if found is None:
            found = self._sets[text] = np.unique(self.shingles.of(text))
        return found

    @cached_property
    def _sets(self) -> dict[int, np.ndarray]:
        return {}


def cluster(shingles: Shingles, config: LshConfig, *, verify: bool = True) -> Clustering:
    """Near-duplicate candidates of ``shingles``: the texts that share an LSH band and their
    signatures. Candidate pairs pass when their similarity (see :meth:`Clustering.similarity`)
    reaches the threshold (all of them with ``verify=False``); ``label`` gives the connected
    components of those pairs."""
    rows = involved_rows(shingles, config)
    return Clustering(rows, signatures(shingles, config, rows), shingles, config, verify)
