from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.kr import rrn as stdnum_rrn

from curate.text.pii import (
    DEFAULT_TAGS,
    PII_KINDS,
    PiiFinder,
    PiiSpan,
    brn_check_digit,
    brn_valid,
    card_issuer_known,
    excerpt,
    find_pii,
    mask,
    redact,
    redact_all,
    rrn_valid,
)


def found(text: str, **kwargs) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text, **kwargs)]


def rrn(first12: str, *, hyphen: bool = True) -> str:
    """A resident registration number with its correct check digit."""
    number = first12 + stdnum_rrn.calc_check_digit(first12)
    return f"{number[:6]}-{number[6:]}" if hyphen else number


def wrong_check(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def luhn_complete(prefix: str, length: int) -> str:
    """``prefix`` padded with zeros to ``length`` digits, the last one a Luhn check digit."""
    body = prefix.ljust(length - 1, "0")
    return body + luhn.calc_check_digit(body)


# ----------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("문의는 abc@naver.com으로 주세요", "abc@naver.com"),
        ("문의는abc@naver.com으로", "abc@naver.com"),
        ("메일: hong.gil-dong+qa@mail.example.co.kr 입니다.", "hong.gil-dong+qa@mail.example.co.kr"),
        ("담당자(kim_01@korea.ac.kr)에게 보내세요.", "kim_01@korea.ac.kr"),
        ("이메일은 USER@Example.COM이다", "USER@Example.COM"),
        ("주소 test@xn--3e0b707e.xn--3e0b707e 참고", "test@xn--3e0b707e.xn--3e0b707e"),
        ("끝에 마침표 a.b@c.io.", "a.b@c.io"),
    ],
)
def test_email_found_without_the_korean_around_it(text, email):
    assert found(text) == [("email", email)]


@pytest.mark.parametrize(
    "text",
    [
        "트위터 @naver_official 계정을 팔로우하세요",
        "root@localhost 로 접속",  # no top-level domain
        "a@b.c 는 주소가 아니다",  # one-letter top-level domain
        "가격은 3@500원",
        "x@123.456 은 숫자",
        "이메일@네이버.컴 은 한글 도메인",
    ],
)
def test_email_false_positive_traps(text):
    assert found(text, kinds=["email"]) == []


# ----------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678",
        "010.1234.5678",
        "01012345678",
        "010 1234 5678",
        "011-123-4567",
        "019-9876-5432",
        "02-123-4567",
        "02-1234-5678",
        "031-1234-5678",
        "064.712.3456",
        "(02) 123-4567",
        "070-1234-5678",
        "080-123-4567",
        "0505-123-4567",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "+82-2-123-4567",
        "+82 (0)2 123 4567",
        "+821012345678",
        "1588-1234",
        "1577-1234",
        "1544.9999",
        "1600-1234",
        "1644-0000",
        "1661-1234",
        "1670-1234",
        "1688-1234",
        "1800-1234",
        "1899-1234",
        "+1 415-555-2671",
        "+44 20 7946 0958",
        "+81-3-1234-5678",
        "+8613812345678",
        "+33 1 23 45 67 89",  # no four digits in a row
    ],
)
def test_phone_found_in_a_korean_sentence(phone):
    assert found(f"자세한 문의는 {phone}로 연락 바랍니다.") == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "행사는 2023-01-15에 열렸다.",
        "2023.01.15 공지",
        "1987년 6월 항쟁",
        "입장료는 1,500원이고 연간 회원권은 150,000원이다.",
        "ISBN 978-89-546-1234-5",
        "ISBN 0195120736.",
        "주문번호 123456789012345678 확인",
        "이순신(1545-1598)은 조선의 무신이다.",
        "(1800-1850)",
        "1600-1700년대 유럽",
        "1800-1900 사이",
        "1588-2020년",
        "인구 9,411,000명",
        "전화 1010-1234-56789 는 번호가 아니다",  # glued to longer digit runs
        "0101234567890123",
        "좌표 37.5665, 126.9780",
        "점수 3+12345678",
        "1-02-123-4567",
    ],
)
def test_phone_false_positive_traps(text):
    assert found(text, kinds=["phone"]) == []


