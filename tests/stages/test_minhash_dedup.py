import json
import subprocess
import sys

import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError, InputError
from curate.stages import MinHashDedup
from curate.validate import find_problems
from tests.conftest import REPO, answer, without_progress
from tests.outputs import folder_bytes

PASSAGE = (
    "해솔시는 한반도 남동부 해안에 자리한 항구 도시로, 동쪽으로는 푸른 바다를 접하고 서쪽으로는 높이 812미터의 "
    "바랑산이 병풍처럼 둘러싸고 있다. 1962년 작은 어촌 여러 곳이 합쳐져 읍이 되었고, 1989년에 시로 승격되었다."
)
EDITED = PASSAGE.replace("병풍처럼", "병풍같이")
OTHER = "김치는 배추와 무를 소금에 절인 뒤 고춧가루, 마늘, 젓갈 따위로 버무려 발효시킨 한국의 대표적인 음식이다. 지역마다 담그는 방법이 다르다."


def docs(texts):
    return Dataset.from_arrow(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}), "document")


def test_rejects_near_and_exact_duplicates_with_reason_and_representative():
    result = MinHashDedup()(docs([PASSAGE, OTHER, EDITED, PASSAGE, "굿", "굿"]))
    assert result.kept.to_arrow().column("id").to_pylist() == ["d0", "d1", "d4"]
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"], r["duplicate_of"]) for r in rejected] == [
        ("d2", "near_duplicate", "d0"),
        ("d3", "near_duplicate", "d0"),
        ("d5", "near_duplicate", "d4"),
    ]
    assert 0.8 < rejected[0]["similarity"] < 1.0 and rejected[1]["similarity"] == 1.0
    clusters = result.artifacts["clusters"].to_pylist()
    assert {(c["id"], c["cluster_id"], c["representative_id"]) for c in clusters} == {
        ("d0", 0, "d0"),
        ("d2", 0, "d0"),
        ("d3", 0, "d0"),
        ("d4", 1, "d4"),
        ("d5", 1, "d4"),
    }


def test_keep_policies():
    texts = ["짧은 " + PASSAGE[:-10], PASSAGE, "긴 " + PASSAGE + " 끝"]
    assert MinHashDedup(threshold=0.7, keep="longest")(docs(texts)).kept.to_arrow().column("id").to_pylist() == ["d2"]
    kept = MinHashDedup(threshold=0.7, keep="sql", order_by="length(text)")(docs(texts)).kept.to_arrow()
    assert kept.column("id").to_pylist() == ["d0"]
    with pytest.raises(ConfigError, match="order_by"):
        MinHashDedup(keep="sql")
    with pytest.raises(ConfigError, match="bad SQL in order_by"):
        MinHashDedup(keep="sql", order_by="nope(")(docs(texts))


def test_same_input_same_bytes(tmp_path):
    data = docs([PASSAGE, EDITED, OTHER] * 5)
    outputs = []
    for attempt in range(2):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        kept, rejected, _ = MinHashDedup().execute(data, out_dir=folder, batch_rows=4)
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]


