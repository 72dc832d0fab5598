"""Progress: phases reported by stages and engines, plain lines off a terminal, --quiet, run.log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate import io, progress
from curate.pipeline import Reporter, run_pipeline
from curate.stages import MinHashDedup
from curate.stages.label_issues import LabelIssues

REVIEWS = Path(__file__).resolve().parents[1] / "sample_data" / "reviews_cls.tsv"
LINE = re.compile(r"^\[curate\] ")


def curate(*args, cwd=None):
    """The CLI in a subprocess: stderr is a pipe, not a terminal."""
    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def progress_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if LINE.match(line)]


@pytest.fixture(scope="module")
def reviews():
    return io.read(REVIEWS)


class Steps:
    """A listener that keeps every step."""

    def __init__(self):
        self.steps: list[tuple[str, int, int | None, str]] = []

    def __call__(self, phase, done, total, unit):
        self.steps.append((phase, done, total, unit))

    def phases(self) -> list[str]:
        return list(dict.fromkeys(step[0] for step in self.steps))

    def last(self, phase):
        return [step for step in self.steps if step[0] == phase][-1]


# ----------------------------------------------------------------- the interface


def test_a_planned_stage_reports_the_phases_of_its_plan_then_its_rows(reviews):
    steps = Steps()
    with progress.listening(steps):
        result = MinHashDedup(threshold=0.7)(reviews)
    n = reviews.num_rows
    phases = steps.phases()
    assert phases[:4] == ["shingling", "LSH bands", "signatures", "clustering"], phases
    assert phases[-1] == "rows"
    assert steps.last("shingling") == ("shingling", n, n, "rows")
    bands = MinHashDedup(threshold=0.7).params.lsh().bands
    assert steps.last("LSH bands")[1:4] == (bands, bands, "bands")
    assert steps.last("rows") == ("rows", n, n, "rows")
    assert result.stats.rows_kept + result.stats.rows_rejected == n
    rows = [done for phase, done, _, _ in steps.steps if phase == "rows"]
    assert rows == sorted(rows) and rows[0] == 0


def test_label_issues_report_each_fold(reviews):
    steps = Steps()
    with progress.listening(steps):
        LabelIssues(folds=3)(reviews)
    folds = [(done, total) for phase, done, total, unit in steps.steps if phase == "cross-validation"]
    assert folds == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert steps.last("confident learning")[1:3] == (reviews.num_rows, reviews.num_rows)


def test_without_a_listener_nothing_is_reported_and_results_are_the_same(reviews):
    quiet = MinHashDedup(threshold=0.7)(reviews)
    steps = Steps()
    with progress.listening(steps):
        heard = MinHashDedup(threshold=0.7)(reviews)
    assert steps.steps
    assert quiet.kept.to_arrow().equals(heard.kept.to_arrow())
    progress.step("nobody", 1, 2)  # no listener: nothing happens, nothing fails


def test_scorers_step_rows_inside_a_batch_counted_on_the_whole_dataset(reviews, monkeypatch):
    from curate.stages import get_stage_class, scoring

    monkeypatch.setattr(scoring, "SCORE_ROWS", 50)
    stage = get_stage_class("korean_quality")()
    assert isinstance(stage, scoring.ScoreStage)
    steps = Steps()
    with progress.listening(steps):
        stage.execute(reviews, batch_rows=200)
    rows = [done for phase, done, _, _ in steps.steps if phase == "rows"]
    assert rows == sorted(rows) and rows[-1] == reviews.num_rows and 250 in rows


def test_plain_lines_say_start_and_end_of_each_phase_and_throttle_between():
    written: list[str] = []
    lines = progress.Lines(written.append, interval=3600)
    lines.begin("03_near_dedup")
    for done in range(0, 101, 10):
        lines.step("signatures", done, 100, "rows")
    lines.step("rows", 100, 100, "rows")
    lines.step("rows", 100, 100, "rows")  # the same last step again: no second phase
    lines.step("folds", 1, None, "folds")
    lines.end(stopped=True)
    assert written == [
        "[curate] 03_near_dedup: signatures started (100 rows)",
        "[curate] 03_near_dedup: signatures done, 100/100 rows (0 s)",
        "[curate] 03_near_dedup: rows started (100 rows)",
        "[curate] 03_near_dedup: rows done, 100/100 rows (0 s)",
        "[curate] 03_near_dedup: folds started",
        "[curate] 03_near_dedup: folds stopped at 1 folds (0 s)",
    ]
    every: list[str] = []
    lines = progress.Lines(every.append, interval=0)
    lines.begin("dedup")
    lines.step("signatures", 0, 100_000, "rows")
    lines.step("signatures", 40_000, 100_000, "rows")
    assert every[-1] == "[curate] dedup: signatures 40,000/100,000 rows (0 s)"


# ----------------------------------------------------------------- the CLI, not on a terminal


def test_dedup_command_prints_phase_lines_with_the_right_counts(tmp_path, reviews):
    out = tmp_path / "kept.parquet"
    done = curate("dedup", REVIEWS, out, "--threshold", "0.7")
    assert done.returncode == 0, done.stderr
    n = reviews.num_rows
    lines = progress_lines(done.stderr)
    assert f"[curate] dedup: shingling started ({n:,} rows)" in lines
    assert any(line.startswith(f"[curate] dedup: shingling done, {n:,}/{n:,} rows (") for line in lines), lines
    bands = MinHashDedup(threshold=0.7).params.lsh().bands
    assert any(line.startswith(f"[curate] dedup: LSH bands done, {bands}/{bands} bands (") for line in lines), lines
    assert any(line.startswith(f"[curate] dedup: rows done, {n:,}/{n:,} rows (") for line in lines), lines
    kept = pq.ParquetFile(out).metadata.num_rows
    assert any(line.startswith(f"[curate] dedup: writing kept.parquet done, {kept:,}/{kept:,} rows") for line in lines)
    assert f"{n:,} rows: kept {kept:,}, removed {n - kept:,}" in done.stdout
    assert not any("\x1b[" in line for line in done.stderr.splitlines())  # no bars or colours in a log


def test_quiet_prints_no_progress_but_the_result(tmp_path, reviews):
    done = curate("dedup", REVIEWS, tmp_path / "kept.parquet", "--threshold", "0.7", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"{reviews.num_rows:,} rows: kept" in done.stdout
    issues = curate("label-issues", REVIEWS, "--folds", "3", "-q")
    assert issues.returncode == 0 and issues.stderr == "", issues.stderr
    assert "have a likely label issue" in issues.stdout


def test_label_issues_command_prints_its_folds():
    done = curate("label-issues", REVIEWS, "--folds", "3", "--top", "1")
    assert done.returncode == 0, done.stderr
    lines = progress_lines(done.stderr)
    assert lines[0] == "[curate] label-issues: reading reviews_cls.tsv started"
    assert "[curate] label-issues: cross-validation started (3 folds)" in lines
    assert any(line.startswith("[curate] label-issues: cross-validation done, 3/3 folds (") for line in lines)


def test_an_error_ends_the_phase_as_stopped_and_is_the_last_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": }\n', encoding="utf-8")
    done = curate("dedup", bad, tmp_path / "out.parquet", "--kind", "document")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("error: ") and lines[-2].startswith("[curate] dedup: reading bad.jsonl stopped at")
    assert [line for line in lines if not LINE.match(line)] == lines[-1:]


# ----------------------------------------------------------------- curate run and run.log


def write_pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    config = {
        "name": "reviews",
        "input": {"path": str(REVIEWS)},
        "output": str(tmp_path / "run"),
        "stages": [
            {"use": "normalize_text"},
            {"use": "minhash_dedup", "id": "near_dedup", "params": {"threshold": 0.7}},
            {"use": "label_issues", "params": {"folds": 3}},
        ],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_run_prints_stage_and_phase_lines_and_writes_run_log(tmp_path, reviews):
    path = write_pipeline(tmp_path)
    done = curate("run", path)
    assert done.returncode == 0, done.stderr
    n = reviews.num_rows
    run_dir = tmp_path / "run"
    dedup_in = pq.read_table(run_dir / "01_normalize_text" / "kept.parquet", columns=[]).num_rows
    kept = pq.read_table(run_dir / "02_near_dedup" / "kept.parquet", columns=[]).num_rows
    lines = progress_lines(done.stderr)
    assert f"[curate] 01_normalize_text: started (normalize_text, {n:,} rows)" in lines
    assert f"[curate] 02_near_dedup: started (minhash_dedup, {dedup_in:,} rows)" in lines
    for phase in ("shingling", "LSH bands", "signatures", "clustering", "rows"):
        assert any(line.startswith(f"[curate] 02_near_dedup: {phase} done, ") for line in lines), (phase, lines)
    assert "[curate] 03_label_issues: cross-validation started (3 folds)" in lines
    assert f"log: {run_dir / 'run.log'}" in done.stdout

    log = (run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \[curate\] ", line) for line in log), log
    text = "\n".join(log)
    assert "[curate] run 'reviews' started" in log[0]
    for index, stage in enumerate(["normalize_text", "near_dedup", "label_issues"], start=1):
        assert f"[curate] {index:02d}_{stage}: started (" in text
    assert f"[curate] 02_near_dedup: {dedup_in:,} in, {kept:,} kept, {dedup_in - kept:,} rejected" in text
    assert "[curate] 03_label_issues: cross-validation done, 3/3 folds" in text
    output = pq.ParquetFile(run_dir / "output.parquet").metadata.num_rows
    assert f"[curate] run 'reviews' finished: output.parquet {output:,} rows" in log[-1]

    again = curate("run", path, "--quiet")  # resumed: appended, and quiet on stderr
    assert again.returncode == 0, again.stderr
    assert progress_lines(again.stderr) == [] and "01_normalize_text" not in again.stderr
    assert "output:" in again.stdout
    log_again = (run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    assert log_again[: len(log)] == log
    added = "\n".join(log_again[len(log) :])
    assert added.count("(resumed)") == 3 and "finished" in added


def test_run_log_records_the_error_that_stopped_a_run(tmp_path):
    path = write_pipeline(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["stages"].append({"use": "sql_filter", "params": {"where": "no_such_column > 1"}})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    done = curate("run", path, "-q")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: ")
    log = (tmp_path / "run" / "run.log").read_text(encoding="utf-8").splitlines()
    assert "[curate] error: " in log[-1] and "04_sql_filter: started" in "\n".join(log)


def test_python_api_stays_quiet_and_still_writes_run_log(tmp_path, capfd):
    class Phases(Reporter):
        def __init__(self):
            self.steps = Steps()

        def progress(self, phase, done, total, unit):
            self.steps(phase, done, total, unit)

    reporter = Phases()
    result = run_pipeline(write_pipeline(tmp_path), reporter=reporter)
    captured = capfd.readouterr()
    assert captured.out == "" and "[curate]" not in captured.err
    assert "cross-validation" in reporter.steps.phases() and "shingling" in reporter.steps.phases()
    assert (result.dir / "run.log").is_file()


def test_duckdb_draws_no_bar_of_its_own():
    """A query streaming a stage's batches would draw DuckDB's bar over curate's, and past --quiet."""
    from curate import sql

    assert sql.connect().sql("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
