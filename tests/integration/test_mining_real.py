"""Hard-negative mining on real XQuAD (../shared/data/xquad; skipped with a message when absent).

Regressions: negatives that held an answer in another form (``《圣经》`` guarded ``《圣经》`` only, not
``圣经``; ``two.`` did not guard ``two``), and answers of a question asked twice with two answers.
"""

from __future__ import annotations

import functools

import pytest

from curate.io import read
from curate.retrieval.negatives import fold
from curate.stages.mine_hard_negatives import MineHardNegatives
from curate.text.answers import KeyedText, answer_variants
from tests.conftest import needs_shared


@functools.cache
def mined(language: str):
    """(MRC rows, kept triplets, mining artifact row) of the default mining of one XQuAD language."""
    dataset = read(needs_shared("xquad", f"xquad.{language}.json"))
    result = MineHardNegatives()(dataset)
    return dataset.to_arrow(), result.kept.to_arrow().to_pylist(), result.artifacts["mining"].to_pylist()[0]


def answers_by_question(mrc) -> dict[str, list[str]]:
    """Every answer given to each (folded) question text anywhere in the set."""
    pooled: dict[str, list[str]] = {}
    for question, answers in zip(mrc.column("question").to_pylist(), mrc.column("answers").to_pylist(), strict=True):
        pooled.setdefault(fold(question), []).extend(a["text"] for a in answers or [])
    return pooled


def holds(passage: str, answers: list[str]) -> list[str]:
    """The answers (as written, folded) and variant keys found in the passage."""
    keyed = KeyedText.of(passage)
    written = [a for a in answers if fold(a) and fold(a) in fold(passage)]
    return written + [k for a in answers for k in answer_variants(a) if keyed.contains(k)]


@pytest.mark.parametrize(
    ("language", "question", "form"),
    [
        ("zh", "路德的什么著作变得流行？", "圣经"),  # answer 《圣经》
        ("zh", "图表 “千年北半球气温重建”所依托的论文是于何年发表的？", "1999年"),  # answer '1999 年'
        ("en", "How many interceptions did Josh Norman score touchdowns with in 2015?", "two"),  # answer 'two.'
    ],
)
def test_no_negative_holds_an_answer_in_another_form(language, question, form):
    mrc, triplets, info = mined(language)
    assert info["dropped_answer_variant"] >= 1  # candidates a literal guard let through
    row = next(r for r in triplets if r["query"] == question)
    assert len(row["negatives"]) == 5
    negatives = zip(row["negative_titles"], row["negatives"], strict=True)
    assert not any(KeyedText.of(f"{title} {text}").contains(form) for title, text in negatives)
    pooled = answers_by_question(mrc)
    for r in triplets:  # no negative holds any form of any answer given to the same question text
        for title, text in zip(r["negative_titles"], r["negatives"], strict=True):
            assert holds(f"{title} {text}", pooled[fold(r["query"])]) == [], (r["query"], title)
