"""The command line, run as a user runs it (a subprocess of ``python -m curate``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate import io
from curate.dataset import Dataset
from tests.conftest import REPO, mrc_table


def curate(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def squad(tmp_path):
    path = tmp_path / "in.json"
    io.write(Dataset.from_arrow(mrc_table(), "mrc"), path)
    return path


def shifted(tmp_path, squad):
    doc = json.loads(squad.read_text())
    qa = doc["data"][0]["paragraphs"][0]["qas"][2]
    qa["answers"][0]["answer_start"] += 2
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path, qa["id"]


def test_validate_exit_codes_report_and_repair(tmp_path, squad):
    clean = curate("validate", squad)
    assert clean.returncode == 0 and "no problems" in clean.stdout
    broken, qid = shifted(tmp_path, squad)
    report = tmp_path / "report.csv"
    repaired = tmp_path / "fixed.json"
    result = curate("validate", broken, "--report", report, "--repair", repaired)
    assert result.returncode == 1, result.stderr
    assert "span_mismatch" in result.stdout
    lines = report.read_text().splitlines()
    assert (
        lines[0] == "row,id,field,problem,detail" and len(lines) == 2 and f",{qid},answers[0].answer_start," in lines[1]
    )
    assert json.loads(repaired.read_text()) == json.loads(squad.read_text())
    assert curate("validate", repaired).returncode == 0


def test_validate_unusable_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "a", "label": "x"}\n{"id": 2, "text": }\n')
    result = curate("validate", bad)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "bad.jsonl, line 2" in result.stderr and "Traceback" not in result.stderr
    debug = curate("--debug", "validate", bad)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_missing_field_and_wrong_type_errors_name_file_row_field_value(tmp_path):
    missing = tmp_path / "m.jsonl"
    missing.write_text('{"id": "1", "document": "좋다", "label": "1"}\n')
    result = curate("convert", missing, tmp_path / "o.parquet", "--kind", "classification")
    assert result.returncode == 2
    assert "missing required field 'text'" in result.stderr and "--rename" in result.stderr
    ok = curate("convert", missing, tmp_path / "o.parquet", "--kind", "classification", "--rename", "document=text")
    assert ok.returncode == 0, ok.stderr
    assert pq.read_table(tmp_path / "o.parquet").column("text").to_pylist() == ["좋다"]
    wrong = tmp_path / "w.jsonl"
    wrong.write_text(
        '{"query_id": "q", "doc_id": "d", "score": 1}\n{"query_id": "q", "doc_id": "e", "score": "high"}\n'
    )
    result = curate("convert", wrong, tmp_path / "w.parquet", "--kind", "qrels")
    assert result.returncode == 2
    assert "row 2" in result.stderr and "field 'score'" in result.stderr and "'high'" in result.stderr


def test_convert_skip_bad_rows_writes_a_quarantine(tmp_path):
    src = tmp_path / "d.tsv"
    src.write_text("id\ttext\tlabel\n1\t좋아요\tpos\n2\t잘림\n3\t별로\tneg\n")
    result = curate("convert", src, tmp_path / "d.jsonl", "--kind", "classification", "--skip-bad-rows")
    assert result.returncode == 0, result.stderr
    assert "1 unreadable rows skipped" in result.stderr
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 2
    quarantined = json.loads((tmp_path / "d.jsonl.quarantine.jsonl").read_text())
    assert quarantined["location"] == "line 3"


def test_convert_squad_parquet_squad_round_trip(tmp_path, squad):
    assert curate("convert", squad, tmp_path / "x.parquet").returncode == 0
    assert curate("convert", tmp_path / "x.parquet", tmp_path / "back.json").returncode == 0
    assert json.loads((tmp_path / "back.json").read_text()) == json.loads(squad.read_text())


def test_bad_option_values_are_one_line_errors(tmp_path, squad):
    result = curate("convert", squad, tmp_path / "x.out", "--to", "xml")
    assert result.returncode == 2 and "unknown format" in result.stderr and "squad, jsonl" in result.stderr
    result = curate("convert", squad, tmp_path / "x.parquet", "--rename", "novalue")
    assert result.returncode == 2 and "SOURCE=TARGET" in result.stderr
    result = curate("validate", tmp_path / "nope.json")
    assert result.returncode == 2 and "file not found" in result.stderr


def one_error_line(result):
    """The one stderr line of a failed command (exit 2, no traceback)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_hostile_squad_shapes_are_one_line_errors_from_the_real_process(tmp_path):
    src = REPO / "tests" / "bad_input" / "squad" / "qas_null.json"
    line = one_error_line(curate("convert", src, tmp_path / "out.parquet"))
    assert f"'qas' must be a list at {src}, field 'data[0].paragraphs[0].qas': got None" in line
    assert list(tmp_path.iterdir()) == []


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9.jsonl"
    with open(name, "wb") as handle:
        handle.write(b'{"id": "1", "text": "a"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "curate", "convert", name, os.fsencode(tmp_path / "out.parquet")], capture_output=True
    )
    result.stderr = result.stderr.decode("utf-8", "backslashreplace")
    assert "file name is not valid UTF-8" in one_error_line(result) and "caf\\udce9.jsonl" in result.stderr


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs /proc, a folder no file can be written in")
def test_a_destination_that_cannot_be_written_names_the_real_path(tmp_path, squad):
    line = one_error_line(curate("convert", squad, "/proc/out.parquet"))
    assert line.startswith("error: cannot write the file at /proc/out.parquet:") and ".tmp" not in line
    line = one_error_line(curate("validate", squad, "--report", "/proc/report.csv"))
    assert "cannot write the file at /proc/report.csv" in line


