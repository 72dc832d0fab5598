import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages import LanguageFilter, LanguageId, get_stage_class
from curate.text import langid
from tests.conftest import CONTEXT, answer

EN_CONTEXT = "Seoul is the capital of South Korea. About 9.4 million people live in the city, on the Han river."


def rows():
    return [
        {"id": "k1", "context": CONTEXT, "question": "대한민국의 수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "k2", "context": CONTEXT, "question": "서울을 가로지르는 강은?", "answers": [answer(CONTEXT, "한강")]},
        {"id": "e1", "context": EN_CONTEXT, "question": "What is the capital of South Korea?",
         "answers": [answer(EN_CONTEXT, "Seoul")]},
        {"id": "x1", "context": "12345 67890 !!!", "question": "몇 번?", "answers": []},
    ]  # fmt: skip


def mrc(rows_):
    return Dataset.from_arrow(pa.Table.from_pylist(rows_), "mrc")


def test_language_id_scores_context_and_question_and_rejects_nothing():
    result = LanguageId()(mrc(rows()))
    kept = result.kept.to_arrow()
    assert result.stats.rows_rejected == 0
    for name in ("lang_context", "lang_context_score", "script_context", "lang_question", "lang_question_score"):
        assert name in kept.column_names
    assert kept.column("lang_context").to_pylist() == ["ko", "ko", "en", None]
    assert kept.column("lang_question").to_pylist() == ["ko", "ko", "en", "ko"]
    scripts = kept.column("script_context").to_pylist()
    assert scripts[0]["hangul"] > 0.9 and scripts[2]["latin"] == pytest.approx(1.0)
    assert scripts[3] == {"hangul": 0.0, "latin": 0.0, "han": 0.0, "kana": 0.0, "other": 0.0}


def test_language_filter_keeps_listed_languages_and_names_the_rule():
    result = LanguageFilter(languages=["ko"])(mrc(rows()))
    assert [r["id"] for r in result.kept.to_arrow().to_pylist()] == ["k1", "k2"]
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"]) for r in rejected] == [("e1", "wrong_language"), ("x1", "no_language")]
    assert rejected[0]["reject_detail"].startswith("lang_context=en (")
    assert rejected[0]["reject_stage"] == "language_filter"
    assert result.stats.rows_kept + result.stats.rows_rejected == 4
    assert "lang_question" not in result.kept.to_arrow().column_names  # the filter scores its fields only


def test_filter_on_several_fields_and_threshold():
    data = rows()[:3]
    data[0]["question"] = "What is the capital of this country?"
    result = LanguageFilter(languages=["ko"], fields=["context", "question"])(mrc(data))
    rejected = result.rejected.to_arrow().to_pylist()
    assert [r["id"] for r in rejected] == ["k1", "e1"]
    assert "lang_question=en" in rejected[0]["reject_detail"]
    strict = LanguageFilter(languages=["ko", "en"], threshold=1.0)(mrc(rows()[:3]))
    assert {r["reject_reason"] for r in strict.rejected.to_arrow().to_pylist()} <= {"low_language_score"}


def test_rethresholding_reads_the_scores_and_never_identifies_again(monkeypatch):
    scored = LanguageId()(mrc(rows())).kept

    def boom(self, texts):
        raise AssertionError("identified again")

    monkeypatch.setattr(langid.LanguageIdentifier, "identify", boom)
    loose = LanguageFilter(languages=["ko", "en"], threshold=0.0)(scored)
    strict = LanguageFilter(languages=["ko"], threshold=0.9)(scored)
    assert loose.stats.rows_kept == 3 and strict.stats.rows_kept == 2
    with pytest.raises(AssertionError, match="identified again"):
        LanguageFilter(languages=["ko"], reuse_scores=False)(scored)


def test_identical_contexts_are_identified_once(monkeypatch):
    calls = []
    original = langid.LanguageIdentifier.identify

    def counting(self, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(langid.LanguageIdentifier, "identify", counting)
    LanguageId(fields=["context"])(mrc(rows()))
    assert calls == [3]


def test_classification_rows_and_polars_input():
    import polars as pl

    frame = pl.DataFrame(
        {"id": ["1", "2"], "text": ["이 영화 정말 재밌어요 ㅋㅋ", "This movie was great fun."], "label": ["1", "1"]}
    )
    result = LanguageFilter(languages=["ko"])(frame, kind="classification")
    assert isinstance(result.kept, pl.DataFrame)
    assert result.kept["lang_text"].to_list() == ["ko"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"languages": []}, "at least one language"),
        ({"languages": ["ko"], "threshold": 2}, "threshold.*less than or equal to 1"),
        ({"languages": ["ko"], "treshold": 0.5}, "unknown parameter 'treshold'"),
        ({}, "missing parameter 'languages'"),
    ],
)
def test_bad_parameters_are_one_line_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        LanguageFilter(params)


def test_missing_model_and_missing_field_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot load the language-ID model"):
        LanguageId(model=str(tmp_path / "nope.ftz"))(mrc(rows()))
    with pytest.raises(ConfigError, match="needs a .*column .* in its input"):
        LanguageId(fields=["body"])(mrc(rows()))


def test_registered_names():
    assert get_stage_class("language_id") is LanguageId
    assert get_stage_class("language_filter") is LanguageFilter
