import unicodedata

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages import ExactDedup, LengthFilter, NormalizeText, SqlFilter, ValidateSpans
from tests.conftest import CONTEXT, answer, mrc_rows


def dataset(rows, kind="mrc"):
    return Dataset.from_arrow(pa.Table.from_pylist(rows), kind)


# ----------------------------------------------------------------- validate_spans


def test_validate_spans_repairs_shifted_offsets_and_records_the_repair():
    rows = mrc_rows()
    good = rows[2]["answers"][0]
    rows[2]["answers"] = [{**good, "answer_start": good["answer_start"] + 2}]
    result = ValidateSpans()(dataset(rows))
    kept = result.kept.to_arrow().to_pylist()
    assert len(kept) == 4 and kept[2]["answers"] == [good]
    assert "span_mismatch" in kept[2]["span_repair"]
    assert [r["span_repair"] for r in kept[:2]] == [None, None]


def test_validate_spans_rejects_what_it_cannot_repair_with_reasons_and_original_answers():
    rows = mrc_rows()
    rows[0]["answers"] = [{"text": "부산", "answer_start": 0}]
    rows[1]["id"] = "q1"
    result = ValidateSpans()(dataset(rows))
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"]) for r in rejected] == [("q1", "answer_not_found"), ("q1", "duplicate_id")]
    assert rejected[0]["answers"] == [{"text": "부산", "answer_start": 0}]
    assert rejected[0]["reject_stage"] == "validate_spans"
    assert result.stats.reasons == {"answer_not_found": 1, "duplicate_id": 1}


def test_validate_spans_without_repair_rejects_every_broken_row():
    rows = mrc_rows()
    rows[0]["answers"] = [{**rows[0]["answers"][0], "answer_start": 1}]
    result = ValidateSpans(repair=False)(dataset(rows))
    assert [r["reject_reason"] for r in result.rejected.to_arrow().to_pylist()] == ["span_mismatch"]


# ----------------------------------------------------------------- normalize_text


def test_normalize_text_keeps_every_answer_exact_on_nfd_and_messy_contexts():
    messy = "<p>서울은&nbsp;대한민국의   수도이다.</p>\u200b 한강이\t서울을 가로지른다."
    nfd = unicodedata.normalize("NFD", CONTEXT)
    rows = [
        {"id": "a", "context": messy, "question": " 수도는? ", "answers": [answer(messy, "한강")]},
        {"id": "b", "context": messy, "question": "수도?", "answers": [answer(messy, "대한민국의   수도")]},
        {"id": "c", "context": nfd, "question": "강?", "answers": [answer(nfd, unicodedata.normalize("NFD", "한강"))]},
    ]
    result = NormalizeText()(dataset(rows))
    kept = result.kept.to_arrow().to_pylist()
    assert result.stats.rows_rejected == 0
    assert kept[0]["context"] == "서울은 대한민국의 수도이다. 한강이 서울을 가로지른다."
    assert kept[0]["question"] == "수도는?"
    assert kept[1]["answers"][0]["text"] == "대한민국의 수도"
    assert kept[2]["context"] == CONTEXT
    for row in kept:
        for a in row["answers"]:
            assert row["context"][a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]


def test_normalize_text_nfkc_folds_compatibility_characters():
    context = "㈜한국전자는 ＡＢＣ를 만든다."
    rows = [{"id": "a", "context": context, "question": "무엇?", "answers": [answer(context, "ＡＢＣ")]}]
    kept = NormalizeText(unicode="nfkc")(dataset(rows)).kept.to_arrow().to_pylist()[0]
    assert kept["context"] == "(주)한국전자는 ABC를 만든다."
    assert kept["answers"] == [{"text": "ABC", "answer_start": kept["context"].index("ABC")}]


