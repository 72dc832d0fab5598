"""Sentence splitting and chunking: exact spans, size bounds, answers never cut, qrels re-pointed."""

from __future__ import annotations

import functools
from itertools import pairwise

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from curate.augment.sentences import core, sentence_spans, sentences
from curate.io import read
from curate.mrc.checks import check_row
from curate.retrieval.chunk import (
    ChunkSettings,
    chunk_corpus,
    chunk_mrc,
    chunk_text,
    contains_answer,
    context_chunks,
    text_length,
)
from tests.conftest import CONTEXT, REPO, answer

SAMPLE = REPO / "sample_data"


def texts(text: str, spans) -> list[str]:
    return [text[s:e] for s, e in spans]


@functools.cache
def library_tokenizer(path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def length(text: str, unit: str, tokenizer_path=None) -> int:
    """Length in ``unit``; tokens counted by the tokenizers library itself, not by curate."""
    if unit != "tokens":
        return text_length(text, unit)
    return len(library_tokenizer(tokenizer_path).encode(text.strip(), add_special_tokens=False))


def tokenizer_for(unit: str, tokenizer_path):
    return str(tokenizer_path) if unit == "tokens" else None


# ----------------------------------------------------------------- sentences


def test_korean_sentences_split_after_endings():
    assert sentences(CONTEXT) == [
        "서울은 대한민국의 수도이다.",
        "서울의 인구는 약 940만 명이다.",
        "한강이 서울을 가로지른다.",
    ]
    assert sentences("정말 좋아요. 또 올까요? 네! 다음에 봬요") == ["정말 좋아요.", "또 올까요?", "네!", "다음에 봬요"]


def test_numbers_dates_abbreviations_and_initials_do_not_end_sentences():
    text = "Mr. Smith paid 3.5 dollars in the U.S. on 2019. 3. 1. 개통되었다. J. Kim, e.g. a friend, came. Next."
    assert sentences(text) == [
        "Mr. Smith paid 3.5 dollars in the U.S. on 2019. 3. 1. 개통되었다.",
        "J. Kim, e.g. a friend, came.",
        "Next.",
    ]


def test_newlines_quotes_and_full_width_marks():
    assert sentences("첫 줄\n둘째 줄\n\n  셋째") == ["첫 줄", "둘째 줄", "셋째"]
    assert sentences('그가 "정말요?" 물었다. 끝.') == ['그가 "정말요?"', "물었다.", "끝."]
    assert sentences("你好。我很好！谢谢") == ["你好。", "我很好！", "谢谢"]


def test_spans_are_contiguous_and_keep_the_whitespace():
    text = "  앞 공백. 뒤 공백.   "
    spans = sentence_spans(text)
    assert spans == [(0, 8), (8, len(text))]
    assert core(text, *spans[0]) == (2, 7)
    assert sentence_spans("") == [] and sentence_spans("   ") == [(0, 3)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("가나다 .?!\n3eE。Mr")), max_size=60))
def test_sentence_spans_cover_the_text(text):
    spans = sentence_spans(text)
    assert "".join(text[s:e] for s, e in spans) == text
    assert all(s < e for s, e in spans)
    assert all(a[1] == b[0] for a, b in pairwise(spans))
    assert all(not text[s].isspace() for s, _ in spans[1:])


# ----------------------------------------------------------------- chunk_text


def test_chunks_pack_whole_sentences():
    assert texts(CONTEXT, chunk_text(CONTEXT, 40)) == [
        "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다.",
        "한강이 서울을 가로지른다.",
    ]
    assert texts(CONTEXT, chunk_text(CONTEXT, 200)) == [CONTEXT]
    assert chunk_text("", 10) == [] and chunk_text("  \n ", 10) == []


def test_overlap_repeats_whole_sentences_up_to_the_bound():
    chunks = texts(CONTEXT, chunk_text(CONTEXT, 40, overlap=20))
    assert chunks == [
        "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다.",
        "서울의 인구는 약 940만 명이다. 한강이 서울을 가로지른다.",
    ]
    # the last sentence (19 chars) is longer than overlap 10: no overlap at all
    assert texts(CONTEXT, chunk_text(CONTEXT, 40, overlap=10))[1] == "한강이 서울을 가로지른다."


def test_words_unit_and_long_sentences_cut_between_words_then_characters():
    assert texts(CONTEXT, chunk_text(CONTEXT, 3, unit="words")) == [
        "서울은 대한민국의 수도이다.",
        "서울의 인구는 약",
        "940만 명이다.",
        "한강이 서울을 가로지른다.",
    ]
    assert texts("가나다라마바사아 자차", chunk_text("가나다라마바사아 자차", 3)) == [
        "가나다",
        "라마바",
        "사아",
        "자차",
    ]


