"""Answer-type mismatches: swap answers between questions of different types, see how many are found.

    .venv/bin/python benchmarks/answer_issues.py [--rate 0.05] [--seeds 8]

Data: XQuAD English (``../shared/data/xquad/xquad.en.json``, 1,190 questions; the Korean rules have
no public Korean MRC set here). Of the questions whose words ask for a date, number, person or
place, ``--rate`` get the first answer of a random question asking for another type (seeds 0 ..
``--seeds`` - 1). Compared on precision, recall and F1 of the flagged rows against the swapped
ones, averaged over the seeds: curate's ``answer_type_mismatch`` (out-of-fold answer-type
classifier + cleanlab, :func:`curate.mrc.answer_issues.answer_types`) and the rules alone
(:func:`rule_mismatch` of :func:`rule_answer_type`, which cannot tell persons from places).
Output is Markdown.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from curate.mrc.answer_issues import answer_types, asked_type, rule_answer_type, rule_mismatch

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "xquad" / "xquad.en.json"


def load() -> tuple[list[str], list[str]]:
    """Questions and their first answer texts."""
    doc = json.loads(XQUAD.read_text(encoding="utf-8"))
    questions, answers = [], []
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append(qa["question"])
                answers.append(qa["answers"][0]["text"])
    return questions, answers


def swap(asked: list[str], answers: list[str], rate: float, seed: int) -> tuple[list[str], set[int]]:
    """``answers`` with a ``rate`` share of typed questions given another type's answer; the rows changed."""
    rng = random.Random(seed)
    typed = [i for i, t in enumerate(asked) if t != "other"]
    noisy = list(answers)
    chosen = rng.sample(typed, int(rate * len(typed)))
    for i in chosen:
        noisy[i] = answers[rng.choice([j for j in typed if asked[j] != asked[i]])]
    return noisy, set(chosen)


def score(flags: list[bool], truth: set[int]) -> tuple[int, float, float, float]:
    found = {i for i, flag in enumerate(flags) if flag}
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return len(found), precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.05, help="share of typed questions given a wrong answer")
    parser.add_argument("--seeds", type=int, default=8, help="runs, with seeds 0 .. N-1")
    args = parser.parse_args()
    questions, answers = load()
    asked = [asked_type(q) for q in questions]
    methods = ("classifier + cleanlab (answer_type_mismatch)", "rules only")
    totals = {m: [0.0, 0.0, 0.0, 0.0, 0.0] for m in methods}
    swapped = 0
    for seed in range(args.seeds):
        noisy, truth = swap(asked, answers, args.rate, seed)
        swapped = len(truth)
        started = time.perf_counter()
        learned = answer_types(questions, noisy, seed=seed).mismatch
        seconds = time.perf_counter() - started
        rules = [t != "other" and rule_mismatch(t, rule_answer_type(a)) for t, a in zip(asked, noisy, strict=True)]  # type: ignore[arg-type]
        for method, flags, took in ((methods[0], learned, seconds), (methods[1], rules, 0.0)):
            for k, value in enumerate((*score(flags, truth), took)):
                totals[method][k] += value / args.seeds
    typed = sum(t != "other" for t in asked)
    print(f"{len(questions)} questions, {typed} typed, {swapped} swapped per run, {args.seeds} runs\n")
    print("| method | flagged | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for method, (flagged, precision, recall, f1, seconds) in totals.items():
        print(f"| {method} | {flagged:.1f} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
