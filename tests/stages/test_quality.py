import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.quality import heuristics
from curate.stages.quality import (
    QUALITY_STAGES,
    C4Quality,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    KoreanQuality,
)
from tests.conftest import mrc_rows, needs_shared
from tests.quality.test_heuristics import KO_NEWS

EN_NEWS = (
    "The city council approved a new plan to improve public transport on Monday. "
    "The plan will add more buses to the busiest routes and extend service hours in the evening. "
    "Officials said that the changes are based on a year of travel data collected from fare cards. "
    "Residents of the outer districts will have faster connections to the city centre. "
    "The council expects the first new routes to open in the spring. "
    "A public consultation will run until the end of the month."
)
BOILERPLATE = "홈\n회사소개\n공지사항\n고객센터\n이용약관\n개인정보처리방침\n로그인\n회원가입"
KEYBOARD_MASH = "ㅁㄴㅇㄹ ㅁㄴㅇㄹㅁㄴㅇㄹ ㅇㄹㅇㄹ"
LAUGHTER = "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ"
LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 3 + EN_NEWS
REPEATED_LINES = "\n".join([KO_NEWS, "지금 바로 구독하고 알림을 받아 보세요."] * 4)
ADS = "\n".join([*KO_NEWS.replace("다. ", "다.\n").splitlines(), *["광고"] * 6])  # 5 of 12 lines repeat
PROSE_STAGES = (GopherQuality, GopherRepetition, C4Quality, FineWebQuality, KoreanQuality)


def documents(*texts):
    rows = [{"id": f"d{i}", "text": text} for i, text in enumerate(texts)]
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "document")


def rejected_rows(result):
    return result.rejected.table.to_pylist()


def only_reason(stage, text):
    rows = rejected_rows(stage(documents(text)))
    assert len(rows) == 1, f"{stage.name} kept {text[:30]!r}"
    return rows[0]["reject_reason"], rows[0]["reject_detail"]


# ----------------------------------------------------------------- good text passes


@pytest.mark.parametrize("cls", PROSE_STAGES)
@pytest.mark.parametrize("text", [KO_NEWS, EN_NEWS], ids=["korean", "english"])
def test_a_good_news_paragraph_passes_every_default_rule(cls, text):
    result = cls()(documents(text))
    assert result.stats.rows_rejected == 0, rejected_rows(result)
    assert set(cls().score_columns("document")) <= set(result.kept.table.column_names)


def test_a_short_review_with_laughter_passes_korean_quality():
    reviews = ("재밌다ㅋㅋ", "최고의 영화!! 또 보고 싶어요~~", "아 진짜 슬프다ㅠㅠ", "정말 재밌는 영화다..............",
               "재밌네요!!!!!!!!!!!!", "넘 좋아요~~~~~~~~~~~~ ♥♥♥♥♥♥♥♥♥♥♥♥")  # fmt: skip
    result = KoreanQuality()(documents(*reviews))
    assert result.stats.rows_rejected == 0


# ----------------------------------------------------------------- bad text fails with the right reason


