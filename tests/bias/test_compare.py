"""Before/after comparison of two diagnoses, and the round trip of a diagnosis through Parquet."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.bias import SHIFT_SCHEMA, Diagnostics, classification_bias, compare, mrc_bias
from tests.bias.test_classification import planted
from tests.conftest import mrc_table


def diagnose(texts, labels):
    return classification_bias([pa.table({"text": texts, "label": labels})])


def test_removing_the_shortcut_rows_shows_as_shifts_of_the_token_the_rule_and_the_shares():
    texts, labels = planted(pos_with=60, neg_with=2)
    before = diagnose(texts, labels)
    kept = [(t, y) for t, y in zip(texts, labels, strict=True) if not ("꿀잼" in t and y == "pos")][:300]
    after = diagnose([t for t, _ in kept], [y for _, y in kept])
    shifts = compare(before, after)
    assert shifts.schema == SHIFT_SCHEMA
    rows = {(r["section"], r["group"], r["name"], r["measure"]): r for r in shifts.to_pylist()}
    token = rows[("shortcut_tokens", "pos", "꿀잼", "p_label")]
    assert token["before"] == pytest.approx(60 / 62) and token["after"] is None and token["change"] is None
    assert rows[("shortcut_tokens", "pos", "꿀잼", "rows")]["before"] == 60
    rule = rows[("one_token_rule", "", "accuracy", "value")]
    assert rule["before"] == pytest.approx(258 / 400) and rule["change"] < 0
    share = rows[("labels", "all", "pos", "share")]
    assert share["before"] == 0.5 and share["after"] == pytest.approx(140 / 300)
    assert share["change"] == pytest.approx(140 / 300 - 0.5)


def test_a_group_missing_on_one_side_has_null_shares_and_a_missing_category_zero():
    before = diagnose(["짧다", "아주 길고 자세한 리뷰"], ["neg", "pos"])
    after = diagnose(["아주 길고 자세한 리뷰", "아주 길고 자세한 리뷰"], ["pos", "neg"])
    rows = {(r["section"], r["group"], r["name"]): r for r in compare(before, after).to_pylist()}
    assert rows[("label_by_length", "0-9", "neg")]["after"] is None
    assert rows[("label_by_length", "10-19", "neg")]["before"] == 0.0
    assert rows[("label_by_length", "10-19", "neg")]["after"] == 0.5


def test_diagnoses_of_different_tasks_do_not_compare():
    with pytest.raises(ValueError, match="cannot compare diagnoses of two tasks: classification and mrc"):
        compare(diagnose(["좋다"], ["pos"]), mrc_bias([mrc_table()]))


def test_a_diagnosis_reads_back_from_its_parquet_artifacts(tmp_path):
    texts, labels = planted()
    result = diagnose(texts, labels)
    for name, table in result.artifacts().items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    back = Diagnostics.from_artifacts({p.stem: pq.read_table(p) for p in tmp_path.glob("*.parquet")})
    assert back == result
    assert all(r["change"] in (None, 0.0) for r in compare(back, result).to_pylist())
    mrc = mrc_bias([mrc_table()])
    assert Diagnostics.from_artifacts({k: v for k, v in mrc.artifacts().items() if k != "bias_tokens"}) == mrc
    with pytest.raises(ValueError, match="one task"):
        Diagnostics.from_artifacts(
            {**result.artifacts(), "bias_metrics": pa.concat_tables([result.metrics, mrc.metrics])}
        )
