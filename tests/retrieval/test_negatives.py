"""The hard-negative engine: real bm25s index, real MinHash clusters, real faiss search."""

from __future__ import annotations

import unicodedata

import bm25s
import numpy as np
import pyarrow as pa
import pytest

import curate.retrieval.negatives as negatives_module
from curate.dedup.plan import MinHashSettings, cluster_texts
from curate.errors import ConfigError
from curate.io import read
from curate.retrieval.build import mrc_passages
from curate.retrieval.negatives import GUARDS, Mined, MiningSettings, fold, mine_negatives, tokenize
from curate.text.answers import KeyedText, answer_variants
from tests.conftest import REPO

SAMPLE = REPO / "sample_data" / "korquad_sample.json"


def corpus_of(texts: list[str], titles: list[str] | None = None, ids: list[str] | None = None) -> pa.Table:
    return pa.table(
        {
            "doc_id": ids or [f"d{i}" for i in range(len(texts))],
            "title": titles or [""] * len(texts),
            "text": texts,
        }
    )


class Sample:
    """The sample's passages as a corpus; every answerable question a query on its own context."""

    def __init__(self) -> None:
        table = read(SAMPLE).to_arrow()
        found = mrc_passages(table)
        self.corpus = found.corpus
        rows = np.nonzero(found.answerable)[0].tolist()
        doc_ids = self.corpus.column("doc_id").to_pylist()
        self.queries = [table.column("question")[r].as_py() for r in rows]
        self.positives = [[doc_ids[found.passage[r]]] for r in rows]
        self.answers = [found.answers[r].as_py() for r in rows]
        self.texts = self.corpus.column("text").to_pylist()
        self.titles = self.corpus.column("title").to_pylist()
        self.doc_ids = doc_ids

    def mine(self, settings: MiningSettings = MiningSettings(), **kwargs) -> Mined:
        return mine_negatives(self.corpus, self.queries, self.positives, self.answers, settings, **kwargs)


@pytest.fixture(scope="module")
def sample() -> Sample:
    return Sample()


def answer_in(answers: list[str], passage: str) -> str | None:
    """Which answer guard a passage (title + text) fails for these answers: ``answer`` (as written,
    folded), ``answer_variant`` (a variant key) or None."""
    if any(fold(a) and fold(a) in fold(passage) for a in answers):
        return "answer"
    keyed = KeyedText.of(passage)
    if any(keyed.contains(k) for a in answers for k in answer_variants(a)):
        return "answer_variant"
    return None


def same_question_answers(sample: Sample, q: int) -> list[str]:
    """The answers of the other questions asked with the same (folded) text."""
    own = {fold(a) for a in sample.answers[q]}
    return [
        a
        for other, text in enumerate(sample.queries)
        if other != q and fold(text) == fold(sample.queries[q])
        for a in sample.answers[other]
        if fold(a) not in own
    ]


