"""Memory of writing a large MRC set: SQuAD JSON (streamed article by article when each article's
rows are consecutive) against JSON Lines and Parquet (streamed batch by batch).

    .venv/bin/python benchmarks/export_memory.py [--copies 100] [--work runs/bench/export-memory]

The set: the 12 XQuAD languages (../shared/data/xquad), each copied ``--copies`` times with its
ids, titles, document and passage ids made distinct, as one Parquet file of kind
``mrc`` (XQuAD: 1,190 questions per language). Each write runs in a fresh subprocess, so its peak
memory (max RSS) is its own; the Parquet file is read batch by batch. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
XQUAD = REPO.parent / "shared" / "data" / "xquad"
WRITE = """
import sys
from curate import io
from curate.dataset import Dataset
io.write(Dataset.from_parquet(sys.argv[1], "mrc"), sys.argv[2], format=sys.argv[3])
"""


def build(work: Path, copies: int) -> Path:
    """The MRC set as one Parquet file (built once per ``copies``)."""
    path = work / f"xquad-x{copies}.parquet"
    if path.exists():
        return path
    from curate import io
    from curate.dataset import Dataset

    languages = [io.read(p).to_arrow() for p in sorted(XQUAD.glob("xquad.*.json"))]
    tables = []
    for copy in range(copies):
        for table in languages:
            suffix = pa.scalar(f"#{copy}")
            for name in ("id", "title", "document_id", "passage_id"):
                at = table.schema.get_field_index(name)
                table = table.set_column(at, name, pc.binary_join_element_wise(table.column(name), suffix, ""))
            tables.append(table)
    whole = pa.concat_tables(tables, promote_options="default")
    io.write(Dataset.from_arrow(whole, "mrc"), path, format="parquet", as_source=False)
    return path


def measure(src: Path, out: Path, fmt: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of writing ``src`` to ``out`` in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-c", WRITE, str(src), str(out), fmt],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("runs/bench/export-memory"))
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = build(work, args.copies)
    rows = pq.ParquetFile(src).metadata.num_rows
    print(
        f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}."
    )
    print(f"Set: {rows:,} MRC rows ({src.stat().st_size / 2**20:,.0f} MB of Parquet).\n")
    print("| written as | wall s | peak RSS MB | file MB |")
    print("|---|---:|---:|---:|")
    for fmt, name in (("squad", "out.json"), ("jsonl", "out.jsonl"), ("parquet", "out.parquet")):
        out = work / name
        seconds, mb = measure(src, out, fmt)
        print(f"| {fmt} | {seconds:.1f} | {mb:,.0f} | {out.stat().st_size / 2**20:,.0f} |")


if __name__ == "__main__":
    main()
