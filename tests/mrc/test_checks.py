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


# ----------------------------------------------------------------- reader token budgets


def sample_pairs():
    from curate.io import read
    from tests.conftest import REPO

    rows = read(REPO / "sample_data" / "korquad_sample.json").to_arrow().to_pylist()
    return [(r["question"], r["context"], r["answers"][0]) for r in rows if r["answers"]]


def reader(tokenizer_path, max_length=None, stride=0):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    if max_length is not None:
        tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
    return tokenizer


def context_end(encoding) -> int:
    """Where the context kept in a reader's first window ends (code points): Hugging Face's
    question-answering examples call an answer inside the window when this reaches its end."""
    return max((e for (_, e), seq in zip(encoding.offsets, encoding.sequence_ids, strict=True) if seq == 1), default=0)


def test_reader_input_counts_and_the_answer_end_agree_with_a_truncating_reader(tokenizer_path):
    from curate.mrc.checks import reader_input
    from curate.text.tokens import count_tokens, load_tokenizer, pair_special_tokens, token_offsets

    tokenizer = load_tokenizer(tokenizer_path)
    special = pair_special_tokens(tokenizer)
    full = reader(tokenizer_path)
    checked = 0
    for question, context, first in sample_pairs()[::3]:  # NFD passages included: NFC composes their offsets
        (offsets,) = token_offsets(tokenizer, [context])
        found = reader_input(context, count_tokens(tokenizer, [question])[0], offsets, special, first)
        assert found.total == len(full.encode(question, context)) == found.question + found.context + 3
        if span_problem(context, first, "a") is not None:
            assert found.answer_end is None
            continue
        end = first["answer_start"] + len(first["text"])
        assert context_end(reader(tokenizer_path, found.answer_end).encode(question, context)) >= end
        if found.answer_end - 1 > found.question + special:
            assert context_end(reader(tokenizer_path, found.answer_end - 1).encode(question, context)) < end
        checked += 1
    assert checked > 50
    no_answer = reader_input(CONTEXT, 5, token_offsets(tokenizer, [CONTEXT])[0], special, None)
    assert no_answer.answer_end is None and no_answer.total == 5 + no_answer.context + 3


def test_reader_windows_match_a_striding_reader(tokenizer_path):
    from curate.mrc.checks import reader_windows
    from curate.text.tokens import count_tokens, load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    compared = 0
    for question, context, _ in sample_pairs()[::9]:
        q, c = count_tokens(tokenizer, [question, context])
        for max_length, stride in ((64, 16), (100, 0), (48, 30), (40, 8)):
            windows = reader_windows(q, c, 3, max_length, stride)
            if windows is None:  # the question leaves no more than the stride for the context
                assert max_length - q - 3 <= stride and c > max_length - q - 3
                continue
            encoding = reader(tokenizer_path, max_length, stride).encode(question, context)
            assert windows == 1 + len(encoding.overflowing)
            compared += 1
    assert compared > 40
    assert reader_windows(10, 20, 3, 384, 128) == 1