def test_a_failed_convert_leaves_no_quarantine_behind(tmp_path):
    src = tmp_path / "d.jsonl"
    src.write_text('{"id": "1", "text": "탭\\t있음"}\n{"id": 2, "text": }\n')  # a JSON escape: a tab
    line = one_error_line(curate("convert", src, tmp_path / "out" / "d.tsv", "--kind", "document", "--skip-bad-rows"))
    assert f"{tmp_path / 'out' / 'd.tsv'}, row 1, field 'text'" in line
    assert list((tmp_path / "out").iterdir()) == []


def test_errors_are_one_line_even_when_the_message_has_line_breaks():
    from typer.testing import CliRunner

    from curate.cli import _errors, app
    from curate.errors import InputError

    @app.command("fail-for-test", hidden=True)
    def fail() -> None:
        with _errors():
            raise InputError("two\nlines", hint="a\r\nb")

    try:
        result = CliRunner().invoke(app, ["fail-for-test"])
    finally:
        app.registered_commands.pop()
    assert result.exit_code == 2 and result.stderr == "error: two lines (hint: a  b)\n"


def test_run_prints_a_summary_and_bad_config_key_is_one_line(tmp_path, squad):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"name: c\ninput: {{path: {squad}}}\noutput: {tmp_path / 'run'}\nstages:\n  - use: exact_dedup\n"
    )
    result = curate("run", pipeline)
    assert result.returncode == 0, result.stderr
    assert "exact_dedup" in result.stdout and "output:" in result.stdout
    pipeline.write_text(f"name: c\ninput: {{path: {squad}}}\nstages:\n  - use: exact_dedup\n    param: {{}}\n")
    result = curate("run", pipeline)
    assert result.returncode == 2
    assert "unknown key 'stages.0.param'" in result.stderr and "allowed: use, id, params" in result.stderr


def test_schema_show_stages_and_version():
    shown = curate("schema", "show", "mrc")
    assert (
        shown.returncode == 0
        and "answers" in shown.stdout
        and "list<struct<text: string, answer_start: int32>>" in shown.stdout
    )
    assert curate("schema", "show", "nope").returncode == 2
    listed = curate("stages")
    for name in ("validate_spans", "normalize_text", "exact_dedup", "length_filter", "sql_filter"):
        assert name in listed.stdout
    assert "where: str (required)" in listed.stdout
    assert "reject: list['buried_positive'] (default [])" in listed.stdout  # a default from a factory is not "required"
    assert curate("--version").stdout.startswith("curate ")


