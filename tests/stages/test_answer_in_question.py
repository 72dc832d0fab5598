"""answer_in_question: flag (or reject) MRC rows whose question holds one of their answers."""

import pyarrow as pa
import pytest

import curate
from curate.dataset import Dataset
from curate.errors import ConfigError
from tests.conftest import REPO, answer, needs_shared

CONTEXT = "세종대왕은 1443년에 훈민정음을 창제하였다. 한글은 1446년에 반포되었다."


def rows() -> Dataset:
    questions = [
        ("q1", "훈민정음을 창제한 왕은?", answer(CONTEXT, "세종대왕")),
        ("q2", "세종대왕이 창제한 문자는 한글인가 한자인가?", answer(CONTEXT, "한글")),
        ("q3", "WHO invented 한글, 세종대왕?", answer(CONTEXT, "세종대왕")),
    ]
    table = [{"id": i, "title": "t", "context": CONTEXT, "question": q, "answers": [a]} for i, q, a in questions]
    return Dataset.from_arrow(pa.Table.from_pylist(table), "mrc")


def test_flags_rows_whose_question_names_an_answer_and_keeps_them():
    result = curate.AnswerInQuestion()(rows())
    kept = result.kept.to_arrow()
    assert kept.column("answer_in_question").to_pylist() == [False, True, True]
    assert result.rejected.num_rows == 0 and result.stats.flags == {"answer_in_question": 2}


def test_reject_true_rejects_them_with_the_reason():
    result = curate.AnswerInQuestion(reject=True)(rows())
    assert result.kept.to_arrow().column("id").to_pylist() == ["q1"]
    rejected = result.rejected.to_arrow()
    assert rejected.column("id").to_pylist() == ["q2", "q3"]
    assert set(rejected.column("reject_reason").to_pylist()) == {"answer_in_question"}
    assert result.stats.flags == {}


def test_other_kinds_and_unknown_parameters_are_refused():
    with pytest.raises(ConfigError, match="unknown parameter 'rejct'"):
        curate.AnswerInQuestion(rejct=True)
    corpus = curate.read(REPO / "sample_data" / "retrieval", format="beir", kind="corpus")
    with pytest.raises(ConfigError, match="does not accept kind 'corpus'"):
        curate.AnswerInQuestion()(corpus)


def test_korquad_sample_has_none_and_a_pipeline_counts_the_flags(tmp_path):
    config = {
        "name": "leaks",
        "input": {"path": str(REPO / "sample_data" / "korquad_sample.json")},
        "output": str(tmp_path / "run"),
        "stages": [{"use": "answer_in_question"}],
    }
    run = curate.run_pipeline(config)
    assert run.stages[0].stats.rows_kept == 272 and run.stages[0].stats.flags == {}
    assert run.output.to_arrow().column("answer_in_question").to_pylist() == [False] * 272


@pytest.mark.integration
def test_xquad_en_choice_questions_are_flagged():
    result = curate.AnswerInQuestion()(curate.read(needs_shared("xquad", "xquad.en.json")))
    assert result.stats.rows_in == 1190 and result.stats.flags == {"answer_in_question": 6}
    kept = result.kept.to_arrow()
    flagged = kept.filter(kept.column("answer_in_question")).column("question").to_pylist()
    assert (
        "Were the restored tapes able to have color added to them to enhance the picture or did they remain black and white?"
        in flagged
    )
