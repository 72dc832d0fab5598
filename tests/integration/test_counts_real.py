"""Flag and rewrite counts, and every rejected row of a run in one table, on real data from
../shared/data (NSMC reviews, XQuAD) and on the demo: the numbers in stats.json, manifest.json,
report.md and the terminal summary are the numbers the written files hold.
"""

from __future__ import annotations

import glob
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import curate
from curate.errors import InputError
from curate.pipeline import RunResult, run_pipeline
from curate.report.summary import summary_table
from curate.sql import connect
from tests.conftest import REPO, needs_shared


def run(config: dict, folder: Path) -> RunResult:
    return run_pipeline({"name": "counts", **config}, output=folder)


@pytest.fixture(scope="module")
def nsmc_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """50,000 NSMC reviews: normalized, PII only flagged, korean_quality only flagged, deduplicated."""
    path = needs_shared("nsmc", "binary_sample50k.tsv")
    config = {
        "input": {"path": str(path), "kind": "classification", "columns": {"document": "text"}},
        "stages": [
            {"use": "normalize_text"},
            {"use": "pii", "params": {"action": "flag"}},
            {"use": "korean_quality", "params": {"filter": False}},
            {"use": "exact_dedup"},
        ],
    }
    return run(config, tmp_path_factory.mktemp("nsmc") / "run")


@pytest.fixture(scope="module")
def xquad_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """XQuAD English (1,190 questions): spans checked, normalized, PII redacted, MRC checks flag."""
    path = needs_shared("xquad", "xquad.en.json")
    config = {
        "input": {"path": str(path)},
        "stages": [{"use": "validate_spans"}, {"use": "normalize_text"}, {"use": "pii"}, {"use": "mrc_checks"}],
    }
    return run(config, tmp_path_factory.mktemp("xquad") / "run")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    from curate.pipeline import load_config

    config = load_config(REPO / "pipelines" / "demo.yaml")
    return run_pipeline(config, input=REPO / config.input.path, output=tmp_path_factory.mktemp("demo") / "run")


def query(result: RunResult, sql: str) -> list[tuple]:
    return connect(read_dirs=[result.dir]).execute(sql).fetchall()


def table(result: RunResult, stage: int, name: str = "kept") -> str:
    return f"read_parquet('{result.stages[stage].dir / (name + '.parquet')}')"


def before(result: RunResult, stage: int) -> str:
    """The rows a stage was given: the kept rows of the stage before, or the run's input."""
    return table(result, stage - 1) if stage else f"read_parquet('{result.dir / 'input' / 'data' / '*.parquet'}')"


def listed(result: RunResult, stage: int, column: str) -> dict[str, int]:
    """Kept rows per name in a list column, counted by DuckDB on the written file."""
    rows = query(
        result,
        f"SELECT f, count(*) FROM (SELECT unnest(list_distinct({column})) f FROM {table(result, stage)}) GROUP BY f",
    )
    return {name: n for name, n in rows}


def changed(result: RunResult, stage: int, key: str, columns: list[str]) -> dict[str, int]:
    """Kept rows per column whose value differs from the stage's input, joined on ``key``."""
    found = {}
    for column in columns:
        (n,) = query(
            result,
            f"SELECT count(*) FROM {table(result, stage)} k JOIN {before(result, stage)} i USING ({key}) "
            f"WHERE k.{column} IS DISTINCT FROM i.{column}",
        )[0]
        if n:
            found[column] = n
    return found


def recorded(result: RunResult, stage: int) -> dict:
    """The stage's counts as stats.json and manifest.json hold them (checked to agree)."""
    stats = json.loads((result.stages[stage].dir / "stats.json").read_text())
    manifest = json.loads((result.dir / "manifest.json").read_text())["stages"][stage]
    keys = ("rows_flagged", "flags", "rows_rewritten", "rewrites")
    assert {k: manifest[k] for k in keys} == {k: stats[k] for k in keys}
    return stats


def terminal(result: RunResult) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(summary_table(result))
    return console.export_text()


