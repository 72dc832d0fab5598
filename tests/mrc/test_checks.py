import unicodedata

from curate.mrc.checks import check_row, repair_row, span_problem
from curate.mrc.edits import move_answers
from curate.text.normalize import normalize, normalize_text
from tests.conftest import CONTEXT, answer


def codes(problems):
    return [p.code for p in problems]


def test_exact_span_has_no_problem():
    assert check_row(CONTEXT, [answer(CONTEXT, "한강")]) == []


def test_each_problem_code():
    good = answer(CONTEXT, "한강")
    assert codes(check_row(CONTEXT, [{**good, "answer_start": good["answer_start"] + 1}])) == ["span_mismatch"]
    assert codes(check_row(CONTEXT, [{**good, "answer_start": len(CONTEXT)}])) == ["offset_out_of_range"]
    assert codes(check_row(CONTEXT, [{**good, "answer_start": -1}])) == ["offset_out_of_range"]
    assert codes(check_row(CONTEXT, [{"text": " ", "answer_start": 0}])) == ["empty_answer"]
    assert codes(check_row(CONTEXT, [])) == ["no_answers"]
    assert codes(check_row(CONTEXT, [], is_impossible=True)) == []
    assert codes(check_row(CONTEXT, [good], is_impossible=True)) == ["impossible_with_answers"]


def test_plausible_answers_are_checked_with_their_field():
    bad = {"text": "한강", "answer_start": 0}
    problems = check_row(CONTEXT, [], is_impossible=True, plausible_answers=[bad])
    assert [(p.field, p.code) for p in problems] == [("plausible_answers[0].answer_start", "span_mismatch")]


def test_problem_detail_quotes_what_the_context_holds():
    problem = span_problem(CONTEXT, {"text": "한강", "answer_start": 0}, "answers[0]")
    assert problem is not None and "'서울'" in problem.detail and "'한강'" in problem.detail


def test_repair_moves_shifted_span_back_and_notes_it():
    good = answer(CONTEXT, "한강")
    fixed = repair_row(CONTEXT, [{**good, "answer_start": good["answer_start"] - 3}])
    assert fixed.answers == [good]
    assert fixed.unrepaired == [] and "span_mismatch" in fixed.notes[0]


def test_repair_nfd_answer_takes_context_characters():
    nfd = unicodedata.normalize("NFD", "한강")
    fixed = repair_row(CONTEXT, [{"text": nfd, "answer_start": CONTEXT.index("한강")}])
    assert fixed.answers == [answer(CONTEXT, "한강")]


def test_repair_leaves_unfixable_rows_with_reasons():
    fixed = repair_row(CONTEXT, [{"text": "부산", "answer_start": 3}])
    assert codes(fixed.unrepaired) == ["answer_not_found"]
    fixed = repair_row(CONTEXT, [{"text": "", "answer_start": 3}])
    assert codes(fixed.unrepaired) == ["empty_answer"]
    fixed = repair_row(CONTEXT, [answer(CONTEXT, "한강")], is_impossible=True)
    assert codes(fixed.unrepaired) == ["impossible_with_answers"]


def test_move_answers_through_whitespace_collapse():
    context = "서울은   대한민국의\n\n수도이다."
    ops = ("whitespace",)
    new, omap = normalize(context, ops)
    moved, problem = move_answers([answer(context, "수도")], omap, new, lambda t: normalize_text(t, ops))
    assert problem is None
    assert new[moved[0]["answer_start"] :].startswith("수도")


def test_move_answers_rejects_an_answer_the_edit_destroys():
    context = "앞 <b>굵게</b> 뒤"
    ops = ("html_tags",)
    new, omap = normalize(context, ops)
    moved, problem = move_answers([answer(context, "<b>")], omap, new, lambda t: normalize_text(t, ops))
    assert problem is not None and "answers[0]" in problem


def test_repair_prefers_a_valid_sibling_answer_with_the_same_text():
    first, second = answer(CONTEXT, "서울", 0), answer(CONTEXT, "서울", 2)
    broken = {**second, "answer_start": first["answer_start"] + 1}  # nearest occurrence would be the first
    fixed = repair_row(CONTEXT, [second, broken])
    assert fixed.answers == [second, second] and "same as another answer" in fixed.notes[0]
