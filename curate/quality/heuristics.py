"""Text statistics behind the quality stages: pure functions, one text in, one named tuple out.

Every function takes a ``str`` and returns the statistics a stage stores as score columns; none
of them knows a threshold. They are written for speed in pure Python (one pass over the words or
lines, precompiled regular expressions, early exits for texts too short to repeat anything), since
they run over hundreds of thousands of short reviews as well as long documents.

Units
-----
- **characters**: Unicode code points.
- **words**: whitespace-separated tokens (``str.split``), i.e. *eojeol* in Korean. For the Gopher
  word statistics a token is stripped of leading and trailing punctuation and symbols
  (:data:`EDGE_PUNCT`) and dropped when nothing is left (``"-"``, ``"..."``, ``"^^"``).
- **lines**: ``str.splitlines`` pieces, stripped; empty lines are ignored.
- **paragraphs**: pieces between blank lines (a newline, optional whitespace, a newline).
- **letters**: characters of Unicode category L* (``[^\\W\\d_]``): Hangul, Latin, Han, Kana ...
- **Hangul**: syllables U+AC00-U+D7A3, conjoining jamo U+1100-U+11FF and the extended blocks
  U+A960-U+A97F / U+D7B0-U+D7FF, compatibility jamo U+3131-U+318E, half-width jamo U+FFA0-U+FFDC.
- **bare jamo**: compatibility jamo U+3131-U+318E (``ㅋ``, ``ㅎ``, ``ㅠ``, ``ㄷ`` ...), what a
  keyboard produces for a consonant or vowel typed on its own.
- **Hangul-dominant**: Hangul is at least :data:`KOREAN_MIN_HANGUL` (0.5) of the letters. The few
  statistics whose *definition* differs for Korean (C4 short lines, FineWeb short lines) use this
  fixed cut-off; the stages whose *thresholds* differ store the Hangul share and let the user move
  the cut-off.

Korean adaptations (measured on ``../shared/data``; the stage docstrings cite the published rules)
--------------------------------------------------------------------------------------------------
- **Sentence ends** (:func:`ends_sentence`). C4 keeps lines ending in ``.``, ``!``, ``?`` or a
  closing quote and drops lines ending in ``...`` (truncated snippets). Accepted here as well:
  the full-width and ideographic marks ``．！？。``, the closing quotes ``”’」』``, the typographic
  ellipses ``…`` and ``⋯`` after a Hangul syllable (a common sentence end in Korean prose, as in
  ``그날 밤…``; ``Read more…`` stays cut, though a Korean ``더보기…`` passes), and a Korean final ending
  without punctuation: the last syllable is one of :data:`KOREAN_FINAL_ENDINGS` (다 요 죠 까 네 냐,
  covering 다/니다/습니다, 요/세요/네요, 죠, 까/습니까, 네, 냐). Dots, ellipses, ``!``/``?`` after
  such an ending are accepted too (``좋았다...``), unlike an English ``...``. Before the check,
  trailing decoration is ignored: whitespace, ``~``, ``^``, ``;``, hearts and stars, and the bare
  jamo ``ㅋ ㅎ ㅠ ㅜ ㅡ`` (``재밌다ㅋㅋ`` and ``좋아요~~`` end sentences). Not accepted: the nominal
  endings 음/함/임/됨 and the informal 지/니/나/라/자/어/아/해, because they also end menu and
  navigation items (다음, 보관함, 게임, 홈페이지, 장바구니, 관리자, 미디어, 이해) that these rules exist
  to catch. In NSMC reviews, after decoration and trailing punctuation are removed, 다 ends
  25.7 % and 요 8.4 % of reviews; the excluded 음 3.4 %, 함 1.2 %, 임 0.8 %.
- **Sentences** (:func:`count_sentences`): runs of ``. ! ? 。 ． ！ ？ … ⋯`` (plus closing quotes)
  followed by whitespace or the end of the line, plus one for a line that ends in a Korean final
  ending without punctuation. An approximation of C4's Punkt splitter without a model: ``Mr.``
  counts as a sentence end; ``3.5`` and a number before the mark (``1.`` in a numbered list, but
  also a sentence ending in ``2007.``) do not.
- **C4 short lines**: a line is short below 3 words, or below 2 eojeol when the text is
  Hangul-dominant. In the Leipzig news sentences (``langid/sentences``), 2.0 % of Korean sentences
  have fewer than 3 eojeol against 0.0 % of English sentences with fewer than 3 words; none of
  either has fewer than 2.
- **FineWeb short lines**: at most 30 characters, or at most 16 characters when the text is
  Hangul-dominant. Korean sentences are about 0.54 of the length of English ones in characters
  (Leipzig news sentences: median 54 against 101 characters, mean 61 against 108); 30 x 0.54 = 16.
  At 30 characters 20.6 % of Korean news sentences would count as short, at 16 characters 5.0 %
  (English sentences at 30: 2.7 %).
- **Ellipsis**: ``…`` and ``⋯`` (U+22EF, which Korean input methods produce) count like ``...``.
  Two dots (``..``), a very common pause in informal Korean, do not. A run (``......``, ``……``)
  counts once.
- **Bullets** (:data:`BULLETS`): besides ``•`` and ``-``/``*``, the list markers of Korean
  typography ``ㆍ · ○ ● ◎ ■ □ ▪ ◆ ◇ ▶ ▷ ► ※``.
- **Letters**: a word "has a letter" when it contains any Unicode letter, so Hangul words count
  (an ASCII-only test would call every Korean word non-alphabetic).
- **Function words**: :func:`gopher_quality_stats` counts English stop words for every text and,
  for Korean, the share of eojeol (ending in a Hangul syllable) whose last syllable is a common
  particle or ending (:data:`KOREAN_FUNCTION_FINALS`); the stage decides which rule applies.
- **Repeated characters** (:func:`korean_stats`): the longest run of one letter or of one
  two-letter unit, jamo included (``ㅋㅋㅋㅋㅋ``, ``ㅠㅠㅠ``, ``하하하하``, ``ㅋㅎㅋㅎ``, ``oooo``).
  Punctuation, symbols, digits and whitespace never make a run: ``.....``, ``!!!!!`` and ``~~~~``
  are how ordinary reviews pause or stress (in NSMC, 1,740 of the 2,472 reviews a run of any
  character above 10 rejected had only a punctuation run, like ``정말 재밌는 영화다..............``),
  and ``1000000`` is a number.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

KOREAN_MIN_HANGUL = 0.5
"""Hangul share of letters at or above which a text counts as Hangul-dominant."""

_HANGUL_CLASS = "\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\uffa0-\uffdc"
_NOT_HANGUL = re.compile(f"[^{_HANGUL_CLASS}]+")
_NOT_LETTER = re.compile(r"[\W\d_]+")
_LETTER = re.compile(r"[^\W\d_]")
_NOT_JAMO = re.compile("[^\u3131-\u318e]+")
_WHITESPACE = re.compile(r"\s+")

EDGE_PUNCT = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "…⋯·ㆍ‘’“”‚„«»‹›「」『』《》〈〉【】〔〕〖〗、。，．！？：；～〜–—―•※♥♡☆★♪♬◆◇○●■□▲△▶▷◀◁"
)
"""Characters stripped from both ends of a token before it counts as a Gopher word."""

BULLETS = ("•", "‣", "⁃", "◦", "∙", "·", "ㆍ", "○", "●", "◎", "■", "□", "▪", "▫", "◆", "◇", "▶", "▷", "►", "▸", "※",
           "-", "*", "–", "—")  # fmt: skip
"""Line starts that count as a bullet point (after leading whitespace)."""

ELLIPSES = ("...", "…", "⋯")
_ELLIPSIS_RUN = re.compile(r"\.{3,}|[…⋯]+")

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
"""Gopher's English stop words (Rae et al. 2021, appendix A)."""

