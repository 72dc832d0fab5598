"""Label Studio tasks out, Label Studio annotations back in: pure functions, no server.

Export (:func:`export_tasks`) gives one task per row::

    {"data": {"curate_id": "<row id>", <shown fields>},
     "meta": {"curate_kind": "<kind>"},
     "predictions": [{"model_version": "current", "score": 1.0, "result": [...]},
                     {"model_version": "suggested", "score": <p>, "result": [...]}]}

(the suggestion: ``suggested_label`` of classification rows, or a reader's predicted answer of MRC
rows, when given)

and a labeling config (XML) matching the tasks:

* ``classification``: ``<Choices name="label">`` over the label set, ``text`` (and ``text_pair``
  when any row has one) shown;
* ``mrc``: ``<Labels name="answer">`` with one label ``Answer`` over ``<Text name="context">``,
  the question shown as a header;
* ``qrels``: ``<Choices name="relevance">`` over the relevance grades, the query and passage shown.

The task id is the row's ``id`` for classification and MRC, ``<query_id>::<doc_id>`` (``<split>::`` in front
when the row has a split) for qrels; a repeated id gets ``#2``, ``#3``... in row order. Spans use
code-point offsets into ``context``.

Import (:func:`import_annotations`) reads a Label Studio JSON export (a list of tasks with
``annotations``), checks all of it first (any problem is one :class:`~curate.errors.InputError`
naming the file, the task index and the field, and nothing is changed), then sets the new value of
every row whose completed annotations agree, with ``annotated_by``, ``annotated_at`` (ISO 8601,
UTC) and ``previous_label`` / ``previous_answers`` / ``previous_score``. Rows whose annotators
disagree are left unchanged and reported as conflicts.

A task is matched to its row by id, and then by what the annotator saw: the texts the task shows
(``text`` and ``text_pair``; ``question`` and ``context``; ``query_text`` and ``passage_text``) must
equal the row's. A row whose text differs (a re-sorted file with generated ids, an edited context)
is left unchanged and reported as ``mismatch``, so no correction lands on another row and no span is
cut from a text the annotator never saw.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.dataset import Dataset
from curate.errors import ConfigError, InputError, Where, show_value
from curate.io import _as_dataset
from curate.sql import filter_rows
from curate.text.spans import nearest_occurrence

KINDS = ("classification", "mrc", "qrels")
ANSWER_LABEL = "Answer"
ID_FIELD = "curate_id"

# kind -> (control name, object name, result type, dataset column, previous-value column)
_CONTROLS = {
    "classification": ("label", "text", "choices", "label", "previous_label"),
    "mrc": ("answer", "context", "labels", "answers", "previous_answers"),
    "qrels": ("relevance", "passage", "choices", "score", "previous_score"),
}

REPORT_SCHEMA = pa.schema(
    [
        ("task", pa.int64()),
        ("curate_id", pa.string()),
        ("status", pa.string()),
        ("previous", pa.string()),
        ("value", pa.string()),
        ("annotations", pa.string()),
        ("detail", pa.string()),
    ]
)
"""Import report, one row per task: ``status`` is ``updated``, ``confirmed`` (annotated with the
value it already had), ``conflict``, ``unannotated``, ``cancelled``, ``empty`` (completed with no
choice/span) or ``mismatch`` (the row's text is not the one the task shows: nothing applied,
``detail`` names the field); ``previous``, ``value`` and ``annotations`` (each annotator's value and
time) are JSON."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError("unsupported kind for Label Studio", value=kind, hint=f"use one of: {', '.join(KINDS)}")


def _of_kind(dataset: Dataset | pa.Table, kind: str) -> Dataset:
    """``dataset`` as a Dataset of ``kind`` (see :func:`curate.io._as_dataset`); a Dataset of another
    kind is a ConfigError."""
    _check_kind(kind)
    found = _as_dataset(dataset, kind)
    if found.kind != kind:
        raise ConfigError("dataset kind does not match", value=found.kind, hint=f"pass kind={found.kind!r}")
    return found


def task_id(row: Mapping[str, Any], kind: str) -> str:
    """The id a row's task carries under ``data.curate_id``."""
    if kind == "qrels":
        key = f"{row['query_id']}::{row['doc_id']}"
        split = row.get("split")
        return f"{split}::{key}" if split else key
    return str(row["id"])


