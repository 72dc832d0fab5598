"""Find classification rows whose label looks wrong (confident learning, via cleanlab).

Two steps, both pure:

1. :func:`out_of_fold_probabilities` gives every row the class probabilities of a model that never
   saw that row (stratified K-fold cross-validation): ``tfidf`` (character n-gram TF-IDF + logistic
   regression; fast, no native training) or ``fasttext`` (supervised fastText on words and character
   n-grams, each fold trained in a fresh process as in :mod:`curate.quality.classifier`).
2. :func:`find_label_issues` asks cleanlab which given labels disagree with those probabilities
   (``cleanlab.filter.find_label_issues``) and scores every label
   (``cleanlab.rank.get_label_quality_scores``, self-confidence: the probability of the given label).

A text pair (NLI style) is classified as ``text + " [SEP] " + text_pair``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate import progress
from curate.config import Strict

if TYPE_CHECKING:
    from curate.executors import Executor, Shared

Model = Literal["tfidf", "fasttext"]
FilterBy = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"]

PAIR_SEPARATOR = " [SEP] "
ISSUE_COLUMNS = ("label_issue", "label_quality", "suggested_label", "given_label_probability")

# TF-IDF settings (measured on NSMC and korean_hate_speech: benchmarks/label_noise.py)
TFIDF_NGRAMS = (2, 4)
TFIDF_MIN_DF = 2
LOGISTIC_C = 1.0


class LabelIssueSettings(Strict):
    """How label issues are found: the model giving out-of-fold probabilities, and cleanlab's method."""

    model: Model = "tfidf"
    """Model giving the out-of-fold probabilities: ``tfidf`` (character n-gram TF-IDF + logistic
    regression) or ``fasttext`` (supervised fastText, trained per fold in a fresh process)."""
    folds: int = Field(default=5, ge=2)
    """Cross-validation folds (lowered to the size of the smallest class)."""
    seed: int = 0
    """Seed of the fold split and the models: the same rows and seed flag the same rows."""
    classes: list[str] | None = None
    """Class order of the probabilities; must cover every label. Default: the sorted distinct labels."""
    filter_by: FilterBy = "prune_by_noise_rate"
    """cleanlab's ``filter_by`` method deciding which rows are issues."""


def join_pairs(texts: Sequence[str | None], text_pairs: Sequence[str | None] | None = None) -> list[str]:
    """One input text per row: ``text``, or ``text [SEP] text_pair`` when the row has a pair."""
    if text_pairs is None:
        return [t or "" for t in texts]
    if len(text_pairs) != len(texts):
        raise ValueError(f"text_pairs has {len(text_pairs)} values for {len(texts)} texts")
    return [
        (t or "") + PAIR_SEPARATOR + p if p is not None else (t or "") for t, p in zip(texts, text_pairs, strict=True)
    ]


def label_classes(labels: Sequence[Hashable], classes: Sequence[Hashable] | None = None) -> list[Any]:
    """The class list: ``classes`` (checked to cover every label) or the sorted distinct labels."""
    if classes is None:
        return sorted(set(labels), key=lambda c: (str(type(c)), c))  # type: ignore[arg-type]
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes has duplicates: {list(classes)}")
    unknown = sorted({str(label) for label in labels} - {str(c) for c in classes})
    if set(labels) - set(classes):
        raise ValueError(f"labels not in classes: {unknown[:5]} (classes: {list(classes)})")
    return list(classes)