def reference(sample: Sample, settings: MiningSettings) -> tuple[list[list[int]], np.ndarray]:
    """Straightforward re-implementation: score every passage with bm25s, sort by (score desc, row),
    walk the ranking applying the guards in order."""
    passages = [f"{t} {x}" if t else x for t, x in zip(sample.titles, sample.texts, strict=True)]
    model = bm25s.BM25()
    model.index(tokenize(passages, settings.tokenizer), show_progress=False)
    labels = cluster_texts(sample.texts, MinHashSettings(threshold=settings.near_duplicate_threshold)).label
    folded = [fold(t) for t in sample.texts]
    passages_with_titles = [f"{t or ''} {x}" for t, x in zip(sample.titles, sample.texts, strict=True)]
    out, dropped = [], np.zeros((len(sample.queries), len(GUARDS)), np.int64)
    for q, (query, pos, answers) in enumerate(zip(sample.queries, sample.positives, sample.answers, strict=True)):
        tokens = tokenize([query], settings.tokenizer)[0]
        scores = model.get_scores(tokens) if tokens else np.zeros(len(passages))
        own = [sample.doc_ids.index(p) for p in pos]
        excluded = {r for r in range(len(passages)) if folded[r] in {folded[o] for o in own}}
        best = max(float(scores[o]) for o in own)
        limit = None if settings.margin is None else (settings.margin * best if best > 0 else best)
        order = sorted((r for r in range(len(passages)) if scores[r] > 0), key=lambda r: (-scores[r], r))
        picked, rank = [], 0
        for r in order:
            if r in excluded:
                dropped[q, GUARDS.index("positive")] += 1
                continue
            rank += 1
            if rank < settings.rank_from:
                continue
            if rank > settings.rank_to:
                break
            own_answer = answer_in(answers, passages_with_titles[r]) if settings.answers else None
            if settings.near_duplicates and labels[r] in {labels[o] for o in excluded}:
                dropped[q, GUARDS.index("near_duplicate")] += 1
            elif own_answer is not None:
                dropped[q, GUARDS.index(own_answer)] += 1
            elif settings.answers and answer_in(same_question_answers(sample, q), passages_with_titles[r]):
                dropped[q, GUARDS.index("same_question")] += 1
            elif limit is not None and scores[r] >= limit:
                dropped[q, GUARDS.index("margin")] += 1
            else:
                picked.append(r)
                if len(picked) == settings.count:
                    break
        out.append(picked)
    return out, dropped


def check_guarantees(sample: Sample, mined: Mined, settings: MiningSettings) -> None:
    labels = cluster_texts(sample.texts, MinHashSettings(threshold=settings.near_duplicate_threshold)).label
    for q, rows in enumerate(mined.rows):
        own = [sample.doc_ids.index(p) for p in sample.positives[q]]
        assert len(rows) <= settings.count and len(set(rows)) == len(rows)
        assert mined.negatives[q] == [sample.doc_ids[r] for r in rows]
        assert mined.scores[q] == sorted(mined.scores[q], reverse=True)
        for r in rows:
            assert r not in own and sample.doc_ids[r] not in sample.positives[q]
            assert all(fold(sample.texts[r]) != fold(sample.texts[o]) for o in own)
            if settings.near_duplicates:
                assert all(labels[r] != labels[o] for o in own)
            if settings.answers:
                passage = f"{sample.titles[r] or ''} {sample.texts[r]}"
                assert answer_in(sample.answers[q] + same_question_answers(sample, q), passage) is None


# --------------------------------------------------------------------------- on the sample


def test_sample_negatives_are_never_positives_answers_or_near_duplicates(sample):
    settings = MiningSettings()
    mined = sample.mine(settings)
    check_guarantees(sample, mined, settings)
    assert len(mined.rows) == len(sample.queries) == 255
    assert mined.mode == "bm25" and mined.queries_per_second > 0 and mined.seconds >= mined.search_seconds > 0
    assert mined.guards["near_duplicate"] > 0 and mined.guards["answer"] > 0 and mined.guards["positive"] > 0
    assert mined.guards == {g: int(mined.dropped[:, i].sum()) for i, g in enumerate(GUARDS)}
    # the sample's near-duplicate paragraphs (defects.json near_duplicate_paragraph) are guarded
    near = {"korquad_sample/2/1": "korquad_sample/4/2", "korquad_sample/4/2": "korquad_sample/2/1"}
    near |= {"korquad_sample/3/0": "korquad_sample/9/3", "korquad_sample/9/3": "korquad_sample/3/0"}
    guarded = 0
    for q, pos in enumerate(sample.positives):
        if pos[0] in near:
            assert near[pos[0]] not in mined.negatives[q]
            guarded += 1
    assert guarded >= 7


