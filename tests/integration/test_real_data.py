"""Real third-party data from ../shared/data (skipped with a message when the folder is absent)."""

import json
import random
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from curate import io
from curate.errors import InputError
from curate.pipeline import run_pipeline
from curate.validate import find_problems
from tests.conftest import needs_shared

XQUAD_LANGS = "ar de el en es hi ro ru th tr vi zh".split()


@pytest.mark.parametrize("lang", XQUAD_LANGS)
def test_xquad_squad_parquet_squad_is_lossless(lang, tmp_path):
    source = needs_shared("xquad", f"xquad.{lang}.json")
    dataset = io.read(source)
    io.write(dataset, tmp_path / "x.parquet")
    back = io.read(tmp_path / "x.parquet")
    assert back.kind == "mrc" and back.num_rows == dataset.num_rows == 1190
    io.write(back, tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8")) == json.loads(
        source.read_text(encoding="utf-8")
    )


def shifted_copy(source, out, seed=11, every=7):
    """Shift every ``every``-th answer by 1-5 code points; return {(qid, answer index): true start}."""
    doc = json.loads(source.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    truth, n = {}, 0
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                for i, answer in enumerate(qa["answers"]):
                    n += 1
                    if n % every:
                        continue
                    start = answer["answer_start"] + rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])
                    if start < 0 or context[start : start + len(answer["text"])] == answer["text"]:
                        continue
                    truth[(qa["id"], i)] = answer["answer_start"]
                    answer["answer_start"] = start
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return truth


