"""Retriever training files from triplets: DPR JSON and sentence-transformers rows; every negative written."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.io import WRITE_BATCH_ROWS, WRITE_FORMATS, read, write
from curate.io.training import (
    TRAINING_FORMATS,
    TrainingCounts,
    sentence_transformers_table,
    training_counts,
    write_sentence_transformers,
)
from curate.stages.mine_hard_negatives import MineHardNegatives
from tests.conftest import REPO


@pytest.fixture(scope="module")
def mined() -> Dataset:
    """Real mined triplets of the sample (three negatives at most)."""
    return MineHardNegatives(count=3)(read(REPO / "sample_data" / "korquad_sample.json")).kept


def test_formats_are_registered_for_writing():
    assert set(TRAINING_FORMATS) == {"dpr", "sentence-transformers"} and set(TRAINING_FORMATS) <= set(WRITE_FORMATS)


def test_dpr_file_round_trips_every_field(mined, tmp_path):
    path = write(mined, tmp_path / "out" / "train.json", format="dpr")
    entries = json.loads(path.read_text(encoding="utf-8"))
    rows = mined.to_arrow().to_pylist()
    assert isinstance(entries, list) and len(entries) == len(rows)
    assert not list(tmp_path.glob("out/.*.tmp"))
    for entry, row in zip(entries, rows, strict=True):
        assert set(entry) == {"question", "answers", "positive_ctxs", "negative_ctxs", "hard_negative_ctxs"}
        assert entry["question"] == row["query"] and entry["answers"] == row["answers"]
        assert entry["positive_ctxs"] == [
            {"title": row["positive_title"], "text": row["positive"], "passage_id": row["positive_id"]}
        ]
        assert entry["negative_ctxs"] == []
        assert [c["text"] for c in entry["hard_negative_ctxs"]] == row["negatives"]
        assert [c["passage_id"] for c in entry["hard_negative_ctxs"]] == row["negative_ids"]
        assert [c["title"] for c in entry["hard_negative_ctxs"]] == row["negative_titles"]
        assert [c["score"] for c in entry["hard_negative_ctxs"]] == pytest.approx(row["negative_scores"])
        assert all(set(c) == {"title", "text", "passage_id", "score"} for c in entry["hard_negative_ctxs"])


def test_dpr_from_plain_triplets_has_empty_titles_and_null_ids(tmp_path):
    triplets = read(REPO / "sample_data" / "triplets.jsonl")
    assert triplets.kind == "triplets"
    path = write(triplets, tmp_path / "plain.json", format="dpr")
    entries = json.loads(path.read_text(encoding="utf-8"))
    first = triplets.to_arrow().to_pylist()[0]
    assert entries[0]["positive_ctxs"] == [{"title": "", "text": first["positive"], "passage_id": None}]
    assert entries[0]["answers"] == []
    assert [c["text"] for c in entries[0]["hard_negative_ctxs"]] == first["negatives"]
    assert all(
        c["passage_id"] is None and c["score"] is None and c["title"] == "" for c in entries[0]["hard_negative_ctxs"]
    )
    empty = write(
        Dataset(kind="triplets", table=triplets.to_arrow().slice(0, 0)), tmp_path / "empty.json", format="dpr"
    )
    assert json.loads(empty.read_text(encoding="utf-8")) == []


def read_back(path) -> pa.Table:
    """A sentence-transformers file as written: JSON Lines (gzip or not) or Parquet."""
    if path.name.endswith(".parquet"):
        return pq.read_table(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return pa.Table.from_pylist([json.loads(line) for line in handle])


@pytest.mark.parametrize("name", ["train.jsonl", "train.jsonl.gz", "train.parquet"])
def test_sentence_transformers_writes_one_row_per_negative(mined, tmp_path, name):
    path = write(mined, tmp_path / name, format="sentence-transformers")
    table = read_back(path)
    rows = mined.to_arrow().to_pylist()
    assert table.column_names == ["anchor", "positive", "negative"]
    expected = [(r["query"], r["positive"], n) for r in rows for n in r["negatives"]]
    assert [(w["anchor"], w["positive"], w["negative"]) for w in table.to_pylist()] == expected  # in rank order
    assert len({len(r["negatives"]) for r in rows}) > 1  # the sample's rows differ in count: none is cut
    assert training_counts(mined.to_arrow(), "sentence-transformers") == TrainingCounts(
        "sentence-transformers", rows=len(expected), negatives=len(expected), triplets=len(rows)
    )


def test_sentence_transformers_keeps_every_negative_of_uneven_rows():
    table = pa.table(
        {
            "query": ["q1", "q2", "q3"],
            "positive": ["p1", "p2", "p3"],
            "negatives": [["a", "b", "c"], ["d"], ["f", "g"]],
        }
    )
    rows = sentence_transformers_table(table)
    assert rows.column_names == ["anchor", "positive", "negative"]
    assert rows.to_pylist() == [
        {"anchor": q, "positive": p, "negative": n}
        for q, p, n in [("q1", "p1", "a"), ("q1", "p1", "b"), ("q1", "p1", "c"), ("q2", "p2", "d"),
                        ("q3", "p3", "f"), ("q3", "p3", "g")]
    ]  # fmt: skip
    assert training_counts(table, "sentence-transformers").describe() == (
        "6 rows (anchor, positive, negative), one per negative of 3 triplets"
    )
    pairs = pa.table({"query": ["q"], "positive": ["p"], "negatives": [[]]})
    assert sentence_transformers_table(pairs).to_pylist() == [{"anchor": "q", "positive": "p"}]
    assert training_counts(pairs, "sentence-transformers").describe() == "1 rows (anchor, positive), no negatives"


def test_sentence_transformers_refuses_to_drop_a_pair(tmp_path):
    table = pa.table({"query": ["q1", "q2"], "positive": ["p1", "p2"], "negatives": [["a"], []]})
    with pytest.raises(ConfigError, match="row 2") as info:
        write(Dataset(kind="triplets", table=table), tmp_path / "st.jsonl", format="sentence-transformers")
    assert "no negatives" in str(info.value)
    assert not (tmp_path / "st.jsonl").exists()


def test_training_files_are_written_batch_by_batch_as_from_the_whole_table(tmp_path):
    """A triplets file of several write batches holds what the whole table gives, and a row that
    does not fit the layout is named however far into the file it is."""
    rows = WRITE_BATCH_ROWS + 10
    table = pa.table(
        {
            "query": [f"질문 {i}" for i in range(rows)],
            "positive": [f"정답 {i}" for i in range(rows)],
            "negatives": [[f"오답 {i}"] * (1 + i % 3) for i in range(rows)],
        }
    )
    triplets = Dataset(kind="triplets", table=table)
    path = write(triplets, tmp_path / "st.parquet", format="sentence-transformers")
    assert pq.read_table(path).equals(sentence_transformers_table(table))
    entries = json.loads(write(triplets, tmp_path / "dpr.json", format="dpr").read_text(encoding="utf-8"))
    assert [len(e["hard_negative_ctxs"]) for e in entries] == [1 + i % 3 for i in range(rows)]

    late = rows - 3  # a row without negatives in the last batch
    negatives = table.column("negatives").to_pylist()
    negatives[late] = []
    with pytest.raises(ConfigError, match=f"row {late + 1}, field 'negatives'"):
        write(Dataset(kind="triplets", table=table.set_column(2, "negatives", [negatives])), tmp_path / "x.jsonl",
              format="sentence-transformers")  # fmt: skip
    pairs_first = [[]] * WRITE_BATCH_ROWS + [["오답"]] * 10  # the first batch makes it pairs
    with pytest.raises(ConfigError, match="row 1, field 'negatives'"):
        write(Dataset(kind="triplets", table=table.set_column(2, "negatives", [pairs_first])), tmp_path / "x.jsonl",
              format="sentence-transformers")  # fmt: skip
    assert not (tmp_path / "x.jsonl").exists()


def test_sentence_transformers_needs_jsonl_or_parquet(mined, tmp_path):
    with pytest.raises(ConfigError, match="JSON Lines or Parquet"):
        write(mined, tmp_path / "train.csv", format="sentence-transformers")
    write_sentence_transformers(mined.to_arrow(), tmp_path / "direct.parquet")
    assert pq.read_table(tmp_path / "direct.parquet").column_names == ["anchor", "positive", "negative"]


def test_dpr_and_triplets_counts_are_what_the_files_hold(mined, tmp_path):
    table = mined.to_arrow()
    entries = json.loads(write(mined, tmp_path / "train.json", format="dpr").read_text(encoding="utf-8"))
    counts = training_counts(table, "dpr")
    assert counts.rows == len(entries) and counts.negatives == sum(len(e["hard_negative_ctxs"]) for e in entries)
    assert counts.describe() == f"{len(entries):,} entries, {counts.negatives:,} hard negatives"
    lines = write(mined, tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()
    plain = training_counts(table, "jsonl")
    assert plain.rows == len(lines) and plain.negatives == sum(len(json.loads(x)["negatives"]) for x in lines)


@pytest.mark.parametrize("fmt", ["dpr", "sentence-transformers"])
def test_other_kinds_are_a_clear_error(fmt, tmp_path):
    mrc = read(REPO / "sample_data" / "korquad_sample.json")
    with pytest.raises(ConfigError, match=f"only kind 'triplets' can be written as {fmt}"):
        write(mrc, tmp_path / "out.jsonl", format=fmt)
    with pytest.raises(ConfigError, match="only kind 'triplets'"):
        write(mrc.to_arrow(), tmp_path / "out.jsonl", format=fmt)
