"""Dedup on real data from ../shared/data (skipped with a message when the folder is absent):
answers and labels that differ are never merged, and removed rows are as similar as the threshold."""

import subprocess
import sys
import unicodedata
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import io
from curate.dataset import Dataset
from curate.stages import ExactDedup, MinHashDedup
from curate.text.shingles import prepare
from tests.conftest import needs_shared
from tests.outputs import folder_bytes


def char_jaccard(a, b, n=5):
    """True Jaccard of character n-grams of the folded texts (a shorter text is one shingle)."""
    x, y = ({t} if len(t) <= n else {t[i : i + n] for i in range(len(t) - n + 1)} for t in prepare([a, b]))
    return len(x & y) / len(x | y)


def words(text):
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())


def overlap(first, second):
    """Some answer text of one holds some answer text of the other (as words)."""
    a, b = {words(x["text"]) for x in first}, {words(x["text"]) for x in second}
    return any(f" {x} " in f" {y} " or f" {y} " in f" {x} " for x in a for y in b)


def nsmc_50k():
    return io.read(needs_shared("nsmc", "binary_sample50k.tsv"), kind="classification", rename={"document": "text"})


def test_xquad_en_near_identical_questions_with_other_answers_are_kept_and_flagged():
    data = io.read(needs_shared("xquad", "xquad.en.json"))
    rows = {r["id"]: r for r in data.to_arrow().to_pylist()}
    result = MinHashDedup()(data)
    removed = result.rejected.to_arrow().to_pylist()
    assert len(removed) == 4
    for row in removed:
        assert overlap(row["answers"], rows[row["duplicate_of"]]["answers"]), row["id"]
    kept = {r["id"]: r["dedup_conflicts"] for r in result.kept.to_arrow().to_pylist()}
    # "Who did internet2 partner with" (Qwest / Level 3), "another" / "one algorithm", "Where" / "When did"
    for first, second in [
        ("5726472bdd62a815002e8043", "5726472bdd62a815002e8045"),
        ("57296f293f37b319004783a5", "57296f293f37b319004783a6"),
        ("57309921396df919000961f6", "57309921396df919000961f7"),
    ]:
        assert kept[first] == [second] and kept[second] == [first]
    assert result.stats.flags == {"answers_differ": 6}


def test_squad2_adversarial_unanswerable_questions_are_never_removed_as_duplicates():
    data = io.read(needs_shared("squad2", "train-v2.0-first10.json"))
    table = data.to_arrow()
    impossible = dict(zip(table.column("id").to_pylist(), table.column("is_impossible").to_pylist(), strict=True))
    assert sum(impossible.values()) == 348
    # without answers to compare, the clustering alone takes unanswerable questions for copies of answerable ones
    blind = table.set_column(
        table.column_names.index("answers"), "answers", pa.array([[]] * len(table), table.schema.field("answers").type)
    )
    blind = blind.set_column(blind.column_names.index("is_impossible"), "is_impossible", pa.array([False] * len(table)))
    blind_removed = MinHashDedup()(Dataset.from_arrow(blind, "mrc")).rejected.to_arrow().to_pylist()
    crossed = [r["id"] for r in blind_removed if impossible[r["id"]] != impossible[r["duplicate_of"]]]
    assert len(crossed) >= 10
    result = MinHashDedup()(data)
    removed = result.rejected.to_arrow().to_pylist()
    assert all(impossible[r["id"]] == impossible[r["duplicate_of"]] for r in removed)
    kept = {r["id"]: r["dedup_conflicts"] for r in result.kept.to_arrow().to_pylist()}
    assert all(kept[question] for question in crossed)  # kept, and flagged with the question it resembles
    pairs = result.artifacts["conflicts"].to_pylist()
    assert sum(impossible[p["id"]] != impossible[p["other_id"]] for p in pairs) >= len(crossed)


