from __future__ import annotations

import unicodedata

import pytest

from curate.text.spans import SpanRepair, find_all, nearest_occurrence, repair_span


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def test_find_all_overlapping_and_empty() -> None:
    assert find_all("aaaa", "aa") == [0, 1, 2]
    assert find_all("서울 서울시 서울", "서울") == [0, 3, 7]
    assert find_all("abc", "x") == []
    assert find_all("abc", "") == []
    assert find_all("", "a") == []


def test_nearest_occurrence() -> None:
    context = "ab ab ab"
    assert nearest_occurrence(context, "ab", 4) == 3
    assert nearest_occurrence(context, "ab", 100) == 6
    assert nearest_occurrence(context, "ab", -5) == 0
    assert nearest_occurrence(context, "zz", 0) is None
    assert nearest_occurrence(context, "", 0) is None


def test_nearest_occurrence_tie_prefers_earlier() -> None:
    context = "ab xx ab"  # starts 0 and 6; 3 is equally far from both
    assert nearest_occurrence(context, "ab", 3) == 0
    assert nearest_occurrence(context, "ab", 4) == 6


def test_repair_restores_shifted_offset() -> None:
    context = "서울은 한국의 수도이다. 서울의 인구는 약 천만 명이다."
    answer = "서울"
    second = context.index(answer, 1)
    repair = repair_span(context, answer, second + 3)
    assert repair == SpanRepair(second, second + len(answer), "exact")
    first = repair_span(context, answer, 2)
    assert first == SpanRepair(0, 2, "exact")


def test_repair_exact_keeps_original_offset() -> None:
    context = "훈민정음은 1443년에 창제되었다."
    start = context.index("1443년")
    assert repair_span(context, "1443년", start) == SpanRepair(start, start + 5, "exact")


def test_repair_nfd_context_nfc_answer() -> None:
    paragraph = "세종대왕은 훈민정음을 만들었다. 훈민정음은 한글의 옛 이름이다."
    context = nfd(paragraph)
    answer = "훈민정음"
    second_nfc = paragraph.index(answer, 10)
    near = len(nfd(paragraph[:second_nfc])) + 2
    repair = repair_span(context, answer, near)
    assert repair is not None
    assert repair.method == "normalized"
    assert context[repair.start : repair.end] == nfd(answer)
    assert repair.start == len(nfd(paragraph[:second_nfc]))


def test_repair_nfc_context_nfd_answer() -> None:
    context = "이순신 장군은 한산도 대첩에서 승리하였다."
    answer = nfd("한산도 대첩")
    repair = repair_span(context, answer, 0)
    assert repair is not None
    assert repair.method == "normalized"
    assert context[repair.start : repair.end] == "한산도 대첩"


def test_repair_accented_latin_mismatch() -> None:
    context = "Le café" + " et la cafe\u0301 noire"
    repair = repair_span(context, "café", len(context))
    assert repair is not None
    assert repair.method == "exact"  # exact precomposed hit exists at the start
    repair = repair_span(context, "cafe\u0301", 0)
    assert repair is not None and repair.method == "exact"
    only_nfd = "la cafe\u0301 noire"
    repair = repair_span(only_nfd, "café", 0)
    assert repair == SpanRepair(3, 8, "normalized")


def test_repair_stray_whitespace_in_answer() -> None:
    context = "수도는 서울 특별시이다."
    repair = repair_span(context, "  서울  특별시 ", 4)
    assert repair is not None
    assert repair.method == "normalized"
    assert context[repair.start : repair.end] == "서울 특별시"


def test_repair_context_newlines_and_tabs() -> None:
    context = "수도는 서울\n\t 특별시이다.\u3000그리고 서울\u3000특별시는 크다."
    answer = "서울 특별시"
    repair = repair_span(context, answer, 0)
    assert repair is not None and repair.method == "normalized"
    assert context[repair.start : repair.end] == "서울\n\t 특별시"
    repair = repair_span(context, answer, len(context))
    assert repair is not None
    assert context[repair.start : repair.end] == "서울\u3000특별시"
    assert not context[repair.start].isspace() and not context[repair.end - 1].isspace()


def test_repair_leading_whitespace_context() -> None:
    context = "  \n 서울   특별시"
    repair = repair_span(context, "서울 특별시", 0)
    assert repair == SpanRepair(4, 12, "normalized")


def test_repair_absent_or_empty_answer() -> None:
    context = "대한민국의 수도는 서울이다."
    assert repair_span(context, "부산", 0) is None
    assert repair_span(context, "", 0) is None
    assert repair_span(context, " \t\u3000", 0) is None
    assert repair_span("", "서울", 0) is None


@pytest.mark.parametrize("near", [-10, 0, 5, 1000])
def test_repair_out_of_range_near(near: int) -> None:
    context = nfd("가나다 라마 가나다")
    repair = repair_span(context, "가나다", near)
    assert repair is not None
    assert nfc(context[repair.start : repair.end]) == "가나다"
