from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.kr import rrn as stdnum_rrn

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages.pii import Pii
from curate.text.pii import find_pii, redact_all
from tests.conftest import CONTEXT, answer, mrc_rows
from tests.outputs import folder_bytes

EMAIL = "hong@naver.com"
PHONE = "010-1234-5678"
PII_CONTEXT = f"홍길동의 이메일은 {EMAIL}이고 전화번호는 {PHONE}이다. 그는 서울에 살며 한강을 좋아한다."


def dataset(rows, kind="mrc"):
    return Dataset.from_arrow(pa.Table.from_pylist(rows), kind)


def pii_rows() -> list[dict]:
    return [
        {
            "id": "p1",
            "context": PII_CONTEXT,
            "question": "홍길동은 어디 사나?",
            "answers": [answer(PII_CONTEXT, "서울")],
        },
        {"id": "p2", "context": PII_CONTEXT, "question": "이메일은?", "answers": [answer(PII_CONTEXT, EMAIL)]},
        {
            "id": "p3",
            "context": PII_CONTEXT,
            "question": "누구의 번호가 010-9999-8888인가?",
            "answers": [answer(PII_CONTEXT, "홍길동")],
        },
        {
            "id": "p4",
            "context": PII_CONTEXT,
            "question": "전화번호 끝자리는?",
            "answers": [answer(PII_CONTEXT, "5678")],
        },
    ]


def rows_of(table) -> list[dict]:
    return table.to_arrow().to_pylist() if isinstance(table, Dataset) else table.to_pylist()


def assert_answers_exact(rows):
    for row in rows:
        for key in ("answers", "plausible_answers"):
            for a in row[key] or []:
                assert row["context"][a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]


def no_pii_value_in(texts, values=(EMAIL, PHONE, "010-9999-8888")):
    return all(value not in (text or "") for text in texts for value in values)


# ----------------------------------------------------------------- redact on MRC


def test_redact_moves_answers_and_rejects_answers_that_are_pii():
    rows = mrc_rows() + pii_rows()
    result = Pii()(dataset(rows))
    kept, rejected = rows_of(result.kept), rows_of(result.rejected)
    assert len(kept) + len(rejected) == len(rows)
    assert [r["id"] for r in kept] == ["q1", "q2", "q3", "q4", "p1", "p3"]
    by_id = {r["id"]: r for r in kept}
    assert (
        by_id["p1"]["context"]
        == "홍길동의 이메일은 [EMAIL]이고 전화번호는 [PHONE]이다. 그는 서울에 살며 한강을 좋아한다."
    )
    assert by_id["p1"]["answers"] == [{"text": "서울", "answer_start": by_id["p1"]["context"].index("서울")}]
    assert by_id["p3"]["question"] == "누구의 번호가 [PHONE]인가?"
    assert by_id["q1"]["context"] == CONTEXT and by_id["q1"]["answers"] == mrc_rows()[0]["answers"]
    assert_answers_exact(kept)
    assert [(r["id"], r["reject_reason"]) for r in rejected] == [("p2", "pii_in_answer"), ("p4", "pii_in_answer")]
    assert rejected[0]["reject_detail"] == "answers[0] overlaps email ************om in context"
    assert rejected[1]["reject_detail"].startswith("answers[0] overlaps phone")
    assert rejected[0]["context"] == PII_CONTEXT  # rejected rows keep their original columns
    assert result.stats.reasons == {"pii_in_answer": 2}


def test_score_columns_count_pii_before_redaction():
    result = Pii()(dataset(pii_rows()))
    kept = rows_of(result.kept)
    assert [(r["id"], r["pii_count"], r["pii_kinds"]) for r in kept] == [
        ("p1", 2, ["email", "phone"]),
        ("p3", 3, ["email", "phone"]),
    ]
    schema = result.kept.to_arrow().schema
    assert schema.field("pii_count").type == pa.int32()
    assert schema.field("pii_kinds").type == pa.list_(pa.string())


