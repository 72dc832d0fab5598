import pyarrow as pa

from curate import io
from curate.dataset import Dataset
from curate.stages.answer_issues import AnswerIssues
from tests.conftest import REPO, needs_shared
from tests.mrc.test_answer_issues import hand_made


def rows_of(questions, answers, **extra):
    rows = []
    for i, (q, a) in enumerate(zip(questions, answers, strict=True)):
        context = f"문맥 {a}."
        rows.append({"id": f"r{i}", "context": context, "question": q, "answers": [{"text": a, "answer_start": 3}]})
    for key, values in extra.items():
        for row, value in zip(rows, values, strict=True):
            row[key] = value
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")


def test_korquad_sample_adds_columns_and_flags_without_rejecting():
    data = io.read(REPO / "sample_data" / "korquad_sample.json", kind="mrc")
    result = AnswerIssues()(data)
    kept = result.kept.to_arrow()
    assert result.stats.rows_rejected == 0 and kept.num_rows == data.num_rows
    for name in ("answer_flags", "asked_type", "answer_type", "answer_type_quality", "answer_agreement"):
        assert name in kept.column_names
    flags = [f for row in kept.column("answer_flags").to_pylist() for f in set(row)]
    assert result.stats.flags == {f: flags.count(f) for f in set(flags)}
    assert result.stats.rows_flagged == sum(bool(row) for row in kept.column("answer_flags").to_pylist()) > 0
    issues = result.artifacts["answer_issues"]
    assert issues.num_rows == sum(bool(f) for f in kept.column("answer_flags").to_pylist()) > 0
    # the injected wrong answer: a "몇 게임" question answered by a place
    assert "ko-0146" in issues.column("id").to_pylist()
    types = {r["asked_type"]: r for r in result.artifacts["answer_types"].to_pylist()}
    assert types["person"]["method"] == "rules" and types["date"]["method"] == "classifier"


def test_hand_made_when_question_with_a_person_answer_is_flagged_and_rejected_on_request():
    questions, answers = hand_made()
    result = AnswerIssues(reject=["answer_type_mismatch"])(rows_of(questions, answers))
    rejected = result.rejected.to_arrow().to_pylist()
    assert f"r{len(questions) - 1}" in [r["id"] for r in rejected]
    assert {r["reject_reason"] for r in rejected} == {"answer_type_mismatch"}
    worst = result.artifacts["answer_issues"].to_pylist()[0]
    assert worst["answer_type_method"] == "classifier"


def test_answer_disagreement_and_reader_disagreement():
    context = "서울은 수도이다. 한강이 흐른다."
    rows = [
        {
            "id": "a",
            "context": context,
            "question": "수도는?",
            "answers": [{"text": "서울", "answer_start": 0}, {"text": "한강", "answer_start": 10}],
            "pred": "서울",
            "conf": 0.99,
        },
        {
            "id": "b",
            "context": context,
            "question": "흐르는 강은?",
            "answers": [{"text": "한강", "answer_start": 10}],
            "pred": "서울",
            "conf": 0.9,
        },
        {
            "id": "c",
            "context": context,
            "question": "흐르는 강은?",
            "answers": [{"text": "한강", "answer_start": 10}],
            "pred": "서울",
            "conf": 0.3,
        },
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    result = AnswerIssues(prediction_column="pred", confidence_column="conf")(data)
    kept = result.kept.to_arrow().to_pylist()
    assert [r["answer_flags"] for r in kept] == [["answer_disagreement"], ["reader_disagreement"], []]
    assert [r["reader_match"] for r in kept] == [True, False, False]
    details = {r["id"]: r["detail"] for r in result.artifacts["answer_issues"].to_pylist()}
    assert "'서울'@0" in details["a"] and "'한강'@10" in details["a"]


def test_xquad_en_integration():
    path = needs_shared("xquad", "xquad.en.json")
    data = io.read(path, kind="mrc")
    result = AnswerIssues()(data)
    issues = result.artifacts["answer_issues"]
    assert result.stats.rows_rejected == 0
    assert 0 < issues.num_rows < data.num_rows * 0.2
    assert set(result.artifacts["answer_types"].column("method").to_pylist()) == {"classifier"}