def test_protected_spans_are_never_cut_and_may_force_a_long_chunk():
    start = CONTEXT.index("약 940만 명")
    spans = chunk_text(CONTEXT, 5, protect=[(start, start + 8)])
    assert any(s <= start and start + 8 <= e for s, e in spans)
    long = [CONTEXT[s:e] for s, e in spans if e - s > 5]
    assert long == ["약 940만 명이다."]  # whole words: a protected span is never cut between characters


def test_bad_parameters(tokenizer_path):
    for size, overlap, unit in ((0, 0, "chars"), (5, 5, "chars"), (5, -1, "chars"), (5, 0, "lines")):
        with pytest.raises(ValueError):
            chunk_text(CONTEXT, size, overlap, unit)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit 'tokens' needs a tokenizer"):
        chunk_text(CONTEXT, 5, 0, "tokens")
    with pytest.raises(ValueError, match="a tokenizer is only used with unit 'tokens'"):
        chunk_text(CONTEXT, 5, 0, "words", tokenizer=str(tokenizer_path))


def test_token_chunks_pack_whole_sentences_and_cut_long_words_between_tokens(tokenizer_path):
    whole = length(CONTEXT, "tokens", tokenizer_path)
    sentences_ = sentences(CONTEXT)
    first_two = length(" ".join(sentences_[:2]), "tokens", tokenizer_path)
    spans = chunk_text(CONTEXT, first_two, unit="tokens", tokenizer=str(tokenizer_path))
    assert texts(CONTEXT, spans) == [" ".join(sentences_[:2]), sentences_[2]]
    assert chunk_text(CONTEXT, whole, unit="tokens", tokenizer=str(tokenizer_path)) == [(0, len(CONTEXT))]
    word = "대한민국의"  # several tokens: cut between them, never past the budget
    pieces = texts(word, chunk_text(word, 1, unit="tokens", tokenizer=str(tokenizer_path)))
    assert "".join(pieces) == word and len(pieces) == length(word, "tokens", tokenizer_path) > 1
    assert all(length(piece, "tokens", tokenizer_path) == 1 for piece in pieces)


SENTENCES = st.lists(
    st.text(alphabet=st.sampled_from(list("가나다라 abc12")), min_size=1, max_size=25)
    .map(lambda s: s.strip() or "가")
    .flatmap(lambda s: st.sampled_from([s + ".", s + "다.", s + "?", s])),
    min_size=1,
    max_size=12,
)
SEPARATORS = st.sampled_from([" ", "  ", "\n", " \n "])


@st.composite
def documents(draw):
    parts = draw(SENTENCES)
    return "".join(p + draw(SEPARATORS) for p in parts).rstrip() if len(parts) > 1 else parts[0]


def test_a_passage_after_a_run_of_spaces_does_not_start_where_the_last_one_did():
    text = "1. 1. 1. 1111.  1.\n1 1. 1. 1. 1. 1."  # found by the property test below
    spans = chunk_text(text, 4, 2, "chars")
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in pairwise(spans)), spans
    assert (16, 20) in spans and (16, 18) not in spans  # "1.\n1", not also its prefix "1."


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(1, 60), st.data(), st.sampled_from(["chars", "words", "tokens"]))
def test_chunks_fit_cover_the_text_and_move_forward(tokenizer_path, text, size, data, unit):
    overlap = data.draw(st.integers(0, size - 1))
    spans = chunk_text(text, size, overlap, unit, tokenizer=tokenizer_for(unit, tokenizer_path))
    covered = set()
    for s, e in spans:
        assert length(text[s:e], unit, tokenizer_path) <= size
        assert text[s:e] == text[s:e].strip() and s < e
        covered.update(range(s, e))
    assert {i for i, c in enumerate(text) if not c.isspace()} <= covered
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in pairwise(spans))
    for a, b in pairwise(spans):
        if b[0] < a[1]:
            assert length(text[b[0] : a[1]], unit, tokenizer_path) <= overlap


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(1, 40), st.data(), st.sampled_from(["chars", "tokens"]))
def test_protected_spans_stay_whole_and_only_they_make_chunks_long(tokenizer_path, text, size, data, unit):
    starts = [i for i, c in enumerate(text) if not c.isspace()]
    protect = []
    for _ in range(data.draw(st.integers(0, 3))):
        s = data.draw(st.sampled_from(starts))
        e = data.draw(st.integers(s + 1, min(len(text), s + 30)))
        protect.append((s, e))
    spans = chunk_text(text, size, 0, unit, protect=protect, tokenizer=tokenizer_for(unit, tokenizer_path))
    for ps, pe in protect:
        assert not any(s < ps < e < pe or ps < s < pe < e for s, e in spans), "a cut inside a protected span"
    for s, e in spans:
        if length(text[s:e], unit, tokenizer_path) > size:
            assert any(s <= ps < e and pe > ps for ps, pe in protect)