def test_convert_beir_folder_to_parquet_folder_and_back(tmp_path):
    from tests.conftest import REPO

    beir = REPO / "sample_data" / "retrieval"
    assert curate("convert", beir, tmp_path / "pq").returncode == 0
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == ["corpus.parquet", "qrels.parquet", "queries.parquet"]
    result = curate("convert", tmp_path / "pq", tmp_path / "beir", "--to", "beir")
    assert result.returncode == 0, result.stderr
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / "beir" / name).read_text(encoding="utf-8") == (beir / name).read_text(encoding="utf-8")
    one = curate("convert", beir, tmp_path / "corpus.jsonl", "--kind", "corpus")
    assert one.returncode == 0 and "64 rows, kind corpus" in one.stdout


def test_validate_a_retrieval_folder_checks_its_parts_against_each_other(tmp_path):
    from tests.conftest import REPO

    report = tmp_path / "problems.csv"
    done = curate("validate", REPO / "sample_data" / "retrieval", "--report", report)
    assert done.returncode == 1, done.stderr
    assert "missing_document" in done.stdout and "empty_passage" in done.stdout and "no_positive" in done.stdout
    rows = report.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "table,row,id,field,code,detail" and len(rows) == 4
    refused = curate("validate", REPO / "sample_data" / "retrieval", "--repair", tmp_path / "x.json")
    assert refused.returncode == 2 and "--repair works on MRC data" in refused.stderr


def test_mrc_to_retrieval_then_mine_negatives_in_every_output_format(tmp_path):
    from tests.conftest import REPO

    folder = tmp_path / "beir"
    done = curate("mrc-to-retrieval", REPO / "sample_data" / "korquad_sample.json", folder)
    assert done.returncode == 0, done.stderr
    assert (folder / "corpus.jsonl").is_file() and (folder / "qrels" / "train.tsv").is_file()
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(queries) == 272 and all("answers" in q for q in queries)
    for target, fmt in (("t.jsonl", None), ("t.dpr.json", "dpr"), ("t.st.jsonl", "sentence-transformers")):
        args = ["mine-negatives", folder, tmp_path / target, "--count", "2"] + (["--to", fmt] if fmt else [])
        mined = curate(*args)
        assert mined.returncode == 0, mined.stderr
        assert "triplets" in mined.stdout and "dropped by guard" in mined.stdout
    dpr = json.loads((tmp_path / "t.dpr.json").read_text(encoding="utf-8"))
    assert {"question", "answers", "positive_ctxs", "negative_ctxs", "hard_negative_ctxs"} <= set(dpr[0])
    for entry in dpr:
        for negative in entry["hard_negative_ctxs"]:
            assert not any(a in negative["text"] for a in entry["answers"])
    direct = curate("mine-negatives", REPO / "sample_data" / "korquad_sample.json", tmp_path / "m.parquet")
    assert direct.returncode == 0 and "questions give no triplet (no_negatives 1, no_positive 17)" in direct.stderr
    bad = curate("mine-negatives", folder, tmp_path / "x.jsonl", "--tokenizer", "bpe")
    assert bad.returncode == 2 and "tokenizer must be one of" in bad.stderr