@pytest.mark.parametrize("lang", ["en", "zh", "th"])
def test_shifted_offsets_are_reported_exactly_and_repaired_to_the_original(lang, tmp_path):
    source = needs_shared("xquad", f"xquad.{lang}.json")
    broken = tmp_path / "broken.json"
    truth = shifted_copy(source, broken)
    assert len(truth) > 100
    problems = find_problems(io.read(broken)).problems.to_pylist()
    reported = {(p["id"], int(p["field"].split("[")[1].split("]")[0])) for p in problems}
    assert reported == set(truth)
    assert {p["problem"] for p in problems} <= {"span_mismatch", "offset_out_of_range"}
    repaired = tmp_path / "repaired.json"
    result = subprocess.run(
        [sys.executable, "-m", "curate", "validate", broken, "--report", tmp_path / "r.csv", "--repair", repaired],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(repaired.read_text(encoding="utf-8")) == json.loads(source.read_text(encoding="utf-8"))
    assert len((tmp_path / "r.csv").read_text().splitlines()) == len(truth) + 1


def test_pipeline_on_real_data_conserves_rows_resumes_and_reports_corruption(tmp_path):
    source = needs_shared("xquad", "xquad.zh.json")
    data = tmp_path / "zh.json"
    data.write_bytes(source.read_bytes())
    config = {
        "name": "real",
        "input": {"path": str(data)},
        "output": {"dir": str(tmp_path / "run")},
        "stages": [
            {"use": "validate_spans"},
            {"use": "normalize_text", "params": {"unicode": "nfkc"}},
            {"use": "exact_dedup"},
            {"use": "length_filter", "params": {"field": "context", "min": 200}},
        ],
    }
    first = run_pipeline(config)
    rows = first.input_rows
    for run in first.stages:
        kept = pq.read_table(run.dir / "kept.parquet", columns=[]).num_rows
        rejected = pq.read_table(run.dir / "rejected.parquet", columns=[]).num_rows
        assert kept + rejected == rows
        rows = kept
    assert first.stages[2].stats.rows_rejected > 0  # XQuAD zh repeats some questions on a passage
    assert find_problems(first.output).clean
    second = run_pipeline(config)
    assert all(run.resumed for run in second.stages)
    assert second.output.num_rows == first.output.num_rows
    data.write_text(source.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    with pytest.raises(InputError) as info:
        run_pipeline(config)
    message = str(info.value)
    assert "malformed JSON" in message and "zh.json" in message and "line" in message and "\n" not in message


def test_korean_tsv_with_other_column_names_fits_classification():
    path = needs_shared("korean_hate_speech", "labeled", "train.tsv")
    dataset = io.read(path, kind="classification", rename={"comments": "text", "hate": "label"})
    assert dataset.num_rows == 7896
    assert set(dataset.to_arrow().column("label").to_pylist()) == {"hate", "offensive", "none"}
    ids = dataset.to_arrow().column("id").to_pylist()
    assert ids[:2] == ["train-1", "train-2"] and len(set(ids)) == len(ids)


def test_a_filter_rejecting_every_nsmc_review_warns_and_exits_2_instead_of_an_empty_output(tmp_path):
    source = needs_shared("nsmc", "binary_sample50k.tsv")
    reviews = tmp_path / "reviews.tsv"
    with source.open("rb") as lines:  # bytes: a review holds a carriage return
        reviews.write_bytes(b"".join(next(lines) for _ in range(5001)))  # the header and 5,000 reviews
    pipeline = tmp_path / "reviews.yaml"
    pipeline.write_text(
        f"name: reviews\ninput: {{path: {reviews}, kind: classification, columns: {{document: text}}}}\n"
        f"output: {tmp_path / 'run'}\nstages:\n  - use: gopher_quality\n",
        encoding="utf-8",
    )
    run = [sys.executable, "-m", "curate", "run", pipeline]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 2
    warning, error = result.stderr.strip().splitlines()[-2:]
    assert warning == (
        "warning: stage 'gopher_quality' rejected 5,000 of 5,000 rows (100.0%), more than warn_reject_share 0.5 "
        "(gopher_word_count 5,000; rows in 01_gopher_quality/rejected.parquet)"
    )
    assert error.startswith("error: every remaining row was rejected, so the output would be empty at stage")
    assert not (tmp_path / "run" / "output.parquet").exists() and not (tmp_path / "run" / "manifest.json").exists()
    assert pq.read_table(tmp_path / "run" / "01_gopher_quality" / "rejected.parquet", columns=[]).num_rows == 5000
    pipeline.write_text(pipeline.read_text(encoding="utf-8") + "allow_empty_output: true\n", encoding="utf-8")
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert warning in result.stderr and "(0 rows)" in result.stdout
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warnings"] == [warning.removeprefix("warning: ")]
    assert warning.removeprefix("warning: ") in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")


def test_label_studio_corrections_never_land_on_another_comment_of_a_resorted_file(tmp_path):
    """Korean hate-speech comments have no id column: ids are row positions, so re-sorting the file
    moves them. A correction is applied only where the row still shows the annotated comment."""
    from curate.annotate import export_tasks, import_annotations

    path = needs_shared("korean_hate_speech", "labeled", "dev.tsv")
    columns = {"comments": "text", "hate": "label"}
    rows = io.read(path, kind="classification", rename=columns)
    tasks, _ = export_tasks(rows, kind="classification")
    labels = rows.column("label").to_pylist()
    relabeled = [t for t, label in zip(tasks, labels, strict=True) if label == "none"][:20]
    for task in relabeled:
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["offensive"]}}]
        task["annotations"] = [{"result": result, "completed_by": 5, "updated_at": "2026-05-01T09:00:00.123456Z"}]
    corrected = {t["data"]["text"] for t in relabeled}

    same, _ = import_annotations(rows, tasks, kind="classification")
    assert same.column("annotated_by").to_pylist().count("5") == 20

    header, *lines = path.read_text(encoding="utf-8").splitlines()
    resorted_path = tmp_path / path.name  # same file name, so the generated ids are the same
    resorted_path.write_text("\n".join([header, *sorted(lines)]) + "\n", encoding="utf-8")
    resorted = io.read(resorted_path, kind="classification", rename=columns)
    out, report = import_annotations(resorted, tasks, kind="classification")
    changed = [r for r in out.to_arrow().to_pylist() if r["annotated_by"] is not None]
    assert all(r["text"] in corrected and r["label"] == "offensive" for r in changed)
    assert all(r["annotated_at"] == "2026-05-01T09:00:00.123456Z" for r in changed)
    statuses = report.column("status").to_pylist()
    moved = sum(
        a != b for a, b in zip(rows.column("text").to_pylist(), resorted.column("text").to_pylist(), strict=True)
    )
    assert statuses.count("mismatch") == moved > 400
    annotated = [statuses[tasks.index(t)] for t in relabeled]
    assert statuses.count("updated") == annotated.count("updated") == len(changed)
    assert annotated.count("mismatch") + len(changed) == 20