# ----------------------------------------------------------------- chunk_mrc


def mrc_sample() -> list[dict]:
    return read(SAMPLE / "korquad_sample.json").to_arrow().to_pylist()


def span_codes(row) -> list[str]:
    problems = check_row(row["context"], row["answers"], row["is_impossible"], row["plausible_answers"])
    return [p.code for p in problems if p.code in ("span_mismatch", "offset_out_of_range", "empty_answer")]


def test_chunk_mrc_moves_every_question_with_exact_answers_on_the_sample():
    rows = mrc_sample()
    size = 310
    out = chunk_mrc(rows, ChunkSettings(size=size, overlap=60))
    assert len(out) == len(rows)
    long = {r["id"] for r in rows if len(r["context"].strip()) > size}
    broken = {r["id"] for r in rows if span_codes(r)}
    for before, placed in zip(rows, out, strict=True):
        if placed.problem is not None:
            assert placed.row == before
            continue
        row = placed.row
        assert span_codes(row) == [] or before["id"] not in long
        assert [a["text"] for a in row["answers"]] == [a["text"] for a in before["answers"]]
        assert before["context"][row["start"] : row["start"] + len(row["context"])] == row["context"]
        if before["id"] not in long:
            assert row["context"] == before["context"] and row["passage_id"] == before["passage_id"]
        else:
            assert row["passage_id"].startswith(before["passage_id"] + "#")
            assert len(row["context"].strip()) <= size or row["chunk_widened"]
    assert {p.row["id"] for p in out if p.problem} == broken & long  # broken rows on short contexts stay as they are
    assert broken - long and broken & long


def test_unanswerable_questions_follow_their_plausible_answers_or_go_first():
    context = "첫 문장은 여기에 있다. 두 번째 문장은 한강을 말한다. 세 번째 문장은 산을 말한다."
    rows = [
        {
            "id": "a",
            "context": context,
            "answers": [],
            "is_impossible": True,
            "plausible_answers": [answer(context, "산")],
        },
        {"id": "b", "context": context, "answers": [], "is_impossible": True, "plausible_answers": None},
        {"id": "c", "context": context, "answers": [answer(context, "한강")], "passage_id": "p"},
    ]
    a, b, c = (q.row for q in chunk_mrc(rows, ChunkSettings(size=17)))
    assert a["context"] == "세 번째 문장은 산을 말한다." and a["plausible_answers"] == [answer(a["context"], "산")]
    assert b["context"] == "첫 문장은 여기에 있다." and b["passage_id"] == f"{b['parent_id']}#0"
    assert c["context"] == "두 번째 문장은 한강을 말한다." and c["passage_id"] == "p#1" and c["start"] == 14


def test_answers_in_different_chunks_get_the_union_and_a_flag():
    context = "첫 문장은 서울을 말한다. 두 번째 문장은 길다. 세 번째 문장은 부산을 말한다."
    row = {
        "id": "x",
        "context": context,
        "answers": [answer(context, "서울"), answer(context, "부산")],
        "passage_id": "p",
    }
    (placed,) = chunk_mrc([row], ChunkSettings(size=17))
    assert placed.row["context"] == context and placed.row["passage_id"] == "p#0-2" and placed.row["chunk_widened"]


def test_a_long_answer_grows_its_chunk_and_is_flagged():
    context = "짧다. 이 답은 아주 길어서 잘라야 할 만큼 길다. 끝."
    long = "이 답은 아주 길어서 잘라야 할 만큼 길다"
    (placed,) = chunk_mrc([{"id": "x", "context": context, "answers": [answer(context, long)]}], ChunkSettings(size=8))
    assert placed.row["context"] == long + "." and placed.row["chunk_widened"]
    assert placed.row["answers"] == [{"text": long, "answer_start": 0}]


def test_context_chunks_protect_the_answers_of_every_question_on_the_context():
    rows = [{"answers": [answer(CONTEXT, "수도이다. 서울의")]}]
    chunks = context_chunks(CONTEXT, rows, ChunkSettings(size=20))
    start = CONTEXT.index("수도이다. 서울의")
    assert any(s <= start and start + 9 <= e for s, e in chunks)


