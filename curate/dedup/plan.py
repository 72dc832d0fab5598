"""From texts to dedup decisions: clusters, representatives, who is kept (pure functions).

A :class:`Decision` says, for every row of a dataset, whether it is kept, which row it duplicates
(``duplicate_of``, a row index or -1), its cluster (-1 when alone) and its estimated Jaccard
similarity to the representative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from curate.dedup.minhash import Clustering, LshConfig, cluster, components
from curate.text.shingles import ShingleKind, Shingles, prepare, shingle_hashes

KeepPolicy = Literal["first", "longest", "most_answers", "sql"]


@dataclass(frozen=True)
class MinHashSettings:
    """How texts are compared: shingles, MinHash/LSH parameters and verification."""

    shingle: ShingleKind = "char"
    ngram: int = 5
    lowercase: bool = True
    num_perm: int = 128
    threshold: float = 0.8
    bands: int | None = None
    rows: int | None = None
    seed: int = 42
    verify: bool = True

    def lsh(self) -> LshConfig:
        if self.bands and self.rows:
            return LshConfig(self.bands, self.rows, self.threshold, self.seed)
        return LshConfig.for_threshold(self.threshold, self.num_perm, self.seed, verified=self.verify)


def shingles_of(texts: Sequence[str | None], settings: MinHashSettings) -> Shingles:
    """Prepared (NFC, case, whitespace) and hashed shingles of ``texts``."""
    return shingle_hashes(prepare(texts, lowercase=settings.lowercase), settings.shingle, settings.ngram)


def cluster_texts(texts: Sequence[str | None], settings: MinHashSettings) -> Clustering:
    return cluster(shingles_of(texts, settings), settings.lsh(), verify=settings.verify)


def intersect_labels(*labels: np.ndarray) -> np.ndarray:
    """Labels of the intersection of several clusterings: rows share a label only when they share
    one in every input (the smallest row index of the group)."""
    stacked = np.stack(labels, axis=1)
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    first = np.full(inverse.max() + 1 if len(inverse) else 0, len(inverse), np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse)))
    return first[inverse]


def merge_labels(label: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Labels after also joining the pairs ``(a, b)``."""
    return components(len(label), np.concatenate([a, label]), np.concatenate([b, np.arange(len(label))]))


def representatives(label: np.ndarray, rank: np.ndarray | None) -> np.ndarray:
    """For each row, the row kept for its cluster: the smallest ``rank`` (ties: the earliest row);
    ``rank=None`` keeps the earliest row."""
    n = len(label)
    if rank is None:
        rep = np.full(n, n, np.int64)
        np.minimum.at(rep, label, np.arange(n))
        return rep[label]
    order = np.lexsort((np.arange(n), rank, label))  # by cluster, then rank, then row
    sorted_labels = label[order]
    starts = np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1]))
    best = np.empty(n, np.int64)
    best[sorted_labels[starts]] = order[starts]
    return best[label]


@dataclass(frozen=True)
class Decision:
    """Per row: ``keep`` (bool), ``duplicate_of`` (row index or -1), ``cluster`` (-1 alone) and
    ``similarity`` (estimated Jaccard to the representative, NaN when alone)."""

    keep: np.ndarray
    duplicate_of: np.ndarray
    cluster: np.ndarray
    similarity: np.ndarray

    @property
    def rejected(self) -> int:
        return int((~self.keep).sum())


def decide(label: np.ndarray, rep: np.ndarray, similarity_to_rep: np.ndarray) -> Decision:
    """Kept rows are the representatives; clusters are numbered by their first row."""
    n = len(label)
    index = np.arange(n)
    keep = rep == index
    sizes = np.bincount(label, minlength=n)
    in_cluster = sizes[label] > 1
    cluster_ids = np.full(n, -1, np.int64)
    firsts = np.unique(label[in_cluster])
    cluster_ids[in_cluster] = np.searchsorted(firsts, label[in_cluster])
    duplicate_of = np.where(keep, -1, rep)
    similarity = np.where(in_cluster, similarity_to_rep, np.nan)
    return Decision(keep, duplicate_of, cluster_ids, similarity)


def similarity_to_representative(clusterings: Sequence[Clustering], rep: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each row to its representative (1.0 for the representative itself),
    the smallest over several clusterings (fields); NaN where a row is outside the involved set."""
    n = len(rep)
    result = np.ones(n)
    others = np.nonzero(rep != np.arange(n))[0]
    for found in clusterings:
        estimate = np.full(n, np.nan)
        inside = np.isin(others, found.rows) & np.isin(rep[others], found.rows)
        pairs = others[inside]
        if len(pairs):
            estimate[pairs] = found.estimated_jaccard(pairs, rep[pairs])
        result = np.fmin(result, np.where(np.isin(np.arange(n), others), estimate, 1.0))
    return result