def test_plausible_answers_move_and_block_like_answers():
    context = PII_CONTEXT
    rows = [
        {
            "id": "u1",
            "context": context,
            "question": "?",
            "answers": [],
            "is_impossible": True,
            "plausible_answers": [answer(context, "한강")],
        },
        {
            "id": "u2",
            "context": context,
            "question": "?",
            "answers": [],
            "is_impossible": True,
            "plausible_answers": [answer(context, "서울"), answer(context, "1234")],
        },
    ]
    result = Pii(style="mask")(dataset(rows))
    kept, rejected = rows_of(result.kept), rows_of(result.rejected)
    assert [r["id"] for r in kept] == ["u1"] and kept[0]["plausible_answers"][0]["text"] == "한강"
    assert_answers_exact(kept)
    assert rejected[0]["reject_reason"] == "pii_in_answer"
    assert rejected[0]["reject_detail"].startswith("plausible_answers[1] overlaps phone")


@pytest.mark.parametrize("style", ["tag", "mask", "remove"])
def test_every_style_keeps_answers_exact_and_leaves_no_pii(style):
    result = Pii(style=style)(dataset(pii_rows()))
    kept = rows_of(result.kept)
    assert_answers_exact(kept)
    for row in kept:
        assert find_pii(row["context"]) == [] and find_pii(row["question"]) == []
        assert no_pii_value_in([row["context"], row["question"]])


def test_answer_touching_pii_without_overlap_survives():
    context = f"연락처{PHONE}번"
    rows = [
        {"id": "a", "context": context, "question": "?", "answers": [answer(context, "연락처"), answer(context, "번")]}
    ]
    kept = rows_of(Pii()(dataset(rows)).kept)[0]
    assert kept["context"] == "연락처[PHONE]번"
    assert kept["answers"] == [{"text": "연락처", "answer_start": 0}, {"text": "번", "answer_start": 10}]


def test_misaligned_answer_is_rejected_only_when_its_context_is_edited():
    rows = pii_rows()[:1] + mrc_rows()[:1]
    rows[0]["answers"] = [{"text": "서울", "answer_start": 3}]
    rows[1]["answers"] = [{"text": "서울", "answer_start": 3}]
    result = Pii()(dataset(rows))
    assert [r["id"] for r in rows_of(result.kept)] == ["q1"]
    rejected = rows_of(result.rejected)[0]
    assert rejected["reject_reason"] == "span_mismatch" and "answers[0]" in rejected["reject_detail"]


def test_each_distinct_context_is_scanned_once_per_batch():
    stage = Pii()
    calls: list[str] = []
    finder = stage._finder

    def counting(text):
        calls.append(text)
        return finder(text)

    stage.__dict__["_finder"] = counting
    rows = [dict(r, id=f"r{i}") for i, r in enumerate(pii_rows() * 3)]
    stage(dataset(rows))
    assert calls.count(PII_CONTEXT) == 1


def test_redact_only_chosen_fields_and_kinds():
    result = Pii(fields=["question"], kinds=["phone"])(dataset(pii_rows()))
    kept = rows_of(result.kept)
    assert len(kept) == 4 and all(r["context"] == PII_CONTEXT for r in kept)
    assert kept[2]["question"] == "누구의 번호가 [PHONE]인가?"
    assert [r["pii_count"] for r in kept] == [0, 0, 1, 0]


def test_custom_tags():
    kept = rows_of(Pii(tags={"email": "<메일>"})(dataset(pii_rows())).kept)
    assert kept[0]["context"].startswith("홍길동의 이메일은 <메일>이고 전화번호는 [PHONE]이다.")


# ----------------------------------------------------------------- reject and flag


def test_reject_mode_rejects_rows_with_pii_and_masks_the_detail():
    rows = mrc_rows()[:2] + pii_rows()
    result = Pii(action="reject")(dataset(rows))
    assert [r["id"] for r in rows_of(result.kept)] == ["q1", "q2"]
    rejected = rows_of(result.rejected)
    assert {r["reject_reason"] for r in rejected} == {"pii"} and len(rejected) == 4
    assert rejected[2]["reject_detail"] == (
        "email in context: ************om; phone in context: ***********78; phone in question: ***********88"
    )
    assert no_pii_value_in([r["reject_detail"] for r in rejected])
    assert result.stats.reasons == {"pii": 4}