@pytest.mark.parametrize(
    ("cls", "text", "reason"),
    [
        (GopherQuality, BOILERPLATE, "gopher_word_count"),
        (GopherQuality, "강남 맛집 강남역 맛집 추천 데이트 코스 파스타 맛집 " * 5, "gopher_function_word_ratio"),
        (GopherQuality, "이 영 화 정 말 최 고 예 요 " * 6, "gopher_mean_word_length"),
        (GopherQuality, ("asdkfjhasldkfjh qweoriuqwpeoriu zxmcnvbzmxncbv " * 20).strip(), "gopher_mean_word_length"),
        (GopherQuality, "#tag " * 60, "gopher_symbol_ratio"),
        (
            GopherQuality,
            "\n".join(f"• item number {i} in a list of things" for i in range(10)),
            "gopher_bullet_lines_ratio",
        ),
        (GopherQuality, ("word " * 55).strip(), "gopher_stop_words"),
        (GopherRepetition, REPEATED_LINES, "gopher_dup_line_frac"),
        (GopherRepetition, ADS, "gopher_dup_line_frac"),
        (GopherRepetition, KO_NEWS + " " + "정말 최고의 영화 " * 20, "gopher_top_2gram_frac"),
        (C4Quality, LOREM, "c4_lorem_ipsum"),
        (C4Quality, EN_NEWS + " function f() { return 1; }", "c4_curly_bracket"),
        (C4Quality, BOILERPLATE, "c4_terminal_punct_ratio"),
        (
            C4Quality,
            KO_NEWS + "\n이 사이트는 자바스크립트를 사용합니다. 브라우저 설정을 확인하세요.",
            "c4_javascript_lines_ratio",
        ),
        (C4Quality, KO_NEWS + "\n회원가입 전 이용약관을 반드시 확인하세요.", "c4_policy_lines_ratio"),
        (C4Quality, "서울은 대한민국의 수도이다. 한강이 서울을 가로지른다.", "c4_sentences"),
        (FineWebQuality, BOILERPLATE, "fineweb_line_punct_ratio"),
        (FineWebQuality, REPEATED_LINES, "fineweb_dup_line_char_ratio"),
        (FineWebQuality, "짧은 줄이다.\n또 짧은 줄.\n이것도 짧다.\n" + KO_NEWS, "fineweb_short_line_ratio"),
        (KoreanQuality, LAUGHTER, "korean_jamo_ratio"),
        (KoreanQuality, KEYBOARD_MASH, "korean_jamo_ratio"),
        (KoreanQuality, "진짜 웃긴다 하하하하하하하하하하하하 최고", "korean_repeat_char_run"),
        (KoreanQuality, "꿀잼꿀잼꿀잼꿀잼꿀잼꿀잼", "korean_repeat_char_run"),
    ],
)
def test_bad_text_fails_with_its_rule(cls, text, reason):
    found, detail = only_reason(cls(), text)
    assert found == reason
    assert detail.startswith(f"{reason}=")


def test_list_ratio_rule():
    text = "\n".join(f"항목 {i}." for i in range(20))
    found, _ = only_reason(FineWebQuality(max_short_line_ratio=None), text)
    assert found == "fineweb_list_ratio"


def test_detail_names_every_failed_rule_with_value_and_threshold():
    reason, detail = only_reason(GopherQuality(), LAUGHTER)
    assert reason == "gopher_word_count"
    assert detail == (
        "gopher_word_count=1 < 40 (Korean); gopher_mean_word_length=10 > 7 (Korean); "
        "gopher_function_word_ratio=0 < 0.3 (Korean)"
    )
    reason, detail = only_reason(KoreanQuality(max_repeat_char_run=5), LAUGHTER)
    assert (reason, detail) == ("korean_jamo_ratio", "korean_jamo_ratio=1 > 0.5; korean_repeat_char_run=10 > 5")
    _, detail = only_reason(FineWebQuality(), BOILERPLATE)
    assert detail.startswith("fineweb_line_punct_ratio=0 <= 0.12; fineweb_short_line_ratio=1 >= 0.67")


# ----------------------------------------------------------------- Korean thresholds


def test_gopher_word_count_bounds_depend_on_the_language():
    korean = " ".join(KO_NEWS.split()[:45])
    english = " ".join((EN_NEWS + " " + EN_NEWS).split()[:45])
    assert GopherQuality()(documents(korean)).stats.rows_rejected == 0
    assert only_reason(GopherQuality(), english)[0] == "gopher_word_count"
    # moving the Korean cut-off above the text's Hangul share applies the English bounds
    assert only_reason(GopherQuality(korean_min_hangul=None), korean)[0] == "gopher_word_count"


def test_english_stop_words_are_not_required_of_korean_text():
    result = GopherQuality()(documents(KO_NEWS))
    row = result.kept.table.to_pylist()[0]
    assert row["gopher_stop_words"] == 0 and result.stats.rows_rejected == 0
    _, detail = only_reason(GopherQuality(korean_min_hangul=None), KO_NEWS)  # judged as English
    assert detail == "gopher_mean_word_length=2.89 < 3; gopher_stop_words=0 < 2"


