"""Bias diagnostics on real data from ../shared/data (skipped with a message when it is absent).

The numbers pinned here were read off the real sets: they change only when the diagnosis does.
"""

import pytest

from curate import io
from curate.bias import mrc_bias, retrieval_bias
from curate.pipeline import run_pipeline
from curate.retrieval.build import mrc_to_retrieval
from curate.stages import BiasReport
from tests.conftest import needs_shared


@pytest.fixture(scope="module")
def nsmc():
    path = needs_shared("nsmc", "binary_sample50k.tsv")
    data = io.read(path, kind="classification", rename={"document": "text"})
    return BiasReport().diagnose(data)


def test_nsmc_shortcut_tokens_are_the_ones_a_reader_expects(nsmc):
    negative, positive = nsmc.shortcuts("0")[:10], nsmc.shortcuts("1")[:10]
    assert negative[:4] == ["최악", "아깝다", "재미없", "쓰레기"]
    assert {"1점도", "짜증", "노잼"} <= set(negative)
    assert positive[0] == "최고" and {"감동적", "^^", "굿"} <= set(positive)
    assert not set(negative) & set(positive)


def test_nsmc_laughter_kk_is_no_shortcut_but_hh_is_positive(nsmc):
    """Reviews with ㅋㅋ are 43% negative (mocking laughter), so ㅋㅋ is associated with the positive
    class only weakly and is never listed; ㅎㅎ is positive 84% of the time."""
    tokens = {(r["label"], r["token"]): r for r in nsmc.tokens.to_pylist()}
    kk, hh = tokens[("1", "ㅋㅋ")], tokens[("1", "ㅎㅎ")]
    assert (kk["rows"], kk["token_rows"]) == (1485, 2587) and kk["rank"] is None
    assert hh["p_label"] == pytest.approx(557 / 661)
    assert "ㅋㅋ" not in nsmc.shortcuts("0") + nsmc.shortcuts("1")


def test_nsmc_one_token_rule_and_length_balance(nsmc):
    assert nsmc.metric("one_token_rule", "accuracy") == pytest.approx(0.55794)
    assert nsmc.metric("one_token_rule", "baseline") == 0.5
    assert next(r["detail"] for r in nsmc.metrics.to_pylist() if r["metric"] == "accuracy") == "'없' -> 0, else 1"
    assert nsmc.metric("label_by_length", "cramers_v") < 0.02  # the sample is balanced within lengths


def test_nsmc_run_report_names_the_shortcuts_and_the_shift_of_dedup(tmp_path):
    path = needs_shared("nsmc", "binary_sample50k.tsv")
    config = {
        "name": "nsmc",
        "input": {"path": str(path), "kind": "classification", "columns": {"document": "text"}},
        "output": str(tmp_path / "run"),
        "stages": [
            {"use": "bias_report", "id": "before"},
            {"use": "exact_dedup", "params": {"fields": ["text"]}},
            {"use": "length_filter", "params": {"field": "text", "min": 10}},
            {"use": "bias_report", "id": "after"},
        ],
    }
    report = (run_pipeline(config).dir / "report.md").read_text(encoding="utf-8")
    bias = report.split("## Bias")[1]
    assert "최악 98.0% (718)" in bias and "최고 92.3% (1,882)" in bias
    assert "| label_by_length | 0-9 | 0 | 49.6% | - | - |" in bias  # the length filter emptied 0-9
    assert "| text_length | all | 0-9 | 8.8% | 0.0% | -8.8 pt |" in bias


@pytest.mark.parametrize(
    ("lang", "first_sentence", "overlap_hits", "what"),
    [("en", 386, 929, 676), ("zh", 380, 920, 430)],
)
def test_xquad_answer_positions_overlap_heuristic_and_question_types(lang, first_sentence, overlap_hits, what):
    data = io.read(needs_shared("xquad", f"xquad.{lang}.json"))
    result = mrc_bias(data.batches())
    assert result.metric("dataset", "answerable") == 1190 and result.metric("dataset", "bad_span") == 0
    assert result.metric("answer_position", "first_sentence_share") == pytest.approx(first_sentence / 1190)
    # answers sit in first sentences more often than first sentences hold characters
    assert result.metric("answer_position", "first_sentence_share") > result.metric(
        "answer_position", "first_sentence_chars"
    )
    assert result.metric("lexical_overlap", "accuracy") == pytest.approx(overlap_hits / 1190)
    assert result.metric("lexical_overlap", "accuracy") > 2.5 * result.metric("lexical_overlap", "random_sentence")
    assert result.shares("question_type")["what"] == pytest.approx(what / 1190)
    assert result.shares("answer_type_by_question", "who")["text"] > 0.95


@pytest.mark.parametrize(("lang", "first"), [("en", 851), ("zh", 1107)])
def test_xquad_as_retrieval_positives_are_mostly_bm25_first(lang, first):
    parts = mrc_to_retrieval(io.read(needs_shared("xquad", f"xquad.{lang}.json")).to_arrow())
    result = retrieval_bias(parts["corpus"], parts["queries"], parts["qrels"])
    assert result.metric("dataset", "queries") == 1190 and result.metric("dataset", "corpus") == 240
    assert result.metric("bm25", "first_share") == pytest.approx(first / 1190)
