"""The command line, run as a user runs it (a subprocess of ``python -m curate``)."""

import importlib.metadata
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate import io
from curate.dataset import Dataset
from tests.conftest import REPO, mrc_table, without_progress


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
    assert without_progress(result.stderr).strip().count("\n") == 0
    assert result.stderr.splitlines()[-1].startswith("error: ")
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
    (line,) = without_progress(result.stderr).splitlines()
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
    assert line.startswith("error: cannot write (") and line.endswith("at /proc/out.parquet") and ".tmp" not in line
    line = one_error_line(curate("validate", squad, "--report", "/proc/report.csv"))
    assert line.startswith("error: cannot write (") and "at /proc/report.csv" in line


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


def test_schema_show_and_version():
    shown = curate("schema", "show", "mrc")
    assert (
        shown.returncode == 0
        and "answers" in shown.stdout
        and "list<struct<text: string, answer_start: int32>>" in shown.stdout
    )
    assert curate("schema", "show", "nope").returncode == 2
    assert curate("--version").stdout == f"curate {importlib.metadata.version('curate')}\n"


def test_stages_lists_every_stage_with_its_role_and_shows_one():
    from curate.stages import REGISTRY

    listed = curate("stages")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1 : len(REGISTRY) + 1]}
    assert rows == {name: cls.role for name, cls in REGISTRY.items()}
    assert rows["normalize_text"] == "rewrite" and rows["augment_mrc"] == "generate" and rows["sql_filter"] == "filter"
    shown = curate("stages", "sql_filter")
    assert shown.returncode == 0, shown.stderr
    assert "role:   filter" in shown.stdout and "where: str (required)" in shown.stdout
    assert "reason: str (default 'sql_filter')  Reject reason" in shown.stdout
    shown = curate("stages", "retrieval_label_issues")
    assert "adds:   label_flags" in shown.stdout and "role:   flag" in shown.stdout
    assert "reject: list['buried_positive'] (default [])" in shown.stdout  # a default from a factory is not "required"
    wrong = curate("stages", "minhash_dedupe")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.strip().splitlines() == [
        "error: unknown stage: got 'minhash_dedupe' (hint: did you mean 'minhash_dedup'? `curate stages` lists them)"
    ]


def test_convert_beir_folder_to_parquet_folder_and_back(tmp_path):
    from tests.conftest import REPO

    beir = REPO / "sample_data" / "retrieval"
    assert curate("convert", beir, tmp_path / "pq").returncode == 0
    written = sorted(p.name for p in (tmp_path / "pq").iterdir())
    assert written == ["README.md", "corpus.parquet", "qrels.parquet", "queries.parquet"]  # with its dataset card
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


def check_printed_counts(triplets_path, dpr_path, st_path, printed):
    """Each file of mine-negatives holds what the command printed, and every negative is in each."""
    triplets = [json.loads(line) for line in triplets_path.read_text(encoding="utf-8").splitlines()]
    negatives = [(r["query"], r["positive"], n) for r in triplets for n in r["negatives"]]
    entries = json.loads(dpr_path.read_text(encoding="utf-8"))
    in_dpr = [
        (e["question"], e["positive_ctxs"][0]["text"], c["text"]) for e in entries for c in e["hard_negative_ctxs"]
    ]
    rows = [json.loads(line) for line in st_path.read_text(encoding="utf-8").splitlines()]
    in_st = [(r["anchor"], r["positive"], r["negative"]) for r in rows]
    assert in_dpr == in_st == negatives
    assert f"({len(triplets):,} triplets, {len(negatives):,} negatives;" in printed[triplets_path.name]
    assert f"({len(entries):,} entries, {len(in_dpr):,} hard negatives;" in printed[dpr_path.name]
    st_line = f"({len(rows):,} rows (anchor, positive, negative), one per negative of {len(triplets):,} triplets;"
    assert st_line in printed[st_path.name]