def test_combine_all_needs_every_field_similar():
    rows = [
        {"id": "1", "text": PASSAGE, "text_pair": "첫 번째 질문은 무엇인가?", "label": "a"},
        {"id": "2", "text": PASSAGE, "text_pair": "완전히 다른 두 번째 문장", "label": "a"},
        {"id": "3", "text": EDITED, "text_pair": "첫 번째 질문은 무엇인가?", "label": "a"},
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    result = MinHashDedup(combine="all", fields=["text", "text_pair"])(data)
    assert result.rejected.to_arrow().column("id").to_pylist() == ["3"]


def mrc_rows():
    rows = []
    for pid, context in (("p1", PASSAGE), ("p2", EDITED), ("p3", OTHER)):
        rows += [
            {
                "id": f"{pid}-a",
                "context": context,
                "question": "해솔시가 시로 승격된 해는?",
                "answers": [answer(context, "1989년")] if "1989년" in context else [answer(context, "김치")],
                "passage_id": pid,
                "document_id": pid,
            },
            {
                "id": f"{pid}-b",
                "context": context,
                "question": "바랑산의 높이는?",
                "answers": [answer(context, "812미터")] if "812미터" in context else [answer(context, "배추")],
                "passage_id": pid,
                "document_id": pid,
            },
        ]
    rows.append(
        {
            "id": "p2-c",
            "context": EDITED,
            "question": "산이 둘러싼 모양은?",
            "answers": [answer(EDITED, "병풍같이")],
            "passage_id": "p2",
            "document_id": "p2",
        }
    )
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")


def test_mrc_question_unit_keeps_different_questions_on_one_passage():
    result = MinHashDedup()(mrc_rows())  # unit: question is the MRC default
    assert result.rejected.to_arrow().column("id").to_pylist() == ["p2-a", "p2-b"]
    assert set(result.kept.to_arrow().column("id").to_pylist()) == {"p1-a", "p1-b", "p2-c", "p3-a", "p3-b"}
    joined = MinHashDedup(unit="row", keep="first")(mrc_rows())
    # the joined text makes two questions on one passage look alike: their answers keep both
    assert joined.stats.rows_rejected == 2 and joined.stats.flags == {"answers_differ": 2}
    assert joined.artifacts["conflicts"].select(["id", "other_id", "reason"]).to_pylist() == [
        {"id": "p1-b", "other_id": "p1-a", "reason": "answers_differ"}
    ]


def test_mrc_context_unit_repoints_questions_or_keeps_them_on_their_passage():
    result = MinHashDedup(unit="context")(mrc_rows())
    kept = {r["id"]: r for r in result.kept.to_arrow().to_pylist()}
    assert kept["p2-a"]["context"] == PASSAGE and kept["p2-a"]["repointed_from"] == "p2"
    assert kept["p2-a"]["passage_id"] == "p1" and kept["p2-a"]["answers"] == [answer(PASSAGE, "1989년")]
    assert kept["p1-a"]["repointed_from"] is None
    # the kept passage says 병풍처럼 where p2 says 병풍같이: the question stays on p2, flagged
    assert result.stats.rows_rejected == 0 and result.stats.flags == {"answer_not_in_passage": 1}
    assert result.stats.rewrites == {"repointed": 2} and result.stats.rows_rewritten == 2
    assert kept["p2-c"]["context"] == EDITED and kept["p2-c"]["repointed_from"] is None
    assert kept["p2-c"]["dedup_conflicts"] == ["p1-a"]
    (pair,) = result.artifacts["conflicts"].to_pylist()
    assert (pair["id"], pair["other_id"], pair["reason"]) == ("p2-c", "p1-a", "answer_not_in_passage")
    assert "lacks the answer '병풍같이'" in pair["detail"]
    assert find_problems(result.kept).clean


def test_unit_needs_mrc_and_fields_must_exist():
    with pytest.raises(ConfigError, match="unit 'context' works on MRC data"):
        MinHashDedup(unit="context")(docs([PASSAGE]))
    with pytest.raises(ConfigError, match="needs a .*column .* in its input"):
        MinHashDedup(fields=["body"])(docs([PASSAGE]))
    with pytest.raises(ConfigError, match="threshold"):
        MinHashDedup(threshold=1.2)


def test_incremental_index_dedups_new_data_without_the_old(tmp_path):
    index = tmp_path / "index"
    first = MinHashDedup(save_index=str(index))(docs([PASSAGE, OTHER, PASSAGE]))
    assert first.stats.rows_kept == 2 and json.loads((index / "index.json").read_text())["rows"] == 2
    new = Dataset.from_arrow(
        pa.table(
            {
                "id": ["n1", "n2", "n3"],
                "text": [EDITED, "새로운 글입니다 전혀 겹치지 않아요", "새로운 글입니다 전혀 겹치지 않아요"],
            }
        ),
        "document",
    )
    second = MinHashDedup(against=str(index), save_index=str(tmp_path / "index2"))(new)
    rejected = second.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["duplicate_of"]) for r in rejected] == [("n1", "d0"), ("n3", "n2")]
    assert json.loads((tmp_path / "index2" / "index.json").read_text())["rows"] == 3
    with pytest.raises(ConfigError, match="another 'ngram'"):
        MinHashDedup(against=str(index), ngram=3)(new)