KOREAN_FUNCTION_FINALS = frozenset("은는이가을를의에로와과도만께서고며면다요죠네까지게니데야랑나")
"""Last syllables of eojeol that are (mostly) a particle or a verbal ending: case and topic
particles 은 는 이 가 을 를 의 에 로 와 과 도 만 께 서 랑 야 나, connective and final endings 고 며 면 다 요
죠 네 까 지 게 니 데."""

KOREAN_FINAL_ENDINGS = frozenset("다요죠까네냐")
"""Last syllables that end a Korean sentence without punctuation."""

_TERMINAL_MARKS = frozenset(".!?。．！？…⋯\"'”’」』")
_DECORATION = " \t\u3000~^;♥♡☆★ㅋㅎㅠㅜㅡ"
_AFTER_ENDING = ".!?…⋯。．！？"
_SENTENCE_END = re.compile(r"[^\s\d][.!?。．！？…⋯]+[\"'”’」』)]*(?=\s|$)")
_PARAGRAPH_SPLIT = re.compile(r"\n[^\S\n]*\n\s*")
_RUN1 = re.compile(r"([^\W\d_])\1+")  # letters only (jamo are letters)
_RUN2 = re.compile(r"([^\W\d_]{2})\1+")

_JAVASCRIPT = ("javascript", "자바스크립트")
_POLICY = re.compile(
    "terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
    "|이용약관|개인정보\\s?처리\\s?방침|개인정보\\s?취급\\s?방침|쿠키\\s?정책|쿠키를\\s?사용|쿠키\\s?사용"
)
"""C4's policy phrases (TensorFlow Datasets ``c4_utils``) and their Korean counterparts."""


