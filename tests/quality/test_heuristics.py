import pytest

from curate.quality import heuristics as h

KO_NEWS = (
    "서울시는 올해 하반기부터 시내버스 노선을 전면 개편한다고 3일 밝혔다. "
    "이번 개편은 출퇴근 시간대 혼잡을 줄이고 외곽 지역 주민의 이동 편의를 높이는 데 초점을 맞췄다. "
    "시는 지난 1년 동안 교통카드 이용 기록을 분석해 승객이 적은 노선을 통합하고 새로운 간선 노선을 만들었다. "
    "개편안에 따르면 강남과 여의도를 잇는 급행버스가 새로 생기고 배차 간격도 평균 5분가량 줄어든다. "
    "시 관계자는 시민 의견을 충분히 반영해 불편이 없도록 하겠다고 말했다. "
    "시는 다음 달까지 설명회를 열어 자세한 내용을 알릴 예정이다."
)


# ----------------------------------------------------------------- building blocks


@pytest.mark.parametrize(
    "line",
    ["끝났다.", "좋아요", "재밌다", "정말요?", "최고!", "그렇게 끝났다…", "그날 밤⋯", "재밌다ㅋㅋ", "좋아요~~",
     "다시 보고 싶다...", "좋았습니다 ^^", "수고하셨습니다!!", "그게 맞나요ㅠㅠ", "그가 말했다 「끝」", "He said \"yes.\"",
     "It works.", "Really?"],
)  # fmt: skip
def test_ends_sentence_accepts_korean_endings_and_terminal_marks(line):
    assert h.ends_sentence(line)


@pytest.mark.parametrize(
    "line", ["Read more...", "회사소개", "다음", "보관함", "홈페이지", "게임", "Home", "가격 (세전)", "12:45", ""]
)
def test_ends_sentence_rejects_menus_headings_and_truncated_lines(line):
    assert not h.ends_sentence(line)


def test_ends_sentence_ellipsis_counts_only_when_asked():
    assert not h.ends_sentence("Read more...")
    assert not h.ends_sentence("Read more…")
    assert not h.ends_sentence("더보기...")
    assert h.ends_sentence("Read more...", ellipsis_ends=True)
    assert h.ends_sentence("Read more…", ellipsis_ends=True)
    assert not h.ends_sentence("회사소개", ellipsis_ends=True)


def test_count_sentences_korean_and_english():
    assert h.count_sentences(KO_NEWS) == 6
    assert h.count_sentences("비가 온다. 바람도 분다 정말 춥다") == 2  # the unpunctuated end counts once
    assert h.count_sentences("It costs 3.5 dollars. Buy it now!") == 2
    assert h.count_sentences("홈 회사소개") == 0


@pytest.mark.parametrize(
    ("text", "run"),
    [("", 0), ("좋다", 1), ("재밌다ㅋㅋ", 2), ("ㅋㅋㅋㅋㅋ", 5), ("하하하하하하 웃겼다", 6), ("ㅋㅎㅋㅎㅋㅎ", 6),
     ("ㅋㅋ ㅋㅋ ㅋㅋ", 2), ("1000000원", 1), ("아ㅠㅠㅠ", 3), ("Goooood", 5), ("꿀잼꿀잼꿀잼", 6),
     ("아ㅏㅏㅏㅏ", 4),
     # punctuation, symbols and digits never make a run, whatever their length
     ("최고!!!!!", 1), ("좋아요~~~~", 1), ("정말 재밌는 영화다..............", 1), ("♥♥♥♥♥♥", 1),
     ("!!!!!!!!!!!!", 1), ("미쉘.....미쉘.....", 1), ("ㅋㅋㅋ!!!!!!!!ㅋㅋ", 3)],
)  # fmt: skip
def test_longest_repeat_run(text, run):
    assert h.longest_repeat_run(text) == run


def test_hangul_ratio_counts_syllables_and_jamo_among_letters():
    assert h.hangul_ratio("한국어 text") == pytest.approx(3 / 7)
    assert h.hangul_ratio("ㅋㅋ ok 123 !!") == pytest.approx(0.5)
    assert h.hangul_ratio("123 !!") == 0.0
    assert h.is_hangul_dominant("서울 Seoul") is False
    assert h.is_hangul_dominant("서울특별시 Seoul") is True  # 5 of 10 letters