@pytest.mark.parametrize(
    "settings",
    [
        MiningSettings(),
        MiningSettings(count=3, rank_from=2, rank_to=20),
        MiningSettings(margin=0.9),
        MiningSettings(near_duplicates=False, answers=False),
        MiningSettings(tokenizer="word", count=8),
    ],
    ids=["default", "window", "margin", "no-guards", "word"],
)
def test_engine_matches_a_brute_force_reference(sample, settings):
    mined = sample.mine(settings)
    expected, dropped = reference(sample, settings)
    assert mined.rows == expected
    assert np.array_equal(mined.dropped, dropped)
    check_guarantees(sample, mined, settings)


def test_every_query_gets_count_negatives_when_the_corpus_allows(sample):
    settings = MiningSettings(count=3)
    mined = sample.mine(settings)
    # what the corpus allows: passages sharing a token with the query that pass every guard
    allowed, _ = reference(sample, MiningSettings(count=10_000, rank_to=10_000))
    for q, rows in enumerate(mined.rows):
        assert len(rows) == min(3, len(allowed[q]))
    assert mined.short == sum(1 for rows in mined.rows if len(rows) < 3)
    assert mined.short < len(mined.rows) // 10


def test_margin_drops_candidates_close_to_the_positive(sample):
    plain = sample.mine(MiningSettings())
    margin = sample.mine(MiningSettings(margin=0.5))
    assert plain.guards["margin"] == 0 and margin.guards["margin"] > 0
    for scores, best in zip(margin.scores, margin.positive_scores, strict=True):
        assert best is not None and all(s < 0.5 * best for s in scores)
    assert any(
        s >= 0.5 * best for scores, best in zip(plain.scores, plain.positive_scores, strict=True) for s in scores
    )


def test_positive_scores_are_the_bm25_scores_of_the_positive(sample):
    mined = sample.mine()
    passages = [f"{t} {x}" if t else x for t, x in zip(sample.titles, sample.texts, strict=True)]
    model = bm25s.BM25()
    model.index(tokenize(passages), show_progress=False)
    for q in range(0, len(sample.queries), 17):
        scores = model.get_scores(tokenize([sample.queries[q]])[0])
        assert mined.positive_scores[q] == pytest.approx(
            float(scores[sample.doc_ids.index(sample.positives[q][0])]), rel=1e-5
        )
        assert mined.scores[q] == pytest.approx([float(scores[r]) for r in mined.rows[q]], rel=1e-5)


def test_morph_tokenizer_uses_kiwipiepy(sample):
    pytest.importorskip("kiwipiepy")
    tokens = tokenize(["서울은 대한민국의 수도이다."], "morph")[0]
    assert "서울" in tokens and "수도" in tokens and "." not in tokens
    settings = MiningSettings(tokenizer="morph")
    mined = sample.mine(settings)
    check_guarantees(sample, mined, settings)
    assert sum(map(len, mined.rows)) > 4 * len(mined.rows)
    assert mined.rows != sample.mine().rows  # another ranking than character bigrams


def test_results_do_not_depend_on_batching_or_runs(sample, monkeypatch):
    first = sample.mine()
    again = sample.mine()
    monkeypatch.setattr(negatives_module, "_BATCH", 7)
    batched = sample.mine()
    for mined in (again, batched):
        assert mined.rows == first.rows and mined.scores == first.scores and mined.guards == first.guards


def test_the_numba_backend_gives_the_same_negatives(sample, monkeypatch):
    pytest.importorskip("numba")
    first = sample.mine()
    monkeypatch.setattr(negatives_module, "NUMBA_WORK", 0)
    assert negatives_module._bm25_backend(10, 10) == "numba"
    fast = sample.mine()
    assert fast.rows == first.rows and fast.guards == first.guards
    assert np.allclose(np.concatenate([np.asarray(s) for s in fast.scores if s]),
                       np.concatenate([np.asarray(s) for s in first.scores if s]))  # fmt: skip


# --------------------------------------------------------------------------- hand-made corpora


