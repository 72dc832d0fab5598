"""Pipelines under every executor: each stage of the demo and classification pipelines, its batches
split by local processes or by a real two-node Ray cluster (16 rows a batch, so many tasks), writes
the same kept and rejected rows, counts, artifacts and output as in this process. A worker killed
mid-stage is run again by Ray with the same output; under processes the run ends in one line,
publishes no part of the stage and a re-run resumes the finished stages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import io, objects
from curate.dataset import Dataset
from curate.errors import ConfigError, ExecutorError, OutputError
from curate.executors import ExecutorSettings, make_executor
from curate.pipeline import load_config, run_pipeline
from curate.stages.exact_dedup import ExactDedup
from curate.stages.normalize_text import NormalizeText
from tests.conftest import REPO, needs_shared, without_progress

BATCH_ROWS = 16
DIE_ONCE = "tests.executors.dying_stage:DieOnce"


def pipeline(name: str, out: Path, **changes: Any) -> dict[str, Any]:
    """``pipelines/<name>.yaml`` as a dict: its input made absolute, output ``out``, 16-row batches."""
    spec = yaml.safe_load((REPO / "pipelines" / f"{name}.yaml").read_text(encoding="utf-8"))
    spec["input"]["path"] = str(REPO / spec["input"]["path"])
    output = spec.get("output")
    output = {**output, "dir": str(out)} if isinstance(output, dict) else {"dir": str(out)}
    return {**spec, "output": output, "batch_rows": BATCH_ROWS, **changes}


def settings(name: str, request: pytest.FixtureRequest) -> ExecutorSettings:
    if name == "ray":
        return ExecutorSettings(name="ray", address=request.getfixturevalue("ray_cluster"))
    return ExecutorSettings(name=name, workers=2)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The folder of a pipeline run in this process (each pipeline run once for the module)."""
    runs: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in runs:
            runs[name] = run_pipeline(pipeline(name, tmp_path_factory.mktemp("local") / name)).dir
        return runs[name]

    return get


def stage_dirs(run: Path) -> list[Path]:
    return sorted(d for d in run.iterdir() if d.is_dir() and d.name[:2].isdigit())


def untimed(table: pa.Table) -> pa.Table:
    """``table`` without the columns that time a run (``seconds``, ``queries_per_second``)."""
    return table.drop_columns([c for c in table.column_names if c == "seconds" or c.endswith("_per_second")])


def assert_same_run(expected: Path, got: Path) -> None:
    """Every stage of ``got`` has the rows, counts (all but the time) and artifacts of ``expected``,
    and so has the output."""
    assert [d.name for d in stage_dirs(got)] == [d.name for d in stage_dirs(expected)]
    for want, have in zip(stage_dirs(expected), stage_dirs(got), strict=True):
        record, other = (json.loads((d / "stats.json").read_text(encoding="utf-8")) for d in (want, have))
        for name in ("kept.parquet", "rejected.parquet"):  # the same file per batch, written by the tasks
            assert sorted(os.listdir(have / name)) == sorted(os.listdir(want / name)), f"{have.name}/{name}"
            for part in os.listdir(want / name):  # byte for byte
                assert (have / name / part).read_bytes() == (want / name / part).read_bytes(), f"{have.name}/{part}"
        for name in ("kept.parquet", "rejected.parquet", *record["artifacts"]):
            table, same = (untimed(pq.read_table(d / name)) for d in (want, have))
            assert same.schema == table.schema and same.equals(table), f"{have.name}/{name}"
        timed = ("seconds", "files")  # files: their sizes and digests, which differ where a time is inside
        assert {k: v for k, v in other.items() if k not in timed} == {
            k: v for k, v in record.items() if k not in timed
        }, have.name
        assert not [p.name for p in have.iterdir() if p.name.startswith(".")], have.name  # no batch files left
    assert pq.read_table(got / "output.parquet").equals(pq.read_table(expected / "output.parquet"))


# ----------------------------------------------------------------------------- same results


@pytest.mark.parametrize("name", ["demo", "classification"])
@pytest.mark.parametrize("executor", ["processes", "ray"])
def test_every_stage_gives_the_rows_counts_and_artifacts_of_a_local_run(
    executor: str, name: str, local_run: Callable[[str], Path], request: pytest.FixtureRequest, tmp_path: Path
):
    result = run_pipeline(pipeline(name, tmp_path / "run"), executor=settings(executor, request))
    assert not any(run.resumed for run in result.stages)
    assert_same_run(local_run(name), result.dir)
    assert f"executor {executor}" in (result.dir / "run.log").read_text(encoding="utf-8")