def test_flag_mode_only_adds_columns_and_filter_false_means_flag():
    rows = mrc_rows()[:1] + pii_rows()
    for stage in (Pii(action="flag"), Pii(filter=False)):
        result = stage(dataset(rows))
        kept = rows_of(result.kept)
        assert result.stats.rows_rejected == 0 and [r["pii_count"] for r in kept] == [0, 2, 2, 3, 2]
        assert kept[1]["context"] == PII_CONTEXT
        assert kept[0]["pii_kinds"] == []
        kinds = [k for r in kept for k in r["pii_kinds"]]
        assert result.stats.flags == {k: kinds.count(k) for k in set(kinds)} and result.stats.rows_flagged == 4
        assert result.stats.rewrites == {} and result.stats.rows_rewritten == 0
        text_columns = {"context", "question", "answers", "id", "title"}
        added = [str(v) for r in kept for k, v in r.items() if k not in text_columns]
        assert no_pii_value_in(added)


def test_existing_score_columns_are_reused():
    flagged = Pii(action="flag")(dataset(pii_rows())).kept.to_arrow()
    zeroed = flagged.set_column(
        flagged.column_names.index("pii_count"), "pii_count", pa.array([0, 2, 2, 2], pa.int32())
    )
    ds = Dataset.from_arrow(zeroed, "mrc")
    assert [r["id"] for r in rows_of(Pii(action="reject")(ds).kept)] == ["p1"]
    assert rows_of(Pii(action="reject", reuse_scores=False)(ds).kept) == []
    redacted = rows_of(Pii()(ds).kept)
    assert [r["pii_count"] for r in redacted] == [0, 2]  # kept as they were, text still redacted
    assert "[EMAIL]" in redacted[0]["context"]


def test_reused_scores_of_changed_text_still_give_a_detail():
    flagged = Pii(action="flag")(dataset(pii_rows()[:1])).kept.to_arrow()
    clean = flagged.set_column(flagged.column_names.index("context"), "context", pa.array([CONTEXT]))
    clean = clean.set_column(clean.column_names.index("answers"), "answers", pa.array([[answer(CONTEXT, "서울")]]))
    rejected = rows_of(Pii(action="reject")(Dataset.from_arrow(clean, "mrc")).rejected)
    assert rejected[0]["reject_detail"] == "pii_count=2, pii_kinds=email,phone"


# ----------------------------------------------------------------- other kinds


def test_triplets_list_fields_are_redacted_item_by_item():
    rows = [
        {
            "query": "연락처 010-1111-2222 알려줘",
            "positive": "대표번호는 1588-1234입니다.",
            "negatives": ["없음", "메일 a@b.co.kr"],
        }
    ]
    result = Pii()(dataset(rows, "triplets"))
    kept = rows_of(result.kept)[0]
    assert kept["query"] == "연락처 [PHONE] 알려줘"
    assert kept["positive"] == "대표번호는 [PHONE]입니다."
    assert kept["negatives"] == ["없음", "메일 [EMAIL]"]
    assert kept["pii_count"] == 3
    rejected = rows_of(Pii(action="reject")(dataset(rows, "triplets")).rejected)[0]
    assert "email in negatives[1]" in rejected["reject_detail"] and "+" not in rejected["reject_detail"]


def test_classification_and_nulls():
    rows = [
        {"id": "1", "text": "주민번호 900101-1234568 유출", "label": "bad"},
        {"id": "2", "text": "좋은 영화", "text_pair": None, "label": "good"},
    ]
    result = Pii(style="mask")(dataset(rows, "classification"))
    assert [r["text"] for r in rows_of(result.kept)] == ["주민번호 ******-******* 유출", "좋은 영화"]


# ----------------------------------------------------------------- configuration and contract


def test_missing_or_non_string_field_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a .*column 'contxt'.*got 'missing'"):
        Pii(fields=["contxt"])(dataset(mrc_rows()))
    with pytest.raises(ConfigError, match="needs a text column 'answers'.*got 'list<item: struct"):
        Pii(fields=["answers"])(dataset(mrc_rows()))
    qrels = Dataset.from_arrow(pa.table({"query_id": ["q"], "doc_id": ["d"], "score": [1]}), "qrels")
    with pytest.raises(ConfigError, match="no text fields"):
        Pii()(qrels)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kinds": ["mail"]}, "unknown PII kind"),
        ({"kinds": []}, "kinds is empty"),
        ({"kinds": ["email", "email"]}, "kinds listed twice"),
        ({"fields": []}, "fields is empty"),
        ({"action": "delete"}, "action"),
        ({"style": "blur"}, "style"),
        ({"tags": {"fax": "[FAX]"}}, "unknown PII kind"),
        ({"tags": {"email": ""}}, "non-empty"),
        ({"style": "mask", "tags": {"email": "[E]"}}, "only to style 'tag'"),
        ({"filter": False, "action": "reject"}, "filter: false means action: flag"),
        ({"filter": True, "action": "flag"}, "contradicts"),
        ({"bogus": 1}, "unknown parameter 'bogus'"),
    ],
)
def test_bad_params_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message) as info:
        Pii(params)
    assert "pii" in str(info.value)


