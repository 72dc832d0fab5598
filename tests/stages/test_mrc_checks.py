import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curate.stages.mrc_checks as mrc_checks_module
from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages.mrc_checks import CHECKS, MrcChecks
from tests.conftest import CONTEXT, REPO, answer, mrc_rows
from tests.outputs import folder_bytes, parquet_rows

STATEMENT = "한강은 매우 길다."
OTHER_CONTEXT = "부산은 대한민국 제2의 도시이다. 해운대 해수욕장은 여름마다 피서객으로 붐빈다."


def dataset(rows):
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")


def row(id, question, context=CONTEXT, text="한강", **extra):
    values = {
        "id": id,
        "context": context,
        "question": question,
        "answers": [answer(context, text)],
        "is_impossible": None,
    }
    return {**values, **extra}


def flags(result):
    return {r["id"]: r["mrc_flags"] for r in result.kept.to_arrow().to_pylist()}


# ----------------------------------------------------------------- on the sample data


def test_sample_rejections_match_the_planted_defects():
    defects = json.loads((REPO / "sample_data" / "defects.json").read_text(encoding="utf-8"))["korquad_sample.json"]
    span_ids = {
        d["id"] if isinstance(d, dict) else d
        for key in (
            "shifted_offset",
            "out_of_range",
            "nfd_answer",
            "stray_whitespace",
            "answer_not_in_context",
            "empty_answer",
        )
        for d in defects[key]
    }
    duplicates = {d["id"]: d["duplicate_of"] for d in defects["exact_duplicate_question"]}
    data = io.read(REPO / "sample_data" / "korquad_sample.json")
    result = MrcChecks()(data)
    rejected = result.rejected.to_arrow().to_pylist()
    by_reason: dict[str, set[str]] = {}
    for r in rejected:
        by_reason.setdefault(r["reject_reason"], set()).add(r["id"])
    assert by_reason["mrc_span_invalid"] == span_ids
    assert by_reason["mrc_impossible_with_answers"] == set(defects["impossible_with_answers"])
    assert {
        r["id"]: r["mrc_duplicate_of"] for r in rejected if r["reject_reason"] == "mrc_duplicate_question"
    } == duplicates
    assert result.stats.rows_kept + result.stats.rows_rejected == data.num_rows
    assert result.kept.num_rows + result.rejected.num_rows == data.num_rows


def test_sample_korean_questions_all_have_question_form():
    result = MrcChecks(filter=False)(io.read(REPO / "sample_data" / "korquad_sample.json"))
    form = result.kept.to_arrow().column("mrc_question_form").to_pylist()
    assert form.count(False) == 0 and form.count(True) == len(form)


# ----------------------------------------------------------------- each check


def test_span_and_impossible_checks_reject_by_default():
    good = row("ok", "서울을 가로지르는 강은?")
    shifted = row("shifted", "서울을 가로지르는 강의 이름은?")
    shifted["answers"] = [{"text": "한강", "answer_start": 0}]
    impossible = row("impossible", "부산의 인구는?", is_impossible=True)
    result = MrcChecks()(dataset([good, shifted, impossible]))
    rejected = {r["id"]: r for r in result.rejected.to_arrow().to_pylist()}
    assert set(rejected) == {"shifted", "impossible"}
    assert rejected["shifted"]["reject_reason"] == "mrc_span_invalid"
    assert rejected["shifted"]["mrc_span_problem"] == "answers[0].answer_start: span_mismatch"
    assert rejected["impossible"]["reject_reason"] == "mrc_impossible_with_answers"
    assert rejected["impossible"]["mrc_span_problem"] is None
    kept = result.kept.to_arrow().to_pylist()
    assert [r["id"] for r in kept] == ["ok"] and kept[0]["mrc_span_problem"] is None
    assert kept[0]["mrc_impossible_with_answers"] is False


