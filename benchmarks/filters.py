"""Filter throughput on the 712k NSMC reviews: every scorer/filter stage alone, then all of them in
one streamed pipeline run; datatrove's Gopher, C4 and FineWeb filters (language ``ko``, its Kiwi
word tokenizer) on the first ``--peer-rows`` reviews in the same run.

    .venv/bin/python benchmarks/filters.py [--rows N] [--peer-rows N] [--stages NAME ...]

Each measurement runs in its own subprocess; ``seconds`` is the stage's own time (the reviews are
read from Parquet before the clock starts), peak RSS is the subprocess's. The quality classifier is
trained first on the Korean hate-speech comments (good = label ``none``). The datatrove environment
is the one ``benchmarks/dedup.py`` makes (``benchmarks/.venvs/datatrove``). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from dedup import ensure_env

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
REVIEWS = SHARED / "nsmc" / "reviews.jsonl.gz"
HATE = SHARED / "korean_hate_speech" / "labeled" / "train.tsv"

STAGES = {
    "language_id": {},
    "language_filter": {"languages": ["ko"]},
    "gopher_quality": {},
    "gopher_repetition": {},
    "c4_quality": {},
    "fineweb_quality": {},
    "korean_quality": {},
    "pii": {},
    "quality_classifier": {"model": "MODEL"},
}

CURATE_RUNNER = """
import json, resource, sys, time
import curate
from curate.stages import get_stage_class
parquet, limit, name, params = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
dataset = curate.read(parquet, kind="classification")
if limit:
    dataset = curate.Dataset(kind="classification", table=dataset.to_arrow().slice(0, limit))
stage = get_stage_class(name)(params)
t0 = time.perf_counter()
kept, rejected, stats = stage.execute(dataset)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": stats.rows_in, "kept": stats.rows_kept, "seconds": seconds, "rss_mb": rss,
                  "reasons": stats.reasons}))
"""

PIPELINE_RUNNER = """
import json, resource, sys, time
from curate.pipeline import run_pipeline
config = json.loads(sys.argv[1])
t0 = time.perf_counter()
result = run_pipeline(config)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rows = result.stages[0].stats.rows_in
print(json.dumps({"rows": rows, "kept": result.output.num_rows, "seconds": seconds, "rss_mb": rss}))
"""

DATATROVE_RUNNER = """
import json, resource, sys, time
from datatrove.data import Document
from datatrove.pipeline import filters
jsonl, name = sys.argv[1], sys.argv[2]
with open(jsonl, encoding="utf-8") as handle:
    docs = [Document(text=r["text"] or "", id=r["id"]) for r in map(json.loads, handle)]