def _index_ids(rows: Sequence[Mapping[str, Any]], kind: str) -> dict[str, int]:
    """``{task id: row}``; a repeated row id gets ``#2``, ``#3``... (in row order) to stay unique."""
    index: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = base = task_id(row, kind)
        while key in index:
            seen[base] = seen.get(base, 1) + 1
            key = f"{base}#{seen[base]}"
        index[key] = i
    return index


def _label_set(table: pa.Table, kind: str, labels: Sequence[str] | None) -> list[str]:
    """Choices offered: given ``labels`` plus every label (and suggestion) in the rows."""
    found = set(labels or ())
    if kind == "classification":
        for name in ("label", "suggested_label"):
            if name in table.column_names:
                found.update(v for v in table.column(name).to_pylist() if v is not None)
        return sorted(found)
    if kind == "qrels":
        found.update(("0", "1"))
        found.update(str(v) for v in table.column("score").to_pylist() if v is not None)
        for value in found:
            if not value.lstrip("-").isdigit():
                raise ConfigError(
                    "relevance grades must be integers", value=value, hint="pass labels like ['0', '1', '2']"
                )
        return sorted(found, key=int)
    return [ANSWER_LABEL]


def label_config(kind: str, labels: Sequence[str], *, text_pair: bool = False) -> str:
    """Labeling config XML for tasks made by :func:`export_tasks`."""
    _check_kind(kind)
    control, target, _, _, _ = _CONTROLS[kind]
    view = ET.Element("View")
    if kind == "classification":
        ET.SubElement(view, "Text", name="text", value="$text")
        if text_pair:
            ET.SubElement(view, "Text", name="text_pair", value="$text_pair")
        choices = ET.SubElement(view, "Choices", name=control, toName=target, choice="single", showInline="true")
        for label in labels:
            ET.SubElement(choices, "Choice", value=label)
    elif kind == "mrc":
        ET.SubElement(view, "Header", value="$question")
        spans = ET.SubElement(view, "Labels", name=control, toName=target)
        ET.SubElement(spans, "Label", value=ANSWER_LABEL)
        ET.SubElement(view, "Text", name=target, value="$context")
    else:
        ET.SubElement(view, "Header", value="$query_text")
        ET.SubElement(view, "Text", name=target, value="$passage_text")
        choices = ET.SubElement(view, "Choices", name=control, toName=target, choice="single", showInline="true")
        for label in labels:
            ET.SubElement(choices, "Choice", value=label)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def _selected(table: pa.Table, select: str | None) -> list[int]:
    """Numbers of the rows for which the DuckDB predicate ``select`` is true (all without one)."""
    if not select:
        return list(range(table.num_rows))
    keep = filter_rows(table, select, where=Where(field="select"))
    return [i for i, chosen in enumerate(keep.to_pylist()) if chosen]


def _texts(source: Dataset | Mapping[str, str] | None, key: str) -> Mapping[str, str] | None:
    if source is None or isinstance(source, Mapping):
        return source
    table = source.to_arrow()
    return dict(zip(table.column(key).to_pylist(), table.column("text").to_pylist(), strict=True))