def test_every_statistic_handles_empty_and_blank_text():
    for function in (h.gopher_quality_stats, h.gopher_repetition_stats, h.c4_stats, h.fineweb_stats, h.korean_stats):
        for text in ("", "   \n\n  "):
            stats = function(text)
            assert all(value in (0, 0.0, False) for value in stats), (function.__name__, stats)


# ----------------------------------------------------------------- Gopher quality


def test_gopher_quality_on_korean_news():
    s = h.gopher_quality_stats(KO_NEWS)
    assert s.word_count == 72
    assert 2.0 < s.mean_word_length < 4.0
    assert s.alpha_words_ratio == 1.0  # Hangul words have letters (3일, 1년 too)
    assert s.hangul_ratio == 1.0
    assert s.stop_words == 0
    assert s.function_word_ratio > 0.5
    assert s.symbol_ratio == s.bullet_lines_ratio == s.ellipsis_lines_ratio == 0.0


def test_gopher_words_ignore_punctuation_tokens_and_strip_edges():
    s = h.gopher_quality_stats('"Hello," she said - ... and left.')
    assert s.word_count == 5  # "-" and "..." are not words
    assert s.mean_word_length == pytest.approx((5 + 3 + 4 + 3 + 4) / 5)
    assert s.stop_words == 1


def test_gopher_alpha_words_use_unicode_letters():
    assert h.gopher_quality_stats("한국 123 456 가나").alpha_words_ratio == 0.5
    assert h.gopher_quality_stats("東京 Ωmega été").alpha_words_ratio == 1.0


def test_gopher_stop_words_are_distinct():
    assert h.gopher_quality_stats("the the the The").stop_words == 1
    assert h.gopher_quality_stats("the cat and the hat with a bat").stop_words == 3


def test_gopher_function_words_separate_prose_from_keyword_lists():
    prose = h.gopher_quality_stats("나는 어제 친구와 함께 영화를 보았다.")
    keywords = h.gopher_quality_stats("강남 맛집 강남역 맛집 추천 데이트 코스 파스타 맛집")
    assert prose.function_word_ratio > 0.5
    assert keywords.function_word_ratio < 0.2


def test_gopher_symbol_ratio_counts_hashes_and_ellipsis_runs():
    assert h.gopher_quality_stats("#a #b c d").symbol_ratio == 0.5
    assert h.gopher_quality_stats("음...... 글쎄…… 그래⋯ 그렇군.. 좋다").symbol_ratio == pytest.approx(3 / 5)


def test_gopher_bullet_and_ellipsis_lines():
    s = h.gopher_quality_stats("• one\nㆍ 둘\n※ 셋\n▶ 넷\nplain line")
    assert s.bullet_lines_ratio == pytest.approx(0.8)
    s = h.gopher_quality_stats("Read more...\n더보기…\n끝.\n\n")
    assert s.ellipsis_lines_ratio == pytest.approx(2 / 3)


# ----------------------------------------------------------------- Gopher repetition


def test_gopher_repetition_lines_and_paragraphs():
    s = h.gopher_repetition_stats("메뉴\n메뉴\n메뉴\n본문입니다")
    assert s.dup_line_frac == 0.5
    assert s.dup_line_char_frac == pytest.approx(4 / 11)
    assert s.dup_para_frac == 0.0  # one paragraph
    s = h.gopher_repetition_stats("같은 문단\n\n같은 문단\n\n다른 문단이다")
    assert s.dup_para_frac == pytest.approx(1 / 3)
    assert s.dup_para_char_frac == pytest.approx(5 / 17)


def test_gopher_repetition_top_ngram_counts_characters_of_the_most_frequent_one():
    s = h.gopher_repetition_stats("좋아요 최고 좋아요 최고 그냥 그래요")
    assert s.top_2gram_frac == pytest.approx(2 * 5 / 15)
    assert s.top_3gram_frac == 0.0  # every 3-gram occurs once


