"""Out-of-fold probabilities and cleanlab label issues on the sample reviews and on NSMC."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from curate import io
from curate.labels import LabelIssueSettings, find_label_issues, out_of_fold_probabilities, ranked_issues
from curate.labels.issues import join_pairs
from tests.conftest import REPO, needs_shared


@pytest.fixture(scope="module")
def reviews() -> tuple[list[str], list[str], list[str], set[str]]:
    table = io.read(REPO / "sample_data" / "reviews_cls.tsv", kind="classification").to_arrow()
    planted = json.loads((REPO / "sample_data" / "defects.json").read_text())["reviews_cls.tsv"]["wrong_label"]
    return (
        table.column("id").to_pylist(),
        table.column("text").to_pylist(),
        table.column("label").to_pylist(),
        set(planted),
    )


def test_planted_wrong_labels_are_found(reviews):
    ids, texts, labels, planted = reviews
    probs, classes = out_of_fold_probabilities(texts, labels, LabelIssueSettings(seed=0))
    assert classes == ["negative", "positive"]
    assert probs.shape == (len(texts), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    table = find_label_issues(labels, probs, classes)
    assert table.column_names == ["label_issue", "label_quality", "suggested_label", "given_label_probability"]
    found = {ids[i] for i in ranked_issues(table)}
    hits = len(found & planted)
    # measured: 76 flagged, 13 of the 15 planted (recall 0.87, precision 0.17 on 303 rows)
    assert hits / len(planted) >= 0.6
    assert hits / len(found) >= 0.1
    # planted rows rank well above the rest
    quality = table.column("label_quality").to_numpy()
    planted_rows = [i for i, row_id in enumerate(ids) if row_id in planted]
    assert np.median(quality[planted_rows]) < np.median(quality)


def test_same_seed_same_result(reviews):
    _, texts, labels, _ = reviews
    first, _ = out_of_fold_probabilities(texts, labels, LabelIssueSettings(seed=3))
    second, _ = out_of_fold_probabilities(texts, labels, LabelIssueSettings(seed=3))
    np.testing.assert_array_equal(first, second)


def test_fasttext_model_is_deterministic(reviews):
    _, texts, labels, planted = reviews
    first, classes = out_of_fold_probabilities(texts, labels, LabelIssueSettings(model="fasttext", folds=3, seed=1))
    second, _ = out_of_fold_probabilities(texts, labels, LabelIssueSettings(model="fasttext", folds=3, seed=1))
    np.testing.assert_allclose(first, second, atol=1e-5)
    assert first.shape == (len(texts), 2)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-4)


def test_issue_columns_and_suggestions():
    labels = ["a", "a", "b", "b", "a"]
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.02, 0.98]])
    table = find_label_issues(labels, probs, ["a", "b"])
    assert table.column("suggested_label").to_pylist() == ["a", "a", "b", "b", "b"]
    assert table.column("given_label_probability").to_pylist()[4] == pytest.approx(0.02)
    assert table.column("label_issue").to_pylist()[4] is True
    assert ranked_issues(table)[0] == 4


def test_int_classes():
    labels = [0, 0, 1, 1, 0]
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.02, 0.98]])
    table = find_label_issues(labels, probs, [0, 1])
    assert table.column("suggested_label").to_pylist() == [0, 0, 1, 1, 1]


def test_text_pairs_are_joined():
    assert join_pairs(["a", "b"], ["x", None]) == ["a [SEP] x", "b"]
    premise = ["오늘은 비가 온다", "고양이가 잔다", "날씨가 맑다", "강아지가 뛴다"] * 6
    hypothesis = ["비가 온다", "고양이가 뛴다", "날씨가 맑다", "강아지가 잔다"] * 6
    labels = ["entailment", "contradiction"] * 12
    probs, classes = out_of_fold_probabilities(premise, labels, LabelIssueSettings(folds=3), text_pairs=hypothesis)
    assert classes == ["contradiction", "entailment"] and probs.shape == (24, 2)
    # the pair decides the label: identical premises with different hypotheses get different probabilities
    assert not np.allclose(probs[0], probs[1])


def test_single_row_class_is_an_error():
    with pytest.raises(ValueError, match="class 'rare' has only 1 row"):
        out_of_fold_probabilities(["a", "b", "c", "d"], ["x", "x", "x", "rare"])


def test_folds_lowered_to_smallest_class():
    texts = ["좋아요", "최고", "별로", "나빠요", "최악", "재밌다"]
    probs, _ = out_of_fold_probabilities(texts, ["p", "p", "n", "n", "n", "p"], LabelIssueSettings(folds=5))
    assert probs.shape == (6, 2)


def test_bad_probabilities_are_errors():
    with pytest.raises(ValueError, match="shape"):
        find_label_issues(["a", "b"], np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="not in classes"):
        find_label_issues(["a", "c"], np.full((2, 2), 0.5), ["a", "b"])


def test_nsmc_injected_flips_are_recovered():
    path = needs_shared("nsmc", "binary_sample50k.tsv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:5000]
    rng = np.random.default_rng(0)
    flipped = set(rng.choice(len(rows), 500, replace=False).tolist())
    texts = [r["document"] for r in rows]
    labels = [("1" if r["label"] == "0" else "0") if i in flipped else r["label"] for i, r in enumerate(rows)]
    probs, classes = out_of_fold_probabilities(texts, labels, LabelIssueSettings(seed=0))
    found = set(ranked_issues(find_label_issues(labels, probs, classes)))
    hits = len(found & flipped)
    # measured on these 5,000 rows: 961 flagged, recall 0.66, precision 0.34. NSMC carries its own
    # label noise (a 5k-row char model is ~73% accurate), so precision stays below 0.5 here.
    assert hits / len(flipped) >= 0.55
    assert hits / len(found) >= 0.28
