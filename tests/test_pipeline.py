import errno
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import io, rejected_rows
from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, InputError, OutputError, StageError
from curate.pipeline import Reporter, load_config, run_pipeline
from curate.run_folder import RunFolder
from tests.conftest import REPO, mrc_table


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "in.json"
    table = mrc_table()
    broken = table.to_pylist()
    broken[1]["answers"] = [{"text": "약 940만 명", "answer_start": 3}]
    io.write(
        Dataset.from_arrow(table.from_pylist(broken + [dict(broken[0], id="q9")], schema=table.schema), "mrc"), path
    )
    return path


def pipeline(tmp_path, squad_file, stages=None, **extra):
    config = {
        "name": "t",
        "input": {"path": str(squad_file)},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "clean.json", "format": "squad"}]},
        "stages": stages
        if stages is not None
        else [
            {"use": "validate_spans"},
            {"use": "normalize_text"},
            {"use": "exact_dedup"},
            {"use": "length_filter", "id": "short_q", "params": {"field": "question", "min": 6}},
        ],
        **extra,
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_run_writes_every_stage_and_keeps_kept_plus_rejected_equal_to_input(tmp_path, squad_file):
    result = run_pipeline(pipeline(tmp_path, squad_file))
    rows_in = result.input_rows
    assert rows_in == 5
    for run in result.stages:
        assert run.stats.rows_in == rows_in == run.stats.rows_kept + run.stats.rows_rejected
        kept = pq.read_table(run.dir / "kept.parquet", columns=[]).num_rows
        rejected = pq.read_table(run.dir / "rejected.parquet", columns=[]).num_rows
        assert kept + rejected == rows_in
        assert json.loads((run.dir / "stats.json").read_text())["fingerprint"] == run.fingerprint
        rows_in = kept
    assert [r.id for r in result.stages] == ["validate_spans", "normalize_text", "exact_dedup", "short_q"]
    assert result.stages[0].stats.rows_kept == 5  # the broken span was repaired
    assert result.stages[2].stats.reasons == {"exact_duplicate": 1}
    assert result.output.num_rows == rows_in
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["output"]["rows"] == rows_in and manifest["stages"][3]["params"]["min"] == 6
    clean = io.read(result.dir / "clean.json")
    assert clean.num_rows == rows_in
    every = rejected_rows(result.dir)
    assert set(every.column("reject_stage").to_pylist()) == {"exact_dedup", "short_q"}
    assert (result.dir / "report.md").read_text().count("|") > 10


