"""Near-duplicate ground truth built from real text, and the scores that compare a system's output with it.

    .venv/bin/python benchmarks/ground_truth.py OUT_DIR [--seed 13]

Sources (``../shared/data`` beside the checkout):
- NSMC movie reviews, in four length buckets by characters: ``<10``, ``10-29``, ``30-79``, ``80+``.
  Per bucket, 600 *originals* (each gets 1-3 edited copies) and 600 *negatives* (no copy).
- XQuAD paragraphs in English, German and Chinese (240 each: 48 articles x 5 paragraphs, the same
  paragraphs translated). Per language, 120 paragraphs get 1-2 edited copies; the rest are negatives.
  Paragraphs of one article share a topic, and the three languages are translations of each other:
  neither is a duplicate.

Texts of different clusters are kept apart: after dropping everything but letters and digits and
lowercasing, no two are equal and no two have a character-3-gram Jaccard similarity of 0.5 or more
(reviews that would break this are skipped, copies that would are drawn again with the next edit
kind; the XQuAD paragraphs are taken as they are).

Edits (seeded): ``exact`` (identical copy), ``char2`` / ``char5`` / ``char10`` (that share of the
characters substituted, deleted or inserted, at least one), ``word_ins`` / ``word_del`` (5% of the
words, at least one, inserted from other texts of the same source or deleted; Chinese has no spaces,
so its "words" are 2-character pieces), ``trunc90`` (the first 90% of the characters), and
``space_punct`` (spaces doubled, dropped in Korean, or added; punctuation dropped or changed).

Writes ``OUT_DIR/input.jsonl`` (``id``, ``text``: what the systems see, rows shuffled) and
``OUT_DIR/truth.jsonl`` (per row: ``id``, ``cluster``, ``role``, ``source``, ``edit``, ``bucket``,
``article``, ``paragraph``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
REVIEWS = DATA / "nsmc" / "reviews.jsonl.gz"
XQUAD = DATA / "xquad"

SEED = 13
EDIT_KINDS = ("exact", "char2", "char5", "char10", "word_ins", "word_del", "trunc90", "space_punct")
NSMC_BUCKETS = ("<10", "10-29", "30-79", "80+")
PER_BUCKET = 600  # originals per bucket, and as many negatives
XQUAD_LANGS = ("en", "de", "zh")
XQUAD_COPIED = 120  # paragraphs per language that get copies
SIMILAR_TRIGRAMS = 0.5


@dataclass
class Row:
    text: str
    cluster: str
    role: str  # original | copy | negative
    source: str  # nsmc | xquad.en | xquad.de | xquad.zh
    edit: str = ""
    bucket: str = ""
    article: str = ""
    paragraph: str = ""
    id: str = ""


def nsmc_bucket(text: str) -> str:
    n = len(text)
    return "<10" if n < 10 else "10-29" if n < 30 else "30-79" if n < 80 else "80+"


def _key(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFC", text).lower() if ch.isalnum())


def _trigrams(key: str) -> set[str]:
    return {key[i : i + 3] for i in range(len(key) - 2)}


class DistinctSet:
    """Texts of different clusters kept apart: ``add`` refuses a text that equals, or is similar to
    (see the module doc), a text of another cluster."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.grams: list[set[str]] = []
        self.clusters: list[str] = []
        self.postings: dict[str, list[int]] = defaultdict(list)

    def conflicts(self, text: str, cluster: str) -> bool:
        key = _key(text)
        if not key or self.keys.get(key, cluster) != cluster:
            return True
        grams = _trigrams(key)
        shared: Counter[int] = Counter()
        for gram in grams:
            shared.update(self.postings.get(gram, ()))
        for other, inter in shared.items():
            if self.clusters[other] == cluster:
                continue
            if inter / (len(grams) + len(self.grams[other]) - inter) >= SIMILAR_TRIGRAMS:
                return True
        return False

    def add(self, text: str, cluster: str, *, check: bool = True) -> bool:
        if check and self.conflicts(text, cluster):
            return False
        key = _key(text)
        self.keys.setdefault(key, cluster)
        grams = _trigrams(key)
        index = len(self.grams)
        self.grams.append(grams)
        self.clusters.append(cluster)
        for gram in grams:
            self.postings[gram].append(index)
        return True


