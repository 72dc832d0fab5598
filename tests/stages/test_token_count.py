"""``token_count``: exact subword counts per field, bounds with reasons, reused scores."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

import curate.stages.token_count as token_count_module
from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.stages import REGISTRY, TokenCount
from tests.conftest import REPO

SAMPLE = REPO / "sample_data" / "korquad_sample.json"


def own_counts(tokenizer_path, texts):
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    return [len(tokenizer.encode(t, add_special_tokens=False)) if t else 0 for t in texts]


def test_counts_every_text_field_exactly_on_the_sample(tokenizer_path):
    data = io.read(SAMPLE)
    result = TokenCount(tokenizer=str(tokenizer_path))(data)
    table = result.kept.to_arrow()
    assert result.stats.rows_kept == data.num_rows and result.stats.rows_rejected == 0
    for field in ("context", "question"):
        assert table.column(f"tokens_{field}").type == pa.int32()
        assert table.column(f"tokens_{field}").to_pylist() == own_counts(
            tokenizer_path, table.column(field).to_pylist()
        )
    assert REGISTRY["token_count"] is TokenCount


def test_bounds_reject_with_the_field_count_and_bound(tokenizer_path):
    data = io.read(SAMPLE)
    counts = own_counts(tokenizer_path, data.to_arrow().column("context").to_pylist())
    limit = sorted(counts)[len(counts) // 2]
    result = TokenCount(tokenizer=str(tokenizer_path), fields=["context"], max_tokens=limit)(data)
    rejected = result.rejected.to_arrow().to_pylist()
    assert len(rejected) == sum(n > limit for n in counts) > 0
    assert {r["reject_reason"] for r in rejected} == {"too_many_tokens"}
    assert all(r["reject_detail"] == f"tokens_context={r['tokens_context']} > {limit}" for r in rejected)
    assert "tokens_question" not in result.kept.schema.names

    both = TokenCount(tokenizer=str(tokenizer_path), min_tokens=8, max_tokens=limit)(data)
    details = {r["reject_detail"] for r in both.rejected.to_arrow().to_pylist()}
    short = [d for d in details if "tokens_question=" in d]
    assert short and all(d.endswith("< 8") for d in short)
    assert both.stats.reasons.keys() <= {"too_many_tokens", "too_few_tokens"} and "too_few_tokens" in both.stats.reasons
    assert both.stats.rows_kept + both.stats.rows_rejected == data.num_rows


def test_filter_false_only_scores_and_null_text_counts_zero(tokenizer_path):
    table = pa.table(
        {"id": ["a", "b"], "text": ["재밌다 ㅋㅋ", "최고"], "text_pair": [None, "정말 최고"], "label": ["1", "1"]}
    )
    data = Dataset.from_arrow(table, "classification")
    result = TokenCount(tokenizer=str(tokenizer_path), max_tokens=1, filter=False)(data)
    assert result.stats.rows_rejected == 0
    pair = result.kept.to_arrow().column("tokens_text_pair").to_pylist()
    assert pair == [0, own_counts(tokenizer_path, ["정말 최고"])[0]]


def test_triplets_count_query_and_positive_by_default(tokenizer_path):
    table = pa.table(
        {"query": ["서울의 인구는?"], "positive": ["서울의 인구는 약 940만 명이다."], "negatives": [["한강"]]}
    )
    result = TokenCount(tokenizer=str(tokenizer_path))(Dataset.from_arrow(table, "triplets"))
    assert {"tokens_query", "tokens_positive"} <= set(result.kept.schema.names)
    assert "tokens_negatives" not in result.kept.schema.names


def test_rethresholding_reuses_counts_and_a_prefix_keeps_two_tokenizers_apart(tokenizer_path, tmp_path, monkeypatch):
    scored = TokenCount(tokenizer=str(tokenizer_path), filter=False)(io.read(SAMPLE)).kept
    pq.write_table(scored.to_arrow(), tmp_path / "scored.parquet")
    again = Dataset.from_parquet(tmp_path / "scored.parquet", "mrc")

    def boom(*args, **kwargs):
        raise AssertionError("tokens were counted again")

    monkeypatch.setattr(token_count_module, "count_tokens", boom)
    strict = TokenCount(tokenizer=str(tokenizer_path), fields=["context"], max_tokens=100)(again)
    expected = sum(n > 100 for n in scored.to_arrow().column("tokens_context").to_pylist())
    assert strict.stats.rows_rejected == expected > 0
    with pytest.raises(AssertionError, match="counted again"):
        TokenCount(tokenizer=str(tokenizer_path), reuse_scores=False)(again)
    with pytest.raises(AssertionError, match="counted again"):  # another prefix: another tokenizer's counts
        TokenCount(tokenizer=str(tokenizer_path), prefix="reader_tokens")(again)


def test_configuration_errors_are_one_line(tokenizer_path, tmp_path):
    data = io.read(SAMPLE)
    with pytest.raises(ConfigError) as caught:
        TokenCount(tokenizer=str(tmp_path / "missing.json"))(data)
    message = str(caught.value)
    assert message.startswith("tokenizer file not found at stage 'token_count', ")
    assert str(tmp_path / "missing.json") in message and "field 'tokenizer'" in message and "\n" not in message
    with pytest.raises(ConfigError, match="min_tokens \\(9\\) is greater than max_tokens \\(3\\)"):
        TokenCount(tokenizer=str(tokenizer_path), min_tokens=9, max_tokens=3)
    with pytest.raises(ConfigError, match="missing parameter 'tokenizer'"):
        TokenCount()
    with pytest.raises(ConfigError, match="needs a .*column .* in its input"):
        TokenCount(tokenizer=str(tokenizer_path), fields=["passage"])(data)
    with pytest.raises(ConfigError, match="fields listed twice: context"):
        TokenCount(tokenizer=str(tokenizer_path), fields=["context", "context"])
    qrels = Dataset.from_arrow(
        pa.table({"query_id": ["q"], "doc_id": ["d"], "score": pa.array([1], pa.int32())}), "qrels"
    )
    with pytest.raises(ConfigError, match="kind 'qrels' has no text field"):
        TokenCount(tokenizer=str(tokenizer_path))(qrels)