# ----------------------------------------------------------------- building blocks


def letter_count(text: str) -> int:
    """Number of Unicode letters."""
    return len(_NOT_LETTER.sub("", text))


def hangul_count(text: str) -> int:
    """Number of Hangul characters (syllables and jamo)."""
    return len(_NOT_HANGUL.sub("", text))


def hangul_ratio(text: str) -> float:
    """Hangul share of the letters (0.0 without letters)."""
    letters = letter_count(text)
    return hangul_count(text) / letters if letters else 0.0


def is_hangul_dominant(text: str) -> bool:
    """True when Hangul is at least :data:`KOREAN_MIN_HANGUL` of the letters."""
    return hangul_ratio(text) >= KOREAN_MIN_HANGUL


def nonblank_lines(text: str) -> list[str]:
    """Stripped lines, empty ones dropped."""
    return [s for s in (line.strip() for line in text.splitlines()) if s]


def ends_sentence(line: str, *, ellipsis_ends: bool = False) -> bool:
    """Whether a (stripped) line ends a sentence, Korean endings included (see module docstring).

    ``ellipsis_ends``: whether any trailing ellipsis ends a sentence (C4: no, FineWeb: yes); without
    it ``...`` ends one only after a Korean final ending, and ``…``/``⋯`` after a Hangul syllable."""
    tail = line[-24:].rstrip(_DECORATION)
    if not tail:
        return False
    core = tail.rstrip(_AFTER_ENDING)
    if core and core[-1] in KOREAN_FINAL_ENDINGS:
        return True
    last = tail[-1]
    if last not in _TERMINAL_MARKS or ellipsis_ends:
        return last in _TERMINAL_MARKS
    if last in "…⋯":
        before = tail.rstrip("…⋯")
        return bool(before) and "\uac00" <= before[-1] <= "\ud7a3"
    return last != "." or not tail.endswith("...")


def count_sentences(line: str) -> int:
    """Approximate number of sentences in a line (see module docstring)."""
    found = len(_SENTENCE_END.findall(line))
    tail = line[-24:].rstrip(_DECORATION)
    if tail and tail[-1] in KOREAN_FINAL_ENDINGS:
        found += 1
    return found