def test_flag_only_stages_on_nsmc_count_what_their_columns_hold(nsmc_run):
    pii, quality = recorded(nsmc_run, 1), recorded(nsmc_run, 2)
    assert pii["rows_rejected"] == 0 and quality["rows_rejected"] == 0
    kinds = listed(nsmc_run, 1, "pii_kinds")
    assert kinds and pii["flags"] == kinds
    assert (
        pii["rows_flagged"]
        == query(nsmc_run, f"SELECT count(*) FROM {table(nsmc_run, 1)} WHERE len(pii_kinds) > 0")[0][0]
    )
    # korean_quality flags the rows filter: true would reject, for the same reasons: run it on the written rows
    strict = curate.stages.get_stage_class("korean_quality")()
    again = strict(pq.read_table(nsmc_run.stages[2].dir / "kept.parquet"), kind="classification")
    assert quality["flags"] == again.stats.reasons and quality["rows_flagged"] == again.stats.rows_rejected > 0
    normalized = recorded(nsmc_run, 0)
    assert normalized["rewrites"] == changed(nsmc_run, 0, "id", ["text"]) and normalized["rows_rewritten"] > 0
    dedup = recorded(nsmc_run, 3)
    conflicted = query(nsmc_run, f"SELECT count(*) FROM {table(nsmc_run, 3)} WHERE len(dedup_conflicts) > 0")[0][0]
    assert dedup["flags"] == {"label_conflict": conflicted} and dedup["rows_flagged"] == conflicted


def test_nsmc_counts_show_in_the_terminal_summary_and_report(nsmc_run):
    quality = nsmc_run.stages[2].stats
    text = terminal(nsmc_run)
    line = next(line for line in text.splitlines() if line.split()[:1] == ["korean_quality"])
    assert line.split()[:7] == [
        "korean_quality",
        "filter",
        "50,000",
        "50,000",
        "0",
        f"{quality.rows_flagged:,}",
        "0",
    ]
    flags = ", ".join(f"{k} {v:,}" for k, v in sorted(quality.flags.items(), key=lambda kv: -kv[1]))
    assert f"korean_quality: flagged: {flags}" in text
    report = (nsmc_run.dir / "report.md").read_text()
    assert (
        f"| korean_quality | filter | 50,000 | 50,000 | 0 | {quality.rows_flagged:,} | 0 | flagged: {flags} |" in report
    )


def test_rewrites_on_xquad_are_the_rows_that_changed(xquad_run):
    normalized = recorded(xquad_run, 1)
    assert normalized["rewrites"] == changed(
        xquad_run, 1, "id", ["context", "question", "answers", "plausible_answers"]
    )
    (rows,) = query(
        xquad_run,
        f"SELECT count(*) FROM {table(xquad_run, 1)} k JOIN {before(xquad_run, 1)} i USING (id) WHERE "
        "k.context IS DISTINCT FROM i.context OR k.question IS DISTINCT FROM i.question "
        "OR k.answers IS DISTINCT FROM i.answers OR k.plausible_answers IS DISTINCT FROM i.plausible_answers",
    )[0]
    assert normalized["rows_rewritten"] == rows > 0
    flags = recorded(xquad_run, 3)
    assert flags["flags"] == listed(xquad_run, 3, "mrc_flags") and flags["rows_flagged"] > 0
    spans = recorded(xquad_run, 0)
    repaired = query(xquad_run, f"SELECT count(*) FROM {table(xquad_run, 0)} WHERE span_repair IS NOT NULL")[0][0]
    assert spans["rows_rewritten"] == repaired


def test_demo_counts_span_repairs_normalization_and_pii_redaction_per_kind(demo):
    spans = recorded(demo, 0)
    notes = [r[0] for r in query(demo, f"SELECT span_repair FROM {table(demo, 0)} WHERE span_repair IS NOT NULL")]
    codes: dict[str, int] = {}
    for note in notes:
        for code in set(re.findall(r"(\w+), answer_start", note)):
            codes[code] = codes.get(code, 0) + 1
    assert spans["rows_rewritten"] == len(notes) > 0 and spans["rewrites"] == codes
    normalized = recorded(demo, 1)
    assert normalized["rewrites"] == changed(demo, 1, "id", ["context", "question", "answers", "plausible_answers"])
    pii = recorded(demo, 7)
    fields = ["context", "question", "answers"]
    redacted = query(
        demo,
        f"SELECT k.pii_kinds FROM {table(demo, 7)} k JOIN {before(demo, 7)} i USING (id) WHERE "
        + " OR ".join(f"k.{c} IS DISTINCT FROM i.{c}" for c in fields),
    )
    per_kind: dict[str, int] = {}
    for (kinds,) in redacted:
        for kind in kinds:
            per_kind[kind] = per_kind.get(kind, 0) + 1
    assert pii["rows_rewritten"] == len(redacted) > 0 and pii["rewrites"] == per_kind
    shown = next(line for line in terminal(demo).splitlines() if line.startswith("pii: "))
    assert shown.startswith("pii: rejected: pii_in_answer 1; rewritten: ")
    assert all(f"{kind} {n}" in shown for kind, n in per_kind.items())


