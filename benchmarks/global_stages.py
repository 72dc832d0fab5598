"""Global stages whose plan runs as tasks (label_issues folds, mine_hard_negatives query ranges,
decontaminate row ranges): wall time and peak memory, in this process and on local processes.

    .venv/bin/python benchmarks/global_stages.py [--workers 2]

Each (stage, executor) runs in a fresh process; it prints the stage's wall time (planning and
splitting, starting the workers included), the peak RSS of that process and of its largest worker
(asked of the workers after the run), and whether the kept rows' Parquet file is byte for byte the
local run's. Data: the first 20,000 rows of NSMC's binary sample (label_issues), SQuAD 2.0's
first 10 articles (mining: 4,719 questions), and the 12 XQuAD languages (14,280 questions)
checked against XQuAD English (decontaminate).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
STAGES = ("label_issues", "mine_hard_negatives", "decontaminate")


def _peak_mb(_: int) -> int:
    """A task: the peak RSS of the worker running it, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_one(stage: str, executor: str, workers: int, folder: Path) -> dict[str, object]:
    import pyarrow as pa

    from curate import io
    from curate.dataset import Dataset
    from curate.executors import ExecutorSettings, make_executor
    from curate.stages.decontaminate import Decontaminate
    from curate.stages.label_issues import LabelIssues
    from curate.stages.mine_hard_negatives import MineHardNegatives

    if stage == "label_issues":
        nsmc = io.read(DATA / "nsmc" / "binary_sample50k.tsv", kind="classification", rename={"document": "text"})
        data = Dataset.from_arrow(nsmc.to_arrow().slice(0, 20_000), "classification")
        made = LabelIssues()
    elif stage == "mine_hard_negatives":
        data = io.read(DATA / "squad2" / "train-v2.0-first10.json")
        made = MineHardNegatives()
    else:
        tables = [io.read(path).to_arrow() for path in sorted((DATA / "xquad").glob("xquad.*.json"))]
        data = Dataset.from_arrow(pa.concat_tables(tables), "mrc")
        made = Decontaminate(eval_path=str(DATA / "xquad" / "xquad.en.json"))
    with make_executor(ExecutorSettings(name=executor, workers=workers if executor != "local" else None)) as ex:
        started = time.perf_counter()
        kept, _, stats = made.execute(data, out_dir=folder, executor=ex)
        seconds = time.perf_counter() - started
        worker_mb = max(ex.map(_peak_mb, range(ex.workers * 4))) if executor != "local" else 0
    digest = hashlib.sha256(Path(str(kept)).read_bytes()).hexdigest()[:12]
    return {
        "rows": stats.rows_in,
        "seconds": round(seconds, 2),
        "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "worker_mb": worker_mb,
        "kept": digest,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(run_one(args.one[0], args.one[1], args.workers, Path(folder))))
        return
    print("| stage | rows | executor | seconds | driver peak MB | largest worker peak MB | kept as local |")
    print("|---|---|---|---|---|---|---|")
    for stage in STAGES:
        local = None
        for executor in ("local", "processes"):
            command = [sys.executable, __file__, "--one", stage, executor, "--workers", str(args.workers)]
            out = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
            found = json.loads(out.stdout.strip().splitlines()[-1])
            local = local or found["kept"]
            name = executor if executor == "local" else f"processes ({args.workers})"
            print(
                f"| {stage} | {found['rows']:,} | {name} | {found['seconds']} | {found['driver_mb']} | "
                f"{found['worker_mb'] if executor != 'local' else '-'} | {found['kept'] == local} |"
            )


if __name__ == "__main__":
    main()
