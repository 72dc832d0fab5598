"""Time and memory of the ``bias_report`` stage, and the tokenizer comparison behind its default.

    .venv/bin/python benchmarks/bias.py [--data DIR] [--rows N] [--morph-rows N]

``--data`` is the real-data folder (default ``../shared/data`` beside the checkout). Each case runs
in a fresh subprocess, so its peak RSS is its own:

- the stage (``execute`` with kept rows streamed to Parquet, as in a pipeline) on the 712,404 NSMC
  reviews with the rating (1-10) as the label, read from Parquet; ``--rows`` takes the first N;
- the stage on the NSMC binary sample (50,000 reviews) with each tokenizer (``morph`` on the first
  ``--morph-rows``, default all), with the best one-token rule and the first shortcut tokens;
- the stage on XQuAD-en (MRC) and on XQuAD-en turned into a retrieval set.

Prints Markdown tables and the load average (the machine is shared: seconds vary with it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

RUNNER = """
import json, resource, sys, time
import curate
from curate.bias import Diagnostics
from curate.dataset import Dataset
from curate.stages import BiasReport
args = json.loads(sys.argv[1])
kind, path, params, out = args["kind"], args["path"], args["params"], args["out"]
if kind == "qrels":
    from curate.retrieval.build import mrc_to_retrieval
    parts = mrc_to_retrieval(curate.read(path).to_arrow())
    folder = out + "/retrieval"
    curate.write_bundle({k: Dataset(kind=k, table=t) for k, t in parts.items()}, folder, format="parquet")
    params = {**params, "corpus": folder}
    dataset = curate.read(folder, format="parquet", kind="qrels")
else:
    dataset = Dataset.from_parquet(path, kind) if path.endswith(".parquet") else curate.read(path, kind=kind)
stage = BiasReport(params)
t0 = time.perf_counter()
kept, rejected, stats = stage.execute(dataset, out_dir=__import__("pathlib").Path(out))
seconds = time.perf_counter() - t0
diagnosis = Diagnostics.from_artifacts(stage.artifacts())
found = {(r["section"], r["metric"]): (r["value"], r["detail"]) for r in diagnosis.metrics.to_pylist()}
labels = sorted({r["label"] for r in diagnosis.tokens.to_pylist()})
print(json.dumps({
    "rows": stats.rows_in,
    "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "metrics": {f"{s}/{m}": v for (s, m), v in found.items()},
    "shortcuts": {label: diagnosis.shortcuts(label)[:8] for label in labels},
}, ensure_ascii=False))
"""


def run(kind: str, path: Path, params: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        arg = json.dumps({"kind": kind, "path": str(path), "params": params, "out": out})
        done = subprocess.run([sys.executable, "-c", RUNNER, arg], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(done.stderr)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def nsmc_parquet(data: Path, folder: Path, rows: int | None) -> Path:
    """The 712k reviews (rating as label) as Parquet, as a pipeline's input folder holds them."""
    import curate

    dataset = curate.read(
        data / "nsmc" / "reviews.jsonl.gz",
        kind="classification",
        rename={"review": "text", "review_id": "id", "rating": "label"},
    )
    table = dataset.to_arrow()
    path = folder / "nsmc.parquet"
    curate.write(curate.Dataset.from_arrow(table.slice(0, rows) if rows else table, "classification"), path)
    return path


def sample_parquet(data: Path, folder: Path, rows: int | None) -> Path:
    import curate

    table = curate.read(
        data / "nsmc" / "binary_sample50k.tsv", kind="classification", rename={"document": "text"}
    ).to_arrow()
    path = folder / f"sample{rows or ''}.parquet"
    curate.write(curate.Dataset.from_arrow(table.slice(0, rows) if rows else table, "classification"), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=None, help="first N of the 712k reviews")
    parser.add_argument("--morph-rows", type=int, default=None, help="first N of the sample for morph")
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average before: {os.getloadavg()[0]:.1f}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [
            (
                "NSMC reviews, rating as label (char 1-3)",
                "classification",
                nsmc_parquet(args.data, folder, args.rows),
                {},
            )
        ]
        sample = sample_parquet(args.data, folder, None)
        morph = sample_parquet(args.data, folder, args.morph_rows) if args.morph_rows else sample
        tokenizers = [
            ("char", sample, {}),
            ("eojeol", sample, {"tokenizer": "eojeol"}),
            ("morph", morph, {"tokenizer": "morph"}),
        ]
        cases += [(f"NSMC binary sample ({name})", "classification", path, p) for name, path, p in tokenizers]
        xquad = args.data / "xquad" / "xquad.en.json"
        cases += [("XQuAD-en (mrc)", "mrc", xquad, {}), ("XQuAD-en as retrieval (qrels)", "qrels", xquad, {})]
        results = [(name, run(kind, path, params)) for name, kind, path, params in cases]
    print("| case | rows | seconds | rows/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results:
        rows, seconds = int(r["rows"]), float(r["seconds"])
        print(f"| {name} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {float(r['rss_mb']):,.0f} |")
    print("\nTokenizers on the NSMC binary sample (best one-token rule; first shortcut tokens per label)\n")
    print("| tokenizer | rows | seconds | rule | accuracy | label 0 | label 1 |")
    print("|---|---:|---:|---|---:|---|---|")
    for name, r in results:
        if not name.startswith("NSMC binary"):
            continue
        metrics, shortcuts = r["metrics"], r["shortcuts"]
        accuracy, rule = metrics["one_token_rule/accuracy"]
        print(
            f"| {name.split('(')[1].rstrip(')')} | {int(r['rows']):,} | {float(r['seconds']):.1f} | {rule} | "
            f"{100 * accuracy:.1f}% | {' '.join(shortcuts.get('0', []))} | {' '.join(shortcuts.get('1', []))} |"
        )
    print("\nNSMC reviews, rating as label: first shortcut tokens per rating\n")
    ratings = dict(results)["NSMC reviews, rating as label (char 1-3)"]["shortcuts"]
    for label in sorted(ratings, key=int):
        print(f"- {label}: {' '.join(ratings[label])}")


if __name__ == "__main__":
    main()