def test_answerable_question_without_answers_is_a_span_problem():
    rows = [
        {**row("empty", "서울의 인구는?"), "answers": []},
        {**row("unanswerable", "부산의 인구는?"), "answers": [], "is_impossible": True},
    ]
    result = MrcChecks()(dataset(rows))
    assert [(r["id"], r["mrc_span_problem"]) for r in result.rejected.to_arrow().to_pylist()] == [
        ("empty", "answers: no_answers")
    ]
    kept = result.kept.to_arrow().to_pylist()[0]
    assert kept["mrc_answer_chars"] is None and kept["mrc_answer_occurrences"] is None


def test_duplicate_questions_on_one_context_keep_the_first_across_batches():
    rows = [
        row("a", "서울을 가로지르는 강은?"),
        row("b", "서울을  가로지르는 강은"),  # same after spacing and question mark
        row("c", "서울을 가로지르는 강은?", context=OTHER_CONTEXT + " 한강"),  # other context: not a duplicate
        row("d", "서울을 가로지르는 강은?"),
    ]
    kept, rejected, stats = MrcChecks().execute(dataset(rows), batch_rows=1)
    assert kept.column("id").to_pylist() == ["a", "c"]
    assert rejected.column("mrc_duplicate_of").to_pylist() == ["a", "a"]
    assert set(rejected.column("reject_reason").to_pylist()) == {"mrc_duplicate_question"}
    assert stats.reasons == {"mrc_duplicate_question": 2}


def test_soft_checks_only_flag_by_default():
    long_answer = "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다."
    rows = [
        row("fine", "서울을 가로지르는 강은?"),
        row("statement", STATEMENT),
        row("ambiguous", "나라의 수도는 어디인가?", text="서울"),
        row("long_answer", "서울에 대해 무엇을 알 수 있는가?", text=long_answer),
        row("short_question", "한강은?"),
        row("mismatched", "해운대 해수욕장은 언제 붐비는가?"),
        row("copied", "서울의 인구는 약 940만 명이다?", text="약 940만 명"),
    ]
    result = MrcChecks(max_answer_chars=20)(dataset(rows))
    assert result.stats.rows_rejected == 0
    assert flags(result) == {
        "fine": [],
        "statement": ["mrc_question_form"],
        "ambiguous": ["mrc_answer_ambiguous"],
        "long_answer": ["mrc_answer_length"],
        "short_question": ["mrc_question_length"],
        "mismatched": ["mrc_mismatched"],
        "copied": ["mrc_too_easy"],
    }
    kept = {r["id"]: r for r in result.kept.to_arrow().to_pylist()}
    assert kept["ambiguous"]["mrc_answer_occurrences"] == 3
    assert kept["mismatched"]["mrc_overlap"] == 0.0
    assert kept["copied"]["mrc_copied"] == 1.0
    assert kept["fine"]["mrc_question_form"] is True and kept["statement"]["mrc_question_form"] is False


def test_context_budget_in_words_or_chars():
    rows = [row("a", "서울을 가로지르는 강은?")]
    words = MrcChecks(max_context_tokens=8)(dataset(rows))
    assert words.kept.to_arrow().column("mrc_context_words").to_pylist() == [len(CONTEXT.split())]
    assert flags(words) == {"a": ["mrc_context_too_long"]}
    chars = MrcChecks(context_unit="chars", max_context_tokens=len(CONTEXT), reject=["mrc_context_too_long"])(
        dataset(rows)
    )
    assert chars.kept.to_arrow().column("mrc_context_chars").to_pylist() == [len(CONTEXT)]
    assert chars.stats.rows_rejected == 0
    shorter = MrcChecks(context_unit="chars", max_context_tokens=10, reject=["mrc_context_too_long"])(dataset(rows))
    assert shorter.rejected.to_arrow().column("reject_detail").to_pylist() == [
        f"mrc_context_chars={len(CONTEXT)} > max 10"
    ]


# ----------------------------------------------------------------- configuration


