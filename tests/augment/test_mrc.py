"""Answer-preserving MRC perturbation and unanswerable pairs (pure functions)."""

from __future__ import annotations

import random
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.augment.mrc import (
    SentencePool,
    augment_question,
    context_blocks,
    perturb,
    unanswerable_rows,
)
from curate.augment.sentences import sentences
from curate.io import read
from curate.mrc.checks import check_row
from tests.conftest import CONTEXT, REPO, answer

OTHER = "부산은 대한민국 제2의 도시이다. 해운대 해수욕장이 유명하다. 서울 사람도 자주 찾는다."


def sample_rows() -> list[dict]:
    return read(REPO / "sample_data" / "korquad_sample.json").to_arrow().to_pylist()


def assert_exact(row: dict) -> None:
    for key in ("answers", "plausible_answers"):
        for a in row.get(key) or []:
            assert row["context"][a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]
    problems = check_row(row["context"], row["answers"], row.get("is_impossible"), row.get("plausible_answers"))
    assert [p for p in problems if p.code in ("span_mismatch", "offset_out_of_range", "empty_answer")] == []


def row_on(context: str, text: str, **extra) -> dict:
    return {"id": "q", "context": context, "question": "?", "answers": [answer(context, text)], **extra}


# ----------------------------------------------------------------- blocks


def test_blocks_are_sentences_and_an_answer_across_a_boundary_joins_them():
    blocks = context_blocks(CONTEXT, [(CONTEXT.index("한강"), CONTEXT.index("한강") + 2)])
    assert [CONTEXT[s:e] for s, e in blocks.spans] == sentences(CONTEXT)
    assert blocks.answer == [False, False, True] and blocks.gaps == [" ", " "]
    across = CONTEXT.index("수도이다. 서울의")
    blocks = context_blocks(CONTEXT, [(across, across + 9)])
    assert [CONTEXT[s:e] for s, e in blocks.spans] == [
        "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다.",
        "한강이 서울을 가로지른다.",
    ]
    assert blocks.answer == [True, False]
    assert context_blocks("  앞. 뒤.", [(0, 3)]) is None  # reaches into the leading whitespace


# ----------------------------------------------------------------- shuffle


def test_shuffle_reorders_sentences_and_moves_the_answer_exactly():
    row = row_on(CONTEXT, "약 940만 명")
    made = perturb(CONTEXT, row["answers"], None, "shuffle", random.Random(3))
    assert made is not None and made.context != CONTEXT
    assert sorted(sentences(made.context)) == sorted(sentences(CONTEXT))
    assert_exact({"context": made.context, "answers": made.answers})
    assert perturb("한 문장뿐이다.", [answer("한 문장뿐이다.", "문장")], None, "shuffle", random.Random(0)) is None


def test_shuffle_keeps_an_answer_that_crosses_sentences_in_one_piece():
    text = "수도이다. 서울의"
    row = row_on(CONTEXT, text)
    for seed in range(5):
        made = perturb(CONTEXT, row["answers"], None, "shuffle", random.Random(seed))
        assert made is not None and text in made.context
        assert_exact({"context": made.context, "answers": made.answers})


# ----------------------------------------------------------------- distractor


def test_distractors_come_from_other_contexts_without_the_answer_and_away_from_it():
    pool = SentencePool.from_contexts([CONTEXT, OTHER, "광주는 빛고을이라 불린다. 무등산이 도시를 감싼다."])
    row = row_on(CONTEXT, "한강")
    for seed in range(10):
        made = perturb(CONTEXT, row["answers"], None, "distractor", random.Random(seed), pool=pool, max_distractors=2)
        assert made is not None
        added = [s for s in sentences(made.context) if s not in sentences(CONTEXT)]
        assert 1 <= len(added) <= 2
        assert all(s in OTHER or "광주" in s or "무등산" in s for s in added)
        assert_exact({"context": made.context, "answers": made.answers})
        parts = sentences(made.context)
        at = parts.index("한강이 서울을 가로지른다.")
        assert at == 0 or parts[at - 1] in sentences(CONTEXT)  # nothing inserted right before the answer
        assert at == len(parts) - 1 or parts[at + 1] in sentences(CONTEXT)


def test_a_sentence_holding_an_answer_text_is_never_a_distractor():
    pool = SentencePool.from_contexts([CONTEXT, OTHER])
    row = row_on(CONTEXT, "서울")
    for seed in range(20):
        made = perturb(CONTEXT, row["answers"], None, "distractor", random.Random(seed), pool=pool)
        assert made is None or "서울 사람도" not in made.context
    folded = row_on(CONTEXT, "한강")
    pool = SentencePool.from_contexts([CONTEXT, unicodedata.normalize("NFD", "한강의 물이 맑아졌다고 한다.")])
    assert perturb(CONTEXT, folded["answers"], None, "distractor", random.Random(0), pool=pool) is None


def test_no_distractor_from_the_rows_own_article():
    pool = SentencePool.from_contexts([CONTEXT, OTHER], ["seoul", "seoul"])
    row = row_on(CONTEXT, "한강", document_id="seoul")
    assert augment_question(row, "distractor", pool=pool) == []
    row["document_id"] = "elsewhere"
    assert len(augment_question(row, "distractor", pool=pool)) == 1


# ----------------------------------------------------------------- rows


