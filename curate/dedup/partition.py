"""Near-duplicate search split into independent parts (pure functions), for data held in shards.

Two rows can only be compared by :mod:`curate.dedup.assign` when they share an LSH bucket (a band
value of their first compared field). The rows linked by shared buckets, directly or through other
rows, form a *group*; who duplicates whom inside a group depends only on the group's rows and their
keep order. So the search splits into steps that never hold the whole dataset:

1. per shard: the MinHash signatures of the texts and their band keys (``(rows, bands)`` ``uint64``,
   :func:`~curate.dedup.minhash.band_keys`), the keys the whole-dataset search gives these texts;
2. per bucket (the ``(band, key, row)`` triples shuffled by bucket): :func:`bucket_links`, the
   links from each member of a shared bucket to its first row, and each row's band mates;
3. over the links only, one bucket range's after another: :func:`linked_groups` (connected
   components, ``int64`` per row); then :func:`pack_groups`, the rows of groups of two or more
   packed into parts of bounded size;
4. per part: the usual search (:func:`curate.dedup.plan.find_duplicates`) on the part's rows, in
   their dataset order, with the signatures of step 1; its decisions are those of the search over
   the whole dataset.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.minhash import merged_components

_EMPTY = np.zeros(0, np.int64)


def bucket_triples(keys: np.ndarray, first_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(band, key, row)`` of every cell of one shard's ``keys``, rows numbered from ``first_row``
    (the shard's position in the dataset): what is shuffled by ``(band, key)``."""
    n, bands = keys.shape
    band = np.tile(np.arange(bands, dtype=np.int64), n)
    row = np.repeat(np.arange(first_row, first_row + n, dtype=np.int64), bands)
    return band, keys.reshape(-1), row


def bucket_links(
    band: np.ndarray, key: np.ndarray, row: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From ``(band, key, row)`` triples holding whole buckets (every row of a bucket present):
    ``(first, member)`` links (distinct, sorted) joining each later member of a shared bucket to
    its first (smallest) row, and ``(rows, mates)``: for each row in a shared bucket, how many rows
    share its buckets, summed over its bands."""
    if not len(row):
        return _EMPTY, _EMPTY, _EMPTY, _EMPTY
    band, key, row = _by_bucket(band, key, row)
    new = np.ones(len(row), bool)
    new[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    start = np.nonzero(new)[0]
    size = np.diff(np.append(start, len(row)))
    bucket = np.cumsum(new) - 1
    shared = size[bucket] > 1
    first = np.minimum.reduceat(row, start)[bucket]
    later = shared & (row != first)
    # each row's mates, summed over its buckets: rows are bounded, so a count per row of the span
    low = int(row[shared].min()) if shared.any() else 0
    counted = np.bincount(row[shared] - low, weights=size[bucket][shared] - 1)
    mates_rows = np.nonzero(counted)[0]
    return *_distinct_pairs(first[later], row[later]), mates_rows + low, counted[mates_rows].astype(np.int64)


def _by_bucket(band: np.ndarray, key: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triples reordered so that each bucket's are side by side: sorted by key (one plain sort),
    then, only where one key holds cells of several bands, by band."""
    order = np.argsort(key)
    band, key, row = band[order], key[order], row[order]
    start = np.nonzero(np.append(True, key[1:] != key[:-1]))[0]
    mixed = np.nonzero(np.minimum.reduceat(band, start) != np.maximum.reduceat(band, start))[0]
    if len(mixed):
        stop = np.append(start[1:], len(key))
        at = np.concatenate([np.arange(start[m], stop[m]) for m in mixed.tolist()])
        at = at[np.lexsort((band[at], key[at]))]
        sorted_at = np.sort(at)
        band[sorted_at], row[sorted_at] = band[at], row[at]
    return band, key, row


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs ``(a[i], b[i])`` of non-negative integers, sorted."""
    if not len(a):
        return a, b
    if max(int(a.max()), int(b.max())) < 2**31:  # one int64 per pair: a 1-D sort, far cheaper
        code = np.unique(a.astype(np.int64) << 32 | b.astype(np.int64))
        return code >> 32, code & 0xFFFFFFFF
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def linked_groups(labels: np.ndarray, first: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Group of each row (the smallest row linked to it through shared buckets, itself when it
    shares none) once the links ``(first, member)`` join ``labels``' groups too: the links of one
    bucket range after another give the groups of all of them (start from ``arange(rows)``)."""
    return merged_components(labels, first, member)


def pack_groups(labels: np.ndarray, max_rows: int) -> list[np.ndarray]:
    """The rows of every group of two or more, packed into parts: whole groups in order of their
    smallest row, a part closed when the next group would take it past ``max_rows`` (a larger group
    is a part of its own). Each part lists its rows in dataset order."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1: got {max_rows}")
    sizes = np.bincount(labels, minlength=len(labels))
    rows = np.nonzero(sizes[labels] > 1)[0]
    groups = np.unique(labels[rows])  # smallest row first
    part_of_group = np.empty(len(groups), np.int64)
    part, filled = -1, 0
    for index, size in enumerate(sizes[groups].tolist()):
        if part < 0 or filled + size > max_rows:
            part, filled = part + 1, 0
        part_of_group[index] = part
        filled += size
    row_part = part_of_group[np.searchsorted(groups, labels[rows])]
    rows = rows[np.argsort(row_part, kind="stable")]  # by part, each in dataset order
    bounds = np.searchsorted(np.sort(row_part), np.arange(part + 2))
    return [rows[bounds[p] : bounds[p + 1]] for p in range(part + 1)]
