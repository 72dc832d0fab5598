"""Label-noise recovery: inject label flips, see how many ``curate.labels`` finds back.

    .venv/bin/python benchmarks/label_noise.py [--rows N] [--models tfidf,fasttext] [--seed S] [--rates 0.05,0.15]

Data: NSMC (``../shared/data/nsmc/binary_sample50k.tsv``, label 0/1) and korean_hate_speech
(``../shared/data/korean_hate_speech/labeled/train.tsv``, label = ``hate``: none/offensive/hate).
``--rows N`` takes the first N rows of each. For each rate (default 5% and 15%) that share of rows
gets a different class drawn uniformly (``--seed``, default 0, chooses the rows and the folds); each
probability model is scored on precision, recall and F1 of the flagged rows against the flipped
ones, with its wall time. The baseline in the same run: cleanlab ``find_label_issues`` on
``cross_val_predict`` probabilities of a word-level ``TfidfVectorizer`` + ``LogisticRegression``
(library defaults). Then the top 20 issues of the un-injected NSMC rows. Output is Markdown.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from curate.labels import LabelIssueSettings, find_label_issues, out_of_fold_probabilities, ranked_issues

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = {
    "nsmc": (DATA / "nsmc" / "binary_sample50k.tsv", "document", "label"),
    "korean_hate_speech": (DATA / "korean_hate_speech" / "labeled" / "train.tsv", "comments", "hate"),
}


def load(path: Path, text: str, label: str, rows: int | None) -> tuple[list[str], list[str]]:
    """Texts and labels of a TSV file, split on tabs only (a bare carriage return stays in its text)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    t, lab = header.index(text), header.index(label)
    data = []
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) == len(header) and fields[lab]:
            data.append((fields[t], fields[lab]))
    data = data[:rows] if rows else data
    return [x for x, _ in data], [y for _, y in data]


def inject(labels: list[str], rate: float, seed: int = 0) -> tuple[list[str], set[int]]:
    """Flip ``rate`` of the rows to a different class, uniformly."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    flipped = set(rng.choice(len(labels), round(len(labels) * rate), replace=False).tolist())
    noisy = list(labels)
    for i in sorted(flipped):
        others = [c for c in classes if c != labels[i]]
        noisy[i] = others[rng.integers(len(others))]
    return noisy, flipped


def baseline(texts: list[str], labels: list[str]) -> tuple[np.ndarray, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline

    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    return cross_val_predict(pipeline, texts, y, cv=5, method="predict_proba"), classes


def score(found: set[int], truth: set[int]) -> tuple[float, float, float]:
    tp = len(found & truth)
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="first N rows of each data set")
    parser.add_argument("--models", default="tfidf,fasttext", help="curate probability models to compare")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injected flips and of the folds")
    parser.add_argument("--rates", default="0.05,0.15", help="shares of rows to flip, comma-separated")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    models = args.models.split(",")
    print("| data | rows | flipped | method | flagged | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for name, (path, text_col, label_col) in SETS.items():
        texts, labels = load(path, text_col, label_col, args.rows)
        for rate in rates:
            noisy, flipped = inject(labels, rate, args.seed)
            for method in [*models, "baseline (word tfidf + LR, cross_val_predict)"]:
                started = time.perf_counter()
                if method in ("tfidf", "fasttext"):
                    chosen = LabelIssueSettings(model=method, seed=args.seed)  # type: ignore[arg-type]
                    probs, classes = out_of_fold_probabilities(texts, noisy, chosen)
                else:
                    probs, classes = baseline(texts, noisy)
                table = find_label_issues(noisy, probs, classes)
                seconds = time.perf_counter() - started
                found = set(ranked_issues(table))
                p, r, f1 = score(found, flipped)
                print(
                    f"| {name} | {len(texts)} | {len(flipped)} ({rate:.0%}) | {method} | {len(found)} | {p:.3f} | "
                    f"{r:.3f} | {f1:.3f} | {seconds:.1f} |",
                    flush=True,
                )
    texts, labels = load(*SETS["nsmc"], args.rows)
    probs, classes = out_of_fold_probabilities(texts, labels, LabelIssueSettings(model="tfidf", seed=0))
    table = find_label_issues(labels, probs, classes)
    order = ranked_issues(table)
    print(f"\nTop 20 of {len(order)} issues in the un-injected NSMC rows (tfidf):\n")
    print("| text | given | suggested | quality |")
    print("|---|---|---|---:|")
    suggested = table.column("suggested_label").to_pylist()
    quality = table.column("label_quality").to_pylist()
    for i in order[:20]:
        shown = texts[i].replace("|", "\\|")[:80]
        print(f"| {shown} | {labels[i]} | {suggested[i]} | {quality[i]:.3f} |")


if __name__ == "__main__":
    main()
