"""Memory of writing large sets in every export format: an MRC set as SQuAD JSON (streamed article
by article when each article's rows are consecutive), a ``datasets`` folder, JSON Lines and
Parquet; a triplets set as DPR JSON and sentence-transformers rows.

    .venv/bin/python benchmarks/export_memory.py [--copies 100] [--triplets 200000]
        [--work runs/bench/export-memory] [--code DIR]

The MRC set: the 12 XQuAD languages (../shared/data/xquad), each copied ``--copies`` times with its
ids, titles, document and passage ids made distinct, as one Parquet file of kind ``mrc`` (XQuAD:
1,190 questions per language). The triplets set: its first ``--triplets`` rows as ``query`` (the
question), ``positive`` (the context) and three negatives (the contexts 1,190, 2,380 and 3,570
rows on, another language's passage). Each write runs in a fresh subprocess, so its peak memory
(max RSS) is its own; the Parquet file is read batch by batch. ``--code DIR`` runs the writes with
the curate package of another checkout (``DIR/curate``), to compare with an older version.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
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
io.write(Dataset.from_parquet(sys.argv[1], sys.argv[4]), sys.argv[2], format=sys.argv[3])
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


def build_triplets(src: Path, rows: int) -> Path:
    """The triplets set of the MRC set ``src`` (built once per ``rows``)."""
    path = src.with_name(f"{src.stem}-triplets-{rows}.parquet")
    if path.exists():
        return path
    table = pq.read_table(src, columns=["question", "context"])
    contexts = table.column("context").to_pylist()
    shifts = (1190, 2380, 3570)
    negatives = [[contexts[(i + s) % len(contexts)] for s in shifts] for i in range(rows)]
    triplets = pa.table(
        {
            "id": [f"t{i}" for i in range(rows)],
            "query": table.column("question").slice(0, rows),
            "positive": table.column("context").slice(0, rows),
            "negatives": pa.array(negatives, pa.list_(pa.string())),
        }
    )
    pq.write_table(triplets, path, compression="zstd")
    return path


def measure(src: Path, out: Path, fmt: str, kind: str, code: Path | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of writing ``src`` (rows of ``kind``) to ``out`` in a fresh
    process, with the curate of the checkout ``code`` (default this one)."""
    env = dict(os.environ, PYTHONPATH=str(code)) if code else None
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-c", WRITE, str(src), str(out), fmt, kind],
        capture_output=True,
        text=True,
        check=True,
        cwd=code or REPO,
        env=env,
    )
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--triplets", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=Path("runs/bench/export-memory"))
    parser.add_argument("--code", type=Path, default=None, help="a checkout whose curate package runs the writes")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = build(work, args.copies)
    rows = pq.ParquetFile(src).metadata.num_rows
    triplets = build_triplets(src, min(args.triplets, rows))
    print(
        f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}."
    )
    print(f"Sets: {rows:,} MRC rows ({src.stat().st_size / 2**20:,.0f} MB of Parquet); {min(args.triplets, rows):,} ")
    print(
        f"triplets of 3 negatives ({triplets.stat().st_size / 2**20:,.0f} MB of Parquet). Code: {args.code or REPO}.\n"
    )
    print("| set | written as | wall s | peak RSS MB | output MB |")
    print("|---|---|---:|---:|---:|")
    writes = (
        (src, "mrc", "squad", "out.json"),
        (src, "mrc", "hf", "out_hf"),
        (src, "mrc", "jsonl", "out.jsonl"),
        (src, "mrc", "parquet", "out.parquet"),
        (triplets, "triplets", "dpr", "dpr.json"),
        (triplets, "triplets", "sentence-transformers", "st.jsonl"),
    )
    for data, kind, fmt, name in writes:
        out = work / name
        if out.is_dir():
            shutil.rmtree(out)
        seconds, mb = measure(data, out, fmt, kind, args.code.resolve() if args.code else None)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) if out.is_dir() else out.stat().st_size
        print(f"| {kind} | {fmt} | {seconds:.1f} | {mb:,.0f} | {size / 2**20:,.0f} |")


if __name__ == "__main__":
    main()