def longest_repeat_run(text: str) -> int:
    """Length in characters of the longest run of one repeated letter or repeated two-letter unit
    (jamo count as letters; punctuation, symbols, digits and whitespace never run); 1 for a
    non-empty text without runs."""
    best = 1 if text.strip() else 0
    for match in _RUN1.finditer(text):
        n = match.end() - match.start()
        if n > best:
            best = n
    for match in _RUN2.finditer(text):
        n = match.end() - match.start()
        if n > best:
            best = n
    return best


def _duplicates(pieces: list[str]) -> tuple[int, int]:
    """``(pieces that repeat an earlier piece, their characters)``."""
    seen: set[str] = set()
    count = chars = 0
    for piece in pieces:
        if piece in seen:
            count += 1
            chars += len(piece)
        else:
            seen.add(piece)
    return count, chars


# ----------------------------------------------------------------- Gopher quality


class GopherQualityStats(NamedTuple):
    word_count: int
    """Words (tokens with something besides punctuation)."""
    mean_word_length: float
    """Mean length of the words in characters, edge punctuation stripped."""
    symbol_ratio: float
    """The larger of ``#`` per word and ellipses (``...``, ``…``, ``⋯`` runs) per word."""
    bullet_lines_ratio: float
    """Share of lines starting with a bullet point."""
    ellipsis_lines_ratio: float
    """Share of lines ending with an ellipsis."""
    alpha_words_ratio: float
    """Share of words with at least one Unicode letter."""
    stop_words: int
    """Distinct Gopher English stop words present."""
    function_word_ratio: float
    """Share of Hangul-final eojeol whose last syllable is a common particle or ending."""
    hangul_ratio: float
    """Hangul share of the letters."""


def gopher_quality_stats(text: str) -> GopherQualityStats:
    """Statistics of Gopher's quality filter (Rae et al. 2021, appendix A), Korean-aware."""
    words = 0
    length = 0
    alpha = 0
    stops: set[str] = set()
    hangul_final = 0
    function = 0
    has_letter = _LETTER.search
    for token in text.split():
        word = token.strip(EDGE_PUNCT)
        if not word:
            continue
        words += 1
        length += len(word)
        if has_letter(word):
            alpha += 1
        last = word[-1]
        if "\uac00" <= last <= "\ud7a3":
            hangul_final += 1
            if last in KOREAN_FUNCTION_FINALS:
                function += 1
        elif len(word) <= 4 and word.lower() in STOP_WORDS:
            stops.add(word.lower())
    per_word = max(words, 1)
    ellipsis_runs = len(_ELLIPSIS_RUN.findall(text)) if ("." in text or "…" in text or "⋯" in text) else 0
    symbols = max(text.count("#"), ellipsis_runs)
    lines = nonblank_lines(text)
    bullet_lines = ellipsis_lines = 0
    for line in lines:
        if line.startswith(BULLETS):
            bullet_lines += 1
        if line.endswith(ELLIPSES):
            ellipsis_lines += 1
    n_lines = max(len(lines), 1)
    letters = letter_count(text)
    return GopherQualityStats(
        word_count=words,
        mean_word_length=length / words if words else 0.0,
        symbol_ratio=symbols / per_word,
        bullet_lines_ratio=bullet_lines / n_lines,
        ellipsis_lines_ratio=ellipsis_lines / n_lines,
        alpha_words_ratio=alpha / words if words else 0.0,
        stop_words=len(stops),
        function_word_ratio=function / hangul_final if hangul_final else 0.0,
        hangul_ratio=hangul_count(text) / letters if letters else 0.0,
    )


# ----------------------------------------------------------------- Gopher repetition

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)


