"""Answer positions, question types and the lexical-overlap heuristic on planted MRC rows."""

import pyarrow as pa
import pytest

from curate.bias import mrc_bias, question_type
from curate.bias.mrc import answer_place
from curate.dataset import Dataset
from tests.conftest import answer

CONTEXT = "서울은 대한민국의 수도이다. 한강은 서울을 가로지르는 강이다. 남산타워는 1975년에 세워졌다."


def rows(pairs, context=CONTEXT):
    """MRC rows on ``context``: one per (question, answer text)."""
    return [
        {"id": f"q{i}", "context": context, "question": q, "answers": [answer(context, a)] if a else []}
        for i, (q, a) in enumerate(pairs)
    ]


def diagnose(data):
    table = Dataset.from_arrow(pa.Table.from_pylist(data), "mrc").table
    return mrc_bias(table.to_batches(2))


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("대한민국의 수도는 어디인가?", "where"),
        ("남산타워는 언제 세워졌나?", "when"),
        ("누가 한글을 만들었는가?", "who"),
        ("서울의 인구는 몇 명인가?", "how_many"),
        ("예산은 얼마인가?", "how_many"),
        ("왜 수도를 옮겼나?", "why"),
        ("어떻게 강을 건넜나?", "how"),
        ("어느 나라의 수도인가?", "which"),
        ("남산에 세워진 것은 무엇인가?", "what"),
        ("언제나 그렇듯 누가 이겼나?", "who"),  # 언제나 is no question word
        ("How many people live in Seoul?", "how_many"),
        ("How did the river form?", "how"),
        ("In what year was the tower built?", "what"),
        ("Whose idea was it?", "who"),
        ("Is Seoul the capital?", "other"),
        ("首都是哪里？", "where"),
        ("南山塔是什么时候建的？", "when"),
        ("谁发明了韩文？", "who"),
        ("有多少人？", "how_many"),
        ("", "other"),
    ],
)
def test_question_type(question, kind):
    assert question_type(question) == kind


def test_answers_planted_in_the_first_sentence_show_as_position_and_first_sentence_share():
    first = diagnose(rows([("대한민국의 수도는 어디인가?", "서울"), ("서울은 어느 나라의 수도인가?", "대한민국")]))
    assert first.metric("answer_position", "first_sentence_share") == 1.0
    assert first.shares("relative_start") == {"0.0-0.1": 1.0}
    assert first.shares("answer_sentence") == {"1": 1.0}
    assert first.metric("answer_position", "first_sentence_chars") == pytest.approx(
        len("서울은 대한민국의 수도이다. ") / len(CONTEXT)
    )
    last = diagnose(rows([("남산타워는 언제 세워졌나?", "1975년")]))
    assert last.metric("answer_position", "first_sentence_share") == 0.0
    assert last.shares("answer_sentence") == {"3": 1.0}
    assert last.metric("answer_position", "mean_relative_start") == pytest.approx(
        CONTEXT.index("1975년") / len(CONTEXT)
    )


def test_lexical_overlap_heuristic_hits_the_sentence_sharing_most_words_and_misses_otherwise():
    hit = ("한강이 가로지르는 도시는 어디인가?", "서울")  # shares 한강/가로지르 with sentence 2; 서울 is there too
    miss = ("남산타워가 세워진 도시는?", "서울")  # points to sentence 3; the answer is taken from sentence 1
    data = rows([hit])
    data += [dict(rows([miss])[0], id="m", answers=[answer(CONTEXT, "서울")])]
    places = [answer_place(CONTEXT, r["question"], r["answers"][0]["answer_start"]) for r in data]
    assert [p.overlap_hit for p in places] == [False, False]  # "서울" first occurs in sentence 1
    data[0]["answers"] = [answer(CONTEXT, "서울", nth=1)]  # the 서울 of sentence 2
    result = diagnose(data)
    assert result.metric("lexical_overlap", "accuracy") == 0.5
    assert result.metric("lexical_overlap", "random_sentence") == pytest.approx(1 / 3)


def test_answer_types_by_question_and_lengths():
    result = diagnose(rows([("남산타워는 언제 세워졌나?", "1975년"), ("대한민국의 수도는 어디인가?", "서울")]))
    assert result.shares("answer_type_by_question", "when") == {"date": 1.0, "number": 0.0, "text": 0.0}
    assert result.shares("answer_type_by_question", "where") == {"date": 0.0, "number": 0.0, "text": 1.0}
    assert result.metric("answer_length", "mean_chars") == pytest.approx((5 + 2) / 2)
    assert result.shares("answer_words") == {"1": 1.0}


def test_unanswerable_rows_and_bad_spans_are_counted_and_left_out_of_positions():
    data = rows([("대한민국의 수도는 어디인가?", "서울"), ("화성의 수도는?", None)])
    data[1]["is_impossible"] = True
    data.append(dict(rows([("한강은?", "한강")])[0], id="bad", answers=[{"text": "한강", "answer_start": 0}]))
    result = diagnose(data)
    assert result.metric("dataset", "answerable") == 2 and result.metric("dataset", "unanswerable") == 1
    assert result.metric("dataset", "bad_span") == 1
    assert sum(result.shares("relative_start").values()) == pytest.approx(1.0)
    assert result.distributions.filter(pa.compute.equal(result.distributions["section"], "relative_start"))[
        "rows"
    ].to_pylist() == [1]