def test_chunk_passages_on_a_retrieval_folder_and_on_an_mrc_file(tmp_path):
    from tests.conftest import REPO

    folder = tmp_path / "beir"
    assert curate("mrc-to-retrieval", REPO / "sample_data" / "korquad_sample.json", folder).returncode == 0
    chunked = curate("chunk-passages", folder, tmp_path / "chunked", "--size", "120")
    assert chunked.returncode == 0, chunked.stderr
    assert "corpus 39 ->" in chunked.stdout
    corpus = [
        json.loads(line) for line in (tmp_path / "chunked" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(corpus) > 39 and all(len(doc["text"]) <= 120 or "#" not in doc["_id"] for doc in corpus)
    mrc = curate("chunk-passages", REPO / "sample_data" / "korquad_sample.json", tmp_path / "c.json", "--size", "150")
    assert mrc.returncode == 0 and "questions not chunked (span_invalid 23)" in mrc.stderr
    bad = curate("chunk-passages", folder, tmp_path / "x", "--unit", "tokens")
    assert bad.returncode == 2 and "unit" in bad.stderr


def test_label_issues_flags_planted_wrong_labels_and_writes_the_ranked_table(tmp_path):
    from tests.conftest import REPO

    planted = set(
        json.loads((REPO / "sample_data" / "defects.json").read_text(encoding="utf-8"))["reviews_cls.tsv"][
            "wrong_label"
        ]
    )
    issues = tmp_path / "issues.jsonl"
    done = curate(
        "label-issues", REPO / "sample_data" / "reviews_cls.tsv", "--issues", issues, "--out", tmp_path / "all.parquet"
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in issues.read_text(encoding="utf-8").splitlines()]
    qualities = [row["label_quality"] for row in rows]
    assert qualities == sorted(qualities)
    assert len(planted & {row["id"] for row in rows}) >= 0.6 * len(planted)
    table = pq.read_table(tmp_path / "all.parquet")
    assert {"label_issue", "label_quality", "suggested_label"} <= set(table.column_names) and table.num_rows == 303
    bad = curate("label-issues", REPO / "sample_data" / "reviews_cls.tsv", "--model", "bert")
    assert bad.returncode == 2 and "model" in bad.stderr


def test_label_studio_export_annotate_import_round_trip(tmp_path):
    from tests.conftest import REPO

    src = REPO / "sample_data" / "reviews_cls.tsv"
    done = curate("export", "label-studio", src, tmp_path / "ls")
    assert done.returncode == 0, done.stderr
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    assert "<Choices" in (tmp_path / "ls" / "label_config.xml").read_text(encoding="utf-8")
    task = tasks[0]
    old = task["predictions"][0]["result"][0]["value"]["choices"][0]
    new = "negative" if old == "positive" else "positive"
    result = {**task["predictions"][0]["result"][0], "value": {"choices": [new]}}
    task["annotations"] = [{"result": [result], "completed_by": 7, "updated_at": "2026-11-25T10:00:00Z"}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    merged = curate(
        "import", "label-studio", src, export, "--out", tmp_path / "fixed.parquet", "--report", tmp_path / "r.csv"
    )
    assert merged.returncode == 0, merged.stderr
    assert "updated 1" in merged.stdout
    fixed = pq.read_table(tmp_path / "fixed.parquet").to_pylist()
    changed = [row for row in fixed if row["label"] != row.get("previous_label") and row.get("previous_label")]
    assert [(row["id"], row["label"], row["previous_label"]) for row in changed] == [
        (task["data"]["curate_id"], new, old)
    ]
    foreign = tmp_path / "foreign.json"
    foreign.write_text('[{"data": {"text": "x"}}]', encoding="utf-8")
    refused = curate("import", "label-studio", src, foreign, "--out", tmp_path / "never.parquet")
    assert refused.returncode == 2 and "curate_id" in refused.stderr and not (tmp_path / "never.parquet").exists()


def test_label_studio_options_checked_before_anything_runs(tmp_path):
    from tests.conftest import REPO

    src = REPO / "sample_data" / "reviews_cls.tsv"
    neither = curate("import", "label-studio", src, "--out", tmp_path / "x.parquet")
    assert neither.returncode == 2 and "--pull" in neither.stderr
    both = curate(
        "import",
        "label-studio",
        src,
        tmp_path / "e.json",
        "--pull",
        "http://127.0.0.1:9",
        "1",
        "--out",
        tmp_path / "x.parquet",
    )
    assert both.returncode == 2 and "not both" in both.stderr
    keep = curate(
        "import",
        "label-studio",
        src,
        tmp_path / "e.json",
        "--save-export",
        tmp_path / "k.json",
        "--out",
        tmp_path / "x.parquet",
    )
    assert keep.returncode == 2 and "--save-export needs --pull" in keep.stderr
    lone = curate("export", "label-studio", src, tmp_path / "ls", "--project", "3")
    assert lone.returncode == 2 and "need --push" in lone.stderr and not (tmp_path / "ls").exists()
    assert not (tmp_path / "x.parquet").exists()


def test_label_studio_push_of_an_empty_selection_sends_nothing(tmp_path):
    from tests.conftest import REPO

    src = REPO / "sample_data" / "reviews_cls.tsv"
    done = curate("export", "label-studio", src, tmp_path / "ls", "--select", "false", "--push", "http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "0 tasks" in done.stdout and "nothing pushed: no row selected" in done.stdout
