"""Label-preserving noise for classification texts, suited to Korean (pure functions).

Three operations, each making one new text (None when it cannot change this text):

- ``eojeol_delete``: every eojeol (space-separated word) is deleted with probability ``delete_prob``;
  at least one is deleted and one kept.
- ``eojeol_swap``: ``max(1, round(swap_prob * eojeol))`` swaps of two random eojeol.
- ``char_noise``: ``max(1, round(noise_prob * characters))`` edits, each of a kind drawn from
  ``noise``: ``drop`` (delete a character), ``duplicate`` (double one), ``swap`` (swap two adjacent
  characters of an eojeol), ``space`` (remove the space between two eojeol: 좋아요 정말 ->
  좋아요정말) and ``jamo`` (a typo in a final consonant: the Hangul syllable is decomposed into its
  jamo by arithmetic on U+AC00, the final consonant replaced by one that sounds alike at the end of
  a syllable, or dropped, and the syllable recomposed: 있 -> 잇, 않 -> 안, 없 -> 업, 같 -> 갇).

The eojeol operations join the words with single spaces. :func:`plan_augmentation` decides how
many new texts each row gets (``copies`` per row, or ``balance`` classes up to a target) and makes
them, never repeating a text of the data or an earlier new one (compared after NFC and whitespace
folding). Randomness comes only from ``random.Random`` seeded with the seed, the row id, the
variant number and the attempt.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from curate.text.normalize import Op, normalize_text

TextOp = Literal["eojeol_delete", "eojeol_swap", "char_noise"]
TEXT_OPS: tuple[TextOp, ...] = get_args(TextOp)
Noise = Literal["drop", "duplicate", "swap", "space", "jamo"]
NOISE_KINDS: tuple[Noise, ...] = get_args(Noise)

_FOLD_OPS: tuple[Op, ...] = ("nfc", "whitespace")
_ATTEMPTS = 10  # draws tried for one new text before the row is given up

# --- Hangul syllables ----------------------------------------------------------------------

_SYLLABLE_BASE, _SYLLABLE_LAST = 0xAC00, 0xD7A3
_VOWELS, _FINALS = 21, 28
FINALS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
"""The 28 final-consonant slots of a Hangul syllable (index 0: none), as compatibility jamo."""

_SOUNDS_ALIKE = {
    "ㄱ": "ㄲㅋ",
    "ㄲ": "ㄱ",
    "ㄳ": "ㄱ",
    "ㄵ": "ㄴ",
    "ㄶ": "ㄴ",
    "ㄷ": "ㅅ",
    "ㄺ": "ㄱㄹ",
    "ㄻ": "ㅁ",
    "ㄼ": "ㄹ",
    "ㄽ": "ㄹ",
    "ㄾ": "ㄹ",
    "ㄿ": "ㅂ",
    "ㅀ": "ㄹ",
    "ㅂ": "ㅍ",
    "ㅄ": "ㅂ",
    "ㅅ": "ㅆㄷ",
    "ㅆ": "ㅅ",
    "ㅈ": "ㅅ",
    "ㅊ": "ㅅ",
    "ㅋ": "ㄱ",
    "ㅌ": "ㅅㄷ",
    "ㅍ": "ㅂ",
    "ㅎ": "ㅅ",
}
"""Finals that are pronounced alike at the end of a syllable (the usual spelling slips); a final
not listed here (ㄴ, ㄹ, ㅁ, ㅇ) is dropped instead."""


def decompose(char: str) -> tuple[int, int, int] | None:
    """``(initial, vowel, final)`` indexes of a precomposed Hangul syllable, or None."""
    code = ord(char) - _SYLLABLE_BASE
    if not 0 <= code <= _SYLLABLE_LAST - _SYLLABLE_BASE:
        return None
    return code // (_VOWELS * _FINALS), (code // _FINALS) % _VOWELS, code % _FINALS


def compose(initial: int, vowel: int, final: int) -> str:
    """The Hangul syllable with these jamo indexes."""
    return chr(_SYLLABLE_BASE + (initial * _VOWELS + vowel) * _FINALS + final)


def jamo_typo(char: str, rng: random.Random) -> str | None:
    """``char`` with its final consonant replaced by one that sounds alike, or dropped; None when
    ``char`` is not a Hangul syllable with a final consonant."""
    parts = decompose(char)
    if parts is None or parts[2] == 0:
        return None
    initial, vowel, final = parts
    options = _SOUNDS_ALIKE.get(FINALS[final], " ")
    return compose(initial, vowel, FINALS.index(rng.choice(options)))


# --- operations ----------------------------------------------------------------------------


def eojeol_delete(text: str, prob: float, rng: random.Random) -> str | None:
    """Delete each eojeol with probability ``prob`` (at least one deleted, one kept)."""
    words = text.split()
    if len(words) < 2:
        return None
    drop = [rng.random() < prob for _ in words]
    if not any(drop):
        drop[rng.randrange(len(words))] = True
    if all(drop):
        drop[rng.randrange(len(words))] = False
    return " ".join(w for w, d in zip(words, drop, strict=True) if not d)


def eojeol_swap(text: str, prob: float, rng: random.Random) -> str | None:
    """Swap two random eojeol, ``max(1, round(prob * eojeol))`` times."""
    words = text.split()
    if len(words) < 2 or len(set(words)) < 2:
        return None
    for _ in range(max(1, round(prob * len(words)))):
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def _noise_at(chars: list[str], kind: Noise, rng: random.Random) -> bool:
    """Apply one edit of ``kind`` to ``chars`` in place; False when none is possible."""
    n = len(chars)
    if kind in ("drop", "duplicate"):
        places = [i for i, c in enumerate(chars) if not c.isspace()]
        if kind == "drop" and len(places) < 2:
            return False
    elif kind == "swap":
        places = [i for i in range(n - 1) if not chars[i].isspace() and not chars[i + 1].isspace()]
        places = [i for i in places if chars[i] != chars[i + 1]]
    elif kind == "space":
        places = [i for i in range(1, n - 1) if chars[i] == " " and not chars[i - 1].isspace()]
        places = [i for i in places if not chars[i + 1].isspace()]
    else:
        places = [i for i, c in enumerate(chars) if (parts := decompose(c)) is not None and parts[2]]
    if not places:
        return False
    i = rng.choice(places)
    if kind == "drop" or kind == "space":
        del chars[i]
    elif kind == "duplicate":
        chars.insert(i, chars[i])
    elif kind == "swap":
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars[i] = jamo_typo(chars[i], rng) or chars[i]
    return True


def char_noise(text: str, prob: float, rng: random.Random, kinds: Sequence[Noise] = NOISE_KINDS) -> str | None:
    """``max(1, round(prob * non-space characters))`` character edits of random ``kinds``."""
    chars = list(text)
    letters = sum(not c.isspace() for c in chars)
    if not letters or not kinds:
        return None
    done = 0
    for _ in range(max(1, round(prob * letters))):
        order = list(kinds)
        rng.shuffle(order)  # try the kinds in random order until one applies
        done += any(_noise_at(chars, kind, rng) for kind in order)
    new = "".join(chars)
    return new if done and new.strip() else None


@dataclass(frozen=True)
class TextNoise:
    """Probabilities and noise kinds of the three operations."""

    delete_prob: float = 0.1
    swap_prob: float = 0.1
    noise_prob: float = 0.05
    noise: tuple[Noise, ...] = NOISE_KINDS

    def apply(self, op: TextOp, text: str, rng: random.Random) -> str | None:
        """One new text made by ``op``, or None when ``op`` cannot change ``text``."""
        if op == "eojeol_delete":
            return eojeol_delete(text, self.delete_prob, rng)
        if op == "eojeol_swap":
            return eojeol_swap(text, self.swap_prob, rng)
        if op == "char_noise":
            return char_noise(text, self.noise_prob, rng, self.noise)
        raise ValueError(f"unknown text operation {op!r}: choose from {list(TEXT_OPS)}")


def fold(text: str) -> str:
    """The form texts are compared in for duplicates: NFC, whitespace runs folded to one space."""
    return normalize_text(text, _FOLD_OPS)


# --- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewText:
    """One generated text: the ``op`` that made it and its number ``n`` among its row's new texts."""

    text: str
    op: TextOp
    n: int