class Editor:
    """Seeded near-duplicate edits. ``chars`` and ``words`` are per-source pools (frequency weighted)."""

    def __init__(self, rng: random.Random, chars: Mapping[str, list[str]], words: Mapping[str, list[str]]):
        self.rng = rng
        self.chars = chars
        self.words = words

    def apply(self, kind: str, text: str, source: str) -> str | None:
        """The edited text, or None when ``kind`` does not apply to this text."""
        if kind == "exact":
            return text
        if kind.startswith("char"):
            return self._chars(text, source, int(kind[4:]) / 100)
        if kind in ("word_ins", "word_del"):
            return self._words(text, source, insert=kind == "word_ins")
        if kind == "trunc90":
            if len(text) < 2:
                return None
            keep = min(int(len(text) * 0.9), len(text) - 1)
            return text[:keep]
        if kind == "space_punct":
            return self._space_punct(text, source)
        raise ValueError(f"unknown edit kind {kind!r}")

    def _chars(self, text: str, source: str, rate: float) -> str | None:
        chars = list(text)
        if len(chars) < 2:
            return None
        pool = self.chars[source]
        for _ in range(max(1, round(rate * len(text)))):
            op = self.rng.choice(("sub", "del", "ins"))
            letters = [i for i, ch in enumerate(chars) if not ch.isspace()]
            if op == "ins" or not letters or (op == "del" and len(letters) < 2):
                chars.insert(self.rng.randrange(len(chars) + 1), self.rng.choice(pool))
                continue
            at = self.rng.choice(letters)
            if op == "del":
                del chars[at]
            else:
                replacement = self.rng.choice(pool)
                while replacement == chars[at]:
                    replacement = self.rng.choice(pool)
                chars[at] = replacement
        return "".join(chars)

    def _words(self, text: str, source: str, *, insert: bool) -> str | None:
        if source == "xquad.zh":
            pieces = [text[i : i + 2] for i in range(0, len(text), 2)]
            joiner = ""
        else:
            pieces = text.split()
            joiner = " "
        if not insert and len(pieces) < 3:
            return None
        count = max(1, round(0.05 * len(pieces)))
        for _ in range(count):
            if insert:
                pieces.insert(self.rng.randrange(len(pieces) + 1), self.rng.choice(self.words[source]))
            else:
                del pieces[self.rng.randrange(len(pieces))]
        return joiner.join(pieces)

    def _space_punct(self, text: str, source: str) -> str:
        out = []
        for ch in text:
            if ch == " ":
                roll = self.rng.random()
                if roll < 0.25 and source == "nsmc":
                    continue  # Korean spacing is often dropped
                out.append("  " if roll > 0.75 else " ")
            else:
                out.append(ch)
                if source == "nsmc" and ch.isalnum() and self.rng.random() < 0.03:
                    out.append(" ")  # a space inside a word
        edited = "".join(out)
        if self.rng.random() < 0.5:
            edited = "".join(ch for ch in edited if not unicodedata.category(ch).startswith("P"))
        else:
            edited = re.sub(r"[.!?~…]+$", "", edited.rstrip()) + self.rng.choice(("!", "!!", "...", ".", "?", "~"))
        if edited == text:
            edited = text + "!"
        return edited


def pools(texts: Iterable[str], rng: random.Random) -> tuple[list[str], list[str]]:
    chars: list[str] = []
    words: list[str] = []
    for text in texts:
        chars.extend(ch for ch in text if not ch.isspace())
        words.extend(text.split())
    rng.shuffle(chars)
    rng.shuffle(words)
    return chars[:200_000], words[:50_000]


def _zh_pieces(texts: Iterable[str]) -> list[str]:
    pieces = []
    for text in texts:
        pieces.extend(text[i : i + 2] for i in range(0, len(text) - 1, 2))
    return pieces


def read_xquad(lang: str) -> list[tuple[str, str, str]]:
    """(article, paragraph, context) for every paragraph of XQuAD in ``lang``."""
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    out = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            out.append((f"a{a:02d}", f"a{a:02d}p{p}", paragraph["context"]))
    return out