def test_mrc_to_retrieval_then_mine_negatives_in_every_output_format(tmp_path):
    from tests.conftest import REPO

    folder = tmp_path / "beir"
    done = curate("mrc-to-retrieval", REPO / "sample_data" / "korquad_sample.json", folder)
    assert done.returncode == 0, done.stderr
    assert (folder / "corpus.jsonl").is_file() and (folder / "qrels" / "train.tsv").is_file()
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(queries) == 272 and all("answers" in q for q in queries)
    printed = {}
    for target, fmt in (("t.jsonl", None), ("t.dpr.json", "dpr"), ("t.st.jsonl", "sentence-transformers")):
        args = ["mine-negatives", folder, tmp_path / target, "--count", "2"] + (["--to", fmt] if fmt else [])
        mined = curate(*args)
        assert mined.returncode == 0, mined.stderr
        assert "dropped by guard" in mined.stdout
        printed[target] = mined.stdout
    check_printed_counts(tmp_path / "t.jsonl", tmp_path / "t.dpr.json", tmp_path / "t.st.jsonl", printed)
    dpr = json.loads((tmp_path / "t.dpr.json").read_text(encoding="utf-8"))
    assert {"question", "answers", "positive_ctxs", "negative_ctxs", "hard_negative_ctxs"} <= set(dpr[0])
    for entry in dpr:
        for negative in entry["hard_negative_ctxs"]:
            assert not any(a in negative["text"] for a in entry["answers"])
    direct = curate("mine-negatives", REPO / "sample_data" / "korquad_sample.json", tmp_path / "m.parquet")
    assert direct.returncode == 0 and "questions give no triplet (no_negatives 1, no_positive 17)" in direct.stderr
    bad = curate("mine-negatives", folder, tmp_path / "x.jsonl", "--tokenizer", "bpe")
    assert bad.returncode == 2 and bad.stderr.startswith("error: bad value for option '--tokenizer' (Input should be")


