"""A fastText quality classifier: train on labelled good/bad rows, then score new rows.

Training text is written one row per line (``__label__good <text>``, newlines folded to spaces) to a
temporary file and trained with fastText's supervised mode on words plus character n-grams
(``minn``-``maxn``; they carry Korean, where one eojeol takes many endings). One thread and a fixed
seed make training repeatable: the same rows give the same predictions (to floating-point noise).
A held-out share of the rows (stratified by label) measures the model before it is written; the
model is then trained again on every row.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

LABEL_PREFIX = "__label__"


@dataclass(frozen=True)
class TrainSettings:
    """fastText supervised settings (see fastText's ``train_supervised``)."""

    epoch: int = 25
    lr: float = 0.5
    word_ngrams: int = 2
    minn: int = 2
    maxn: int = 4
    dim: int = 50
    bucket: int = 200_000
    seed: int = 13


@dataclass(frozen=True)
class TrainReport:
    """What training measured: rows per label, held-out rows, and on the held-out rows the
    accuracy plus precision/recall/F1 of the ``good`` label."""

    rows: dict[str, int]
    held_out: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    model: str
    settings: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def label_token(label: Any) -> str:
    """fastText label token for a label value (spaces become ``_``)."""
    return LABEL_PREFIX + str(label).strip().replace(" ", "_")


def one_line(text: str | None) -> str:
    """A text as one fastText input line."""
    return " ".join((text or "").split())


_TRAIN = """
import json, sys
import fasttext
fasttext.FastText.eprint = lambda *args, **kwargs: None
options, out, quantize = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
model = fasttext.train_supervised(**options)
if quantize:
    model.quantize(retrain=False)
model.save_model(out)
"""


def _fit(texts: Sequence[str], labels: Sequence[str], settings: TrainSettings, out: Path, *, quantize: bool) -> Any:
    """Train in a fresh Python process and write the model to ``out``; returns it loaded.

    A fresh process makes training repeatable: in a process where lingua has run its thread pool,
    fastText's training was measured to diverge (NaN loss) on input it trains fine on elsewhere.
    """
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None
    handle, path = tempfile.mkstemp(suffix=".txt", prefix="curate-quality-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as lines:
            for text, label in zip(texts, labels, strict=True):
                lines.write(f"{label_token(label)} {one_line(text)}\n")
        options = {
            "input": path,
            "epoch": settings.epoch,
            "lr": settings.lr,
            "wordNgrams": settings.word_ngrams,
            "minn": settings.minn,
            "maxn": settings.maxn,
            "dim": settings.dim,
            "bucket": settings.bucket,
            "seed": settings.seed,
            "thread": 1,
            "verbose": 0,
        }
        done = subprocess.run(
            [sys.executable, "-c", _TRAIN, json.dumps(options), str(out), "1" if quantize else "0"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            lines_out = done.stderr.strip().splitlines()
            raise ValueError(f"fastText training failed: {lines_out[-1] if lines_out else done.returncode}")
        return fasttext.load_model(str(out))
    finally:
        os.unlink(path)


def fit_supervised(
    texts: Sequence[str | None], labels: Sequence[Any], out: str | Path, *, settings: TrainSettings | None = None
) -> Any:
    """Train a supervised fastText model on ``texts``/``labels`` (compared as strings) in a fresh
    process, write it to ``out`` and return it loaded; the trainer behind :func:`train_quality`."""
    return _fit(
        [one_line(t) for t in texts],
        [str(label) for label in labels],
        settings or TrainSettings(),
        Path(out),
        quantize=False,
    )


def _held_out(labels: Sequence[str], share: float, seed: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Stratified mask of held-out rows (at least one per label with two or more rows)."""
    rng = random.Random(seed)
    mask = np.zeros(len(labels), bool)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    for rows in by_label.values():
        if len(rows) < 2:
            continue
        take = max(1, round(len(rows) * share))
        mask[rng.sample(rows, min(take, len(rows) - 1))] = True
    return mask


def good_probability(model: Any, texts: Sequence[str | None], good: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """P(``good``) for each text, float32 (0 for a label the model does not know)."""
    token = label_token(good)
    n_labels = len(model.get_labels())
    labels, probs = model.predict([one_line(t) for t in texts], k=n_labels, threshold=0.0)
    out = np.zeros(len(texts), np.float32)
    for i, (row_labels, row_probs) in enumerate(zip(labels, probs, strict=True)):
        for label, p in zip(row_labels, row_probs, strict=True):
            if label == token:
                out[i] = p
                break
    return out


def train_quality(
    texts: Sequence[str | None],
    labels: Sequence[Any],
    out: str | Path,
    *,
    good: str = "good",
    held_out: float = 0.1,
    settings: TrainSettings | None = None,
    quantize: bool = False,
) -> TrainReport:
    """Train a quality classifier and write it to ``out`` (``.bin``, or ``.ftz`` when ``quantize``).

    Args:
        texts: one text per row.
        labels: one label per row (any value; compared as strings). At least two distinct labels,
            one of them ``good``.
        held_out: share of rows held out to measure the model (0 skips the measurement).
    Raises:
        ValueError: fewer than two labels, no ``good`` label, or no text.
    """
    settings = settings or TrainSettings()
    names = [str(label).strip() for label in labels]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    if len(counts) < 2:
        raise ValueError(f"need at least two labels, found {sorted(counts)}")
    if good not in counts:
        raise ValueError(f"no row has the good label {good!r}; labels are {sorted(counts)}")
    clean = [one_line(t) for t in texts]
    accuracy = precision = recall = f1 = None
    mask = _held_out(names, held_out, settings.seed) if held_out > 0 else np.zeros(len(names), bool)
    if mask.any():
        train = [i for i in range(len(names)) if not mask[i]]
        test = [i for i in range(len(names)) if mask[i]]
        with tempfile.TemporaryDirectory(prefix="curate-quality-") as folder:
            model = _fit(
                [clean[i] for i in train], [names[i] for i in train], settings, Path(folder) / "m.bin", quantize=False
            )
        predicted, _ = model.predict([clean[i] for i in test], k=1, threshold=0.0)
        guess = [p[0].removeprefix(LABEL_PREFIX) if p else "" for p in predicted]
        truth = [label_token(names[i]).removeprefix(LABEL_PREFIX) for i in test]
        good_token = label_token(good).removeprefix(LABEL_PREFIX)
        accuracy = float(np.mean([g == t for g, t in zip(guess, truth, strict=True)]))
        tp = sum(g == good_token and t == good_token for g, t in zip(guess, truth, strict=True))
        predicted_good = sum(g == good_token for g in guess)
        actual_good = sum(t == good_token for t in truth)
        precision = tp / predicted_good if predicted_good else 0.0
        recall = tp / actual_good if actual_good else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _fit(clean, names, settings, out, quantize=quantize)
    return TrainReport(
        rows=dict(sorted(counts.items())),
        held_out=int(mask.sum()),
        accuracy=accuracy,
        precision=precision,
        recall=recall,
        f1=f1,
        model=str(out),
        settings=asdict(settings),
    )
