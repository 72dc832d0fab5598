"""Greedy clustering against connected components for `minhash_dedup`, on labelled and real data.

    .venv/bin/python benchmarks/dedup_clustering.py [--thresholds 0.8,0.7,0.6] [--nsmc-rows N]

Prints Markdown tables (the BENCHMARKS.md section "Near-duplicate clustering"):

- the constructed set of ``benchmarks/ground_truth.py`` (NSMC reviews and XQuAD paragraphs with
  seeded edits, known clusters): pairwise and removal precision / recall / F1;
- two labelled pair sets from ``../shared/data``: KorSTS (Korean, every split; a pair is a duplicate
  when its similarity score is at least 4 of 5) and MRPC (English, train and test; a duplicate when
  labelled a paraphrase). Every distinct sentence is one row; the scores count only the labelled
  pairs (two sentences that are never paired have no truth) of distinct sentences;
- the 712,404 NSMC reviews (no labels): rows removed, and removed rows whose true character 5-gram
  Jaccard similarity to the row they are said to duplicate is below the threshold (rows a cluster
  chained in), the largest cluster, and the wall time of the stage in this process.

Every run uses the same shingles (character 5-grams), MinHash (128 permutations), LSH bands and
true-Jaccard verification; only the clustering (``greedy`` or ``components``) and the keep order
(``first``: row order; ``central``: the row sharing LSH bands with the most rows first) differ.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ground_truth

from curate.dataset import Dataset
from curate.stages import MinHashDedup

DATA = ground_truth.DATA
MODES = (("components", "first"), ("components", "central"), ("greedy", "first"), ("greedy", "central"))
"""(clustering, keep) pairs compared."""
NGRAM = 5


@dataclass
class Run:
    kept: set[str]
    clusters: dict[str, str]  # every id -> its cluster label (its own id when alone)
    removed: list[tuple[str, str]]  # (removed id, the id it duplicates)
    largest: int
    seconds: float


def dedup(ids: list[str], texts: list[str], mode: tuple[str, str], threshold: float) -> Run:
    data = Dataset.from_arrow(pa.table({"id": ids, "text": texts}), "document")
    started = time.perf_counter()
    result = MinHashDedup(clustering=mode[0], keep=mode[1], threshold=threshold)(data)
    seconds = time.perf_counter() - started
    kept = set(result.kept.to_arrow().column("id").to_pylist())
    table = result.artifacts["clusters"]
    members = zip(table.column("id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True)
    labels = {key: f"c{cluster}" for key, cluster in members}
    rejected = result.rejected.to_arrow()
    removed = list(zip(rejected.column("id").to_pylist(), rejected.column("duplicate_of").to_pylist(), strict=True))
    sizes = np.bincount(np.asarray(table.column("cluster_id"), np.int64)) if table.num_rows else np.zeros(1, int)
    return Run(kept, {key: labels.get(key, key) for key in ids}, removed, int(sizes.max()), seconds)


def runs(ids: list[str], texts: list[str], thresholds: list[float]) -> Iterator[tuple[str, Run]]:
    """``(threshold | clustering, keep, run)`` for every threshold and mode."""
    for threshold in thresholds:
        for mode in MODES:
            yield f"{threshold} | {mode[0]}, keep {mode[1]}", dedup(ids, texts, mode, threshold)


def fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


# ----------------------------------------------------------------------------------------------
# labelled pairs


@dataclass
class PairSet:
    name: str
    ids: list[str]
    texts: list[str]
    pairs: list[tuple[str, str, bool]]  # (id, id, is a duplicate)


def _pair_set(name: str, rows: Iterable[tuple[str, str, bool]]) -> PairSet:
    index: dict[str, str] = {}
    pairs = []
    for a, b, duplicate in rows:
        ka = index.setdefault(a, f"s{len(index)}")
        kb = index.setdefault(b, f"s{len(index)}")
        if ka != kb:
            pairs.append((ka, kb, duplicate))
    return PairSet(name, list(index.values()), list(index), pairs)


def korsts() -> PairSet:
    rows = []
    for split in ("train", "dev", "test"):
        with (DATA / "korsts" / "KorSTS" / f"sts-{split}.tsv").open(encoding="utf-8") as handle:
            for line in list(handle)[1:]:
                parts = line.rstrip("\n").split("\t")
                rows.append((parts[5], parts[6], float(parts[4]) >= 4.0))
    return _pair_set("KorSTS (score >= 4 is a duplicate)", rows)


def mrpc() -> PairSet:
    rows = []
    for split in ("train", "test"):
        with (DATA / "mrpc" / f"msr_paraphrase_{split}.txt").open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quotechar='"')
            next(reader)
            for label, _, _, first, second in reader:
                # the test file's quoted sentences had their commas turned into tabs: turn them back
                rows.append((first.replace("\t", ","), second.replace("\t", ","), label == "1"))
    return _pair_set("MRPC (paraphrase is a duplicate)", rows)


def pair_scores(pairs: PairSet, run: Run) -> dict[str, float]:
    tp = sum(1 for a, b, dup in pairs.pairs if dup and run.clusters[a] == run.clusters[b])
    predicted = sum(1 for a, b, _ in pairs.pairs if run.clusters[a] == run.clusters[b])
    true = sum(1 for _, _, dup in pairs.pairs if dup)
    precision = tp / predicted if predicted else float("nan")
    recall = tp / true if true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "predicted": predicted, "true": true}


# ----------------------------------------------------------------------------------------------
# tables


def constructed_table(thresholds: list[float]) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="curate-clustering-") as tmp:
        summary = ground_truth.build(Path(tmp))
        rows = ground_truth.read_truth(Path(tmp) / "truth.jsonl")
        with (Path(tmp) / "input.jsonl").open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
    truth = {row["id"]: row["cluster"] for row in rows}
    ids, texts = [r["id"] for r in records], [r["text"] for r in records]
    out = [
        f"Constructed set (`benchmarks/ground_truth.py`, seed {ground_truth.SEED}): {summary['rows']:,} rows, "
        f"{summary['clusters_with_copies']:,} clusters with copies, {summary['true_pairs']:,} true pairs.",
        "",
        "| threshold | clustering, keep | pairwise P | pairwise R | pairwise F1 | removal P | removal R | removal F1 | "
        "rows kept | largest cluster | seconds |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs(ids, texts, thresholds):
        pair = ground_truth.pairwise_scores(truth, run.clusters)
        removal = ground_truth.removal_scores(truth, run.kept)
        out.append(
            f"| {name} | {fmt(pair['precision'])} | {fmt(pair['recall'])} | {fmt(pair['f1'])} | "
            f"{fmt(removal['precision'])} | {fmt(removal['recall'])} | {fmt(removal['f1'])} | "
            f"{len(run.kept):,} | {run.largest:,} | {run.seconds:.1f} |"
        )
    return out


def pairs_table(sets: list[PairSet], thresholds: list[float]) -> list[str]:
    out = [
        "| data | threshold | clustering, keep | labelled pairs clustered | P | R | F1 | rows removed | "
        "largest cluster |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for pairs in sets:
        for name, run in runs(pairs.ids, pairs.texts, thresholds):
            s = pair_scores(pairs, run)
            out.append(
                f"| {pairs.name}: {len(pairs.ids):,} sentences, {len(pairs.pairs):,} pairs, {s['true']:,} "
                f"duplicates | {name} | {s['predicted']:,} | {fmt(s['precision'])} | {fmt(s['recall'])} | "
                f"{fmt(s['f1'])} | {len(pairs.ids) - len(run.kept):,} | {run.largest:,} |"
            )
    return out


def nsmc_table(rows: int, thresholds: list[float]) -> list[str]:
    ids, texts = [], []
    with gzip.open(DATA / "nsmc" / "reviews.jsonl.gz", "rt", encoding="utf-8") as handle:
        for n, line in enumerate(handle):
            if rows and n >= rows:
                break
            record = json.loads(line)
            ids.append(str(record["review_id"]))
            texts.append(record["review"])
    text_of = dict(zip(ids, texts, strict=True))
    out = [
        f"NSMC reviews: {len(ids):,} rows (no labels). Chained: removed rows whose true character "
        f"{NGRAM}-gram Jaccard similarity to the row they are said to duplicate is below the threshold.",
        "",
        "| threshold | clustering, keep | rows removed | chained (below the threshold) | lowest similarity | "
        "largest cluster | seconds (stage, in process) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs(ids, texts, thresholds):
        threshold = float(name.split(" | ")[0])
        similarity = [_jaccard(text_of[row], text_of[other]) for row, other in run.removed]
        chained = sum(1 for s in similarity if s < threshold)
        lowest = min(similarity) if similarity else float("nan")
        out.append(
            f"| {name} | {len(run.removed):,} | {chained:,} | {fmt(lowest)} | {run.largest:,} | {run.seconds:.1f} |"
        )
    return out


def _jaccard(a: str, b: str) -> float:
    x, y = ground_truth.char_shingles(a, NGRAM), ground_truth.char_shingles(b, NGRAM)
    return len(x & y) / len(x | y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--thresholds", default="0.8,0.7,0.6", help="comma-separated Jaccard thresholds")
    parser.add_argument("--nsmc-rows", type=int, default=0, help="first N NSMC reviews (0 = all 712,404)")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"needs {DATA} (the shared data folder beside the checkout)")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    load = os.getloadavg()
    lines = [
        "# Near-duplicate clustering: greedy against connected components",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; load average at the start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).",
        "",
        "## Constructed set with known clusters",
        "",
        *constructed_table(thresholds),
        "",
        "## Labelled pairs",
        "",
        *pairs_table([korsts(), mrpc()], thresholds),
        "",
        "## NSMC reviews",
        "",
        *nsmc_table(args.nsmc_rows, thresholds),
    ]
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