def test_second_run_resumes_and_a_changed_param_reruns_from_that_stage(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    first = run_pipeline(path)
    mtimes = {r.id: (r.dir / "kept.parquet").stat().st_mtime_ns for r in first.stages}
    second = run_pipeline(path)
    assert all(r.resumed for r in second.stages)
    assert {r.id: (r.dir / "kept.parquet").stat().st_mtime_ns for r in second.stages} == mtimes
    assert [r.stats.as_dict()["rows_kept"] for r in second.stages] == [r.stats.rows_kept for r in first.stages]
    config = yaml.safe_load(path.read_text())
    config["stages"][2]["params"] = {"casefold": True}
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    third = run_pipeline(path)
    assert [r.resumed for r in third.stages] == [True, True, False, False]


def test_changed_input_reruns_everything(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    run_pipeline(path)
    doc = json.loads(squad_file.read_text())
    doc["data"][0]["title"] = "바뀐 제목"
    squad_file.write_text(json.dumps(doc, ensure_ascii=False))
    assert not any(r.resumed for r in run_pipeline(path).stages)


def test_failing_stage_names_itself_and_leaves_earlier_outputs(tmp_path, squad_file):
    stages = [{"use": "validate_spans"}, {"use": "sql_filter", "params": {"where": "no_column = 1"}}]
    path = pipeline(tmp_path, squad_file, stages=stages)
    with pytest.raises(ConfigError) as info:
        run_pipeline(path)
    assert "stage 'sql_filter'" in str(info.value)
    assert (tmp_path / "run" / "01_validate_spans" / "kept.parquet").exists()
    assert not (tmp_path / "run" / "02_sql_filter").exists()
    assert not list((tmp_path / "run").glob(".*tmp"))


def test_unexpected_stage_failure_becomes_a_stage_error(tmp_path, squad_file, monkeypatch):
    from curate.stages.exact_dedup import ExactDedup

    def boom(self, batch, plan, start):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ExactDedup, "split", boom)
    path = pipeline(tmp_path, squad_file, stages=[{"use": "exact_dedup", "id": "dd"}])
    with pytest.raises(StageError, match="RuntimeError: disk on fire at stage 'dd'"):
        run_pipeline(path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"name": "x", "input": {"path": "a"}, "stagez": []},
            "unknown key 'stagez'.*allowed: name, description, input",
        ),
        ({"name": "x", "input": {"path": "a", "fromat": "squad"}}, "unknown key 'input.fromat'.*allowed: path, format"),
        ({"input": {"path": "a"}}, "missing key 'name'"),
        ({"name": "x", "input": {"path": "a"}, "stages": [{"use": "validate_spans", "parms": {}}]}, "stages.0.parms"),
    ],
)
def test_config_errors_name_the_key_and_the_allowed_ones(config, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_unknown_stage_and_bad_param_and_duplicate_id(tmp_path, squad_file):
    with pytest.raises(ConfigError, match="unknown stage.*'validate_span'.*did you mean 'validate_spans'"):
        run_pipeline(pipeline(tmp_path, squad_file, stages=[{"use": "validate_span"}]))
    with pytest.raises(ConfigError, match="unknown parameter 'tresh'.*length_filter.*allowed: field, unit"):
        run_pipeline(pipeline(tmp_path, squad_file, stages=[{"use": "length_filter", "params": {"tresh": 1}}]))
    with pytest.raises(ConfigError, match="duplicate stage id"):
        run_pipeline(pipeline(tmp_path, squad_file, stages=[{"use": "exact_dedup"}, {"use": "exact_dedup"}]))
    with pytest.raises(ConfigError, match="missing parameter 'field' for stage 'length_filter'"):
        run_pipeline(pipeline(tmp_path, squad_file, stages=[{"use": "length_filter"}]))


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ninput:\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"malformed YAML.*bad.yaml, line \d"):
        load_config(path)


def test_corrupted_input_is_a_one_line_input_error(tmp_path, squad_file):
    squad_file.write_text(squad_file.read_text()[:-40])
    with pytest.raises(InputError) as info:
        run_pipeline(pipeline(tmp_path, squad_file))
    assert "malformed JSON" in str(info.value) and "in.json" in str(info.value) and "\n" not in str(info.value)


def test_skip_mode_quarantines_unreadable_rows(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"id": "1", "text": "좋아요", "label": "pos"}\n{"id": "2", "text": \n{"id": "3", "text": "별로", "label": "neg"}\n'
    )
    config = {"name": "q", "input": {"path": str(data), "on_error": "skip"}, "output": str(tmp_path / "run")}
    result = run_pipeline(config)
    assert result.input_rows == 2 and result.quarantined == 1
    bad = [json.loads(line) for line in (tmp_path / "run" / "input" / "quarantine.jsonl").read_text().splitlines()]
    assert bad[0]["location"] == "line 2" and "malformed JSON" in bad[0]["reason"]


def test_input_and_output_overrides(tmp_path, squad_file):
    result = run_pipeline(
        {"name": "o", "input": {"path": "nowhere.json"}, "stages": [{"use": "exact_dedup"}]},
        input=squad_file,
        output=tmp_path / "elsewhere",
    )
    assert result.dir == tmp_path / "elsewhere" and (result.dir / "output.parquet").exists()


