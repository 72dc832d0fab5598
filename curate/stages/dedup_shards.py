"""The dedup searches of ``minhash_dedup`` (one joined text per row) and ``exact_dedup`` as tasks
on the stage's executor, for datasets larger than one process should hold; the decisions equal
those of the search over the whole dataset (the pure steps are in :mod:`curate.dedup.partition`).

Near duplicates (:func:`split_search`):

1. ``band`` (a task per shard of ``shard_rows`` rows): shingles, MinHash signatures and LSH band
   keys of the shard's texts; the ``(band, key, row)`` triples are written to one file per bucket
   range (``key % ranges``) in the scratch folder, the signatures to one file; each text's length
   comes back (``keep: longest``).
2. ``link`` (a task per bucket range): the links from each member of a shared bucket to its first
   row, and each row's band mates (``keep: central``).
3. In the driver: the groups (connected components of the links) and the parts, whole groups of
   two or more rows packed up to ``part_rows`` rows (a larger group is a part of its own).
4. ``gather`` (a task per shard): the shard's rows that are in a part (id, text, answers,
   signature) written to that part's files.
5. ``search`` (a task per part): the usual search (:func:`~curate.dedup.plan.find_duplicates`) and
   :func:`~curate.dedup.outcome.apply_assignment` on the part's rows, in dataset order, with the
   signatures of step 1 (not computed again); its decisions go to a file of the part's.

Exact repeats (:func:`split_exact`): ``hash`` (a task per shard) writes each row's 16-byte digest
to the file of its hash range; ``repeats`` (a task per hash range) gives each row whose digest an
earlier row has, with that first row: the groups. Steps 3 to 5 follow, the search being
:func:`~curate.dedup.assign.assign` over each group.

Each part's decisions stay in its file (:class:`StoredDecisions`): a batch of the stage's split
reads its rows from them, clusters numbered over the whole dataset by their head row. Memory: a
task holds one shard, one bucket range or one part; the driver a few integers per row (group,
rank, part) and per cluster, the links of one bucket range at a time, and the decisions of one
batch. Files go through :meth:`Stage.scratch_folder`, which every node must see when the executor
has several; they last until the stage's run ends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import locations, progress
from curate.dataset import Dataset
from curate.dedup import partition
from curate.dedup.agreement import Answer, answer_columns, conflicts_removed, row_answers
from curate.dedup.assign import Assignment, ClusteringMode, Field, GroupCandidates, assign
from curate.dedup.minhash import band_keys, signatures
from curate.dedup.outcome import (
    CONFLICTS_SCHEMA,
    DECISIONS_SCHEMA,
    Decisions,
    Outcome,
    apply_assignment,
    how_similar,
    near_duplicate_detail,
)
from curate.dedup.plan import MinHashSettings, cluster_texts, find_duplicates, shingles_of
from curate.executors import Executor, Shared
from curate.schemas import row_ids
from curate.text.normalize import Op, normalize_text

TRIPLES_PER_RANGE = 4_000_000
"""``(band, key, row)`` triples a ``link`` task reads, about (each 17 bytes)."""
DIGESTS_PER_RANGE = 8_000_000
"""Row digests a ``repeats`` task reads, about (each 24 bytes with its row)."""
DECISION_BATCH_ROWS = 1024
"""Rows per record batch of a part's decisions file: a batch of the split reads those it overlaps."""
_FOLD_OPS: tuple[Op, ...] = ("nfc", "whitespace")


@dataclass(frozen=True)
class NearSearch:
    """How ``minhash_dedup`` compares rows: MinHash ``settings``, the ``clustering`` and the keep
    order (``central``, ``first`` or ``longest``)."""

    settings: MinHashSettings
    clustering: ClusteringMode
    keep: str


@dataclass(frozen=True)
class SameSearch:
    """How ``exact_dedup`` compares rows: the digest of their identity ``fields`` (:func:`row_digest`)."""

    fields: tuple[str, ...]
    normalize: bool
    casefold: bool


