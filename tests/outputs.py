"""Reading a stage's output folders (``kept.parquet/``, ``rejected.parquet/``) in tests."""

from pathlib import Path

import pyarrow.parquet as pq


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Each file of the output folder by name, with its bytes: two runs compared byte for byte."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def parquet_rows(folder: Path) -> int:
    """The rows of a Parquet file or folder."""
    return pq.read_table(folder, columns=[]).num_rows