def test_tokenizers():
    assert tokenize(["서울은 대한민국의 수도이다."]) == [
        ["서울", "울은", "대한", "한민", "민국", "국의", "수도", "도이", "이다"]
    ]
    assert tokenize(["A b, CD!"], "bigram") == [["a", "b", "cd"]]
    assert tokenize([unicodedata.normalize("NFD", "서울은")]) == [["서울", "울은"]]
    assert tokenize(["Hello, World! it's"], "word") == [["hello", "world", "it", "s"]]
    assert tokenize([None, ""], "word") == [[], []]
    with pytest.raises(ValueError, match="unknown tokenizer"):
        tokenize(["x"], "chars")  # type: ignore[arg-type]


def test_normalized_copies_of_the_positive_are_positives():
    positive = "서울은 대한민국의 수도이며 인구는 약 940만 명이다."
    copy = "  " + unicodedata.normalize("NFD", positive).replace(" ", "\u3000 ") + " "
    corpus = corpus_of(
        [positive, "서울의 인구는 줄고 있다.", copy, "부산은 항구 도시이다.", "서울 인구 통계가 발표되었다."]
    )
    settings = MiningSettings(near_duplicates=False, answers=False)
    mined = mine_negatives(corpus, ["서울 인구는 몇 명인가?"], [["d0"]], [["940만 명"]], settings)
    assert sorted(mined.negatives[0]) == ["d1", "d4"]
    assert mined.guards["positive"] == 2  # the positive and its copy both ranked
    assert mined.short == 1


def test_answer_guard_folds_unicode_whitespace_and_case():
    corpus = corpus_of(
        [
            "남산 타워는 서울의 전망대이다.",
            "서울의 전망대로는 남산\u3000\u3000타워가 유명하다.",
            "서울 전망대 중 N서울타워는 SEOUL TOWER 로도 불린다.",
            "서울의 전망대는 여러 곳이다.",
        ],
        titles=["", "", "", ""],
    )
    answers = [[unicodedata.normalize("NFD", "남산 타워"), "Seoul Tower"]]
    settings = MiningSettings(near_duplicates=False)
    mined = mine_negatives(corpus, ["서울의 전망대는?"], [["d0"]], answers, settings)
    assert mined.negatives == [["d3"]] and mined.guards["answer"] == 2
    unguarded = mine_negatives(
        corpus, ["서울의 전망대는?"], [["d0"]], answers, MiningSettings(near_duplicates=False, answers=False)
    )
    assert set(unguarded.negatives[0]) == {"d1", "d2", "d3"}
    # an answer in the title counts too; blank answers are ignored
    titled = corpus_of(["서울의 전망대는 많다.", "서울의 전망대를 소개한다."], titles=["", "남산 타워"])
    mined = mine_negatives(titled, ["서울의 전망대는?"], [["d0"]], [["남산 타워", " ", ""]], settings)
    assert mined.negatives == [[]] and mined.guards["answer"] == 1


def test_answer_variants_guard_parenthetical_and_folded_forms():
    corpus = corpus_of(
        [
            "방탄소년단의 팬클럽 이름은 아미(ARMY)이다.",
            "방탄소년단 팬클럽 아미는 세계 곳곳에 있다.",
            "The fan club of 방탄소년단 is called ＡＲＭＹ.",
            "방탄소년단 팬클럽의 규모는 크다.",
        ]
    )
    query, answers = ["방탄소년단 팬클럽 이름은?"], [["아미(ARMY)"]]
    settings = MiningSettings(near_duplicates=False)
    mined = mine_negatives(corpus, query, [["d0"]], answers, settings)
    assert mined.negatives == [["d3"]]
    assert (mined.guards["answer"], mined.guards["answer_variant"]) == (0, 2)
    unguarded = mine_negatives(corpus, query, [["d0"]], answers, MiningSettings(near_duplicates=False, answers=False))
    assert set(unguarded.negatives[0]) == {"d1", "d2", "d3"}