@dataclass(frozen=True)
class SearchJob:
    """What every task of one split search reads: the dataset (Parquet files or a table), the
    ``fields`` whose text (joined by a newline) goes to the parts (compared by a near search, shown
    in conflicts by an exact one), the ``method``, the scratch ``folder`` and how many hash
    ``ranges`` the shards' keys are spread over."""

    data: Dataset
    fields: tuple[str, ...]
    method: NearSearch | SameSearch
    folder: str
    ranges: int


@dataclass(frozen=True)
class SplitSearch:
    """The decisions about every row of the dataset, and the ``conflicts`` pairs (rows in order)."""

    decisions: StoredDecisions
    conflicts: pa.Table


def row_digest(values: Sequence[object], *, normalize: bool, casefold: bool) -> bytes:
    """16-byte digest of a row's identity ``values`` (a non-string as JSON, None as NUL), after NFC
    and whitespace folding (``normalize``) and case folding (``casefold``)."""
    parts = []
    for value in values:
        if not isinstance(value, str):
            value = "\x00" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
        if normalize:
            value = normalize_text(value, _FOLD_OPS)
        if casefold:
            value = value.casefold()
        parts.append(value)
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest()


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
    folder: str,
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
    files at the location ``folder`` (:mod:`curate.locations`)."""
    n = dataset.num_rows
    ranges = max(1, -(-n * settings.lsh().bands // TRIPLES_PER_RANGE))
    job = executor.share(
        SearchJob(executor.readable(dataset), fields, NearSearch(settings, clustering, keep), folder, ranges)
    )
    shards = dataset.batch_ranges(shard_rows)
    lengths = np.zeros(n, np.int64)
    progress.step("LSH bands", 0, n)
    banded = executor.map(_band, ((job, (i, start, stop)) for i, (start, stop) in enumerate(shards)), what="shard")
    for (start, stop), found in zip(shards, banded, strict=True):
        lengths[start:stop] = found
        progress.step("LSH bands", stop, n)
    labels, mates = np.arange(n, dtype=np.int64), np.zeros(n, np.int64)
    progress.step("buckets", 0, ranges, "bucket ranges")
    linked = executor.map(_link, ((job, r) for r in range(ranges)), what="bucket range")
    for r, (first, member, rows, counts) in enumerate(linked):
        locations.remove(_range_files(folder, "bucket", r))
        labels = partition.linked_groups(labels, first, member)
        mates[rows] += counts  # a range lists each row once
        progress.step("buckets", r + 1, ranges, "bucket ranges")
    rank = {"central": -mates, "longest": -lengths}.get(keep)
    return _decided(executor, job, folder, shards, labels, rank, part_rows)


def split_exact(
    dataset: Dataset,
    executor: Executor,
    folder: str,
    *,
    fields: tuple[str, ...],
    shown: str,
    normalize: bool,
    casefold: bool,
    shard_rows: int,
    part_rows: int,
) -> SplitSearch:
    """The decisions of ``exact_dedup`` about ``dataset`` (rows equal in ``fields``, compared by
    :func:`row_digest`; ``shown``: the field a conflict shows), computed by tasks on ``executor``
    exchanging files at the location ``folder``."""
    n = dataset.num_rows
    ranges = max(1, -(-n // DIGESTS_PER_RANGE))
    method = SameSearch(fields, normalize, casefold)
    job = executor.share(SearchJob(executor.readable(dataset), (shown,), method, folder, ranges))
    shards = dataset.batch_ranges(shard_rows)
    progress.step("hashing", 0, n)
    hashed = executor.map(_hash, ((job, (i, start, stop)) for i, (start, stop) in enumerate(shards)), what="shard")
    for (_, stop), _ in zip(shards, hashed, strict=True):
        progress.step("hashing", stop, n)
    labels = np.arange(n, dtype=np.int64)
    repeated = executor.map(_repeats, ((job, r) for r in range(ranges)), what="hash range")
    for r, (rows, firsts) in enumerate(repeated):
        locations.remove(_range_files(folder, "hash", r))
        labels[rows] = firsts
    return _decided(executor, job, folder, shards, labels, None, part_rows)


def _decided(
    executor: Executor,
    job: Shared[SearchJob],
    folder: str,
    shards: Sequence[tuple[int, int]],
    labels: np.ndarray,
    rank: np.ndarray | None,
    part_rows: int,
) -> SplitSearch:
    """Steps 3 to 5: the groups of ``labels`` (each row's group: its smallest row) packed into
    parts, their rows gathered and searched (best ``rank`` first, else in row order), the parts'
    decisions joined. A task's input files are removed once its result is in (a task run again
    after its worker died reads them again)."""
    parts = partition.pack_groups(labels, part_rows)
    part_of = np.full(len(labels), -1, np.int32)
    for number, rows in enumerate(parts):
        part_of[rows] = number
    items = ((job, (i, start, stop, part_of[start:stop])) for i, (start, stop) in enumerate(shards))
    for index, _ in enumerate(executor.map(_gather, items, what="shard")):
        locations.remove([_signature_file(folder, index)])
    del part_of
    largest_first = sorted(range(len(parts)), key=lambda number: -len(parts[number]))  # no worker left last with one
    searched = (
        (job, (number, parts[number], labels[parts[number]], None if rank is None else rank[parts[number]]))
        for number in largest_first
    )
    found_parts: list[PartDecisions] = []
    done, total = 0, sum(len(rows) for rows in parts)
    progress.step("search", 0, total)
    for number, found_part in zip(largest_first, executor.map(_search, searched, what="part"), strict=True):
        locations.remove(_part_files(folder, number))
        found_parts.append(found_part)
        done += len(parts[number])
        progress.step("search", done, total)
    return _joined(found_parts)


@dataclass(frozen=True)
class PartDecisions:
    """A part's decisions: the Arrow ``file`` holding them (:data:`DECISIONS_SCHEMA`, dataset rows
    in order in record batches of :data:`DECISION_BATCH_ROWS`, clusters numbered within the part)
    and the first row of each record batch (``firsts``); the dataset row of the kept row heading
    each of its clusters; its conflict pairs with the row of each."""

    file: str
    firsts: np.ndarray
    heads: np.ndarray
    conflicts: pa.Table
    pair_rows: np.ndarray


@dataclass(frozen=True)
class StoredDecisions:
    """The decisions of a split search, left in the parts' files (the driver holds a few integers
    per cluster, not a row per decision): :meth:`between` reads the rows of one batch, their
    clusters numbered over the dataset by their head row (as
    :func:`~curate.dedup.assign.cluster_ids` numbers them). ``heads``: every cluster's head row, in
    order."""

    parts: tuple[PartDecisions, ...]
    heads: np.ndarray

    def between(self, start: int, stop: int) -> Decisions:
        """The decisions about rows ``start:stop``, read from the parts' files."""
        found = []
        for part in self.parts:
            lo = max(int(np.searchsorted(part.firsts, start, "right")) - 1, 0)
            hi = int(np.searchsorted(part.firsts, stop, "left"))
            if hi <= lo:
                continue
            table = locations.read_arrow_batches(part.file, lo, hi, DECISIONS_SCHEMA)
            rows = table.column("row").to_numpy()
            first, last = np.searchsorted(rows, [start, stop])
            found.append(self._renumbered(table.slice(first, last - first), part))
        return Decisions.join(found)

    def clusters_table(self) -> pa.Table:
        """The clusters artifact (:meth:`Decisions.clusters_table`) of every part, in row order."""
        tables, rows = [], []
        for part in self.parts:
            decisions = self._renumbered(locations.read_arrow(part.file), part)
            inside = pc.greater_equal(decisions.table.column("cluster"), 0)
            rows.append(decisions.table.column("row").filter(inside).to_numpy())
            tables.append(decisions.clusters_table())
        if not tables:
            return Decisions(DECISIONS_SCHEMA.empty_table()).clusters_table()
        order = np.argsort(np.concatenate(rows), kind="stable")
        return pa.concat_tables(tables).take(pa.array(order, pa.int64())).combine_chunks()

    def _renumbered(self, table: pa.Table, part: PartDecisions) -> Decisions:
        local = table.column("cluster").to_numpy()
        cluster = np.where(local >= 0, np.searchsorted(self.heads, part.heads[np.maximum(local, 0)]), -1)
        return Decisions(
            table.set_column(table.column_names.index("cluster"), "cluster", pa.array(cluster, pa.int64()))
        )


