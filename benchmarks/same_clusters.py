"""Whether ``minhash_dedup`` decides the same on the 712,404 NSMC reviews whatever runs it: the
search over all rows in one process, the search split into tasks in this process, on 2 local
processes and on a Ray of its own. Prints a Markdown table: wall time, peak RSS of the ``curate``
process, rows rejected, clusters, and whether kept, rejected and clusters equal the first run's.

    .venv/bin/python benchmarks/same_clusters.py [--work DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parent.parent
REVIEWS = REPO.parent / "shared" / "data" / "nsmc" / "reviews.jsonl.gz"
RUNS = {
    "search over all rows": ("local", {"shard_rows": 10**9}),
    "split, local": ("local", {}),
    "split, processes (2)": ({"name": "processes", "workers": 2}, {}),
    "split, ray (own, 2 CPUs)": ({"name": "ray", "workers": 2}, {}),
}
COMPARED = ("kept.parquet", "rejected.parquet", "clusters.parquet")


def reviews_parquet(work: Path) -> Path:
    """The reviews as ``id`` (``r<line>``), ``text`` in one Parquet file under ``work``."""
    path = work / "nsmc.parquet"
    if not path.exists():
        with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle:
            texts = [json.loads(line)["review"] for line in handle]
        pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts}), path)
    return path


def run(name: str, executor: object, params: dict, source: Path, work: Path) -> tuple[Path, float, float]:
    """One `curate run` of ``minhash_dedup``; its stage folder, wall seconds and peak RSS (MB)."""
    folder = work / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    spec = {
        "name": "same_clusters",
        "input": {"path": str(source), "kind": "document"},
        "output": {"dir": str(folder)},
        "executor": executor,
        "stages": [{"use": "minhash_dedup", "params": {"fields": ["text"], **params}}],
    }
    config = work / f"{folder.name}.yaml"
    config.write_text(yaml.safe_dump(spec), encoding="utf-8")
    command = ["/usr/bin/time", "-f", "TIME %e %M", sys.executable, "-m", "curate", "run", str(config), "-q", "--force"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr[-800:]}")
    seconds, kb = done.stderr.strip().splitlines()[-1].split()[1:]
    return folder / "01_minhash_dedup", float(seconds), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/bench/same-clusters"))
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    source = reviews_parquet(work)
    lines = [
        "| run | wall s | peak RSS MB (curate process) | rejected | cluster rows | kept, rejected, clusters equal |",
        "|---|---:|---:|---:|---:|---|",
    ]
    first: Path | None = None
    for name, (executor, params) in RUNS.items():
        stage, seconds, mb = run(name, executor, params, source, work)
        tables = {f: pq.read_table(stage / f) for f in COMPARED}
        same = (
            "(compared with this)"
            if first is None
            else str(all(tables[f].equals(pq.read_table(first / f)) for f in COMPARED))
        )
        first = first or stage
        lines.append(
            f"| {name} | {seconds:.1f} | {mb:,.0f} | {tables['rejected.parquet'].num_rows:,} | "
            f"{tables['clusters.parquet'].num_rows:,} | {same} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
