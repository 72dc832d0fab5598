import json
import random

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.quality.classifier import TrainSettings, good_probability, train_quality
from curate.stages import QualityClassifier, get_stage_class
from curate.text.langid import load_fasttext
from tests.conftest import REPO

runner = CliRunner()


def good_texts() -> list[str]:
    """Sentences of the sample documents (real prose written for the project)."""
    texts = []
    for line in (REPO / "sample_data" / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        texts += [s.strip() + "." for s in text.split(".") if len(s.strip()) > 15]
    return texts


def bad_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pieces = [
        "ㅋㅋㅋㅋ",
        "ㅎㅎ",
        "ㅠㅠㅠ",
        "!!!!",
        "클릭",
        "무료",
        "대박",
        "http://bit.ly/x",
        "★★★",
        "$$$",
        "광고",
        "ㄷㄷㄷ",
    ]
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    good = good_texts()
    bad = bad_texts(len(good))
    path = tmp_path_factory.mktemp("quality") / "quality.bin"
    report = train_quality(good + bad, ["good"] * len(good) + ["bad"] * len(bad), path, held_out=0.2)
    assert report.rows == {"bad": len(bad), "good": len(good)}
    assert report.held_out > 0
    assert report.accuracy is not None and report.accuracy >= 0.9
    assert report.f1 is not None and report.f1 >= 0.9
    return path


def test_the_model_separates_new_good_and_bad_rows(model_path):
    model = load_fasttext(str(model_path))
    p = good_probability(
        model, ["태양은 태양계의 중심에 있는 별로, 지구에 빛과 열을 준다.", "ㅋㅋㅋㅋ 무료 클릭 대박 ㅋㅋ"], "good"
    )
    assert p[0] > 0.5 > p[1]


def test_training_is_repeatable(tmp_path):
    good, bad = good_texts()[:40], bad_texts(40)
    texts, labels = good + bad, ["good"] * 40 + ["bad"] * 40
    settings = TrainSettings(epoch=5)
    train_quality(texts, labels, tmp_path / "a.bin", settings=settings, held_out=0)
    train_quality(texts, labels, tmp_path / "b.bin", settings=settings, held_out=0)
    probes = [*good_texts()[40:60], *bad_texts(20, seed=1)]
    first = good_probability(load_fasttext(str(tmp_path / "a.bin")), probes, "good")
    second = good_probability(load_fasttext(str(tmp_path / "b.bin")), probes, "good")
    assert ((first > 0.5) == (second > 0.5)).all()
    assert abs(first - second).max() < 1e-3


def test_training_needs_two_labels_and_the_good_one(tmp_path):
    with pytest.raises(ValueError, match="at least two labels"):
        train_quality(["a", "b"], ["good", "good"], tmp_path / "m.bin")
    with pytest.raises(ValueError, match="no row has the good label 'good'"):
        train_quality(["a", "b"], ["ok", "bad"], tmp_path / "m.bin")


def test_stage_scores_then_rejects_low_quality_rows(model_path):
    table = pa.table(
        {
            "id": ["1", "2"],
            "text": ["달은 지구의 유일한 자연 위성으로, 밤하늘에서 가장 밝은 천체이다.", "ㅋㅋㅋ 무료 ★★★ 클릭 $$$"],
        }
    )
    result = QualityClassifier(model=str(model_path))(Dataset.from_arrow(table, "document"))
    kept, rejected = result.kept.to_arrow(), result.rejected.to_arrow()
    assert kept.column("id").to_pylist() == ["1"]
    assert rejected.column("reject_reason").to_pylist() == ["low_quality"]
    assert rejected.column("reject_detail")[0].as_py().startswith("quality_score=")
    scored = QualityClassifier(model=str(model_path), filter=False)(table, kind="document").kept
    assert scored.num_rows == 2 and "quality_score" in scored.column_names
    # a higher threshold reads the existing scores
    strict = QualityClassifier(model=str(model_path), threshold=1.0)(scored, kind="document")
    assert strict.kept.num_rows == 0 and strict.stats.reasons == {"low_quality": 2}


def test_stage_errors_name_the_problem(model_path, tmp_path):
    table = Dataset.from_arrow(pa.table({"id": ["1"], "text": ["글"]}), "document")
    with pytest.raises(ConfigError, match="quality model not found"):
        QualityClassifier(model=str(tmp_path / "none.bin"))(table)
    with pytest.raises(ConfigError, match="the model has no such label"):
        QualityClassifier(model=str(model_path), good="keep")(table)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a fastText model"):
        QualityClassifier(model=str(junk))(table)
    assert get_stage_class("quality_classifier") is QualityClassifier


def test_cli_train_quality_writes_a_model_and_reports(tmp_path):
    good, bad = good_texts(), bad_texts(60)
    src = tmp_path / "labelled.jsonl"
    rows = [{"body": t, "quality": "good"} for t in good] + [{"body": t, "quality": "junk"} for t in bad]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "q.bin"
    result = runner.invoke(app, ["train-quality", str(src), "--out", str(out), "--text", "body", "--label", "quality"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "held out" in result.output and "accuracy" in result.output
    bad_column = runner.invoke(app, ["train-quality", str(src), "--out", str(out), "--text", "review"])
    assert bad_column.exit_code == 2
    assert "'review'" in bad_column.output and "body, quality" in bad_column.output
    no_label = runner.invoke(app, ["train-quality", str(src), "--out", str(out), "--text", "body"])
    assert no_label.exit_code == 2
    assert "no such column" in no_label.output and "field 'label'" in no_label.output