def test_phone_separators_may_mix_but_landlines_need_one():
    assert found("번호 010-1234.5678") == [("phone", "010-1234.5678")]
    assert found("번호 02 123-4567") == [("phone", "02 123-4567")]
    assert found("번호 010 - 4821 - 7735 입니다") == [("phone", "010 - 4821 - 7735")]
    assert found("번호 0212345678") == []
    assert found("번호 (031)1234-5678") == [("phone", "(031)1234-5678")]


@pytest.mark.parametrize("phone", ["02)123-4567", "02)1234-5678", "031)728-4410", "02) 556-7812", "010)2934-1187"])
def test_phone_with_only_a_closing_parenthesis_after_the_area_code(phone):
    assert found(f"사무실 {phone}로 연락 주세요") == [("phone", phone)]
    assert found(f"사무실{phone}번") == [("phone", phone)]


@pytest.mark.parametrize(
    "number",
    [
        "02-023-4567",  # subscriber numbers never start with 0
        "070-123-4567",  # 070 numbers have 8 digits after the prefix
        "080-1234-5678",  # 080 numbers have 7
        "+7 123 456 78 90",  # not in Russia's plan
        "+86 123 4567 8901",
        "+1 555 555 5555",
    ],
)
def test_phone_shapes_outside_the_numbering_plan_are_not_found(number):
    assert found(f"번호 {number} 입니다", kinds=["phone"]) == []


def test_international_number_length_is_checked_and_plus82_does_not_run_on():
    assert found("번호 +1 234 567") == []  # 7 digits
    assert found("번호 +1234567890123456") == []  # 16 digits
    assert found("번호 +82 10 1234 5678 3 명") == [("phone", "+82 10 1234 5678")]


# ----------------------------------------------------------------- rrn


def test_rrn_check_digit_matches_a_hand_computed_example():
    # 900101-1 23456 ?: 2*9+3*0+4*0+5*1+6*0+7*1+8*1+9*2+2*3+3*4+4*5+5*6 = 124; (11 - 124 % 11) % 10 = 8
    assert rrn_valid("900101-1234568") and rrn_valid("9001011234568")
    assert not any(rrn_valid(f"900101-123456{d}") for d in "012345679")
    assert not rrn_valid("900101-12345") and not rrn_valid("9001011234568-")


@pytest.mark.parametrize(
    "first12",
    [
        "900101123456",  # 1990, man
        "851231234567",  # 1985, woman
        "000229312345",  # 2000 is a leap year
        "150704412345",  # 2015
        "991103512345",  # foreigner, 1900s
        "050505712345",  # foreigner, 2000s
        "880808612345",
        "100101812345",
        "991231912345",  # 1800s
        "500101012345",
    ],
)
def test_rrn_valid_numbers_are_found_with_and_without_hyphen(first12):
    for hyphen in (True, False):
        number = rrn(first12, hyphen=hyphen)
        assert found(f"주민등록번호는 {number}입니다.") == [("rrn", number)]


@pytest.mark.parametrize(
    "first12",
    [
        "900230123456",  # 30 February
        "901301123456",  # month 13
        "900100123456",  # day 0
        "000229123456",  # 1900 is not a leap year
        "010229312345",  # 2001 is not a leap year
        "900431123456",  # 31 April
    ],
)
def test_rrn_with_an_impossible_date_is_never_found(first12):
    number = rrn(first12)
    assert found(number, kinds=["rrn"]) == []
    assert found(number, kinds=["rrn"], rrn_checksum=False) == []