class GopherRepetitionStats(NamedTuple):
    dup_line_frac: float
    """Share of lines that repeat an earlier line."""
    dup_para_frac: float
    """Share of paragraphs that repeat an earlier paragraph."""
    dup_line_char_frac: float
    """Share of line characters in lines that repeat an earlier line."""
    dup_para_char_frac: float
    """Share of paragraph characters in paragraphs that repeat an earlier paragraph."""
    top_2gram_frac: float
    """Share of word characters covered by the most frequent word 2-gram (0 when it occurs once)."""
    top_3gram_frac: float
    top_4gram_frac: float
    dup_5gram_frac: float
    """Share of word characters inside word 5-grams that repeat an earlier 5-gram (each character
    counted once)."""
    dup_6gram_frac: float
    dup_7gram_frac: float
    dup_8gram_frac: float
    dup_9gram_frac: float
    dup_10gram_frac: float


def gopher_repetition_stats(text: str) -> GopherRepetitionStats:
    """Statistics of Gopher's repetition filter (Rae et al. 2021, appendix A, table A1) over
    lines, paragraphs and whitespace words (eojeol in Korean)."""
    stripped = text.strip()
    lines = nonblank_lines(stripped)
    line_count, line_dup_chars = _duplicates(lines) if len(lines) > 1 else (0, 0)
    line_chars = sum(map(len, lines)) if line_count else 1
    if "\n" in stripped:
        paragraphs = [p for p in (piece.strip() for piece in _PARAGRAPH_SPLIT.split(stripped)) if p]
    else:
        paragraphs = [stripped] if stripped else []
    para_count, para_dup_chars = _duplicates(paragraphs) if len(paragraphs) > 1 else (0, 0)
    para_chars = sum(map(len, paragraphs)) if para_count else 1
    head = (
        line_count / len(lines) if lines else 0.0,
        para_count / len(paragraphs) if paragraphs else 0.0,
        line_dup_chars / line_chars,
        para_dup_chars / para_chars,
    )
    words = stripped.split()
    if len(set(words)) == len(words):  # nothing repeats: no n-gram occurs twice
        return GopherRepetitionStats(*head, *([0.0] * (len(TOP_NGRAMS) + len(DUP_NGRAMS))))
    lengths = [len(w) for w in words]
    total = sum(lengths)
    top = [_top_ngram_frac(words, lengths, n, total) for n in TOP_NGRAMS]
    dup: list[float] = []
    for n in DUP_NGRAMS:
        frac = _dup_ngram_frac(words, lengths, n, total) if not dup or dup[-1] > 0 else 0.0
        dup.append(frac)  # no repeated n-gram means no repeated (n+1)-gram
    return GopherRepetitionStats(*head, *top, *dup)


def _top_ngram_frac(words: list[str], lengths: list[int], n: int, total: int) -> float:
    if len(words) < n + 1:
        return 0.0
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, count = counts.most_common(1)[0]
    if count < 2:
        return 0.0
    return min(1.0, count * sum(len(w) for w in gram) / total)


def _dup_ngram_frac(words: list[str], lengths: list[int], n: int, total: int) -> float:
    if len(words) < n + 1:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    covered = bytearray(len(words))
    found = False
    for i, gram in enumerate(zip(*(words[k:] for k in range(n)), strict=False)):
        if gram in seen:
            covered[i : i + n] = b"\x01" * n
            found = True
        else:
            seen.add(gram)
    if not found:
        return 0.0
    return sum(length for length, flag in zip(lengths, covered, strict=True) if flag) / total


# ----------------------------------------------------------------- C4


class C4Stats(NamedTuple):
    terminal_punct_ratio: float
    """Share of lines ending a sentence (C4's terminal punctuation, Korean endings included)."""
    short_lines_ratio: float
    """Share of lines with fewer than 3 words (2 eojeol for Hangul-dominant text)."""
    javascript_lines_ratio: float
    """Share of lines mentioning ``javascript`` (any case) or ``자바스크립트``."""
    policy_lines_ratio: float
    """Share of lines with a policy phrase (terms of use, privacy/cookie policy; Korean too)."""
    sentences: int
    """Sentences in the lines C4 keeps (terminal, long enough, no javascript, no policy)."""
    lorem_ipsum: bool
    """The text contains ``lorem ipsum`` (any case)."""
    curly_bracket: bool
    """The text contains ``{``."""