def test_stage_contract_empty_input_batches_and_determinism(tmp_path):
    assert Pii.name == "pii" and Pii.adds == {"pii_count": pa.int32(), "pii_kinds": pa.list_(pa.string())}
    empty = Pii()(Dataset.from_arrow(dataset(pii_rows()).table.slice(0, 0), "mrc"))
    assert empty.kept.num_rows == 0 and {"reject_reason", "pii_count"} <= set(empty.rejected.schema.names)
    rows = [dict(r, id=f"r{i}") for i, r in enumerate((mrc_rows() + pii_rows()) * 3)]
    outputs = []
    for attempt in range(2):
        out = tmp_path / str(attempt)
        out.mkdir()
        kept, rejected, stats = Pii().execute(dataset(rows), out_dir=out, batch_rows=5)
        assert stats.rows_in == len(rows) == stats.rows_kept + stats.rows_rejected
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]


def test_runs_on_arrow_and_polars():
    import polars as pl

    table = dataset(pii_rows()).to_arrow()
    assert isinstance(Pii()(table).kept, pa.Table)
    kept = Pii()(pl.from_arrow(table), kind="mrc").kept
    assert isinstance(kept, pl.DataFrame) and kept.height == 2


# ----------------------------------------------------------------- property test


def _rrn(data) -> str:
    first12 = (
        f"{data.draw(st.integers(0, 99)):02d}{data.draw(st.integers(1, 12)):02d}{data.draw(st.integers(1, 28)):02d}"
    )
    first12 += str(data.draw(st.integers(1, 4))) + data.draw(st.text("0123456789", min_size=5, max_size=5))
    return f"{first12[:6]}-{first12[6:]}{stdnum_rrn.calc_check_digit(first12)}"


def _card(data) -> str:
    body = data.draw(st.sampled_from(["4", "51", "37", "6011", "3530"]))
    length = 15 if body == "37" else 16
    body += data.draw(st.text("0123456789", min_size=length - len(body) - 1, max_size=length - len(body) - 1))
    return body + luhn.calc_check_digit(body)


def _pii_value(data) -> str:
    digits = st.text("0123456789", min_size=4, max_size=4)
    choice = data.draw(st.sampled_from(["email", "phone", "landline", "rrn", "card", "ipv4", "ipv6"]))
    if choice == "email":
        user = data.draw(st.text("abcxyz019._-", min_size=1, max_size=8).filter(lambda u: u[0].isalnum()))
        return f"{user.replace('.', 'a')}@{data.draw(st.sampled_from(['naver.com', 'daum.net', 'korea.ac.kr']))}"
    if choice == "phone":
        sep = data.draw(st.sampled_from(["-", ".", " ", ""]))
        return f"010{sep}{data.draw(digits)}{sep}{data.draw(digits)}"
    if choice == "landline":
        return f"02-{data.draw(digits)[:3]}-{data.draw(digits)}"
    if choice == "rrn":
        return _rrn(data)
    if choice == "card":
        return _card(data)
    if choice == "ipv4":
        return ".".join(str(data.draw(st.integers(10, 255))) for _ in range(4))
    return f"2001:db8::{data.draw(st.integers(1, 0xFFFF)):x}"