def test_rrn_place_of_birth_above_96_is_found_only_without_the_checksum():
    number = rrn("900101198000")  # place-of-birth digits 98, check digit correct
    assert found(number, kinds=["rrn"]) == []
    assert found(number, kinds=["rrn"], rrn_checksum=False) == [("rrn", number)]


def test_rrn_wrong_check_digit_is_found_only_without_the_checksum():
    number = wrong_check(rrn("900101123456"))
    assert found(f"번호 {number}", kinds=["rrn"]) == []
    assert found(f"번호 {number}", kinds=["rrn"], rrn_checksum=False) == [("rrn", number)]
    assert not rrn_valid(number) and rrn_valid(number, checksum=False)


def test_rrn_with_a_space_instead_of_the_hyphen():
    number = rrn("900101123456").replace("-", " ")
    assert found(f"주민번호 {number} 입니다") == [("rrn", number)]
    assert found(f"주민번호 {wrong_check(number)} 입니다", kinds=["rrn"]) == []


def test_rrn_glued_to_more_digits_is_not_found():
    number = rrn("900101123456", hyphen=False)
    assert found(f"1{number}", kinds=["rrn"]) == []
    assert found(f"{number}0", kinds=["rrn"]) == []
    assert found(f"{rrn('900101123456')}-1", kinds=["rrn"]) == []


# ----------------------------------------------------------------- card


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa
        "4222222222222",  # Visa, 13 digits
        "5555555555554444",  # Mastercard
        "2223000048400011",  # Mastercard 2-series
        "378282246310005",  # Amex
        "371449635398431",
        "3530111333300000",  # JCB
        "6011111111111117",  # Discover
        "6200000000000005",  # UnionPay
        "30569309025904",  # Diners, 14 digits
        "36227206271667",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",
        "3056 930902 5904",
    ],
)
def test_card_numbers_are_found(number):
    assert found(f"결제 카드 {number}로 승인되었습니다.") == [("card", number)]


def test_card_needs_luhn_a_known_issuer_and_the_issuer_length():
    assert found("카드 4111111111111112") == []  # Luhn fails
    unknown = luhn_complete("9410", 16)
    assert luhn.is_valid(unknown) and not card_issuer_known(unknown) and found(f"카드 {unknown}") == []
    amex_16 = luhn_complete("37", 16)
    assert luhn.is_valid(amex_16) and not card_issuer_known(amex_16) and found(f"카드 {amex_16}") == []
    assert found("카드 4111 1111-1111 1111") == []  # mixed separators
    assert found("카드 14111111111111111") == []  # glued to another digit


# ----------------------------------------------------------------- ip


@pytest.mark.parametrize(
    "address",
    ["192.168.0.1", "10.0.0.254", "255.255.255.255", "8.8.4.40", "172.16.254.1"],
)
def test_ipv4_found(address):
    assert found(f"서버 {address}에서 접속했다.") == [("ip", address)]
    assert found(f"서버주소{address}로") == [("ip", address)]
    assert found(f"IP:{address}:8080") == [("ip", address)]


@pytest.mark.parametrize(
    "text",
    [
        "192.168.01.1",  # leading zero
        "256.1.1.1",
        "1.2.3.4.5",  # longer dotted number
        "10.0.0.1.2",
        "v1.2.3.4",  # version
        "ver10.20.30.40",
        "10.20.30.40a",
        "람보1.2.3.4 시리즈",  # an enumeration
        "0.0.0.0",
        "3.14159",
        "1.5배",
    ],
)
def test_ipv4_false_positive_traps(text):
    assert found(text, kinds=["ip"]) == []


@pytest.mark.parametrize(
    "address",
    [
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:db8:85a3::8a2e:370:7334",
        "2001:db8::1",
        "fe80::1",
        "::ffff:192.168.0.1",
        "FE80::0202:B3FF:FE1E:8329",
    ],
)
def test_ipv6_found(address):
    assert found(f"주소 {address} 로 접속") == [("ip", address)]
    assert found(f"주소는{address}이다") == [("ip", address)]


