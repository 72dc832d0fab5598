"""How `curate dedup` grows with rows and with text length (the cost model in BENCHMARKS.md).

    .venv/bin/python benchmarks/dedup_scaling.py

Rows: the first N of the 712,404 NSMC reviews (about 35 characters each). Length: XQuAD contexts
(about 700 characters each, 12 languages, 2,880 passages) repeated with one character changed per
copy, to reach a given number of characters. Each run is a fresh `curate dedup` process; wall time
and peak RSS are measured by /usr/bin/time.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
CURATE = [sys.executable, "-m", "curate"]


def timed(args: list[str]) -> tuple[float, float, str]:
    result = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *args], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    match = re.search(r"TIME ([\d.]+) (\d+)", result.stderr)
    assert match
    return float(match.group(1)), int(match.group(2)) / 1024, result.stdout


def write_jsonl(path: Path, texts: list[str]) -> int:
    with path.open("w", encoding="utf-8") as out:
        for i, text in enumerate(texts):
            out.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
    return sum(map(len, texts))


def main() -> None:
    with gzip.open(DATA / "nsmc" / "reviews.jsonl.gz", "rt", encoding="utf-8") as handle:
        reviews = [json.loads(line)["review"] for line in handle]
    contexts = []
    for file in sorted((DATA / "xquad").glob("xquad.*.json")):
        for article in json.loads(file.read_text(encoding="utf-8"))["data"]:
            contexts += [p["context"] for p in article["paragraphs"]]
    rng = random.Random(0)
    print("| input | rows | characters | seconds | peak RSS (MB) | µs per 1,000 chars |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(f"NSMC first {n:,}", reviews[:n]) for n in (100_000, 200_000, 400_000, 712_404)]
        for copies in (10, 40):
            texts = []
            for _ in range(copies):
                for context in contexts:
                    i = rng.randrange(len(context))
                    texts.append(context[:i] + "#" + context[i + 1 :])
            cases.append((f"XQuAD contexts x{copies}, 1 char edited", texts))
        for name, texts in cases:
            src = Path(tmp) / "in.jsonl"
            chars = write_jsonl(src, texts)
            seconds, rss, _ = timed([*CURATE, "dedup", str(src), str(Path(tmp) / "out.parquet"), "--field", "text"])
            per_k = seconds / chars * 1e9
            print(f"| {name} | {len(texts):,} | {chars:,} | {seconds:.1f} | {rss:,.0f} | {per_k:,.0f} |")


if __name__ == "__main__":
    main()
