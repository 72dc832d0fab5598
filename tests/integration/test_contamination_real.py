"""Contamination on real XQuAD data (skipped with a message when ../shared/data is absent).

The training set is built so the truth is known: every German row (translations of the English
evaluation rows: not contaminated), 300 English rows copied verbatim and 100 English rows whose
passages were lightly edited (both contaminated). The evaluation set is the English file.
"""

import random

import numpy as np
import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.dedup.contamination import ContaminationSettings, find_contamination
from curate.stages import Decontaminate
from tests.conftest import needs_shared

COPIES, EDITS = 300, 100


def light_edit(text: str, rng: random.Random) -> str:
    """Change about one word in 25: reverse it, drop it or double it."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 25)):
        i = rng.randrange(len(words))
        words[i] = rng.choice([words[i][::-1], "", words[i] + " " + words[i]])
    return " ".join(w for w in words if w)


@pytest.fixture(scope="module")
def xquad():
    english = io.read(needs_shared("xquad", "xquad.en.json"))
    german = io.read(needs_shared("xquad", "xquad.de.json"))
    rng = random.Random(2024)
    en_rows = english.table.to_pylist()
    picked = rng.sample(range(len(en_rows)), COPIES + EDITS)
    rows = [{**r, "id": f"de-{r['id']}"} for r in german.table.to_pylist()]
    truth = [False] * len(rows)
    for i in picked[:COPIES]:
        rows.append({**en_rows[i], "id": f"copy-{en_rows[i]['id']}"})
        truth.append(True)
    for i in picked[COPIES:]:
        rows.append({**en_rows[i], "id": f"edit-{en_rows[i]['id']}", "context": light_edit(en_rows[i]["context"], rng)})
        truth.append(True)
    train = Dataset.from_arrow(pa.Table.from_pylist(rows, schema=english.table.schema), "mrc")
    return train, english, np.array(truth)


def scores(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = int((flags & truth).sum())
    precision = tp / max(int(flags.sum()), 1)
    recall = tp / int(truth.sum())
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


def test_passages_and_questions_precision_recall_f1(xquad):
    train, english, truth = xquad
    settings = ContaminationSettings(ngram_fraction=0.2)
    found = find_contamination(train, english, fields=["context", "question"], settings=settings)
    precision, recall, f1 = scores(found.contaminated, truth)
    assert precision >= 0.97 and recall >= 0.97 and f1 >= 0.97, (precision, recall, f1)


def test_every_planted_passage_is_found_by_its_method(xquad):
    train, english, truth = xquad
    found = find_contamination(train, english, fields=["context"])
    report = found.report
    methods = np.asarray(report.column("method").to_pylist())
    german = len(truth) - COPIES - EDITS
    copies = np.arange(german, german + COPIES)
    edits = np.arange(german + COPIES, len(truth))
    for method in ("minhash", "ngram_words", "ngram_chars"):
        rows = found.train_row[methods == method]
        assert np.isin(copies, rows).all(), method
    assert np.isin(edits, found.train_row[methods == "minhash"]).all()
    overlap = np.asarray(report.column("overlap"))
    edited = np.isin(found.train_row, edits) & (methods == "minhash")
    assert overlap[edited].min() >= 0.8 and overlap[edited].mean() < 1.0
    # no German passage is a near-duplicate of an English one
    assert not np.isin(found.train_row[methods == "minhash"], np.arange(german)).any()


def test_defaults_find_every_copy_and_little_else(xquad):
    """With the defaults (context and question; an n-gram run counts from 10% of the shorter text)
    every planted row is found, and German rows that only keep an English name are not."""
    train, english, truth = xquad
    found = find_contamination(train, english)
    precision, recall, f1 = scores(found.contaminated, truth)
    assert recall == 1.0 and f1 >= 0.97, (precision, recall, f1)


def test_any_shared_run_and_answers_flag_incidental_overlap_too(xquad):
    train, english, truth = xquad
    settings = ContaminationSettings(ngram_fraction=0.0)
    found = find_contamination(train, english, fields=["context", "question", "answers"], settings=settings)
    precision, recall, _ = scores(found.contaminated, truth)
    assert recall == 1.0 and precision < 0.97  # quoted English titles and names in German passages


def test_stage_on_real_data(xquad, tmp_path):
    train, english, truth = xquad
    path = tmp_path / "eval.json"
    io.write(english, path)
    stage = Decontaminate(eval_path=str(path), fields=["context", "question"], ngram_fraction=0.2)
    result = stage(train)
    assert result.kept.num_rows + result.rejected.num_rows == train.num_rows
    rejected = set(result.rejected.to_arrow().column("id").to_pylist())
    planted = {i for i, t in zip(train.table.column("id").to_pylist(), truth.tolist(), strict=True) if t}
    assert planted <= rejected
    assert len(rejected - planted) <= 0.03 * len(planted)
    assert set(result.rejected.to_arrow().column("reject_reason").to_pylist()) == {"contaminated"}
