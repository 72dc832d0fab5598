import pytest

from curate.mrc.answer_issues import (
    answer_agreement,
    answer_types,
    asked_type,
    reader_disagrees,
    rule_answer_type,
    rule_mismatch,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("해솔시가 시로 승격된 해는 언제인가?", "date"),
        ("서문결은 몇 년에 태어났는가?", "date"),
        ("축제는 며칠 동안 열리는가?", "number"),
        ("인구는 약 몇 명인가?", "number"),
        ("수강료는 얼마인가?", "number"),
        ("혼천의를 만든 사람은 누구인가?", "person"),
        ("누가 혼천의를 만들었는가?", "person"),
        ("야시장은 어디에서 열리는가?", "place"),
        ("김치는 언제나 맛있는가?", "other"),
        ("특산물은 무엇인가?", "other"),
        ("When did the war end?", "date"),
        ("In what year was it founded?", "date"),
        ("How many players are on a team?", "number"),
        ("Who wrote the book?", "person"),
        ("Where is the castle?", "place"),
        ("What is the name of the man who built it?", "other"),
    ],
)
def test_asked_type(question, expected):
    assert asked_type(question) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1989년", "date"),
        ("10월 첫째 주 금요일", "date"),
        ("조선 후기", "date"),
        ("March 1815", "date"),
        ("38만 명", "number"),
        ("열한 곳", "number"),
        ("열다섯 살", "number"),
        ("two or three steps", "number"),
        ("이순신", "text"),
        ("바랑산", "text"),
    ],
)
def test_rule_answer_type(answer, expected):
    assert rule_answer_type(answer) == expected


def test_rules_never_claim_a_person_or_place():
    assert rule_mismatch("person", "text") is False and rule_mismatch("place", "text") is False
    assert rule_mismatch("date", "text") is True and rule_mismatch("person", "date") is True


DATES = [
    "1989년",
    "2013년",
    "1962년 봄",
    "10월 3일",
    "조선 후기",
    "1592년 4월",
    "2001년",
    "12월 25일",
    "1910년대",
    "2020년 여름",
]
PEOPLE = ["이순신", "세종대왕", "장영실", "서문결", "김구", "안중근", "유관순", "정약용", "허준", "신사임당"]


def hand_made():
    questions = [f"사건 {i}은 언제 일어났는가?" for i in range(len(DATES))]
    questions += [f"발명품 {i}을 만든 사람은 누구인가?" for i in range(len(PEOPLE))]
    answers = DATES + PEOPLE
    questions.append("거북선이 처음 만들어진 것은 언제인가?")
    answers.append("이순신")
    return questions, answers


def test_a_when_question_answered_by_a_person_is_flagged():
    questions, answers = hand_made()
    found = answer_types(questions, answers)
    assert found.method[-1] == "classifier" and "classifier on date, person" in found.note
    assert found.asked[-1] == "date" and found.answer_type[-1] == "person"
    assert found.mismatch[-1] is True
    assert sum(found.mismatch) <= 2


def test_too_few_rows_fall_back_to_rules():
    found = answer_types(["언제 끝났는가?", "누가 왔는가?", "무엇인가?"], ["장영실", "1990년", "사과"])
    assert found.method == ["rules", "rules", None]
    assert found.mismatch == [True, True, False]
    assert found.note.startswith("rules only")


def test_answer_agreement_and_reader():
    same = [{"text": "서울", "answer_start": 0}, {"text": "서울특별시", "answer_start": 0}]
    apart = [{"text": "서울", "answer_start": 0}, {"text": "한강", "answer_start": 30}]
    assert answer_agreement(same) == 1.0 and answer_agreement(apart) == 0.0
    assert answer_agreement(same[:1]) is None
    assert reader_disagrees("한강", 0.9, ["서울"], 0.8) is True
    assert reader_disagrees("한강", 0.5, ["서울"], 0.8) is False
    assert reader_disagrees("  서울특별시 ", 0.95, ["서울"], 0.8) is False