def test_normalize_text_rejects_a_row_whose_answer_the_edit_destroys():
    context = "앞 <br> 뒤"
    rows = [{"id": "a", "context": context, "question": "?", "answers": [answer(context, "<br>")]}]
    result = NormalizeText()(dataset(rows))
    assert result.rejected.to_arrow().column("reject_reason").to_pylist() == ["answer_lost"]


def test_normalize_text_on_other_kinds_handles_list_fields():
    rows = [{"query": "  질문\u3000하나 ", "positive": "정답  문단", "negatives": ["오답\t문단", "ｆｕｌｌ"]}]
    kept = NormalizeText(unicode="nfkc")(dataset(rows, "triplets")).kept.to_arrow().to_pylist()[0]
    assert kept["query"] == "질문 하나" and kept["negatives"] == ["오답 문단", "full"]


def test_normalize_text_unknown_field_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a .*column 'contxt'.*got 'missing'"):
        NormalizeText(fields=["contxt"])(dataset(mrc_rows()))


# ----------------------------------------------------------------- exact_dedup


def test_exact_dedup_keeps_first_and_names_it_across_batches():
    base = mrc_rows()
    rows = [dict(r) for r in base[:2] * 2] + [dict(base[0], question="대한민국의   수도는?")]
    for i, row in enumerate(rows):
        row["id"] = f"r{i}"
    stage = ExactDedup()
    kept, rejected, stats = stage.execute(dataset(rows), batch_rows=2)
    assert kept.column("id").to_pylist() == ["r0", "r1"]
    assert rejected.column("duplicate_of").to_pylist() == ["r0", "r1", "r0"]
    assert stats.reasons == {"exact_duplicate": 3}


def test_exact_dedup_without_normalization_and_with_casefold():
    rows = [
        {"id": "1", "text": "Hello  World", "label": "a"},
        {"id": "2", "text": "Hello World", "label": "a"},
        {"id": "3", "text": "hello world", "label": "a"},
    ]
    assert ExactDedup(normalize=False)(dataset(rows, "classification")).stats.rows_rejected == 0
    assert ExactDedup()(dataset(rows, "classification")).stats.rows_rejected == 1
    assert ExactDedup(casefold=True)(dataset(rows, "classification")).stats.rows_rejected == 2


def test_exact_dedup_on_a_kind_without_ids_points_to_row_numbers():
    rows = [{"query_id": "q", "doc_id": "d", "score": 1}, {"query_id": "q", "doc_id": "d", "score": 2}]
    rejected = ExactDedup()(dataset(rows, "qrels")).rejected.to_arrow()
    assert rejected.column("duplicate_of").to_pylist() == ["#0"]


def test_exact_dedup_rejects_a_repeat_with_another_label_as_a_conflict_flagged_on_the_kept_row():
    rows = [
        {"id": "1", "text": "재밌어요", "label": "1"},
        {"id": "2", "text": "재밌어요", "label": "0"},
        {"id": "3", "text": "별로", "label": "0"},
        {"id": "4", "text": "재밌어요 ", "label": "1"},
        {"id": "5", "text": "재밌어요", "label": "0"},
    ]
    kept, rejected, stats = ExactDedup().execute(dataset(rows, "classification"), batch_rows=2)
    assert [(r["id"], r["dedup_conflicts"]) for r in kept.to_pylist()] == [("1", ["2", "5"]), ("3", None)]
    assert [(r["id"], r["reject_reason"], r["duplicate_of"]) for r in rejected.to_pylist()] == [
        ("2", "label_conflict", "1"),
        ("4", "exact_duplicate", "1"),
        ("5", "label_conflict", "1"),
    ]
    assert (
        rejected.column("reject_detail").to_pylist()[0]
        == "same text+text_pair as 1, but label '0' where it has label '1'"
    )
    assert stats.reasons == {"exact_duplicate": 1, "label_conflict": 2} and stats.flags == {"label_conflict": 1}