@pytest.mark.parametrize(
    ("part", "content", "message"),
    [
        ("index.json", "{not json", "index.json is not readable JSON"),
        ("index.json", "{}", "index.json is not a .* description"),
        ("signatures.parquet", "PAR1 garbage", "signatures.parquet cannot be read"),
    ],
)
def test_a_corrupt_index_is_an_input_error_naming_the_file(tmp_path, part, content, message):
    index = tmp_path / "index"
    MinHashDedup(save_index=str(index))(docs([PASSAGE, OTHER]))
    (index / part).write_text(content)
    with pytest.raises(InputError, match=message) as info:
        MinHashDedup(against=str(index))(docs([EDITED]))
    assert info.value.where.file == str(index / part)


def curate(*args):
    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True)


def test_dedup_command_on_a_file_and_on_a_retrieval_folder(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate([PASSAGE, EDITED, OTHER])
        )
    )
    result = curate(
        "dedup",
        src,
        tmp_path / "kept.jsonl",
        "--clusters",
        tmp_path / "c.csv",
        "--shingle",
        "word",
        "--ngram",
        "2",
        "--threshold",
        "0.7",
    )
    assert result.returncode == 0, result.stderr
    assert "kept 2, removed 1" in result.stdout
    assert (tmp_path / "kept.rejected.parquet").exists() and "representative_id" in (tmp_path / "c.csv").read_text()
    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "qrels").mkdir()
    (beir / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate([PASSAGE, OTHER, EDITED])
        )
    )
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "승격"}\n{"_id": "q2", "text": "김치"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\nq1\td0\t2\nq2\td1\t1\n")
    result = curate("dedup", beir, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "qrels re-pointed 1, merged 1 (1 with different scores, the highest kept)" in result.stdout
    qrels = (tmp_path / "out" / "qrels" / "test.tsv").read_text().splitlines()
    assert qrels == ["query-id\tcorpus-id\tscore", "q1\td0\t2", "q2\td1\t1"]
    bad = curate("dedup", src, tmp_path / "x.jsonl", "--shingle", "letters")
    assert bad.returncode == 2 and "shingle" in bad.stderr


def test_demo_sample_mrc_question_dedup_matches_planted_duplicates():
    defects = json.loads((REPO / "sample_data" / "defects.json").read_text())["korquad_sample.json"]
    result = MinHashDedup()(io.read(REPO / "sample_data" / "korquad_sample.json"))
    expected = {d["id"] for d in defects["exact_duplicate_question"]} | set(defects["near_duplicate_paragraph"])
    assert set(result.rejected.to_arrow().column("id").to_pylist()) == expected


# ----------------------------------------------------------------- answers and labels that differ


def labelled(texts, labels):
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts, "label": labels})
    return Dataset.from_arrow(table, "classification")


def test_a_near_duplicate_with_another_label_is_a_label_conflict_flagged_on_the_kept_row():
    result = MinHashDedup(keep="first")(labelled([PASSAGE, EDITED, PASSAGE, OTHER], ["pos", "neg", "pos", "pos"]))
    rejected = {r["id"]: r for r in result.rejected.to_arrow().to_pylist()}
    assert {k: r["reject_reason"] for k, r in rejected.items()} == {"r1": "label_conflict", "r2": "near_duplicate"}
    assert rejected["r1"]["duplicate_of"] == "r0"
    assert rejected["r1"]["reject_detail"].endswith("but label 'neg' where it has label 'pos'")
    kept = {r["id"]: r["dedup_conflicts"] for r in result.kept.to_arrow().to_pylist()}
    assert kept == {"r0": ["r1"], "r3": None}
    assert result.stats.reasons == {"label_conflict": 1, "near_duplicate": 1}
    assert result.stats.flags == {"label_conflict": 1}
    assert result.artifacts["conflicts"].select(["id", "other_id", "reason"]).to_pylist() == [
        {"id": "r1", "other_id": "r0", "reason": "label_conflict"}
    ]


def question(qid, context, text, answer_text=None, impossible=False):
    return {
        "id": qid,
        "context": context,
        "question": text,
        "answers": [answer(context, answer_text)] if answer_text else [],
        "is_impossible": impossible,
    }


