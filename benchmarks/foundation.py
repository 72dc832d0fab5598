"""Throughput of the foundation on the 712k NSMC reviews: reading, each first stage, a whole
pipeline run, against plain polars doing the same read and exact dedup.

    .venv/bin/python benchmarks/foundation.py [--rows N]

Each measurement runs in a fresh subprocess so peak memory (max RSS) is its own. Prints a Markdown
table. Needs ../shared/data/nsmc/reviews.jsonl.gz beside the checkout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
REVIEWS = REPO.parent / "shared" / "data" / "nsmc" / "reviews.jsonl.gz"

PIPELINE = """
from curate.pipeline import run_pipeline
cfg = {"name": "b", "input": {"path": SRC, "kind": "classification",
       "columns": {"review": "text", "review_id": "id", "rating": "label"}},
       "output": {"dir": OUT},
       "stages": [{"use": "normalize_text", "params": {"fields": ["text"]}},
                  {"use": "exact_dedup", "params": {"fields": ["text"]}},
                  {"use": "length_filter", "params": {"field": "text", "min": 2}},
                  {"use": "sql_filter", "params": {"where": "label <> '5'"}}]}
result = run_pipeline(cfg)
"""

CASES = {
    "curate read jsonl.gz -> Dataset": """
ds = curate.read(SRC, kind="classification", rename={"review": "text", "review_id": "id", "rating": "label"})
ROWS = ds.num_rows
""",
    "polars read_ndjson (baseline)": """
import polars as pl
df = pl.read_ndjson(SRC)
ROWS = df.height
""",
    "curate exact_dedup (NFC + whitespace fold)": """
ds = curate.read(PARQUET, kind="classification")
t0 = time.perf_counter()
r = curate.ExactDedup(fields=["text"])(ds)
ROWS = r.stats.rows_kept
""",
    "polars unique on raw text (baseline, no normalization)": """
import polars as pl
df = pl.read_parquet(PARQUET)
t0 = time.perf_counter()
ROWS = df.unique(subset=["text"], keep="first", maintain_order=True).height
""",
    "curate normalize_text (html, control, NFC, whitespace)": """
ds = curate.read(PARQUET, kind="classification")
t0 = time.perf_counter()
r = curate.NormalizeText(fields=["text"])(ds)
ROWS = r.stats.rows_kept
""",
    "curate length_filter (words)": """
ds = curate.read(PARQUET, kind="classification")
t0 = time.perf_counter()
r = curate.LengthFilter(field="text", unit="words", min=2)(ds)
ROWS = r.stats.rows_kept
""",
    "curate run: 4 stages, streamed Parquet on disk": PIPELINE + "ROWS = result.output.num_rows\n",
    "curate run again: 4 stages resumed, their files checked (SHA-256)": PIPELINE
    + "assert all(run.resumed for run in result.stages)\nROWS = result.output.num_rows\n",
}

RUNNER = """
import sys, time, resource, json
import curate
SRC, PARQUET, OUT, LIMIT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.perf_counter()
{body}
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rows": ROWS, "seconds": seconds, "rss_mb": rss}}))
"""


def measure(body: str, src: Path, parquet: Path, out: Path, limit: int) -> dict:
    code = RUNNER.format(body=body)
    result = subprocess.run(
        [sys.executable, "-c", code, str(src), str(parquet), str(out), str(limit)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=0, help="use only the first N reviews (0 = all)")
    args = parser.parse_args()
    if not REVIEWS.exists():
        raise SystemExit(f"needs {REVIEWS}")
    with tempfile.TemporaryDirectory() as tmp:
        src = REVIEWS
        if args.rows:
            src = Path(tmp) / "reviews.jsonl"
            with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle, src.open("w", encoding="utf-8") as out:
                for i, line in enumerate(handle):
                    if i >= args.rows:
                        break
                    out.write(line)
        parquet = Path(tmp) / "reviews.parquet"
        # prepared in a subprocess: on Linux a child's peak RSS starts from its parent's
        prepare = [sys.executable, "-m", "curate", "convert", str(src), str(parquet), "--kind", "classification"]
        prepare += ["--rename", "review=text", "--rename", "review_id=id", "--rename", "rating=label"]
        subprocess.run(prepare, check=True, capture_output=True, cwd=REPO)
        n = pq.read_metadata(parquet).num_rows  # pyarrow alone is far below every measured peak
        print(
            f"NSMC reviews: {n:,} rows; {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print()
        print("| step | rows out | seconds | rows/s | peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|")
        for name, body in CASES.items():
            m = measure(body, src, parquet, Path(tmp) / "run", args.rows)
            print(f"| {name} | {m['rows']:,} | {m['seconds']:.2f} | {n / m['seconds']:,.0f} | {m['rss_mb']:,.0f} |")


if __name__ == "__main__":
    main()
