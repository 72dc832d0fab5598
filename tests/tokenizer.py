"""A small WordPiece tokenizer trained on the sample's contexts and questions, saved as a real
``tokenizer.json`` with BERT's pair template (``[CLS] A [SEP] B [SEP]``: 3 special tokens)."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from curate.io import read

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "korquad_sample.json"
SPECIAL = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def sample_texts() -> list[str]:
    """Every distinct context and question of ``sample_data/korquad_sample.json``."""
    rows = read(SAMPLE).to_arrow().select(["context", "question"]).to_pylist()
    return list(dict.fromkeys([r["context"] for r in rows] + [r["question"] for r in rows]))


def train_wordpiece(texts: list[str], vocab_size: int = 2000, *, uncased: bool = False) -> Tokenizer:
    """A BERT-like WordPiece tokenizer (NFC, or BERT's uncased normalizer; BERT pre-tokenizer;
    ``[CLS] A [SEP] B [SEP]``)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True) if uncased else normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False)
    )
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tokenizer


def save_sample_tokenizer(path: Path) -> Path:
    train_wordpiece(sample_texts()).save(str(path))
    return path
