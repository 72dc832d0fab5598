"""BM25 rank of positives and passage lengths on a tiny retrieval set built for known ranks."""

import pyarrow as pa
import pytest

from curate import io
from curate.bias import retrieval_bias
from curate.bias.retrieval import positive_ranks, rank_bucket
from tests.conftest import REPO


def test_positive_ranks_first_second_none_and_ties_count_against_the_positive():
    passages = [
        "김치는 배추를 소금에 절여 만든다",  # 0: positive of q0, shares its words
        "한강은 서울을 가로지른다",  # 1
        "부산 부산 부산 항구 항구",  # 2: beats the positive of q1
        "부산 항구",  # 3: positive of q1
        "제주도 귤",  # 4: positive of q2, shares nothing with it
        "같은 문장",  # 5: positive of q3
        "같은 문장",  # 6: same text, a tie
    ]
    queries = ["김치 배추 소금", "부산 항구", "서울 한강", "같은 문장"]
    ranks = positive_ranks(passages, queries, [[0], [3], [4], [5]])
    assert ranks == [1, 2, None, 2]
    assert [rank_bucket(r) for r in ranks] == ["1", "2-5", "none", "2-5"]


def test_retrieval_bias_shares_and_lengths_on_a_table_set():
    corpus = pa.table({"doc_id": ["d0", "d1", "d2"], "text": ["김치 배추 소금", "긴 " * 50, "제주도 귤"]})
    queries = pa.table({"query_id": ["q0", "q1", "q9"], "text": ["김치 배추", "바다", "없는 질문"]})
    qrels = pa.table({"query_id": ["q0", "q1", "q1", "qx"], "doc_id": ["d0", "d2", "d1", "d0"], "score": [1, 1, 0, 1]})
    result = retrieval_bias(corpus, queries, qrels)
    assert result.metric("dataset", "queries") == 2  # qx does not exist, q9 has no positive
    assert result.metric("bm25", "first_share") == 0.5 and result.metric("bm25", "none_share") == 0.5
    assert result.shares("positive_rank") == {"1": 0.5, "none": 0.5}
    assert result.metric("passage_length", "positive_mean_chars") == pytest.approx(
        (len("김치 배추 소금") + len("제주도 귤")) / 2
    )
    assert result.shares("passage_chars", "corpus") == pytest.approx({"0-49": 2 / 3, "100-199": 1 / 3})


def test_sample_folder_is_mostly_easy_for_bm25():
    corpus, queries, qrels = (
        io.read(REPO / "sample_data" / "retrieval", kind=k).to_arrow() for k in ("corpus", "queries", "qrels")
    )
    result = retrieval_bias(corpus, queries, qrels)
    assert result.metric("dataset", "queries") == 39
    assert result.shares("positive_rank") == pytest.approx({"1": 36 / 39, "2-5": 2 / 39, "6-20": 1 / 39})