def test_editing_a_file_a_stage_reads_reruns_that_stage(tmp_path, squad_file):
    evaluation = tmp_path / "eval.json"
    evaluation.write_bytes(squad_file.read_bytes())
    stages = [{"use": "exact_dedup"}, {"use": "decontaminate", "params": {"eval_path": str(evaluation)}}]
    path = pipeline(tmp_path, squad_file, stages=stages, allow_empty_output=True)
    first = run_pipeline(path)
    assert first.stages[1].stats.rows_rejected == first.stages[1].stats.rows_in  # every row is in the eval set
    assert all(r.resumed for r in run_pipeline(path).stages)
    other = "김치는 배추와 무를 소금에 절여 발효시킨 음식이다."
    qa = {"id": "e1", "question": "김치의 재료는 무엇인가요?", "answers": [{"text": "배추", "answer_start": 4}]}
    evaluation.write_text(
        json.dumps({"data": [{"title": "김치", "paragraphs": [{"context": other, "qas": [qa]}]}]}, ensure_ascii=False)
    )
    third = run_pipeline(path)
    assert [r.resumed for r in third.stages] == [True, False]
    assert third.stages[1].stats.rows_rejected == 0


# ----------------------------------------------------------------- generating and converting stages


def test_a_stage_may_add_rows_and_change_the_kind(tmp_path, stage_registry):
    import pyarrow as pa

    from curate.stages.base import Split, Stage, reject

    class CopyRows(Stage):
        """Keeps every row and adds a copy of it (``source`` = ``copy``)."""

        name = "copy_rows"
        role = "generate"
        adds: ClassVar = {"source": pa.string()}

        def process(self, batch, kind):
            original = batch.append_column("source", pa.array(["input"] * batch.num_rows, pa.string()))
            copies = batch.append_column("source", pa.array(["copy"] * batch.num_rows, pa.string()))
            kept = pa.concat_tables([original, copies])
            split = reject(kept, [True] * kept.num_rows, stage=self.id, reasons=[None] * kept.num_rows)
            return Split(split.kept, split.rejected.slice(0, 0), added=batch.num_rows)

    class Questions(Stage):
        """MRC rows -> documents (the question text)."""

        name = "questions_as_documents"
        role = "convert"
        kinds = ("mrc",)

        def output_kind(self, kind):
            return "document"

        def process(self, batch, kind):
            docs = pa.table({"id": batch.column("id"), "text": batch.column("question")})
            split = reject(batch, [False] * batch.num_rows, stage=self.id, reasons="converted")
            return Split(docs, split.rejected.slice(0, 0))

    assert stage_registry["copy_rows"] is CopyRows and stage_registry["questions_as_documents"] is Questions
    config = {
        "name": "grow",
        "input": {"path": str(REPO / "sample_data" / "korquad_sample.json")},
        "output": {"dir": str(tmp_path / "run")},
        "stages": [{"use": "copy_rows"}, {"use": "questions_as_documents"}, {"use": "exact_dedup"}],
    }
    result = run_pipeline(config)
    copy, convert, dedup = result.stages
    assert copy.stats.rows_added == copy.stats.rows_in == 272 and copy.stats.rows_kept == 544
    assert convert.stats.rows_in == 544 and convert.stats.rows_kept == 544
    assert result.output.kind == "document" and dedup.stats.rows_rejected >= 272
    again = run_pipeline(config)
    assert all(run.resumed for run in again.stages) and again.stages[0].stats.rows_added == 272
    report = (result.dir / "report.md").read_text(encoding="utf-8")
    assert "| copy_rows | generate | 272 +272 new | 544 | 0 |" in report
    assert "| questions_as_documents | convert | 544 | 544 | 0 |" in report
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert [stage["role"] for stage in manifest["stages"]] == ["generate", "convert", "filter"]
    assert [run.role for run in again.stages] == ["generate", "convert", "filter"]


# ----------------------------------------------------------------- a run folder that cannot be misused


class Notes(Reporter):
    """Collects what a run says on its own."""

    def __init__(self):
        self.notes, self.warnings = [], []

    def note(self, message):
        self.notes.append(message)

    def warn(self, message):
        self.warnings.append(message)


