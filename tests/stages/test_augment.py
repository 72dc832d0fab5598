"""``augment_mrc`` and ``augment_text``: new rows counted and marked, exact spans, caps, determinism."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

from curate.augment.text import fold
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.io import read
from curate.mrc.checks import check_row
from curate.stages.augment import AugmentMrc, AugmentText
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"
SPAN_CODES = ("span_mismatch", "offset_out_of_range", "empty_answer")


def korquad() -> Dataset:
    return read(SAMPLE / "korquad_sample.json")


def reviews() -> Dataset:
    return read(SAMPLE / "reviews_cls.tsv")


def span_problems(row) -> list[str]:
    problems = check_row(row["context"], row["answers"], row["is_impossible"], row["plausible_answers"])
    return [p.code for p in problems if p.code in SPAN_CODES]


def run(stage, data: Dataset, batch_rows: int = 1000):
    kept, rejected, stats = stage.execute(data, batch_rows=batch_rows)
    assert stats.rows_kept + stats.rows_rejected == stats.rows_in + stats.rows_added
    assert rejected.num_rows == 0
    return kept, stats


# ----------------------------------------------------------------- augment_mrc


def test_mrc_default_adds_distractor_and_shuffle_rows_with_exact_spans():
    data = korquad()
    stage = AugmentMrc()
    kept, stats = run(stage, data)
    rows = kept.to_pylist()
    assert stats.rows_in == 272 and stats.rows_added == 494 and len(rows) == 766
    new = rows[272:]
    assert [r["source"] for r in rows[:272]] == ["original"] * 272
    assert Counter(r["source"] for r in new) == {"augment:distractor": 249, "augment:shuffle": 245}
    originals = data.to_arrow().to_pylist()
    exact_before = sum(1 for r in originals if not span_problems(r))
    assert all(span_problems(r) == [] for r in new)
    assert len({(r["id"], r["question"]) for r in new}) == len(new)  # two sample questions share an id
    assert all(r["id"].split("#aug-")[1].rsplit("-", 1)[0] in ("distractor", "shuffle") for r in new)
    # every question with exact spans got both, except one-sentence contexts (no shuffle)
    assert len({r["id"].split("#")[0] + r["question"] for r in new}) <= exact_before
    assert stage.artifacts()["augment_summary"].to_pylist() == [
        {"method": "distractor", "made": 249, "short": 23},
        {"method": "shuffle", "made": 245, "short": 27},
    ]


def test_mrc_new_rows_follow_their_batch_and_do_not_depend_on_batch_size():
    data = korquad()
    kept_small, stats = run(AugmentMrc(), data, batch_rows=50)
    rows = kept_small.to_pylist()
    assert rows[50]["source"] != "original" and rows[0]["source"] == "original"
    batches, i = [], 0
    while i < len(rows):  # each batch: 50 originals (fewer at the end), then their new rows
        size = min(50, 272 - sum(len(o) for o, _ in batches))
        originals = rows[i : i + size]
        assert all(r["source"] == "original" for r in originals)
        i += size
        start = i
        while i < len(rows) and rows[i]["source"] != "original":
            i += 1
        batches.append((originals, rows[start:i]))
    assert len(batches) == 6 and sum(len(o) for o, _ in batches) == 272
    for originals, made in batches:
        ids = {r["id"] for r in originals}
        assert all(r["id"].split("#aug-")[0] in ids for r in made)
    kept_big, _ = run(AugmentMrc(), data)

    def key(r):
        return (r["id"], r["question"], r["context"])

    assert sorted(map(key, rows)) == sorted(map(key, kept_big.to_pylist()))


def test_mrc_seed_decides_the_rows():
    data = korquad()
    first, _ = run(AugmentMrc(seed=1), data)
    again, _ = run(AugmentMrc(seed=1), data)
    other, _ = run(AugmentMrc(seed=2), data)
    assert first.equals(again)
    assert first.column("context").to_pylist() != other.column("context").to_pylist()


def test_mrc_caps_ratio_and_max_new_rows():
    data = korquad()
    _, by_ratio = run(AugmentMrc(ratio=0.25, copies=2), data)
    assert by_ratio.rows_added == 68
    kept, by_count = run(AugmentMrc(max_new_rows=10, ratio=0.5, methods=["shuffle"]), data)
    assert by_count.rows_added == 10
    assert Counter(kept.column("source").to_pylist()) == {"original": 272, "augment:shuffle": 10}
    _, none = run(AugmentMrc(max_new_rows=0), data)
    assert none.rows_added == 0


def test_mrc_unanswerable_questions_are_perturbed_with_plausible_answers():
    data = korquad()
    kept, _ = run(AugmentMrc(copies=2, methods=["shuffle"]), data)
    originals = {(r["id"], r["question"]): r for r in data.to_arrow().to_pylist()}
    made = [r for r in kept.to_pylist() if r["source"] != "original" and r["is_impossible"]]
    assert len([r for r in made if r["plausible_answers"]]) >= 20
    for row in made:
        before = originals[row["id"].split("#aug-")[0], row["question"]]
        for key in ("answers", "plausible_answers"):
            assert [a["text"] for a in row[key] or []] == [a["text"] for a in before[key] or []]
        assert span_problems(row) == []


def test_mrc_existing_sources_are_kept():
    table = korquad().to_arrow()
    sources = ["crawl" if i % 2 else None for i in range(table.num_rows)]
    table = table.append_column("source", pa.array(sources, pa.string()))
    kept, _ = run(AugmentMrc(methods=["shuffle"]), Dataset.from_arrow(table, "mrc"))
    counts = Counter(kept.column("source").to_pylist())
    assert counts["crawl"] == 136 and counts["original"] == 136 and counts["augment:shuffle"] > 0


def test_mrc_unanswerable_pairs_from_mined_negatives():
    pytest.importorskip("curate.retrieval.negatives")
    data = korquad()
    stage = AugmentMrc(methods=["unanswerable"])
    kept, stats = run(stage, data)
    made = [r for r in kept.to_pylist() if r["source"] == "augment:unanswerable"]
    assert stats.rows_added == len(made) > 200
    originals = {(r["id"], r["question"]): r for r in data.to_arrow().to_pylist()}
    for row in made:
        before = originals[row["id"].split("#aug-")[0], row["question"]]
        assert row["is_impossible"] and row["answers"] == [] and row["plausible_answers"] == []
        assert row["context"] != before["context"]
        assert all(a["text"] not in row["context"] for a in before["answers"])
        assert row["id"].endswith("#aug-unanswerable-0")
    assert stage.artifacts()["augment_summary"].column("method").to_pylist() == ["unanswerable"]


def test_mrc_parameters():
    with pytest.raises(ConfigError, match="methods"):
        AugmentMrc(methods=["shuffle", "shuffle"])
    with pytest.raises(ConfigError, match="methods"):
        AugmentMrc(methods=["paraphrase"])
    with pytest.raises(ConfigError, match="copies"):
        AugmentMrc(copies=0)
    with pytest.raises(ConfigError, match="does not accept kind"):
        AugmentMrc()(reviews())


# ----------------------------------------------------------------- augment_text


def test_text_one_copy_per_row_on_the_sample():
    data = reviews()
    stage = AugmentText(seed=0)
    kept, stats = run(stage, data)
    rows = kept.to_pylist()
    assert stats.rows_in == 303 and stats.rows_added == 301 and len(rows) == 604
    originals, new = rows[:303], rows[303:]
    assert all(r["source"] == "original" for r in originals)
    assert {r["source"] for r in new} == {"augment:eojeol_delete", "augment:eojeol_swap", "augment:char_noise"}
    by_id = {r["id"]: r for r in originals}
    for row in new:
        source = by_id[row["id"].removesuffix("#aug-0")]
        assert row["label"] == source["label"] and row["text_pair"] == source["text_pair"]
    made = {fold(r["text"]) for r in new}
    assert len(made) == len(new) and not made & {fold(r["text"] or "") for r in originals}
    assert stage.artifacts()["augment_summary"].to_pylist() == [
        {"label": "negative", "rows": 152, "added": 151, "target": 303},
        {"label": "positive", "rows": 151, "added": 150, "target": 301},
    ]


def test_text_balance_and_caps_on_the_sample():
    data = reviews()
    kept, stats = run(AugmentText(balance=True), data)
    assert stats.rows_added == 1
    assert Counter(kept.column("label").to_pylist()) == {"negative": 152, "positive": 152}
    kept, stats = run(AugmentText(balance=True, per_class_cap=200, seed=4), data)
    assert Counter(kept.column("label").to_pylist()) == {"negative": 200, "positive": 200}
    kept, stats = run(AugmentText(copies=3, per_class_cap=250), data)
    assert Counter(kept.column("label").to_pylist()) == {"negative": 250, "positive": 250}
    assert max(Counter(i.split("#")[0] for i in kept.column("id").to_pylist()).values()) <= 4


def test_text_pair_is_kept_and_output_does_not_depend_on_batch_size():
    rows = [
        {
            "id": f"p{i}",
            "text": f"전제 문장 번호 {i} 이다",
            "text_pair": f"가설 {i}",
            "label": "entail" if i % 3 else "neutral",
        }
        for i in range(12)
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "classification")
    big, stats = run(AugmentText(balance=True, seed=9), data)
    small, _ = run(AugmentText(balance=True, seed=9), data, batch_rows=5)
    assert stats.rows_added == 4 and Counter(big.column("label").to_pylist()) == {"entail": 8, "neutral": 8}
    assert sorted(big.to_pylist(), key=str) == sorted(small.to_pylist(), key=str)
    pairs = {r["id"]: r["text_pair"] for r in rows}
    for row in big.to_pylist()[12:]:
        assert row["text_pair"] == pairs[row["id"].split("#")[0]] and row["text"] != rows[0]["text"]


def test_text_parameters():
    with pytest.raises(ConfigError, match="nothing would be made"):
        AugmentText(copies=0)
    with pytest.raises(ConfigError, match="ops"):
        AugmentText(ops=["eojeol_swap", "eojeol_swap"])
    with pytest.raises(ConfigError, match="noise_prob"):
        AugmentText(noise_prob=2)
    with pytest.raises(ConfigError, match="does not accept kind"):
        AugmentText()(korquad())


# ----------------------------------------------------------------- in a pipeline


def test_both_stages_run_in_a_pipeline(tmp_path, monkeypatch):
    from curate import stages as registry
    from curate.pipeline import run_pipeline

    monkeypatch.setitem(registry.REGISTRY, "augment_mrc", AugmentMrc)
    config = {
        "name": "augment",
        "input": {"path": str(SAMPLE / "korquad_sample.json")},
        "output": {"dir": str(tmp_path / "run")},
        "batch_rows": 100,
        "stages": [{"use": "validate_spans"}, {"use": "augment_mrc", "params": {"methods": ["shuffle"], "seed": 3}}],
    }
    result = run_pipeline(config)
    augment = result.stages[1]
    assert augment.stats.rows_added > 200
    assert augment.stats.rows_kept == augment.stats.rows_in + augment.stats.rows_added
    output = result.output.to_arrow().to_pylist()
    assert all(span_problems(r) == [] for r in output)
