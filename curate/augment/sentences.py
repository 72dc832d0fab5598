"""Sentence splitting for Korean and English text, as code-point spans that cover the text.

:func:`sentence_spans` cuts after a sentence end followed by whitespace and after every line
break. A sentence end is a run of ``. ? ! …`` (then optional closing quotes or brackets), or a
run of the full-width ``。 ？ ！``, which needs no whitespace after it (Chinese and Japanese write
none). Korean endings such as ``다.`` and ``요.`` are ordinary periods. A period does not end a
sentence when:

- it is part of a number or a date: the character before it is a digit and the next word starts
  with a digit (``3.5``, ``2019. 3. 1``), or it ends a date (``2019. 3. 1. 개통``);
- it ends a known abbreviation (``Mr.``, ``Dr.``, ``e.g.``, ``etc.``, ``vs.``, month names ...), an
  initial (``J. Smith``) or a dotted acronym (``U.S.``, ``U.N.``);
- the next word starts with a lower-case Latin letter (``approx. five``), which rarely starts a
  sentence.

Each span holds one sentence plus the whitespace after it; whitespace at the start of the text
belongs to the first span. The spans are contiguous, so ``"".join(text[s:e] for s, e in spans)``
is the text. :func:`core` trims a span to its sentence without the surrounding whitespace.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al"),
        *("approx", "dept", "est", "fig", "figs", "no", "nos", "vol", "vols", "pp", "p", "ed", "eds"),
        *("inc", "ltd", "co", "corp", "gen", "gov", "sen", "rep", "col", "lt", "capt", "sgt", "ave", "blvd"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("u.s", "u.k", "u.n", "a.m", "p.m", "ph.d"),
    }
)
"""Lower-cased words (inner periods kept) after which a period does not end a sentence."""

_CLOSERS = "\"'”’)\\]」』〉》"
_END_RE = re.compile(rf"[.?!…]+[{_CLOSERS}]*(?=\s)|[。？！]+[{_CLOSERS}]*|\n")
_SPACE_RE = re.compile(r"\s*")
_WORD_BEFORE_RE = re.compile(r"(\S*)$")
_ACRONYM_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]$")
_LOOK_BEHIND = 64  # characters searched back for the word before a period (abbreviations are short)
_DATE_RE = re.compile(r"(?<!\d)\d{2,4}\. ?\d{1,2}\. ?\d{1,2}$")


def _is_abbreviation(word: str) -> bool:
    """True when ``word`` (the text of the word before a final period, period excluded) is an
    abbreviation, an initial or a dotted acronym."""
    word = word.lstrip("\"'“‘([「『〈《")
    if not word:
        return False
    if word.lower() in ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha() and word.isascii() and word.isupper():
        return True  # an initial: J. Smith
    return bool(_ACRONYM_RE.fullmatch(word))


def _ends_sentence(text: str, match: re.Match[str], after: int) -> bool:
    """Whether the terminator ``match`` ends a sentence; ``after`` is where the next word starts."""
    mark = match.group(0)
    if mark == "\n" or mark.rstrip(_CLOSERS) != ".":
        return True  # line breaks, ?, !, ellipses, runs such as "?!" or "..", full-width marks
    dot = match.start()
    following = text[after] if after < len(text) else ""
    if dot > 0 and text[dot - 1].isdigit() and (following.isdigit() or _DATE_RE.search(text, max(0, dot - 16), dot)):
        return False
    if following.isascii() and following.islower():
        return False
    word = _WORD_BEFORE_RE.search(text, max(0, dot - _LOOK_BEHIND), dot)
    return not (word is not None and _is_abbreviation(word.group(1)))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Contiguous ``(start, end)`` spans covering ``text``, one per sentence (with the whitespace
    after it). An empty text has no spans; a text of only whitespace is one span."""
    n = len(text)
    if n == 0:
        return []
    cuts: list[int] = []
    for match in _END_RE.finditer(text):
        after = _SPACE_RE.match(text, match.end()).end()  # type: ignore[union-attr]
        if after >= n or (cuts and cuts[-1] >= after):
            continue
        if _ends_sentence(text, match, after):
            cuts.append(after)
    bounds = [0, *cuts, n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]


def core(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` shrunk so it neither starts nor ends with whitespace (empty when only
    whitespace: ``(end, end)``)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else (end, end)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` without surrounding whitespace (empty pieces left out)."""
    out = []
    for start, end in sentence_spans(text):
        s, e = core(text, start, end)
        if s < e:
            out.append(text[s:e])
    return out