def test_mine_negatives_counts_a_query_with_two_positives_once_per_written_row(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        ("d0", "해솔시 항구는 동해에 있다. 항구에는 배가 많다."),
        ("d1", "해솔시 항구는 오래된 항구이다. 항구 옆에 시장이 있다."),
        ("d2", "해솔시 시장은 항구 옆에 있고 생선을 판다."),
        ("d3", "해솔시 축제는 여름에 열린다. 항구에서 불꽃놀이를 한다."),
        ("d4", "해솔시 산은 높다. 항구가 내려다보인다."),
    ]
    lines = [json.dumps({"_id": i, "title": "", "text": t}, ensure_ascii=False) for i, t in corpus]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    query = {"_id": "q1", "text": "해솔시 항구는 어디에 있나?", "answers": ["동해"]}
    (folder / "queries.jsonl").write_text(json.dumps(query, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\nq1\td1\t1\n")
    printed = {}
    for target, fmt in (("t.jsonl", "jsonl"), ("t.dpr.json", "dpr"), ("t.st.jsonl", "sentence-transformers")):
        mined = curate("mine-negatives", folder, tmp_path / target, "--count", "2", "--to", fmt)
        assert mined.returncode == 0, mined.stderr
        printed[target] = mined.stdout
    # two triplets rows (one per positive), each with the query's two negatives: 4 written, not 2
    assert "(2 triplets, 4 negatives;" in printed["t.jsonl"]
    check_printed_counts(tmp_path / "t.jsonl", tmp_path / "t.dpr.json", tmp_path / "t.st.jsonl", printed)


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
    assert bad.returncode == 2 and "unit 'tokens' needs a tokenizer" in bad.stderr


def test_chunk_passages_in_tokens_with_a_local_tokenizer(tmp_path, tokenizer_path):
    from tokenizers import Tokenizer

    from tests.conftest import REPO

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    folder = tmp_path / "beir"
    assert curate("mrc-to-retrieval", REPO / "sample_data" / "korquad_sample.json", folder).returncode == 0
    args = ("--unit", "tokens", "--tokenizer", tokenizer_path, "--size", "48", "--overlap", "8")
    chunked = curate("chunk-passages", folder, tmp_path / "chunked", *args)
    assert chunked.returncode == 0, chunked.stderr
    corpus = [
        json.loads(line) for line in (tmp_path / "chunked" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert f"corpus 39 -> {len(corpus)} passages" in chunked.stdout and len(corpus) > 39
    split = [doc["text"] for doc in corpus if "#" in doc["_id"]]
    assert split and all(len(tokenizer.encode(text, add_special_tokens=False)) <= 48 for text in split)
    missing = curate(
        "chunk-passages", folder, tmp_path / "y", "--unit", "tokens", "--tokenizer", tmp_path / "none.json"
    )
    assert missing.returncode == 2 and without_progress(missing.stderr).count("\n") == 1
    assert f"tokenizer file not found at {tmp_path / 'none.json'}" in missing.stderr and not (tmp_path / "y").exists()


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


# ----------------------------------------------------------------- `curate run` against a hostile world

SMALL_PIPELINE = """\
name: small
input: {path: sample_data/korquad_sample.json}
output:
  export:
    - {path: clean.json, format: squad}
stages:
  - use: validate_spans
    params: {repair: true}
  - use: normalize_text
  - use: exact_dedup
  - use: minhash_dedup
    id: near_dedup
    params: {unit: question, threshold: 0.8}
  - use: mrc_checks
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small pipeline (a file) and the bytes of an uninterrupted run of it."""
    folder = tmp_path_factory.mktemp("small")
    path = folder / "small.yaml"
    path.write_text(SMALL_PIPELINE)
    result = curate("run", path, "--output", folder / "reference", cwd=REPO)
    assert result.returncode == 0, result.stderr
    return path, outputs(folder / "reference")


def outputs(run_dir):
    """Bytes of a run's data files (stage files, output, exports); manifest and stats hold times."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.suffix in {".parquet", ".json"} and p.name not in {"manifest.json", "stats.json"}
    }


def one_line(stderr):
    lines = without_progress(stderr).strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def the_error(stderr):
    """The one error line, last after the stages' progress lines."""
    lines = [line for line in without_progress(stderr).splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("  ")] == lines[-1:], stderr
    return lines[-1]


@pytest.mark.parametrize("point", ["input", "02_normalize_text", ".04_near_dedup.tmp", "05_mrc_checks", "clean.json"])
def test_run_killed_at_any_point_resumes_to_byte_identical_outputs(tmp_path, small, point):
    path, reference = small
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate", "run", path, "--output", run_dir],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / point).exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, f"the run ended before {point} appeared"
    again = curate("run", path, "--output", run_dir, cwd=REPO)  # the lock died with the process
    assert again.returncode == 0, again.stderr
    assert outputs(run_dir) == reference
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


def test_run_on_a_folder_another_run_holds_fails_with_one_line_until_that_run_dies(tmp_path, small):
    path, reference = small
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from curate.run_folder import RunFolder\nwith RunFolder({str(run_dir)!r}).locked():\n"
            "    print('locked', flush=True)\n    import time; time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        result = curate("run", path, "--output", run_dir, cwd=REPO)
        assert result.returncode == 2
        assert one_line(result.stderr) == (
            f"error: the output folder is in use by another run (pid {holder.pid}) at {run_dir} "
            "(hint: wait for that run to finish, or choose another output folder)"
        )
    finally:
        holder.kill()
        holder.wait()
    result = curate("run", path, "--output", run_dir, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert outputs(run_dir) == reference


def test_run_that_rejects_every_row_warns_and_exits_2_with_nothing_published(tmp_path, squad):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"name: c\ninput: {{path: {squad}}}\noutput: {tmp_path / 'run'}\nstages:\n"
        "  - use: length_filter\n    params: {field: question, min: 500}\n"
    )
    result = curate("run", pipeline)
    assert result.returncode == 2
    warning, error = result.stderr.strip().splitlines()[-2:]
    assert warning.startswith("warning: stage 'length_filter' rejected 4 of 4 rows (100.0%), more than")
    assert error.startswith("error: every remaining row was rejected, so the output would be empty at stage")
    assert not (tmp_path / "run" / "output.parquet").exists() and "output:" not in result.stdout
    pipeline.write_text(pipeline.read_text() + "allow_empty_output: true\n")
    result = curate("run", pipeline)
    assert result.returncode == 0, result.stderr
    assert "warning: stage 'length_filter' rejected 4 of 4 rows" in result.stderr
    assert "output.parquet (0 rows)" in result.stdout


def test_run_into_its_own_input_is_refused_with_one_line(tmp_path, squad):
    data = tmp_path / "data"
    assert curate("convert", squad, data / "part.parquet").returncode == 0
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: loop\ninput: {{path: {data}, kind: mrc}}\noutput: {data}\n")
    for _ in range(2):
        result = curate("run", pipeline)
        assert result.returncode == 2
        assert one_line(result.stderr).startswith("error: the output folder is the input, so each run would read")
    assert sorted(p.name for p in data.iterdir()) == ["README.md", "part.parquet"]  # the convert's dataset card


def in_namespace(script, *args):
    """Run a shell script as root of new user and mount namespaces, where it may mount a small tmpfs."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs user and mount namespaces (unshare -rm) to mount a small tmpfs; not permitted here")
    return subprocess.run(
        ["unshare", "-rm", "sh", "-euc", script, "sh", *map(str, args)], capture_output=True, text=True
    )


FULL_DISK = """
mnt=$1/mnt; mkdir -p "$mnt"
mount -t tmpfs -o size=2048k tmpfs "$mnt"
head -c $((2048 - $2))k /dev/zero > "$mnt/filler"
"$3" -m curate run "$4" --output "$mnt/run" > "$1/out1" 2> "$1/err1" && echo 0 > "$1/rc1" || echo $? > "$1/rc1"
find "$mnt" -name '*.tmp' > "$1/temporaries"
ls -A "$mnt" > "$1/left"
rm "$mnt/filler"
"$3" -m curate run "$4" --output "$mnt/run" > "$1/out2" 2> "$1/err2" && echo 0 > "$1/rc2" || echo $? > "$1/rc2"
cp -r "$mnt/run" "$1/after"
"""


# Measured here, these amounts of free space run out writing input/data.parquet, 03_exact_dedup,
# output.parquet and clean.json: before, during and after the stages.
@pytest.mark.parametrize("free_kib", [24, 160, 300, 440])
def test_run_on_a_full_disk_is_one_line_naming_the_real_path_and_resumes_once_there_is_room(tmp_path, small, free_kib):
    path, reference = small
    done = in_namespace(f"cd {REPO}\n" + FULL_DISK, tmp_path, free_kib, sys.executable, path)
    assert done.returncode == 0, done.stderr
    read = lambda name: (tmp_path / name).read_text()  # noqa: E731
    assert read("rc1").strip() == "2", read("err1")
    error = the_error(read("err1"))
    assert error.startswith(f"error: cannot write (No space left on device) at {tmp_path / 'mnt' / 'run'}")
    assert error.endswith("(hint: free space on that disk, or choose another output folder)")
    assert ".tmp" not in error and read("temporaries") == ""
    assert "manifest.json" not in read("left")
    assert read("rc2").strip() == "0", read("err2")
    assert outputs(tmp_path / "after") == reference


def test_run_into_a_read_only_folder_is_one_line_and_writes_nothing(tmp_path, small):
    path, _ = small
    script = f"""
mnt=$1/mnt; mkdir -p "$mnt"
mount -t tmpfs -o ro tmpfs "$mnt"
cd {REPO}
"$2" -m curate run "$3" --output "$mnt/run" 2> "$1/err1" || echo $? > "$1/rc1"
"$2" -m curate run "$3" --output "$mnt" 2> "$1/err2" || echo $? > "$1/rc2"
ls -A "$mnt" > "$1/left"
"""
    done = in_namespace(script, tmp_path, sys.executable, path)
    assert done.returncode == 0, done.stderr
    for n, where in [(1, tmp_path / "mnt" / "run"), (2, tmp_path / "mnt")]:
        assert (tmp_path / f"rc{n}").read_text().strip() == "2"
        assert one_line((tmp_path / f"err{n}").read_text()) == (
            f"error: cannot write (Read-only file system) at {where} "
            "(hint: the file system is read-only: choose another output folder)"
        )
    assert (tmp_path / "left").read_text() == ""


def test_run_past_the_file_size_limit_is_one_line_and_publishes_nothing(tmp_path, small):
    path, reference = small
    run_dir = tmp_path / "run"
    limit = 100 * 1024  # every stage file fits, the SQuAD export (about 130 KiB) does not

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "curate", "run", path, "--output", run_dir],
        cwd=REPO,
        capture_output=True,
        text=True,
        preexec_fn=limited,
    )
    assert result.returncode == 2
    assert the_error(result.stderr) == (
        f"error: cannot write (File too large) at {run_dir / 'clean.json'} "
        "(hint: the file size limit is reached (ulimit -f): raise it, or choose another output folder)"
    )
    assert sorted(p.name for p in run_dir.iterdir() if not p.is_dir()) == [".curate.lock", "run.log"]
    assert "error: cannot write (File too large)" in (run_dir / "run.log").read_text().splitlines()[-1]
    result = curate("run", path, "--output", run_dir, cwd=REPO)
    assert result.returncode == 0 and "(resumed)" in result.stderr
    assert outputs(run_dir) == reference


def test_label_studio_import_checks_every_destination_before_writing(tmp_path):
    from tests.conftest import REPO

    src = REPO / "sample_data" / "reviews_cls.tsv"
    done = curate("export", "label-studio", src, tmp_path / "ls")
    assert done.returncode == 0, done.stderr
    export = tmp_path / "ls" / "tasks.json"
    out = tmp_path / "fixed.parquet"
    for report, shown in (("r.xyz", "'.xyz'"), ("r.json", "'.json'"), ("r", "'(no suffix)'")):
        refused = curate("import", "label-studio", src, export, "--out", out, "--report", tmp_path / report)
        assert refused.returncode == 2 and refused.stderr.strip().count("\n") == 0, refused.stderr
        assert "unknown report format" in refused.stderr and shown in refused.stderr
        assert not out.exists() and not (tmp_path / report).exists()
    squad = curate("import", "label-studio", src, export, "--out", tmp_path / "x.json", "--report", tmp_path / "r.csv")
    assert squad.returncode == 2 and "only kind 'mrc' can be written as SQuAD" in squad.stderr
    assert not (tmp_path / "r.csv").exists()


def test_label_studio_import_into_a_resorted_file_warns_and_applies_nothing_there(tmp_path):
    src = tmp_path / "reviews.tsv"
    src.write_text("text\tlabel\n첫 번째 리뷰\tpositive\n두 번째 리뷰\tnegative\n", encoding="utf-8")
    assert curate("export", "label-studio", src, tmp_path / "ls").returncode == 0
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    result = {**tasks[0]["predictions"][0]["result"][0], "value": {"choices": ["negative"]}}
    tasks[0]["annotations"] = [{"result": [result], "completed_by": 7, "updated_at": "2026-11-25T10:00:00Z"}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    src.write_text("text\tlabel\n두 번째 리뷰\tnegative\n첫 번째 리뷰\tpositive\n", encoding="utf-8")  # re-sorted
    report = tmp_path / "report.csv"
    merged = curate("import", "label-studio", src, export, "--out", tmp_path / "fixed.parquet", "--report", report)
    assert merged.returncode == 0, merged.stderr
    assert "mismatch 2" in merged.stdout
    assert merged.stderr.strip().count("\n") == 0 and merged.stderr.startswith("warning: 2 tasks not applied")
    assert f"in {report}" in merged.stderr and "task 0 (reviews-1)" in merged.stderr
    fixed = pq.read_table(tmp_path / "fixed.parquet").to_pylist()
    assert [r["label"] for r in fixed] == ["negative", "positive"] and {r["annotated_by"] for r in fixed} == {None}
