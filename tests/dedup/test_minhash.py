import random

import numpy as np
import pytest

from curate.dedup.minhash import LshConfig, cluster, components, optimal_bands, signatures
from curate.dedup.plan import intersect_labels
from curate.text.shingles import prepare, shingle_hashes

BASE = "해솔시는 한반도 남동부 해안에 자리한 항구 도시로, 동쪽으로는 푸른 바다를 접하고 서쪽으로는 높은 산이 둘러싸고 있다."


def edit(text, rate, seed):
    rng = random.Random(seed)
    chars = list(text)
    for _ in range(max(1, int(len(chars) * rate))):
        chars[rng.randrange(len(chars))] = rng.choice("가나다라마바사")
    return "".join(chars)


def test_optimal_bands_match_the_usual_choice():
    assert optimal_bands(0.8, 128) == (9, 13)
    with pytest.raises(ValueError):
        optimal_bands(1.5, 128)


def test_components_are_transitive():
    assert components(6, np.array([0, 2, 3]), np.array([1, 3, 4])).tolist() == [0, 0, 2, 2, 2, 5]
    assert components(3, np.array([], np.int64), np.array([], np.int64)).tolist() == [0, 1, 2]


def test_near_duplicates_cluster_and_different_texts_do_not():
    long = BASE * 3  # one edited character leaves Jaccard about 0.95
    texts = [
        long,
        edit(long, 0.005, 1),
        "전혀 다른 문장으로 이루어진 텍스트이며 겹치는 부분이 거의 없다고 볼 수 있다.",
        long,
        "굿",
        "굿",
        "최고",
    ]
    found = cluster(shingle_hashes(prepare(texts), "char", 5), LshConfig.for_threshold(0.8))
    assert found.label.tolist() == [0, 0, 2, 0, 4, 4, 6]


def test_verification_removes_false_positives_below_threshold():
    config = LshConfig(bands=40, rows=1, threshold=0.9)  # one-row bands: many weak candidates
    texts = [BASE, edit(BASE, 0.15, 2)]
    shingles = shingle_hashes(prepare(texts), "char", 5)
    assert cluster(shingles, config, verify=False).label.tolist() == [0, 0]
    assert cluster(shingles, config, verify=True).label.tolist() == [0, 1]


def test_signatures_are_deterministic_and_seeded():
    shingles = shingle_hashes(prepare([BASE, "다른 글"]), "char", 5)
    config = LshConfig.for_threshold(0.8)
    first = signatures(shingles, config)
    assert (config.bands, config.rows) == (9, 13)  # 117 permutations make bands, all 128 are computed
    assert first.shape == (2, 128) and first.dtype == np.uint32
    assert np.array_equal(first, signatures(shingles, config))
    assert not np.array_equal(first, signatures(shingles, LshConfig(9, 13, 0.8, seed=7)))


@pytest.mark.parametrize("num_perm", [64, 100, 128])
def test_signatures_have_the_permutations_asked_for(num_perm):
    config = LshConfig.for_threshold(0.8, num_perm, verified=True)
    assert config.num_perm == num_perm and config.bands * config.rows <= num_perm
    shingles = shingle_hashes(prepare([BASE, BASE + "!", "다른 글"]), "char", 5)
    assert signatures(shingles, config).shape == (3, num_perm)
    assert cluster(shingles, config).label.tolist() == [0, 0, 2]


def test_intersect_labels_needs_agreement_in_every_field():
    assert intersect_labels(np.array([0, 0, 0, 3]), np.array([0, 0, 2, 2])).tolist() == [0, 0, 2, 3]
