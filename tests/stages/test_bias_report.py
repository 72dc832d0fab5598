"""``bias_report``: every row kept unchanged, the diagnosis as artifacts and in the run report."""

import pytest

from curate import io
from curate.errors import ConfigError
from curate.pipeline import run_pipeline
from curate.stages import BiasReport
from tests.conftest import REPO

REVIEWS = REPO / "sample_data" / "reviews_cls.tsv"
RETRIEVAL = REPO / "sample_data" / "retrieval"


def test_keeps_every_row_unchanged_and_writes_the_diagnosis():
    data = io.read(REVIEWS, kind="classification")
    result = BiasReport(min_count=3)(data)
    assert result.kept.to_arrow().equals(data.to_arrow()) and result.rejected.num_rows == 0
    assert result.stats.rows_kept == data.num_rows and result.stats.reasons == {}
    assert set(result.artifacts) == {"bias_metrics", "bias_distributions", "bias_tokens"}
    metrics = {(r["section"], r["metric"]): r["value"] for r in result.artifacts["bias_metrics"].to_pylist()}
    assert metrics[("dataset", "rows")] == data.num_rows


def test_qrels_are_judged_against_their_corpus_which_is_required():
    qrels = io.read(RETRIEVAL, kind="qrels")
    result = BiasReport(corpus=str(RETRIEVAL))(qrels)
    assert result.kept.num_rows == qrels.num_rows
    first = [r for r in result.artifacts["bias_metrics"].to_pylist() if r["metric"] == "first_share"]
    assert first[0]["value"] == pytest.approx(36 / 39)
    with pytest.raises(ConfigError, match="missing parameter 'corpus'"):
        BiasReport()(qrels)
    with pytest.raises(ConfigError, match="corpus not found"):
        BiasReport(corpus="no/such/folder", queries=str(RETRIEVAL))(qrels)


def test_a_missing_text_column_and_bad_ngram_range_are_config_errors():
    data = io.read(REVIEWS, kind="classification")
    with pytest.raises(ConfigError, match="needs a string column .review.*columns: "):
        BiasReport(field="review")(data)
    with pytest.raises(ConfigError, match="ngram_min"):
        BiasReport(ngram_min=4, ngram_max=2)


def test_a_run_with_two_bias_reports_writes_both_and_the_shifts_into_the_report(tmp_path):
    config = {
        "name": "bias",
        "input": {"path": str(REVIEWS), "kind": "classification"},
        "output": str(tmp_path / "run"),
        "stages": [
            {"use": "bias_report", "id": "before", "params": {"min_count": 3}},
            {"use": "sql_filter", "params": {"where": "label = 'positive'", "reason": "negative"}},
            {"use": "bias_report", "id": "after", "params": {"min_count": 3}},
        ],
    }
    run = run_pipeline(config)
    assert sorted(p.name for p in (run.dir / "01_before").glob("bias_*.parquet")) == [
        "bias_distributions.parquet",
        "bias_metrics.parquet",
        "bias_tokens.parquet",
    ]
    report = (run.dir / "report.md").read_text(encoding="utf-8")
    assert "## Bias" in report and "### `before`" in report and "### `after`" in report
    assert "### Shifts from `before` to `after`" in report
    shifts = report.split("### Shifts")[1]
    assert "| labels | all | negative | " in shifts and "| -" in shifts  # the filter took the negatives out
