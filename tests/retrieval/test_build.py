"""MRC rows into a retrieval set (mrc_to_retrieval) and mining a retrieval folder."""

from __future__ import annotations

import hashlib
import re
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.io import read, read_bundle, write_bundle
from curate.retrieval.build import (
    TRIPLET_SCHEMA,
    mine_retrieval,
    mine_retrieval_folder,
    mrc_passages,
    mrc_to_retrieval,
)
from curate.retrieval.checks import find_retrieval_problems
from curate.retrieval.negatives import MiningSettings, fold
from tests.conftest import CONTEXT, REPO, answer, mrc_table

SAMPLE = REPO / "sample_data" / "korquad_sample.json"


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    return read(SAMPLE).to_arrow()


def test_sample_becomes_one_passage_per_context_and_one_query_per_question(sample):
    parts = mrc_to_retrieval(sample)
    corpus, queries, qrels = parts["corpus"], parts["queries"], parts["qrels"]
    contexts = sample.column("context").to_pylist()
    assert corpus.schema.names == ["doc_id", "title", "text"]
    assert corpus.column("text").to_pylist() == list(dict.fromkeys(contexts))  # first-appearance order
    assert corpus.column("doc_id").to_pylist()[0] == "korquad_sample/0/0"  # the passage_id is kept
    assert len(set(corpus.column("doc_id").to_pylist())) == corpus.num_rows
    assert queries.column("query_id").to_pylist() == sample.column("id").to_pylist()
    assert queries.column("text").to_pylist() == sample.column("question").to_pylist()
    assert qrels.schema.names == ["query_id", "doc_id", "score", "split"]
    assert set(qrels.column("score").to_pylist()) == {1} and set(qrels.column("split").to_pylist()) == {"train"}
    # every qrel points to the passage of its own question
    text_of = dict(zip(corpus.column("doc_id").to_pylist(), corpus.column("text").to_pylist(), strict=True))
    rows = sample.to_pylist()  # qrels follow the answerable rows in order (ids may repeat: ko-0127)
    answerable = [r for r in rows if not r["is_impossible"] and any(a["text"].strip() for a in r["answers"])]
    assert qrels.column("query_id").to_pylist() == [r["id"] for r in answerable]
    assert [text_of[d] for d in qrels.column("doc_id").to_pylist()] == [r["context"] for r in answerable]
    problems = find_retrieval_problems(corpus, queries, qrels)
    codes = set(problems.column("code").to_pylist())
    assert not codes & {"missing_document", "missing_query", "duplicate_doc_id", "duplicate_qrel"}


def test_unanswerable_questions_are_queries_without_qrels_or_answers(sample):
    parts = mrc_to_retrieval(sample)
    rows = sample.to_pylist()
    answered = set(parts["qrels"].column("query_id").to_pylist())
    answers = parts["queries"].column("answers").to_pylist()
    impossible = [i for i, r in enumerate(rows) if r["is_impossible"]]
    assert impossible and all(rows[i]["id"] not in answered and answers[i] == [] for i in impossible)
    # plausible answers are never answers
    assert any(rows[i]["plausible_answers"] for i in impossible)
    # ko-0062 is marked impossible yet has answers: still no qrel
    assert "ko-0062" not in answered and rows[[r["id"] for r in rows].index("ko-0062")]["answers"]
    # ko-0128 has an empty answer only: no qrel, no answers
    assert "ko-0128" not in answered and answers[[r["id"] for r in rows].index("ko-0128")] == []
    answerable = [r for r in rows if not r["is_impossible"] and any(a["text"].strip() for a in r["answers"])]
    assert parts["qrels"].num_rows == len(answerable) == 255


def test_answers_are_distinct_non_blank_texts_in_order():
    rows = [
        {
            "id": "q1",
            "context": CONTEXT,
            "question": "수도는?",
            "answers": [
                answer(CONTEXT, "서울"),
                answer(CONTEXT, "서울", 1),
                {"text": " ", "answer_start": 0},
                answer(CONTEXT, "대한민국"),
            ],
        }
    ]
    parts = mrc_to_retrieval(mrc_table(rows))
    assert parts["queries"].column("answers").to_pylist() == [["서울", "대한민국"]]
    assert parts["qrels"].num_rows == 1


def test_doc_id_is_a_stable_content_hash_without_passage_ids(sample):
    table = sample.drop_columns(["passage_id"])
    first = mrc_to_retrieval(table)["corpus"]
    again = mrc_to_retrieval(table)["corpus"]
    assert first.equals(again)
    ids = first.column("doc_id").to_pylist()
    assert all(re.fullmatch(r"p-[0-9a-f]{12}", i) for i in ids) and len(set(ids)) == len(ids)
    title, text = first.column("title")[0].as_py(), first.column("text")[0].as_py()
    assert ids[0] == "p-" + hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:12]
    # the same passages in another order keep their ids
    shuffled = mrc_to_retrieval(table.take(pa.array(list(range(table.num_rows))[::-1])))["corpus"]
    assert dict(zip(shuffled.column("text").to_pylist(), shuffled.column("doc_id").to_pylist(), strict=True)) == dict(
        zip(first.column("text").to_pylist(), ids, strict=True)
    )


