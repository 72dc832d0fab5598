"""Token budgets on real SQuAD-style data (XQuAD-en), with a tokenizer trained on it in the test.

The reference is a reader's own windowing: the tokenizers library truncating (question, context)
pairs to 384 tokens with a stride of 128, and the answer-in-window test of Hugging Face's
question-answering examples (the window's last context token reaches the answer's end)."""

import json

import pytest
from tokenizers import Tokenizer

from curate import io
from curate.stages import ChunkPassages, MrcChecks
from tests.conftest import needs_shared
from tests.tokenizer import train_wordpiece

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def xquad_tokenizer(tmp_path_factory):
    """An uncased BERT-style WordPiece tokenizer (8,000 entries) trained on XQuAD-en."""
    source = needs_shared("xquad", "xquad.en.json")
    texts = []
    for article in json.loads(source.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            texts += [paragraph["context"], *(qa["question"] for qa in paragraph["qas"])]
    tokenizer = train_wordpiece(texts, vocab_size=8000, uncased=True)
    path = tmp_path_factory.mktemp("xquad_tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path, source


def reader_verdicts(tokenizer_path, rows, max_length=384, stride=128):
    """Per row: (the reader makes more than one window or truncates, the first answer lies outside
    the first window), from the tokenizers library's own truncation."""
    reader = Tokenizer.from_file(str(tokenizer_path))
    reader.enable_truncation(max_length, stride=stride, strategy="only_second")
    out = []
    for row in rows:
        encoding = reader.encode(row["question"], row["context"])
        over = bool(encoding.overflowing) or len(encoding) < row["mrc_input_tokens"]
        outside = None
        if row["answers"]:
            answer = row["answers"][0]
            kept = [o for o, seq in zip(encoding.offsets, encoding.sequence_ids, strict=True) if seq == 1]
            end = answer["answer_start"] + len(answer["text"])
            outside = not (kept[0][0] <= answer["answer_start"] and kept[-1][1] >= end)
        out.append((over, outside))
    return out


def test_budget_flags_match_a_striding_reader_on_xquad_en(xquad_tokenizer):
    tokenizer_path, source = xquad_tokenizer
    result = MrcChecks(tokenizer=str(tokenizer_path), max_length=384, doc_stride=128, filter=False)(io.read(source))
    rows = result.kept.to_arrow().to_pylist()
    assert len(rows) == 1190
    expected = reader_verdicts(tokenizer_path, rows)
    found = [("mrc_over_token_budget" in r["mrc_flags"], "mrc_answer_beyond_budget" in r["mrc_flags"]) for r in rows]
    assert [(o, b) for (o, b), (_, outside) in zip(found, expected, strict=True) if outside is not None] == [
        e for e in expected if e[1] is not None
    ]
    over = sum(o for o, _ in found)
    beyond = sum(b for _, b in found)
    assert 0 < beyond < over < 100  # a few dozen long paragraphs; a handful of answers past 384 tokens


def test_chunking_to_320_tokens_brings_every_question_under_384(xquad_tokenizer):
    tokenizer_path, source = xquad_tokenizer
    chunked = ChunkPassages(unit="tokens", tokenizer=str(tokenizer_path), size=320, overlap=64)(io.read(source))
    assert chunked.stats.rows_rejected == 0 and chunked.stats.rows_kept == 1190
    checked = MrcChecks(tokenizer=str(tokenizer_path), max_length=384, filter=False)(chunked.kept)
    rows = checked.kept.to_arrow().to_pylist()
    assert max(r["mrc_context_tokens"] for r in rows) <= 320
    assert not any(
        {"mrc_over_token_budget", "mrc_answer_beyond_budget", "mrc_span_invalid"} & set(r["mrc_flags"]) for r in rows
    )
    assert reader_verdicts(tokenizer_path, rows) == [(False, False)] * len(rows)
