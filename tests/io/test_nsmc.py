"""Reading real third-party data from ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from curate.io import read

NSMC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nsmc" / "binary_sample50k.tsv"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def nsmc_path() -> Path:
    if not NSMC.exists():
        pytest.skip(f"real data not found at {NSMC} (../shared/data beside the checkout)")
    return NSMC


def test_nsmc_sample_reads_as_classification_with_every_row(nsmc_path: Path) -> None:
    dataset = read(nsmc_path, kind="classification", rename={"document": "text"})
    table = dataset.to_arrow()
    assert dataset.kind == "classification"
    assert table.num_rows == 50_000
    assert table.column_names == ["id", "text", "text_pair", "label", "rating"]
    labels = table.column("label").to_pylist()
    assert Counter(labels) == {"0": 25_000, "1": 25_000}  # 25k per class, as the data README states
    assert pc.count_distinct(table.column("id")).as_py() == 50_000
    # some reviews hold a bare carriage return: it stays inside the text, the row stays one row
    with_cr = [text for text in table.column("text").to_pylist() if "\r" in text]
    assert with_cr
    assert all(rating.isdigit() for rating in table.column("rating").to_pylist())
