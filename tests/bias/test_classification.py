"""Token-label association and label shares on tiny sets whose biases are planted by construction."""

import math

import polars as pl
import pyarrow as pa
import pytest
from scipy.stats import chi2_contingency

from curate.bias import TokenSettings, classification_bias, one_token_rule
from curate.bias.tokens import count_tokens, merge_counts, row_tokens, token_associations

FILLERS = ["영화", "배우", "장면", "음악", "이야기", "감독", "연기"]


def planted(pos_with=60, neg_with=2, rows_per_label=200, token="꿀잼"):
    """Positive and negative rows with the same filler text row for row; ``token`` is added to the
    first ``pos_with`` positive and ``neg_with`` negative rows, so it is the only association."""
    texts, labels = [], []
    for label, planted_rows in (("pos", pos_with), ("neg", neg_with)):
        for j in range(rows_per_label):
            words = [FILLERS[j % 7], FILLERS[(3 * j + 1) % 7]]
            if j < planted_rows:
                words.append(token)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, labels


def diagnose(texts, labels, batch=64, **settings):
    table = pa.table({"text": texts, "label": labels})
    return classification_bias(table.to_batches(batch), settings=TokenSettings(**settings))


def test_a_planted_shortcut_token_tops_its_label_with_exact_pmi_and_g_test():
    texts, labels = planted()
    result = diagnose(texts, labels)
    assert result.shortcuts("pos")[0] == "꿀잼"
    assert result.shortcuts("neg") == []  # fillers are spread evenly: nothing else is associated
    row = next(r for r in result.tokens.to_pylist() if r["token"] == "꿀잼" and r["label"] == "pos")
    assert (row["rows"], row["token_rows"], row["label_rows"]) == (60, 62, 200)
    assert row["p_label"] == pytest.approx(60 / 62)
    assert row["pmi"] == pytest.approx(math.log((60 / 62) / 0.5))
    assert row["npmi"] == pytest.approx(math.log((60 / 62) / 0.5) / -math.log(60 / 400))
    g, p, _, _ = chi2_contingency([[60, 2], [140, 198]], correction=False, lambda_="log-likelihood")
    assert row["g"] == pytest.approx(g) and row["p_value"] == pytest.approx(p)
    assert row["significant"] and row["pmi_low"] < row["pmi"]
    # the single syllables of the token occur in exactly its rows: covered by it, never listed
    pieces = {r["token"]: r for r in result.tokens.to_pylist() if r["label"] == "pos"}
    assert pieces["꿀"]["covered_by"] == "꿀잼" and pieces["꿀"]["rank"] is None


def test_the_best_one_token_rule_is_the_planted_token_with_its_accuracy_and_coverage():
    texts, labels = planted()
    metrics = {(r["section"], r["metric"]): r for r in diagnose(texts, labels).metrics.to_pylist()}
    assert metrics[("one_token_rule", "accuracy")]["value"] == pytest.approx((60 + 198) / 400)
    assert metrics[("one_token_rule", "accuracy")]["detail"] == "'꿀잼' -> pos, else neg"
    assert metrics[("one_token_rule", "baseline")]["value"] == 0.5
    assert metrics[("one_token_rule", "coverage")]["value"] == pytest.approx(62 / 400)
    assert metrics[("one_token_rule", "precision")]["value"] == pytest.approx(60 / 62)


def test_one_token_rule_answers_a_label_the_token_never_meets_when_absent():
    texts = ["영화"] * 100 + ["영화"] * 60 + ["영화 x"] * 40
    labels = ["a"] * 100 + ["b"] * 60 + ["c"] * 40
    counts = count_tokens(texts, labels, TokenSettings())
    rule = one_token_rule(counts, {"a": 100, "b": 60, "c": 40}, TokenSettings())
    assert (rule.token, rule.label, rule.otherwise) == ("x", "c", "a")
    assert rule.accuracy == pytest.approx(0.7) and rule.baseline == 0.5 and rule.coverage == 0.2


