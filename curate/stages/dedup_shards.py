"""The near-duplicate search of ``minhash_dedup`` (one joined text per row) as tasks on the stage's
executor, for datasets larger than one process should hold; the decisions equal those of the
search over the whole dataset (the pure steps are in :mod:`curate.dedup.partition`).

1. ``band`` (a task per shard of ``shard_rows`` rows): shingles and LSH band keys of the shard's
   texts; the ``(band, key, row)`` triples are written to one file per bucket range (``key %
   ranges``) in the scratch folder; each text's length comes back (``keep: longest``).
2. ``link`` (a task per bucket range): the links from each member of a shared bucket to its first
   row, and each row's band mates (``keep: central``).
3. In the driver: the groups (connected components of the links) and the parts, whole groups of
   two or more rows packed up to ``part_rows`` rows (a larger group is a part of its own).
4. ``gather`` (a task per shard): the shard's rows that are in a part (id, text, answers) written
   to that part's files.
5. ``search`` (a task per part): the usual search (:func:`~curate.dedup.plan.find_duplicates`) and
   :func:`~curate.dedup.outcome.apply_assignment` on the part's rows, in dataset order.

The driver joins the parts' :class:`~curate.dedup.outcome.Decisions` and numbers the clusters over
the whole dataset. Memory: a task holds one shard, one bucket range or one part; the driver a few
integers per row (group, rank, part) and the links. Files go through :meth:`Stage.scratch_folder`,
which every node must see when the executor has several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import progress
from curate.dataset import Dataset
from curate.dedup import partition
from curate.dedup.agreement import answer_columns, conflicts_removed, row_answers
from curate.dedup.assign import ClusteringMode, Field
from curate.dedup.outcome import (
    CONFLICTS_SCHEMA,
    Decisions,
    Outcome,
    apply_assignment,
    how_similar,
    near_duplicate_detail,
)
from curate.dedup.plan import MinHashSettings, cluster_texts, find_duplicates, shingles_of
from curate.executors import Executor, Shared
from curate.schemas import row_ids

TRIPLES_PER_RANGE = 4_000_000
"""``(band, key, row)`` triples a ``link`` task reads, about (each 17 bytes)."""


@dataclass(frozen=True)
class SearchJob:
    """What every task of one split search reads: the dataset (Parquet files or a table), the
    compared ``fields`` (joined by a newline), the settings, the clustering, the keep order
    (``central``, ``first`` or ``longest``) and the scratch ``folder``."""

    data: Dataset
    fields: tuple[str, ...]
    settings: MinHashSettings
    clustering: ClusteringMode
    keep: str
    folder: str
    ranges: int


@dataclass(frozen=True)
class SplitSearch:
    """The decisions about every row of the dataset, and the ``conflicts`` pairs (rows in order)."""

    decisions: Decisions
    conflicts: pa.Table


def joined_texts(rows: pa.Table | Dataset, fields: Sequence[str]) -> list[str | None]:
    """Each row's compared text: its ``fields`` (a list of strings joined by newlines) joined by a
    newline; a single field keeps its nulls."""
    columns = []
    for name in fields:
        column = rows.column(name)
        if pa.types.is_list(column.type):
            columns.append([None if v is None else "\n".join(x or "" for x in v) for v in column.to_pylist()])
        else:
            columns.append(column.to_pylist())
    if len(columns) == 1:
        return columns[0]
    return ["\n".join(v or "" for v in values) for values in zip(*columns, strict=True)]


def split_search(
    dataset: Dataset,
    executor: Executor,
    folder: Path,
    *,
    fields: tuple[str, ...],
    settings: MinHashSettings,
    clustering: ClusteringMode,
    keep: str,
    shard_rows: int,
    part_rows: int,
) -> SplitSearch:
    """The decisions of ``minhash_dedup`` about ``dataset`` (one joined text of ``fields`` per row;
    ``keep``: ``central``, ``first`` or ``longest``), computed by tasks on ``executor`` exchanging
    files in ``folder``."""
    n = dataset.num_rows
    if dataset.paths:  # workers may start elsewhere: absolute paths
        dataset = replace(dataset, paths=tuple(path.absolute() for path in dataset.paths))
    ranges = max(1, -(-n * settings.lsh().bands // TRIPLES_PER_RANGE))
    job = executor.share(SearchJob(dataset, fields, settings, clustering, keep, str(folder), ranges))
    shards = dataset.batch_ranges(shard_rows)
    lengths = np.zeros(n, np.int64)
    progress.step("LSH bands", 0, n)
    banded = executor.map(_band, ((job, (i, start, stop)) for i, (start, stop) in enumerate(shards)), what="shard")
    for (start, stop), found in zip(shards, banded, strict=True):
        lengths[start:stop] = found
        progress.step("LSH bands", stop, n)
    firsts, members, mates = [], [], np.zeros(n, np.int64)
    progress.step("buckets", 0, ranges)
    linked = executor.map(_link, ((job, r) for r in range(ranges)), what="bucket range")
    for done, (first, member, rows, counts) in enumerate(linked):
        firsts.append(first)
        members.append(member)
        np.add.at(mates, rows, counts)
        progress.step("buckets", done + 1, ranges)
    labels = partition.group_labels(n, np.concatenate(firsts), np.concatenate(members))
    del firsts, members
    parts = partition.pack_groups(labels, part_rows)
    del labels
    part_of = np.full(n, -1, np.int32)
    for number, rows in enumerate(parts):
        part_of[rows] = number
    items = ((job, (i, start, stop, part_of[start:stop])) for i, (start, stop) in enumerate(shards))
    for _ in executor.map(_gather, items, what="shard"):
        pass
    del part_of
    rank = {"central": -mates, "longest": -lengths}.get(keep)
    searched = ((job, (number, rows, None if rank is None else rank[rows])) for number, rows in enumerate(parts))
    found_parts: list[PartDecisions] = []
    progress.step("search", 0, len(parts))
    for found_part in executor.map(_search, searched, what="part"):
        found_parts.append(found_part)
        progress.step("search", len(found_parts), len(parts))
    return _joined(found_parts)


@dataclass(frozen=True)
class PartDecisions:
    """A part's decisions (dataset rows; clusters numbered within the part), the dataset row of the
    kept row heading each of its clusters, and its conflict pairs with the row of each."""

    decisions: Decisions
    heads: np.ndarray
    conflicts: pa.Table
    pair_rows: np.ndarray


def _joined(parts: list[PartDecisions]) -> SplitSearch:
    """The parts' decisions in row order, clusters numbered by their head row over the dataset (as
    :func:`~curate.dedup.assign.cluster_ids` numbers them), conflict pairs in row order."""
    heads = np.sort(np.concatenate([p.heads for p in parts])) if parts else np.zeros(0, np.int64)
    renumbered = []
    for part in parts:
        table = part.decisions.table
        local = table.column("cluster").to_numpy()
        cluster = np.where(local >= 0, np.searchsorted(heads, part.heads[np.maximum(local, 0)]), -1)
        renumbered.append(
            Decisions(table.set_column(table.column_names.index("cluster"), "cluster", pa.array(cluster, pa.int64())))
        )
    conflicts = pa.concat_tables([p.conflicts for p in parts]) if parts else CONFLICTS_SCHEMA.empty_table()
    pair_rows = np.concatenate([p.pair_rows for p in parts]) if parts else np.zeros(0, np.int64)
    conflicts = conflicts.take(pa.array(np.argsort(pair_rows, kind="stable"), pa.int64()))
    return SplitSearch(Decisions.join(renumbered), conflicts)


def _band(item: tuple[Shared[SearchJob], tuple[int, int, int]]) -> np.ndarray:
    """Task 1: the shard's band triples written per bucket range; the lengths of its texts."""
    shared, (index, start, stop) = item
    job = shared.get()
    texts = joined_texts(job.data.rows(start, stop), job.fields)
    keys = partition.band_keys_of(shingles_of(texts, job.settings), job.settings.lsh())
    band, key, row = partition.bucket_triples(keys, start)
    target = (key % np.uint64(job.ranges)).astype(np.int64)
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(job.ranges + 1))
    row_type = np.int32 if job.data.num_rows < 2**31 else np.int64
    for r in range(job.ranges):
        picked = order[bounds[r] : bounds[r + 1]]
        path = Path(job.folder) / f"bucket-{r:05d}-shard-{index:06d}.npz"
        np.savez(path, band=band[picked].astype(np.uint8), key=key[picked], row=row[picked].astype(row_type))
    return np.fromiter((len(t or "") for t in texts), np.int64, len(texts))