def test_nsmc_exact_repeats_with_another_label_are_conflicts_not_duplicates():
    data = nsmc_50k()
    table = data.to_arrow()
    groups = defaultdict(list)
    for key, text, label in zip(*(table.column(c).to_pylist() for c in ("id", "text", "label")), strict=True):
        groups[" ".join(unicodedata.normalize("NFC", text).split())].append((key, label))
    conflicts = {key for rows in groups.values() for key, label in rows[1:] if label != rows[0][1]}
    repeats = {key for rows in groups.values() for key, label in rows[1:] if label == rows[0][1]}
    flagged = {rows[0][0] for rows in groups.values() if len({label for _, label in rows}) > 1}
    assert len(conflicts) > 40
    result = ExactDedup(fields=["text"])(data)
    rejected = result.rejected.to_arrow()
    reasons = defaultdict(set)
    for key, reason in zip(
        rejected.column("id").to_pylist(), rejected.column("reject_reason").to_pylist(), strict=True
    ):
        reasons[reason].add(key)
    assert reasons == {"label_conflict": conflicts, "exact_duplicate": repeats}
    kept = result.kept.to_arrow()
    marked = {
        k for k, c in zip(kept.column("id").to_pylist(), kept.column("dedup_conflicts").to_pylist(), strict=True) if c
    }
    assert marked == flagged and result.stats.flags == {"label_conflict": len(flagged)}


def test_nsmc_near_duplicates_keep_labels_apart_and_reach_the_threshold():
    data = nsmc_50k()
    table = data.to_arrow()
    text = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    label = dict(zip(table.column("id").to_pylist(), table.column("label").to_pylist(), strict=True))
    result = MinHashDedup()(data)
    removed = result.rejected.to_arrow().to_pylist()
    assert {r["reject_reason"] for r in removed} == {"near_duplicate", "label_conflict"}
    for row in removed:
        same_label = label[row["id"]] == label[row["duplicate_of"]]
        assert same_label == (row["reject_reason"] == "near_duplicate"), row["id"]
        assert char_jaccard(text[row["id"]], text[row["duplicate_of"]]) >= 0.8, row["id"]
        assert f"similarity {row['similarity']:.2f}" in row["reject_detail"]
    # connected components chain rows in that fall below the threshold to the row they are said to duplicate
    chained = MinHashDedup(clustering="components", keep="first")(data).rejected.to_arrow().to_pylist()
    assert any(char_jaccard(text[r["id"]], text[r["duplicate_of"]]) < 0.8 for r in chained)


def test_dedup_command_on_nsmc_prints_the_counts_it_writes(tmp_path):
    source = needs_shared("nsmc", "binary_sample50k.tsv")
    out = tmp_path / "kept.parquet"
    args = ["dedup", source, out, "--kind", "classification", "--rename", "document=text"]
    result = subprocess.run(
        [sys.executable, "-m", "curate", *map(str, args), "--conflicts", tmp_path / "pairs.parquet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    kept = io.read(out).to_arrow()
    removed = io.read(tmp_path / "kept.rejected.parquet").to_arrow()
    reasons = defaultdict(int)
    for reason in removed.column("reject_reason").to_pylist():
        reasons[reason] += 1
    flagged = sum(1 for c in kept.column("dedup_conflicts").to_pylist() if c)
    assert pq.read_table(tmp_path / "pairs.parquet").num_rows == reasons["label_conflict"] > 0
    expected = (
        f"50,000 rows: kept {kept.num_rows:,}, removed {removed.num_rows:,} "
        f"(label_conflict {reasons['label_conflict']:,}, near_duplicate {reasons['near_duplicate']:,}); "
        f"kept rows flagged: label_conflict {flagged:,} in "
    )
    assert result.stdout.startswith(expected)
    assert kept.num_rows + removed.num_rows == 50_000


@pytest.mark.parametrize("clustering", ["greedy", "components"])
def test_same_real_input_same_bytes(tmp_path, clustering):
    data = nsmc_50k()
    outputs = []
    for attempt in range(2):
        folder = tmp_path / f"{clustering}{attempt}"
        folder.mkdir()
        kept, rejected, _ = MinHashDedup(clustering=clustering).execute(data, out_dir=folder)
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]