def published(run_dir):
    """Names of the published set present in ``run_dir``."""
    return sorted(
        p.name for p in run_dir.iterdir() if p.name in {"output.parquet", "clean.json", "report.md", "manifest.json"}
    )


def snapshot(run_dir):
    """Bytes of every Parquet/JSON output of a run except the manifest and stats (they hold times)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.suffix in {".parquet", ".json"} and p.name not in {"manifest.json", "stats.json"}
    }


def test_a_stage_rejecting_more_than_its_share_warns_in_result_manifest_and_report(tmp_path, squad_file):
    stages = [
        {"use": "sql_filter", "id": "only_q1", "params": {"where": "id = 'q1'"}},
        {"use": "exact_dedup"},
    ]
    path = pipeline(tmp_path, squad_file, stages=stages)
    notes = Notes()
    result = run_pipeline(path, reporter=notes)
    assert result.stages[0].stats.rows_rejected == 4
    (warning,) = result.warnings
    assert warning.startswith("stage 'only_q1' rejected 4 of 5 rows (80.0%), more than warn_reject_share 0.5")
    assert "sql_filter 4" in warning and "01_only_q1/rejected.parquet" in warning
    assert notes.warnings == [warning]
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["warnings"] == [warning] and manifest["stages"][0]["warning"] == warning
    assert manifest["stages"][1]["warning"] is None
    assert f"## Warnings\n\n- {warning}" in (result.dir / "report.md").read_text()
    # the share is a setting, not part of a stage's fingerprint: changing it re-warns without re-running
    config = yaml.safe_load(path.read_text())
    config["stages"][0]["warn_reject_share"] = 0.8
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    again = run_pipeline(path)
    assert all(run.resumed for run in again.stages) and again.warnings == []
    assert "Warnings" not in (again.dir / "report.md").read_text()
    config["warn_reject_share"] = 0.1
    config["stages"][0].pop("warn_reject_share")
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    assert "more than warn_reject_share 0.1" in run_pipeline(path).warnings[0]


def test_an_empty_output_is_an_error_naming_the_stage_unless_allowed(tmp_path, squad_file):
    stages = [
        {"use": "validate_spans"},
        {"use": "sql_filter", "id": "typo", "params": {"where": "length(question) > 500"}},
        {"use": "exact_dedup"},
    ]
    path = pipeline(tmp_path, squad_file, stages=stages)
    notes = Notes()
    with pytest.raises(ConfigError) as info:
        run_pipeline(path, reporter=notes)
    message = str(info.value)
    assert message.startswith("every remaining row was rejected, so the output would be empty at stage 'typo'")
    assert "02_typo/rejected.parquet" in message and "allow_empty_output: true" in message
    assert notes.warnings and notes.warnings[0].startswith("stage 'typo' rejected 5 of 5 rows (100.0%)")
    run = tmp_path / "run"
    assert published(run) == [] and not (run / "03_exact_dedup").exists()
    assert pq.read_table(run / "02_typo" / "rejected.parquet", columns=[]).num_rows == 5  # the rows can be found
    result = run_pipeline(pipeline(tmp_path, squad_file, stages=stages, allow_empty_output=True))
    assert result.output.num_rows == 0 and published(run) == [
        "clean.json",
        "manifest.json",
        "output.parquet",
        "report.md",
    ]
    assert [r.resumed for r in result.stages] == [True, True, False] and len(result.warnings) == 1
    empty = tmp_path / "empty.json"
    empty.write_text('{"version": "v2.0", "data": []}')
    with pytest.raises(InputError, match="the input has no rows at .*empty.json"):
        run_pipeline({"name": "e", "input": {"path": str(empty)}, "output": str(tmp_path / "e")})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"batch_rows": 0}, r"bad value for key 'batch_rows' \(Input should be greater than 0\).*: got 0"),
        (
            {"warn_reject_share": 1.5},
            r"bad value for key 'warn_reject_share' \(Input should be less than or equal to 1\)",
        ),
        (
            {"allow_empty": True},
            r"unknown key 'allow_empty'.*allowed: .*batch_rows, warn_reject_share, allow_empty_output",
        ),
        (
            {"stages": [{"use": "exact_dedup", "warn_share": 0.9}]},
            r"unknown key 'stages.0.warn_share'.*allowed: use, id, params, warn_reject_share",
        ),
    ],
)
def test_run_settings_are_checked_with_one_line_naming_the_key(tmp_path, squad_file, extra, message):
    with pytest.raises(ConfigError, match=message) as info:
        run_pipeline(pipeline(tmp_path, squad_file, **extra))
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()


def test_batch_rows_is_part_of_every_stage_fingerprint(tmp_path, squad_file):
    first = run_pipeline(pipeline(tmp_path, squad_file, batch_rows=2))
    # a Parquet file per batch with rows (5 rows: 3 batches); a folder no row reached has an empty file of its schema
    spans = first.stages[0].dir
    assert sorted(p.name for p in (spans / "kept.parquet").iterdir()) == [f"part-00000{i}.parquet" for i in range(3)]
    assert [pq.read_table(p).num_rows for p in sorted((spans / "kept.parquet").iterdir())] == [2, 2, 1]
    assert [p.name for p in (spans / "rejected.parquet").iterdir()] == ["part-000000.parquet"]
    empty = pq.read_table(spans / "rejected.parquet" / "part-000000.parquet")
    assert empty.num_rows == 0 and "reject_reason" in empty.column_names
    assert all(run.resumed for run in run_pipeline(pipeline(tmp_path, squad_file, batch_rows=2)).stages)
    again = run_pipeline(pipeline(tmp_path, squad_file, batch_rows=3))
    assert not any(run.resumed for run in again.stages)
    assert again.output.to_arrow().equals(first.output.to_arrow())


@pytest.mark.parametrize("bad", ["x/../../precious", "../precious", "/precious", ".hidden", "a b", ""])
def test_stage_ids_are_names_and_never_reach_outside_the_run_folder(tmp_path, squad_file, bad):
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    path = pipeline(tmp_path, squad_file, stages=[{"use": "exact_dedup", "id": bad}])
    with pytest.raises(ConfigError) as info:
        run_pipeline(path)
    assert str(info.value).startswith(f"bad stage id (it names a folder) at {path}, field 'stages[0].id': got {bad!r}")
    assert precious.read_text() == "keep me" and not (tmp_path / "run").exists()


def test_a_pipeline_name_used_as_the_default_folder_is_a_name(tmp_path, squad_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"name": "../../escape", "input": {"path": str(squad_file)}, "stages": [{"use": "exact_dedup"}]}
    with pytest.raises(ConfigError, match="bad pipeline name .*field 'name': got '../../escape'"):
        run_pipeline(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]
    assert run_pipeline({**config, "name": "여름.v2"}).dir == Path("runs") / "여름.v2"
    assert run_pipeline(config, output=tmp_path / "named").output.num_rows == 4  # a free name with a folder given


def test_an_output_folder_overlapping_the_input_is_refused_before_anything_is_written(tmp_path, squad_file):
    data = tmp_path / "data"
    io.write(io.read(squad_file), data / "part.parquet")
    config = {"name": "loop", "input": {"path": str(data), "kind": "mrc"}, "stages": [{"use": "exact_dedup"}]}
    (tmp_path / "link").symlink_to(data)
    for output, message in [
        (data, "the output folder is the input"),
        (data / "run", "the output folder lies inside the input"),
        (tmp_path / "link", "the output folder is the input"),
        (tmp_path / "link" / "run", "the output folder lies inside the input"),
    ]:
        with pytest.raises(ConfigError, match=f"{message}, so each run would read what the last one wrote at {output}"):
            run_pipeline(config, output=output)
    assert sorted(p.name for p in data.iterdir()) == ["part.parquet"]  # no 1 -> 2 -> 3 rows on re-runs
    earlier = run_pipeline(config, output=tmp_path / "run")
    for inside in [earlier.dir / "output.parquet", earlier.dir / "01_exact_dedup" / "kept.parquet"]:
        with pytest.raises(ConfigError, match=f"the input lies inside the output folder.*at {inside}"):
            run_pipeline(config, input=inside, output=earlier.dir)
    evaluation = {"use": "decontaminate", "params": {"eval_path": str(earlier.dir / "output.parquet")}}
    with pytest.raises(ConfigError, match="the file stage 'decontaminate' reads lies inside the output folder"):
        run_pipeline({**config, "stages": [evaluation]}, output=earlier.dir)
    assert earlier.manifest_path.exists()


def test_a_locked_run_folder_fails_at_once_with_one_line(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    run_pipeline(path)
    in_use = rf"the output folder is in use by another run \(pid {os.getpid()}\) at {tmp_path / 'run'} \(hint: wait"
    with RunFolder(tmp_path / "run").locked(), pytest.raises(OutputError, match=in_use):
        run_pipeline(path)
    assert all(run.resumed for run in run_pipeline(path).stages)


def test_an_output_folder_that_is_a_file_is_one_line_and_left_alone(tmp_path, squad_file):
    blocker = tmp_path / "run"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match=f"the output folder is a file at {blocker}"):
        run_pipeline(pipeline(tmp_path, squad_file))
    with pytest.raises(
        OutputError, match=rf"cannot write \(Not a directory\) at {blocker / 'sub'} \(hint: a file is in the way"
    ):
        run_pipeline(pipeline(tmp_path, squad_file), output=blocker / "sub")
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"path": "clean.xml"}, r"cannot tell the format at .*clean.xml, field 'output.export\[0\]'"),
        ({"path": "clean.json", "format": "xml"}, r"unknown format.*field 'output.export\[0\]': got 'xml'"),
        (
            {"path": "pairs.jsonl", "format": "dpr"},
            r"only kind 'triplets' can be written as dpr at .*output.export\[0\]",
        ),
        ({"path": "../outside.json"}, r"an export path must stay inside the output folder .*: got '../outside.json'"),
        ({"path": "/outside.json"}, "an export path must stay inside the output folder"),
        ({"path": "manifest.json"}, "an export path takes the place of a file the run writes itself"),
        ({"path": "01_exact_dedup/kept.parquet"}, "an export path takes the place of a file the run writes itself"),
    ],
)
def test_exports_are_checked_before_the_first_stage(tmp_path, squad_file, export, message):
    path = pipeline(tmp_path, squad_file)
    config = yaml.safe_load(path.read_text())
    config["output"]["export"] = [export]
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(CurateError, match=message):
        run_pipeline(path)
    assert not list((tmp_path / "run").glob("0*"))  # no stage ran


def test_a_failure_while_publishing_leaves_no_mixed_set_and_a_rerun_restores_it(tmp_path, squad_file, monkeypatch):
    path = pipeline(tmp_path, squad_file)
    first = run_pipeline(path)
    before = snapshot(first.dir)
    import curate.io

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(curate.io, "write_squad", full_disk)
    with pytest.raises(OutputError) as info:
        run_pipeline(path)
    assert str(info.value) == (
        f"cannot write (No space left on device) at {first.dir / 'clean.json'} "
        "(hint: free space on that disk, or choose another output folder)"
    )
    assert published(first.dir) == [] and not list(first.dir.rglob("*.tmp"))
    assert all((run.dir / "kept.parquet").exists() for run in first.stages)
    monkeypatch.undo()
    again = run_pipeline(path)
    assert all(run.resumed for run in again.stages) and snapshot(again.dir) == before


def test_stage_folders_of_an_earlier_pipeline_are_removed_and_never_counted(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    run_pipeline(path)
    run = tmp_path / "run"
    notes_dir = run / "02_notes"
    notes_dir.mkdir()
    (notes_dir / "mine.txt").write_text("a folder the run did not write")
    config = yaml.safe_load(path.read_text())
    config["stages"] = [config["stages"][0], config["stages"][3]]  # drop normalize_text and exact_dedup
    config["output"]["export"] = [{"path": "clean.jsonl"}]
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    notes = Notes()
    result = run_pipeline(path, reporter=notes)
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == [
        "01_validate_spans",
        "02_notes",
        "02_short_q",
        "input",
    ]
    assert "removed 02_normalize_text: a stage folder of an earlier run, not of this pipeline" in notes.notes
    assert "removed clean.json: an export of an earlier run, not of this pipeline" in notes.notes
    assert not (run / "clean.json").exists() and (run / "clean.jsonl").exists()
    assert set(rejected_rows(run).column("reject_stage").to_pylist()) == {"short_q"}  # no exact_dedup rows
    report = (run / "report.md").read_text()
    assert "03_" not in report and "04_" not in report and f"'{run}/02_short_q/rejected.parquet/*.parquet'" in report
    sql = report.split("```sql\n")[1].split("```")[0]
    counted = {(stage, reason): n for stage, reason, n in duckdb.sql(sql).fetchall()}
    every = rejected_rows(run).to_pylist()
    assert counted == Counter((r["reject_stage"], r["reject_reason"]) for r in every) and len(every) == 1
    assert result.stages[1].dir.name == "02_short_q"


def test_resume_checks_the_files_a_record_lists(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    first = run_pipeline(path)
    before = snapshot(first.dir)
    dedup = first.stages[2].dir
    shutil.rmtree(dedup / "rejected.parquet")
    notes = Notes()
    again = run_pipeline(path, reporter=notes)
    assert [r.resumed for r in again.stages] == [True, True, False, True]
    assert notes.notes == ["03_exact_dedup: rejected.parquet/part-000000.parquet is missing; running the stage again"]
    assert snapshot(again.dir) == before
    # a kept file replaced by another with as many rows is caught by its digest
    kept = first.stages[0].dir / "kept.parquet" / "part-000000.parquet"
    table = pq.read_table(kept)
    pq.write_table(table.set_column(1, "title", pa.array(["바뀜"] * table.num_rows)), kept)
    notes = Notes()
    assert [r.resumed for r in run_pipeline(path, reporter=notes).stages] == [False, True, True, True]
    assert notes.notes == [
        "01_validate_spans: kept.parquet/part-000000.parquet changed since it was written; running the stage again"
    ]
    assert snapshot(first.dir) == before
    # the cached input too
    data = first.dir / "input" / "data" / "part-00000.parquet"
    data.write_bytes(data.read_bytes()[:-10])
    notes = Notes()
    assert all(r.resumed for r in run_pipeline(path, reporter=notes).stages)
    assert notes.notes == ["input: data/part-00000.parquet changed since it was written; reading the input again"]
    assert snapshot(first.dir) == before


def test_an_interrupted_rerun_keeps_the_published_set_until_it_changes_the_folder(tmp_path, squad_file):
    path = pipeline(tmp_path, squad_file)
    first = run_pipeline(path)
    before = snapshot(first.dir)

    class Interrupt(Reporter):
        """Ctrl-C once the third stage is done."""

        def stage_finished(self, run):
            if run.id == "exact_dedup":
                raise KeyboardInterrupt

    class InterruptStart(Reporter):
        def stage_started(self, stage, index, total_rows):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(path, reporter=Interrupt())  # every stage so far resumed: nothing changed
    assert published(first.dir) == ["clean.json", "manifest.json", "output.parquet", "report.md"]
    assert snapshot(first.dir) == before
    config = yaml.safe_load(path.read_text())
    config["stages"][3]["params"]["min"] = 7
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(path, reporter=InterruptStart())  # about to run short_q again
    assert published(first.dir) == [] and (first.dir / "04_short_q" / "kept.parquet").exists()
