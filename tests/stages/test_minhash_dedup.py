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
from tests.conftest import REPO, answer

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
        outputs.append((kept.read_bytes(), rejected.read_bytes()))
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
    joined = MinHashDedup(unit="row")(mrc_rows())
    assert joined.stats.rows_rejected > 2  # the naive joined text loses distinct questions


def test_mrc_context_unit_repoints_questions_or_rejects_them():
    result = MinHashDedup(unit="context")(mrc_rows())
    kept = {r["id"]: r for r in result.kept.to_arrow().to_pylist()}
    assert kept["p2-a"]["context"] == PASSAGE and kept["p2-a"]["repointed_from"] == "p2"
    assert kept["p2-a"]["passage_id"] == "p1" and kept["p2-a"]["answers"] == [answer(PASSAGE, "1989년")]
    assert kept["p1-a"]["repointed_from"] is None
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"], r["duplicate_of"]) for r in rejected] == [("p2-c", "near_duplicate", "p1-a")]
    assert "lacks the answer '병풍같이'" in rejected[0]["reject_detail"]
    assert find_problems(result.kept).clean


def test_unit_needs_mrc_and_fields_must_exist():
    with pytest.raises(ConfigError, match="unit 'context' works on MRC data"):
        MinHashDedup(unit="context")(docs([PASSAGE]))
    with pytest.raises(ConfigError, match="no such column"):
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
        ("index.json", "{not json", "index.json is not an index record"),
        ("index.json", "{}", "index.json is not an index record"),
        ("signatures.parquet", "PAR1 garbage", "cannot read its signatures"),
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
    assert "qrels re-pointed 1, merged 1" in result.stdout
    qrels = (tmp_path / "out" / "qrels" / "test.tsv").read_text().splitlines()
    assert qrels == ["query-id\tcorpus-id\tscore", "q1\td0\t2", "q2\td1\t1"]
    bad = curate("dedup", src, tmp_path / "x.jsonl", "--shingle", "letters")
    assert bad.returncode == 2 and "shingle" in bad.stderr


def test_demo_sample_mrc_question_dedup_matches_planted_duplicates():
    defects = json.loads((REPO / "sample_data" / "defects.json").read_text())["korquad_sample.json"]
    result = MinHashDedup()(io.read(REPO / "sample_data" / "korquad_sample.json"))
    expected = {d["id"] for d in defects["exact_duplicate_question"]} | set(defects["near_duplicate_paragraph"])
    assert set(result.rejected.to_arrow().column("id").to_pylist()) == expected