@pytest.mark.parametrize(
    "text",
    ["12:30:45", "2::8 3::7", "::", "::1", "std::vector", "1:2:3:4:5:6:7:8:9", "2001:db8::1::2", "a::b"],
)
def test_ipv6_false_positive_traps(text):
    assert found(text, kinds=["ip"]) == []


# ----------------------------------------------------------------- brn


def test_brn_check_digit_of_published_numbers():
    # examples from python-stdnum's documentation of stdnum.kr.brn
    for number in ("116-82-00276", "134-86-72683"):
        assert brn_valid(number) and brn_valid(number.replace("-", ""))
        assert brn_check_digit(number.replace("-", "")[:9]) == int(number[-1])
    assert not brn_valid("116-82-00277")
    with pytest.raises(ValueError):
        brn_check_digit("1168200")


def brn(first9: str) -> str:
    number = first9 + str(brn_check_digit(first9))
    return f"{number[:3]}-{number[3:5]}-{number[5:]}"


@pytest.mark.parametrize("first9", ["220871805", "129811657", "617861157", "104815432", "605812244"])
def test_brn_with_hyphens_is_found_anywhere(first9):
    number = brn(first9)
    assert found(f"등록번호 {number}, 대표 홍길동") == [("brn", number)]
    assert found(f"공급자{number}") == [("brn", number)]


def test_brn_with_spaces_throughout_but_not_mixed():
    number = brn("220871805")
    assert found(f"사업자번호 {number.replace('-', ' ')} 확인") == [("brn", number.replace("-", " "))]
    assert found(f"번호 {number.replace('-', ' ', 1)}", kinds=["brn"]) == []


def test_brn_needs_its_check_digit_and_valid_parts():
    assert found(f"사업자등록번호 {wrong_check(brn('220871805'))}") == []
    assert found(f"사업자등록번호 {brn('045871805')}") == []  # no tax office below 101
    assert found(f"사업자등록번호 {brn('220001805')}") == []  # business type 00
    assert found(f"사업자등록번호 {brn('220870000')}") == []  # serial 0000


def test_brn_unbroken_needs_the_word_saeopja_before_it():
    bare = brn("220871805").replace("-", "")
    assert found(f"사업자번호 {bare}로 발급") == [("brn", bare)]
    assert found(f"사업자 등록번호: {bare}") == [("brn", bare)]
    assert found(f"고객번호 {bare}로 조회", kinds=["brn"]) == []
    assert found(f"사업자 정보는 아래와 같습니다. 상호 가온, 번호 {bare}", kinds=["brn"]) == []  # too far
    assert found(f"사업자번호 1{bare}", kinds=["brn"]) == []


# ----------------------------------------------------------------- passport


@pytest.mark.parametrize("number", ["M123A4567", "M019G4328", "S482K1957"])
def test_passport_new_format_is_found_anywhere(number):
    assert found(f"번호 {number} 확인") == [("passport", number)]
    assert found(f"({number})") == [("passport", number)]


@pytest.mark.parametrize(
    "text", ["여권번호 M12345678", "여권 번호는 S10482937입니다", "Passport No. M38475612", "여권(G12938475, 관용)"]
)
def test_passport_old_format_is_found_after_the_word_passport(text):
    assert [kind for kind, _ in found(text)] == ["passport"]


@pytest.mark.parametrize(
    "text",
    [
        "확인번호 M20481736",  # no context: a date or order code as often as a passport
        "옵션코드 M20240315",
        "여권 사진 규격을 안내합니다. 사진관 주문코드 M12345678",  # context too far
        "여권번호 AM12345678",  # glued to a letter
        "여권번호 M123456789",  # 9 digits
        "여권번호 X12345678",  # no such type letter
        "모델 SM-A546N, 제조번호 R58W31ABCDE",
    ],
)
def test_passport_traps(text):
    assert found(text, kinds=["passport"]) == []