def test_augment_question_ids_sources_passages_and_determinism():
    pool = SentencePool.from_contexts([CONTEXT, OTHER])
    row = row_on(CONTEXT, "한강", passage_id="p0", title="서울")
    made = augment_question(row, "shuffle", copies=3, seed=7, pool=pool)
    assert [r["id"] for r in made] == ["q#aug-shuffle-0", "q#aug-shuffle-1", "q#aug-shuffle-2"]
    assert {r["source"] for r in made} == {"augment:shuffle"}
    assert [r["passage_id"] for r in made] == [f"p0#{r['id']}" for r in made]
    assert len({r["context"] for r in made} | {CONTEXT}) == 4
    assert all(r["title"] == "서울" and r["question"] == "?" for r in made)
    assert made == augment_question(row, "shuffle", copies=3, seed=7, pool=pool)
    assert made != augment_question(row, "shuffle", copies=3, seed=8, pool=pool)
    # three sentences have five other orders: asking for more gives at most five
    assert len(augment_question(row, "shuffle", copies=9, seed=7)) <= 5


def test_rows_with_inexact_spans_are_not_augmented():
    row = row_on(CONTEXT, "한강")
    row["answers"] = [{"text": "한강", "answer_start": 3}]
    assert augment_question(row, "shuffle", copies=2) == []


def test_unanswerable_questions_are_perturbed_with_their_plausible_answers():
    rows = [r for r in sample_rows() if r["is_impossible"] and r["plausible_answers"]]
    pool = SentencePool.from_contexts([r["context"] for r in sample_rows()])
    made = [new for r in rows for m in ("distractor", "shuffle") for new in augment_question(r, m, pool=pool)]
    assert len(made) > len(rows)
    for new in made:
        assert new["is_impossible"] and new["answers"] == [] and new["plausible_answers"]
        assert_exact(new)


def test_every_sample_row_that_is_augmented_has_exact_spans():
    rows = sample_rows()
    pool = SentencePool.from_contexts([r["context"] for r in rows], [r["document_id"] for r in rows])
    count = 0
    for row in rows:
        for method in ("distractor", "shuffle"):
            for new in augment_question(row, method, copies=2, seed=1, pool=pool):
                assert [a["text"] for a in new["answers"]] == [a["text"] for a in row["answers"]]
                assert_exact(new)
                count += 1
    assert count > len(rows) * 3


# ----------------------------------------------------------------- unanswerable


def test_unanswerable_rows_skip_passages_holding_the_answer_even_folded():
    row = row_on(CONTEXT, "약 940만 명", passage_id="p", document_id="d", title="서울")
    negatives = {
        "q": [
            ("n0", "인구", "부산의 인구는 약  940만 명이 아니다."),  # whitespace folded: holds the answer
            ("n1", "서울", CONTEXT),  # its own context
            ("n2", "약 940만 명", "제목에 답이 있다."),  # the title holds the answer
            ("n3", "부산", OTHER),
            ("n4", "광주", "광주는 빛고을이라 불린다."),
        ]
    }
    made = list(unanswerable_rows([row], negatives, per_question=1))
    assert len(made) == 1
    (new,) = made
    assert new == {
        **row,
        "id": "q#aug-unanswerable-0",
        "title": "부산",
        "context": OTHER,
        "answers": [],
        "is_impossible": True,
        "plausible_answers": [],
        "document_id": None,
        "passage_id": "n3",
        "source": "augment:unanswerable",
    }
    assert [r["passage_id"] for r in unanswerable_rows([row], negatives, per_question=5)] == ["n3", "n4"]
    impossible = {**row, "answers": [], "is_impossible": True}
    assert list(unanswerable_rows([impossible], negatives)) == []


# ----------------------------------------------------------------- properties

WORDS = st.sampled_from(["서울", "한강", "인구", "Mr.", "3.5", "약", "명이다", "the", "U.S.", "e.g."])


@st.composite
def contexts_with_answers(draw):
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        words = draw(st.lists(WORDS, min_size=1, max_size=6))
        parts.append(" ".join(words) + draw(st.sampled_from([".", "다.", "?", "!", ""])))
    context = draw(st.sampled_from(["", " "])) + draw(st.sampled_from([" ", "\n", "  "])).join(parts)
    starts = [i for i, c in enumerate(context) if not c.isspace()]
    answers = []
    for _ in range(draw(st.integers(0, 3))):
        s = draw(st.sampled_from(starts))
        e = draw(st.integers(s + 1, min(len(context), s + 15)))
        if context[s:e].strip() == context[s:e]:
            answers.append({"text": context[s:e], "answer_start": s})
    return context, answers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contexts_with_answers(), st.sampled_from(["shuffle", "distractor"]), st.integers(0, 2**16))
def test_perturbed_spans_are_always_exact(case, method, seed):
    context, answers = case
    pool = SentencePool.from_contexts([OTHER, "광주는 빛고을이라 불린다. 무등산이 도시를 감싼다.", context])
    made = perturb(context, answers[:1], answers[1:], method, random.Random(seed), pool=pool, max_distractors=3)
    if made is None:
        return
    assert made.context != context
    for before, after in zip(answers, made.answers + (made.plausible_answers or []), strict=True):
        assert after["text"] == before["text"]
        assert made.context[after["answer_start"] : after["answer_start"] + len(after["text"])] == after["text"]
    if method == "shuffle":
        assert sorted(made.context.split()) == sorted(context.split())
