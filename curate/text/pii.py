"""Finding and redacting personal information (PII) in text: pure functions.

:func:`find_pii` returns :class:`PiiSpan` s (code-point offsets, sorted, non-overlapping) of nine
kinds; :func:`redact` replaces them through :func:`~curate.text.normalize.apply_edits`, so the
returned :class:`~curate.text.normalize.OffsetMap` moves answer spans and other offsets along.
Check digits and numbering plans come from maintained validators: python-stdnum (``stdnum.kr.rrn``,
``stdnum.kr.brn``, ``stdnum.luhn``) and ``phonenumbers`` (Google's libphonenumber metadata). The
regular expressions here only find candidates and draw their exact boundaries.

Numbers glued to other digits (``1`` + a number, or a number + ``-1``) are never found, so parts of
longer numbers, dates (``2023-01-15``), prices (``1,500원``) and order numbers are left alone.
Where a kind needs *context*, it is one of the listed words within the 20 characters before the
number (the words may end right before it).

Kinds:

- ``email``: ``local@domain.tld`` with an ASCII local part (letters, digits, ``._%+-``, no
  leading, trailing or double dot) and an ASCII domain whose last label is 2-63 letters (or
  ``xn--`` punycode). Korean text glued on either side is not part of it: in
  ``문의는abc@naver.com으로`` only ``abc@naver.com`` is found.
- ``phone``: candidates in Korean shapes, each confirmed by ``phonenumbers``'
  ``PhoneNumberMatcher`` (region ``KR``, leniency :data:`PHONE_LENIENCY`, ``VALID``: the number
  must exist in the numbering plan) over exactly the candidate. Shapes: mobile (010, 011,
  016-019), 070, 080 and 050x numbers with ``-``, ``.`` (either with spaces around it), a space
  or nothing between the groups (not necessarily the same twice: ``02 123-4567``);
  landlines with area code 02 or 031-064 with a separator, the area code in parentheses
  (``(02) 123-4567``) or closed by a parenthesis alone (``02)123-4567``), since an unseparated 9-10
  digit run is as often a number of another kind; ``+82`` forms (``+82 10-1234-5678``,
  ``+82-2-123-4567``, ``+82 (0)2 123 4567``, ``+821012345678``); representative numbers
  (``1588-1234``: 15xx, 16xx and 18xx prefixes, with ``-`` or ``.``); and international numbers
  written with a leading ``+``, grouped by ``-``, ``.``, spaces or one parenthesised group.
  Leniency ``VALID`` is the measured best (``benchmarks/pii.py``): ``POSSIBLE`` takes dates,
  order numbers and most other digit runs; ``STRICT_GROUPING`` and ``EXACT_GROUPING`` miss
  ``0505-310-2278``. Curate's own rules stay where the library alone measures worse: run over whole
  texts at ``VALID`` it also takes year ranges (``1800-1850``), resident registration numbers
  (``820101-2345676``) and ISBNs (``0195120736``), and it costs about a millisecond per text with
  digits, so it only ever sees candidates. A representative number whose second group looks like a
  later year (``1800-1850``, ``1644-1700``) is read as a year range, as is one followed by ``년``; a
  number right after ``ISBN`` is an ISBN.
- ``rrn``: Korean resident registration numbers (주민등록번호) and foreigner registration numbers,
  ``YYMMDD-GNNNNNN``, ``YYMMDD GNNNNNN`` or the 13 digits unbroken, checked by ``stdnum.kr.rrn``:
  the date must exist in the century given by the gender digit G (1, 2, 5, 6: 1900s; 3, 4, 7, 8:
  2000s; 9, 0: 1800s), the place-of-birth digits must be at most 96 and the last digit must be the
  check digit.
  Numbers issued since October 2020 end in random digits instead, so ``rrn_checksum=False`` only
  checks the date and the G digit (more recall, more false positives on unrelated 13-digit runs).
- ``card``: payment card numbers of 13-19 digits, unbroken or grouped 4-4-4-4(-3) or 4-6-4/4-6-5
  (Diners, Amex) by spaces or hyphens, that pass the Luhn check (``stdnum.luhn``) and start with
  a known issuer range at a length the issuer uses (Visa 4; Mastercard 51-55, 2221-2720; Amex 34,
  37; JCB 3528-3589; Discover 6011, 644-649, 65; UnionPay 62; Diners 300-305, 36, 38). Korean
  cards are issued in these ranges, except domestic-only cards numbered from 9 (``9410 ...``),
  which are not found.
- ``ip``: IPv4 addresses (each octet 0-255, no leading zeros such as ``01``) and IPv6 addresses
  (full, compressed, with an embedded IPv4 tail; checked by :mod:`ipaddress`). A dotted quad that
  is part of a longer dotted number (``1.2.3.4.5``) or glued to an ASCII letter or digit
  (``v1.2.3.4``, ``ver1.2.3.4``) is a version number, not an address, and four single digits
  (``1.2.3.4편``, ``0.0.0.0``, also ``8.8.8.8``) are an enumeration or a well-known public
  address; otherwise, after a space or Korean text (``버전 10.2.3.4``), four dotted numbers are
  taken as an address, because nothing in the text tells them apart. An IPv6 address needs a group
  of at least three hex digits, so scores and times such as ``2::8``, ``::1`` or ``12:30::`` are
  not taken.
- ``brn``: business registration numbers (사업자등록번호) ``XXX-XX-XXXXX`` (or spaces instead of
  the hyphens), or the 10 digits unbroken with the context ``사업자``. ``stdnum.kr.brn`` checks the
  parts (tax office at least 101, business type not 00, serial not 0000); it has no check digit
  (python-stdnum 2.2), so the National Tax Service's is checked here (:func:`brn_check_digit`).
- ``passport``: Korean passport numbers, a type letter (M, S, R, G, D, T) and 8 digits
  (``M12345678``) or, since December 2021, 3 digits, a letter and 4 digits (``M123A4567``). The
  new form is found anywhere; the old one only with the context ``여권`` or ``passport`` (any
  case), since a letter and 8 digits is also a product, order or date code (``M20240315``).
- ``driver_license``: Korean driver's licence numbers, a region and ``YY-NNNNNN-NN``: the region
  as a two-digit code (11-26, 28) with the same ``-`` or space throughout
  (``11-12-345678-90``), or as a name (서울, 부산, 경기, 강원, 충북, 충남, 전북, 전남, 경북,
  경남, 제주, 대구, 인천, 광주, 대전, 울산) followed by an optional space or ``-``
  (``서울 12-345678-90``); the 12 digits unbroken need the context ``면허``. There is no public
  check digit.
- ``bank_account``: bank account numbers, 10-14 digits unbroken or in 2-4 groups joined by ``-``
  (``110-123-456789`` 신한, ``1002-123-456789`` 우리, ``123456-78-901234`` 국민,
  ``3333-01-1234567`` 카카오뱅크). Formats vary per bank and say nothing on their own, so an
  account always needs context: one of 은행, 뱅크, 계좌, 예금주, 입금, 송금, 이체, 무통장, 농협,
  신협, 수협, 새마을금고, 우체국, 신한, KB, NH, IBK, SC제일, 씨티, 카뱅 within the 20 characters
  before it or the 10 after it, or a bank's short name (국민, 우리, 하나, 기업, 카카오, 토스,
  케이, 부산, 대구, 경남, 광주, 전북, 제주) right before it (spaces, ``:`` or ``(`` between).
  An order number next to ``입금 확인`` is therefore taken for an account (see BENCHMARKS.md).

When matches overlap, the longer one is kept (an email whose local part is a phone number is one
email); on a tie, the order of :data:`PII_KINDS` decides (a mobile number given as an account
number is a phone number).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.kr import brn as stdnum_brn
from stdnum.kr import rrn as stdnum_rrn

from curate.text.normalize import Edit, OffsetMap, apply_edits

PiiKind = Literal["email", "phone", "rrn", "card", "ip", "brn", "passport", "driver_license", "bank_account"]
PII_KINDS: tuple[PiiKind, ...] = get_args(PiiKind)
"""Every kind, in tie-break order (see the module docstring)."""

DEFAULT_KINDS: tuple[PiiKind, ...] = PII_KINDS
"""The kinds found unless told otherwise: all of them, since each measures a precision of at least
0.95 on curate's labelled Korean test set and finds nothing false in the NSMC reviews (BENCHMARKS.md).
A kind whose precision falls short belongs out of this tuple (opt-in through ``kinds``)."""

RedactStyle = Literal["tag", "mask", "remove"]
REDACT_STYLES: tuple[RedactStyle, ...] = get_args(RedactStyle)

DEFAULT_TAGS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "rrn": "[RRN]",
    "card": "[CARD]",
    "ip": "[IP]",
    "brn": "[BRN]",
    "passport": "[PASSPORT]",
    "driver_license": "[DRIVER_LICENSE]",
    "bank_account": "[BANK_ACCOUNT]",
}
"""Replacement of each kind with ``style="tag"``."""

MASK_CHAR = "*"

PHONE_LENIENCY = Leniency.VALID
"""How strictly ``phonenumbers`` confirms a phone candidate (measured in ``benchmarks/pii.py``)."""


@dataclass(frozen=True)
class PiiSpan:
    """One piece of PII: ``text == source[start:end]`` (code-point offsets)."""

    kind: PiiKind
    start: int
    end: int
    text: str


_NOT_GLUED_BEFORE = r"(?<!\d)(?<!\d[-.])"
_NOT_GLUED_AFTER = r"(?![-.]?\d)"
_CONTEXT_BEFORE = 20


def _context(words: re.Pattern[str], text: str, start: int, end: int, after: int = 0) -> bool:
    """Whether ``words`` occur within the 20 characters before ``start`` (or ``after`` after ``end``)."""
    return bool(
        words.search(text, max(0, start - _CONTEXT_BEFORE), start) or (after and words.search(text, end, end + after))
    )


# --- email ---------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9\-]{1,59})"
    r"(?![A-Za-z0-9\-])"
)


def _emails(text: str) -> Iterable[tuple[int, int]]:
    for m in _EMAIL_RE.finditer(text):
        yield m.start(), m.end()


# --- phone ---------------------------------------------------------------------------

_AREA = r"(?:02|03[1-3]|04[1-4]|05[1-5]|06[1-4])"
_MOBILE = r"(?:01[016789])"
_SERVICE = r"(?:070|080|050[2-8])"
_REP = r"(?:15(?:22|33|44|66|77|88|99)|16(?:00|44|61|66|68|70|88)|18(?:00|33|55|77|99))"
_SEP = r"(?: ?[-.] ?| )"  # 010-1234-5678, 010 1234 5678, 010 - 1234 - 5678
_KR_PHONE_RE = re.compile(
    _NOT_GLUED_BEFORE + r"(?:"
    rf"(?:{_MOBILE}|{_SERVICE}){_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"
    rf"|{_AREA}{_SEP}\d{{3,4}}{_SEP}\d{{4}}"
    rf"|\(?(?:{_AREA}|{_MOBILE}|{_SERVICE})\) ?\d{{3,4}}{_SEP}?\d{{4}}"
    r"|\+82[-. ]?(?:\(0\)[-. ]?)?(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|80)[-. ]?\d{3,4}[-. ]?\d{4}"
    rf"|(?P<rep>{_REP})[-.](?P<rep2>\d{{4}})"
    r")" + _NOT_GLUED_AFTER
)
_INTL_PHONE_RE = re.compile(
    r"(?<![0-9A-Za-z+])\+[1-9]\d{0,3}(?:[-. ]?\(\d{1,4}\))?(?:[-. ]?\d++){1,6}" + _NOT_GLUED_AFTER
)
_YEAR_AFTER_RE = re.compile(r"\s?년")
_ISBN_BEFORE_RE = re.compile(r"ISBN(?:-1[03])?[: ]*\Z", re.IGNORECASE)


@lru_cache(maxsize=4096)
def phone_valid(candidate: str) -> bool:
    """Whether ``phonenumbers`` reads all of ``candidate`` as one phone number (region ``KR``,
    leniency :data:`PHONE_LENIENCY`)."""
    return any(m.start == 0 and m.end == len(candidate) for m in PhoneNumberMatcher(candidate, "KR", PHONE_LENIENCY))


def _phones(text: str) -> Iterable[tuple[int, int]]:
    korean = set()
    for m in _KR_PHONE_RE.finditer(text):
        rep = m.group("rep")
        if rep is not None:
            second = int(m.group("rep2"))
            if int(rep) < second <= 2100 or _YEAR_AFTER_RE.match(text, m.end()):
                continue  # a year range such as 1800-1850
        if _ISBN_BEFORE_RE.search(text, max(0, m.start() - 12), m.start()):
            continue  # ISBN 0195120736
        korean.add(m.start())
        if phone_valid(m.group()):
            yield m.start(), m.end()
    if "+" in text:
        for m in _INTL_PHONE_RE.finditer(text):
            # the Korean pattern knows where a +82 number ends; the generic one may run on into
            # a following number
            if m.start() not in korean and phone_valid(m.group()):
                yield m.start(), m.end()


# --- rrn -----------------------------------------------------------------------------

_RRN_RE = re.compile(_NOT_GLUED_BEFORE + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ]?\d{7}" + _NOT_GLUED_AFTER)


def rrn_valid(number: str, *, checksum: bool = True) -> bool:
    """Whether ``number`` (13 digits, an optional ``-`` or space after the 6th) is a plausible
    resident or foreigner registration number (``stdnum.kr.rrn``); without ``checksum`` only the
    date and the gender digit are checked."""
    digits = number[:6] + number[7:] if len(number) == 14 and number[6] in "- " else number
    if len(digits) != 13 or not digits.isdigit():
        return False
    if checksum:
        return stdnum_rrn.is_valid(digits)
    try:
        stdnum_rrn.get_birth_date(digits)
    except ValidationError:
        return False
    return True


def _rrns(text: str, checksum: bool) -> Iterable[tuple[int, int]]:
    for m in _RRN_RE.finditer(text):
        if rrn_valid(m.group(), checksum=checksum):
            yield m.start(), m.end()


# --- card ----------------------------------------------------------------------------

_CARD_RE = re.compile(
    r"(?<!\d)(?<!\d[- ])(?:"
    r"\d{4}(?P<g1>[- ])\d{4}(?P=g1)\d{4}(?P=g1)\d{4}(?:(?P=g1)\d{3})?"
    r"|\d{4}(?P<g2>[- ])\d{6}(?P=g2)\d{4,5}"
    r"|\d{13,19}"
    r")(?!\d)"
)
# (first digits low, high, allowed lengths) of the issuer ranges
_ISSUERS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # Amex
    ("37", "37", frozenset({15})),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),
    ("38", "38", frozenset(range(14, 20))),
)


def card_issuer_known(digits: str) -> bool:
    """Whether ``digits`` starts with a known issuer range at a length that issuer uses."""
    n = len(digits)
    return any(low <= digits[: len(low)] <= high and n in lengths for low, high, lengths in _ISSUERS)


def _cards(text: str) -> Iterable[tuple[int, int]]:
    for m in _CARD_RE.finditer(text):
        digits = m.group().replace("-", "").replace(" ", "")
        if card_issuer_known(digits) and luhn.is_valid(digits):
            yield m.start(), m.end()


# --- brn -----------------------------------------------------------------------------

_BRN_RE = re.compile(_NOT_GLUED_BEFORE + r"(?:\d{3}(?P<s>[- ])\d{2}(?P=s)\d{5}|(?P<bare>\d{10}))" + _NOT_GLUED_AFTER)
_BRN_CONTEXT_RE = re.compile("사업자")
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_check_digit(first9: str) -> int:
    """The National Tax Service's check digit of a business registration number from its first
    9 digits: ``(10 - (sum(w * d) + 5 * d9 // 10) % 10) % 10`` with weights 1, 3, 7, 1, 3, 7, 1,
    3, 5."""
    if len(first9) != 9 or not first9.isdigit():
        raise ValueError(f"expected 9 digits: got {first9!r}")
    total = sum(w * int(d) for w, d in zip(_BRN_WEIGHTS, first9, strict=True)) + 5 * int(first9[8]) // 10
    return (10 - total % 10) % 10


def brn_valid(number: str) -> bool:
    """Whether ``number`` (``XXX-XX-XXXXX`` or 10 digits) is a plausible business registration
    number: valid parts (``stdnum.kr.brn``) and the check digit."""
    return stdnum_brn.is_valid(number) and brn_check_digit(stdnum_brn.compact(number)[:9]) == int(number[-1])


def _brns(text: str) -> Iterable[tuple[int, int]]:
    for m in _BRN_RE.finditer(text):
        if m.group("bare") and not _context(_BRN_CONTEXT_RE, text, m.start(), m.end()):
            continue
        if brn_valid(m.group()):
            yield m.start(), m.end()


# --- passport ------------------------------------------------------------------------

_PASSPORT_RE = re.compile(r"(?<![A-Za-z0-9])[MSRGDT](?:(?P<old>\d{8})|\d{3}[A-Z]\d{4})(?![A-Za-z0-9])")
_PASSPORT_CONTEXT_RE = re.compile("여권|passport", re.IGNORECASE)


def _passports(text: str) -> Iterable[tuple[int, int]]:
    for m in _PASSPORT_RE.finditer(text):
        if m.group("old") is None or _context(_PASSPORT_CONTEXT_RE, text, m.start(), m.end()):
            yield m.start(), m.end()


# --- driver_license ------------------------------------------------------------------

_REGIONS = "서울|부산|경기|강원|충북|충남|전북|전남|경북|경남|제주|대구|인천|광주|대전|울산"
_LICENSE_RE = re.compile(
    _NOT_GLUED_BEFORE + r"(?:"
    r"(?:1[1-9]|2[0-68])(?P<s>[- ])\d{2}(?P=s)\d{6}(?P=s)\d{2}"
    rf"|(?:{_REGIONS})[ -]?\d{{2}}-\d{{6}}-\d{{2}}"
    r"|(?P<bare>(?:1[1-9]|2[0-68])\d{10})"
    r")" + _NOT_GLUED_AFTER
)
_LICENSE_CONTEXT_RE = re.compile("면허")


def _licenses(text: str) -> Iterable[tuple[int, int]]:
    for m in _LICENSE_RE.finditer(text):
        if not m.group("bare") or _context(_LICENSE_CONTEXT_RE, text, m.start(), m.end()):
            yield m.start(), m.end()


# --- bank_account --------------------------------------------------------------------

_ACCOUNT_RE = re.compile(_NOT_GLUED_BEFORE + r"(?:\d{2,6}(?:-\d{1,7}){1,3}|\d{10,14})" + _NOT_GLUED_AFTER)
_ACCOUNT_CONTEXT_RE = re.compile(
    "은행|뱅크|계좌|예금주|입금|송금|이체|무통장|농협|신협|수협|새마을금고|우체국|신한|KB|NH|IBK|SC제일|씨티|카뱅"
)
_BANK_RIGHT_BEFORE_RE = re.compile(r"(?:국민|우리|하나|기업|카카오|토스|케이|부산|대구|경남|광주|전북|제주)[ :(]*\Z")
_ACCOUNT_CONTEXT_AFTER = 10


def _accounts(text: str) -> Iterable[tuple[int, int]]:
    for m in _ACCOUNT_RE.finditer(text):
        start, end = m.start(), m.end()
        if not 10 <= end - start - m.group().count("-") <= 14:
            continue
        if _context(
            _ACCOUNT_CONTEXT_RE, text, start, end, after=_ACCOUNT_CONTEXT_AFTER
        ) or _BANK_RIGHT_BEFORE_RE.search(text, max(0, start - 8), start):
            yield start, end


# --- ip ------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_RE = re.compile(rf"(?<![A-Za-z0-9.])(?:{_OCTET}\.){{3}}{_OCTET}(?![A-Za-z0-9]|\.\d)")
_IPV6_RE = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{1,4}|(?=:))(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![0-9A-Za-z:])"
)


def _ipv6(candidate: str) -> bool:
    if not any(len(group) >= 3 for group in candidate.split(":")):
        return False  # scores and times such as 2::8 or 12:30::
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_IPV4_HINT_RE = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")  # starts with a digit: a fast scan


def _ips(text: str) -> Iterable[tuple[int, int]]:
    if "." in text and _IPV4_HINT_RE.search(text):
        for m in _IPV4_RE.finditer(text):
            if m.end() - m.start() > 7:  # 1.2.3.4 is an enumeration, not an address
                yield m.start(), m.end()
    if text.count(":") >= 2:
        for m in _IPV6_RE.finditer(text):
            if _ipv6(m.group()):
                yield m.start(), m.end()


# --- detection -----------------------------------------------------------------------

# every kind but email and ip has four digits in a row, or a + (+33 1 23 45 67 89): a fast scan
_FOUR_DIGITS_RE = re.compile(r"\d\d\d\d")
_NUMERIC_KINDS: dict[str, Callable[[str], Iterable[tuple[int, int]]]] = {
    "phone": _phones,
    "passport": _passports,
    "card": _cards,
    "brn": _brns,
    "driver_license": _licenses,
    "bank_account": _accounts,
}
_PRIORITY = {kind: i for i, kind in enumerate(PII_KINDS)}


def check_kinds(kinds: Iterable[str]) -> tuple[PiiKind, ...]:
    """Validate PII kind names; return them as a tuple. Raises ValueError on unknown names."""
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a sequence of kind names, not a string: got {kinds!r}")
    checked = tuple(kinds)
    bad = [k for k in checked if k not in PII_KINDS]
    if bad:
        raise ValueError(f"unknown PII kind(s) {bad}: kinds are {', '.join(PII_KINDS)}")
    return checked  # type: ignore[return-value]


class PiiFinder:
    """A reusable :func:`find_pii` for fixed ``kinds`` and ``rrn_checksum``."""

    def __init__(self, kinds: Iterable[str] = DEFAULT_KINDS, *, rrn_checksum: bool = True):
        self.kinds = frozenset(check_kinds(kinds))
        self.rrn_checksum = rrn_checksum
        self._numeric = [(kind, find) for kind, find in _NUMERIC_KINDS.items() if kind in self.kinds]
        if "rrn" in self.kinds:
            self._numeric.append(("rrn", lambda text: _rrns(text, rrn_checksum)))

    def __call__(self, text: str) -> list[PiiSpan]:
        kinds = self.kinds
        found: list[tuple[PiiKind, int, int]] = []
        if "email" in kinds and "@" in text:
            found += [("email", s, e) for s, e in _emails(text)]
        if "ip" in kinds and ("." in text or ":" in text):
            found += [("ip", s, e) for s, e in _ips(text)]
        if self._numeric and ("+" in text or _FOUR_DIGITS_RE.search(text)):
            for kind, find in self._numeric:
                found += [(kind, s, e) for s, e in find(text)]  # type: ignore[misc]
        if not found:
            return []
        return [PiiSpan(kind, s, e, text[s:e]) for kind, s, e in _resolve(found)]


def _resolve(found: list[tuple[PiiKind, int, int]]) -> list[tuple[PiiKind, int, int]]:
    """Non-overlapping matches, longest first (ties: kind order), sorted by start."""
    if len(found) == 1:
        return found
    chosen: list[tuple[PiiKind, int, int]] = []
    for kind, s, e in sorted(set(found), key=lambda f: (f[1] - f[2], _PRIORITY[f[0]], f[1])):
        if all(e <= cs or ce <= s for _, cs, ce in chosen):
            chosen.append((kind, s, e))
    return sorted(chosen, key=lambda f: f[1])


@lru_cache(maxsize=64)
def _finder(kinds: tuple[str, ...], rrn_checksum: bool) -> PiiFinder:
    return PiiFinder(kinds, rrn_checksum=rrn_checksum)


def find_pii(text: str, kinds: Sequence[str] = DEFAULT_KINDS, *, rrn_checksum: bool = True) -> list[PiiSpan]:
    """Every piece of PII of the given ``kinds`` in ``text``: sorted, non-overlapping spans.

    Args:
        kinds: any of :data:`PII_KINDS` (default: :data:`DEFAULT_KINDS`).
        rrn_checksum: require the check digit of resident registration numbers; false also finds
            numbers issued since October 2020, which have none.
    """
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a sequence of kind names, not a string: got {kinds!r}")
    return _finder(tuple(kinds), rrn_checksum)(text)


# --- redaction -----------------------------------------------------------------------


def mask(value: str, char: str = MASK_CHAR) -> str:
    """``value`` with every letter and digit replaced by ``char``; separators (``-``, ``.``,
    ``@``, ``:``, ``+``, spaces, parentheses) stay, so the shape of the value survives."""
    return "".join(char if c.isalnum() else c for c in value)


def excerpt(value: str, keep: int = 2) -> str:
    """A safe excerpt of a PII value for logs: all but the last ``keep`` characters masked (all
    of them for values shorter than ``4 * keep``)."""
    shown = keep if len(value) >= 4 * keep else 0
    return MASK_CHAR * (len(value) - shown) + value[len(value) - shown :]


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """:data:`DEFAULT_TAGS` updated with ``tags``. Raises ValueError on unknown kinds or empty tags."""
    merged = dict(DEFAULT_TAGS)
    for kind, tag in (tags or {}).items():
        if kind not in PII_KINDS:
            raise ValueError(f"tag for unknown PII kind {kind!r}: kinds are {', '.join(PII_KINDS)}")
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag for {kind!r} must be a non-empty string (use style 'remove' to delete): got {tag!r}")
        merged[kind] = tag
    return merged


def replacer(style: str = "tag", tags: Mapping[str, str] | None = None) -> Callable[[PiiSpan], str]:
    """The replacement function of a redaction ``style`` (see :func:`redact`)."""
    if style == "tag":
        merged = check_tags(tags)
        return lambda span: merged[span.kind]
    if tags:
        raise ValueError(f"tags apply only to style 'tag': got style {style!r}")
    if style == "mask":
        return lambda span: mask(span.text)
    if style == "remove":
        return lambda span: ""
    raise ValueError(f"unknown redaction style {style!r}: styles are {', '.join(REDACT_STYLES)}")


def redact(
    text: str,
    spans: Sequence[PiiSpan],
    style: RedactStyle = "tag",
    *,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, OffsetMap]:
    """Replace each span of ``text``; return ``(new_text, map original -> new boundaries)``.

    Styles:

    - ``tag``: the kind's tag (:data:`DEFAULT_TAGS`: ``[EMAIL]``, ``[PHONE]``, ``[RRN]``,
      ``[CARD]``, ``[IP]``, ``[BRN]``, ``[PASSPORT]``, ``[DRIVER_LICENSE]``, ``[BANK_ACCOUNT]``;
      ``tags`` overrides some of them).
    - ``mask``: same length, letters and digits become ``*`` and separators stay
      (``010-1234-5678`` -> ``***-****-****``, ``ab@x.com`` -> ``**@*.***``), so offsets after
      the value do not move and the text keeps its shape.
    - ``remove``: the value is deleted (neighbouring text is left as it was, spaces included).

    ``spans`` must be sorted and non-overlapping, as :func:`find_pii` returns them, and must
    match ``text``.
    """
    replace = replacer(style, tags)
    edits: list[Edit] = []
    for span in spans:
        if text[span.start : span.end] != span.text or span.start >= span.end:
            raise ValueError(f"span ({span.start}, {span.end}) of kind {span.kind!r} does not match the text")
        edits.append((span.start, span.end, replace(span)))
    return apply_edits(text, edits)


@dataclass(frozen=True, eq=False)
class RedactPass:
    """One redaction pass: the ``spans`` found in the pass's input, the ``omap`` from that input
    to ``text``, the pass's output."""

    spans: tuple[PiiSpan, ...]
    omap: OffsetMap
    text: str


@dataclass(frozen=True, eq=False)
class Redaction:
    """What :func:`redact_all` made of a text: the final ``text``, the ``passes`` that produced
    it (empty when the text had no PII) and whether it is ``clean`` (no PII found in it)."""

    text: str
    passes: tuple[RedactPass, ...]
    clean: bool

    @property
    def spans(self) -> tuple[PiiSpan, ...]:
        """The PII of the original text (the first pass)."""
        return self.passes[0].spans if self.passes else ()


def redact_all(
    text: str,
    find: Callable[[str], list[PiiSpan]],
    style: RedactStyle = "tag",
    *,
    tags: Mapping[str, str] | None = None,
    max_passes: int = 3,
) -> Redaction:
    """Redact ``text`` until ``find`` finds nothing in it, at most ``max_passes`` times.

    One pass nearly always suffices; another one is needed only when a replacement joins the
    text on its two sides into a new match (``a@b.c`` + a removed phone number + ``om``).
    """
    passes: list[RedactPass] = []
    spans = find(text)
    while spans and len(passes) < max_passes:
        new_text, omap = redact(text, spans, style, tags=tags)
        passes.append(RedactPass(tuple(spans), omap, new_text))
        text = new_text
        spans = find(text)
    return Redaction(text, tuple(passes), not spans)