def build(out_dir: Path, *, seed: int = SEED) -> dict:
    """Write the set to ``out_dir`` and return a summary (counts, true pairs)."""
    rng = random.Random(seed)
    with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle:
        reviews = [json.loads(line)["review"].strip() for line in handle]
    xquad = {lang: read_xquad(lang) for lang in XQUAD_LANGS}

    chars: dict[str, list[str]] = {}
    words: dict[str, list[str]] = {}
    chars["nsmc"], words["nsmc"] = pools(rng.sample(reviews, 50_000), rng)
    for lang in XQUAD_LANGS:
        texts = [context for _, _, context in xquad[lang]]
        chars[f"xquad.{lang}"], words[f"xquad.{lang}"] = pools(texts, rng)
    words["xquad.zh"] = _zh_pieces(context for _, _, context in xquad["zh"])
    editor = Editor(rng, chars, words)

    rows: list[Row] = []
    kinds = list(EDIT_KINDS)
    turn = 0

    def add_copies(original: Row, copies: int) -> None:
        nonlocal turn
        for _ in range(copies):
            for attempt in range(2 * len(kinds)):
                kind = kinds[(turn + attempt) % len(kinds)]
                edited = editor.apply(kind, original.text, original.source)
                if edited is not None and distinct.add(edited, original.cluster):
                    rows.append(
                        Row(
                            edited,
                            original.cluster,
                            "copy",
                            original.source,
                            kind,
                            original.bucket,
                            original.article,
                            original.paragraph,
                        )
                    )
                    break
            turn += 1

    # NSMC: originals and negatives per length bucket, all mutually distinct
    distinct = DistinctSet()
    quota = {bucket: 2 * PER_BUCKET for bucket in NSMC_BUCKETS}
    chosen: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for index in rng.sample(range(len(reviews)), len(reviews)):
        text = reviews[index]
        bucket = nsmc_bucket(text)
        if quota[bucket] and distinct.add(text, f"n{index}"):
            quota[bucket] -= 1
            chosen[bucket].append((text, f"n{index}"))
            if not any(quota.values()):
                break
    for bucket in NSMC_BUCKETS:
        for n, (text, cluster) in enumerate(chosen[bucket]):
            if n < PER_BUCKET:
                original = Row(text, cluster, "original", "nsmc", bucket=bucket)
                rows.append(original)
                add_copies(original, rng.choice((1, 2, 3)))
            else:
                rows.append(Row(text, cluster, "negative", "nsmc", bucket=bucket))

    # XQuAD: every paragraph in three languages; some get copies
    for lang in XQUAD_LANGS:
        for _, paragraph, context in xquad[lang]:
            distinct.add(context, f"{lang}.{paragraph}", check=False)
    for lang in XQUAD_LANGS:
        copied = set(rng.sample(range(len(xquad[lang])), XQUAD_COPIED))
        for n, (article, paragraph, context) in enumerate(xquad[lang]):
            role = "original" if n in copied else "negative"
            row = Row(
                context,
                f"{lang}.{paragraph}",
                role,
                f"xquad.{lang}",
                bucket="xquad",
                article=article,
                paragraph=paragraph,
            )
            rows.append(row)
            if n in copied:
                add_copies(row, rng.choice((1, 2)))

    rng.shuffle(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        (out_dir / "input.jsonl").open("w", encoding="utf-8") as data,
        (out_dir / "truth.jsonl").open("w", encoding="utf-8") as truth,
    ):
        for n, row in enumerate(rows):
            row.id = f"gt{n:06d}"
            data.write(json.dumps({"id": row.id, "text": row.text}, ensure_ascii=False) + "\n")
            truth.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
    sizes = Counter(row.cluster for row in rows)
    return {
        "rows": len(rows),
        "clusters_with_copies": sum(1 for size in sizes.values() if size > 1),
        "true_pairs": sum(size * (size - 1) // 2 for size in sizes.values()),
        "roles": dict(Counter(row.role for row in rows)),
        "sources": dict(Counter(row.source for row in rows)),
        "edits": dict(Counter(row.edit for row in rows if row.role == "copy")),
    }


def read_truth(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# ----------------------------------------------------------------------------------------------
# scores


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(truth: Mapping[str, str], predicted: Mapping[str, str]) -> dict[str, float]:
    """Precision, recall and F1 over same-cluster pairs. ``truth`` and ``predicted`` map every row
    id to a cluster label (a row alone in its cluster may have any unique label)."""
    true_sizes = Counter(truth.values())
    pred_sizes = Counter(predicted[key] for key in truth)
    cells = Counter((truth[key], predicted[key]) for key in truth)
    tp = sum(_pairs(n) for n in cells.values())
    pred_pairs = sum(_pairs(n) for n in pred_sizes.values())
    true_pairs = sum(_pairs(n) for n in true_sizes.values())
    return _prf(tp, pred_pairs, true_pairs) | {"tp": tp, "predicted": pred_pairs, "true": true_pairs}


def removal_scores(truth: Mapping[str, str], kept: set[str]) -> dict[str, float]:
    """Precision, recall and F1 of "row removed" against "row is a redundant copy". A true cluster of
    n rows should lose n - 1 of them, whichever; removing all n counts n - 1 right and one wrong."""
    members: dict[str, list[str]] = defaultdict(list)
    for key, cluster in truth.items():
        members[cluster].append(key)
    removed = sum(1 for key in truth if key not in kept)
    should = sum(len(group) - 1 for group in members.values())
    right = sum(min(sum(1 for key in group if key not in kept), len(group) - 1) for group in members.values())
    return _prf(right, removed, should) | {"removed": removed, "should": should}


def removal_scores_sql(con: duckdb.DuckDBPyConnection, truth: str, kept: str) -> dict[str, float]:
    """``removal_scores`` computed by DuckDB, for truths too large for Python dicts. ``truth`` and
    ``kept`` are table expressions (``read_parquet('truth/*.parquet')``): ``truth`` has ``id`` and
    ``original`` (the cluster: a copy's original, an original's own id), ``kept`` has ``id``."""
    removed, should, right = con.execute(
        f"""
        WITH groups AS (
            SELECT count(*) AS n, count(*) FILTER (WHERE k.id IS NULL) AS removed
            FROM (SELECT id, original FROM {truth}) AS t
            LEFT JOIN (SELECT DISTINCT id FROM {kept}) AS k USING (id)
            GROUP BY t.original
        )
        SELECT coalesce(sum(removed), 0), coalesce(sum(n - 1), 0), coalesce(sum(least(removed, n - 1)), 0)
        FROM groups
        """
    ).fetchone() or (0, 0, 0)
    return _prf(int(right), int(removed), int(should)) | {"removed": int(removed), "should": int(should)}


def _prf(tp: int, predicted: int, true: int) -> dict[str, float]:
    precision = tp / predicted if predicted else float("nan")
    recall = tp / true if true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1}


def false_pair_kinds(rows: list[dict], predicted: Mapping[str, str]) -> Counter[str]:
    """Predicted same-cluster pairs that are not true pairs, by kind: ``translation`` (the same XQuAD
    paragraph in two languages), ``same_article`` (two paragraphs of one article), ``other``."""
    by_cluster: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_cluster[predicted[row["id"]]].append(row)
    kinds: Counter[str] = Counter()
    for group in by_cluster.values():
        if len(group) < 2:
            continue
        if len(group) > 2000:  # one huge cluster: count without listing pairs
            sizes = Counter(row["cluster"] for row in group)
            kinds["other"] += _pairs(len(group)) - sum(_pairs(n) for n in sizes.values())
            continue
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a["cluster"] == b["cluster"]:
                    continue
                if a["paragraph"] and a["paragraph"] == b["paragraph"]:
                    kinds["translation"] += 1
                elif a["article"] and a["article"] == b["article"]:
                    kinds["same_article"] += 1
                else:
                    kinds["other"] += 1
    return kinds


def copy_recall(rows: list[dict], predicted: Mapping[str, str] | None, kept: set[str], by: str) -> dict[str, float]:
    """Share of copies caught, grouped by the truth field ``by`` (``edit`` or ``bucket``). With clusters
    a copy is caught when it shares a predicted cluster with its original; without, when it is removed."""
    originals = {row["cluster"]: row["id"] for row in rows if row["role"] == "original"}
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in rows:
        if row["role"] != "copy":
            continue
        total[row[by]] += 1
        if predicted is not None:
            caught[row[by]] += predicted[row["id"]] == predicted[originals[row["cluster"]]]
        else:
            caught[row[by]] += row["id"] not in kept
    return {key: caught[key] / total[key] for key in total}


def fold(text: str) -> str:
    """NFC, lowercase, whitespace runs to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def char_shingles(text: str, n: int) -> set[str]:
    folded = fold(text)
    if len(folded) <= n:
        return {folded}
    return {folded[i : i + n] for i in range(len(folded) - n + 1)}


def reference_recall(rows: list[dict], by: str, *, n: int, threshold: float) -> dict[str, float]:
    """Share of copies whose exact character-n-gram Jaccard similarity with their original reaches
    ``threshold``: what a perfect MinHash on folded character n-grams at that threshold would catch."""
    originals = {row["cluster"]: row["text"] for row in rows if row["role"] == "original"}
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in rows:
        if row["role"] != "copy":
            continue
        a, b = char_shingles(row["text"], n), char_shingles(originals[row["cluster"]], n)
        total[row[by]] += 1
        caught[row[by]] += len(a & b) / len(a | b) >= threshold
    return {key: caught[key] / total[key] for key in total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print(json.dumps(build(args.out_dir, seed=args.seed), indent=2))


if __name__ == "__main__":
    main()