@dataclass
class Plan:
    """New texts by input row (0-based), and per label how many rows it had and got."""

    new: dict[int, list[NewText]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    added: Counter[str] = field(default_factory=Counter)
    targets: dict[str, int] = field(default_factory=dict)


def plan_augmentation(
    ids: Sequence[str],
    texts: Sequence[str | None],
    labels: Sequence[str | None],
    *,
    ops: Sequence[TextOp] = TEXT_OPS,
    noise: TextNoise | None = None,
    copies: int = 1,
    balance: bool = False,
    per_class_cap: int | None = None,
    seed: int = 0,
) -> Plan:
    """Decide and make the new texts of a whole dataset.

    - ``balance`` false: every row gets up to ``copies`` new texts; with ``per_class_cap`` a class
      stops growing at that many rows (rows taken in a seeded random order).
    - ``balance`` true: each class grows to ``per_class_cap`` rows, or to the size of the largest
      class without one, never beyond (a class already there gets nothing). The class's rows take
      turns, in a seeded random order, one new text each per round, so ``copies`` is not used.

    Each new text comes from one op, drawn among ``ops``; a text no op can change (one eojeol and
    only ``eojeol_*`` ops), or whose draws keep repeating existing texts, gives up. Rows with an
    empty text or no label get nothing.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0: got {copies}")
    if per_class_cap is not None and per_class_cap < 0:
        raise ValueError(f"per_class_cap must be >= 0: got {per_class_cap}")
    noise = noise or TextNoise()
    plan = Plan()
    seen = {fold(t) for t in texts if t}
    by_label: dict[str, list[int]] = {}
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        if label is not None:
            plan.counts[label] = plan.counts.get(label, 0) + 1
            if text and text.strip():
                by_label.setdefault(label, []).append(i)
    largest = max(plan.counts.values(), default=0)
    for label in sorted(by_label):
        count = plan.counts[label]
        if balance:
            target = per_class_cap if per_class_cap is not None else largest
        else:
            target = count + copies * len(by_label[label])
            if per_class_cap is not None:
                target = min(target, max(per_class_cap, count))
        plan.targets[label] = max(target, count)
        rows = list(by_label[label])
        random.Random(f"{seed}|class|{label}").shuffle(rows)
        active = rows
        while active and count + plan.added[label] < target:
            still = []
            for i in active:
                if count + plan.added[label] >= target:
                    break
                made = plan.new.setdefault(i, [])
                if not balance and len(made) >= copies:
                    continue
                new = _new_text(ids[i], texts[i] or "", len(made), ops, noise, seed, seen)
                if new is None:
                    continue
                made.append(new)
                plan.added[label] += 1
                still.append(i)
            active = still
    plan.new = {i: made for i, made in sorted(plan.new.items()) if made}
    return plan


def _new_text(
    row_id: str, text: str, n: int, ops: Sequence[TextOp], noise: TextNoise, seed: int, seen: set[str]
) -> NewText | None:
    """Variant ``n`` of ``text``: the first draw that is not a text seen so far (added to ``seen``)."""
    for attempt in range(_ATTEMPTS):
        rng = random.Random(f"{seed}|{row_id}|{n}|{attempt}")
        op = rng.choice(list(ops))
        new = noise.apply(op, text, rng)
        if new is None or not new.strip():
            continue
        key = fold(new)
        if key not in seen:
            seen.add(key)
            return NewText(new, op, n)
    return None