def test_rejection_is_configurable():
    rows = [
        row("fine", "서울을 가로지르는 강은?"),
        row("statement", STATEMENT),
        row("mismatched", "해운대 해수욕장은 언제 붐비는가?"),
    ]
    result = MrcChecks(reject=["mrc_question_form", "mrc_mismatched"])(dataset(rows))
    rejected = result.rejected.to_arrow()
    assert rejected.column("id").to_pylist() == ["statement", "mismatched"]
    assert rejected.column("reject_reason").to_pylist() == ["mrc_question_form", "mrc_mismatched"]
    assert rejected.column("reject_detail").to_pylist()[0] == "mrc_question_form=false"
    assert result.stats.reasons == {"mrc_question_form": 1, "mrc_mismatched": 1}
    nothing = MrcChecks(reject=[])(dataset([{**rows[0], "answers": [{"text": "한강", "answer_start": 0}]}]))
    assert nothing.stats.rows_rejected == 0 and flags(nothing) == {"fine": ["mrc_span_invalid"]}


def test_filter_false_only_adds_scores_and_flags():
    rows = [row("shifted", "한강은?"), row("fine", "서울을 가로지르는 강은?")]
    rows[0]["answers"] = [{"text": "한강", "answer_start": 0}]
    result = MrcChecks(filter=False)(dataset(rows))
    assert result.stats.rows_rejected == 0
    assert flags(result) == {"shifted": ["mrc_span_invalid", "mrc_question_length"], "fine": []}
    assert result.artifacts["checks"].to_pylist()[0] == {
        "check": "mrc_span_invalid",
        "rejects": False,
        "rows_failed": 1,
    }


def test_the_checks_artifact_counts_every_check():
    result = MrcChecks()(dataset([row("statement", STATEMENT)]))
    table = result.artifacts["checks"]
    assert table.column("check").to_pylist() == list(CHECKS)
    counts = dict(zip(table.column("check").to_pylist(), table.column("rows_failed").to_pylist(), strict=True))
    assert counts["mrc_question_form"] == 1 and sum(counts.values()) == 1
    assert dict(zip(table.column("check").to_pylist(), table.column("rejects").to_pylist(), strict=True))[
        "mrc_span_invalid"
    ]


def test_bad_parameters_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="bad value for parameter 'reject.0'.*mrc_span_invalid"):
        MrcChecks(reject=["mrc_spam"])
    with pytest.raises(ConfigError, match="min_question_chars .* is greater than max_question_chars"):
        MrcChecks(min_question_chars=10, max_question_chars=5)
    with pytest.raises(ConfigError, match="mismatch_overlap must be between 0 and 1"):
        MrcChecks(mismatch_overlap=2)
    with pytest.raises(ConfigError, match="unknown parameter 'treshold'"):
        MrcChecks(treshold=1)


def test_other_kinds_are_refused():
    corpus = Dataset.from_arrow(pa.table({"doc_id": ["d1"], "text": ["본문"]}), "corpus")
    with pytest.raises(ConfigError, match="does not accept kind 'corpus'"):
        MrcChecks()(corpus)


# ----------------------------------------------------------------- scores are reused


def test_rethresholding_scored_output_recomputes_nothing(tmp_path, monkeypatch):
    rows = [
        row("fine", "서울을 가로지르는 강은?"),
        row("mismatched", "해운대 해수욕장은 언제 붐비는가?"),
        row("statement", STATEMENT),
    ]
    scored = MrcChecks(filter=False)(dataset(rows)).kept
    pq.write_table(scored.to_arrow(), tmp_path / "scored.parquet")

    def boom(*args, **kwargs):
        raise AssertionError("a score was recomputed")

    for name in (
        "check_row",
        "question_form",
        "question_key",
        "overlap_tokens",
        "folded",
        "longest_shared_run",
        "answer_occurrences",
        "text_length",
    ):
        monkeypatch.setattr(mrc_checks_module, name, boom)
    again = Dataset.from_parquet(tmp_path / "scored.parquet", "mrc")
    strict = MrcChecks(reject=["mrc_mismatched", "mrc_question_form"])(again)
    assert strict.rejected.to_arrow().column("id").to_pylist() == ["mismatched", "statement"]
    lenient = MrcChecks(reject=["mrc_mismatched"], mismatch_overlap=0.0)(again)
    assert lenient.rejected.num_rows == 1  # overlap is exactly 0.0
    assert lenient.kept.to_arrow().column("mrc_flags").to_pylist() == [[], ["mrc_question_form"]]
    with pytest.raises(AssertionError, match="recomputed"):
        MrcChecks(reuse_scores=False)(again)
    with pytest.raises(AssertionError, match="recomputed"):  # another unit is another score
        MrcChecks(context_unit="chars")(again)