# ----------------------------------------------------------------- driver_license


@pytest.mark.parametrize(
    "number",
    [
        "11-19-284716-52",
        "26-21-017734-80",
        "28 17 492018 33",
        "서울 08-193847-21",
        "경기19-382716-01",
        "부산-12-193847-60",
    ],
)
def test_driver_license_with_region_code_or_name(number):
    assert found(f"면허번호 {number} 입니다") == [("driver_license", number)]
    assert found(f"운전면허증: {number}") == [("driver_license", number)]


def test_driver_license_unbroken_needs_the_word_myeonheo():
    assert found("면허번호 131104823711 (하이픈 없이)") == [("driver_license", "131104823711")]
    assert found("상품번호 131104823711", kinds=["driver_license"]) == []


@pytest.mark.parametrize(
    "text",
    [
        "면허번호 27-19-284716-52",  # no region 27
        "면허번호 10-19-284716-52",
        "면허번호 11-19 284716-52",  # mixed separators
        "번호 111-19-284716-52",  # glued to a digit
        "번호 11-19-284716-52-1",
        "세종 12-345678-90",  # not a licence region name
    ],
)
def test_driver_license_traps(text):
    assert found(text, kinds=["driver_license"]) == []


# ----------------------------------------------------------------- bank_account


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("신한은행 110-384-592017 홍길동", "110-384-592017"),
        ("우리은행 1002-384-129573", "1002-384-129573"),
        ("국민 123456-78-901234", "123456-78-901234"),
        ("카카오뱅크 3333-01-5829174", "3333-01-5829174"),
        ("농협 302-1234-5678-91", "302-1234-5678-91"),
        ("새마을금고 9002-1938-4471-2", "9002-1938-4471-2"),
        ("환불 계좌: 11038459201 입니다", "11038459201"),
        ("110-384-592017 (신한)", "110-384-592017"),
        ("110-384-592017로 입금해 주세요", "110-384-592017"),
        ("예금주 김철수, 하나 620-219384-11207", "620-219384-11207"),
        ("기업: 482-039184-01-017", "482-039184-01-017"),
        ("토스(1000-2345-6789)", "1000-2345-6789"),
    ],
)
def test_bank_account_with_a_bank_or_account_word_nearby(text, number):
    assert found(text) == [("bank_account", number)]


@pytest.mark.parametrize(
    "text",
    [
        "주문번호 110-384-592017 출고 완료",  # no bank word
        "쿠폰번호 8812-3390-1274-5521",
        "우리 집 주문번호 1002-384-129573",  # 우리 is not right before the number
        "은행 업무를 보고 집에 와서 택배를 열어보니 송장번호 6842-1093-7715",  # bank word too far
        "계좌 110-38-4592",  # 9 digits
        "계좌 110-384-592017-1234",  # 16 digits
        "계좌 2024.03.15 입금",  # a date
    ],
)
def test_bank_account_traps(text):
    assert found(text, kinds=["bank_account"]) == []


def test_a_mobile_number_given_as_an_account_is_a_phone_number():
    assert found("계좌 010-4821-7735 로 보내주세요") == [("phone", "010-4821-7735")]
    assert found("계좌 010-4821-7735", kinds=["bank_account"]) == [("bank_account", "010-4821-7735")]


# ----------------------------------------------------------------- find_pii


def test_overlapping_matches_keep_the_longer_one():
    assert found("연락처 01012345678@naver.com 입니다") == [("email", "01012345678@naver.com")]
    assert found("연락처 +82 10-1234-5678") == [("phone", "+82 10-1234-5678")]