def test_answer_variant_of_an_english_acronym_is_a_whole_word():
    corpus = corpus_of(
        [
            "The code of ethics of the American Medical Association (AMA) covers doctors.",
            "Doctors follow the AMA code of ethics.",
            "Doctors on the Amazon follow a code of ethics.",
            "A code of ethics for doctors.",
        ]
    )
    answers = [["the American Medical Association (AMA)"]]
    mined = mine_negatives(corpus, ["Whose code of ethics do doctors follow?"], [["d0"]], answers,
                           MiningSettings(near_duplicates=False, tokenizer="word"))  # fmt: skip
    assert set(mined.negatives[0]) == {"d2", "d3"} and mined.guards["answer_variant"] == 1


def test_answers_of_an_identical_question_guard_it_too():
    corpus = corpus_of(
        [
            "Internet2 partnered with Qwest and with Level 3 Communications.",
            "In 2007 Internet2 partnered with Level 3 Communications on a new network.",
            "Internet2 first partnered with Qwest.",
            "Internet2 is a not-for-profit network.",
        ]
    )
    queries = ["Who did Internet2 partner with?", "who did internet2  partner with?", "What is Internet2?"]
    answers = [["Qwest"], ["Level 3 Communications"], ["a not-for-profit network"]]
    settings = MiningSettings(near_duplicates=False, tokenizer="word")
    mined = mine_negatives(corpus, queries, [["d0"], ["d0"], ["d3"]], answers, settings)
    assert mined.negatives[0] == ["d3"] and mined.negatives[1] == ["d3"]
    assert mined.dropped[0, GUARDS.index("answer")] == mined.dropped[0, GUARDS.index("same_question")] == 1
    assert mined.dropped[1, GUARDS.index("answer")] == mined.dropped[1, GUARDS.index("same_question")] == 1
    assert mined.guards["same_question"] == 2  # the third question has no twin
    alone = mine_negatives(corpus, queries[:1], [["d0"]], answers[:1], settings)
    assert "d1" in alone.negatives[0] and alone.guards["same_question"] == 0


def test_near_duplicate_of_the_positive_is_dropped():
    positive = (
        "해솔시는 한반도 남동부 해안에 자리한 가상의 항구 도시로, 동쪽으로는 푸른 바다를 접하고 서쪽으로는 "
        "높이 812미터의 바랑산이 병풍처럼 둘러싸고 있다. 시의 이름은 바다를 뜻하는 한자와 소나무 숲을 뜻하는 말을 합친 것이다."
    )
    near = positive.replace("812미터", "800미터 남짓")
    corpus = corpus_of([positive, near, "바랑산은 해솔시 서쪽의 산이다.", "해솔시의 항구는 크다."])
    query, answers = ["해솔시 서쪽의 산 이름은?"], [["바랑산"]]
    guarded = mine_negatives(corpus, query, [["d0"]], answers, MiningSettings(answers=False))
    assert "d1" not in guarded.negatives[0] and guarded.guards["near_duplicate"] == 1
    loose = mine_negatives(corpus, query, [["d0"]], answers, MiningSettings(answers=False, near_duplicates=False))
    assert "d1" in loose.negatives[0]
    strict = mine_negatives(
        corpus, query, [["d0"]], answers, MiningSettings(answers=False, near_duplicate_threshold=0.99)
    )
    assert "d1" in strict.negatives[0]


def test_margin_on_a_hand_made_corpus():
    corpus = corpus_of(["서울 인구는 많다", "서울 인구 서울 인구 서울 인구", "서울 관광 안내", "부산 인구"])
    query, pos, answers = ["서울 인구"], [["d0"]], [[]]
    plain = mine_negatives(corpus, query, pos, answers, MiningSettings(near_duplicates=False))
    assert plain.negatives[0][0] == "d1" and plain.scores[0][0] > plain.positive_scores[0]
    margin = mine_negatives(corpus, query, pos, answers, MiningSettings(near_duplicates=False, margin=0.95))
    assert "d1" not in margin.negatives[0] and margin.guards["margin"] >= 1
    assert all(s < 0.95 * margin.positive_scores[0] for s in margin.scores[0])


