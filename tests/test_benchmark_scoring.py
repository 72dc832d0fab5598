"""The scores of benchmarks/scale_dedup.py, in DuckDB over Parquet files, on a tiny hand-made truth."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import ground_truth
import scale_dedup

# three true clusters: a with its copies b and c; d alone; e with its copy f
TRUTH = {"a": "a", "b": "a", "c": "a", "d": "d", "e": "e", "f": "e"}


def _parquet(path: Path, **columns: list) -> str:
    pq.write_table(pa.table(columns), path)
    return f"read_parquet('{path}')"


@pytest.fixture
def truth(tmp_path: Path) -> str:
    return _parquet(tmp_path / "truth.parquet", id=list(TRUTH), original=list(TRUTH.values()))


@pytest.mark.parametrize(
    ("kept", "removed", "precision", "recall"),
    [
        ({"a", "d", "f"}, 3, 1.0, 1.0),  # one row of each cluster kept, whichever
        ({"d"}, 5, 3 / 5, 1.0),  # whole clusters removed: n - 1 right, one wrong each
        ({"a", "b", "c", "e", "f"}, 1, 0.0, 0.0),  # the row without copies removed, no copy
        ({"a", "b", "d", "f"}, 2, 1.0, 2 / 3),  # one copy of a left
    ],
)
def test_removal_scores_in_duckdb_count_n_minus_one_removals_per_true_cluster(
    tmp_path: Path, truth: str, kept: set[str], removed: int, precision: float, recall: float
) -> None:
    rows = sorted(kept) + sorted(kept)[:1] + ["not-in-truth"]  # a repeated id and a stray one change nothing
    scores = ground_truth.removal_scores_sql(duckdb.connect(), truth, _parquet(tmp_path / "kept.parquet", id=rows))
    assert (scores["removed"], scores["should"]) == (removed, 3)
    assert scores["precision"] == pytest.approx(precision)
    assert scores["recall"] == pytest.approx(recall)
    in_python = ground_truth.removal_scores(TRUTH, kept)
    assert scores == pytest.approx(in_python, nan_ok=True)


def test_removal_scores_in_duckdb_are_undefined_when_nothing_is_removed(tmp_path: Path, truth: str) -> None:
    scores = ground_truth.removal_scores_sql(
        duckdb.connect(), truth, _parquet(tmp_path / "kept.parquet", id=list(TRUTH))
    )
    assert scores["removed"] == 0 and math.isnan(scores["precision"]) and scores["recall"] == 0.0


def test_rows_differ_counts_rows_on_either_side_with_repeats(tmp_path: Path) -> None:
    con = duckdb.connect()
    a = _parquet(tmp_path / "a.parquet", id=["x", "y", "y"], cluster_id=[1, 2, 2])
    b = _parquet(tmp_path / "b.parquet", id=["y", "x", "z"], cluster_id=[2, 1, 3])
    assert scale_dedup.rows_differ(con, a, a) == 0
    assert scale_dedup.rows_differ(con, a, b) == 2  # the second y in a, z in b
    same_rows_other_order = _parquet(tmp_path / "c.parquet", id=["y", "y", "x"], cluster_id=[2, 2, 1])
    assert scale_dedup.rows_differ(con, a, same_rows_other_order) == 0
