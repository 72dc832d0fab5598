"""BEIR folders: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``) and
``qrels/<split>.tsv`` (``query-id, corpus-id, score``), as the ``corpus``, ``queries`` and ``qrels``
kinds (``_id`` becomes ``doc_id`` / ``query_id``; qrels gain a ``split`` column from the file name).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import InputError, Where
from curate.io.files import input_folder
from curate.io.quarantine import Rows, conform_or_set_aside
from curate.io.tabular import read_delimited, read_jsonl, write_delimited, write_jsonl

PARTS = ("corpus", "queries", "qrels")


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").exists()


def _rename(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    return table.rename_columns([mapping.get(n, n) for n in table.column_names])


def read_beir_part(folder: Path, part: str, *, skip_bad_rows: bool = False) -> Rows:
    """Read one part (``corpus``, ``queries`` or ``qrels``) of a BEIR folder."""
    input_folder(folder)
    if part not in PARTS:
        raise InputError(
            "a BEIR folder holds corpus, queries and qrels",
            where=Where(file=str(folder)),
            value=part,
            hint="pass --kind corpus, --kind queries or --kind qrels",
        )
    if part == "qrels":
        files = sorted((folder / "qrels").glob("*.tsv"))
        if not files:
            raise InputError("no qrels/*.tsv in the BEIR folder", where=Where(file=str(folder)))
        tables, bad = [], []
        for file in files:
            rows = read_delimited(file, delimiter="\t", quote=None, skip_bad_rows=skip_bad_rows)
            rows.table = _rename(rows.table, {"query-id": "query_id", "corpus-id": "doc_id"})
            # conformed file by file, so a bad value is named by its qrels file and line
            rows = conform_or_set_aside(rows, "qrels", str(file), skip=skip_bad_rows)
            index = rows.table.column_names.index("split")
            split = pc.fill_null(rows.table.column(index), file.stem)
            tables.append(rows.table.set_column(index, "split", split))
            bad += rows.bad
        try:
            return Rows(pa.concat_tables(tables, promote_options="permissive"), bad)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise InputError(
                "qrels files have different columns",
                where=Where(file=str(folder / "qrels")),
                value=[t.column_names for t in tables],
                hint="every qrels file: query-id, corpus-id, score",
            ) from None
    file = folder / f"{part}.jsonl"
    if not file.exists():
        raise InputError(f"no {part}.jsonl in the BEIR folder", where=Where(file=str(folder)))
    rows = read_jsonl(file, skip_bad_rows=skip_bad_rows)
    return Rows(_rename(rows.table, {"_id": "doc_id" if part == "corpus" else "query_id"}), rows.bad, rows.lines)


def write_beir(parts: dict[str, pa.Table], folder: Path) -> None:
    """Write the given parts as a BEIR folder (qrels split by their ``split`` column, else ``test``)."""
    for part in ("corpus", "queries"):
        if part in parts:
            table = _rename(parts[part], {"doc_id": "_id", "query_id": "_id"})
            write_jsonl(table, folder / f"{part}.jsonl")
    if "qrels" in parts:
        qrels = parts["qrels"]
        (folder / "qrels").mkdir(exist_ok=True)
        splits = qrels.column("split").to_pylist() if "split" in qrels.column_names else ["test"] * qrels.num_rows
        for split in dict.fromkeys(s or "test" for s in splits):
            if "/" in split or "\\" in split or split.startswith(".") or split != split.strip():
                raise InputError(
                    "qrels split cannot be a file name",
                    where=Where(field="split"),
                    value=split,
                    hint="a split names qrels/<split>.tsv: use letters, digits, '-' or '_'",
                )
            mask = pa.array([(s or "test") == split for s in splits])
            rows = qrels.filter(mask).select(["query_id", "doc_id", "score"])
            rows = rows.rename_columns(["query-id", "corpus-id", "score"])
            write_delimited(rows, folder / "qrels" / f"{split}.tsv", delimiter="\t", quote=None)
