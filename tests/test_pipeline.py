import json

import pyarrow.parquet as pq
import pytest
import yaml

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError, InputError, StageError
from curate.pipeline import load_config, rejected_rows, run_pipeline
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
        kept = pq.read_metadata(run.dir / "kept.parquet").num_rows
        rejected = pq.read_metadata(run.dir / "rejected.parquet").num_rows
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

    def boom(self, batch, kind):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ExactDedup, "process", boom)
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
    path = pipeline(tmp_path, squad_file, stages=stages)
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


def test_a_stage_may_add_rows_and_change_the_kind(tmp_path, monkeypatch):
    import pyarrow as pa

    from curate import stages as registry
    from curate.stages.base import Split, Stage, reject

    class CopyRows(Stage):
        """Keeps every row and adds a copy of it (``source`` = ``copy``)."""

        name = "copy_rows"

        def process(self, batch, kind):
            original = batch.append_column("source", pa.array(["input"] * batch.num_rows, pa.string()))
            copies = batch.append_column("source", pa.array(["copy"] * batch.num_rows, pa.string()))
            kept = pa.concat_tables([original, copies])
            split = reject(kept, [True] * kept.num_rows, stage=self.id, reasons=[None] * kept.num_rows)
            return Split(split.kept, split.rejected.slice(0, 0), added=batch.num_rows)

    class Questions(Stage):
        """MRC rows -> documents (the question text)."""

        name = "questions_as_documents"
        kinds = ("mrc",)

        def output_kind(self, kind):
            return "document"

        def process(self, batch, kind):
            docs = pa.table({"id": batch.column("id"), "text": batch.column("question")})
            split = reject(batch, [False] * batch.num_rows, stage=self.id, reasons="converted")
            return Split(docs, split.rejected.slice(0, 0))

    monkeypatch.setitem(registry.REGISTRY, "copy_rows", CopyRows)
    monkeypatch.setitem(registry.REGISTRY, "questions_as_documents", Questions)
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
    assert "+272 new" in (result.dir / "report.md").read_text(encoding="utf-8")