def test_every_rejected_row_of_a_run_in_one_table(demo):
    every = curate.rejected_rows(demo.dir)
    stages = [run.id for run in demo.stages]
    assert every.num_rows == sum(run.stats.rows_rejected for run in demo.stages)
    order = [stages.index(s) for s in every.column("reject_stage").to_pylist()]
    assert order == sorted(order)  # stage order kept
    rows = every.to_pylist()
    gopher = [r for r in rows if r["reject_stage"] == "gopher_quality"]
    assert gopher and all(r["gopher_function_word_ratio"] is not None for r in gopher)  # scores kept
    assert all(r["gopher_function_word_ratio"] is None for r in rows if r["reject_stage"] == "validate_spans")
    assert (
        every.schema.field("answers").type
        == pq.ParquetDataset(demo.stages[0].dir / "rejected.parquet").schema.field("answers").type
    )
    pii = curate.rejected_rows(demo.dir, stage="08_pii", reason="pii_in_answer")
    assert pii.num_rows == 1 and pii.column("reject_stage").to_pylist() == ["pii"]
    with pytest.raises(InputError, match=r"no stage 'nope'.*stages: validate_spans, normalize_text"):
        curate.rejected_rows(demo.dir, stage="nope")
    with pytest.raises(InputError, match=r"no rows rejected for 'nope' in stage 'pii'.*reasons: pii_in_answer"):
        curate.rejected_rows(demo.dir, stage="pii", reason="nope")


def test_rejected_files_read_together_with_polars_and_the_report_sql(demo):
    files = sorted(glob.glob(str(demo.dir / "*" / "rejected.parquet")))
    every = curate.rejected_rows(demo.dir)
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_parquet(files)  # differing columns: the plain call fails, hence the documented one
    together = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    assert together.shape == (every.num_rows, every.num_columns)
    scores = every.column("gopher_function_word_ratio")
    assert together["gopher_function_word_ratio"].null_count() == scores.null_count < every.num_rows
    report = (demo.dir / "report.md").read_text()
    sql = re.search(r"```sql\n(.*?)```", report, re.S).group(1)
    assert "union_by_name = true" in sql
    counted = {(s, r): n for s, r, n in connect(read_dirs=[demo.dir]).execute(sql).fetchall()}
    assert counted == {(run.id, r): n for run in demo.stages for r, n in run.stats.reasons.items()}


def test_cli_prints_writes_and_rejects_bad_names(demo, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True)

    shown = cli("rejected", demo.dir, "--stage", "pii")
    assert shown.returncode == 0, shown.stderr
    assert (
        shown.stdout.startswith("1 rejected rows: pii/pii_in_answer 1")
        and "pii_in_answer" in shown.stdout.splitlines()[2]
    )
    out = tmp_path / "rejected.parquet"
    written = cli("rejected", demo.dir, "--out", out)
    assert written.returncode == 0, written.stderr
    assert pq.read_table(out).num_rows == sum(run.stats.rows_rejected for run in demo.stages)
    bad = cli("rejected", demo.dir, "--reason", "typo")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "no rows rejected for 'typo'" in bad.stderr and "near_duplicate" in bad.stderr


def test_a_stage_recorded_without_flag_and_rewrite_counts_runs_again(demo, tmp_path):
    import shutil

    from curate.pipeline import load_config

    folder = tmp_path / "run"
    shutil.copytree(demo.dir, folder)
    record_path = folder / demo.stages[7].dir.name / "stats.json"  # pii
    record = json.loads(record_path.read_text())
    for key in ("rows_flagged", "rows_rewritten", "rewrites"):
        del record[key]
    record_path.write_text(json.dumps(record))
    config = load_config(REPO / "pipelines" / "demo.yaml")
    again = run_pipeline(config, input=REPO / config.input.path, output=folder)
    assert [run.id for run in again.stages if not run.resumed] == ["pii"]
    assert json.loads(record_path.read_text())["rewrites"] == demo.stages[7].stats.rewrites
