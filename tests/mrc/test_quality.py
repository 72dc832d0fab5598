import random

import pytest

from curate import io
from curate.mrc.quality import (
    answer_occurrences,
    copied_share,
    korean_stem,
    lexical_overlap,
    longest_shared_run,
    overlap_tokens,
    question_form,
    question_key,
    text_length,
    words,
)
from tests.conftest import CONTEXT, REPO, needs_shared

# ----------------------------------------------------------------- question form


@pytest.mark.parametrize(
    "question",
    [
        "대한민국의 수도는?",
        "대한민국의 수도는",  # elliptical question: topic particle at the end
        "서울을 가로지르는 강의 이름은",
        "한글을 창제한 왕은 누구인가",
        "임진왜란이 일어난 해는 언제인가",
        "경복궁은 어디인가",
        "세종대왕이 즉위한 해는 몇 년인가",
        "서울의 인구는 몇 명",  # question word, no ending
        "조선소가 문을 닫은 원인은 무엇인가",
        "서문결 기념관은 언제 문을 열었는가",
        "달이 밝게 보이는 까닭이 있나요",
        "겨울왕국은 오프닝 주에 얼마의 매출을 올렸을까",
        "이것이 정말 맞니",
        "누가 이 다리를 설계했지",
        "강인섭의 득표율은 얼마였나",
        "온도가 높을 때 발효 속도는 어떻게 되는가",
        "광합성이 중요한 이유가 무엇일까요",
        "왜 달은 밝게 보이는가",
        "김치는 어느 나라 음식",
    ],
)
def test_korean_questions_pass_with_or_without_a_question_mark(question):
    assert question_form(question) is True
    assert question_form(question + "?") is True


@pytest.mark.parametrize(
    "statement",
    [
        "서울은 대한민국의 수도이다.",
        "한강이 서울을 가로지른다",
        "임진왜란 때 기록이 왜곡되었다",  # 왜 inside a word is no question word
        "이 지역의 중심은 국가",  # 가 after a syllable without ㄴ is no -ㄴ가 ending
        "어머니",
        "몇몇 학생이 늦게 왔다",
        "그는 언제나 일찍 일어났다",
        "무엇이 문제인지 알아야 한다",  # indirect question inside a statement
    ],
)
def test_korean_statements_fail(statement):
    assert question_form(statement) is False


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France",
        "In what year did the war end",
        "Prior to Manning, who was the oldest quarterback",
        "In 1972, did Norway join the European Union",
        "Did the Broncos win",
        "Name a luxury division of Toyota.",
        "The time required is expressed as what",
        "Peyton Manning took how many teams to the Super Bowl",
    ],
)
def test_english_questions_pass(question):
    assert question_form(question) is True


@pytest.mark.parametrize(
    "text",
    ["The new platform is called", "Paris is the capital of France.", "They left when the rain started and the sun"],
)
def test_english_statements_fail(text):
    assert question_form(text) is False


def test_other_languages_need_a_question_mark_or_get_no_verdict():
    assert question_form("Кто написал эту книгу?") is True
    assert question_form("Кто написал эту книгу") is None
    assert question_form("谁发明了电话？") is True
    assert question_form("谁发明了电话") is None
    assert question_form("ما هي عاصمة فرنسا؟") is True
    assert question_form("Ποια είναι η πρωτεύουσα;") is True
    assert question_form("¿Quién escribió el libro") is True
    # English names inside another language do not make it English
    assert question_form("Wer hat das Gedicht The Mask of Anarchy geschrieben") is None
    assert question_form("Welcher Feind von Doctor Who ist ein Herr der Zeit") is None


def test_empty_question_is_not_a_question():
    assert question_form("") is False
    assert question_form("  ...  ") is False


def test_every_korean_question_of_the_sample_passes_without_its_question_mark():
    questions = io.read(REPO / "sample_data" / "korquad_sample.json").column("question").to_pylist()
    korean = [q for q in questions if any("가" <= ch <= "힣" for ch in q)]
    assert len(korean) > 250
    assert [q for q in korean if question_form(q.rstrip("?")) is not True] == []


# ----------------------------------------------------------------- tokens and overlap


def test_korean_particles_are_stripped_so_forms_of_one_noun_meet():
    assert korean_stem("서울의") == korean_stem("서울은") == korean_stem("서울에서") == "서울"
    assert korean_stem("은") == "은"  # never the whole eojeol
    assert overlap_tokens("서울의 인구는") <= overlap_tokens("서울은 인구가 많다")