def _fold_count(labels: Sequence[Hashable], folds: int) -> int:
    """``folds`` lowered to the size of the smallest class; ValueError below 2 rows per class."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    counts = Counter(labels)
    if len(counts) < 2:
        raise ValueError(f"need at least two classes, found {sorted(map(str, counts))}")
    label, smallest = min(counts.items(), key=lambda item: item[1])
    if smallest < 2:
        raise ValueError(
            f"class {label!r} has only {smallest} row; every class needs at least 2 rows for cross-validation "
            "(drop or relabel it, or pass probabilities of your own model)"
        )
    return min(folds, smallest)


def _tfidf_fold(train: list[str], train_y: np.ndarray, test: list[str], k: int, seed: int) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=TFIDF_NGRAMS, sublinear_tf=True, min_df=TFIDF_MIN_DF, dtype=np.float32
    )
    x_train = vectorizer.fit_transform(train)
    model = LogisticRegression(C=LOGISTIC_C, solver="liblinear" if k == 2 else "saga", max_iter=1000, random_state=seed)
    model.fit(x_train, train_y)
    out = np.zeros((len(test), k))
    out[:, model.classes_] = model.predict_proba(vectorizer.transform(test))
    return out


def _fasttext_fold(train: list[str], train_y: np.ndarray, test: list[str], k: int, seed: int) -> np.ndarray:
    from curate.quality.classifier import LABEL_PREFIX, TrainSettings, fit_supervised, one_line

    settings = TrainSettings(epoch=10, lr=0.5, word_ngrams=1, minn=1, maxn=3, dim=50, seed=seed + 1)
    with tempfile.TemporaryDirectory(prefix="curate-labels-") as folder:
        model = fit_supervised(train, [f"c{y}" for y in train_y], Path(folder) / "fold.bin", settings=settings)
    names, probs = model.predict([one_line(t) for t in test], k=-1, threshold=0.0)
    out = np.zeros((len(test), k))
    for i, (row_names, row_probs) in enumerate(zip(names, probs, strict=True)):
        for name, p in zip(row_names, row_probs, strict=True):
            out[i, int(name.removeprefix(LABEL_PREFIX + "c"))] = p
    return out


@dataclass(frozen=True)
class _Folds:
    """What every fold task reads: the input texts, their class numbers, the class count, the model
    and the seed."""

    inputs: list[str]
    y: np.ndarray
    k: int
    model: Model
    seed: int


def _fold(item: tuple[Shared[_Folds], np.ndarray, np.ndarray]) -> np.ndarray:
    """A fold task: the probabilities of the ``test`` rows from a model fit on the ``train`` rows."""
    shared, train, test = item
    folds = shared.get()
    fit = _tfidf_fold if folds.model == "tfidf" else _fasttext_fold
    inputs = folds.inputs
    return fit([inputs[i] for i in train], folds.y[train], [inputs[i] for i in test], folds.k, folds.seed)


def out_of_fold_probabilities(
    texts: Sequence[str | None],
    labels: Sequence[Hashable],
    settings: LabelIssueSettings = LabelIssueSettings(),
    *,
    text_pairs: Sequence[str | None] | None = None,
    executor: Executor | None = None,
) -> tuple[np.ndarray, list[Any]]:
    """Out-of-fold class probabilities of every row, from stratified K-fold cross-validation.

    Args:
        texts: one text per row (None counts as empty).
        labels: one label per row (strings or ints).
        settings: ``model``, ``folds`` (lowered to the size of the smallest class), ``seed`` (shuffles
            the folds and seeds the models: the same inputs give the same output) and ``classes``
            (class order of the columns; default the sorted distinct labels).
        text_pairs: second texts of a pair task (None for a row without one).
        executor: where the folds are fit, each a task (:mod:`curate.executors`; None: one after the
            other in this process); the probabilities are the same on every executor.
    Returns:
        ``(pred_probs, classes)``: an ``n x k`` float array (rows sum to 1) and the class of each column.
    Raises:
        ValueError: fewer than two classes, a class with a single row, an unknown model, or lengths differ.

    Steps phase ``cross-validation`` (folds done) of :mod:`curate.progress`.
    """
    from sklearn.model_selection import StratifiedKFold

    from curate.executors import Executor

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    model, seed = settings.model, settings.seed
    found = label_classes(labels, settings.classes)
    index = {c: i for i, c in enumerate(found)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    n_folds = _fold_count(labels, settings.folds)
    inputs = join_pairs(texts, text_pairs)
    out: np.ndarray = np.zeros((len(inputs), len(found)))
    splits = list(StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    executor = executor or Executor()
    shared = executor.share(_Folds(inputs, y, len(found), model, seed))
    progress.step("cross-validation", 0, n_folds, "folds")
    fitted = executor.map(_fold, ((shared, train, test) for train, test in splits), what="fold")
    for done, ((_, test), probs) in enumerate(zip(splits, fitted, strict=True), start=1):
        out[test] = probs
        progress.step("cross-validation", done, n_folds, "folds")
    out = np.clip(out, 0.0, None)
    sums = out.sum(axis=1, keepdims=True)
    out = np.where(sums > 0, out / np.where(sums > 0, sums, 1.0), 1.0 / len(found))
    return out, found


def find_label_issues(
    labels: Sequence[Hashable],
    pred_probs: np.ndarray | Sequence[Sequence[float]],
    classes: Sequence[Hashable],
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
) -> pa.Table:
    """Which rows' given label looks wrong, given out-of-fold probabilities.

    Args:
        labels: the given label of each row; each one of ``classes``.
        pred_probs: ``n x k`` probabilities, column ``j`` for ``classes[j]`` (rows are renormalised).
        classes: the class of each column.
        filter_by: cleanlab's ``filter_by`` method.
    Returns:
        One row per input row: ``label_issue`` (bool), ``label_quality`` (probability of the given
        label, self-confidence; lower = more likely wrong), ``suggested_label`` (the most probable
        class) and ``given_label_probability``.
    Raises:
        ValueError: shapes disagree, a label is not in ``classes``, or probabilities are invalid.
    """
    from cleanlab.filter import find_label_issues as cleanlab_find
    from cleanlab.rank import get_label_quality_scores

    probs = np.asarray(pred_probs, dtype=np.float64)
    classes = list(classes)
    if probs.ndim != 2 or probs.shape != (len(labels), len(classes)):
        raise ValueError(f"pred_probs has shape {probs.shape}, expected ({len(labels)}, {len(classes)})")
    if len(classes) < 2:
        raise ValueError("need at least two classes")
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("pred_probs must be finite and non-negative")
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise ValueError("every row of pred_probs needs a positive sum")
    probs = probs / sums
    index = {c: i for i, c in enumerate(classes)}
    missing = [label for label in labels if label not in index]
    if missing:
        raise ValueError(f"labels not in classes: {sorted(set(map(str, missing)))[:5]} (classes: {classes})")
    y = np.array([index[label] for label in labels], dtype=np.int64)
    n = len(y)
    progress.step("confident learning", 0, n)
    issues: np.ndarray = np.zeros(n, dtype=bool)
    quality: np.ndarray
    if n:
        quality = get_label_quality_scores(y, probs)
        present = sorted(set(y.tolist()))
        if len(present) >= 2:
            # cleanlab needs labels 0..m-1 that all occur: compact to the classes present
            remap = {c: i for i, c in enumerate(present)}
            sub = probs[:, present]
            sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
            issues = np.asarray(
                cleanlab_find(np.array([remap[v] for v in y.tolist()]), sub, filter_by=filter_by), dtype=bool
            )
    else:
        quality = np.zeros(0)
    progress.step("confident learning", n, n)
    given = probs[np.arange(n), y] if n else np.zeros(0)
    suggested = [classes[j] for j in probs.argmax(axis=1)] if n else []
    return pa.table(
        {
            "label_issue": pa.array(issues, pa.bool_()),
            "label_quality": pa.array(quality, pa.float32()),
            "suggested_label": pa.array(suggested, _label_type(classes)),
            "given_label_probability": pa.array(given, pa.float32()),
        }
    )


def _label_type(classes: Sequence[Hashable]) -> pa.DataType:
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in classes):
        return pa.int64()
    return pa.string()


def ranked_issues(table: pa.Table) -> list[int]:
    """Row numbers of the flagged rows of a :func:`find_label_issues` table, worst (lowest
    ``label_quality``) first; ties keep row order."""
    flags = table.column("label_issue").to_pylist()
    quality = table.column("label_quality").to_pylist()
    return sorted((i for i, flag in enumerate(flags) if flag), key=lambda i: (quality[i], i))
