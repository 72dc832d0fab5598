"""``curate bias`` as a user runs it: summary tables, artifact tables, comparisons, one-line errors."""

import pyarrow.parquet as pq

from curate import io
from curate.dataset import Dataset
from tests.conftest import REPO, mrc_table, without_progress
from tests.test_cli import curate

REVIEWS = REPO / "sample_data" / "reviews_cls.tsv"


def test_classification_summary_and_tables(tmp_path):
    done = curate("bias", REVIEWS, "--min-count", "3", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "one_token_rule" in done.stdout and "shortcut tokens" in done.stdout and "label_by_length" in done.stdout
    assert "wrote 3 tables" in done.stdout
    metrics = pq.read_table(tmp_path / "out" / "bias_metrics.parquet").to_pylist()
    assert {"task": "classification", "section": "dataset", "metric": "rows", "value": 303.0, "detail": None} in metrics


def test_retrieval_folder_and_mrc_file(tmp_path):
    done = curate("bias", REPO / "sample_data" / "retrieval")
    assert done.returncode == 0, done.stderr
    assert "first_share" in done.stdout and "92.3%" in done.stdout
    path = tmp_path / "in.json"
    io.write(Dataset.from_arrow(mrc_table(), "mrc"), path)
    done = curate("bias", path)
    assert done.returncode == 0, done.stderr
    assert "first_sentence_share" in done.stdout and "question_type" in done.stdout


def test_compare_and_run_folder_show_the_shifts(tmp_path):
    cleaned = tmp_path / "positive.tsv"
    rows = io.read(REVIEWS).to_arrow()
    io.write(
        Dataset.from_arrow(rows.filter(rows["label"].to_numpy(zero_copy_only=False) == "positive"), "classification"),
        cleaned,
    )
    done = curate("bias", REVIEWS, "--compare", cleaned, "--min-count", "3", "--out", tmp_path / "cmp")
    assert done.returncode == 0, done.stderr
    assert "shifts from" in done.stdout and "largest share changes" in done.stdout
    assert (tmp_path / "cmp" / "bias_shifts.parquet").exists() and (
        tmp_path / "cmp" / "after" / "bias_tokens.parquet"
    ).exists()
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"name: p\ninput: {{path: '{REVIEWS}', kind: classification}}\noutput: '{tmp_path / 'run'}'\n"
        "stages:\n  - use: sql_filter\n    params: {where: \"label = 'positive'\", reason: negative}\n",
        encoding="utf-8",
    )
    assert curate("run", pipeline).returncode == 0
    done = curate("bias", tmp_path / "run", "--min-count", "3")
    assert done.returncode == 0, done.stderr
    assert f"shifts from {tmp_path / 'run' / 'input' / 'data'}" in done.stdout.replace("\n", "")


def test_user_errors_are_one_line_with_exit_2(tmp_path):
    bad = curate("bias", REVIEWS, "--tokenizer", "bpe")
    assert (
        bad.returncode == 2
        and "--tokenizer" in bad.stderr
        and len(without_progress(bad.stderr).strip().splitlines()) == 1
    )
    path = tmp_path / "in.json"
    io.write(Dataset.from_arrow(mrc_table(), "mrc"), path)
    mixed = curate("bias", REVIEWS, "--compare", path)
    assert mixed.returncode == 2 and "cannot compare diagnoses of two tasks: classification and mrc" in mixed.stderr
    document = curate("bias", REPO / "sample_data" / "documents.jsonl")
    assert document.returncode == 2 and "does not accept kind 'document'" in document.stderr