def test_switching_executor_resumes_every_finished_stage(local_run: Callable[[str], Path], tmp_path: Path):
    folder = tmp_path / "run"
    shutil.copytree(local_run("demo"), folder)
    again = run_pipeline(pipeline("demo", folder, executor={"name": "processes", "workers": 2}))
    assert again.stages and all(run.resumed for run in again.stages)
    forced = run_pipeline(pipeline("demo", folder), executor="processes", force=True)
    assert not any(run.resumed for run in forced.stages)
    assert_same_run(local_run("demo"), forced.dir)


def test_a_worker_reads_the_batches_a_local_run_streams(tmp_path: Path):
    table = io.read(REPO / "sample_data" / "korquad_sample.json").to_arrow()
    paths = []
    for index, (start, stop, group) in enumerate([(0, 100, 7), (100, 101, 5), (101, 272, 50)]):
        paths.append(tmp_path / f"part-{index}.parquet")
        pq.write_table(table.slice(start, stop - start), paths[-1], row_group_size=group)
    for data in (Dataset.from_parquet(paths, "mrc"), Dataset.from_arrow(table, "mrc")):
        for batch_rows in (1, 16, 300):
            batches = list(data.batches(batch_rows))
            ranges = data.batch_ranges(batch_rows)
            assert [stop - start for start, stop in ranges] == [batch.num_rows for batch in batches]
            assert ranges[0][0] == 0 and ranges[-1][1] == 272
            for batch, (start, stop) in zip(batches, ranges, strict=True):
                read = data.rows(start, stop)
                assert read.schema == batch.schema and read.equals(batch)
    assert Dataset.from_parquet(paths, "mrc").rows(250, 400).num_rows == 22


# ----------------------------------------------------------------------------- nodes without the run's disk


def blind(ray_cluster: str, python: str, **more: Any) -> dict[str, Any]:
    return {"name": "ray", "address": ray_cluster, "runtime_env": {"py_executable": python}, **more}


@pytest.mark.parametrize("name", ["demo", "classification"])
def test_nodes_that_share_no_disk_exchange_the_rows_through_the_object_store(
    name: str, ray_cluster: str, blind_python: str, s3: str, local_run: Callable[[str], Path], tmp_path: Path
):
    executor = blind(ray_cluster, blind_python, storage=f"{s3}/exchange/")
    result = run_pipeline(pipeline(name, tmp_path / "run"), executor=executor)
    assert_same_run(local_run(name), result.dir)
    assert objects.listing(f"{s3}/exchange") == []  # the run's prefix is removed at its end


def test_nodes_that_share_no_disk_and_no_storage_end_in_one_line(ray_cluster: str, blind_python: str, tmp_path: Path):
    with pytest.raises(ExecutorError) as caught:
        run_pipeline(pipeline("demo", tmp_path / "run"), executor=blind(ray_cluster, blind_python))
    error = str(caught.value)
    assert "\n" not in error and "cannot find a file of the run on its node" in error, error
    assert str(tmp_path / "run") in error and "executor.storage" in error, error


def test_storage_the_object_store_refuses_is_one_line_naming_it(ray_cluster: str, s3: str, tmp_path: Path):
    missing = s3 + "-missing/exchange"
    with pytest.raises(OutputError) as caught:
        run_pipeline(
            pipeline("demo", tmp_path / "run"), executor={"name": "ray", "address": ray_cluster, "storage": missing}
        )
    error = str(caught.value)
    assert "\n" not in error and error.startswith("cannot write to the object store"), error
    assert missing in error, error


def test_storage_is_an_s3_prefix_for_the_ray_executor(tmp_path: Path):
    spec = pipeline("demo", tmp_path / "run")
    for executor, message in [
        ({"name": "ray", "storage": "/mnt/shared"}, "storage must be an s3://bucket/prefix URL"),
        ({"name": "processes", "storage": "s3://bucket/exchange"}, "storage is for the ray executor only"),
    ]:
        with pytest.raises(ConfigError, match=message) as caught:
            load_config({**spec, "executor": executor})
        assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- settings


