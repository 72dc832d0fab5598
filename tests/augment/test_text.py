"""Korean text noise for classification and the plan of how many rows each class gets."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.augment.text import (
    FINALS,
    TextNoise,
    char_noise,
    compose,
    decompose,
    eojeol_delete,
    eojeol_swap,
    fold,
    jamo_typo,
    plan_augmentation,
)
from curate.io import read
from tests.conftest import REPO

REVIEW = "배송도 빠르고 포장도 꼼꼼해서 정말 좋았어요"


def reviews() -> tuple[list[str], list[str | None], list[str | None]]:
    table = read(REPO / "sample_data" / "reviews_cls.tsv").to_arrow()
    return table.column("id").to_pylist(), table.column("text").to_pylist(), table.column("label").to_pylist()


# ----------------------------------------------------------------- Hangul


def test_decompose_and_compose_every_syllable():
    for code in range(0xAC00, 0xD7A4):
        parts = decompose(chr(code))
        assert parts is not None and compose(*parts) == chr(code)
    assert decompose("한") == (18, 0, 4) and FINALS[4] == "ㄴ"
    assert decompose("a") is None and decompose("ㅋ") is None


def test_jamo_typos_change_only_the_final_consonant():
    rng = random.Random(0)
    assert {jamo_typo("있", rng) for _ in range(20)} == {"잇"}
    assert {jamo_typo("않", rng) for _ in range(20)} == {"안"}
    assert {jamo_typo("없", rng) for _ in range(20)} == {"업"}
    assert {jamo_typo("같", rng) for _ in range(50)} == {"갓", "갇"}
    assert {jamo_typo("한", rng) for _ in range(20)} == {"하"}  # ㄴ has no look-alike: dropped
    assert jamo_typo("가", rng) is None and jamo_typo("a", rng) is None
    for char in ("닭", "밟", "읽", "흙", "넋"):
        typo = jamo_typo(char, rng)
        assert typo is not None and typo != char and decompose(typo)[:2] == decompose(char)[:2]


# ----------------------------------------------------------------- operations


def test_eojeol_delete_and_swap():
    rng = random.Random(1)
    for _ in range(20):
        deleted = eojeol_delete(REVIEW, 0.3, rng)
        assert deleted is not None and 1 <= len(deleted.split()) < len(REVIEW.split())
        assert all(word in REVIEW.split() for word in deleted.split())
        swapped = eojeol_swap(REVIEW, 0.2, rng)
        assert swapped is not None and sorted(swapped.split()) == sorted(REVIEW.split())
    assert eojeol_delete("최고", 0.5, rng) is None and eojeol_swap("최고", 0.5, rng) is None
    assert eojeol_swap("좋아 좋아", 0.5, rng) is None


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("drop", lambda old, new: len(new) == len(old) - 1),
        ("duplicate", lambda old, new: len(new) == len(old) + 1),
        ("swap", lambda old, new: sorted(new) == sorted(old) and new.split(" ")[0] != "" and new != old),
        (
            "space",
            lambda old, new: new.count(" ") == old.count(" ") - 1 and new.replace(" ", "") == old.replace(" ", ""),
        ),
        ("jamo", lambda old, new: len(new) == len(old) and sum(a != b for a, b in zip(old, new, strict=True)) == 1),
    ],
)
def test_each_kind_of_character_noise(kind, check):
    rng = random.Random(5)
    for _ in range(20):
        new = char_noise(REVIEW, 0.01, rng, [kind])
        assert new is not None and check(REVIEW, new), new


def test_noise_is_deterministic_for_a_seed_and_never_empties_a_text():
    noise = TextNoise(noise_prob=0.3)
    first = [noise.apply("char_noise", REVIEW, random.Random(f"s{i}")) for i in range(5)]
    assert first == [noise.apply("char_noise", REVIEW, random.Random(f"s{i}")) for i in range(5)]
    assert char_noise("가", 1.0, random.Random(0), ["drop"]) is None
    assert char_noise("   ", 0.5, random.Random(0)) is None
    with pytest.raises(ValueError):
        noise.apply("translate", REVIEW, random.Random(0))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("가각값닭있않 abc1!ㅋ")), min_size=1, max_size=40), st.integers(0, 999))
def test_every_op_gives_a_non_empty_different_text_or_none(text, seed):
    noise = TextNoise(delete_prob=0.3, swap_prob=0.3, noise_prob=0.2)
    for op in ("eojeol_delete", "eojeol_swap", "char_noise"):
        new = noise.apply(op, text, random.Random(seed))  # type: ignore[arg-type]
        assert new is None or (new.strip() and isinstance(new, str))


# ----------------------------------------------------------------- planning


def test_one_copy_per_row_on_the_sample_without_duplicates():
    ids, texts, labels = reviews()
    plan = plan_augmentation(ids, texts, labels, seed=0)
    made = [new for news in plan.new.values() for new in news]
    assert plan.counts == {"positive": 151, "negative": 152}
    empty = sum(1 for t in texts if not (t or "").strip())
    assert len(made) == len(texts) - empty == sum(plan.added.values())
    assert all(len(news) == 1 and news[0].n == 0 for news in plan.new.values())
    folded = [fold(t) for t in texts if t] + [fold(new.text) for new in made]
    assert len(set(folded)) == len({fold(t) for t in texts if t}) + len(made)
    assert Counter(new.op for new in made).keys() == {"eojeol_delete", "eojeol_swap", "char_noise"}
    assert plan_augmentation(ids, texts, labels, seed=0) == plan
    assert plan_augmentation(ids, texts, labels, seed=1).new != plan.new


def test_balance_brings_every_class_to_the_largest_or_the_cap_and_never_beyond():
    ids = [f"r{i}" for i in range(13)]
    texts = [f"리뷰 번호 {i} 정말 좋아요" for i in range(10)] + [
        "별로 였어요 다시는 안 사요",
        "최악 이에요 환불 원해요",
        "그냥 그래요 보통 이에요",
    ]
    labels = ["pos"] * 10 + ["neg"] * 3
    plan = plan_augmentation(ids, texts, labels, balance=True, seed=3)
    assert plan.added == {"neg": 7} and plan.targets == {"pos": 10, "neg": 10}
    assert sorted(len(v) for v in plan.new.values()) == [2, 2, 3]  # the three rows take turns
    capped = plan_augmentation(ids, texts, labels, balance=True, per_class_cap=5, seed=3)
    assert capped.added == {"neg": 2}
    grown = plan_augmentation(ids, texts, labels, balance=True, per_class_cap=12, seed=3)
    assert grown.added == {"pos": 2, "neg": 9}
    per_row = plan_augmentation(ids, texts, labels, copies=2, per_class_cap=8, seed=3)
    assert per_row.added == {"neg": 5} and all(len(v) <= 2 for v in per_row.new.values())


def test_rows_without_text_or_label_get_nothing():
    plan = plan_augmentation(["a", "b", "c"], ["", "좋아요 정말 최고", "좋네요 아주 좋아"], ["x", None, "x"], copies=2)
    assert set(plan.new) == {2} and plan.counts == {"x": 2}


def test_a_text_no_op_can_change_gives_up():
    plan = plan_augmentation(["a"], ["최고"], ["x"], ops=["eojeol_delete", "eojeol_swap"], copies=3)
    assert plan.new == {} and plan.added == {}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["좋아요 정말", "별로 에요", "최고 최고 최고", "가 나", "좋아요  정말", "ㅋㅋ"]),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 3),
    st.booleans(),
)
def test_generated_texts_never_repeat_an_existing_one(texts, copies, balance):
    labels = [str(i % 2) for i in range(len(texts))]
    ids = [str(i) for i in range(len(texts))]
    plan = plan_augmentation(ids, texts, labels, copies=copies, balance=balance, seed=copies)
    made = [new.text for news in plan.new.values() for new in news]
    existing = {fold(t) for t in texts}
    assert not existing & {fold(t) for t in made}
    assert len({fold(t) for t in made}) == len(made)
    sizes = Counter(labels)
    for label, added in plan.added.items():
        assert sizes[label] + added <= (max(sizes.values()) if balance else sizes[label] * (copies + 1))
