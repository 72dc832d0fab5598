"""A deterministic Korean corpus of any size with known near-duplicates, written as Parquet shards.

    .venv/bin/python benchmarks/scale_corpus.py OUT_DIR [--rows 10000000] [--copy-rate 0.3]
        [--shard-rows 500000] [--seed 13]

Built from the 712,404 NSMC reviews (``../shared/data/nsmc/reviews.jsonl.gz``). Original ``j`` is
review ``j`` while there are reviews, after that two reviews (chosen by a seeded hash of ``j``)
joined by a space, so every original can be made again from its number alone and the generator
holds only the reviews, never the corpus. Each row is an original (in order) or, with probability
``copy_rate``, an edited copy of an original written before it, edited as in
``benchmarks/ground_truth.py`` (``exact``, ``char2``, ``char5``, ``word_del``, ``space_punct``).

Writes ``OUT_DIR/corpus/part-NNNNN.parquet`` (``id``, ``text``) and ``OUT_DIR/truth/part-NNNNN.parquet``
(``id``, ``original`` (the id of the original a copy was made from, the row's own id for an
original), ``edit`` (``original`` or the edit kind)), and prints the counts. Originals are not
checked against each other: NSMC itself has repeated reviews, which a dedup rightly removes too.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ground_truth import REVIEWS, Editor, pools

EDITS = ("exact", "char2", "char5", "word_del", "space_punct")


def read_reviews() -> list[str]:
    """The NSMC reviews that have text, in file order."""
    with gzip.open(REVIEWS, "rt", encoding="utf-8") as lines:
        return [text for text in (json.loads(line)["review"] for line in lines) if text and text.strip()]


def original(j: int, reviews: list[str]) -> str:
    """Original number ``j``: a review, or past the reviews two of them joined (seeded by ``j``)."""
    if j < len(reviews):
        return reviews[j]
    digest = hashlib.blake2b(j.to_bytes(8, "little"), digest_size=16).digest()
    a = int.from_bytes(digest[:8], "little") % len(reviews)
    b = int.from_bytes(digest[8:], "little") % len(reviews)
    return f"{reviews[a]} {reviews[b]}"


def build(out: Path, *, rows: int, copy_rate: float, shard_rows: int, seed: int) -> dict[str, int]:
    """Write the corpus and its truth under ``out``; returns counts per edit."""
    reviews = read_reviews()
    rng = random.Random(seed)
    chars, words = pools(reviews[:100_000], random.Random(seed))
    editor = Editor(rng, {"nsmc": chars}, {"nsmc": words})
    for name in ("corpus", "truth"):
        (out / name).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(("original", *EDITS), 0)
    originals = 0
    for shard, start in enumerate(range(0, rows, shard_rows)):
        ids, texts, sources, edits = [], [], [], []
        for i in range(start, min(start + shard_rows, rows)):
            ids.append(f"r{i:09d}")
            if originals and rng.random() < copy_rate:
                j = rng.randrange(originals)
                kind = rng.choice(EDITS)
                text = editor.apply(kind, original(j, reviews), "nsmc")
                if text is None:
                    kind, text = "exact", original(j, reviews)
                texts.append(text)
                sources.append(f"o{j:09d}")
                edits.append(kind)
            else:
                texts.append(original(originals, reviews))
                sources.append(f"o{originals:09d}")
                edits.append("original")
                originals += 1
            counts[edits[-1]] += 1
        _write(out / "corpus" / f"part-{shard:05d}.parquet", {"id": ids, "text": texts})
        _write(out / "truth" / f"part-{shard:05d}.parquet", {"id": ids, "original": sources, "edit": edits})
    return counts


def _write(path: Path, columns: dict[str, list[str]]) -> None:
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), path, compression="zstd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--copy-rate", type=float, default=0.3)
    parser.add_argument("--shard-rows", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = build(args.out, rows=args.rows, copy_rate=args.copy_rate, shard_rows=args.shard_rows, seed=args.seed)
    print(f"wrote {args.rows:,} rows to {args.out} in {time.perf_counter() - started:.0f} s")
    for edit, count in counts.items():
        print(f"  {edit:12} {count:>12,}")


if __name__ == "__main__":
    main()
