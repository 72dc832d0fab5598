"""Quality measures of extractive-QA rows (pure functions of one row's texts).

Each function measures one thing; the ``mrc_checks`` stage turns the measures into columns and
thresholds them.

- :func:`question_form`: does the question read like a question? True / False, or None when the
  language has no rules here and there is no question mark to go by.
- :func:`overlap_tokens` and :func:`lexical_overlap`: the share of the question's tokens found in
  the context (low: the question probably belongs to another passage).
- :func:`copied_share`: the longest run of the question found word for word in the context, as a
  share of the question (high: the question copies the context).
- :func:`answer_occurrences`: how often the answer text occurs in the context.
- :func:`text_length`: characters or whitespace words.
- :func:`question_key`: the normalized question, for finding repeated questions on one context.

Tokens for the overlap (measured on XQuAD, SQuAD-style data in 12 languages, and on Korean QA
questions: see ``curate.stages.mrc_checks``): words of scripts written with spaces are tokens as
they are, less English function words; Korean eojeol lose one trailing particle (``서울의`` and
``서울은`` both give ``서울``) and become character bigrams, as do Han and kana words (Chinese and
Japanese write no spaces); Thai, Lao, Khmer and Myanmar words become character trigrams (their
vowel signs make bigrams too common to tell passages apart). Korean question words (``무엇``,
``어디`` ...) are left out like the English ones.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from curate.text.normalize import normalize_text
from curate.text.spans import find_all

LengthUnit = Literal["words", "chars"]

QUESTION_MARKS = frozenset("?？؟;՞፧﹖")
"""Characters that end a question: ASCII and full-width ``?``, Arabic ``؟``, the Greek question mark
U+037E (and ``;`` in Greek text), Armenian ``՞``, Ethiopic ``፧`` and the small form ``﹖``."""

# ----------------------------------------------------------------- characters and tokens

_BIGRAM_SCRIPT = re.compile(
    "[\u1100-\u11ff"  # Hangul jamo
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility jamo
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul jamo extended-A
    "\uac00-\ud7ff"  # Hangul syllables, jamo extended-B
    "\uf900-\ufaff]"  # CJK compatibility ideographs
)
_TRIGRAM_SCRIPT = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")  # Thai, Lao, Myanmar, Khmer
_GREEK = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")


@lru_cache(maxsize=1)
def _separators() -> dict[int, int]:
    """``str.translate`` table mapping every separator, punctuation, symbol and control character
    of the Basic Multilingual Plane to a space."""
    table = {}
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] in "ZPSC" and code != 0x20:
            table[code] = 0x20
    return table


def words(text: str) -> list[str]:
    """Case-folded NFC words of ``text``: runs of letters, marks and digits (punctuation, symbols
    and spaces separate words)."""
    return unicodedata.normalize("NFC", text).casefold().translate(_separators()).split()


def folded(text: str) -> str:
    """``text`` as its :func:`words` joined by single spaces (what :func:`copied_share` compares)."""
    return " ".join(words(text))


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _ngrams(word: str, n: int) -> Iterable[str]:
    if len(word) <= n:
        return (word,)
    return (word[i : i + n] for i in range(len(word) - n + 1))


_KO_PARTICLES = tuple(
    sorted(
        _wordset(
            """은 는 이 가 을 를 의 에 에서 으로 로 와 과 도 만 에게 께서 까지 부터 보다 처럼 이다 인가
            이며 이고 에는 에서는 으로는 로는 에도 과의 와의 이라고 라고 이란 란"""
        ),
        key=lambda p: (-len(p), p),
    )
)
"""Particles (and the copula) stripped from the end of a Korean eojeol before it becomes bigrams,
longest first; one is stripped, and never the whole eojeol."""


def korean_stem(eojeol: str) -> str:
    """``eojeol`` without one trailing particle: ``서울의`` -> ``서울``, ``수도에서는`` -> ``수도``."""
    for particle in _KO_PARTICLES:
        if len(eojeol) > len(particle) and eojeol.endswith(particle):
            return eojeol[: -len(particle)]
    return eojeol


def overlap_tokens(text: str) -> frozenset[str]:
    """Distinct tokens of ``text`` for :func:`lexical_overlap` (see the module notes): words without
    English function words; bigrams of Korean stems and of Han/kana words; trigrams of Thai, Lao,
    Khmer and Myanmar words; Korean question words left out."""
    tokens: set[str] = set()
    for word in words(text):
        if _BIGRAM_SCRIPT.search(word):
            if _jong(word[0]) >= 0:
                if _korean_question_word(word):
                    continue
                word = korean_stem(word)
            tokens.update(_ngrams(word, 2))
        elif _TRIGRAM_SCRIPT.search(word):
            tokens.update(_ngrams(word, 3))
        elif word not in ENGLISH_STOPWORDS:
            tokens.add(word)
    return frozenset(tokens)


def lexical_overlap(question: frozenset[str], context: frozenset[str]) -> float | None:
    """Share of the question's tokens that occur in the context (0..1); None for a question
    without tokens."""
    if not question:
        return None
    return len(question & context) / len(question)


def longest_shared_run(question: str, context: str) -> int:
    """Length of the longest substring of ``question`` that occurs in ``context`` (binary search on
    the length; each step is a handful of C-speed substring searches)."""
    lo, hi = 0, len(question)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any(question[i : i + mid] in context for i in range(len(question) - mid + 1)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def copied_share(question: str, context: str) -> float | None:
    """Longest run of the question found in the context, as a share of the question (0..1), both
    :func:`folded` (case, punctuation and spacing do not matter); None for an empty question.
    A question that copies a context sentence scores near 1 (on XQuAD-en gold questions the median
    is 0.34 and 2.6% reach 0.8)."""
    q, c = folded(question), folded(context)
    if not q:
        return None
    return longest_shared_run(q, c) / len(q)


ENGLISH_STOPWORDS = _wordset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself me
    more most my myself no nor not of off on once only or other our ours ourselves out over own same
    she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself yourselves"""
)
"""Function words (and question words) of English, left out of the overlap: they occur in every
context, so counting them pulls a wrong paragraph's overlap up (on XQuAD-en the area under the
ROC curve for right vs wrong paragraph goes from 0.977 to 0.994 without them)."""