# ----------------------------------------------------------------- stage contract


def test_empty_input_and_other_table_types():
    empty = Dataset.from_arrow(pa.Table.from_pylist(mrc_rows()).slice(0, 0), "mrc")
    result = MrcChecks()(empty)
    assert result.kept.num_rows == 0 and result.rejected.num_rows == 0
    assert {"mrc_flags", "mrc_overlap", "reject_reason"} <= set(result.rejected.schema.names)
    table = dataset(mrc_rows()).to_arrow()
    assert isinstance(MrcChecks()(table).kept, pa.Table)
    assert isinstance(MrcChecks()(pl.from_arrow(table), kind="mrc").kept, pl.DataFrame)


def test_outputs_are_deterministic_and_nothing_is_lost(tmp_path):
    rows = [dict(r, id=f"r{i}") for i, r in enumerate(mrc_rows() * 3)]
    outputs = []
    for attempt in range(2):
        out = tmp_path / str(attempt)
        out.mkdir()
        kept, rejected, stats = MrcChecks().execute(dataset(rows), out_dir=out, batch_rows=5)
        assert parquet_rows(kept) + parquet_rows(rejected) == len(rows)
        assert stats.reasons == {"mrc_duplicate_question": 8}
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]


# ----------------------------------------------------------------- reader token budget

LONG_CONTEXT = "첫 문장은 백두산을 말한다. " + " ".join([CONTEXT] * 6) + " 마지막 문장은 한라산을 말한다."


def reader_rows():
    return [
        row("early", "첫 문장이 말하는 산은?", context=LONG_CONTEXT, text="백두산"),
        row("late", "마지막 문장이 말하는 산은?", context=LONG_CONTEXT, text="한라산"),
        row("short", "서울을 가로지르는 강은?"),
        row("impossible", "부산의 인구는?", is_impossible=True, answers=[]),
    ]


def test_an_answer_past_the_first_window_is_flagged_not_rejected(tokenizer_path):
    from tokenizers import Tokenizer

    result = MrcChecks(tokenizer=str(tokenizer_path), max_length=64)(dataset(reader_rows()))
    assert result.stats.rows_rejected == 0
    assert flags(result) == {
        "early": ["mrc_over_token_budget"],
        "late": ["mrc_over_token_budget", "mrc_answer_beyond_budget"],
        "short": [],
        "impossible": [],
    }
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    for r in result.kept.to_arrow().to_pylist():
        assert r["mrc_input_tokens"] == len(tokenizer.encode(r["question"], r["context"]))
        assert r["mrc_question_tokens"] == len(tokenizer.encode(r["question"], add_special_tokens=False))
        assert r["mrc_context_tokens"] == len(tokenizer.encode(r["context"], add_special_tokens=False))
        assert r["mrc_input_tokens"] == r["mrc_question_tokens"] + r["mrc_context_tokens"] + 3
        if r["id"] == "impossible":
            assert r["mrc_answer_end_tokens"] is None
        else:  # the smallest max_length that keeps the answer in the first window
            assert r["mrc_answer_end_tokens"] <= r["mrc_input_tokens"]
            truncating = Tokenizer.from_file(str(tokenizer_path))
            truncating.enable_truncation(r["mrc_answer_end_tokens"], strategy="only_second")
            kept = truncating.encode(r["question"], r["context"])
            end = r["answers"][0]["answer_start"] + len(r["answers"][0]["text"])
            context_end = max(e for (_, e), seq in zip(kept.offsets, kept.sequence_ids, strict=True) if seq == 1)
            assert context_end >= end
    by_id = {r["id"]: r for r in result.kept.to_arrow().to_pylist()}
    assert by_id["early"]["mrc_answer_end_tokens"] <= 64 < by_id["early"]["mrc_input_tokens"]
    assert 64 < by_id["late"]["mrc_answer_end_tokens"] < by_id["late"]["mrc_input_tokens"]  # '을 말한다.' follows
    counts = dict(zip(*result.artifacts["checks"].select(["check", "rows_failed"]).to_pydict().values(), strict=True))
    assert counts["mrc_over_token_budget"] == 2 and counts["mrc_answer_beyond_budget"] == 1


