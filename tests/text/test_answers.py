"""Answer variants and key search (curate.text.answers): Korean, Chinese and English cases."""

import pytest

from curate.text.answers import MIN_KEY_CHARS, KeyedText, answer_key, answer_variants, long_enough


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("아미 (ARMY)", "아미army"),
        ("아미（ＡＲＭＹ）", "아미army"),  # full-width forms: NFKC
        ("서울 대학교", "서울대학교"),  # spacing folded
        ("U.S.", "us"),
        ("1,600", "1600"),
        ("1 600", "1600"),
        ("20–18", "20–18"),  # a score or a range is not the number 2018
        ("3:08", "3:08"),
        ("《圣经》", "圣经"),
        ("栉水母。", "栉水母"),
        ("\u1109\u1165\u110b\u116e\u11af", "서울"),  # NFD jamo compose
        ("Computational_complexity_theory", "computationalcomplexitytheory"),
        ("50%", "50"),
        ("$5", "$5"),  # symbols stay
        ("", ""),
        (None, ""),
    ],
)
def test_answer_key_folds_unicode_case_punctuation_and_spacing(text, key):
    assert answer_key(text) == key


@pytest.mark.parametrize(
    ("answer", "variants"),
    [
        ("아미(ARMY)", ("아미army", "아미", "army")),
        ("방탄소년단 (BTS)", ("방탄소년단bts", "방탄소년단", "bts")),
        ("the American Medical Association (AMA)", ("theamericanmedicalassociationama", "theamericanmedicalassociation", "ama")),
        ("卓戈 (Drogo)", ("卓戈drogo", "卓戈", "drogo")),
        ("《终结战争的机器》(A Machine to End War)", ("终结战争的机器amachinetoendwar", "终结战争的机器", "amachinetoendwar")),
        # a bracket inside the answer qualifies a word of it: only the form without it
        ("Mental Health (Care and Treatment) (Scotland) Act 2003",
         ("mentalhealthcareandtreatmentscotlandact2003", "mentalhealthact2003")),
        ("郡 (county) 或县 (powiat)", ("郡county或县powiat", "郡或县", "powiat")),
        # nested brackets stay in their group; unbalanced ones split nothing
        ("DTIME(f(n))", ("dtimefn", "dtime")),
        ("7,000,000 square kilometres (2,70", ("7000000squarekilometres270",)),
        ("planning,[citation needed] design", ("planningcitationneededdesign",)),
        ("two.", ("two",)),
        ("1999 年", ("1999年",)),
    ],
)  # fmt: skip
def test_answer_variants(answer, variants):
    assert answer_variants(answer) == variants


@pytest.mark.parametrize(
    ("answer", "not_variants"),
    [
        ("미국(美)", {"美"}),  # one Han character: would guard every passage that writes it
        ("서울 (서)", {"서"}),  # one Hangul syllable
        ("DTIME(f(n))", {"fn", "f", "n"}),
        ("United States (US)", {"us"}),  # two Latin letters
        ("1,600 mm (5 ft 3 in) broad gauge", {"5ft3in"}),  # inside the answer: a qualifier
        ("U.S.", {"us"}),
        ("19", {"19"}),
        ("A", {"a"}),
    ],
)
def test_short_fragments_are_never_variants(answer, not_variants):
    assert not set(answer_variants(answer)) & not_variants


def test_the_minimum_length_depends_on_the_script():
    assert MIN_KEY_CHARS == {"dense": 2, "other": 3}
    assert long_enough("아미") and long_enough("北京") and long_enough("すし") and long_enough("ama")
    assert not long_enough("미") and not long_enough("京") and not long_enough("us") and not long_enough("19")
    assert long_enough("a미")  # one Hangul character makes it dense


def test_keyed_text_matches_whole_words_of_spaced_scripts():
    passage = KeyedText.of("The (ARTS) board met in 2000. Its parts cost 20,000 dollars; 3:08 left. 1,600명")
    assert passage.contains("arts")  # after '('
    assert not passage.contains("art")  # a word starts but does not end there
    assert passage.contains("board") and passage.contains("theartsboard")  # across punctuation and spaces
    assert passage.contains("2000") and not passage.contains("200")
    assert not passage.contains("000")  # '20,000' is one number
    assert passage.contains("3:08") and not passage.contains("308")
    assert passage.contains("1600") and not passage.contains("600")
    assert not passage.contains("ost") and not passage.contains("")


def test_keyed_text_matches_anywhere_in_scripts_without_word_spaces():
    korean = KeyedText.of("방탄소년단의 팬클럽 아미는 ARMY라고도 쓴다.")
    assert korean.contains("아미") and korean.contains("army")  # a particle follows: '아미는', 'ARMY라고'
    assert korean.contains("팬클럽아미")  # spacing folded
    assert korean.contains("탄소") and not korean.contains("아미army")
    chinese = KeyedText.of("《圣经》是基督教的经典。")
    assert chinese.contains("圣经") and chinese.contains("经典")
    assert not KeyedText.of("").contains("아미")
