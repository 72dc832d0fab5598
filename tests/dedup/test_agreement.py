import pyarrow as pa
import pytest

from curate.dedup.agreement import Answer, answers_agree, mrc_answer, row_answers


def mrc(*texts, impossible=False):
    return mrc_answer(impossible, [{"text": t, "answer_start": 0} for t in texts])


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        (mrc("New England Patriots"), mrc("New England Patriots"), True),
        (mrc("Alexander Glazunov."), mrc("alexander  glazunov"), True),  # case, punctuation, spacing
        (mrc("Guildhall"), mrc("London's Guildhall"), True),  # one holds the other as whole words
        (mrc("the Church of the Madeleine in Paris"), mrc("Church of the Madeleine"), True),
        (mrc("Qwest"), mrc("a partnership with Level 3 Communications"), False),
        (mrc("within the Church of England"), mrc("mid-18th century"), False),
        (mrc("1"), mrc("10"), False),  # a digit inside a number is not a whole word
        (mrc("서울"), mrc("서울특별시"), False),
        (mrc("water", impossible=False), mrc(impossible=True), False),  # answerable vs unanswerable
        (mrc(impossible=True), mrc(impossible=True), True),
        (mrc(), mrc(), True),  # no answer texts on either side: nothing to disagree on
        (mrc("six"), mrc(), False),
        (mrc("Miller-Rabin", "Rabin"), mrc("AKS", "Miller Rabin"), True),  # any pair may overlap
        (Answer(label="1"), Answer(label="1"), True),
        (Answer(label="1"), Answer(label="0"), False),
        (Answer(label="positive"), Answer(label="very positive"), False),  # labels compare whole
        (None, Answer(label="0"), True),  # a row without a label agrees with any
    ],
)
def test_answers_agree(a, b, agree):
    assert answers_agree(a, b) is agree
    assert answers_agree(b, a) is agree


def test_row_answers_per_kind():
    mrc_rows = pa.table(
        {
            "answers": [[{"text": "Seoul", "answer_start": 0}], []],
            "is_impossible": [False, True],
        }
    )
    assert row_answers(mrc_rows, "mrc") == [Answer(texts=frozenset({"seoul"})), Answer(answerable=False)]
    labelled = pa.table({"label": ["pos", None, "pos"]})
    assert row_answers(labelled, "classification") == [Answer(label="pos"), None, Answer(label="pos")]
    assert row_answers(pa.table({"score": [1, 2]}), "qrels") == [Answer(label="1"), Answer(label="2")]
    assert row_answers(pa.table({"text": ["a"]}), "document") is None


@pytest.mark.parametrize("answer", [Answer(label="0"), mrc("a", "b"), mrc(impossible=True)])
def test_answer_json_round_trip(answer):
    assert Answer.from_json(answer.to_json()) == answer
