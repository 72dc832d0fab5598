"""Answer variants: the forms an answer takes in other passages (pure functions).

Answers and passages are compared as *keys*: NFKC (full-width and compatibility forms become the
plain ones), case folded, with every punctuation mark, space and control or format character
removed (:func:`answer_key`). So ``아미 (ARMY)``, ``아미(army)`` and ``아미（ＡＲＭＹ）`` share one key,
``1,600`` meets ``1600``, ``서울 대학교`` meets ``서울대학교`` and ``《圣经》`` meets ``圣经``. Symbols
(``$``, ``°``, ``+``) stay, and so does a mark other than ``.`` or ``,`` between two digits: the score
``20–18`` and the time ``3:08`` are not the numbers ``2018`` and ``308``.

:func:`answer_variants` gives the keys of one answer: the whole answer, the answer without its
round-bracketed parts, and the bracketed part it ends with (an alias, acronym or translation). A
bracket followed by more text qualifies a word of the answer and is only left out; nested
brackets stay inside their group; unbalanced brackets split nothing::

    answer_variants("아미(ARMY)")        -> ("아미army", "아미", "army")
    answer_variants("DTIME(f(n))")      -> ("dtimefn", "dtime")            # 'fn' is too short
    answer_variants("1,600 mm (5 ft) gauge") -> ("1600mm5ftgauge", "1600mmgauge")

A key must be long enough not to guard nearly every passage: at least 2 characters when it holds a
Hangul, Han or kana character (each one a syllable or a morpheme: ``아미``, ``北京``), at least 3
otherwise (``usa``, ``270``). Shorter keys (``미``, ``京``, ``us``, ``19``, ``f``) are never variants
(:data:`MIN_KEY_CHARS`).

:class:`KeyedText` prepares a passage for :meth:`KeyedText.contains`. An edge of a key that is a
letter or digit of a script written with spaces between words (Latin, Cyrillic, Greek, Arabic,
digits ...) must be a word edge in the passage: ``arts`` is in ``the (ARTS) board`` but not in
``parts``, ``ama`` not in ``Amazon``, ``2000`` not in ``20,000``. An edge in Hangul, Han, kana, Thai,
Lao, Khmer or Myanmar (scripts written without spaces between words, or whose words take
particles) matches anywhere: ``아미`` is in ``아미는``.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

MIN_KEY_CHARS = {"dense": 2, "other": 3}
"""Shortest variant key: ``dense`` when the key holds a Hangul, Han or kana character, else
``other``."""

_DENSE_RANGES = (
    (0x1100, 0x11FF), (0x3040, 0x30FF), (0x3130, 0x318F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFFDC), (0x20000, 0x3134F),
)  # fmt: skip
"""Hangul (syllables and jamo), Han and kana."""
_UNSPACED_RANGES = (*_DENSE_RANGES, (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF))
"""Scripts whose words are not separated by spaces, or take particles: the dense ones plus Thai,
Lao, Myanmar and Khmer."""
_DENSE_CHAR = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _DENSE_RANGES) + "]")


class _Tables(NamedTuple):
    dropped: np.ndarray  # bool per code point: punctuation (P*), separator (Z*), control (Cc), format (Cf)
    spaced: np.ndarray  # bool per code point: a letter or digit of a script written with spaces
    digit: np.ndarray  # bool per code point: a decimal digit (Nd)
    space: np.ndarray  # bool per code point: whitespace


@functools.cache
def _tables() -> _Tables:
    """Character classes per code point; beyond U+1FFFF only the tag characters (Cf) are dropped and
    no character is spaced."""
    dropped = np.zeros(sys.maxunicode + 1, bool)
    spaced = np.zeros(sys.maxunicode + 1, bool)
    categories = [unicodedata.category(chr(cp)) for cp in range(0x20000)]
    dropped[:0x20000] = [c[0] in "PZ" or c in ("Cc", "Cf") for c in categories]
    spaced[:0x20000] = [chr(cp).isalnum() for cp in range(0x20000)]
    dropped[0xE0000:0xE0080] = True
    for first, last in _UNSPACED_RANGES:
        spaced[first : last + 1] = False
    digit = np.zeros(sys.maxunicode + 1, bool)
    digit[:0x20000] = [c == "Nd" for c in categories]
    space = np.zeros(sys.maxunicode + 1, bool)
    space[:0x20000] = [chr(cp).isspace() for cp in range(0x20000)]
    return _Tables(dropped, spaced, digit, space)


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), np.uint32)


def _text(codepoints: np.ndarray) -> str:
    return codepoints.astype(np.uint32).tobytes().decode("utf-32-le")


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def answer_key(text: str | None) -> str:
    """NFKC, case folded, punctuation, spaces and control/format characters removed, except a mark
    other than ``.`` or ``,`` between two digits (``20–18``, ``3:08`` and ``1/2`` stay apart from
    ``2018``, ``308`` and ``12``)."""
    return KeyedText.of(text).key


def long_enough(key: str) -> bool:
    """Whether ``key`` is long enough to be a variant (:data:`MIN_KEY_CHARS`)."""
    dense = _DENSE_CHAR.search(key) is not None
    return len(key) >= MIN_KEY_CHARS["dense" if dense else "other"]


def _parenthetical(text: str) -> tuple[str, str | None] | None:
    """``(text outside the round brackets, the last bracketed part when the text ends with it)``;
    None when the text has no brackets or unbalanced ones. Nested brackets stay in their group."""
    outside: list[str] = []
    part: list[str] = []
    depth = 0
    trailing = None
    for char in text:
        if char == "(":
            if depth:
                part.append(char)
            depth += 1
        elif char == ")":
            if not depth:
                return None
            depth -= 1
            if depth:
                part.append(char)
            else:
                trailing, part = "".join(part), []
        elif depth:
            part.append(char)
        else:
            outside.append(char)
            if not char.isspace():
                trailing = None  # text after the group: it qualifies a word inside the answer
    if depth or len(outside) == len(text):
        return None
    return "".join(outside), trailing


def answer_variants(answer: str | None) -> tuple[str, ...]:
    """The keys an answer may take in a passage (see the module docstring): the whole answer, the
    answer without its bracketed parts, and the bracketed part it ends with; distinct, each long
    enough."""
    if not answer:
        return ()
    text = _folded(answer)
    forms = [text]
    split = _parenthetical(text)
    if split is not None:
        outside, trailing = split
        forms += [outside] if trailing is None else [outside, trailing]
    keys = (answer_key(form) for form in forms)
    return tuple(dict.fromkeys(key for key in keys if key and long_enough(key)))


@dataclass(frozen=True)
class KeyedText:
    """A passage prepared for :meth:`contains`: its ``key`` (:func:`answer_key`) and, one byte per
    key character, whether a word starts there (``starts``) and ends there (``ends``).

    A word of a space-separated script starts where the character before is not one of its
    letters or digits, and ends where the character after is not; a number also goes on over one
    ``.`` or ``,`` between digits (``1,900,000``, ``19.3``)."""

    key: str
    starts: bytes
    ends: bytes

    @classmethod
    def of(cls, text: str | None) -> KeyedText:
        if not text:
            return cls("", b"", b"")
        tables = _tables()
        cps = _codepoints(_folded(text))
        padded = np.concatenate([[0, 0], cps, [0, 0]]).astype(np.int64)  # NUL: no letter, no digit
        spaced, digit = tables.spaced[padded], tables.digit[padded]
        separator = (padded == ord(".")) | (padded == ord(","))
        middle = slice(2, len(padded) - 2)
        before = slice(1, len(padded) - 3)
        after = slice(3, len(padded) - 1)
        number_before = separator[before] & digit[:-4] & digit[middle]
        number_after = separator[after] & digit[4:] & digit[middle]
        starts = ~(spaced[before] | number_before)
        ends = ~(spaced[after] | number_after)
        between_digits = digit[before] & digit[after] & ~separator[middle] & ~tables.space[cps]
        kept = ~tables.dropped[cps] | between_digits
        return cls(_text(cps[kept]), starts[kept].astype(np.uint8).tobytes(), ends[kept].astype(np.uint8).tobytes())

    def contains(self, key: str) -> bool:
        """Whether ``key`` occurs in the passage as whole words at its edges that are letters or
        digits of a space-separated script (``arts`` is in ``the (ARTS) board`` but not in
        ``parts``, ``2000`` not in ``20,000``); anywhere at edges of other scripts (``아미`` is in
        ``아미는``)."""
        if not key:
            return False
        tables = _tables()
        check_start, check_end = tables.spaced[ord(key[0])], tables.spaced[ord(key[-1])]
        at = self.key.find(key)
        while at >= 0:
            if (not check_start or self.starts[at]) and (not check_end or self.ends[at + len(key) - 1]):
                return True
            at = self.key.find(key, at + 1)
        return False