def test_a_passage_id_shared_by_two_contexts_falls_back_to_the_hash():
    other = CONTEXT.replace("서울", "부산")
    rows = [
        {"id": "a", "context": CONTEXT, "question": "q", "answers": [answer(CONTEXT, "서울")], "passage_id": "p/0"},
        {"id": "b", "context": other, "question": "q", "answers": [answer(other, "부산")], "passage_id": "p/0"},
        {"id": "c", "context": CONTEXT, "question": "q2", "answers": [answer(CONTEXT, "한강")], "passage_id": "p/0"},
    ]
    found = mrc_passages(mrc_table(rows))
    ids = found.corpus.column("doc_id").to_pylist()
    assert len(ids) == 2 and all(i.startswith("p-") for i in ids) and ids[0] != ids[1]
    assert found.passage.tolist() == [0, 1, 0]


def test_null_titles_and_empty_input():
    parts = mrc_to_retrieval(mrc_table())
    assert parts["corpus"].num_rows == 2  # CONTEXT and its NFD spelling are different strings
    assert parts["corpus"].column("title").null_count == 2
    empty = mrc_to_retrieval(mrc_table().slice(0, 0))
    assert all(t.num_rows == 0 for t in empty.values())


def test_mrc_to_retrieval_is_fast_on_100k_rows(sample):
    copies = 100_000 // sample.num_rows + 1
    big = pa.concat_tables([sample] * copies).slice(0, 100_000)
    contexts = pc.binary_join_element_wise(
        big.column("context"), pa.array([str(i // 10) for i in range(big.num_rows)]), " "
    )
    big = big.set_column(big.column_names.index("context"), "context", contexts)
    big = big.drop_columns(["passage_id"])
    started = time.perf_counter()
    parts = mrc_to_retrieval(big)
    seconds = time.perf_counter() - started
    assert parts["queries"].num_rows == 100_000 and parts["corpus"].num_rows > 9_000
    assert seconds < 15, f"mrc_to_retrieval took {seconds:.1f}s on 100k rows"


def test_mining_a_beir_folder_made_from_the_sample(sample, tmp_path):
    parts = mrc_to_retrieval(sample)
    folder = write_bundle({k: Dataset.from_arrow(v, k) for k, v in parts.items()}, tmp_path / "beir", format="beir")
    bundle = read_bundle(folder)
    assert set(bundle) == {"corpus", "queries", "qrels"}
    triplets = mine_retrieval_folder(bundle, MiningSettings(count=3))
    assert triplets.schema == TRIPLET_SCHEMA
    assert triplets.num_rows > 200
    answers_of: dict[str, list[str]] = {}  # a repeated query id is mined for its first query
    for query_id, answers in zip(
        parts["queries"].column("query_id").to_pylist(), parts["queries"].column("answers").to_pylist(), strict=True
    ):
        answers_of.setdefault(query_id, answers)
    for row in triplets.to_pylist():
        assert 1 <= len(row["negatives"]) <= 3 and row["positive_id"] not in row["negative_ids"]
        assert row["answers"] == answers_of[row["query_id"]]
        for text, title in zip(row["negatives"], row["negative_titles"], strict=True):
            assert not any(fold(a) in fold(f"{title} {text}") for a in row["answers"])
            assert fold(text) != fold(row["positive"])
        assert row["negative_scores"] == sorted(row["negative_scores"], reverse=True)
    # the same as mining the in-memory tables
    assert mine_retrieval(parts, MiningSettings(count=3)).triplets.equals(triplets)


def test_folder_with_several_positives_and_splits():
    corpus = pa.table(
        {
            "doc_id": ["d1", "d2", "d3", "d4", "d5"],
            "title": ["", "", "", "", ""],
            "text": [
                "서울은 수도이다",
                "서울은 큰 도시이다",
                "부산은 항구 도시이다",
                "대구는 내륙 도시이다",
                "광주는 도시이다",
            ],
        }
    )
    queries = pa.table({"query_id": ["q1", "q2"], "text": ["서울 도시", "항구 도시"]})
    qrels = pa.table(
        {
            "query_id": ["q1", "q1", "q2", "q2", "q1"],
            "doc_id": ["d1", "d2", "d3", "missing", "d4"],
            "score": [1, 2, 1, 1, 0],
            "split": ["train", "train", "test", "test", "train"],
        }
    )
    result = mine_retrieval({"corpus": corpus, "queries": queries, "qrels": qrels}, MiningSettings(count=2))
    rows = result.triplets.to_pylist()
    assert [(r["query_id"], r["positive_id"]) for r in rows] == [("q1", "d1"), ("q1", "d2"), ("q2", "d3")]
    assert rows[0]["negative_ids"] == rows[1]["negative_ids"]  # one mining per query, guarded against both positives
    assert not {"d1", "d2"} & set(rows[0]["negative_ids"])
    assert rows[0]["answers"] == []  # the queries have no answers column
    summary = result.summary.to_pylist()[0]
    assert summary["queries"] == 2 and summary["corpus"] == 5
    train = mine_retrieval(
        {"corpus": corpus, "queries": queries, "qrels": qrels}, MiningSettings(count=2), split="train"
    )
    assert {r["query_id"] for r in train.triplets.to_pylist()} == {"q1"}
    with pytest.raises(ConfigError, match="no qrels"):
        mine_retrieval({"corpus": corpus, "queries": queries}, MiningSettings())
