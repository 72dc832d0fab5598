import numpy as np
import pytest

from curate.dedup.agreement import Answer
from curate.dedup.assign import Field, GroupCandidates, assign, cluster_ids, first_of_equal
from curate.dedup.plan import MinHashSettings, cluster_texts, find_duplicates
from curate.text.shingles import prepare

BASE = (
    "해솔시는 한반도 남동부 해안에 자리한 항구 도시로, 동쪽으로는 푸른 바다를 접하고 서쪽으로는 높은 산이 "
    "둘러싸고 있다. 1962년 작은 어촌 여러 곳이 합쳐져 읍이 되었고 1989년에 시로 승격되었다."
)
# a chain: each text one edit from the one before; A and D are two edits apart
A = BASE
B = A.replace("1962년", "1963년")
C = B.replace("1989년", "1990년")
D = C.replace("높은", "낮은")
OTHER = "김치는 배추와 무를 소금에 절인 뒤 고춧가루, 마늘, 젓갈 따위로 버무려 발효시킨 한국의 대표적인 음식이다."


def jaccard(a, b, n=5):
    x, y = ({t[i : i + n] for i in range(len(t) - n + 1)} for t in prepare([a, b]))
    return len(x & y) / len(x | y)


def field(texts):
    return Field(np.arange(len(texts)), texts, cluster_texts(texts, MinHashSettings()))


def test_the_chain_is_what_the_tests_below_assume():
    assert min(jaccard(A, B), jaccard(B, C), jaccard(C, D)) > 0.88
    assert 0.8 < jaccard(A, C) < 0.83 and 0.8 < jaccard(B, D) < 0.83
    assert jaccard(A, D) < 0.75


def test_components_chain_rows_far_below_the_threshold_to_the_kept_row():
    found = find_duplicates([field([A, B, C, D, OTHER])], clustering="components")
    assert found.duplicate_of.tolist() == [-1, 0, 0, 0, -1]
    assert found.similarity[3] == pytest.approx(jaccard(A, D)) and found.exact[3]


def test_greedy_removes_a_row_only_at_or_above_the_threshold_to_the_row_it_duplicates():
    texts = [A, B, C, D, OTHER]
    first = find_duplicates([field(texts)], clustering="greedy")
    assert first.duplicate_of.tolist() == [-1, 0, 0, -1, -1]  # D is too far from A, B and C are not kept
    for row in np.nonzero(first.duplicate_of >= 0)[0]:
        assert first.similarity[row] == pytest.approx(jaccard(texts[row], texts[first.duplicate_of[row]]))
        assert first.similarity[row] >= 0.8
    # keep order from how central a text is: B (or C) is close to all others, one row is enough
    mates = field(texts).found.band_mates()
    central = find_duplicates([field(texts)], rank=-mates, clustering="greedy")
    assert central.keep.tolist() == [False, True, False, False, True]
    assert all(central.similarity[row] >= 0.8 for row in (0, 2, 3))


def test_greedy_joins_the_most_similar_kept_row():
    # A and D are both kept (0.74 apart); C is 0.81 from A but 0.91 from D: it joins D
    found = find_duplicates([field([A, D, C])], clustering="greedy")
    assert found.duplicate_of.tolist() == [-1, -1, 1]
    assert found.similarity[2] == pytest.approx(jaccard(C, D))


def test_answers_that_differ_make_a_conflict_kept_or_rejected():
    texts = [A, B, A, OTHER]
    answers = [Answer(label="1"), Answer(label="0"), Answer(label="1"), Answer(label="0")]
    kept = find_duplicates([field(texts)], answers=answers)
    assert kept.duplicate_of.tolist() == [-1, -1, 0, -1] and kept.conflict_of.tolist() == [-1, 0, -1, -1]
    rejected = find_duplicates([field(texts)], answers=answers, reject_conflicts=True)
    assert rejected.duplicate_of.tolist() == [-1, 0, 0, -1] and rejected.conflict_of.tolist() == [-1, 0, -1, -1]


def test_a_conflicting_row_kept_gathers_its_own_duplicates():
    texts = [A, B, B]
    answers = [Answer(label="x"), Answer(label="y"), Answer(label="y")]
    found = find_duplicates([field(texts)], answers=answers)
    assert found.duplicate_of.tolist() == [-1, -1, 1] and found.conflict_of.tolist() == [-1, 0, -1]


def test_assign_in_groups_with_twins_and_clusters():
    group = np.array([0, 0, 2, 0, 2])
    answers = [Answer(label="a"), Answer(label="b"), None, Answer(label="a"), None]
    order = np.array([0, 1, 2, 3, 4])
    twins = first_of_equal(5, order, [("t", answers[i]) for i in order.tolist()])
    found = assign(5, order, GroupCandidates(group), answers, twins=twins, reject_conflicts=True)
    assert found.duplicate_of.tolist() == [-1, 0, -1, 0, 2]
    assert found.conflict_of.tolist() == [-1, 0, -1, -1, -1]
    assert cluster_ids(np.where(found.conflict, -1, found.duplicate_of)).tolist() == [0, -1, 1, 0, 1]


def test_the_same_input_gives_the_same_assignment():
    texts = [A, B, C, D, OTHER, B, A]
    runs = [find_duplicates([field(texts)]) for _ in range(2)]
    assert np.array_equal(runs[0].duplicate_of, runs[1].duplicate_of)
    assert np.array_equal(runs[0].similarity, runs[1].similarity, equal_nan=True)


def test_an_unknown_clustering_is_a_value_error():
    with pytest.raises(ValueError, match="clustering must be one of greedy, components, got 'chains'"):
        find_duplicates([field([A, B])], clustering="chains")