# ----------------------------------------------------------------- question form

_KO_QUESTION_WORDS = tuple(sorted(_wordset("무엇 무슨 뭐 뭘 누구 언제 어디 어딘 어느 몇 며칠 어떻 어떤 어떠 얼마")))
_KO_QUESTION_WORDS_WHOLE = frozenset({"왜", "누가"})
"""Question words that count only as a whole eojeol (``왜곡``, ``임진왜란`` and ``누가기`` are no
questions)."""
_KO_NOT_QUESTION_WORDS = ("몇몇", "언제나", "언제든", "어디든", "어디나", "무엇보다", "뭔가")
_KO_ENDINGS = ("까", "까요", "나요", "가요", "죠", "지요", "냐", "냐고", "니까")
_KO_TOPIC_ENDINGS = ("은", "는", "란", "이란", "은요", "는요")
"""An eojeol ending in a topic particle with nothing after it (``대한민국의 수도는``) is the usual
elliptical question of Korean QA data; a statement ends in a predicate."""
_KO_NA_BEFORE = frozenset("었았였했됐겠있없되")
_KO_NI_BEFORE = frozenset("이하했었았였되됐있없겠")
_KO_JI_BEFORE = frozenset("이었았였했됐겠있없하")

_EN_QUESTION_WORDS = _wordset("what which who whom whose when where why how")
_EN_AUXILIARIES = _wordset("is are was were do does did can could will would shall should may might must has have had")
_EN_IMPERATIVES = _wordset("name list give identify describe explain state define")
_EN_MARKERS = ENGLISH_STOPWORDS - _wordset("a am an are as be die do in is me no nor on or so was will")
_EN_STARTS = (_EN_QUESTION_WORDS | _EN_AUXILIARIES | _EN_IMPERATIVES) - frozenset({"was", "will"})
_EN_PREPOSITIONS = _wordset(
    "about after against among at before between by during for from in into of on over since through to under with"
)
_EN_IN_PLACE = frozenset({"what", "which", "whose"})
_EN_HOW = _wordset("many much old long far often big large tall high")


def _jong(syllable: str) -> int:
    """Final-consonant index of a Hangul syllable (0 = none, 4 = ㄴ, 8 = ㄹ), -1 for other characters."""
    code = ord(syllable) - 0xAC00
    return code % 28 if 0 <= code < 11172 else -1


def _korean_ending(last: str) -> bool:
    """True when the last eojeol ends like a Korean question (``-까``, ``-나요``, ``-ㄴ가``, ``-니``,
    ``-지``, ``-냐``) or in a topic particle (an elliptical question)."""
    if last.endswith(_KO_ENDINGS) or last.endswith(_KO_TOPIC_ENDINGS):
        return True
    if len(last) < 2:
        return False
    before, final = last[-2], last[-1]
    if final == "가":  # -ㄴ가: 인가, 는가, 은가, 한가, 던가 (but not 국가, 작가)
        return _jong(before) == 4
    if final == "나":  # 였나, 있나, 했나 (but not 하나)
        return before in _KO_NA_BEFORE
    if final == "니":  # 이니, 했니, 맞니 (but not 어머니, 기니, 언니)
        return before in _KO_NI_BEFORE or (_jong(before) > 0 and not last.endswith("언니"))
    if final == "지":  # 인지, 일지, 였지, 무엇이지 (but not 토지, 의지)
        return before in _KO_JI_BEFORE or _jong(before) in (4, 8)
    return False


def _korean_question_word(eojeol: str) -> bool:
    if eojeol in _KO_QUESTION_WORDS_WHOLE:
        return True
    return eojeol.startswith(_KO_QUESTION_WORDS) and not eojeol.startswith(_KO_NOT_QUESTION_WORDS)


