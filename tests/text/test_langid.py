import numpy as np
import pytest

from curate.text.langid import LanguageIdentifier, default_model_path, script_counts, script_fractions


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


def test_the_model_comes_from_the_installed_wheel():
    path = default_model_path()
    assert path.name == "lid.176.ftz" and path.stat().st_size > 900_000


def test_confident_sentences_keep_fasttexts_answer(lid):
    found = lid.identify(
        [
            "서울은 대한민국의 수도이며 인구가 가장 많은 도시이다.",
            "The capital of France is Paris, which lies on the Seine river.",
        ]
    )
    assert found.languages == ["ko", "en"]
    assert found.method.tolist() == [0, 0]
    assert found.scores.min() > 0.9 and found.scores.max() <= 1.0


def test_han_only_text_is_decided_between_chinese_and_japanese(lid):
    fasttext_only = LanguageIdentifier(second_opinion="none").identify(["洋"])
    assert fasttext_only.languages == ["ja"]  # lid.176 alone
    found = lid.identify(["洋", "中华人民共和国"])
    assert found.languages == ["zh", "zh"]
    assert found.method.tolist() == [2, 2]


def test_short_texts_are_decided_by_script_when_one_language_writes_it(lid):
    found = lid.identify(["ㅋㅋㅋ", "재밌다", "カタカナ", "สวัสดี", "Καλημέρα"])
    assert found.languages == ["ko", "ko", "ja", "th", "el"]
    assert found.method.tolist() == [1, 1, 1, 1, 1]


def test_short_latin_text_gets_lingua_combined_with_fasttext(lid):
    found = lid.identify(["Schmetterling", "perro"])
    assert found.languages == ["de", "es"]
    assert found.method.tolist() == [2, 2]
    assert ((found.scores > 0) & (found.scores <= 1)).all()


def test_text_without_letters_has_no_language(lid):
    found = lid.identify(["", "12345 !!!", "🙂🙂", None])
    assert found.languages == [None, None, None, None]
    assert found.scores.tolist() == [0, 0, 0, 0]


def test_newlines_do_not_break_prediction(lid):
    assert lid.identify(["첫 줄입니다.\n둘째 줄은 여기에 있습니다.\r\n셋째 줄도 한국어입니다."]).languages == ["ko"]


def test_script_fractions_count_letters_only():
    counts = script_counts(["한국어 ABC 漢字 かな! 123", "", "Привет мир"])
    fractions = script_fractions(counts)
    assert fractions["hangul"][0] == pytest.approx(3 / 10)
    assert fractions["latin"][0] == pytest.approx(3 / 10)
    assert fractions["han"][0] == pytest.approx(2 / 10)
    assert fractions["kana"][0] == pytest.approx(2 / 10)
    assert fractions["other"][2] == pytest.approx(1.0)
    assert all(fractions[k][1] == 0 for k in fractions)
    total = sum(fractions[k] for k in fractions)
    assert np.allclose(total[[0, 2]], 1.0)


def test_hangul_jamo_and_combining_marks_count_as_letters():
    counts = script_counts(["ㅋㅋ" + "\u1100\u1161", "e\u0301"])
    fractions = script_fractions(counts)
    assert fractions["hangul"][0] == pytest.approx(1.0)
    assert fractions["latin"][1] == pytest.approx(0.5) and fractions["other"][1] == pytest.approx(0.5)


def test_a_missing_model_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        LanguageIdentifier(tmp_path / "missing.ftz")
