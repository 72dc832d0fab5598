"""korean_quality on real NSMC reviews (../shared/data/nsmc/reviews.jsonl.gz, field ``review``).

Regression: the repeat-run rule counted punctuation, so ordinary reviews that pause with ``.....``
or stress with ``!!!!!`` were rejected as noise. Runs are now letters and jamo only.
"""

import gzip
import json
import re
from itertools import islice

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.stages.quality import KoreanQuality
from tests.conftest import needs_shared

ROWS = 200_000
LONG_PUNCTUATION = re.compile(r"([.!?~,;])\1{10,}")  # a run of 11 or more: above the default of 10
LONG_LAUGHTER = re.compile(r"([ㅋㅎㅠㅜ])\1{10,}")


@pytest.fixture(scope="module")
def scored():
    path = needs_shared("nsmc", "reviews.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in islice(handle, ROWS)]
    table = pa.table({"id": [str(r["review_id"]) for r in rows], "text": [r["review"] or "" for r in rows]})
    result = KoreanQuality()(Dataset.from_arrow(table, "document"))
    assert result.stats.rows_in == ROWS
    kept = result.kept.table.select(["id", "text", "korean_repeat_char_run"]).to_pylist()
    rejected = result.rejected.table.select(["id", "text", "reject_reason", "korean_repeat_char_run"]).to_pylist()
    return kept, rejected


def test_reviews_with_long_punctuation_runs_are_kept(scored):
    kept, rejected = scored
    kept_ids = {r["id"] for r in kept}
    # '정말 재밌는 영화다..............', '재밌네요!!!!!!!!!!!!', '88년을 기억케하는 내 인생의 영화..............'
    assert {"3632305", "7798497", "2444557"} <= kept_ids
    punctuated = [r for r in kept if LONG_PUNCTUATION.search(r["text"])]
    assert len(punctuated) > 200  # of 265 such reviews in these rows, all were rejected before
    assert all(r["korean_repeat_char_run"] <= 10 for r in punctuated)
    letters_run = re.compile(r"([^\W\d_])\1{10,}|([^\W\d_]{2})\2{5,}")
    wrongly = [
        r["text"]
        for r in rejected
        if r["reject_reason"] == "korean_repeat_char_run" and not letters_run.search(r["text"])
    ]
    assert wrongly == []  # every repeat-run rejection has a run of letters or jamo above 10


def test_laughter_and_letter_runs_are_still_rejected(scored):
    kept, rejected = scored
    assert not [r["text"] for r in kept if LONG_LAUGHTER.search(r["text"])]
    runs = [r for r in rejected if r["reject_reason"] == "korean_repeat_char_run"]
    assert len(runs) > 50 and all(r["korean_repeat_char_run"] > 10 for r in runs)
    assert "7445219" in {r["id"] for r in runs}  # '베리베리베리베리베리베리굿!!!...': 베리 x 6 is a run of 12
    assert len(rejected) / (len(kept) + len(rejected)) < 0.01
