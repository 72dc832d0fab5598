"""BEIR folders: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``) and
``qrels/<split>.tsv`` (``query-id, corpus-id, score``), as the ``corpus``, ``queries`` and ``qrels``
kinds (``_id`` becomes ``doc_id`` / ``query_id``; qrels gain a ``split`` column from the file name).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.dataset import Dataset
from curate.errors import InputError, Where
from curate.io.files import input_folder
from curate.io.quarantine import Rows, Source, Unstreamable, conform_or_set_aside
from curate.io.tabular import delimited_source, jsonl_source, read_jsonl, write_delimited, write_jsonl

PARTS = ("corpus", "queries", "qrels")


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").exists()


def _rename(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    return table.rename_columns([mapping.get(n, n) for n in table.column_names])


def read_beir_part(folder: Path, part: str, *, skip_bad_rows: bool = False) -> Rows:
    """Read one part (``corpus``, ``queries`` or ``qrels``) of a BEIR folder."""
    return next(iter(beir_source(folder, part, skip_bad_rows=skip_bad_rows).chunks))


def beir_source(folder: Path, part: str, *, skip_bad_rows: bool = False, chunk_rows: int | None = None) -> Source:
    """One part of a BEIR folder in chunks of ``chunk_rows`` rows (``None``: one chunk). Qrels are
    conformed file by file, so a bad value is named by its qrels file and line; qrels files with
    other extra columns than the first raise :class:`Unstreamable` when read in chunks."""
    input_folder(folder)
    if part not in PARTS:
        raise InputError(
            "a BEIR folder holds corpus, queries and qrels",
            where=Where(file=str(folder)),
            value=part,
            hint="pass --kind corpus, --kind queries or --kind qrels",
        )
    if part == "qrels":
        return _qrels(folder, skip_bad_rows, chunk_rows)
    file = folder / f"{part}.jsonl"
    if not file.exists():
        raise InputError(f"no {part}.jsonl in the BEIR folder", where=Where(file=str(folder)))
    mapping = {"_id": "doc_id" if part == "corpus" else "query_id"}
    if chunk_rows is None:
        rows = read_jsonl(file, skip_bad_rows=skip_bad_rows)
        table = _rename(rows.table, mapping)
        return Source(table.schema, [Rows(table, rows.bad, rows.lines)])
    source = jsonl_source(file, skip_bad_rows=skip_bad_rows, chunk_rows=chunk_rows)
    chunks = (Rows(_rename(r.table, mapping), r.bad, r.lines) for r in source.chunks)
    return Source(_rename(source.schema.empty_table(), mapping).schema, chunks)


def _qrels(folder: Path, skip_bad_rows: bool, chunk_rows: int | None) -> Source:
    files = sorted((folder / "qrels").glob("*.tsv"))
    if not files:
        raise InputError("no qrels/*.tsv in the BEIR folder", where=Where(file=str(folder)))

    def conformed(file: Path, source: Source) -> Iterator[Rows]:
        first_row = 0
        for rows in source.chunks:
            rows.table = _rename(rows.table, {"query-id": "query_id", "corpus-id": "doc_id"})
            kept = rows.table.num_rows
            rows = conform_or_set_aside(rows, "qrels", str(file), skip=skip_bad_rows, first_row=first_row)
            first_row += kept
            index = rows.table.column_names.index("split")
            split = pc.fill_null(rows.table.column(index), file.stem)
            yield Rows(rows.table.set_column(index, "split", split), rows.bad)

    def source(file: Path) -> Source:
        return delimited_source(file, delimiter="\t", quote=None, skip_bad_rows=skip_bad_rows, chunk_rows=chunk_rows)

    if chunk_rows is None:
        tables, bad = [], []
        for file in files:
            for rows in conformed(file, source(file)):
                tables.append(rows.table)
                bad += rows.bad
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise InputError(
                "qrels files have different columns",
                where=Where(file=str(folder / "qrels")),
                value=[t.column_names for t in tables],
                hint="every qrels file: query-id, corpus-id, score",
            ) from None
        return Source(table.schema, [Rows(table, bad)])
    first = source(files[0])
    head = _rename(first.schema.empty_table(), {"query-id": "query_id", "corpus-id": "doc_id"})
    schema = conform_or_set_aside(Rows(head), "qrels", str(files[0]), skip=skip_bad_rows).table.schema

    def chunks() -> Iterator[Rows]:
        for index, file in enumerate(files):
            for rows in conformed(file, first if index == 0 else source(file)):
                if rows.table.schema != schema:
                    raise Unstreamable("qrels")
                yield rows

    return Source(schema, chunks())


def write_beir(parts: Mapping[str, Dataset], folder: Path) -> None:
    """Write the given parts as a BEIR folder, batch by batch: the corpus and queries, and the
    qrels split by their ``split`` column (else ``test``) into ``qrels/<split>.tsv``, one pass over
    the qrels per split."""
    for part in ("corpus", "queries"):
        if part in parts:
            renamed = (_rename(batch, {"doc_id": "_id", "query_id": "_id"}) for batch in parts[part].batches())
            write_jsonl(renamed, folder / f"{part}.jsonl")
    if "qrels" not in parts:
        return
    qrels = parts["qrels"]
    (folder / "qrels").mkdir(exist_ok=True)
    for split in _qrels_splits(qrels):
        if "/" in split or "\\" in split or split.startswith(".") or split != split.strip():
            raise InputError(
                "qrels split cannot be a file name",
                where=Where(field="split"),
                value=split,
                hint="a split names qrels/<split>.tsv: use letters, digits, '-' or '_'",
            )
        rows = (
            batch.filter(pc.equal(qrels_splits_of(batch), split))
            .select(["query_id", "doc_id", "score"])
            .rename_columns(["query-id", "corpus-id", "score"])
            for batch in itertools.chain(qrels.batches(), [qrels.rows(0, 0)])
        )
        write_delimited(rows, folder / "qrels" / f"{split}.tsv", delimiter="\t", quote=None)


def qrels_splits_of(qrels: pa.Table) -> pa.Array:
    """The split of each qrels row, the name of its ``qrels/<split>.tsv``: its ``split``, else ``test``."""
    if "split" not in qrels.column_names:
        return pa.array(["test"] * qrels.num_rows, pa.string())
    split = pc.fill_null(qrels.column("split").combine_chunks(), "test")
    return pc.if_else(pc.equal(split, ""), "test", split)


def _qrels_splits(qrels: Dataset) -> list[str]:
    """The splits of qrels rows in order of appearance (``test`` for rows without one)."""
    splits: dict[str, None] = {}
    for batch in qrels.batches():
        splits.update(dict.fromkeys(pc.unique(qrels_splits_of(batch)).to_pylist()))
    return list(splits)