def _english_words(text: str) -> list[str] | None:
    """The words of an English text, case-folded; None when ``text`` is not English.

    English: the letters are ASCII, and the first word is an English question word, auxiliary or
    imperative, or a later word is a lower-case question word, or a fifth of the words are English
    function words that other Latin-script languages do not share. Only lower-case words count
    after the first, so ``Doctor Who`` or ``The Mask of Anarchy`` in a German question do not make
    it English."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters or sum(ch.isascii() for ch in letters) < 0.9 * len(letters):
        return None
    raw = unicodedata.normalize("NFC", text).translate(_separators()).split()
    lowered = [w.casefold() for w in raw]
    if lowered[0] in _EN_STARTS or any(w in _EN_QUESTION_WORDS for w in raw[1:]):
        return lowered
    marked = sum(
        low in _EN_MARKERS and (i == 0 or w == low) for i, (w, low) in enumerate(zip(raw, lowered, strict=True))
    )
    return lowered if marked >= 0.2 * len(raw) else None


def _english_question(text: str, tokens: list[str]) -> bool:
    """An auxiliary or imperative first (``Did``, ``Name``); a wh-word opening a clause, alone or
    after a preposition (``In what year``, ``Prior to Manning, who``), or last (``... expressed as
    what``); or a wh-word asking in place (``include what soundtracks``, ``was how many``). A
    wh-word elsewhere is usually a relative clause (``people who``, ``left when``)."""
    if tokens[0] in _EN_AUXILIARIES or tokens[0] in _EN_IMPERATIVES or tokens[-1] in _EN_QUESTION_WORDS:
        return True
    for clause in re.split(r"[,;:]", text.casefold()):
        opening = clause.split()[:2]
        if not opening:
            continue
        if opening[0] in _EN_AUXILIARIES or opening[0] in _EN_QUESTION_WORDS:
            return True
        if len(opening) == 2 and opening[0] in _EN_PREPOSITIONS and opening[1] in _EN_QUESTION_WORDS:
            return True
    return any(t in _EN_IN_PLACE for t in tokens) or any(
        a == "how" and b in _EN_HOW for a, b in itertools.pairwise(tokens)
    )


def question_form(question: str) -> bool | None:
    """Does ``question`` read like a question?

    - Any text ending in a question mark (:data:`QUESTION_MARKS`), or starting with ``¿``: True.
    - Korean (any Hangul): True when it ends like a question (``-까``, ``-까요``, ``-나요``, ``-ㄴ가``
      as in ``무엇인가``/``하는가``, ``-냐``, ``-니``, ``-지``, ``-죠``), ends in a topic particle
      (``대한민국의 수도는``: the elliptical question of Korean QA data), or has a question word at
      the start of an eojeol (무엇, 뭐, 누구, 누가, 언제, 어디, 어느, 몇, 며칠, 왜, 어떻게, 어떤,
      얼마, 무슨); otherwise False.
    - English (ASCII letters and English function words): True with an auxiliary or imperative
      first (``Did``, ``Can``, ``Name``), a wh-word opening a clause (``In what year``) or ending
      the text, or ``what``/``which``/``whose``/``how many`` in place; otherwise False.
    - Other languages without a question mark: None (no rules to judge by).
    """
    text = unicodedata.normalize("NFC", question).strip()
    if not text:
        return False
    stripped = text.rstrip(" \t\n\"'”’」』)]】》>.…")
    if stripped and (stripped[-1] in QUESTION_MARKS or (stripped[-1] == ";" and _GREEK.search(stripped))):
        return True
    if text[0] == "¿":
        return True
    tokens = words(text)
    if not tokens:
        return False
    if any(_jong(ch) >= 0 for ch in text):
        last = tokens[-1]
        if _korean_ending(last):
            return True
        if last.endswith("다"):  # a statement: 했다, 이다, 합니다 (a question word in it is indirect)
            return False
        return any(_korean_question_word(t) for t in tokens)
    english = _english_words(text)
    if english is not None:
        return _english_question(text, english)
    return None


# ----------------------------------------------------------------- counts


def answer_occurrences(context: str, answer: str | None) -> int | None:
    """How many times the exact ``answer`` text occurs in ``context`` (overlapping occurrences
    count); None for a missing or empty answer. More than one means the text alone does not tell
    which occurrence is meant."""
    if not answer:
        return None
    return len(find_all(context, answer))


def text_length(text: str | None, unit: LengthUnit) -> int:
    """Length of ``text`` in code points (``chars``) or whitespace-separated words (``words``:
    eojeol in Korean; for Chinese, Japanese or Thai, which write no spaces between words, use
    ``chars``). None counts 0."""
    if not text:
        return 0
    return len(text) if unit == "chars" else len(text.split())


def question_key(question: str) -> str:
    """``question`` after NFC, whitespace folding and case folding, without trailing question marks
    and periods: two questions with the same key ask the same thing."""
    key = normalize_text(question, ("nfc", "whitespace")).casefold()
    return key.rstrip("".join(QUESTION_MARKS) + ".!。 ").strip()