FILLER = st.text(alphabet=st.sampled_from("서울한강은는이가를 에서 abcXY0189.,-@:()"), max_size=12)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), style=st.sampled_from(["tag", "mask", "remove"]))
def test_property_answers_survive_redaction_exactly_or_the_row_is_rejected(data, style):
    pieces = [data.draw(FILLER)]
    for _ in range(data.draw(st.integers(1, 3))):
        pieces += [_pii_value(data), data.draw(FILLER)]
    context = "".join(pieces) + " 끝."
    spans = find_pii(context)
    rows = []
    for q in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(context) - 1))
        end = data.draw(st.integers(start + 1, min(len(context), start + 15)))
        if not context[start:end].strip():  # a blank answer is not an answer
            start, end = len(context) - 2, len(context)
        rows.append(
            {
                "id": f"q{q}",
                "context": context,
                "question": data.draw(FILLER) + "?",
                "answers": [{"text": context[start:end], "answer_start": start}],
            }
        )
    result = Pii(style=style)(dataset(rows))
    kept, rejected = rows_of(result.kept), rows_of(result.rejected)
    assert len(kept) + len(rejected) == len(rows)
    assert_answers_exact(kept)
    reasons = {r["id"]: r["reject_reason"] for r in rejected}
    for row in rows:
        a = row["answers"][0]
        overlaps = any(s.start < a["answer_start"] + len(a["text"]) and a["answer_start"] < s.end for s in spans)
        if overlaps:
            assert reasons.get(row["id"]) == "pii_in_answer"
        elif row["id"] not in reasons:
            out = next(r for r in kept if r["id"] == row["id"])
            assert out["answers"][0]["text"] == a["text"]
        else:  # only PII that a second redaction pass finds can reach a non-overlapping answer
            assert reasons[row["id"]] == "pii_in_answer"
            assert len(redact_all(context, find_pii, style).passes) > 1
    for row in kept:
        assert find_pii(row["context"]) == [] and find_pii(row["question"]) == []
        assert row["pii_count"] == len(spans) + len(find_pii(next(r["question"] for r in rows if r["id"] == row["id"])))


# ----------------------------------------------------------------- the Korean identity numbers


ID_CONTEXT = (
    "가온상사(사업자등록번호 116-82-00276)의 대표 김하늘은 여권 M123A4567 과 운전면허 11-19-284716-52 를 "
    "제출했고, 대금은 신한은행 110-384-592017 로 받았다. 회사는 부산에 있다."
)


def test_new_kinds_are_redacted_with_their_tags_and_answers_move():
    rows = [
        {"id": "k1", "context": ID_CONTEXT, "question": "회사는 어디에?", "answers": [answer(ID_CONTEXT, "부산")]},
        {"id": "k2", "context": ID_CONTEXT, "question": "대표는?", "answers": [answer(ID_CONTEXT, "김하늘")]},
        {"id": "k3", "context": ID_CONTEXT, "question": "여권 번호는?", "answers": [answer(ID_CONTEXT, "M123A4567")]},
    ]
    result = Pii()(dataset(rows))
    kept, rejected = rows_of(result.kept), rows_of(result.rejected)
    assert kept[0]["context"] == (
        "가온상사(사업자등록번호 [BRN])의 대표 김하늘은 여권 [PASSPORT] 과 운전면허 [DRIVER_LICENSE] 를 "
        "제출했고, 대금은 신한은행 [BANK_ACCOUNT] 로 받았다. 회사는 부산에 있다."
    )
    assert [r["id"] for r in kept] == ["k1", "k2"] and kept[0]["pii_count"] == 4
    assert kept[0]["pii_kinds"] == ["bank_account", "brn", "driver_license", "passport"]
    assert_answers_exact(kept)
    assert kept[0]["answers"][0]["text"] == "부산" and kept[1]["answers"][0]["text"] == "김하늘"
    assert rejected[0]["reject_reason"] == "pii_in_answer"
    assert rejected[0]["reject_detail"] == "answers[0] overlaps passport *******67 in context"


def test_new_kinds_can_be_chosen_alone_and_tagged_otherwise():
    rows = [{"id": "1", "text": ID_CONTEXT, "label": "x"}]
    kept = rows_of(Pii(kinds=["bank_account"], tags={"bank_account": "<계좌>"})(dataset(rows, "classification")).kept)
    assert "신한은행 <계좌> 로" in kept[0]["text"] and "116-82-00276" in kept[0]["text"]
    assert kept[0]["pii_kinds"] == ["bank_account"]
    masked = rows_of(Pii(style="mask", kinds=["brn", "driver_license"])(dataset(rows, "classification")).kept)
    assert "(사업자등록번호 ***-**-*****)" in masked[0]["text"] and "운전면허 **-**-******-** 를" in masked[0]["text"]