def test_significance_floor_leaves_out_rare_tokens_and_keeps_unsignificant_ones_unranked():
    texts, labels = planted(pos_with=60, neg_with=2)
    texts = [t + (" 드문" if i < 5 else "") + (" 반반" if i % 16 == 0 else "") for i, t in enumerate(texts)]
    result = diagnose(texts, labels, min_count=20)
    tokens = {(r["label"], r["token"]): r for r in result.tokens.to_pylist()}
    assert not any(token == "드문" for _, token in tokens)  # in 5 rows: below min_count, not tested
    half = tokens[("pos", "반반")] if ("pos", "반반") in tokens else tokens[("neg", "반반")]
    assert half["token_rows"] == 25 and not half["significant"] and half["rank"] is None
    tests = next(r["value"] for r in result.metrics.to_pylist() if r["metric"] == "tests")
    level = next(r["value"] for r in result.metrics.to_pylist() if r["metric"] == "level")
    assert level == pytest.approx(0.01 / tests)


def test_overlapping_char_ngrams_of_one_phrase_are_listed_once():
    texts, labels = planted(pos_with=80, neg_with=0, token="최고입니다")
    listed = diagnose(texts, labels).shortcuts("pos")
    assert sum(token in "최고입니다" for token in listed) == 1


def test_eojeol_and_char_tokens_and_batches_give_the_same_counts():
    texts, labels = planted()
    whole = count_tokens(texts, labels, TokenSettings())
    parts = merge_counts(
        *(count_tokens(texts[i : i + 50], labels[i : i + 50], TokenSettings()) for i in range(0, 400, 50))
    )
    assert whole.sort("token", "label").equals(parts.sort("token", "label"))
    words = row_tokens(["최악의 영화 최악의", None, "  "], TokenSettings(tokenizer="eojeol"))
    assert sorted(words.rows()) == [(0, "영화"), (0, "최악의")]  # distinct per row; empty rows give none
    assert diagnose(texts, labels, tokenizer="eojeol").shortcuts("pos") == ["꿀잼"]


def test_label_shares_by_length_and_source_with_cramers_v():
    texts = ["짧다"] * 30 + ["아주 길고 자세한 리뷰입니다 정말로"] * 30
    labels = ["neg"] * 30 + ["pos"] * 30
    sources = ["orig"] * 45 + ["augment:typo"] * 15
    table = pa.table({"text": texts, "label": labels, "source": sources})
    result = classification_bias(table.to_batches(16))
    assert result.shares("label_by_length", "0-9") == {"neg": 1.0, "pos": 0.0}
    assert result.shares("label_by_length", "10-19") == {"neg": 0.0, "pos": 1.0}
    assert result.metric("label_by_length", "cramers_v") == pytest.approx(1.0)
    assert result.shares("label_by_source", "augment:typo") == {"neg": 0.0, "pos": 1.0}
    assert result.shares("label_by_source", "orig") == pytest.approx({"neg": 30 / 45, "pos": 15 / 45})
    assert result.shares("text_length") == {"0-9": 0.5, "10-19": 0.5}


def test_rows_without_label_take_no_part_and_an_empty_set_gives_empty_tables():
    result = diagnose(["좋다", "싫다", "좋다"], ["pos", None, "pos"])
    assert result.metric("dataset", "rows") == 3 and result.metric("dataset", "labelled_rows") == 2
    empty = classification_bias([])
    assert empty.metric("one_token_rule", "accuracy") is None and empty.tokens.num_rows == 0
    assert empty.distributions.num_rows == 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="tokenizer"):
        TokenSettings(tokenizer="bpe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ngram_min"):
        TokenSettings(ngram_min=3, ngram_max=2)
    assert (
        token_associations(
            pl.DataFrame(schema={"token": pl.String, "label": pl.String, "rows": pl.Int64}), {}, TokenSettings()
        )[1]
        == 0
    )


def test_morph_tokens_are_kiwipiepy_morphemes_without_punctuation():
    pytest.importorskip("kiwipiepy")
    tokens = row_tokens(["재미없는 영화였다 ^^", "최고!"], TokenSettings(tokenizer="morph"))
    assert {"재미없", "영화"} <= {t for r, t in tokens.rows() if r == 0}
    assert [t for r, t in tokens.rows() if r == 1] == ["최고"]