def test_question_words_and_english_function_words_are_not_tokens():
    assert overlap_tokens("무엇인가 누구 언제") == frozenset()
    assert overlap_tokens("What is the capital of France?") == {"capital", "france"}


def test_scripts_without_spaces_become_character_ngrams():
    assert overlap_tokens("北京大学") == {"北京", "京大", "大学"}
    assert overlap_tokens("ภาษาไทย") == {"ภาษ", "าษา", "ษาไ", "าไท", "ไทย"}
    assert words("Hello, WORLD! 서울·부산") == ["hello", "world", "서울", "부산"]


def test_lexical_overlap_is_the_share_of_question_tokens_in_the_context():
    context = overlap_tokens(CONTEXT)
    assert lexical_overlap(overlap_tokens("서울의 인구는?"), context) == 1.0
    assert lexical_overlap(overlap_tokens("부산 해운대 모래사장의 길이는?"), context) == 0.0
    assert lexical_overlap(frozenset(), context) is None


def test_copied_share_finds_a_question_that_copies_the_context():
    assert copied_share("서울의 인구는 약 940만 명이다?", CONTEXT) == 1.0
    assert copied_share("서울의 인구는 얼마인가?", CONTEXT) == pytest.approx(
        len("서울의 인구는 ") / len("서울의 인구는 얼마인가")
    )
    assert copied_share("부산의 인구는?", CONTEXT) < 0.8
    assert copied_share("?", CONTEXT) is None
    assert longest_shared_run("abcxyz", "zzabcz") == 3
    assert longest_shared_run("abc", "xyz") == 0


# ----------------------------------------------------------------- counts and keys


def test_answer_occurrences_counts_the_exact_text():
    assert answer_occurrences(CONTEXT, "서울") == 3
    assert answer_occurrences(CONTEXT, "한강") == 1
    assert answer_occurrences(CONTEXT, "부산") == 0
    assert answer_occurrences(CONTEXT, "") is None
    assert answer_occurrences(CONTEXT, None) is None


def test_text_length_in_words_and_chars():
    assert text_length("서울은 대한민국의  수도이다.", "words") == 3
    assert text_length("서울은 수도", "chars") == 6
    assert text_length(None, "words") == 0


def test_question_key_ignores_spacing_case_and_the_question_mark():
    assert question_key("대한민국의   수도는?") == question_key("대한민국의 수도는") == "대한민국의 수도는"
    assert question_key("Who won?") == question_key("who WON")
    assert question_key("대한민국의 수도는?") != question_key("대한민국의 국화는?")


# ----------------------------------------------------------------- real data (../shared/data)


def auc(right, wrong):
    """P(right pair overlap > wrong pair overlap), ties count half."""
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["en", "zh", "th"])
def test_xquad_overlap_separates_the_right_paragraph_from_a_wrong_one(lang):
    rows = io.read(needs_shared("xquad", f"xquad.{lang}.json")).to_arrow().to_pylist()
    rng = random.Random(0)
    by_title: dict[str, list[str]] = {}
    for row in rows:
        by_title.setdefault(row["title"], [])
        if row["context"] not in by_title[row["title"]]:
            by_title[row["title"]].append(row["context"])
    right, wrong = [], []
    for row in rows[::3]:
        question = overlap_tokens(row["question"])
        right.append(lexical_overlap(question, overlap_tokens(row["context"])) or 0.0)
        other = rng.choice([t for t in by_title if t != row["title"]])
        wrong.append(lexical_overlap(question, overlap_tokens(rng.choice(by_title[other]))) or 0.0)
    assert auc(right, wrong) > 0.97
    assert sum(r <= 0.15 for r in right) / len(right) < 0.04  # right pairs flagged by the default
    assert sum(w <= 0.15 for w in wrong) / len(wrong) > 0.5  # wrong pairs caught by the default


@pytest.mark.integration
def test_xquad_english_questions_pass_the_form_check_without_their_question_mark():
    questions = io.read(needs_shared("xquad", "xquad.en.json")).column("question").to_pylist()
    passed = [question_form(q.strip().rstrip("?")) for q in questions]
    assert passed.count(True) / len(questions) > 0.99
