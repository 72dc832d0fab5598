"""Token counts with a local Hugging Face ``tokenizers`` file (pure functions apart from loading).

Readers and retrievers are trained under budgets in their own subword tokens (a BERT reader: 384
or 512 tokens for ``[CLS] question [SEP] context [SEP]``). :func:`load_tokenizer` reads a
``tokenizer.json`` (written by ``Tokenizer.save`` or a fast tokenizer's ``save_pretrained``; a
folder holding one works too) once per file and version, from local disk only: nothing is ever
downloaded. Truncation and padding saved in the file are switched off, so counts are true lengths.

- :func:`count_tokens`: tokens of each text, special tokens not counted (one batch call).
- :func:`token_offsets`: per text, each token's ``(start, end)`` code-point offsets into the
  text: token ``n - 1`` ends where a budget of ``n`` tokens ends in the text, and
  :func:`tokens_through` gives the tokens needed to reach a character position. (A normalizer that
  composes characters, NFC on decomposed Hangul, gives a composed syllable the offsets of its first
  code point only.)
- :func:`pair_special_tokens`: special tokens the tokenizer's post-processor adds to a pair
  (``[CLS] A [SEP] B [SEP]``: 3; RoBERTa's ``<s> A </s></s> B </s>``: 4; none: 0), measured by
  encoding a pair with and without them.

A pair is tokenized one sequence at a time and joined by the post-processor, so the input length a
reader sees for a (question, context) pair is ``count(question) + count(context) +
pair_special_tokens``.
"""

from __future__ import annotations

import functools
import json
from bisect import bisect_left
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.errors import ConfigError, Where

Offsets = list[tuple[int, int]]

_HINT = "give a tokenizer.json saved by the Hugging Face tokenizers library (Tokenizer.save or save_pretrained)"


def load_tokenizer(path: str | Path) -> Any:
    """The ``tokenizers.Tokenizer`` in ``path`` (a ``tokenizer.json``, or a folder holding one),
    loaded once per file content version (path, size, modification time).

    Raises:
        ConfigError: the file is missing or is not a tokenizer file (one line naming the path).
    """
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise ConfigError("tokenizer file not found", where=Where(file=str(file)), hint=_HINT)
    stat = file.stat()
    return _load(str(file.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int) -> Any:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as exc:  # the Rust side raises plain Exceptions for malformed JSON or models
        raise ConfigError(
            "not a tokenizers tokenizer.json", where=Where(file=path), hint=f"{_reason(path, exc)}; {_HINT}"
        ) from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _reason(path: str, exc: Exception) -> str:
    """Why ``path`` is not a tokenizer file, in a few words."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        return f"malformed JSON ({bad})" if isinstance(bad, json.JSONDecodeError) else "not a text file"
    if not isinstance(document, dict) or "model" not in document:
        return "JSON without a tokenizer 'model' (a vocab.json or config.json?)"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def count_tokens(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Tokens of each text, without special tokens (``[CLS]``, ``[SEP]``)."""
    if not texts:
        return []
    return [len(encoding) for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def token_offsets(tokenizer: Any, texts: Sequence[str]) -> list[Offsets]:
    """Per text, the ``(start, end)`` code-point offsets of its tokens in order (no special
    tokens): token ``i`` covers ``text[start:end]``; several tokens of one character (byte-level
    BPE) share its offsets."""
    if not texts:
        return []
    return [list(encoding.offsets) for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def tokens_through(offsets: Offsets, end: int) -> int:
    """How many leading tokens a window must hold to cover ``text[:end]``: up to the first token
    whose end offset reaches code point ``end`` (the test Hugging Face's question-answering
    examples apply to an answer's end), all of them when none does, 0 when ``end`` <= 0.
    ``offsets`` from :func:`token_offsets`."""
    if end <= 0 or not offsets:
        return 0
    return min(bisect_left(offsets, end, key=lambda offset: offset[1]) + 1, len(offsets))


def pair_special_tokens(tokenizer: Any) -> int:
    """Special tokens the post-processor adds to a pair of sequences (question, context)."""
    with_special = tokenizer.encode("", "", add_special_tokens=True)
    without = tokenizer.encode("", "", add_special_tokens=False)
    return len(with_special) - len(without)
