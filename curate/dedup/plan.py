"""From texts to dedup decisions: shingles, clusterings, who duplicates whom (pure functions).

:func:`find_duplicates` gives, for every row of a dataset, the kept row it duplicates (or -1), the
kept row whose text it duplicates with another answer (a conflict), and the similarity that decided
(:class:`~curate.dedup.assign.Assignment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self, get_args

import numpy as np
import pydantic
from pydantic import model_validator

from curate import progress
from curate.config import Strict
from curate.dedup.agreement import Answer
from curate.dedup.assign import (
    Assignment,
    Candidates,
    ClusteringMode,
    Field,
    GreedyCandidates,
    GroupCandidates,
    assign,
    first_of_equal,
    keep_order,
)
from curate.dedup.minhash import Clustering, LshConfig, cluster
from curate.text.shingles import ShingleKind, Shingles, prepare, shingle_hashes

KeepPolicy = Literal["central", "first", "longest", "most_answers", "sql"]


class MinHashSettings(Strict):
    """How texts are compared by MinHash: shingles, signatures, LSH bands and verification."""

    shingle: ShingleKind = "char"
    """``char`` n-grams (Korean, Chinese, Japanese), ``word`` n-grams, or Korean ``morph``emes (kiwipiepy)."""
    ngram: int = pydantic.Field(default=5, ge=1)
    """Shingle size in units; a text shorter than this is one whole shingle, never skipped."""
    lowercase: bool = True
    """Compare case-insensitively (texts are also NFC-normalized and whitespace-folded)."""
    num_perm: int = pydantic.Field(default=128, ge=2)
    """MinHash permutations: the signature length (bands x rows of them make the LSH bands, all of
    them estimate the similarity)."""
    threshold: float = pydantic.Field(default=0.8, gt=0, lt=1)
    """Jaccard similarity from which two texts are near-duplicates."""
    bands: int | None = pydantic.Field(default=None, ge=1)
    """LSH bands; with ``rows`` overrides the choice made from the threshold."""
    rows: int | None = pydantic.Field(default=None, ge=1)
    """LSH rows per band."""
    seed: int = 42
    """Seed of the MinHash permutations."""
    verify: bool = True
    """Confirm every LSH candidate pair by the true Jaccard of its shingle sets (cuts false positives)."""

    @model_validator(mode="after")
    def _bands(self) -> Self:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        return self

    def lsh(self) -> LshConfig:
        if self.bands and self.rows:
            return LshConfig(self.bands, self.rows, self.threshold, self.seed, self.num_perm)
        return LshConfig.for_threshold(self.threshold, self.num_perm, self.seed, verified=self.verify)


def shingles_of(texts: Sequence[str | None], settings: MinHashSettings) -> Shingles:
    """Prepared (NFC, case, whitespace) and hashed shingles of ``texts`` (phase ``shingling``)."""
    progress.step("shingling", 0, len(texts))
    return shingle_hashes(prepare(texts, lowercase=settings.lowercase), settings.shingle, settings.ngram)


def cluster_texts(
    texts: Sequence[str | None], settings: MinHashSettings, signature: np.ndarray | None = None
) -> Clustering:
    """Near-duplicate candidates among ``texts``. ``signature``: their MinHash signatures, already
    computed (``uint32`` of shape ``(texts, num_perm)``, see :func:`~curate.dedup.minhash.signatures`)
    for texts that each share an LSH band with another of them."""
    shingles = shingles_of(texts, settings)
    if signature is None:
        return cluster(shingles, settings.lsh(), verify=settings.verify)
    return Clustering(np.arange(len(texts)), signature, shingles, settings.lsh(), settings.verify)


def intersect_labels(*labels: np.ndarray) -> np.ndarray:
    """Labels of the intersection of several clusterings: rows share a label only when they share
    one in every input (the smallest row index of the group)."""
    stacked = np.stack(labels, axis=1)
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    first = np.full(inverse.max() + 1 if len(inverse) else 0, len(inverse), np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse)))
    return first[inverse]


def find_duplicates(
    fields: Sequence[Field],
    *,
    rank: np.ndarray | None = None,
    answers: Sequence[Answer | None] | None = None,
    clustering: ClusteringMode = "greedy",
    reject_conflicts: bool = False,
) -> Assignment:
    """Near-duplicate rows: similar in every one of ``fields`` (their texts clustered at one
    threshold) and agreeing in ``answers``, each assigned to a kept row (see :mod:`curate.dedup.assign`).

    ``rank``: rows are visited (and kept) smallest rank first (ties and ``None``: the earliest row).
    ``clustering``: ``greedy`` (every removed row reaches the threshold to the row it duplicates) or
    ``components`` (connected components of near-duplicate pairs, intersected over the fields).
    """
    if clustering not in get_args(ClusteringMode):
        raise ValueError(f"clustering must be one of {', '.join(get_args(ClusteringMode))}, got {clustering!r}")
    n = len(fields[0].text)
    order = keep_order(n, rank)
    if clustering == "greedy":
        position = np.empty(n, np.int64)
        position[order] = np.arange(n)
        order = order[fields[0].found.slot[fields[0].text[order]] >= 0]
    else:
        group = intersect_labels(*(f.found.label[f.text] for f in fields))
        order = order[np.bincount(group, minlength=n)[group[order]] > 1]
    keys = [(*(f.of(row) for f in fields), None if answers is None else answers[row]) for row in order.tolist()]
    twins = first_of_equal(n, order, keys)
    if clustering == "greedy":
        firsts = order[twins[order] == order]
        candidates: Candidates = GreedyCandidates(fields, fields[0].found.config.threshold, position, firsts)
    else:
        candidates = GroupCandidates(group, fields)
    return assign(n, order, candidates, answers, twins=twins, reject_conflicts=reject_conflicts)
