"""The numpy digests of :mod:`curate.dedup.sketch` are rensa's, bit for bit: on real NSMC reviews
shingled as ``minhash_dedup`` shingles them, on texts of every length around the sketch's bucket
count, and for band groups of any width; and :func:`~curate.dedup.minhash.signatures` gives the
same matrix whichever way it computes it."""

from __future__ import annotations

import numpy as np
import pytest
from rensa import RMinHash

from curate import io
from curate.dedup import minhash, sketch
from curate.dedup.minhash import LshConfig, signatures
from curate.text.shingles import Shingles, prepare, shingle_hashes
from tests.conftest import needs_shared


def _rensa(shingles: Shingles, num_perm: int, seed: int) -> np.ndarray:
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(
        shingles.hashes, shingles.offsets.astype(np.uint64), num_perm, seed
    )
    return np.array(matrix.to_rows(), np.uint32).reshape(-1, num_perm)


@pytest.fixture(scope="module")
def reviews() -> Shingles:
    """Character 5-gram hashes of 5,000 NSMC reviews (empty and one-character reviews included)."""
    table = io.read(needs_shared("nsmc", "binary_sample50k.tsv"), kind="classification", rename={"document": "text"})
    texts = table.to_arrow().column("text").to_pylist()[:5000]
    return shingle_hashes(prepare(texts), "char", 5)


@pytest.mark.parametrize(("num_perm", "seed"), [(32, 42), (32, 46), (128, 42), (24, 3), (1, 5), (117, 0)])
def test_digests_of_real_reviews_are_rensas(reviews: Shingles, num_perm: int, seed: int) -> None:
    mine = sketch.digests(reviews.hashes, reviews.offsets, num_perm, seed)
    assert mine.shape == (len(reviews), num_perm) and mine.dtype == np.uint32
    assert np.array_equal(mine, _rensa(reviews, num_perm, seed))


def test_digests_of_texts_of_every_length_are_rensas() -> None:
    """0 to 300 tokens: rows that leave buckets empty after three rounds (the fallback), rows that
    fill them, and a text without tokens (every value 2**32 - 1)."""
    rng = np.random.default_rng(11)
    sizes = np.arange(0, 301)
    hashes = rng.integers(0, 2**64 - 1, int(sizes.sum()), dtype=np.uint64, endpoint=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    shingles = Shingles(hashes, offsets)
    for num_perm in (8, 32, 100):
        mine = sketch.digests(hashes, offsets, num_perm, 42)
        assert np.array_equal(mine, _rensa(shingles, num_perm, 42))
        assert (mine[0] == 2**32 - 1).all()
        assert (mine[300] < 3 << 30).all()  # 900 throws fill 8 to 100 buckets in the rounds


def test_the_sketch_agrees_with_the_installed_rensa() -> None:
    """What lets signatures() use the sketch at all."""
    assert sketch.agrees_with_rensa()


def test_signatures_are_the_same_matrix_either_way(reviews: Shingles, monkeypatch: pytest.MonkeyPatch) -> None:
    config = LshConfig.for_threshold(0.8, 128, verified=True)
    rows = np.arange(0, len(reviews), 3)
    monkeypatch.setattr(minhash, "_SKETCH_TEXTS", len(reviews) + 1)  # rensa's lists
    from_lists = signatures(reviews, config), signatures(reviews, config, rows)
    monkeypatch.setattr(minhash, "_SKETCH_TEXTS", 1)  # the sketch
    from_sketch = signatures(reviews, config), signatures(reviews, config, rows)
    assert np.array_equal(from_lists[0], from_sketch[0])
    assert np.array_equal(from_lists[1], from_sketch[1])
    assert np.array_equal(from_sketch[1], from_sketch[0][rows])
