"""Cost of counting in tokens: chunking and reader-budget checks with a tokenizer.json.

    .venv/bin/python benchmarks/token_budgets.py

Data: XQuAD en, zh and th (``../shared/data/xquad``; 240 paragraphs, 1,190 questions each). For
each language an uncased WordPiece tokenizer (8,000 entries, BERT pre-tokenizer and pair template)
is trained on that file's paragraphs and questions in a temporary folder. Measured, as CPU seconds
of this process (the tokenizers library's threads included), best of three:

- ``chunk_text`` over all paragraphs joined by newlines, in tokens against characters (4 characters
  a token), with a quarter of the size as overlap;
- ``mrc_checks`` on the 1,190 questions with and without ``tokenizer`` (max_length 384).

Output is Markdown.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from curate import io
from curate.retrieval.chunk import chunk_text
from curate.stages import MrcChecks

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "xquad"
LANGS = ("en", "zh", "th")


def train(path: Path, texts: list[str]) -> None:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=8000, special_tokens=special, show_progress=False)
    )
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer.save(str(path))


def cpu_seconds(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Best CPU time of three calls ``fn(*args, **kwargs)``, and the last result."""
    best, result = float("inf"), None
    for _ in range(3):
        started = time.process_time()
        result = fn(*args, **kwargs)
        best = min(best, time.process_time() - started)
    return best, result


def main() -> None:
    chunk_rows, check_rows = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for lang in LANGS:
            source = XQUAD / f"xquad.{lang}.json"
            paragraphs = [p for a in json.loads(source.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"]]
            contexts = [p["context"] for p in paragraphs]
            tokenizer = Path(scratch) / f"{lang}.json"
            train(tokenizer, contexts + [qa["question"] for p in paragraphs for qa in p["qas"]])
            text = "\n".join(contexts)
            for size in (128, 384):
                tokens_s, spans = cpu_seconds(chunk_text, text, size, size // 4, "tokens", tokenizer=str(tokenizer))
                chars_s, char_spans = cpu_seconds(chunk_text, text, 4 * size, size, "chars")
                chunk_rows.append((lang, len(text), size, len(spans), tokens_s, 4 * size, len(char_spans), chars_s))
            data = io.read(source)
            plain_s, _ = cpu_seconds(MrcChecks(filter=False), data)
            token_s, result = cpu_seconds(MrcChecks(tokenizer=str(tokenizer), filter=False), data)
            failed = {r["check"]: r["rows_failed"] for r in result.artifacts["checks"].to_pylist()}
            check_rows.append((lang, data.num_rows, plain_s, token_s, failed["mrc_over_token_budget"]))

    print("| lang | characters | tokens: size (overlap size/4) | chunks | CPU s | chars: size | chunks | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lang, n, size, chunks, tokens_s, char_size, char_chunks, chars_s in chunk_rows:
        print(f"| {lang} | {n:,} | {size} | {chunks} | {tokens_s:.2f} | {char_size} | {char_chunks} | {chars_s:.2f} |")
    print()
    print("| lang | questions | mrc_checks CPU s | with tokenizer CPU s | over 384 tokens |")
    print("|---|---:|---:|---:|---:|")
    for lang, rows, plain_s, token_s, over in check_rows:
        print(f"| {lang} | {rows:,} | {plain_s:.2f} | {token_s:.2f} | {over} |")


if __name__ == "__main__":
    main()
