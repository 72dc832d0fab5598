"""The near-duplicate search split into shards, buckets and groups decides as the whole search does."""

import gzip
import json
import random
from collections import Counter

import numpy as np
import pytest

from curate.dedup import partition
from curate.dedup.assign import Field
from curate.dedup.minhash import band_keys, signatures
from curate.dedup.plan import MinHashSettings, cluster_texts, find_duplicates, shingles_of
from tests.conftest import needs_shared


def edited(text: str, rng: random.Random) -> str:
    """``text`` with one character dropped and one doubled (a near copy)."""
    if len(text) < 8:
        return text + "!"
    k = rng.randrange(len(text) - 1)
    text = text[:k] + text[k + 1 :]
    k = rng.randrange(len(text))
    return text[:k] + text[k] + text[k:]


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    """20,000 NSMC reviews and 6,000 near copies of some of them, shuffled."""
    texts: list[str] = []
    with gzip.open(needs_shared("nsmc", "reviews.jsonl.gz"), "rt", encoding="utf-8") as lines:
        for line in lines:
            texts.append(json.loads(line)["review"])
            if len(texts) == 20_000:
                break
    rng = random.Random(7)
    texts += [edited(t, rng) for t in rng.sample(texts, 6_000)]
    rng.shuffle(texts)
    return texts


def split_search(texts: list[str], settings: MinHashSettings, *, shard_rows: int, part_rows: int, **options):
    """``find_duplicates`` run shard by shard, bucket by bucket and part by part: (duplicate_of,
    similarity, parts)."""
    n, config = len(texts), settings.lsh()
    signature = np.concatenate(
        [signatures(shingles_of(texts[s : s + shard_rows], settings), config) for s in range(0, n, shard_rows)]
    )
    triples = [
        partition.bucket_triples(band_keys(signature[s : s + shard_rows], config), s) for s in range(0, n, shard_rows)
    ]
    band, key, row = (np.concatenate(column) for column in zip(*triples, strict=True))
    rng = np.random.default_rng(0)  # buckets arrive in any order
    shuffled = rng.permutation(len(row))
    band, key, row = band[shuffled], key[shuffled], row[shuffled]
    labels, all_mates = np.arange(n), np.zeros(n, np.int64)
    for bucket_range in range(3):  # the links of each range join the groups as they arrive
        inside = key % np.uint64(3) == bucket_range
        first, member, mate_rows, mates = partition.bucket_links(band[inside], key[inside], row[inside])
        labels = partition.linked_groups(labels, first, member)
        np.add.at(all_mates, mate_rows, mates)
    parts = partition.pack_groups(labels, part_rows)
    duplicate_of, similarity = np.full(n, -1), np.full(n, np.nan)
    for rows in parts:
        sub = [texts[i] for i in rows.tolist()]
        field = Field(np.arange(len(sub)), sub, cluster_texts(sub, settings, signature[rows]))
        found = find_duplicates([field], rank=-all_mates[rows], **options)
        duplicate_of[rows] = np.where(found.duplicate_of >= 0, rows[np.maximum(found.duplicate_of, 0)], -1)
        similarity[rows] = found.similarity
    return duplicate_of, similarity, parts, all_mates


@pytest.mark.parametrize("clustering", ["greedy", "components"])
def test_split_search_decides_as_the_whole_search(reviews, clustering):
    settings = MinHashSettings()
    field = Field(np.arange(len(reviews)), reviews, cluster_texts(reviews, settings))
    whole = find_duplicates([field], rank=-field.found.band_mates(), clustering=clustering)
    duplicate_of, similarity, parts, mates = split_search(
        reviews, settings, shard_rows=3_000, part_rows=400, clustering=clustering
    )
    assert (whole.duplicate_of >= 0).sum() > 1_000  # many of the near copies were found
    assert np.array_equal(mates, field.found.band_mates())  # "central" ranks the same
    assert np.array_equal(duplicate_of, whole.duplicate_of)
    assert np.allclose(similarity, whole.similarity, equal_nan=True)
    assert len(parts) > 1


def test_bucket_links_join_each_member_to_the_first_and_count_mates():
    # band 0: rows 5, 2, 9 share key 7; band 1: rows 2 and 4 share key 7 (another bucket); row 3 alone
    band = np.array([0, 0, 0, 1, 1, 0])
    key = np.array([7, 7, 7, 7, 7, 8], np.uint64)
    row = np.array([5, 2, 9, 2, 4, 3])
    first, member, rows, mates = partition.bucket_links(band, key, row)
    assert sorted(zip(first.tolist(), member.tolist(), strict=True)) == [(2, 4), (2, 5), (2, 9)]
    assert dict(zip(rows.tolist(), mates.tolist(), strict=True)) == {2: 3, 4: 1, 5: 2, 9: 2}
    labels = partition.linked_groups(np.arange(10), first, member)
    assert labels[[2, 4, 5, 9]].tolist() == [2, 2, 2, 2] and labels[3] == 3


def test_bucket_links_match_buckets_counted_one_by_one():
    rng = np.random.default_rng(5)
    for _ in range(50):  # few keys: many shared in one band and across bands
        n, bands = int(rng.integers(1, 200)), int(rng.integers(1, 5))
        row = np.repeat(rng.permutation(1000)[:n], bands)
        band = np.tile(np.arange(bands), n)
        key = rng.integers(0, int(rng.integers(1, 30)), n * bands).astype(np.uint64)
        buckets: dict[tuple[int, int], list[int]] = {}
        for b, k, r in zip(band.tolist(), key.tolist(), row.tolist(), strict=True):
            buckets.setdefault((b, k), []).append(r)
        links, mates = set(), Counter()
        for members in buckets.values():
            for r in members:
                if len(members) > 1:
                    mates[r] += len(members) - 1
                if r != min(members):
                    links.add((min(members), r))
        first, member, rows, counts = partition.bucket_links(band, key, row)
        assert list(zip(first.tolist(), member.tolist(), strict=True)) == sorted(links)
        assert dict(zip(rows.tolist(), counts.tolist(), strict=True)) == mates


def test_pack_groups_keeps_groups_whole_and_parts_bounded():
    labels = np.array([0, 0, 2, 3, 2, 5, 0, 7, 7, 9])  # groups {0,1,6}, {2,4}, {7,8}; 3, 5, 9 alone
    labels[1] = 0
    assert [p.tolist() for p in partition.pack_groups(labels, 4)] == [[0, 1, 6], [2, 4, 7, 8]]
    assert [p.tolist() for p in partition.pack_groups(labels, 2)] == [[0, 1, 6], [2, 4], [7, 8]]
    assert partition.pack_groups(np.arange(5), 3) == []
    with pytest.raises(ValueError, match="max_rows"):
        partition.pack_groups(labels, 0)
