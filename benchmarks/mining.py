"""Hard-negative mining: throughput and how often each false-negative guard fires.

    .venv/bin/python benchmarks/mining.py [--nsmc-corpus N] [--nsmc-queries Q] [--count K]

Sets (each mined in its own subprocess, so peak RSS is its own):
- XQuAD en / zh / all 12 languages: the paragraphs are the corpus, the questions the queries, each
  question's own paragraph its positive and its answers the answer strings.
- NSMC: the first N reviews are the corpus (NSMC repeats and near-repeats many reviews); Q reviews
  of at least 8 eojeol, drawn with a fixed seed, each give a query made of 3 consecutive eojeol
  from the middle of the review, whose positive is that review and whose "answer" is the 3-eojeol
  span itself. A plain BM25 miner would hand back the other copies of the review as negatives.

Columns: ``search q/s`` counts only ranking plus guards; ``total s`` adds tokenizing, the BM25
index and the near-duplicate clusters. ``dropped`` counts candidates each guard removed, out of the
candidates examined in the rank window (a plain top-k miner would have returned them). Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from curate.retrieval.negatives import GUARDS

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
XQUAD = SHARED / "xquad"
REVIEWS = SHARED / "nsmc" / "reviews.jsonl.gz"
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")

RUNNER = """
import gzip, json, random, resource, sys, time
import pyarrow as pa
import curate
from curate.retrieval.build import mrc_to_retrieval
from curate.retrieval.negatives import MiningSettings, mine_negatives

spec = json.loads(sys.argv[1])
settings = MiningSettings(count=spec["count"], tokenizer=spec["tokenizer"], margin=spec.get("margin"))
if spec["set"] == "nsmc":
    texts = []
    with gzip.open(spec["path"], "rt", encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["review"] or "")
            if len(texts) >= spec["corpus"]:
                break
    corpus = pa.table({"doc_id": [str(i) for i in range(len(texts))], "text": texts})
    rng = random.Random(13)
    long = [i for i, t in enumerate(texts) if len(t.split()) >= 8]
    picked = rng.sample(long, min(spec["queries"], len(long)))
    queries, positives, answers = [], [], []
    for i in picked:
        words = texts[i].split()
        middle = len(words) // 2 - 1
        span = " ".join(words[middle : middle + 3])
        queries.append(span)
        positives.append([str(i)])
        answers.append([span])
else:
    tables = []
    for path in spec["paths"]:  # XQuAD ids repeat across languages: prefix each with its file
        t = curate.read(path).to_arrow().select(["id", "title", "context", "question", "answers"])
        ids = pa.array([f"{path}#{i}" for i in t.column("id").to_pylist()])
        tables.append(t.set_column(0, "id", ids))
    mrc = pa.concat_tables(tables)
    parts = mrc_to_retrieval(mrc)
    corpus = parts["corpus"]
    qrels = dict(zip(parts["qrels"].column("query_id").to_pylist(), parts["qrels"].column("doc_id").to_pylist()))
    ids = parts["queries"].column("query_id").to_pylist()
    queries = parts["queries"].column("text").to_pylist()
    positives = [[qrels[q]] if q in qrels else [] for q in ids]
    answers = parts["queries"].column("answers").to_pylist()
t0 = time.perf_counter()
mined = mine_negatives(corpus, queries, positives, answers, settings)
total = time.perf_counter() - t0
print(json.dumps({
    "corpus": corpus.num_rows, "queries": len(queries), "total": total, "qps": mined.queries_per_second,
    "negatives": sum(len(n) for n in mined.negatives), "candidates": mined.candidates, "guards": mined.guards,
    "short": mined.short, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run(spec: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(spec)], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsmc-corpus", type=int, default=100_000, help="reviews in the NSMC corpus")
    parser.add_argument("--nsmc-queries", type=int, default=5_000, help="queries drawn from the NSMC reviews")
    parser.add_argument("--count", type=int, default=5, help="negatives per query")
    args = parser.parse_args()
    for path in (XQUAD, REVIEWS):
        if not path.exists():
            raise SystemExit(f"needs {path}")
    xquad = {lang: str(XQUAD / f"xquad.{lang}.json") for lang in LANGUAGES}
    cases = [
        ("XQuAD en", "bigram", None, {"set": "xquad", "paths": [xquad["en"]]}),
        ("XQuAD en", "word", None, {"set": "xquad", "paths": [xquad["en"]]}),
        ("XQuAD en", "bigram", 0.95, {"set": "xquad", "paths": [xquad["en"]]}),
        ("XQuAD zh", "bigram", None, {"set": "xquad", "paths": [xquad["zh"]]}),
        ("XQuAD, 12 languages", "bigram", None, {"set": "xquad", "paths": list(xquad.values())}),
        (
            f"NSMC {args.nsmc_corpus:,} reviews",
            "bigram",
            None,
            {"set": "nsmc", "path": str(REVIEWS), "corpus": args.nsmc_corpus, "queries": args.nsmc_queries},
        ),
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{machine}; {args.count} negatives a query")
    print()
    print(
        "| corpus | tokens | margin | passages | queries | total s | search q/s | negatives | short queries "
        "| dropped: positive | near-duplicate | answer | answer variant | same question | margin | peak RSS (MB) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, tokenizer, margin, spec in cases:
        m = run({**spec, "count": args.count, "tokenizer": tokenizer, "margin": margin})
        examined = max(m["candidates"], 1)
        cells = [f"{m['guards'][g]:,} ({m['guards'][g] / examined:.1%})" for g in GUARDS]
        print(
            f"| {name} | {tokenizer} | {margin or '-'} | {m['corpus']:,} | {m['queries']:,} | {m['total']:.1f} "
            f"| {m['qps']:,.0f} | {m['negatives']:,} | {m['short']:,} | "
            + " | ".join(cells)
            + f" | {m['rss_mb']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