def c4_stats(text: str) -> C4Stats:
    """Statistics of C4's cleaning rules (Raffel et al. 2020, section 2.2), one per rule."""
    lower = text.lower()
    lines = nonblank_lines(lower)
    min_words = 2 if is_hangul_dominant(text) else 3
    terminal = short = javascript = policy = sentences = 0
    for line in lines:
        ends = ends_sentence(line)
        few = len(line.split()) < min_words
        script = _JAVASCRIPT[0] in line or _JAVASCRIPT[1] in line
        phrase = _POLICY.search(line) is not None
        terminal += ends
        short += few
        javascript += script
        policy += phrase
        if ends and not (few or script or phrase):
            sentences += count_sentences(line)
    n = max(len(lines), 1)
    return C4Stats(
        terminal_punct_ratio=terminal / n if lines else 0.0,
        short_lines_ratio=short / n,
        javascript_lines_ratio=javascript / n,
        policy_lines_ratio=policy / n,
        sentences=sentences,
        lorem_ipsum="lorem ipsum" in lower,
        curly_bracket="{" in text,
    )


# ----------------------------------------------------------------- FineWeb


class FineWebStats(NamedTuple):
    line_punct_ratio: float
    """Share of lines ending a sentence (``...`` counts; Korean endings included)."""
    short_line_ratio: float
    """Share of lines of at most 30 characters (16 for Hangul-dominant text)."""
    dup_line_char_ratio: float
    """Characters in lines that repeat an earlier line, over all non-newline characters."""
    list_ratio: float
    """Newlines per word."""


def fineweb_stats(text: str) -> FineWebStats:
    """Statistics of FineWeb's own filters (Penedo et al. 2024, section 3.5)."""
    stripped = text.strip()
    lines = nonblank_lines(stripped)
    short_length = 16 if is_hangul_dominant(stripped) else 30
    punct = short = 0
    for line in lines:
        if ends_sentence(line, ellipsis_ends=True):
            punct += 1
        if len(line) <= short_length:
            short += 1
    n = max(len(lines), 1)
    newlines = stripped.count("\n")
    _, dup_chars = _duplicates(lines) if len(lines) > 1 else (0, 0)
    chars = len(stripped) - newlines
    return FineWebStats(
        line_punct_ratio=punct / n if lines else 0.0,
        short_line_ratio=short / n if lines else 0.0,
        dup_line_char_ratio=dup_chars / chars if chars else 0.0,
        list_ratio=newlines / max(len(stripped.split()), 1),
    )


# ----------------------------------------------------------------- Korean


class KoreanStats(NamedTuple):
    hangul_ratio: float
    """Hangul share of the letters."""
    hangul_char_ratio: float
    """Hangul share of the non-whitespace characters."""
    jamo_ratio: float
    """Bare compatibility jamo (U+3131-U+318E) share of the non-whitespace characters."""
    repeat_char_run: int
    """Longest run of one repeated letter or two-letter unit (jamo included, punctuation not)."""


def korean_stats(text: str) -> KoreanStats:
    """Korean web-text statistics: Hangul shares, bare jamo (ㅋㅋ, ㅠㅠ) and repeated runs."""
    chars = len(_WHITESPACE.sub("", text))
    letters = letter_count(text)
    hangul = hangul_count(text)
    jamo = len(_NOT_JAMO.sub("", text)) if hangul else 0
    return KoreanStats(
        hangul_ratio=hangul / letters if letters else 0.0,
        hangul_char_ratio=hangul / chars if chars else 0.0,
        jamo_ratio=jamo / chars if chars else 0.0,
        repeat_char_run=longest_repeat_run(text),
    )