@dataclass(frozen=True)
class _View:
    """What a task of this dataset shows besides the choices: the pair text (classification) and
    the query and passage texts (qrels; ``None`` means the row's own columns)."""

    kind: str
    text_pair: bool = False
    passages: Mapping[str, str] | None = None
    questions: Mapping[str, str] | None = None

    @classmethod
    def of(
        cls,
        table: pa.Table,
        kind: str,
        corpus: Dataset | Mapping[str, str] | None,
        queries: Dataset | Mapping[str, str] | None,
    ) -> _View:
        text_pair = (
            kind == "classification"
            and "text_pair" in table.column_names
            and table.column("text_pair").null_count < table.num_rows
        )
        view = cls(kind, text_pair, _texts(corpus, "doc_id"), _texts(queries, "query_id"))
        if kind == "qrels":
            for name, given in (("passage_text", view.passages), ("query_text", view.questions)):
                if given is None and name not in table.column_names:
                    raise ConfigError(
                        f"qrels tasks need the {name.split('_')[0]} texts",
                        hint="pass corpus= and queries=, or rows with query_text and passage_text columns",
                    )
        return view

    def shown(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The texts a task shows for ``row`` (``None`` for a qrels text that is not known)."""
        if self.kind == "classification":
            data = {"text": row["text"]}
            if self.text_pair:
                data["text_pair"] = row.get("text_pair") or ""
            return data
        if self.kind == "mrc":
            return {"question": row["question"], "context": row["context"]}
        return {
            "query_text": self.questions.get(row["query_id"]) if self.questions is not None else row.get("query_text"),
            "passage_text": self.passages.get(row["doc_id"]) if self.passages is not None else row.get("passage_text"),
        }


def _choice_result(kind: str, value: str) -> dict[str, Any]:
    control, target, rtype, _, _ = _CONTROLS[kind]
    return {"from_name": control, "to_name": target, "type": rtype, "value": {"choices": [value]}}


def _span_results(answers: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    control, target, rtype, _, _ = _CONTROLS["mrc"]
    results = []
    for n, ans in enumerate(answers or ()):
        start, text = ans.get("answer_start"), ans.get("text")
        if start is None or text is None:
            continue
        value = {"start": start, "end": start + len(text), "text": text, "labels": [ANSWER_LABEL]}
        results.append({"id": f"answer-{n}", "from_name": control, "to_name": target, "type": rtype, "value": value})
    return results


def _suggested_span(row: Mapping[str, Any], column: str | None) -> dict[str, Any] | None:
    """The reader's predicted text as an answer, at its occurrence nearest the current answer."""
    text = row.get(column) if column else None
    if not text:
        return None
    answers = row.get("answers") or []
    near = answers[0]["answer_start"] if answers and answers[0].get("answer_start") is not None else 0
    start = nearest_occurrence(row["context"], str(text), near)
    return None if start is None else {"text": str(text), "answer_start": start}


def _prediction(version: str, score: float, result: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model_version": version, "score": score, "result": result}


def export_tasks(
    dataset: Dataset | pa.Table,
    *,
    kind: str,
    select: str | None = None,
    labels: Sequence[str] | None = None,
    corpus: Dataset | Mapping[str, str] | None = None,
    queries: Dataset | Mapping[str, str] | None = None,
    suggestion: str | None = None,
    suggestion_score: str | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Label Studio tasks for the rows of ``dataset`` and the labeling config to import them with.

    Args:
        dataset: rows of ``kind`` (``classification``, ``mrc`` or ``qrels``).
        kind: the dataset kind.
        select: a DuckDB SQL predicate over the row's columns; only rows where it is true are
            exported (e.g. ``label_issue``).
        labels: extra choices to offer (classification labels, qrels grades) beyond those in the rows.
        corpus, queries: qrels only, the passage and query texts (a ``corpus``/``queries`` dataset
            or ``{id: text}``); not needed when the rows carry ``passage_text`` and ``query_text``.
        suggestion, suggestion_score: MRC only, a column with a reader's predicted answer text and
            one with its confidence (0-1); the prediction becomes the ``suggested`` span (its
            occurrence nearest the current answer) when it occurs in the context.

    Returns:
        ``(tasks, label_config)``: JSON-serializable tasks with the current value (and the
        ``suggested_label`` of :mod:`curate.stages.label_issues`, when present) as predictions, and
        the config XML.
    """
    ds = _of_kind(dataset, kind)
    full = ds.to_arrow()
    for option, column in (("suggestion", suggestion), ("suggestion_score", suggestion_score)):
        if column is not None and (kind != "mrc" or column not in full.column_names):
            raise ConfigError(
                f"{option} needs an MRC dataset with that column",
                where=Where(field=option),
                value=column,
                hint=f"columns: {', '.join(full.column_names)}",
            )
    keys = full.select([c for c in ("id", "query_id", "doc_id", "split") if c in full.column_names]).to_pylist()
    ids = list(_index_ids(keys, kind))
    numbers = _selected(full, select)
    table = full.take(pa.array(numbers, pa.int64()))
    choices = _label_set(full, kind, labels)
    rows = table.to_pylist()
    view = _View.of(full, kind, corpus, queries)
    tasks = []
    for i, row in enumerate(rows):
        data: dict[str, Any] = {ID_FIELD: ids[numbers[i]]}
        predictions = []
        if kind == "classification":
            data.update(view.shown(row))
            if row.get("label") is not None:
                predictions.append(_prediction("current", 1.0, [_choice_result(kind, row["label"])]))
            suggested = row.get("suggested_label")
            if suggested is not None:
                score = row.get("suggested_label_probability")
                if score is None and row.get("label_quality") is not None:
                    score = 1.0 - float(row["label_quality"])
                predictions.append(
                    _prediction(
                        "suggested", float(score) if score is not None else 0.0, [_choice_result(kind, suggested)]
                    )
                )
        elif kind == "mrc":
            data.update(view.shown(row))
            if row.get("title") is not None:
                data["title"] = row["title"]
            predictions.append(_prediction("current", 1.0, _span_results(row.get("answers"))))
            predicted = _suggested_span(row, suggestion)
            if predicted is not None:
                score = row.get(suggestion_score) if suggestion_score else None
                predictions.append(
                    _prediction("suggested", float(score) if score is not None else 0.0, _span_results([predicted]))
                )
        else:
            data["query_id"], data["doc_id"] = row["query_id"], row["doc_id"]
            for (name, text), key in zip(view.shown(row).items(), ("query_id", "doc_id"), strict=True):
                if text is None:
                    raise InputError(
                        f"no {name.split('_')[0]} text for this row",
                        where=Where(row=numbers[i], field=key),
                        value=row[key],
                        hint="every query_id and doc_id needs its text in queries= / corpus=; "
                        f"or leave such rows out: --select \"{key} <> '{row[key]}'\"",
                    )
                data[name] = text
            if row.get("score") is not None:
                predictions.append(_prediction("current", 1.0, [_choice_result(kind, str(row["score"]))]))
        tasks.append({"data": data, "meta": {"curate_kind": kind}, "predictions": predictions})
    return tasks, label_config(kind, choices, text_pair=view.text_pair)


# ---------------------------------------------------------------------------------------------
# import


class _Bad(Exception):
    """A problem inside one task: field path (relative to the task) and message parts."""

    def __init__(self, field: str, what: str, value: Any = None, hint: str | None = None) -> None:
        super().__init__(what)
        self.field, self.what, self.value, self.hint = field, what, value, hint


def _load(export_json: Any, file: str | None) -> tuple[Any, str]:
    if isinstance(export_json, str | Path):
        path = Path(export_json)
        name = file or str(path)
        try:
            return json.loads(path.read_text(encoding="utf-8")), name
        except FileNotFoundError:
            raise InputError("file not found", where=Where(file=name), hint="check the path") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError("malformed JSON", where=Where(file=name), hint=str(exc).splitlines()[0]) from None
    return export_json, file or "<export>"


def _annotator(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("email") or value.get("username") or value.get("id")
    return "unknown" if value is None else str(value)


def _timestamp(value: Any, field: str) -> str | None:
    """An annotation time as ISO 8601 in UTC with microseconds (``2026-01-02T03:04:05.000000Z``, so
    the text sorts as the time does); a time without a zone is taken as UTC; None when absent."""
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None:
        raise _Bad(field, "annotation time is not an ISO 8601 timestamp", value, "e.g. 2026-01-02T03:04:05.123456Z")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _span(item: Mapping[str, Any], context: Any, where: str) -> tuple[int, str]:
    if not isinstance(context, str):
        hint = "import only tasks made by export_tasks"
        raise _Bad("data.context", "task without its context", type(context).__name__, hint)
    value = item.get("value")
    if not isinstance(value, Mapping):
        raise _Bad(f"{where}.value", "span without a value", value)
    start, end, text = value.get("start"), value.get("end"), value.get("text")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        raise _Bad(f"{where}.value.start", "span offsets must be integers", [start, end])
    if not 0 <= start < end <= len(context):
        raise _Bad(
            f"{where}.value.start", "span outside the context", [start, end], f"context has {len(context)} characters"
        )
    found = context[start:end]
    if text is not None and text != found:
        raise _Bad(
            f"{where}.value.text", "span text does not match the context", text, f"context[{start}:{end}] is {found!r}"
        )
    return start, found


def _annotation_value(result: Any, kind: str, context: Any, choices: Sequence[str], where: str) -> Any:
    """The value one annotation gives (``None`` when it has no choice/span of ours); spans are
    checked against ``context``, the text the task showed."""
    if not isinstance(result, list):
        raise _Bad(f"{where}.result", "annotation result is not a list", type(result).__name__)
    control, _, rtype, _, _ = _CONTROLS[kind]
    chosen: list[str] = []
    spans: list[tuple[int, str]] = []
    for k, item in enumerate(result):
        at = f"{where}.result[{k}]"
        if not isinstance(item, Mapping):
            raise _Bad(at, "result item is not an object", item)
        if item.get("from_name") != control or item.get("type") != rtype:
            continue
        if kind == "mrc":
            labels = (item.get("value") or {}).get("labels") if isinstance(item.get("value"), Mapping) else None
            if labels is not None and ANSWER_LABEL not in labels:
                raise _Bad(f"{at}.value.labels", "unknown span label", labels, f"use {ANSWER_LABEL!r}")
            spans.append(_span(item, context, at))
            continue
        value = item.get("value")
        picked = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(picked, list) or len(picked) != 1:
            raise _Bad(f"{at}.value.choices", "expected exactly one choice", picked)
        if picked[0] not in choices:
            raise _Bad(
                f"{at}.value.choices", "choice not in the label set", picked[0], f"use one of: {', '.join(choices)}"
            )
        chosen.append(picked[0])
    if kind == "mrc":
        if not spans:
            return None
        return [{"text": text, "answer_start": start} for start, text in sorted(set(spans))]
    if not chosen:
        return None
    if len(set(chosen)) > 1:
        raise _Bad(f"{where}.result", "several different choices in one annotation", chosen)
    return int(chosen[0]) if kind == "qrels" else chosen[0]


@dataclass(frozen=True)
class _Task:
    """One checked task: its index in the export, row id and number, the completed annotations
    (``annotator``, ``at``, ``value``), how many were cancelled and given in all, and why its row no
    longer shows what the task showed (None when it does)."""

    index: int
    key: str
    row: int
    found: list[dict[str, Any]]
    cancelled: int
    total: int
    mismatch: str | None


def _mismatch(data: Mapping[str, Any], shown: Mapping[str, Any]) -> str | None:
    """Which text of the row differs from the task's ``data``, or None."""
    for name, value in shown.items():
        if data.get(name) != value:
            return f"the task shows {name} {show_value(data.get(name))}, the row has {show_value(value)}"
    return None


def _parse(
    tasks: Any,
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    index: Mapping[str, int],
    view: _View,
    choices: Sequence[str],
    file: str,
) -> list[_Task]:
    """Every task checked (see :class:`_Task`)."""
    if not isinstance(tasks, list):
        raise InputError(
            "not a Label Studio JSON export: expected a list of tasks",
            where=Where(file=file),
            value=type(tasks).__name__,
            hint="export the project as JSON (not JSON-MIN or CSV)",
        )
    parsed = []
    seen: dict[str, int] = {}
    for t, task in enumerate(tasks):
        try:
            if not isinstance(task, Mapping):
                raise _Bad("", "task is not an object", type(task).__name__)
            data = task.get("data")
            if not isinstance(data, Mapping) or ID_FIELD not in data:
                raise _Bad(f"data.{ID_FIELD}", "task without a row id", None, "import only tasks made by export_tasks")
            key = str(data[ID_FIELD])
            if key not in index:
                raise _Bad(
                    f"data.{ID_FIELD}", "id not in the dataset", key, "import into the dataset the tasks came from"
                )
            if key in seen:
                raise _Bad(f"data.{ID_FIELD}", f"id already in task {seen[key]}", key, "export each row once")
            seen[key] = t
            annotations = task.get("annotations") or []
            if not isinstance(annotations, list):
                raise _Bad("annotations", "annotations is not a list", type(annotations).__name__)
            found, cancelled = [], 0
            for a, ann in enumerate(annotations):
                where = f"annotations[{a}]"
                if not isinstance(ann, Mapping):
                    raise _Bad(where, "annotation is not an object", type(ann).__name__)
                if ann.get("was_cancelled"):
                    cancelled += 1
                    continue
                value = _annotation_value(ann.get("result", []), kind, data.get("context"), choices, where)
                stamp = "updated_at" if ann.get("updated_at") else "created_at"
                at = _timestamp(ann.get(stamp), f"{where}.{stamp}")
                found.append({"annotator": _annotator(ann.get("completed_by")), "at": at, "value": value})
        except _Bad as bad:
            field = f"tasks[{t}]" + (f".{bad.field}" if bad.field else "")
            raise InputError(bad.what, where=Where(file=file, field=field), value=bad.value, hint=bad.hint) from None
        row = index[key]
        mismatch = _mismatch(data, view.shown(rows[row]))
        parsed.append(_Task(t, key, row, found, cancelled, len(annotations), mismatch))
    return parsed


def import_annotations(
    dataset: Dataset | pa.Table,
    export_json: str | Path | list[Any],
    *,
    kind: str,
    labels: Sequence[str] | None = None,
    corpus: Dataset | Mapping[str, str] | None = None,
    queries: Dataset | Mapping[str, str] | None = None,
    file: str | None = None,
) -> tuple[Dataset, pa.Table]:
    """Fold a Label Studio JSON export back into ``dataset``.

    Args:
        dataset: the rows the tasks were exported from.
        export_json: path of the JSON export, or the parsed list of tasks.
        kind: the dataset kind (``classification``, ``mrc`` or ``qrels``).
        labels: extra valid choices beyond those in the rows (as given to :func:`export_tasks`).
        corpus, queries: qrels only, the passage and query texts, as given to :func:`export_tasks`
            (not needed when the rows carry ``passage_text`` and ``query_text``).
        file: name used in error messages when ``export_json`` is already parsed.

    Returns:
        ``(dataset, report)``: the corrected rows (same order, ids and other columns) with
        ``annotated_by``, ``annotated_at`` and the ``previous_*`` value of each annotated row
        (null elsewhere), and one report row per task (:data:`REPORT_SCHEMA`). A task whose row no
        longer shows the task's texts changes nothing and is reported as ``mismatch``.

    Raises:
        InputError: the export is malformed or foreign (nothing changed).
        ConfigError: qrels without their query and passage texts.
    """
    ds = _of_kind(dataset, kind)
    tasks, name = _load(export_json, file)
    table = ds.to_arrow()
    rows = table.to_pylist()
    index = _index_ids(rows, kind)
    choices = _label_set(table, kind, labels)
    parsed = _parse(tasks, kind, rows, index, _View.of(table, kind, corpus, queries), choices, name)

    column = _CONTROLS[kind][3]
    report: list[dict[str, Any]] = []
    changes: dict[int, tuple[Any, str, str | None]] = {}
    for task in parsed:
        previous = rows[task.row][column]
        found = task.found
        given = [f for f in found if f["value"] is not None]
        values = {json.dumps(f["value"], ensure_ascii=False, sort_keys=True) for f in given}
        value: Any = None
        if task.mismatch is not None:
            status = "mismatch"
        elif task.total == 0:
            status = "unannotated"
        elif not found:
            status = "cancelled" if task.cancelled else "unannotated"
        elif not given:
            status = "empty"
        elif len(values) > 1:
            status = "conflict"
        else:
            value = given[0]["value"]
            status = "confirmed" if value == previous else "updated"
            who = ", ".join(sorted({f["annotator"] for f in given}))
            when = max((f["at"] for f in given if f["at"] is not None), default=None)
            changes[task.row] = (value, who, when)
        report.append(
            {
                "task": task.index,
                "curate_id": task.key,
                "status": status,
                "previous": json.dumps(previous, ensure_ascii=False),
                "value": None if value is None else json.dumps(value, ensure_ascii=False),
                "annotations": json.dumps(found, ensure_ascii=False),
                "detail": task.mismatch,
            }
        )
    return Dataset(kind=kind, table=_apply(table, kind, changes), metadata=dict(ds.metadata)), pa.Table.from_pylist(
        report, schema=REPORT_SCHEMA
    )


def _apply(table: pa.Table, kind: str, changes: Mapping[int, tuple[Any, str, str | None]]) -> pa.Table:
    """``table`` with the changed values and provenance columns; other cells untouched."""
    _, _, _, column, previous_column = _CONTROLS[kind]
    dtype = table.schema.field(column).type
    values = table.column(column).to_pylist()

    def existing(name: str) -> list[Any]:
        return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows

    by, at, previous = existing("annotated_by"), existing("annotated_at"), existing(previous_column)
    impossible = table.column("is_impossible").to_pylist() if "is_impossible" in table.column_names else None
    for row, (value, who, when) in changes.items():
        previous[row] = values[row]
        values[row] = value
        by[row], at[row] = who, when
        if impossible is not None and impossible[row] and value:
            impossible[row] = False
    if changes:
        table = table.set_column(table.column_names.index(column), table.schema.field(column), pa.array(values, dtype))
        if impossible is not None:
            field = table.schema.field("is_impossible")
            table = table.set_column(table.column_names.index("is_impossible"), field, pa.array(impossible, field.type))
    for name, type_, cells in (
        ("annotated_by", pa.string(), by),
        ("annotated_at", pa.string(), at),
        (previous_column, dtype, previous),
    ):
        array = pa.array(cells, type_)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), pa.field(name, type_), array)
        else:
            table = table.append_column(pa.field(name, type_), array)
    return table
