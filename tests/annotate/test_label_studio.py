"""Label Studio export/import: configs, predictions, round trips, conflicts, rejected exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from curate import io
from curate.annotate import export_tasks, import_annotations
from curate.dataset import Dataset
from curate.errors import ConfigError, InputError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def reviews() -> Dataset:
    return io.read(SAMPLES / "reviews_cls.tsv", kind="classification")


@pytest.fixture
def korquad() -> Dataset:
    return io.read(SAMPLES / "korquad_sample.json")


def choose(task: dict, value: str, *, by: Any = 1, control: str = "label", target: str = "text", **extra: Any) -> None:
    """Add an annotation choosing ``value``, as an annotator in Label Studio would."""
    result = [{"from_name": control, "to_name": target, "type": "choices", "value": {"choices": [value]}}]
    task.setdefault("annotations", []).append(
        {"result": result, "completed_by": by, "created_at": "2026-01-01T00:00:00Z", "was_cancelled": False, **extra}
    )


def mark(task: dict, spans: list[tuple[int, int]], *, by: Any = 1) -> None:
    """Add an annotation marking ``spans`` of the task's context as answers."""
    context = task["data"]["context"]
    result = [
        {
            "from_name": "answer",
            "to_name": "context",
            "type": "labels",
            "value": {"start": s, "end": e, "text": context[s:e], "labels": ["Answer"]},
        }
        for s, e in spans
    ]
    task.setdefault("annotations", []).append(
        {"result": result, "completed_by": by, "updated_at": "2026-01-02T00:00:00Z", "was_cancelled": False}
    )


def untouched(before: pa.Table, after: pa.Table, changed: set[int]) -> None:
    """Rows not in ``changed`` equal their originals in every original column."""
    keep = [i for i in range(before.num_rows) if i not in changed]
    left = before.take(keep)
    right = after.select(before.column_names).take(keep)
    assert left.equals(right)


def test_classification_export(reviews: Dataset) -> None:
    tasks, config = export_tasks(reviews, kind="classification")
    root = ET.fromstring(config)
    choices = root.find("Choices")
    assert choices is not None and choices.get("name") == "label" and choices.get("toName") == "text"
    assert [c.get("value") for c in choices] == sorted(set(reviews.column("label").to_pylist()))
    assert root.find("Text[@name='text_pair']") is None
    assert len(tasks) == reviews.num_rows
    json.dumps(tasks, ensure_ascii=False)
    first = tasks[0]
    assert first["data"] == {"curate_id": "cls-0001", "text": reviews.column("text")[0].as_py()}
    (current,) = first["predictions"]
    assert current["model_version"] == "current" and current["score"] == 1.0
    assert current["result"][0]["value"] == {"choices": [reviews.column("label")[0].as_py()]}


def test_classification_export_select_and_suggestion(reviews: Dataset) -> None:
    table = reviews.to_arrow()
    n = table.num_rows
    flagged = [i in (1, 4) for i in range(n)]
    table = table.append_column("label_issue", pa.array(flagged))
    table = table.append_column("label_quality", pa.array([0.25] * n, pa.float32()))
    table = table.append_column("suggested_label", pa.array(["neutral"] * n))
    tasks, config = export_tasks(
        Dataset.from_arrow(table, "classification"), kind="classification", select="label_issue"
    )
    assert [t["data"]["curate_id"] for t in tasks] == [table.column("id")[1].as_py(), table.column("id")[4].as_py()]
    suggested = tasks[0]["predictions"][1]
    assert suggested["model_version"] == "suggested" and suggested["score"] == pytest.approx(0.75)
    assert suggested["result"][0]["value"] == {"choices": ["neutral"]}
    assert "neutral" in [c.get("value") for c in ET.fromstring(config).iter("Choice")]
    with pytest.raises(ConfigError, match="bad SQL predicate"):
        export_tasks(reviews, kind="classification", select="no_such_column")