def _joined(parts: list[PartDecisions]) -> SplitSearch:
    """The parts' decisions (left in their files) and conflict pairs, the pairs in row order."""
    heads = np.sort(np.concatenate([p.heads for p in parts])) if parts else np.zeros(0, np.int64)
    conflicts = pa.concat_tables([p.conflicts for p in parts]) if parts else CONFLICTS_SCHEMA.empty_table()
    pair_rows = np.concatenate([p.pair_rows for p in parts]) if parts else np.zeros(0, np.int64)
    conflicts = conflicts.take(pa.array(np.argsort(pair_rows, kind="stable"), pa.int64()))
    return SplitSearch(StoredDecisions(tuple(parts), heads), conflicts)


def _by_range(job: SearchJob, name: str, index: int, target: np.ndarray, **columns: np.ndarray) -> None:
    """Write a shard's ``columns`` to one file per range (``target``: each entry's range):
    ``<name>-<range>-shard-<index>.npz``."""
    order = np.argsort(target.astype(np.uint16) if job.ranges <= 2**16 else target, kind="stable")  # radix sort
    bounds = np.searchsorted(target[order], np.arange(job.ranges + 1))
    for r in range(job.ranges):
        picked = order[bounds[r] : bounds[r + 1]]
        table = pa.table({key: values[picked] for key, values in columns.items()})
        locations.save_arrow(table, locations.join(job.folder, f"{name}-{r:05d}-shard-{index:06d}.arrow"))