def test_budget_checks_reject_when_asked_and_count_windows_with_a_stride(tokenizer_path):
    stage = MrcChecks(
        tokenizer=str(tokenizer_path),
        max_length=64,
        doc_stride=16,
        reject=["mrc_answer_beyond_budget", "mrc_over_token_budget"],
    )
    result = stage(dataset(reader_rows()))
    rejected = {r["id"]: r for r in result.rejected.to_arrow().to_pylist()}
    assert set(rejected) == {"early", "late"}
    late = rejected["late"]
    assert late["reject_reason"] == "mrc_over_token_budget"
    q, c = late["mrc_question_tokens"], late["mrc_context_tokens"]
    room = 64 - q - 3
    windows = 1 + -(-(c - room) // (room - 16))
    assert late["reject_detail"] == (
        f"mrc_input_tokens={late['mrc_input_tokens']} > max_length 64 ({windows} windows with doc_stride 16); "
        f"mrc_answer_end_tokens={late['mrc_answer_end_tokens']} > max_length 64"
    )
    assert windows > 2
    wordy = row(
        "wordy", "서울의 인구와 수도와 한강과 대한민국의 관계는 무엇인가? " * 4, context=LONG_CONTEXT, text="한라산"
    )
    (detail,) = stage(dataset([wordy])).rejected.to_arrow().column("reject_detail").to_pylist()
    assert detail.split(";")[0].endswith("(the question leaves no more than doc_stride 16 context tokens a window)")


def test_changing_max_length_recomputes_no_token(tokenizer_path, tmp_path, monkeypatch):
    scored = MrcChecks(tokenizer=str(tokenizer_path), filter=False)(dataset(reader_rows())).kept
    assert flags(MrcChecks(tokenizer=str(tokenizer_path))(scored))["late"] == []  # 384 holds everything
    pq.write_table(scored.to_arrow(), tmp_path / "scored.parquet")

    def boom(*args, **kwargs):
        raise AssertionError("tokens were counted again")

    for name in ("count_tokens", "token_offsets", "pair_special_tokens", "reader_input"):
        monkeypatch.setattr(mrc_checks_module, name, boom)
    again = Dataset.from_parquet(tmp_path / "scored.parquet", "mrc")
    tight = MrcChecks(tokenizer=str(tokenizer_path), max_length=64, reject=["mrc_answer_beyond_budget"])
    assert tight(again).rejected.to_arrow().column("id").to_pylist() == ["late"]
    with pytest.raises(AssertionError, match="counted again"):
        MrcChecks(tokenizer=str(tokenizer_path), reuse_scores=False)(again)


def test_without_a_tokenizer_there_are_no_token_columns_and_bad_files_fail_early(tokenizer_path, tmp_path):
    plain = MrcChecks()(dataset(reader_rows()))
    assert not {"mrc_input_tokens", "mrc_answer_end_tokens"} & set(plain.kept.schema.names)
    assert plain.artifacts["checks"].to_pylist()[-1] == {
        "check": "mrc_answer_beyond_budget",
        "rejects": False,
        "rows_failed": 0,
    }
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        MrcChecks(tokenizer=str(broken))(dataset(reader_rows()))
    assert str(caught.value).startswith(f"not a tokenizers tokenizer.json at stage 'mrc_checks', {broken.resolve()}")
    with pytest.raises(
        ConfigError, match="bad value for parameter 'doc_stride'.*must be smaller than max_length \\(384\\)"
    ):
        MrcChecks(tokenizer=str(tokenizer_path), doc_stride=384)
    with pytest.raises(ConfigError, match="max_length needs tokenizer"):
        MrcChecks(max_length=512)
    assert MrcChecks(tokenizer=str(tokenizer_path)).input_files() == [tokenizer_path]
