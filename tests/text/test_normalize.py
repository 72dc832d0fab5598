from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest

import curate.text.normalize as norm_mod
from curate.text.normalize import (
    DEFAULT_OPS,
    OPS,
    OffsetMap,
    apply_edits,
    normalize,
    normalize_text,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


OP_COMBOS: list[tuple[str, ...]] = [
    (),
    DEFAULT_OPS,
    ("html_tags",),
    ("html_entities",),
    ("control_chars",),
    ("nfc",),
    ("nfkc",),
    ("whitespace",),
    ("nfc", "whitespace"),
    ("whitespace", "nfc"),
    ("html_entities", "html_tags", "control_chars", "nfkc", "whitespace"),
    ("nfc", "nfkc", "whitespace", "whitespace"),
]

TRICKY: list[str] = [
    "",
    " ",
    "\t\n\u3000\xa0",
    "plain ascii text",
    "대한민국의 수도는 서울이다.",
    nfd("대한민국의 수도는 서울이다."),
    "  앞뒤  공백과\t탭\n줄바꿈  ",
    "<p>첫 문단</p><p>둘째 문단</p>",
    "줄<br>바꿈<br/>태그<BR />끝",
    '<a href="https://ko.wikipedia.org">위키백과</a> 링크',
    "<table><tr><td>이름</td><td>값</td></tr></table>",
    "3 < 5 and 7 > 2",
    "x<y and y>z",
    "AT&amp;T 와 &quot;따옴표&quot; 그리고 &#39;작은&#x27;",
    "공백&nbsp;&nbsp;엔티티 &unknown; &amp 미완성",
    "제어\x00문자\x07와 \x1b삭제\x7f\x85 C1",
    "zero\u200bwidth\u200cjoin\u200ders\u2060and\ufeffBOM",
    "caf" + "e\u0301" + " na" + "i\u0308ve",
    "㈜삼성전자 ﬁnance １２３억 Ａｂｃ",
    "서울\u3000특별시\xa0종로구",
    "한국어 English 混合 text 123",
    "<!-- comment -->본문<!DOCTYPE html>",
    "\u1100\u1161\u11a8\u1100\u1161",
    "가\u11a8 결합",
    "emoji 👩\u200d💻 and 🇰🇷",
    "ㅋㅋㅋ ㅏ 단독 자모",
    "<b>굵게</b><i>기울임</i>",
]


def _random_unit(rng: random.Random) -> str:
    """One 'letter': ASCII, NFC syllable, NFD syllable or accented Latin."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice("abcdefghijklmnopqrstuvwxyzABCXYZ")
    syllable = chr(0xAC00 + rng.randrange(11172))
    if kind == 1:
        return syllable
    if kind == 2:
        return nfd(syllable)
    if kind == 3:
        return rng.choice("aeiouAEIOU") + rng.choice("\u0301\u0300\u0308\u0323\u0327")
    return rng.choice("éüñ가힣")


SEPARATORS = [
    " ",
    "  ",
    "\t",
    "\n",
    "\u3000",
    "\xa0",
    " \t ",
    "&amp;",
    "&nbsp;",
    "&#39;",
    "<b>",
    "</b>",
    "<br>",
    "<p>",
    "</p>",
    "\x00",
    "\x1f",
    "\u200b",
    "\ufeff",
    "\x85",
    ".",
    ",",
    "(",
    ")",
]


def _random_text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.6:
            parts.append("".join(_random_unit(rng) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


RANDOM_TEXTS = [_random_text(random.Random(seed)) for seed in range(120)]
ALL_TEXTS = TRICKY + RANDOM_TEXTS

_MARKUP_RE = re.compile(r"<[^<>]*>|&[#\w]*;")


def _is_clean_char(c: str) -> bool:
    return "가" <= c <= "힣" or (c.isascii() and c.isalpha())


def _attaches(c: str) -> bool:
    """Could ``c`` merge with the character before it under NFC/NFKC?"""
    return (
        unicodedata.combining(c) != 0
        or unicodedata.category(c) in ("Mn", "Mc", "Me")
        or "\u1100" <= c <= "\u11ff"
        or "\u3131" <= c <= "\u318e"
    )


def _clean_bounds(text: str) -> tuple[list[int], list[int]]:
    """Candidate answer starts/ends: on a clean char, outside markup, not split from marks."""
    inside = [False] * (len(text) + 1)
    for m in _MARKUP_RE.finditer(text):
        for k in range(m.start() + 1, m.end()):
            inside[k] = True
    starts = [i for i in range(len(text)) if _is_clean_char(text[i]) and not inside[i]]
    ends = [
        j
        for j in range(1, len(text) + 1)
        if _is_clean_char(text[j - 1]) and not inside[j] and (j == len(text) or not _attaches(text[j]))
    ]
    return starts, ends


def _check_map_invariants(omap: OffsetMap, n: int, m: int) -> None:
    assert omap.starts.shape == (n + 1,) == omap.ends.shape
    assert omap.starts.dtype == np.int64
    assert omap.starts[0] == omap.ends[0] == 0
    assert omap.starts[-1] == omap.ends[-1] == m
    assert np.all(np.diff(omap.starts) >= 0)
    assert np.all(np.diff(omap.ends) >= 0)
    assert np.all(omap.starts <= omap.ends)


@pytest.mark.parametrize("ops", OP_COMBOS, ids=lambda ops: "+".join(ops) or "none")
def test_normalize_matches_normalize_text(ops: tuple[str, ...]) -> None:
    for text in ALL_TEXTS:
        new, omap = normalize(text, ops)
        assert new == normalize_text(text, ops), repr(text)
        _check_map_invariants(omap, len(text), len(new))


@pytest.mark.parametrize("ops", OP_COMBOS, ids=lambda ops: "+".join(ops) or "none")
def test_mapped_spans_locate_normalized_answer(ops: tuple[str, ...]) -> None:
    rng = random.Random(7)
    checked = 0
    for text in ALL_TEXTS:
        new, omap = normalize(text, ops)
        starts, ends = _clean_bounds(text)
        pairs = [(i, j) for i in starts for j in ends if i < j]
        if len(pairs) > 60:
            pairs = rng.sample(pairs, 60)
        for i, j in pairs:
            s, e = omap.span(i, j)
            assert new[s:e] == normalize_text(text[i:j], ops), (text, i, j)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("ops", OP_COMBOS, ids=lambda ops: "+".join(ops) or "none")
def test_inverse_map_covers_new_spans(ops: tuple[str, ...]) -> None:
    for text in ALL_TEXTS[:60]:
        new, omap = normalize(text, ops)
        inv = omap.invert()
        assert inv.source_len == len(new) and inv.target_len == len(text)
        for k in range(len(new)):
            for length in (1, 2, 5):
                if k + length > len(new):
                    break
                i, j = inv.span(k, k + length)
                assert i < j
                s, e = omap.span(i, j)
                assert s <= k and e >= k + length


EXOTIC = (
    "\u1100\u1101\u1161\u1162\u11a8\u11a9\u3131\u314f\u3133\uac00\uac01\u0301\u0327\u0316\u0345"
    "\u05b0\u0f40\u0f71\u0f72\u0f73\u0f75\u0f80\uff76\uff9e\uff9f\u0b47\u0b3e\u0b57\u1025\u102e"
    "e\u212b\u0344\ufb01\u3239A\u030a\u00c5\u1e9b\u0323\u0307 \u0300\u0315\u031b\u0cc6\u0cd5\u0cc2"
    "\u0dd9\u0dca\u0dcf\u3099\u304b\u309a\u2126\u0958\u093c"
)


@pytest.mark.parametrize("form", ["nfc", "nfkc"])
def test_unicode_segments_on_exotic_sequences(form: str) -> None:
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice(EXOTIC) for _ in range(rng.randint(1, 8)))
        segments = norm_mod._segments(text, form.upper())  # type: ignore[arg-type]
        assert "".join(seg for _, _, seg in segments) == unicodedata.normalize(form.upper(), text)
        new, omap = normalize(text, (form,))  # type: ignore[arg-type]
        assert new == normalize_text(text, (form,))  # type: ignore[arg-type]
        _check_map_invariants(omap, len(text), len(new))


def test_coarse_fallback_when_segmentation_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    text = nfd("한국 café")

    def bogus(text: str, form: str) -> list[tuple[int, int, str]]:
        return [(0, len(text), "wrong")]

    monkeypatch.setattr(norm_mod, "_segments", bogus)
    new, omap = normalize(text, ("nfc",))
    assert new == "한국 café"
    _check_map_invariants(omap, len(text), len(new))


def test_coarse_edit_never_empty_region() -> None:
    edits = norm_mod._coarse_edit("ab", "axb")
    assert all(start < end for start, end, _ in edits)
    assert apply_edits("ab", edits)[0] == "axb"


def test_nfd_korean_paragraph_spans_map_to_nfc() -> None:
    paragraph = (
        "세종대왕은 조선의 제4대 국왕으로, 1443년에 훈민정음을 창제하였다. "
        "훈민정음은 1446년에 반포되었으며 오늘날 한글이라 불린다."
    )
    answers = ["세종대왕", "조선", "1443년", "훈민정음", "1446년에 반포", "한글"]
    decomposed = nfd(paragraph)
    assert len(decomposed) > len(paragraph)
    for ops in [("nfc",), DEFAULT_OPS]:
        new, omap = normalize(decomposed, ops)
        assert new == paragraph
        for answer in answers:
            start = paragraph.index(answer)
            nfd_start = len(nfd(paragraph[:start]))
            nfd_end = nfd_start + len(nfd(answer))
            assert decomposed[nfd_start:nfd_end] == nfd(answer)
            assert omap.span(nfd_start, nfd_end) == (start, start + len(answer))


def test_nfc_segments_are_per_syllable() -> None:
    text = nfd("각한") + "\u1100\u1161"  # NFD syllables + bare L+V jamo
    new, omap = normalize(text, ("nfc",))
    assert new == "각한가"
    assert omap.starts.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3]
    assert omap.ends.tolist() == [0, 1, 1, 1, 2, 2, 2, 3, 3]
    # precomposed LV followed by a T jamo composes into one syllable
    new, omap = normalize("가\u11a8나", ("nfc",))
    assert new == "각나"
    assert omap.span(2, 3) == (1, 2)
    assert omap.span(0, 1) == (0, 1)  # a span ending inside a syllable covers the whole syllable


def test_nfkc_expansions_keep_spans() -> None:
    text = "㈜삼성전자 ﬁnance １２３억 Ａ"
    new, omap = normalize(text, ("nfkc",))
    assert new == "(주)삼성전자 finance 123억 A"
    cases = {
        "삼성전자": "삼성전자",
        "㈜": "(주)",
        "ﬁnance": "finance",
        "１２３억": "123억",
        "２": "2",
        "억 Ａ": "억 A",
        "㈜삼성": "(주)삼성",
    }
    for original, expected in cases.items():
        i = text.index(original)
        s, e = omap.span(i, i + len(original))
        assert new[s:e] == expected
    inv = omap.invert()
    k = new.index("주")
    assert inv.span(k, k + 1) == (0, 1)  # inside an expansion widens to the original char
    k = new.index("inance")
    assert text[slice(*inv.span(k, k + 6))] == "ﬁnance"
    k = new.index("nance")
    assert text[slice(*inv.span(k, k + 5))] == "nance"


def test_identity_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("per-character segmentation should not run on normalized text")

    monkeypatch.setattr(norm_mod, "_segments", fail)
    text = "이미 NFC인 한국어 문장과 café."
    for ops in [("nfc",), ("nfkc",), ("nfc", "nfkc")]:
        new, omap = normalize(text, ops)
        assert new == text
        assert np.array_equal(omap.starts, np.arange(len(text) + 1))
        assert np.array_equal(omap.ends, np.arange(len(text) + 1))
        assert omap.span(3, 7) == (3, 7)


def test_then_equals_one_pass() -> None:
    ops = ("html_tags", "html_entities", "control_chars", "nfkc", "whitespace")
    for text in ALL_TEXTS:
        new, full = normalize(text, ops)
        mid, first = normalize(text, ops[:2])
        end, second = normalize(mid, ops[2:])
        assert end == new
        composed = first.then(second)
        assert np.array_equal(composed.starts, full.starts)
        assert np.array_equal(composed.ends, full.ends)


def test_then_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="cannot compose"):
        OffsetMap.identity(3).then(OffsetMap.identity(4))


def test_apply_edits_maps() -> None:
    new, omap = apply_edits("ab<x>cd", [(2, 5, "")])
    assert new == "abcd"
    assert omap.starts.tolist() == [0, 1, 2, 2, 2, 2, 3, 4]
    assert omap.ends.tolist() == [0, 1, 2, 2, 2, 2, 3, 4]

    new, omap = apply_edits("aXYZb", [(1, 4, "W")])
    assert new == "aWb"
    assert omap.starts.tolist() == [0, 1, 1, 1, 2, 3]
    assert omap.ends.tolist() == [0, 1, 2, 2, 2, 3]

    new, omap = apply_edits("a㈜b", [(1, 2, "(주)")])
    assert new == "a(주)b"
    assert omap.starts.tolist() == [0, 1, 4, 5]
    assert omap.span(1, 2) == (1, 4)

    new, omap = apply_edits("abcd", [(0, 1, "x"), (1, 3, ""), (3, 4, "yz")])
    assert new == "xyz"
    assert omap.starts.tolist() == [0, 1, 1, 1, 3]
    assert omap.ends.tolist() == [0, 1, 1, 1, 3]


@pytest.mark.parametrize(
    "edits",
    [[(2, 2, "x")], [(0, 3, ""), (2, 4, "")], [(2, 3, ""), (0, 1, "")], [(-1, 1, "")], [(3, 9, "")]],
)
def test_apply_edits_rejects_bad_edits(edits: list[tuple[int, int, str]]) -> None:
    with pytest.raises(ValueError, match="edits must be"):
        apply_edits("abcdef", edits)


def test_op_validation() -> None:
    with pytest.raises(ValueError, match="allowed ops") as info:
        normalize("x", ("nfc", "lowercase"))  # type: ignore[arg-type]
    assert all(op in str(info.value) for op in OPS)
    with pytest.raises(ValueError, match="allowed ops"):
        normalize_text("x", ("NFC",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        normalize("x", "nfc")  # type: ignore[arg-type]


def test_span_validation() -> None:
    omap = OffsetMap.identity(5)
    for start, end in [(-1, 2), (3, 2), (0, 6)]:
        with pytest.raises(ValueError, match="span must satisfy"):
            omap.span(start, end)
    with pytest.raises(ValueError):
        OffsetMap.identity(-1)
    with pytest.raises(ValueError):
        OffsetMap(np.arange(3), np.arange(4))


def test_offset_map_is_read_only() -> None:
    omap = normalize("a  b", ("whitespace",))[1]
    with pytest.raises(ValueError):
        omap.starts[0] = 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 < 5", "3 < 5"),
        ("x<y and y>z", "x<y and y>z"),
        ("a<br>b", "a b"),
        ("a<BR/>b", "a b"),
        ("a</p><p>b", "a  b"),
        ("<b>굵게</b> 글씨", "굵게 글씨"),
        ('<a href="x">링크</a>', "링크"),
        ('<a title="a>b">t</a>', "t"),
        ("앞<!-- 주석 -->뒤", "앞뒤"),
        ("<td>1</td><td>2</td>", " 1  2 "),
    ],
)
def test_html_tags(text: str, expected: str) -> None:
    assert normalize(text, ("html_tags",))[0] == expected
    assert normalize_text(text, ("html_tags",)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AT&amp;T", "AT&T"),
        ("it&#39;s &#x27;q&#X27;", "it's 'q'"),
        ("a&nbsp;b", "a\xa0b"),
        ("&lt;b&gt;", "<b>"),
        ("&unknown; &amp no semicolon", "&unknown; &amp no semicolon"),
    ],
)
def test_html_entities(text: str, expected: str) -> None:
    assert normalize(text, ("html_entities",))[0] == expected


def test_html_entities_then_tags_order_matters() -> None:
    assert normalize_text("&lt;b&gt;x", ("html_tags", "html_entities")) == "<b>x"
    assert normalize_text("&lt;b&gt;x", ("html_entities", "html_tags")) == "x"


def test_control_chars() -> None:
    text = "\x00a\tb\n\x7fc\u200bd\ufeff\x85e\r\u200d"
    new, omap = normalize(text, ("control_chars",))
    assert new == "a\tb\ncde\r"
    i = text.index("c")
    assert omap.span(i, i + 3) == (new.index("c"), new.index("c") + 2)


def test_whitespace() -> None:
    text = "\u3000 가 \xa0\t 나\n"
    new, omap = normalize(text, ("whitespace",))
    assert new == "가 나"
    assert omap.span(2, 8) == (0, 3)
    assert normalize(" \t\n", ("whitespace",))[0] == ""


def test_default_ops_end_to_end() -> None:
    text = "<p>AT&amp;T는\u200b " + nfd("한국") + "에서&nbsp;\t영업</p>"
    new, omap = normalize(text)
    assert new == "AT&T는 한국에서 영업"
    i = text.index("AT")
    j = text.index("영업") + 2
    assert new[slice(*omap.span(i, j))] == new
