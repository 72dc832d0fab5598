"""Shared parts of the two plain MinHash baselines (``datasketch_minhash.py``, ``rensa_minhash.py``).

Input: JSON Lines with ``id`` and ``text``. Output: a TSV ``id<TAB>kept<TAB>duplicate_of`` in input
order, where ``duplicate_of`` is the id of the kept row a removed row matched (empty for kept rows).

Shingles: NFC, lowercase, whitespace runs folded to one space, trimmed; then character n-grams. A
text shorter than n characters is one whole shingle (the empty text included), so short texts are
still compared.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("src", type=Path, help="JSON Lines with id and text")
    parser.add_argument("out", type=Path, help="result TSV: id, kept (1/0), duplicate_of")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bands", type=int, default=0, help="LSH bands (0 = the library's own choice)")
    return parser.parse_args()


def read_rows(path: Path) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            ids.append(str(row["id"]))
            texts.append(row.get("text") or "")
    return ids, texts


def fold(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.lower().split())


def char_shingles(text: str, n: int) -> set[str]:
    folded = fold(text)
    if len(folded) <= n:
        return {folded}
    return {folded[i : i + n] for i in range(len(folded) - n + 1)}


def write_result(path: Path, ids: list[str], duplicate_of: list[int | None]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for key, match in zip(ids, duplicate_of, strict=True):
            if match is None:
                out.write(f"{key}\t1\t\n")
            else:
                out.write(f"{key}\t0\t{ids[match]}\n")


def first_match(candidates: Iterator[int] | list[int], similarity, threshold: float) -> int | None:
    """The lowest candidate row whose estimated Jaccard similarity reaches ``threshold``."""
    best = None
    for key in candidates:
        if (best is None or key < best) and similarity(key) >= threshold:
            best = key
    return best