def _link(item: tuple[Shared[SearchJob], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Task 2: the links and band mates of one bucket range (its files are removed)."""
    shared, r = item
    job = shared.get()
    files = sorted(Path(job.folder).glob(f"bucket-{r:05d}-shard-*.npz"))
    loaded = [np.load(path) for path in files]
    band = np.concatenate([f["band"].astype(np.int64) for f in loaded])
    key = np.concatenate([f["key"] for f in loaded])
    row = np.concatenate([f["row"].astype(np.int64) for f in loaded])
    for path in files:
        path.unlink()
    first, member, rows, mates = partition.bucket_links(band, key, row)
    pairs = np.unique(np.stack([first, member], axis=1), axis=0) if len(first) else np.zeros((0, 2), np.int64)
    return pairs[:, 0], pairs[:, 1], rows, mates


def _gather(item: tuple[Shared[SearchJob], tuple[int, int, int, np.ndarray]]) -> None:
    """Task 4: the shard's rows that are in a part, written to the part's files."""
    shared, (index, start, stop, part_of) = item
    job = shared.get()
    inside = np.nonzero(part_of >= 0)[0]
    if not len(inside):
        return
    shard = job.data.rows(start, stop)
    table = shard.take(pa.array(inside, pa.int64()))
    kind = job.data.kind
    ids = row_ids(shard, kind, start)
    columns = {
        "row": pa.array(inside + start, pa.int64()),
        "id": pa.array([ids[i] for i in inside.tolist()], pa.string()),
        "text": pa.array(joined_texts(table, job.fields), pa.string()),
    }
    columns.update({name: table.column(name) for name in answer_columns(kind) if name in table.column_names})
    rows = pa.table(columns)
    parts = part_of[inside]
    for number in np.unique(parts).tolist():
        chosen = pa.array(np.nonzero(parts == number)[0], pa.int64())
        pq.write_table(rows.take(chosen), Path(job.folder) / f"part-{number:06d}-shard-{index:06d}.parquet")


def _search(item: tuple[Shared[SearchJob], tuple[int, np.ndarray, np.ndarray | None]]) -> PartDecisions:
    """Task 5: the search on one part's rows; their decisions in dataset rows."""
    shared, (number, rows, rank) = item
    job = shared.get()
    files = sorted(Path(job.folder).glob(f"part-{number:06d}-shard-*.parquet"))
    table = pa.concat_tables([pq.read_table(path) for path in files])
    table = table.take(pc.sort_indices(table, [("row", "ascending")]))
    for path in files:
        path.unlink()
    assert np.array_equal(table.column("row").to_numpy(), rows), "a part's rows came back incomplete"
    kind = job.data.kind
    texts = table.column("text").to_pylist()
    answers = row_answers(table, kind)
    reject_conflicts = conflicts_removed(kind)
    field = Field(np.arange(len(texts)), texts, cluster_texts(texts, job.settings))
    assignment = find_duplicates(
        [field], rank=rank, answers=answers, clustering=job.clustering, reject_conflicts=reject_conflicts
    )
    keys = table.column("id").to_pylist()
    outcome = Outcome(keys)
    threshold = job.settings.threshold

    def describe(row: int, other: int, similarity: float, exact: bool) -> str:
        return near_duplicate_detail(keys[other], how_similar(similarity, exact, threshold), similarity, threshold)

    apply_assignment(
        outcome,
        assignment,
        duplicate_reason="near_duplicate",
        describe=describe,
        answers=answers,
        texts=texts,
        reject_conflicts=reject_conflicts,
    )
    head = np.where(assignment.conflict, -1, assignment.duplicate_of)
    head = np.where(head >= 0, head, np.arange(len(texts)))
    heads = rows[np.unique(head[outcome.cluster >= 0])]
    return PartDecisions(
        outcome.decisions(rows), heads, outcome.conflicts_table(), rows[np.asarray(outcome.pair_rows, np.int64)]
    )