def test_near_identical_questions_whose_answers_differ_are_both_kept_and_flagged():
    context = (
        "훗날 연합 감리교회가 된 감리교 운동은 18세기 중엽 영국 국교회 안에서 시작되었다. "
        "세계에서 가장 중요한 천연 자원은 물이다."
    )
    began = "훗날 연합 감리교회가 된 감리교 운동은 {}시작되었는가?"
    rows = [
        question("when", context, began.format("언제 "), "18세기 중엽"),
        question("where", context, began.format("어디서 "), "영국 국교회 안"),  # similarity 0.63
        question("most", context, "세계에서 가장 중요한 천연 자원은 무엇인가?", "물"),
        question("least", context, "세계에서 가장 덜 중요한 천연 자원은 무엇인가?", None, impossible=True),
        question("again", context, began.format("언제  "), "18세기 중엽"),
    ]
    result = MinHashDedup(threshold=0.6, keep="first")(Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc"))
    assert result.rejected.to_arrow().column("id").to_pylist() == ["again"]
    kept = {r["id"]: r["dedup_conflicts"] for r in result.kept.to_arrow().to_pylist()}
    assert kept == {"when": ["where"], "where": ["when"], "most": ["least"], "least": ["most"]}
    assert result.stats.flags == {"answers_differ": 4}
    details = {p["id"]: p["detail"] for p in result.artifacts["conflicts"].to_pylist()}
    assert "(unanswerable)" in details["least"] and "(answer '물')" in details["least"]


def test_the_detail_gives_the_similarity_that_decided(tmp_path):
    from tests.dedup.test_assign import A, C, jaccard

    result = MinHashDedup(keep="first")(docs([A, C]))
    (row,) = result.rejected.to_arrow().to_pylist()
    assert row["similarity"] == pytest.approx(jaccard(A, C))  # 0.81: near the threshold, so measured
    assert row["reject_detail"] == f"near-duplicate of 'd0': similarity {jaccard(A, C):.2f} (true Jaccard) >= 0.8"


def test_an_index_keeps_labels_so_a_conflict_with_old_data_is_seen(tmp_path):
    index = tmp_path / "index"
    MinHashDedup(save_index=str(index))(labelled([PASSAGE, OTHER], ["pos", "neg"]))
    result = MinHashDedup(against=str(index))(labelled([EDITED, OTHER], ["neg", "neg"]))
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"], r["duplicate_of"]) for r in rejected] == [
        ("r0", "label_conflict", "r0"),
        ("r1", "near_duplicate", "r1"),
    ]
    assert "indexed row 'r0'" in rejected[0]["reject_detail"]


def test_num_perm_is_the_number_of_permutations_everywhere(tmp_path):
    index = tmp_path / "index"
    MinHashDedup(num_perm=64, save_index=str(index))(docs([PASSAGE, OTHER]))
    meta = json.loads((index / "index.json").read_text())
    assert meta["settings"]["num_perm"] == 64 and meta["settings"]["bands"] * meta["settings"]["rows"] <= 64
    assert MinHashDedup(num_perm=64, against=str(index))(docs([EDITED])).stats.rows_rejected == 1
    with pytest.raises(ConfigError, match="another 'num_perm'.*got 128.*num_perm=64"):
        MinHashDedup(against=str(index))(docs([EDITED]))
    with pytest.raises(ConfigError, match=r"bands x rows \(20 x 10\) exceeds num_perm \(128\)"):
        MinHashDedup(bands=20, rows=10)


