"""Language-ID accuracy and throughput on the lingua test items (75 languages; sentences, word
pairs, single words): fastText lid.176 alone, lingua alone (all 75 languages, high accuracy mode,
both cores) and curate's identifier (lid.176, script rules, lingua only for short or low-confidence
text), all in the same run.

    .venv/bin/python benchmarks/langid.py [--per-language N] [--seed S]

Each system runs in its own subprocess (peak RSS is its own); model loading is timed apart
(``load s``: lingua loads its language models lazily, on the first text of a script). Accuracy counts exact ISO 639-1
matches; lid.176's ``no`` counts as ``nb``; lid.176 has no model for lg, mi, nb (it has ``no``), sn,
st, tn, ts, xh, zu. Prints Markdown tables. Needs ../shared/data/langid beside the checkout.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "langid"
SUBSETS = ("sentences", "word-pairs", "single-words")
FOCUS = ("ko", "ja", "zh", "en")

SYSTEMS = {
    "fastText lid.176 alone": """
from curate.text.langid import LanguageIdentifier
lid = LanguageIdentifier(second_opinion="none")
predict = lambda texts: lid.identify(texts).languages
""",
    "lingua 2.1 (75 languages, high accuracy, 2 threads)": """
from lingua import LanguageDetectorBuilder
det = LanguageDetectorBuilder.from_all_languages().build()
def predict(texts):
    found = det.detect_languages_in_parallel_of(texts)
    return [f.iso_code_639_1.name.lower() if f else None for f in found]
""",
    "curate (lid.176 + script rules + lingua for short/unsure text)": """
from curate.text.langid import LanguageIdentifier
lid = LanguageIdentifier()
predict = lambda texts: lid.identify(texts).languages
""",
}

RUNNER = """
import json, resource, sys, time
items = json.loads(sys.stdin.read())
t0 = time.perf_counter()
{setup}
predict([texts[0] for texts, _ in items.values()])  # warm up: models load here, not in the timing
out = {{"load_seconds": time.perf_counter() - t0}}
for subset, (texts, gold) in items.items():
    t0 = time.perf_counter()
    found = predict(texts)
    seconds = time.perf_counter() - t0
    found = ["nb" if f == "no" else f for f in found]
    out[subset] = {{"seconds": seconds, "pred": found}}
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def load(per_language: int | None, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    items: dict[str, tuple[list[str], list[str]]] = {}
    for subset in SUBSETS:
        texts: list[str] = []
        gold: list[str] = []
        for path in sorted((DATA / subset).glob("*.txt")):
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if per_language is not None and len(lines) > per_language:
                lines = rng.sample(lines, per_language)
            texts += lines
            gold += [path.stem] * len(lines)
        items[subset] = (texts, gold)
    return items


def accuracy(pred: list[str | None], gold: list[str], language: str | None = None) -> float:
    pairs = [(p, g) for p, g in zip(pred, gold, strict=True) if language is None or g == language]
    return sum(p == g for p, g in pairs) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=None, help="Sample this many items per language.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"langid test data not found at {DATA}")
    items = load(args.per_language, args.seed)
    payload = json.dumps(items)
    results = {}
    for name, setup in SYSTEMS.items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, "-c", RUNNER.format(setup=setup)],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        results[name] = json.loads(done.stdout)
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}; items per subset: "
          + ", ".join(f"{s} {len(items[s][0]):,}" for s in SUBSETS))  # fmt: skip
    print()
    print("| system | subset | accuracy | " + " | ".join(FOCUS) + " | items/s | load s | peak RSS (MB) |")
    print("|---|---|---:|" + "---:|" * len(FOCUS) + "---:|---:|---:|")
    for subset in SUBSETS:
        texts, gold = items[subset]
        for name in SYSTEMS:
            run = results[name][subset]
            pred = run["pred"]
            cells = [f"{accuracy(pred, gold):.3f}"] + [f"{accuracy(pred, gold, lang):.3f}" for lang in FOCUS]
            rate = len(texts) / run["seconds"]
            load_s, rss = results[name]["load_seconds"], results[name]["rss_mb"]
            print(f"| {name} | {subset} | " + " | ".join(cells) + f" | {rate:,.0f} | {load_s:.1f} | {rss:,.0f} |")


if __name__ == "__main__":
    main()
