"""Files that tasks exchange, at a *location*: a local path or an ``s3://`` URL, as text.

A run on a cluster whose nodes share no disk keeps the rows its tasks read and write (input
shards, stage outputs, the scratch files of a split search) under an object-store prefix
(``executor.storage``); on one machine the same functions work on local files. Writes are
all-or-nothing: a local file is written to a temporary beside it and renamed, an object appears
only when its upload completes and is deleted again when the write fails midway, so a task run
again after its worker died never leaves half a file.
Arrow files are read memory-mapped when local.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curate import objects


def join(folder: str, name: str) -> str:
    """``name`` inside the location ``folder``."""
    return f"{folder.rstrip('/')}/{name}"


def _remote(location: str) -> tuple[pafs.FileSystem, str]:
    return objects.filesystem(), objects.key_of(location)


@contextmanager
def writing(location: str) -> Iterator[pa.NativeFile]:
    """A stream to write the file at ``location``; the file exists, whole, once the block ends
    without error (and not at all otherwise)."""
    if objects.is_remote(location):
        s3, key = _remote(location)
        try:
            with s3.open_output_stream(key) as sink:
                yield sink
        except BaseException:  # closing the stream completed the upload: take the object away again
            with suppress(OSError):
                s3.delete_file(key)
            raise
        return
    tmp = f"{location}.{os.getpid()}.tmp"
    try:
        with pa.OSFile(tmp, "wb") as sink:
            yield sink
        os.replace(tmp, location)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def reading(location: str) -> pa.NativeFile:
    """The file at ``location``, open for random access (memory-mapped when local)."""
    if objects.is_remote(location):
        s3, key = _remote(location)
        return s3.open_input_file(key)
    return pa.memory_map(location)


def parquet_file(location: str) -> pq.ParquetFile:
    """The Parquet file at ``location`` (its footer read; row groups read on demand)."""
    return pq.ParquetFile(reading(location) if objects.is_remote(location) else location)


def save_arrow(table: pa.Table, location: str, *, batch_rows: int | None = None) -> None:
    """Write ``table`` to the Arrow file at ``location`` (record batches of at most ``batch_rows`` rows)."""
    with writing(location) as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_rows)


def read_arrow(location: str) -> pa.Table:
    """The table of the Arrow file at ``location`` (see :func:`save_arrow`)."""
    with reading(location) as source:
        return pa.ipc.open_file(source).read_all()


def read_arrow_batches(location: str, first: int, stop: int, schema: pa.Schema) -> pa.Table:
    """Record batches ``first:stop`` of the Arrow file at ``location``, as one table of ``schema``."""
    with reading(location) as source:
        reader = pa.ipc.open_file(source)
        return pa.Table.from_batches([reader.get_batch(i) for i in range(first, stop)], schema)


def write_parquet(table: pa.Table, location: str) -> None:
    """Write ``table`` to the Parquet file at ``location`` (zstd)."""
    with writing(location) as sink:
        pq.write_table(table, sink, compression="zstd")


def files_in(folder: str, pattern: str) -> list[str]:
    """The files directly in the location ``folder`` whose names match ``pattern`` (a glob), in name order."""
    if objects.is_remote(folder):
        s3, key = _remote(folder)
        infos = s3.get_file_info(pafs.FileSelector(key, allow_not_found=True))
        names = [info.base_name for info in infos if info.type == pafs.FileType.File]
    else:
        names = [path.name for path in Path(folder).glob("*") if path.is_file()]
    return [join(folder, name) for name in sorted(fnmatch.filter(names, pattern))]


def remove(locations: list[str]) -> None:
    """Delete the files at ``locations`` (those already gone are fine)."""
    for location in locations:
        if objects.is_remote(location):
            s3, key = _remote(location)
            with suppress(FileNotFoundError):
                s3.delete_file(key)
        else:
            Path(location).unlink(missing_ok=True)