def corrupt(index, how):
    if how == "index.json":
        (index / "index.json").write_text("{not json")
    elif how == "description":
        (index / "index.json").write_text('{"format": "something else"}')
    elif how == "signatures.parquet":
        data = (index / "signatures.parquet").read_bytes()
        (index / "signatures.parquet").write_bytes(data[: len(data) // 2])
    elif how == "missing":
        (index / "signatures.parquet").unlink()
    elif how == "rows":
        meta = json.loads((index / "index.json").read_text())
        (index / "index.json").write_text(json.dumps(dict(meta, rows=meta["rows"] + 1)))
    return index / ("signatures.parquet" if how in ("signatures.parquet", "missing", "rows") else "index.json")


@pytest.mark.parametrize("how", ["index.json", "description", "signatures.parquet", "missing", "rows"])
def test_a_corrupt_index_is_one_input_error_naming_the_bad_file(tmp_path, how):
    index = tmp_path / "index"
    MinHashDedup(save_index=str(index))(docs([PASSAGE, OTHER]))
    bad = corrupt(index, how)
    with pytest.raises(InputError, match="corrupt dedup index") as error:
        MinHashDedup(against=str(index))(docs([EDITED]))
    assert str(bad.resolve()) in str(error.value)


def test_save_index_never_replaces_a_folder_that_is_not_an_index(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a dedup index"):
        MinHashDedup(save_index=str(mine))(docs([PASSAGE]))
    assert (mine / "notes.txt").read_text() == "keep me"


def test_dedup_command_counts_what_it_writes_and_reports_conflicts(tmp_path):
    src = tmp_path / "reviews.tsv"
    rows = [("a", PASSAGE, "pos"), ("b", EDITED, "neg"), ("c", PASSAGE, "pos"), ("d", OTHER, "neg")]
    src.write_text("id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{lab}\n" for i, t, lab in rows))
    out = tmp_path / "kept.parquet"
    result = curate(
        "dedup", src, out, "--keep", "first", "--conflicts", tmp_path / "pairs.csv", "--clustering", "components"
    )
    assert result.returncode == 0, result.stderr
    kept, removed = io.read(out).num_rows, io.read(tmp_path / "kept.rejected.parquet").num_rows
    assert (kept, removed) == (2, 2)
    assert result.stdout.startswith(
        "4 rows: kept 2, removed 2 (label_conflict 1, near_duplicate 1); kept rows flagged: label_conflict 1 in "
    )
    pairs = (tmp_path / "pairs.csv").read_text().splitlines()
    assert pairs[0] == "id,other_id,reason,similarity,detail" and pairs[1].startswith("b,a,label_conflict,")
    bad = curate("dedup", src, out, "--clustering", "chains")
    assert bad.returncode == 2 and without_progress(bad.stderr).startswith("error: bad value for option '--clustering'")


@pytest.mark.parametrize("how", ["index.json", "signatures.parquet"])
def test_dedup_command_on_a_corrupt_index_exits_2_with_one_line_naming_the_file(tmp_path, how):
    src = tmp_path / "docs.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate([PASSAGE, OTHER])
        )
    )
    index = tmp_path / "index"
    assert curate("dedup", src, tmp_path / "a.jsonl", "--num-perm", "64", "--save-index", index).returncode == 0
    bad = corrupt(index, how)
    result = curate("dedup", src, tmp_path / "b.jsonl", "--num-perm", "64", "--against", index)
    assert result.returncode == 2 and without_progress(result.stderr).count("\n") == 1
    assert (
        without_progress(result.stderr).startswith("error: corrupt dedup index") and str(bad.resolve()) in result.stderr
    )


def test_a_run_counts_flagged_rows_in_stats_and_report_and_keeps_them_on_resume(tmp_path):
    import yaml

    from curate.pipeline import run_pipeline

    src = tmp_path / "reviews.tsv"
    rows = [("a", PASSAGE, "pos"), ("b", PASSAGE, "neg"), ("c", EDITED, "pos"), ("d", OTHER, "neg")]
    src.write_text("id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{lab}\n" for i, t, lab in rows))
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "flags",
                "input": {"path": str(src), "kind": "classification"},
                "output": str(tmp_path / "run"),
                "stages": [{"use": "exact_dedup"}, {"use": "minhash_dedup", "params": {"keep": "first"}}],
            }
        )
    )
    first = run_pipeline(config)
    exact = json.loads((first.dir / "01_exact_dedup" / "stats.json").read_text())
    assert exact["reasons"] == {"label_conflict": 1} and exact["flags"] == {"label_conflict": 1}
    near = json.loads((first.dir / "02_minhash_dedup" / "stats.json").read_text())
    assert near["reasons"] == {"near_duplicate": 1} and near["flags"] == {}
    output = io.read(first.dir / "output.parquet").to_arrow().to_pylist()
    assert [(r["id"], r["dedup_conflicts"]) for r in output] == [("a", ["b"]), ("d", None)]
    assert (
        "exact_dedup | filter | 4 | 3 | 1 | 1 | 0 | rejected: label_conflict 1; flagged: label_conflict 1 |"
        in (first.dir / "report.md").read_text()
    )
    again = run_pipeline(config)
    assert [r.stats.flags for r in again.stages] == [{"label_conflict": 1}, {}] and again.stages[0].resumed
