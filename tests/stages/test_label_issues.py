"""The label_issues stage: flag or reject rows whose label looks wrong."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages.label_issues import LabelIssues
from tests.conftest import REPO


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    return io.read(REPO / "sample_data" / "reviews_cls.tsv", kind="classification")


def planted() -> set[str]:
    return set(json.loads((REPO / "sample_data" / "defects.json").read_text())["reviews_cls.tsv"]["wrong_label"])


def test_flags_by_default(reviews):
    result = LabelIssues()(reviews)
    kept = result.kept.to_arrow()
    assert result.stats.rows_kept == reviews.num_rows and result.stats.rows_rejected == 0
    for name in ("label_issue", "label_quality", "suggested_label"):
        assert name in kept.column_names
    flagged = kept.column("label_issue").to_pylist().count(True)
    assert result.stats.flags == {"label_issue": flagged} and result.stats.rows_flagged == flagged > 0
    issues = result.artifacts["issues"]
    assert issues.column_names == [
        "id",
        "text",
        "text_pair",
        "label",
        "suggested_label",
        "label_quality",
        "given_label_probability",
    ]
    assert issues.num_rows == sum(kept.column("label_issue").to_pylist())
    quality = issues.column("label_quality").to_pylist()
    assert quality == sorted(quality)
    assert len(set(issues.column("id").to_pylist()) & planted()) >= 9


def test_reject_gives_reason_and_detail(reviews):
    result = LabelIssues(reject=True)(reviews)
    rejected = result.rejected.to_arrow()
    assert rejected.num_rows > 0 and result.stats.rows_kept + result.stats.rows_rejected == reviews.num_rows
    assert set(rejected.column("reject_reason").to_pylist()) == {"label_issue"}
    detail = rejected.column("reject_detail")[0].as_py()
    assert detail.startswith("given '") and ", suggested '" in detail and "(p=" in detail


def test_seed_is_deterministic(reviews):
    first = LabelIssues(seed=5)(reviews).artifacts["issues"]
    second = LabelIssues(seed=5)(reviews).artifacts["issues"]
    assert first.equals(second)


def test_pred_probs_column_skips_cross_validation():
    rows = [
        {"id": "1", "text": "좋다", "label": "pos", "probs": [0.1, 0.9]},
        {"id": "2", "text": "최고", "label": "pos", "probs": [0.2, 0.8]},
        {"id": "3", "text": "별로", "label": "neg", "probs": [0.9, 0.1]},
        {"id": "4", "text": "나쁨", "label": "neg", "probs": [0.8, 0.2]},
        {"id": "5", "text": "최악", "label": "pos", "probs": [0.97, 0.03]},
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    result = LabelIssues(pred_probs_column="probs", reject=True)(data)
    rejected = result.rejected.to_arrow()
    assert rejected.column("id").to_pylist() == ["5"]
    assert rejected.column("reject_detail")[0].as_py() == "given 'pos' (p=0.03), suggested 'neg' (p=0.97)"
    # classes in another order
    flipped = [{**r, "probs": r["probs"][::-1]} for r in rows]
    data = Dataset.from_arrow(pa.Table.from_pylist(flipped), "classification")
    again = LabelIssues(pred_probs_column="probs", classes=["pos", "neg"], reject=True)(data)
    assert again.rejected.to_arrow().column("id").to_pylist() == ["5"]


def test_text_pair_rows():
    premise = ["오늘은 비가 온다", "고양이가 잔다", "날씨가 맑다", "강아지가 뛴다"] * 6
    hypothesis = ["비가 온다", "고양이가 뛴다", "날씨가 맑다", "강아지가 잔다"] * 6
    rows = [
        {"id": str(i), "text": p, "text_pair": h, "label": ["entailment", "contradiction"][i % 2]}
        for i, (p, h) in enumerate(zip(premise, hypothesis, strict=True))
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    result = LabelIssues(folds=3)(data)
    assert result.kept.num_rows == 24
    issues = result.artifacts["issues"]
    assert issues.schema.field("text_pair").type == pa.string()


def test_bad_column_is_a_clear_error(reviews):
    with pytest.raises(ConfigError, match="needs a .*column .* in its input"):
        LabelIssues(pred_probs_column="nope")(reviews)
    with pytest.raises(ConfigError, match="list<float>"):
        LabelIssues(pred_probs_column="text")(reviews)


def test_wrong_probability_count_is_an_error():
    rows = [{"id": str(i), "text": "t", "label": "ab"[i % 2], "probs": [0.5, 0.3, 0.2]} for i in range(4)]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    with pytest.raises(ConfigError, match="expected 2 probabilities"):
        LabelIssues(pred_probs_column="probs")(data)


def test_single_row_label_is_a_clear_error():
    rows = [{"id": str(i), "text": f"문장 {i}", "label": "a" if i else "b"} for i in range(6)]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    with pytest.raises(ConfigError, match="class 'b' has only 1 row"):
        LabelIssues()(data)


def test_bad_params():
    with pytest.raises(ConfigError, match="folds"):
        LabelIssues(folds=1)
    with pytest.raises(ConfigError, match="model"):
        LabelIssues(model="bert")