def _range_files(folder: str, name: str, r: int) -> list[str]:
    """The files every shard wrote for range ``r`` of ``name`` (see :func:`_by_range`)."""
    return locations.files_in(folder, f"{name}-{r:05d}-shard-*.arrow")


def _part_files(folder: str, number: int) -> list[str]:
    """The files the shards wrote for part ``number`` (see :func:`_gather`)."""
    return locations.files_in(folder, f"part-{number:06d}-shard-*.arrow")


def _signature_file(folder: str, index: int) -> str:
    """Where ``_band`` keeps the signatures of shard ``index`` for ``_gather`` (an Arrow file of
    one fixed-size list column)."""
    return locations.join(folder, f"signature-shard-{index:06d}.arrow")


def _range_of(job: SearchJob, name: str, r: int) -> dict[str, np.ndarray]:
    """The columns every shard wrote for range ``r`` (see :func:`_by_range`), joined."""
    files = _range_files(job.folder, name, r)
    if not files:
        return {}
    table = pa.concat_tables([locations.read_arrow(file) for file in files])
    return {key: table.column(key).to_numpy() for key in table.column_names}


def _row_type(job: SearchJob) -> type[np.signedinteger]:
    return np.int32 if job.data.num_rows < 2**31 else np.int64


def _band(item: tuple[Shared[SearchJob], tuple[int, int, int]]) -> np.ndarray:
    """Task 1: the shard's band triples written per bucket range, its signatures to a file of
    its own; the lengths of its texts."""
    shared, (index, start, stop) = item
    job = shared.get()
    assert isinstance(job.method, NearSearch)
    texts = joined_texts(job.data.rows(start, stop), job.fields)
    lsh = job.method.settings.lsh()
    signature = signatures(shingles_of(texts, job.method.settings), lsh)
    width = signature.shape[1]
    flat = pa.FixedSizeListArray.from_arrays(pa.array(signature.reshape(-1)), width)
    locations.save_arrow(pa.table({"signature": flat}), _signature_file(job.folder, index))
    band, key, row = partition.bucket_triples(band_keys(signature, lsh), start)
    target = (key % np.uint64(job.ranges)).astype(np.int64)
    _by_range(job, "bucket", index, target, band=band.astype(np.uint8), key=key, row=row.astype(_row_type(job)))
    return np.fromiter((len(t or "") for t in texts), np.int64, len(texts))