def test_mrc_export(korquad: Dataset) -> None:
    tasks, config = export_tasks(korquad, kind="mrc")
    root = ET.fromstring(config)
    labels = root.find("Labels")
    assert labels is not None and labels.get("toName") == "context"
    assert [label.get("value") for label in labels] == ["Answer"]
    assert root.find("Text[@name='context']") is not None
    json.dumps(tasks, ensure_ascii=False)
    rows = korquad.to_arrow().to_pylist()
    ids = [task["data"]["curate_id"] for task in tasks]
    assert len(set(ids)) == len(ids)  # the sample repeats an id: later copies get "#2"
    for task, row in zip(tasks, rows, strict=True):
        assert task["data"]["curate_id"].split("#")[0] == row["id"] and task["data"]["question"] == row["question"]
        spans = [span["value"] for span in task["predictions"][0]["result"]]
        expected = [(a["answer_start"], a["answer_start"] + len(a["text"]), a["text"]) for a in row["answers"]]
        assert [(v["start"], v["end"], v["text"]) for v in spans] == expected


def test_mrc_export_suggests_the_readers_span(mrc: Dataset) -> None:
    table = mrc.to_arrow()
    predicted = ["서울", "940만 명", "서울", "없는 답"]
    table = table.append_column("pred", pa.array(predicted)).append_column("conf", pa.array([0.9, 0.8, 0.7, None]))
    tasks, _ = export_tasks(table, kind="mrc", suggestion="pred", suggestion_score="conf")
    suggested = [{p["model_version"]: p for p in task["predictions"]}.get("suggested") for task in tasks]
    context = table.column("context")[0].as_py()
    spans = [s["result"][0]["value"] if s else None for s in suggested]
    assert (spans[0]["start"], spans[0]["text"], suggested[0]["score"]) == (0, "서울", 0.9)
    assert context[spans[1]["start"] : spans[1]["end"]] == "940만 명" and suggested[1]["score"] == 0.8
    # "서울" occurs three times: the suggestion is the occurrence nearest the current answer (한강)
    assert spans[2]["start"] == context.index("서울을")
    assert spans[3] is None  # the prediction is not in the context
    with pytest.raises(ConfigError, match="suggestion"):
        export_tasks(table, kind="mrc", suggestion="missing")