def test_spans_are_sorted_non_overlapping_and_exact():
    text = f"메일 a@b.com, 전화 010-1234-5678, 주민 {rrn('900101123456')}, 카드 4111 1111 1111 1111, IP 10.0.0.1"
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["email", "phone", "rrn", "card", "ip"]
    for span in spans:
        assert text[span.start : span.end] == span.text
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_kinds_select_what_is_found_and_are_checked():
    text = "메일 a@b.com, 전화 010-1234-5678"
    assert found(text, kinds=["phone"]) == [("phone", "010-1234-5678")]
    assert found(text, kinds=[]) == []
    with pytest.raises(ValueError, match="unknown PII kind"):
        find_pii(text, kinds=["mail"])
    with pytest.raises(TypeError):
        find_pii(text, kinds="email")
    assert PiiFinder(["email"])(text) == find_pii(text, kinds=["email"])


def test_text_without_pii_gives_nothing():
    for text in ["", "서울은 대한민국의 수도이다.", "1,234명이 2023년 3월 4일에 모였다.", "점수 3:2, 비율 1.5:1"]:
        assert find_pii(text) == []


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from("0123456789-. +@:abcef가나()x"), max_size=60))
def test_find_pii_spans_are_always_well_formed(text):
    spans = find_pii(text, rrn_checksum=False)
    for span in spans:
        assert span.kind in PII_KINDS and 0 <= span.start < span.end <= len(text)
        assert text[span.start : span.end] == span.text
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


# ----------------------------------------------------------------- redaction


TEXT = "홍길동(hong@naver.com, 010-1234-5678)은 서울에 산다."


def test_redact_tag_style_and_offsets():
    new, omap = redact(TEXT, find_pii(TEXT))
    assert new == "홍길동([EMAIL], [PHONE])은 서울에 산다."
    start = TEXT.index("서울")
    new_start, new_end = omap.span(start, start + 2)
    assert new[new_start:new_end] == "서울"


def test_redact_custom_tags():
    new, _ = redact(TEXT, find_pii(TEXT), tags={"phone": "<전화번호>"})
    assert new == "홍길동([EMAIL], <전화번호>)은 서울에 산다."
    with pytest.raises(ValueError, match="unknown PII kind"):
        redact(TEXT, find_pii(TEXT), tags={"fax": "[FAX]"})
    with pytest.raises(ValueError, match="non-empty"):
        redact(TEXT, find_pii(TEXT), tags={"phone": ""})


def test_redact_mask_keeps_length_and_separators():
    new, omap = redact(TEXT, find_pii(TEXT), "mask")
    assert new == "홍길동(****@*****.***, ***-****-****)은 서울에 산다."
    assert len(new) == len(TEXT) and omap.span(0, len(TEXT)) == (0, len(TEXT))
    with pytest.raises(ValueError, match="only to style 'tag'"):
        redact(TEXT, find_pii(TEXT), "mask", tags={"phone": "x"})


def test_redact_remove():
    new, _ = redact(TEXT, find_pii(TEXT), "remove")
    assert new == "홍길동(, )은 서울에 산다."


def test_redact_checks_style_and_spans():
    with pytest.raises(ValueError, match="unknown redaction style"):
        redact(TEXT, [], "blur")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not match"):
        redact(TEXT, [PiiSpan("email", 0, 3, "abc")])
    new, omap = redact(TEXT, [])
    assert new == TEXT and omap.span(3, 10) == (3, 10)


def test_redact_all_repeats_until_no_pii_is_left():
    text = "a@b.c010-1234-5678om 끝"  # removing the phone number joins an email
    once, _ = redact(text, find_pii(text), "remove")
    assert found(once) == [("email", "a@b.com")]
    done = redact_all(text, find_pii, "remove")
    assert done.text == " 끝" and done.clean and len(done.passes) == 2
    assert [s.kind for s in done.spans] == ["phone"]
    assert redact_all("깨끗한 문장", find_pii).passes == ()


def test_mask_and_excerpt_never_show_the_whole_value():
    assert mask("010-1234-5678") == "***-****-****"
    assert excerpt("010-1234-5678") == "***********78"
    assert excerpt("::1") == "***"
    assert DEFAULT_TAGS["rrn"] == "[RRN]"
