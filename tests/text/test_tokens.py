"""Token counts, offsets and special tokens with a tokenizer trained on the sample data."""

from __future__ import annotations

import json
import os

import pytest
from tokenizers import Tokenizer, processors

from curate.errors import ConfigError
from curate.text.tokens import count_tokens, load_tokenizer, pair_special_tokens, token_offsets, tokens_through
from tests.conftest import CONTEXT
from tests.tokenizer import sample_texts, train_wordpiece


def test_counts_are_the_tokenizers_own_without_special_tokens(tokenizer_path):
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    texts = [*sample_texts()[:40], "", "  ", "unseen 漢字 😀 text"]
    expected = [len(tokenizer.encode(text, add_special_tokens=False)) for text in texts]
    assert count_tokens(load_tokenizer(tokenizer_path), texts) == expected
    assert expected[-3:-1] == [0, 0] and all(n > 0 for n in expected[:40])
    assert count_tokens(load_tokenizer(tokenizer_path), []) == []


def test_offsets_map_every_token_back_to_its_characters(tokenizer_path):
    tokenizer = load_tokenizer(tokenizer_path)
    text = "서울의 인구는 약 940만 명이다. unseen 😀"
    (offsets,) = token_offsets(tokenizer, [text])
    assert len(offsets) == count_tokens(tokenizer, [text])[0]
    assert all(0 <= s < e <= len(text) for s, e in offsets)
    assert [s for s, _ in offsets] == sorted(s for s, _ in offsets)
    assert text[offsets[-1][0] : offsets[-1][1]] == "😀"  # code points, not bytes
    covered = "".join(text[s:e] for s, e in offsets)
    assert covered == text.replace(" ", "")


def test_tokens_through_turns_a_character_position_into_a_token_budget(tokenizer_path):
    tokenizer = load_tokenizer(tokenizer_path)
    (offsets,) = token_offsets(tokenizer, [CONTEXT])
    assert tokens_through(offsets, 0) == 0 and tokens_through([], 5) == 0
    assert tokens_through(offsets, len(CONTEXT)) == len(offsets)
    for end in range(1, len(CONTEXT) + 1):
        needed = tokens_through(offsets, end)
        if CONTEXT[end - 1].isspace():
            continue
        assert offsets[needed - 1][1] >= end  # the window reaches the character
        assert needed == 1 or offsets[needed - 2][1] < end  # and holds no token more
        assert offsets[needed - 1][0] < end


def test_special_tokens_come_from_the_post_processor(tokenizer_path, tmp_path):
    bert = load_tokenizer(tokenizer_path)
    assert pair_special_tokens(bert) == 3
    question, context = "서울의 인구는?", CONTEXT
    pair = len(Tokenizer.from_file(str(tokenizer_path)).encode(question, context))
    assert pair == sum(count_tokens(bert, [question, context])) + pair_special_tokens(bert)

    roberta = train_wordpiece(sample_texts()[:50], vocab_size=300)
    roberta.post_processor = processors.RobertaProcessing(("[SEP]", 2), ("[CLS]", 1))  # <s> A </s></s> B </s>
    roberta.save(str(tmp_path / "roberta.json"))
    assert pair_special_tokens(load_tokenizer(tmp_path / "roberta.json")) == 4
    bare = train_wordpiece(sample_texts()[:50], vocab_size=300)
    bare.post_processor = None
    bare.save(str(tmp_path / "bare.json"))
    assert pair_special_tokens(load_tokenizer(tmp_path / "bare.json")) == 0


def test_truncation_and_padding_saved_in_the_file_do_not_shorten_counts(tmp_path):
    tokenizer = train_wordpiece(sample_texts(), vocab_size=500)
    tokenizer.enable_truncation(8)
    tokenizer.enable_padding(length=64)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    long = sample_texts()[0]
    counted = count_tokens(load_tokenizer(tmp_path / "tokenizer.json"), [long, "서울"])
    tokenizer.no_truncation()
    tokenizer.no_padding()
    assert counted == [
        len(tokenizer.encode(long, add_special_tokens=False)),
        len(tokenizer.encode("서울", add_special_tokens=False)),
    ]
    assert counted[0] > 64


def test_a_folder_holding_tokenizer_json_works_and_a_changed_file_is_reloaded(tokenizer_path, tmp_path):
    assert load_tokenizer(tokenizer_path.parent) is load_tokenizer(tokenizer_path)
    path = tmp_path / "tokenizer.json"
    train_wordpiece(sample_texts(), vocab_size=2000).save(str(path))
    before = count_tokens(load_tokenizer(path), [CONTEXT])
    train_wordpiece(sample_texts(), vocab_size=120).save(str(path))
    os.utime(path, ns=(1, 1))  # another version even on a coarse clock
    after = count_tokens(load_tokenizer(path), [CONTEXT])
    assert after[0] > before[0]


def test_missing_or_malformed_files_are_one_line_config_errors(tmp_path):
    missing = tmp_path / "nope" / "tokenizer.json"
    with pytest.raises(ConfigError) as caught:
        load_tokenizer(missing)
    assert str(caught.value).startswith(f"tokenizer file not found at {missing}")
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=f"tokenizer file not found at {tmp_path / 'tokenizer.json'}"):
        load_tokenizer(tmp_path)  # a folder without tokenizer.json
    cases = (
        ("broken.json", "{not json", "malformed JSON"),
        ("vocab.json", json.dumps({"[UNK]": 0, "a": 1}), "JSON without a tokenizer 'model'"),
        ("odd.json", json.dumps({"model": {"type": "Nope"}}), "hint: data did not match"),
    )
    for name, content, reason in cases:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_tokenizer(path)
        message = str(caught.value)
        assert message.startswith(f"not a tokenizers tokenizer.json at {path.resolve()}") and "\n" not in message
        assert reason in message
