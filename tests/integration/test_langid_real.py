"""Language filtering on real third-party text: Korean rows stay, English rows go."""

import csv

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.io import read
from curate.stages import LanguageFilter, LanguageId
from tests.conftest import needs_shared

pytestmark = pytest.mark.integration


def korean_rows() -> list[dict]:
    """MRC-shaped rows from KorSTS sentence pairs (context = both sentences, question = the first)."""
    path = needs_shared("korsts", "KorSTS", "sts-train.tsv")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for i, record in enumerate(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
            context = f"{record['sentence1']} {record['sentence2']}"
            first = context.split()[0]
            rows.append({"id": f"ko-{i}", "context": context, "question": record["sentence1"],
                         "answers": [{"text": first, "answer_start": 0}]})  # fmt: skip
    return rows


def english_rows() -> list[dict]:
    table = read(needs_shared("xquad", "xquad.en.json")).to_arrow()
    return [
        {**row, "id": f"en-{row['id']}"} for row in table.select(["id", "context", "question", "answers"]).to_pylist()
    ]


def test_korean_rows_stay_and_english_rows_go_with_languages_ko():
    ko, en = korean_rows(), english_rows()
    mixed = Dataset.from_arrow(pa.Table.from_pylist(ko + en), "mrc")
    result = LanguageFilter(languages=["ko"])(mixed)
    kept = set(result.kept.to_arrow().column("id").to_pylist())
    ko_kept = sum(r["id"] in kept for r in ko) / len(ko)
    en_kept = sum(r["id"] in kept for r in en) / len(en)
    assert ko_kept > 0.995, ko_kept
    assert en_kept < 0.005, en_kept
    assert result.stats.rows_kept + result.stats.rows_rejected == len(ko) + len(en)
    assert set(result.stats.reasons) <= {"wrong_language", "low_language_score", "no_language"}


def test_korean_and_english_sentences_of_the_langid_test_items():
    texts = {}
    for language in ("ko", "en", "ja", "zh"):
        path = needs_shared("langid", "sentences", f"{language}.txt")
        texts[language] = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [{"id": f"{lang}-{i}", "text": t} for lang, items in texts.items() for i, t in enumerate(items)]
    table = Dataset.from_arrow(pa.Table.from_pylist(rows), "document")
    scored = LanguageId()(table).kept.to_arrow()
    found = dict(zip(scored.column("id").to_pylist(), scored.column("lang_text").to_pylist(), strict=True))
    for language in texts:
        share = sum(found[f"{language}-{i}"] == language for i in range(len(texts[language]))) / len(texts[language])
        assert share >= 0.99, (language, share)


def test_single_chinese_and_korean_words(tmp_path):
    for language, floor in (("zh", 0.95), ("ko", 0.99)):
        path = needs_shared("langid", "single-words", f"{language}.txt")
        words = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        table = pa.table({"id": [str(i) for i in range(len(words))], "text": words})
        kept = LanguageFilter(languages=[language], threshold=0.0)(table, kind="document").kept
        assert kept.num_rows / len(words) >= floor, (language, kept.num_rows / len(words))