def test_rank_window():
    corpus = corpus_of([f"서울 {'인구 ' * (10 - i)}기록" for i in range(8)] + ["서울 인구 정답"])
    settings = MiningSettings(count=6, near_duplicates=False, answers=False)
    everything = mine_negatives(corpus, ["서울 인구"], [["d8"]], [[]], settings)
    assert len(everything.negatives[0]) == 6
    later = mine_negatives(
        corpus,
        ["서울 인구"],
        [["d8"]],
        [[]],
        MiningSettings(count=4, rank_from=3, near_duplicates=False, answers=False),
    )
    assert later.negatives[0] == everything.negatives[0][2:6]
    window = mine_negatives(
        corpus, ["서울 인구"], [["d8"]], [[]], MiningSettings(count=5, rank_to=2, near_duplicates=False, answers=False)
    )
    assert window.negatives[0] == everything.negatives[0][:2] and window.short == 1


def test_ties_are_broken_by_corpus_order_even_at_the_cut():
    # ten passages with the same score; k = rank_to + 1 positive = 3 < 11 passages
    corpus = corpus_of(["서울 인구 정답"] + ["서울 관광 안내"] * 10, ids=["p"] + [f"x{i}" for i in range(10)])
    settings = MiningSettings(count=2, rank_to=2, near_duplicates=False, answers=False)
    mined = mine_negatives(corpus, ["서울 관광"], [["p"]], [[]], settings)
    assert mined.negatives == [["x0", "x1"]]
    reordered = corpus_of(["서울 관광 안내"] * 10 + ["서울 인구 정답"], ids=[f"x{i}" for i in range(9, -1, -1)] + ["p"])
    assert mine_negatives(reordered, ["서울 관광"], [["p"]], [[]], settings).negatives == [["x9", "x8"]]


def test_passages_sharing_no_token_and_blank_passages_are_never_candidates():
    corpus = corpus_of(["서울 인구", "부산 항구", "   ", "서울 관광"])
    mined = mine_negatives(corpus, ["서울 인구"], [["d0"]], [[]], MiningSettings(near_duplicates=False))
    assert mined.negatives == [["d3"]] and mined.short == 1 and mined.candidates == 1


def test_queries_without_positives_get_nothing_and_are_not_short():
    corpus = corpus_of(["서울 인구", "서울 관광"])
    mined = mine_negatives(corpus, ["서울", "서울 인구"], [[], ["d0"]], [[], []], MiningSettings())
    assert mined.negatives == [[], ["d1"]] and mined.positive_scores[0] is None and mined.short == 1
    empty = mine_negatives(corpus_of([]), [], [], [], MiningSettings())
    assert empty.negatives == [] and empty.short == 0 and empty.guards == dict.fromkeys(GUARDS, 0)


def test_duplicate_doc_ids_are_all_positives():
    corpus = corpus_of(["서울 인구 하나", "서울 인구 둘", "서울 인구 셋"], ids=["a", "a", "b"])
    mined = mine_negatives(corpus, ["서울 인구"], [["a"]], [[]], MiningSettings(near_duplicates=False))
    assert mined.negatives == [["b"]] and mined.rows == [[2]]


def test_bad_input_is_a_clear_error():
    corpus = corpus_of(["서울 인구"])
    with pytest.raises(ConfigError, match="positive passage not in the corpus"):
        mine_negatives(corpus, ["서울"], [["nope"]], [[]])
    with pytest.raises(ConfigError, match="one entry per query"):
        mine_negatives(corpus, ["서울"], [], [])
    with pytest.raises(ConfigError, match="no column 'text'"):
        mine_negatives(pa.table({"doc_id": ["a"]}), ["서울"], [["a"]], [[]])
    for bad in (
        {"count": 0},
        {"rank_from": 5, "rank_to": 2},
        {"margin": 0.0},
        {"near_duplicate_threshold": 1.0},
        {"tokenizer": "x"},
    ):
        with pytest.raises(ValueError):
            MiningSettings(**bad)