# ----------------------------------------------------------------- null disables a rule


@pytest.mark.parametrize(
    ("cls", "text", "off"),
    [
        (
            GopherQuality,
            LAUGHTER,
            {"min_words_ko": None, "max_mean_word_length_ko": None, "min_function_word_ratio_ko": None},
        ),
        (GopherRepetition, ADS, {"max_dup_line_frac": None}),
        (C4Quality, LOREM, {"lorem_ipsum": None}),
        (C4Quality, "재밌다", {"max_short_lines_ratio": None, "min_sentences": None}),
        (
            FineWebQuality,
            BOILERPLATE,
            {"min_line_punct_ratio": None, "max_short_line_ratio": None, "max_list_ratio": None},
        ),
        (KoreanQuality, LAUGHTER, {"max_jamo_ratio": None}),
    ],
)
def test_null_threshold_switches_its_rule_off(cls, text, off):
    assert cls()(documents(text)).stats.rows_rejected == 1
    assert cls(**off)(documents(text)).stats.rows_rejected == 0


def test_false_switches_a_boolean_rule_off():
    assert C4Quality(lorem_ipsum=False)(documents(LOREM)).stats.rows_rejected == 0


def test_filter_false_only_scores():
    result = GopherQuality(filter=False)(documents(LAUGHTER, KO_NEWS))
    assert result.stats.rows_kept == 2
    assert result.kept.table.column("gopher_word_count").to_pylist() == [1, 72]


# ----------------------------------------------------------------- re-thresholding reuses scores


@pytest.mark.parametrize("cls", QUALITY_STAGES)
def test_rethresholding_a_scored_table_does_not_recompute(cls, monkeypatch):
    data = documents(KO_NEWS, EN_NEWS, LAUGHTER, BOILERPLATE, REPEATED_LINES, LOREM, "재밌다ㅋㅋ")
    scored = cls(filter=False)(data).kept
    first = cls()(scored)

    def boom(text):
        raise AssertionError("scores were recomputed")

    monkeypatch.setattr(heuristics, cls.statistics, boom)
    again = cls()(scored)
    assert again.kept.table.equals(first.kept.table)
    assert (
        again.rejected.table.column("reject_detail").to_pylist()
        == first.rejected.table.column("reject_detail").to_pylist()
    )
    off = {name: None for name in cls.Params.model_fields if name.startswith(("min_", "max_"))}
    off |= {name: None for name in ("lorem_ipsum", "curly_bracket")} if cls is C4Quality else {}
    assert cls(**off)(scored).stats.rows_rejected == 0
    with pytest.raises(AssertionError, match="recomputed"):
        cls(reuse_scores=False)(scored)


def test_scores_computed_by_one_run_feed_a_stricter_run():
    scored = GopherQuality(filter=False)(documents(KO_NEWS)).kept
    found = rejected_rows(GopherQuality(min_words_ko=100)(scored))
    assert [r["reject_detail"] for r in found] == ["gopher_word_count=72 < 100 (Korean)"]


# ----------------------------------------------------------------- contract


@pytest.mark.parametrize("cls", QUALITY_STAGES)
def test_kept_plus_rejected_is_the_input(cls):
    texts = [KO_NEWS, EN_NEWS, LAUGHTER, BOILERPLATE, REPEATED_LINES, LOREM, KEYBOARD_MASH, "", "재밌다ㅋㅋ"] * 3
    stage = cls()
    kept, rejected, stats = stage.execute(documents(*texts), batch_rows=4)
    assert kept.num_rows + rejected.num_rows == len(texts) == stats.rows_in
    assert sorted(kept.column("id").to_pylist() + rejected.column("id").to_pylist()) == sorted(
        f"d{i}" for i in range(len(texts))
    )
    assert set(rejected.column("reject_stage").to_pylist()) <= {cls.name}
    assert set(stats.reasons) <= set(stage.score_columns("document"))


