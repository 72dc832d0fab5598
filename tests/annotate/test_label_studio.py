"""Label Studio export/import: configs, predictions, round trips, conflicts, rejected exports."""

from __future__ import annotations

import copy
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
    assert after.column("annotated_at")[0].as_py() == "2026-01-01T00:00:00.000000Z"
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
    with pytest.raises(ConfigError, match="need the query texts"):
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


# ----------------------------------------------------------------- a task applies only to the row it showed


def test_positional_ids_on_a_resorted_file_apply_nothing_to_the_wrong_row(tmp_path: Path) -> None:
    texts = ["배우 연기가 정말 좋았다", "시간이 아까운 영화", "음악이 기억에 남는다", "다시 보고 싶다"]
    labels = ["positive", "negative", "positive", "positive"]
    exported = io.read(_tsv(tmp_path / "reviews.tsv", texts, labels), kind="classification")
    assert exported.column("id").to_pylist()[:2] == ["reviews-1", "reviews-2"]  # ids come from positions
    tasks, _ = export_tasks(exported, kind="classification")
    choose(tasks[0], "negative", by=4)  # the first review is corrected
    choose(tasks[2], "negative", by=4)  # and the third
    order = [1, 0, 2, 3]  # the file is re-sorted: the first two reviews trade places
    resorted = io.read(
        _tsv(tmp_path / "reviews.tsv", [texts[i] for i in order], [labels[i] for i in order]), kind="classification"
    )
    out, report = import_annotations(resorted, tasks, kind="classification")
    after = out.to_arrow()
    assert after.column("label").to_pylist() == ["negative", "positive", "negative", "positive"]
    assert after.column("annotated_by").to_pylist() == [None, None, "4", None]  # only the third review changed
    rows = report.to_pylist()
    assert [r["status"] for r in rows] == ["mismatch", "mismatch", "updated", "unannotated"]
    assert rows[0]["detail"] == f"the task shows text '{texts[0]}', the row has '{texts[1]}'"
    assert rows[0]["value"] is None and json.loads(rows[0]["annotations"])[0]["value"] == "negative"


def _tsv(path: Path, texts: list[str], labels: list[str]) -> Path:
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in zip(texts, labels, strict=True)))
    return path


def test_a_span_on_a_replaced_context_is_not_cut_from_the_new_text(korquad: Dataset) -> None:
    tasks, _ = export_tasks(korquad, kind="mrc")
    context = tasks[1]["data"]["context"]
    start = context.index("바랑산")
    mark(tasks[1], [(start, start + 3)], by=9)
    end = len(context)
    mark(tasks[3], [(end - 2, end)], by=9)  # a span near the end of its context
    before = korquad.to_arrow()
    contexts = before.column("context").to_pylist()
    edited = {1: "다른 글로 바뀐 지문이다. " + contexts[1], 3: contexts[3][:10]}  # edited; cut short
    edited_contexts = [edited.get(i, c) for i, c in enumerate(contexts)]
    changed = before.set_column(before.column_names.index("context"), "context", pa.array(edited_contexts))
    # the spans were checked against what the annotator saw, not refused for the new text
    out, report = import_annotations(Dataset.from_arrow(changed, "mrc"), tasks, kind="mrc")
    after = out.to_arrow()
    assert after.column("answers").to_pylist() == before.column("answers").to_pylist()
    assert after.column("annotated_by").null_count == after.num_rows
    statuses = report.column("status").to_pylist()
    assert statuses[1] == statuses[3] == "mismatch" and "context" in report.column("detail")[1].as_py()
    assert "mismatch" not in statuses[:1] + statuses[4:]


def test_an_edited_question_or_passage_is_a_mismatch() -> None:
    table = pa.Table.from_pylist(
        [
            {"query_id": "q1", "doc_id": "d1", "score": 1},
            {"query_id": "q1", "doc_id": "d2", "score": 1},
        ]
    )
    qrels = Dataset.from_arrow(table, "qrels")
    queries, corpus = {"q1": "수도는?"}, {"d1": "서울은 수도이다.", "d2": "한강이 흐른다."}
    tasks, _ = export_tasks(qrels, kind="qrels", corpus=corpus, queries=queries)
    for task in tasks:
        choose(task, "0", control="relevance", target="passage")
    with pytest.raises(ConfigError, match="qrels tasks need the passage texts"):
        import_annotations(qrels, tasks, kind="qrels")
    edited = {**corpus, "d2": "한강이 서울을 가로질러 흐른다."}
    out, report = import_annotations(qrels, tasks, kind="qrels", corpus=edited, queries=queries)
    assert out.to_arrow().column("score").to_pylist() == [0, 1]
    assert report.column("status").to_pylist() == ["updated", "mismatch"]
    assert report.column("detail")[1].as_py().startswith("the task shows passage_text '한강이 흐른다.'")


def test_annotation_times_are_stored_as_iso_utc_strings(reviews: Dataset) -> None:
    from datetime import datetime, timedelta, timezone

    tasks, _ = export_tasks(reviews, kind="classification")
    seoul = timezone(timedelta(hours=9))
    choose(tasks[0], "negative", by=1, updated_at=datetime(2026, 3, 1, 18, 30, tzinfo=seoul))
    choose(tasks[0], "negative", by=2, updated_at="2026-03-01T09:29:59.5+00:00")
    choose(tasks[1], "negative", by=1, updated_at="2026-03-02T10:00:00")  # no zone: UTC
    out, report = import_annotations(reviews, tasks, kind="classification")
    at = out.to_arrow().column("annotated_at").to_pylist()
    assert at[:2] == ["2026-03-01T09:30:00.000000Z", "2026-03-02T10:00:00.000000Z"]  # the later of the two
    annotations = json.loads(report.column("annotations")[0].as_py())
    assert [a["at"] for a in annotations] == ["2026-03-01T09:30:00.000000Z", "2026-03-01T09:29:59.500000Z"]
    for bad in ({"$date": "2026-03-01"}, "yesterday", 1767225600):
        broken = copy.deepcopy(tasks[:1])
        broken[0]["annotations"][0]["updated_at"] = bad
        with pytest.raises(
            InputError, match=r"not an ISO 8601 timestamp at <export>, field 'tasks\[0\].annotations\[0\].updated_at'"
        ):
            import_annotations(reviews, broken, kind="classification")