def test_exact_dedup_keeps_a_repeated_question_with_other_answers_and_flags_both():
    base = mrc_rows()[0]
    other = dict(base, id="q1b", answers=[answer(CONTEXT, "대한민국")])
    same = dict(base, id="q1c")
    stage = ExactDedup()
    result = stage(dataset([base, other, same]))
    assert [(r["id"], r["dedup_conflicts"]) for r in result.kept.to_arrow().to_pylist()] == [
        ("q1", ["q1b"]),
        ("q1b", ["q1"]),
    ]
    assert result.rejected.to_arrow().column("id").to_pylist() == ["q1c"]
    (pair,) = stage.artifacts()["conflicts"].to_pylist()
    assert pair["reason"] == "answers_differ" and "(answer '대한민국')" in pair["detail"]


def test_exact_dedup_of_qrels_sees_a_judgement_repeated_with_another_score():
    rows = [{"query_id": "q", "doc_id": "d", "score": 1}, {"query_id": "q", "doc_id": "d", "score": 1}]
    rows.append({"query_id": "q", "doc_id": "d", "score": 2})
    rejected = ExactDedup()(dataset(rows, "qrels")).rejected.to_arrow()
    assert rejected.column("reject_reason").to_pylist() == ["exact_duplicate", "label_conflict"]


# ----------------------------------------------------------------- length_filter


def test_length_filter_scores_every_row_then_thresholds():
    rows = [
        {"id": "1", "text": "아주 짧다", "label": "x"},
        {"id": "2", "text": "적당한 길이의 문장 하나", "label": "x"},
        {"id": "3", "text": "이 문장은 다섯 단어보다 훨씬 더 많은 어절을 가지고 있다", "label": "x"},
    ]
    result = LengthFilter(field="text", unit="words", min=3, max=5)(dataset(rows, "classification"))
    kept = result.kept.to_arrow()
    assert kept.column("text_words").to_pylist() == [4]
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["id"], r["reject_reason"], r["text_words"]) for r in rejected] == [
        ("1", "too_short", 2),
        ("3", "too_long", 10),
    ]
    assert rejected[0]["reject_detail"] == "text_words=2 < min 3"


def test_length_filter_counts_code_points_not_bytes():
    rows = [{"id": "1", "text": "한국어", "label": "x"}]
    kept = LengthFilter(field="text", min=3, max=3)(dataset(rows, "classification")).kept.to_arrow()
    assert kept.column("text_chars").to_pylist() == [3]


def test_length_filter_rejects_min_above_max():
    with pytest.raises(ConfigError, match="min"):
        LengthFilter(field="text", min=5, max=1)


def test_length_filter_refuses_a_non_text_column():
    with pytest.raises(ConfigError, match="needs a string column 'answers'.*got 'list<item: struct"):
        LengthFilter(field="answers")(dataset(mrc_rows()))


# ----------------------------------------------------------------- sql_filter


def test_sql_filter_keeps_true_rows_and_rejects_false_or_null_with_the_reason():
    rows = mrc_rows()
    result = SqlFilter(where="answers[1].text = '서울' OR NULL", reason="not_seoul")(dataset(rows))
    assert result.kept.to_arrow().column("id").to_pylist() == ["q1"]
    rejected = result.rejected.to_arrow()
    assert set(rejected.column("reject_reason").to_pylist()) == {"not_seoul"}
    assert rejected.num_rows == 3


def test_sql_filter_regexp_on_hangul():
    rows = [{"id": "1", "text": "한국어 문장", "label": "x"}, {"id": "2", "text": "English only", "label": "x"}]
    kept = SqlFilter(where="regexp_matches(text, '[가-힣]')")(dataset(rows, "classification")).kept.to_arrow()
    assert kept.column("id").to_pylist() == ["1"]


def test_sql_filter_bad_predicate_is_a_config_error_with_duckdb_hint():
    with pytest.raises(ConfigError, match="bad SQL predicate.*no_such_column"):
        SqlFilter(where="no_such_column > 3")(dataset(mrc_rows()))