step = getattr(filters, name)(language="ko")
step.filter(docs[0])  # loads the word tokenizer before the clock starts
t0 = time.perf_counter()
kept = 0
for doc in docs:
    verdict = step.filter(doc)
    kept += bool(verdict if isinstance(verdict, bool) else verdict[0])
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": len(docs), "kept": kept, "seconds": seconds, "rss_mb": rss}))
"""

DATATROVE_FILTERS = {
    "gopher_quality": "GopherQualityFilter",
    "gopher_repetition": "GopherRepetitionFilter",
    "c4_quality": "C4QualityFilter",
    "fineweb_quality": "FineWebQualityFilter",
}


def run_json(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def reviews_parquet(work: Path, rows: int = 0) -> tuple[Path, Path]:
    """The NSMC reviews (the first ``rows``, 0 = all) as ``(JSON Lines source, classification Parquet)``
    in ``work``: ``review`` -> ``text``, ``review_id`` -> ``id``, ``rating`` -> ``label``."""
    src = REVIEWS
    if rows:
        src = work / "reviews.jsonl"
        with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle, src.open("w", encoding="utf-8") as out:
            for i, line in enumerate(handle):
                if i >= rows:
                    break
                out.write(line)
    parquet = work / "reviews.parquet"
    prepare = [sys.executable, "-m", "curate", "convert", str(src), str(parquet), "--kind", "classification"]
    prepare += ["--rename", "review=text", "--rename", "review_id=id", "--rename", "rating=label"]
    subprocess.run(prepare, check=True, capture_output=True, cwd=REPO)
    return src, parquet


def train_model(path: Path) -> str:
    from curate.quality.classifier import train_quality

    with HATE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    report = train_quality(
        [r["comments"] for r in rows], ["good" if r["hate"] == "none" else "bad" for r in rows], path
    )
    return f"held-out accuracy {report.accuracy:.3f}, F1(good) {report.f1:.3f} on {report.held_out} comments"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="use only the first N reviews (0 = all)")
    parser.add_argument("--peer-rows", type=int, default=20_000, help="reviews given to datatrove's filters")
    parser.add_argument("--only-peers", action="store_true", help="skip the full-size curate measurements")
    parser.add_argument(
        "--stages", nargs="+", choices=sorted(STAGES), help="only these curate stages alone (no pipeline run, no peers)"
    )
    args = parser.parse_args()
    for path in (REVIEWS, HATE):
        if not path.exists():
            raise SystemExit(f"needs {path}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, parquet = reviews_parquet(work, args.rows)
        n = pq.read_metadata(parquet).num_rows
        model = work / "quality.bin"
        trained = train_model(model)
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        print(f"NSMC reviews: {n:,} rows; {machine}")
        print(f"quality_classifier model: fastText trained on {HATE.name} of korean_hate_speech ({trained})")
        print()
        print("| system | step | rows | kept | seconds | rows/s | peak RSS (MB) |")
        print("|---|---|---:|---:|---:|---:|---:|")

        def row(system: str, step: str, m: dict) -> None:
            rate = m["rows"] / m["seconds"] if m["seconds"] else float("inf")
            print(
                f"| {system} | {step} | {m['rows']:,} | {m['kept']:,} | {m['seconds']:.2f} | {rate:,.0f} "
                f"| {m['rss_mb']:,.0f} |",
                flush=True,
            )

        stages = []
        chosen = {} if args.only_peers else {k: v for k, v in STAGES.items() if not args.stages or k in args.stages}
        for name, params in chosen.items():
            params = {k: (str(model) if v == "MODEL" else v) for k, v in params.items()}
            m = run_json([sys.executable, "-c", CURATE_RUNNER, str(parquet), "0", name, json.dumps(params)])
            row("curate", name, m)
            stages.append({"use": name, "params": {**params, "filter": False} if name != "language_filter" else params})
        config = {
            "name": "filters",
            "input": {"path": str(src), "kind": "classification",
                      "columns": {"review": "text", "review_id": "id", "rating": "label"}},
            "output": {"dir": str(work / "run")},
            "stages": stages,
        }  # fmt: skip
        if args.stages:
            return
        if stages:
            row("curate", "run: all steps streamed (scores only; language_filter ko rejects)",
                run_json([sys.executable, "-c", PIPELINE_RUNNER, json.dumps(config)]))  # fmt: skip

        peer = ensure_env("datatrove")
        limit = min(args.peer_rows, n)
        subset = work / "peer.jsonl"
        head = pq.read_table(parquet, columns=["id", "text"]).slice(0, limit).to_pylist()
        subset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in head), encoding="utf-8")
        for name, step in DATATROVE_FILTERS.items():
            params = {k: (str(model) if v == "MODEL" else v) for k, v in STAGES[name].items()}
            row(
                f"curate (first {limit:,})",
                name,
                run_json([sys.executable, "-c", CURATE_RUNNER, str(parquet), str(limit), name, json.dumps(params)]),
            )
            if peer.python is None:
                print(f"| datatrove | {step} | not run: {peer.problem} | | | | |")
                continue
            version = peer.versions.get("datatrove", "?")
            row(f"datatrove {version} (first {limit:,})", step,
                run_json([str(peer.python), "-c", DATATROVE_RUNNER, str(subset), step]))  # fmt: skip


if __name__ == "__main__":
    main()