# --------------------------------------------------------------------------- dense mode


def test_dense_mode_ranks_by_inner_product_with_the_same_guards():
    pytest.importorskip("faiss")
    corpus = corpus_of(["정답 서울", "서울 남산 타워", "서울 관광", "부산 항구", "대구", "서울 관광 안내"])
    corpus_vectors = np.array(
        [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.0, 0.0, 1.0], [0.8, 0.2, 0.0]],
        np.float32,
    )
    query_vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    settings = MiningSettings(count=3, near_duplicates=False)
    mined = mine_negatives(
        corpus, ["q", "q2"], [["d0"], ["d3"]], [["남산 타워"], []], settings, embeddings=(corpus_vectors, query_vectors)
    )
    assert mined.mode == "dense"
    # d1 scores highest but holds the answer; d2 and d5 tie (doc order); d3 scores 0.1 > d4 0.0
    assert mined.negatives[0] == ["d2", "d5", "d3"] and mined.guards["answer"] == 1
    assert mined.scores[0] == pytest.approx([0.8, 0.8, 0.1])
    assert mined.positive_scores == pytest.approx([1.0, 0.9])
    assert mined.negatives[1] == ["d2", "d5", "d1"]
    margin = mine_negatives(
        corpus,
        ["q"],
        [["d0"]],
        [[]],
        MiningSettings(count=3, margin=0.85, near_duplicates=False),
        embeddings=(corpus_vectors, query_vectors[:1]),
    )
    assert margin.negatives[0] == ["d2", "d5", "d3"] and margin.guards["margin"] == 1  # d1 (0.9) >= 0.85


def test_dense_mode_never_returns_blank_passages_and_checks_shapes():
    pytest.importorskip("faiss")
    corpus = corpus_of(["정답", " ", "다른 글"])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]], np.float32)
    mined = mine_negatives(
        corpus, ["q"], [["d0"]], [[]], MiningSettings(near_duplicates=False), embeddings=(vectors, vectors[:1])
    )
    assert mined.negatives == [["d2"]]
    with pytest.raises(ConfigError, match="one row per passage"):
        mine_negatives(corpus, ["q"], [["d0"]], [[]], embeddings=(vectors[:2], vectors[:1]))
    with pytest.raises(ConfigError, match="differ in size"):
        mine_negatives(corpus, ["q"], [["d0"]], [[]], embeddings=(vectors, np.ones((1, 3), np.float32)))
    with pytest.raises(ConfigError, match="NaN"):
        mine_negatives(corpus, ["q"], [["d0"]], [[]], embeddings=(vectors, np.full((1, 2), np.nan, np.float32)))


def test_dense_mode_on_the_sample_keeps_the_guarantees(sample):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    corpus_vectors = rng.normal(size=(sample.corpus.num_rows, 16)).astype(np.float32)
    labels = cluster_texts(sample.texts, MinHashSettings()).label
    for row, label in enumerate(labels.tolist()):  # near-duplicate passages get nearly the same vector
        if label != row:
            corpus_vectors[row] = corpus_vectors[label] + 0.01 * rng.normal(size=16).astype(np.float32)
    rows = [sample.doc_ids.index(p[0]) for p in sample.positives]
    query_vectors = corpus_vectors[rows] + 0.5 * rng.normal(size=(len(rows), 16)).astype(np.float32)
    settings = MiningSettings()
    mined = sample.mine(settings, embeddings=(corpus_vectors, query_vectors))
    check_guarantees(sample, mined, settings)
    assert mined.short == 0 and mined.guards["near_duplicate"] > 0
    for q, picked in enumerate(mined.rows):
        expected = corpus_vectors[picked] @ query_vectors[q]
        assert mined.scores[q] == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-4)