def test_classification_round_trip(reviews: Dataset, tmp_path: Path) -> None:
    tasks, _ = export_tasks(reviews, kind="classification")
    before = reviews.to_arrow()
    labels = before.column("label").to_pylist()
    flip = {"positive": "negative", "negative": "positive"}
    choose(tasks[0], flip[labels[0]], by={"id": 7, "email": "kim@example.com"})
    choose(tasks[2], labels[2], by=3)  # confirmed
    choose(tasks[3], "positive", by=1)  # conflict
    choose(tasks[3], "negative", by=2)
    tasks[5]["annotations"] = [{"result": [], "was_cancelled": True, "completed_by": 1}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")

    out, report = import_annotations(reviews, path, kind="classification")
    after = out.to_arrow()
    assert after.column("label")[0].as_py() == flip[labels[0]]
    assert after.column("previous_label")[0].as_py() == labels[0]
    assert after.column("annotated_by")[0].as_py() == "kim@example.com"
    assert after.column("annotated_at")[0].as_py() == "2026-01-01T00:00:00Z"
    assert after.column("annotated_by")[2].as_py() == "3"
    untouched(before, after, {0})
    assert after.column("annotated_by").null_count == after.num_rows - 2

    status = dict(zip(report.column("curate_id").to_pylist(), report.column("status").to_pylist(), strict=True))
    ids = before.column("id").to_pylist()
    assert status[ids[0]] == "updated" and status[ids[2]] == "confirmed"
    assert status[ids[3]] == "conflict" and status[ids[5]] == "cancelled" and status[ids[1]] == "unannotated"
    conflict = json.loads(report.column("annotations")[3].as_py())
    assert {(a["annotator"], a["value"]) for a in conflict} == {("1", "positive"), ("2", "negative")}


def test_mrc_round_trip(korquad: Dataset) -> None:
    tasks, _ = export_tasks(korquad, kind="mrc")
    before = korquad.to_arrow()
    context = tasks[1]["data"]["context"]
    start = context.index("바랑산")
    mark(tasks[1], [(start, start + 3)], by=9)
    mark(tasks[2], [(0, 3)], by=1)
    mark(tasks[2], [(0, 4)], by=2)

    out, report = import_annotations(korquad, tasks, kind="mrc")
    after = out.to_arrow()
    assert after.column("answers")[1].as_py() == [{"text": "바랑산", "answer_start": start}]
    assert after.column("previous_answers")[1].as_py() == before.column("answers")[1].as_py()
    assert after.column("annotated_by")[1].as_py() == "9"
    assert after.schema.field("previous_answers").type == before.schema.field("answers").type
    untouched(before, after, {1})
    assert report.column("status").to_pylist()[1:3] == ["updated", "conflict"]


def test_qrels_round_trip() -> None:
    table = pa.Table.from_pylist(
        [
            {"query_id": "q1", "doc_id": "d1", "score": 1, "query_text": "수도는?", "passage_text": "서울은 수도이다."},
            {"query_id": "q1", "doc_id": "d2", "score": 1, "query_text": "수도는?", "passage_text": "한강이 흐른다."},
        ]
    )
    qrels = Dataset.from_arrow(table, "qrels")
    tasks, config = export_tasks(qrels, kind="qrels")
    assert [c.get("value") for c in ET.fromstring(config).iter("Choice")] == ["0", "1"]
    assert tasks[1]["data"]["curate_id"] == "q1::d2"
    choose(tasks[1], "0", control="relevance", target="passage")
    out, _ = import_annotations(qrels, tasks, kind="qrels")
    after = out.to_arrow()
    assert after.column("score").to_pylist() == [1, 0]
    assert after.column("previous_score").to_pylist() == [None, 1]
    with pytest.raises(ConfigError, match="needs the"):
        export_tasks(Dataset.from_arrow(table.drop_columns(["query_text"]), "qrels"), kind="qrels")
    texts, _ = export_tasks(
        Dataset.from_arrow(table.drop_columns(["query_text"]), "qrels"), kind="qrels", queries={"q1": "질문"}
    )
    assert texts[0]["data"]["query_text"] == "질문"


def _bad_exports(tasks: list[dict]) -> list[tuple[Any, str, str]]:
    """(export, expected message part, expected field) for malformed or foreign exports."""
    no_id = json.loads(json.dumps(tasks))
    del no_id[1]["data"]["curate_id"]
    foreign = json.loads(json.dumps(tasks))
    foreign[2]["data"]["curate_id"] = "other-9999"
    bad_choice = json.loads(json.dumps(tasks))
    choose(bad_choice[0], "sarcastic")
    return [
        ({"tasks": tasks}, "expected a list of tasks", ""),
        (no_id, "task without a row id", "tasks[1].data.curate_id"),
        (foreign, "id not in the dataset", "tasks[2].data.curate_id"),
        (bad_choice, "choice not in the label set", "tasks[0].annotations[1].result[0].value.choices"),
    ]


def test_bad_exports_rejected(reviews: Dataset, tmp_path: Path) -> None:
    tasks, _ = export_tasks(reviews, kind="classification")
    choose(tasks[0], "negative")  # a valid annotation that must not be applied
    before = reviews.to_arrow()
    for n, (export, what, field) in enumerate(_bad_exports(tasks)):
        path = tmp_path / f"bad{n}.json"
        path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
        with pytest.raises(InputError) as caught:
            import_annotations(reviews, path, kind="classification")
        message = str(caught.value)
        assert what in message and str(path) in message and field in message
        assert "\n" not in message
    assert reviews.to_arrow().equals(before)
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(InputError, match="malformed JSON"):
        import_annotations(reviews, path, kind="classification")


def test_span_not_matching_context_rejected(korquad: Dataset) -> None:
    tasks, _ = export_tasks(korquad, kind="mrc")
    mark(tasks[0], [(0, 3)])
    tasks[0]["annotations"][0]["result"][0]["value"]["text"] = "엉뚱한"
    with pytest.raises(InputError, match=r"span text does not match the context at <export>, field 'tasks\[0\]"):
        import_annotations(korquad, tasks, kind="mrc")
