"""Who duplicates whom: rows assigned to kept rows, one at a time in keep order (pure functions).

Rows are visited best first (the keep order: ``first``, ``longest``, ...). A row becomes a duplicate
of the best candidate kept row whose answer agrees with its own (:func:`answers_agree`); with no
candidate it is kept. A row with candidates that all disagree is a *conflict*: kept beside them
(MRC questions: near-identical questions with other answers are different questions) or removed
as a conflict, flagged on the kept row (a label: one of the two is wrong).

Candidates come from one of two clusterings:

- ``greedy`` (:class:`GreedyCandidates`): kept rows that share an LSH band with the row and whose
  similarity to it, in every compared field, reaches the threshold. Every removed row is at or above
  the threshold to the row it duplicates, and clusters are stars around kept rows.
- ``components`` (:class:`GroupCandidates`): every kept row of its group, for instance its
  connected component of near-duplicate pairs; rows join a chain's first row however far from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from curate import progress
from curate.dedup.agreement import Answer, answers_agree
from curate.dedup.minhash import Clustering

ClusteringMode = Literal["greedy", "components"]

_FEW = 8
"""Candidates up to this many are measured one pair at a time (fewer numpy calls per row)."""


@dataclass(frozen=True)
class Field:
    """One compared text per row: row ``i``'s text is ``texts[text[i]]``, which ``found`` clustered."""

    text: np.ndarray
    texts: Sequence[str | None]
    found: Clustering

    def of(self, row: int) -> str | None:
        return self.texts[self.text[row]]

    def similarity(self, row: int, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``row``'s text against each of ``others``' (see :meth:`Clustering.similarity`); equal
        texts are 1.0, measured."""
        mine, theirs = self.text[row], self.text[others]
        equal = np.fromiter((self.texts[t] == self.texts[mine] for t in theirs.tolist()), bool, len(theirs))
        return self.found.similarity(np.full(len(others), mine), np.where(equal, mine, theirs))

    def pair_similarity(self, row: int, other: int) -> tuple[float, bool]:
        """:meth:`similarity` of ``row``'s text to one ``other``'s."""
        mine, theirs = int(self.text[row]), int(self.text[other])
        return self.found.pair_similarity(mine, mine if self.texts[theirs] == self.texts[mine] else theirs)


def _similarity(fields: Sequence[Field], row: int, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest similarity over ``fields`` of ``row`` to each of ``others``, and whether that
    smallest one is a true Jaccard."""
    if len(others) <= _FEW:  # one pair at a time: fewer numpy calls
        found = [_pair_similarity(fields, row, other) for other in others.tolist()]
        return np.array([v for v, _ in found], np.float64), np.array([e for _, e in found], bool)
    value, exact = np.ones(len(others)), np.ones(len(others), bool)
    for field in fields:
        v, e = field.similarity(row, others)
        lower = v < value
        value[lower], exact[lower] = v[lower], e[lower]
    return value, exact


def _pair_similarity(fields: Sequence[Field], row: int, other: int) -> tuple[float, bool]:
    """:func:`_similarity` of ``row`` to one ``other``."""
    value, exact = 1.0, True
    for field in fields:
        v, e = field.pair_similarity(row, other)
        if v < value:
            value, exact = v, e
    return value, exact


Found = tuple[list[int], list[float], list[bool]]
"""Candidate kept rows, their similarities and whether each is a true Jaccard."""


class Candidates(Protocol):
    def find(self, row: int) -> Found:
        """Kept rows ``row`` may duplicate, best first, with similarity and whether it is exact."""
        ...

    def add(self, row: int) -> None:
        """``row`` is kept: later rows may duplicate it."""
        ...


class GreedyCandidates:
    """Kept rows sharing an LSH band of the first field with the row and similar to it, in every
    field, at or above ``threshold``; most similar first (ties: the earlier in keep order).

    Only the buckets (band values) that two or more of ``rows`` (the rows to be visited) share are
    kept, as lists of the kept rows in them; ``position`` is each row's place in keep order."""

    def __init__(self, fields: Sequence[Field], threshold: float, position: np.ndarray, rows: np.ndarray):
        first = fields[0].found
        self.fields, self.threshold, self.position = fields, threshold, position
        keys = first.keys[first.slot[fields[0].text[rows]]]
        bucket = np.full(keys.shape, -1, np.int64)
        count = 0
        for b in range(keys.shape[1]):
            _, inverse, sizes = np.unique(keys[:, b], return_inverse=True, return_counts=True)
            shared = sizes[inverse] > 1
            numbers = np.cumsum(sizes > 1) - 1  # shared values numbered from 0
            bucket[shared, b] = count + numbers[inverse[shared]]
            count += int((sizes > 1).sum())
        shared = bucket >= 0
        flat, ends = bucket[shared].tolist(), np.cumsum(shared.sum(axis=1)).tolist()
        self.buckets_of: dict[int, list[int]] = {}
        start = 0
        for row, end in zip(rows.tolist(), ends, strict=True):
            if end > start:
                self.buckets_of[row] = flat[start:end]
            start = end
        self.kept: list[list[int]] = [[] for _ in range(count)]

    def find(self, row: int) -> Found:
        found: set[int] = set()
        for bucket in self.buckets_of.get(row, ()):
            found.update(self.kept[bucket])
        if not found:
            return [], [], []
        if len(found) <= _FEW:  # one pair at a time, sorted without numpy
            scored = []
            for other in found:
                value, exact = _pair_similarity(self.fields, row, other)
                if value >= self.threshold:
                    scored.append((-value, int(self.position[other]), other, exact))
            scored.sort()
            return [s[2] for s in scored], [-s[0] for s in scored], [s[3] for s in scored]
        others = np.fromiter(found, np.int64, len(found))
        values, exacts = _similarity(self.fields, row, others)
        passed = values >= self.threshold
        others, values, exacts = others[passed], values[passed], exacts[passed]
        order = np.lexsort((self.position[others], -values))
        return others[order].tolist(), values[order].tolist(), exacts[order].tolist()

    def add(self, row: int) -> None:
        for bucket in self.buckets_of.get(row, ()):
            self.kept[bucket].append(row)


class GroupCandidates:
    """Kept rows with the row's ``group`` label, earliest kept first; their similarity over
    ``fields`` is reported (it may be below any threshold), 1.0 without fields."""

    def __init__(self, group: np.ndarray, fields: Sequence[Field] = ()):
        self.group, self.fields = group, fields
        self.kept: dict[int, list[int]] = {}

    def find(self, row: int) -> Found:
        members = self.kept.get(int(self.group[row]))
        if not members:
            return [], [], []
        value, exact = _similarity(self.fields, row, np.asarray(members, np.int64))
        return list(members), value.tolist(), exact.tolist()

    def add(self, row: int) -> None:
        self.kept.setdefault(int(self.group[row]), []).append(row)


@dataclass(frozen=True)
class Assignment:
    """Per row: ``duplicate_of`` (the kept row it duplicates, -1 when kept), ``conflict_of`` (the
    kept row whose text it duplicates but whose answer differs, -1 when none), ``similarity`` to
    that row (NaN when neither) and ``exact`` (the similarity is a true Jaccard, not an estimate)."""

    duplicate_of: np.ndarray
    conflict_of: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray

    @property
    def keep(self) -> np.ndarray:
        return self.duplicate_of < 0

    @property
    def conflict(self) -> np.ndarray:
        return self.conflict_of >= 0


def assign(
    n: int,
    order: np.ndarray,
    candidates: Candidates,
    answers: Sequence[Answer | None] | None,
    *,
    twins: np.ndarray | None = None,
    reject_conflicts: bool,
) -> Assignment:
    """Assign the rows of ``order`` (best first; rows outside it are kept) to kept rows.

    ``twins[row]`` is the first row, in ``order``, with the same compared texts and answer: a twin
    shares its first's fate without a search (it duplicates its first when that is kept).
    ``reject_conflicts``: a conflicting row is removed (``duplicate_of`` set too) instead of kept.
    """
    duplicate_of = np.full(n, -1, np.int64)
    conflict_of = np.full(n, -1, np.int64)
    similarity = np.full(n, np.nan)
    exact = np.zeros(n, bool)
    total = len(order)
    progress.step("clustering", 0, total)
    for done, row in enumerate(order.tolist(), start=1):
        if progress.every(done, total):
            progress.step("clustering", done, total)
        first = row if twins is None else int(twins[row])
        if first != row:
            if duplicate_of[first] < 0:
                duplicate_of[row], similarity[row], exact[row] = first, 1.0, True
            else:
                duplicate_of[row], conflict_of[row] = duplicate_of[first], conflict_of[first]
                similarity[row], exact[row] = similarity[first], exact[first]
            continue
        others, value, is_exact = candidates.find(row)
        mine = None if answers is None else answers[row]
        k = next((k for k, o in enumerate(others) if answers is None or answers_agree(mine, answers[o])), -1)
        if k >= 0:
            duplicate_of[row], similarity[row], exact[row] = others[k], value[k], is_exact[k]
            continue
        if len(others):
            conflict_of[row], similarity[row], exact[row] = others[0], value[0], is_exact[0]
            if reject_conflicts:
                duplicate_of[row] = others[0]
                continue
        candidates.add(row)
    return Assignment(duplicate_of, conflict_of, similarity, exact)


def keep_order(n: int, rank: np.ndarray | None) -> np.ndarray:
    """Rows best first: by ``rank`` (smallest first), ties and ``rank=None`` in row order."""
    return np.arange(n) if rank is None else np.lexsort((np.arange(n), rank))


def first_of_equal(n: int, rows: np.ndarray, keys: Sequence[object]) -> np.ndarray:
    """Per row of ``n``: the first of ``rows`` (in their order) whose key equals its own (``keys``
    align with ``rows``); rows outside ``rows`` map to themselves."""
    first = np.arange(n, dtype=np.int64)
    seen: dict[object, int] = {}
    for row, key in zip(rows.tolist(), keys, strict=True):
        first[row] = seen.setdefault(key, row)
    return first


def cluster_ids(duplicate_of: np.ndarray) -> np.ndarray:
    """Cluster of each row: a kept row with duplicates and its duplicates share one, numbered by the
    kept row's position; -1 for a row alone."""
    n = len(duplicate_of)
    head = np.where(duplicate_of >= 0, duplicate_of, np.arange(n))
    sizes = np.bincount(head, minlength=n)
    in_cluster = sizes[head] > 1
    ids = np.full(n, -1, np.int64)
    heads = np.unique(head[in_cluster])
    ids[in_cluster] = np.searchsorted(heads, head[in_cluster])
    return ids
