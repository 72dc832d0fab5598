import unicodedata

import numpy as np
import pytest

from curate.text.shingles import Shingles, codepoints, ngram_hashes, prepare, shingle_hashes, window_hashes


def sets(texts, kind="char", n=5):
    found = shingle_hashes(prepare(texts), kind, n)
    return [set(found.of(i).tolist()) for i in range(len(texts))]


def test_prepare_folds_nfd_case_and_whitespace():
    nfd = unicodedata.normalize("NFD", "서울  특별시\tABC")
    assert prepare([nfd, None, "  "]) == ["서울 특별시 abc", "", ""]


def test_char_shingles_count_windows_in_code_points():
    found = sets(["대한민국의 수도", "abcdef"], n=5)
    assert [len(s) for s in found] == [4, 2]


@pytest.mark.parametrize("kind", ["char", "word"])
def test_short_texts_are_one_whole_shingle_never_skipped(kind):
    found = sets(["굿", "굿", "최고", "", "굿 굿"], kind=kind, n=5)
    assert all(len(s) == 1 for s in found)
    assert found[0] == found[1] and found[0] != found[2] and found[3] != found[0]


def test_short_text_never_equals_a_window_of_a_longer_one():
    long, short = sets(["abcdefgh", "abc"], n=4)
    assert not (long & short)


def test_batch_and_single_hashing_agree_and_chunks_do_not_leak_across_texts():
    texts = ["서울은 수도", "수도는 서울", "짧다", "", "a b c d e f g", "끝"] * 3
    for kind, n in (("char", 3), ("word", 2)):
        together = sets(texts, kind, n)
        assert together == [sets([t], kind, n)[0] for t in texts]


def test_word_shingles_use_whitespace_words():
    a, b, c = sets(["나는 오늘 학교에 간다", "나는 오늘 학교에 갔다", "간다 학교에 오늘 나는"], kind="word", n=2)
    assert len(a & b) == 2 and not (a & c)


def test_ngram_rejects_bad_n():
    with pytest.raises(ValueError, match="n-gram size"):
        ngram_hashes(np.zeros(3, np.uint64), np.array([0, 3]), 0)


def test_subset_and_concat_round_trip():
    found = shingle_hashes(prepare(["하나 둘 셋 넷 다섯", "여섯", "일곱 여덟 아홉"]), "char", 3)
    picked = found.subset(np.array([2, 0]))
    assert picked.of(0).tolist() == found.of(2).tolist() and picked.of(1).tolist() == found.of(0).tolist()
    joined = Shingles.concat([found.subset(np.array([0])), found.subset(np.array([1, 2]))])
    assert joined.hashes.tolist() == found.hashes.tolist() and joined.offsets.tolist() == found.offsets.tolist()


def test_morpheme_shingles_see_through_particles():
    pytest.importorskip("kiwipiepy")  # the `morph` extra; installed by `make test`
    a, b, c = sets(["학교에 갔습니다", "학교에서 갔습니다", "집으로 왔어요"], kind="morph", n=1)
    assert len(a & b) == 4 and len(a & c) == 1  # 학교, 가, 었, 습니다 vs only the past tense 었


def test_window_hashes_are_the_ngram_hashes_of_long_enough_texts():
    texts = ["세종대왕은 훈민정음을 창제하였다", "부산", "짧다", "a much longer english sentence with words"]
    codes, offsets = codepoints(texts)
    for n in (1, 5, 13, 50):
        windows, reference = window_hashes(codes, offsets, n), ngram_hashes(codes, offsets, n)
        for i, text in enumerate(texts):
            expected = reference.of(i) if len(text) >= n else np.zeros(0, np.uint64)
            assert np.array_equal(windows.of(i), expected)