def test_the_executor_is_a_name_or_settings_and_a_bad_one_is_one_line(tmp_path: Path):
    spec = pipeline("demo", tmp_path / "run")
    assert load_config({**spec, "executor": "ray"}).executor == ExecutorSettings(name="ray")
    given = load_config({**spec, "executor": {"name": "ray", "address": "auto", "num_cpus": 2}}).executor
    assert (given.name, given.address, given.num_cpus) == ("ray", "auto", 2)
    assert load_config(spec).executor.name == "local"
    with pytest.raises(ConfigError, match=r"executor.*'dask'") as caught:
        load_config({**spec, "executor": "dask"})
    assert "\n" not in str(caught.value)
    cli = [sys.executable, "-m", "curate", "run", "pipelines/demo.yaml", "--output", str(tmp_path / "cli")]
    bad = subprocess.run([*cli, "--executor", "dask"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and not (tmp_path / "cli").exists()
    assert without_progress(bad.stderr).strip().startswith("error: bad value for option '--executor'"), bad.stderr
    assert len(without_progress(bad.stderr).strip().splitlines()) == 1


# ----------------------------------------------------------------------------- faults


def dying(out: Path, marker: Path) -> dict[str, Any]:
    """The demo input through span repair, a stage whose worker dies once, and exact dedup."""
    stages = [
        {"use": "validate_spans", "params": {"repair": True}},
        {"use": DIE_ONCE, "id": "die_once", "params": {"marker": str(marker)}},
        {"use": "exact_dedup"},
    ]
    return {**pipeline("demo", out), "stages": stages, "output": {"dir": str(out)}}


def test_ray_runs_again_the_batch_whose_worker_was_killed(
    ray_cluster: str, tmp_path: Path, stage_registry: dict[str, Any]
):
    marker = tmp_path / "killed"
    result = run_pipeline(dying(tmp_path / "ray", marker), executor={"name": "ray", "address": ray_cluster})
    assert marker.exists()  # a worker was killed, and its batch split again
    assert_same_run(run_pipeline(dying(tmp_path / "local", marker)).dir, result.dir)  # marker there: no kill


def test_processes_end_in_one_line_when_a_worker_dies_and_a_rerun_resumes(
    tmp_path: Path, stage_registry: dict[str, Any]
):
    marker = tmp_path / "killed"
    spec = dying(tmp_path / "run", marker)
    file = tmp_path / "dying.yaml"
    file.write_text(yaml.safe_dump(spec), encoding="utf-8")
    command = [sys.executable, "-m", "curate", "run", str(file), "--executor", "processes", "--workers", "2", "-q"]
    failed = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert failed.returncode == 2, failed.stderr
    error = without_progress(failed.stderr).strip()
    assert len(error.splitlines()) == 1, error
    assert error.startswith("error: a worker process died while running batch "), error
    assert "at stage 'die_once'" in error and "run again (finished stages are resumed)" in error
    assert marker.exists()
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir() if p.name[:2].isdigit()) == ["01_validate_spans"]
    assert not (run / "output.parquet").exists() and not (run / "manifest.json").exists()
    again = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0, again.stderr
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [stage["resumed"] for stage in manifest["stages"]] == [True, False, False]
    assert_same_run(run_pipeline(dying(tmp_path / "local", marker)).dir, run)


def test_a_stage_of_rows_held_in_memory_splits_on_workers():
    data = Dataset.from_arrow(io.read(REPO / "sample_data" / "korquad_sample.json").to_arrow(), "mrc")
    assert data.table is not None
    with make_executor(ExecutorSettings(name="processes", workers=2)) as executor:
        for stage in (NormalizeText(), ExactDedup()):
            here = stage.execute(data, batch_rows=BATCH_ROWS)
            there = stage.execute(data, batch_rows=BATCH_ROWS, executor=executor)
            for want, got in zip(here[:2], there[:2], strict=True):
                assert isinstance(got, pa.Table) and got.equals(want)
            assert {**there[2].as_dict(), "seconds": 0} == {**here[2].as_dict(), "seconds": 0}


def test_a_batch_of_real_reviews_makes_the_same_part_files_on_workers(tmp_path: Path):
    reviews = needs_shared("nsmc", "binary_sample50k.tsv")  # 50,000 rows: a full batch and a part one
    runs = {}
    for name, executor in (("local", None), ("processes", {"name": "processes", "workers": 2})):
        spec = {
            "name": "nsmc",
            "input": {"path": str(reviews), "kind": "classification", "columns": {"document": "text"}},
            "output": {"dir": str(tmp_path / name)},
            "stages": [{"use": "normalize_text"}, {"use": "length_filter", "params": {"field": "text", "min": 10}}],
        }
        runs[name] = run_pipeline(spec, executor=executor).dir
    parts = sorted(p.relative_to(runs["local"]) for p in runs["local"].glob("0*/*.parquet/*.parquet"))
    assert len(parts) == 7
    for part in parts:
        assert (runs["processes"] / part).read_bytes() == (runs["local"] / part).read_bytes(), part