def test_empty_input_has_the_score_columns():
    empty = Dataset.from_arrow(pa.Table.from_pylist([{"id": "x", "text": "y"}]).slice(0, 0), "document")
    for cls in QUALITY_STAGES:
        result = cls()(empty)
        assert result.kept.num_rows == 0
        assert set(cls().score_columns("document")) <= set(result.kept.table.column_names)


def test_mrc_scores_the_context_once_per_distinct_context(monkeypatch):
    calls = []
    original = heuristics.gopher_quality_stats

    def counting(text):
        calls.append(text)
        return original(text)

    monkeypatch.setattr(heuristics, "gopher_quality_stats", counting)
    rows = mrc_rows()[:3]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    kept = GopherQuality(filter=False)(data).kept.table
    context = rows[0]["context"]
    assert calls == [context]
    assert kept.column("gopher_word_count").to_pylist() == [len(context.split())] * 3
    question = GopherQuality(filter=False, field="question")(data).kept.table
    assert question.column("gopher_question_word_count").to_pylist() == [len(r["question"].split()) for r in rows]


def test_null_text_scores_as_empty():
    rows = [{"id": "a", "text": "좋은 영화", "label": "1", "text_pair": None}]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    kept = KoreanQuality(filter=False, field="text_pair")(data).kept.table
    assert kept.column("korean_text_pair_repeat_char_run").to_pylist() == [0]


def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a string column 'txt'"):
        GopherQuality(field="txt")(documents(KO_NEWS))
    with pytest.raises(ConfigError, match="min_words_ko .* is greater than max_words_ko"):
        GopherQuality(min_words_ko=10, max_words_ko=5)
    with pytest.raises(ConfigError, match="max_jamo_ratio"):
        KoreanQuality(max_jamo_ratio=1.5)
    with pytest.raises(ConfigError, match="unknown parameter 'max_word'"):
        GopherQuality(max_word=3)
    qrels = Dataset.from_arrow(
        pa.table({"query_id": ["q"], "doc_id": ["d"], "score": pa.array([1], pa.int32())}), "qrels"
    )
    with pytest.raises(ConfigError, match="does not accept kind 'qrels'"):
        KoreanQuality()(qrels)


def test_stage_names_and_params_are_documented():
    assert [cls.name for cls in QUALITY_STAGES] == [
        "gopher_quality",
        "gopher_repetition",
        "c4_quality",
        "fineweb_quality",
        "korean_quality",
    ]
    for cls in QUALITY_STAGES:
        for name, info in cls.Params.model_fields.items():
            assert info.description, f"{cls.name}.{name} has no docstring"


# ----------------------------------------------------------------- real data


def test_korean_quality_on_real_reviews_rejects_little_and_keeps_ordinary_laughter():
    path = needs_shared("nsmc", "binary_sample50k.tsv")
    from curate.io import read

    data = read(path, kind="classification", rename={"document": "text"})
    result = KoreanQuality()(data)
    assert result.stats.rows_rejected / result.stats.rows_in < 0.02
    kept = result.kept.table.column("text").to_pylist()
    assert sum("ㅋㅋ" in text for text in kept) > 1000


def test_scores_of_another_field_get_their_own_columns_and_never_stand_in():
    from curate.stages.quality import GopherQuality

    rows = [{"id": "q1", "context": "서울은 대한민국의 수도이다. " * 60, "question": "수도는?", "answers": []}]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    on_context = GopherQuality(filter=False)(data).kept
    on_question = GopherQuality(field="question")(on_context)
    table = on_question.kept.to_arrow() if on_question.kept.num_rows else on_question.rejected.to_arrow()
    assert table.column("gopher_word_count")[0].as_py() == 180
    assert table.column("gopher_question_word_count")[0].as_py() == 1
    assert on_question.rejected.to_arrow().column("reject_detail")[0].as_py().startswith("gopher_question_word_count=1")