def _link(item: tuple[Shared[SearchJob], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Task 2: the links and band mates of one bucket range."""
    shared, r = item
    found = _range_of(shared.get(), "bucket", r)
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    band, key, row = found["band"].astype(np.int64), found["key"], found["row"].astype(np.int64)
    return partition.bucket_links(band, key, row)


def _hash(item: tuple[Shared[SearchJob], tuple[int, int, int]]) -> None:
    """Exact task 1: the shard's row digests (two 64-bit halves) written per hash range."""
    shared, (index, start, stop) = item
    job = shared.get()
    method = job.method
    assert isinstance(method, SameSearch)
    rows = job.data.rows(start, stop)
    columns = [rows.column(name).to_pylist() for name in method.fields]
    digests = b"".join(
        row_digest(values, normalize=method.normalize, casefold=method.casefold)
        for values in zip(*columns, strict=True)
    )
    halves = np.frombuffer(digests, np.uint64).reshape(-1, 2)
    row = np.arange(start, stop, dtype=_row_type(job))
    target = (halves[:, 1] % np.uint64(job.ranges)).astype(np.int64)
    _by_range(job, "hash", index, target, high=halves[:, 0], low=halves[:, 1], row=row)


def _repeats(item: tuple[Shared[SearchJob], int]) -> tuple[np.ndarray, np.ndarray]:
    """Exact task 2: in one hash range, each row whose digest an earlier row has, and that first row."""
    shared, r = item
    found = _range_of(shared.get(), "hash", r)
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    high, low, row = found["high"], found["low"], found["row"].astype(np.int64)
    order = np.lexsort((row, low, high))
    high, low, row = high[order], low[order], row[order]
    starts = np.ones(len(row), bool)
    starts[1:] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
    first = row[np.maximum.accumulate(np.where(starts, np.arange(len(row)), 0))]
    repeat = first != row
    return row[repeat], first[repeat]


def _gather(item: tuple[Shared[SearchJob], tuple[int, int, int, np.ndarray]]) -> None:
    """Task 4: the shard's rows that are in a part (row, id, text, answers; near search: their
    signatures), written to the part's files."""
    shared, (index, start, stop, part_of) = item
    job = shared.get()
    inside = np.nonzero(part_of >= 0)[0]
    if not len(inside):
        return
    signature = None
    if isinstance(job.method, NearSearch):
        stored = locations.read_arrow(_signature_file(job.folder, index)).column("signature")
        signature = stored.take(pa.array(inside, pa.int64())).combine_chunks()
    shard = job.data.rows(start, stop)
    table = shard.take(pa.array(inside, pa.int64()))
    kind = job.data.kind
    ids = row_ids(shard, kind, start)
    texts = joined_texts(table, job.fields)
    columns = {
        "row": pa.array(inside + start, pa.int64()),
        "id": pa.array([ids[i] for i in inside.tolist()], pa.string()),
        "text": pa.array([t if t is None or isinstance(t, str) else str(t) for t in texts], pa.string()),
    }
    columns.update({name: table.column(name) for name in answer_columns(kind) if name in table.column_names})
    if signature is not None:
        columns["signature"] = signature
    rows = pa.table(columns)
    parts = part_of[inside]
    for number in np.unique(parts).tolist():
        chosen = pa.array(np.nonzero(parts == number)[0], pa.int64())
        locations.save_arrow(
            rows.take(chosen), locations.join(job.folder, f"part-{number:06d}-shard-{index:06d}.arrow")
        )


Describe = Callable[[int, int, float, bool], str]


def _search(item: tuple[Shared[SearchJob], tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]) -> PartDecisions:
    """Task 5: the search on one part's rows (``labels``: their groups, ``rank``: their keep
    order); their decisions in dataset rows."""
    shared, (number, rows, labels, rank) = item
    job = shared.get()
    table = pa.concat_tables([locations.read_arrow(path) for path in _part_files(job.folder, number)])
    if not np.array_equal(table.column("row").to_numpy(), rows):  # the shards' files in shard order are in row order
        table = table.take(pc.sort_indices(table, [("row", "ascending")]))
        assert np.array_equal(table.column("row").to_numpy(), rows), "a part's rows came back incomplete"
    kind = job.data.kind
    texts = table.column("text").to_pylist()
    keys = table.column("id").to_pylist()
    answers = row_answers(table, kind)
    reject_conflicts = conflicts_removed(kind)
    method = job.method
    describe: Describe
    if isinstance(method, NearSearch):
        signature = table.column("signature").combine_chunks()
        known = signature.flatten().to_numpy().reshape(-1, signature.type.list_size)
        field = Field(np.arange(len(texts)), texts, cluster_texts(texts, method.settings, known))
        assignment = find_duplicates(
            [field], rank=rank, answers=answers, clustering=method.clustering, reject_conflicts=reject_conflicts
        )
        threshold = method.settings.threshold

        def describe(row: int, other: int, similarity: float, exact: bool) -> str:
            return near_duplicate_detail(keys[other], how_similar(similarity, exact, threshold), similarity, threshold)

        reason = "near_duplicate"
    else:
        groups = GroupCandidates(np.searchsorted(rows, labels))
        assignment = assign(len(rows), np.arange(len(rows)), groups, answers, reject_conflicts=reject_conflicts)
        same = "same " + "+".join(method.fields) + " as "

        def describe(row: int, other: int, similarity: float, exact: bool) -> str:
            return same + keys[other]

        reason = "exact_duplicate"
    path = locations.join(job.folder, f"decisions-part-{number:06d}.arrow")
    return _part_decisions(path, rows, keys, assignment, reason, describe, answers, texts, reject_conflicts)


def _part_decisions(
    path: str,
    rows: np.ndarray,
    keys: list[str],
    assignment: Assignment,
    reason: str,
    describe: Describe,
    answers: Sequence[Answer | None] | None,
    texts: list[str | None],
    reject_conflicts: bool,
) -> PartDecisions:
    """A part's ``assignment`` (rows numbered within the part) written as its decisions to ``path``."""
    outcome = Outcome(keys)
    apply_assignment(
        outcome,
        assignment,
        duplicate_reason=reason,
        describe=describe,
        answers=answers,
        texts=texts,
        reject_conflicts=reject_conflicts,
    )
    head = np.where(assignment.conflict, -1, assignment.duplicate_of)
    head = np.where(head >= 0, head, np.arange(len(texts)))
    heads = rows[np.unique(head[outcome.cluster >= 0])]
    decisions = outcome.decisions(rows).table
    locations.save_arrow(decisions, path, batch_rows=DECISION_BATCH_ROWS)
    firsts = decisions.column("row").to_numpy()[::DECISION_BATCH_ROWS]
    pair_rows = rows[np.asarray(outcome.pair_rows, np.int64)]
    return PartDecisions(path, firsts, heads, outcome.conflicts_table(), pair_rows)