def test_gopher_repetition_duplicate_ngrams_count_each_character_once():
    words = "a b c d e".split()
    s = h.gopher_repetition_stats(" ".join(words * 3 + ["x"]))
    assert s.dup_5gram_frac == pytest.approx(10 / 16)
    assert s.dup_10gram_frac == pytest.approx(10 / 16)  # words 5-14 repeat words 0-9
    assert h.gopher_repetition_stats(" ".join(words * 2)).dup_10gram_frac == 0.0  # too short to repeat
    assert h.gopher_repetition_stats("ㅋㅋ " * 50).top_2gram_frac == 1.0  # capped


def test_gopher_repetition_unique_words_short_circuit():
    assert set(h.gopher_repetition_stats(KO_NEWS)) == {0.0}


# ----------------------------------------------------------------- C4


def test_c4_on_korean_news_keeps_every_line():
    s = h.c4_stats(KO_NEWS)
    assert (s.terminal_punct_ratio, s.short_lines_ratio, s.sentences) == (1.0, 0.0, 6)
    assert not s.lorem_ipsum and not s.curly_bracket


def test_c4_short_lines_use_two_eojeol_for_korean_and_three_words_otherwise():
    assert h.c4_stats("정말 재밌다.\n최고의 영화였다.").short_lines_ratio == 0.0
    assert h.c4_stats("정말.\n최고의 영화였다.").short_lines_ratio == 0.5
    assert h.c4_stats("Very good.\nThe best film ever.").short_lines_ratio == 0.5


def test_c4_sentences_come_only_from_lines_c4_keeps():
    text = (
        "첫 문장이다. 둘째 문장이다.\n메뉴 바로가기\n자바스크립트를 켜 주세요. 그래야 보입니다.\n이용약관에 동의합니다."
    )
    s = h.c4_stats(text)
    assert s.sentences == 2
    assert s.javascript_lines_ratio == 0.25 and s.policy_lines_ratio == 0.25
    assert s.terminal_punct_ratio == 0.75
    assert h.c4_stats("Please enable JavaScript to continue.").javascript_lines_ratio == 1.0
    assert h.c4_stats("We use cookies. See our Privacy Policy.").policy_lines_ratio == 1.0


def test_c4_lorem_ipsum_and_curly_bracket_anywhere():
    assert h.c4_stats("Some text. LOREM IPSUM dolor.").lorem_ipsum
    assert h.c4_stats("function f() { return 1; }").curly_bracket


# ----------------------------------------------------------------- FineWeb


def test_fineweb_short_lines_are_language_aware():
    korean = "이 줄은 열여섯 자가 넘는 줄입니다.\n짧은 줄이다.\n짧다."
    assert h.fineweb_stats(korean).short_line_ratio == pytest.approx(2 / 3)
    english = "This line is longer than thirty characters.\nA short line.\nShort."
    assert h.fineweb_stats(english).short_line_ratio == pytest.approx(2 / 3)
    assert h.fineweb_stats(KO_NEWS).short_line_ratio == 0.0


def test_fineweb_line_punct_dup_chars_and_list_ratio():
    s = h.fineweb_stats("메뉴\n메뉴\n본문이 여기 있습니다...")
    assert s.line_punct_ratio == pytest.approx(1 / 3)  # "..." ends a line for FineWeb
    assert s.dup_line_char_ratio == pytest.approx(2 / 18)
    assert s.list_ratio == pytest.approx(2 / 5)


# ----------------------------------------------------------------- Korean


def test_korean_stats():
    s = h.korean_stats("재밌다ㅋㅋ")
    assert (s.jamo_ratio, s.repeat_char_run, s.hangul_ratio, s.hangul_char_ratio) == (0.4, 2, 1.0, 1.0)
    s = h.korean_stats("ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ")
    assert (s.jamo_ratio, s.repeat_char_run) == (1.0, 10)
    s = h.korean_stats("OK 좋아!!")
    assert s.hangul_ratio == 0.5 and s.hangul_char_ratio == pytest.approx(2 / 6)
    assert h.korean_stats("plain English text").jamo_ratio == 0.0