@st.composite
def mrc_cases(draw):
    text = draw(documents())
    starts = [i for i, c in enumerate(text) if not c.isspace()]
    rows = []
    for q in range(draw(st.integers(1, 4))):
        answers = []
        for _ in range(draw(st.integers(0, 2))):
            s = draw(st.sampled_from(starts))
            e = draw(st.integers(s + 1, min(len(text), s + 12)))
            answers.append({"text": text[s:e], "answer_start": s})
        rows.append({"id": f"q{q}", "context": text, "answers": answers, "is_impossible": not answers})
    return rows


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mrc_cases(), st.integers(1, 50), st.sampled_from(["chars", "words", "tokens"]))
def test_every_answer_span_stays_exact_after_chunking(tokenizer_path, rows, size, unit):
    tokenizer = tokenizer_for(unit, tokenizer_path)
    for placed in chunk_mrc(rows, ChunkSettings(size=size, overlap=size // 3, unit=unit, tokenizer=tokenizer)):
        assert placed.problem is None
        row = placed.row
        for a in row["answers"]:
            assert row["context"][a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]
        assert (length(row["context"], unit, tokenizer_path) > size) == row["chunk_widened"]
        assert rows[0]["context"][row["start"] : row["start"] + len(row["context"])] == row["context"]


# ----------------------------------------------------------------- chunk_corpus


def retrieval_sample():
    corpus = read(SAMPLE / "retrieval", format="beir", kind="corpus").to_arrow()
    qrels = read(SAMPLE / "retrieval", format="beir", kind="qrels").to_arrow()
    queries = read(SAMPLE / "retrieval", format="beir", kind="queries").to_arrow().to_pylist()
    by_question = {r["question"]: r for r in mrc_sample()}
    answers = {q["query_id"]: [a["text"] for a in by_question[q["text"]]["answers"]] for q in queries}
    return corpus, qrels, answers


def test_chunk_corpus_repoints_qrels_to_the_passages_holding_the_answer():
    corpus, qrels, answers = retrieval_sample()
    new_corpus, new_qrels = chunk_corpus(corpus, qrels, answers=answers, settings=ChunkSettings(size=80))
    assert new_corpus.num_rows > corpus.num_rows
    texts_by_id = {r["doc_id"]: r["text"] for r in corpus.to_pylist()}
    passages = {r["doc_id"]: r for r in new_corpus.to_pylist()}
    for row in passages.values():
        parent = texts_by_id[row["parent_id"]]
        assert parent[row["start"] : row["start"] + len(row["text"])] == row["text"]
        split = row["doc_id"] != row["parent_id"]
        assert (len(row["text"]) <= 80) or not split
        if not split:
            assert row["text"] == parent and row["start"] == 0
    old_targets = {(q["query_id"], q["doc_id"]) for q in qrels.to_pylist()}
    for qrel in new_qrels.to_pylist():
        passage = passages.get(qrel["doc_id"])
        if passage is None:  # the planted qrel to a missing document stays as it was
            assert (qrel["query_id"], qrel["doc_id"]) in old_targets
            continue
        assert (qrel["query_id"], passage["parent_id"]) in old_targets
        if any(contains_answer(texts_by_id[passage["parent_id"]], a) for a in answers[qrel["query_id"]]):
            assert any(contains_answer(passage["text"], a) for a in answers[qrel["query_id"]])
        else:  # a positive without the answer (q007 -> d009): every passage of it stays positive
            assert passage["parent_id"] == "d009"
    assert {q["query_id"] for q in new_qrels.to_pylist()} == {q["query_id"] for q in qrels.to_pylist()}


def test_without_answers_a_qrel_points_to_every_passage_of_its_document():
    corpus = pa.table({"doc_id": ["d"], "title": ["t"], "text": [CONTEXT]})
    qrels = pa.table({"query_id": ["q"], "doc_id": ["d"], "score": pa.array([1], pa.int32())})
    new_corpus, new_qrels = chunk_corpus(corpus, qrels, settings=ChunkSettings(size=20))
    assert new_corpus.column("doc_id").to_pylist() == ["d#0", "d#1", "d#2"]
    assert new_corpus.column("title").to_pylist() == ["t"] * 3
    assert new_qrels.column("doc_id").to_pylist() == ["d#0", "d#1", "d#2"]
    _, answered = chunk_corpus(corpus, qrels, answers={"q": ["940만"]}, settings=ChunkSettings(size=20))
    assert answered.to_pylist() == [{"query_id": "q", "doc_id": "d#1", "score": 1}]


def test_contains_answer_folds_unicode_spacing_and_case():
    import unicodedata

    assert contains_answer("서울의 인구는 약  940만 명", "약 940만 명")
    assert contains_answer(unicodedata.normalize("NFD", "서울의 인구"), "인구")
    assert contains_answer("The Han River", "han river")
    assert not contains_answer("서울", " ") and not contains_answer("서울", "부산")
