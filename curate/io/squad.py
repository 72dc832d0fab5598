"""SQuAD v1.1 / v2.0 JSON (KorQuAD 1.0 is the same format) <-> flat ``mrc`` rows.

A SQuAD file ``{"version", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`` becomes
one row per question with ``document_id`` (``<file stem>/<article index>``) and ``passage_id``
(``<document_id>/<paragraph index>``), which keep article and paragraph order for the way back.

Lossless: keys the flat schema has no column for are kept too: extra question keys as columns of
their own, extra article / paragraph / answer keys as JSON text in ``squad_article_extra``,
``squad_paragraph_extra`` and ``squad_answers_extra``; the top-level keys other than ``data``,
articles or paragraphs without any question (they make no row) and whether the question ids were
integers, in the dataset metadata. ``is_impossible`` and ``plausible_answers`` stay null where the
file had no such key, so a v1.1 file comes back without them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.dataset import with_metadata
from curate.errors import InputError, SchemaError, Where
from curate.io.quarantine import BadRow
from curate.schemas import get_schema

ARTICLE_EXTRA = "squad_article_extra"
PARAGRAPH_EXTRA = "squad_paragraph_extra"
ANSWERS_EXTRA = "squad_answers_extra"
_QA_KEYS = {"id", "question", "answers", "is_impossible", "plausible_answers"}
_ANSWER_KEYS = {"text", "answer_start"}


def _load_json(path: Path) -> Any:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON ({exc.msg})",
            where=Where(file=str(path), line=exc.lineno),
            value=exc.doc[max(0, exc.pos - 30) : exc.pos + 30],
            hint=f"column {exc.colno}; check the file is complete, valid JSON",
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            "file is not UTF-8 text", where=Where(file=str(path)), value=exc.object[exc.start : exc.end]
        ) from None


def _extra_json(obj: dict[str, Any], known: set[str]) -> str | None:
    extra = {k: v for k, v in obj.items() if k not in known}
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None


def _answers(value: Any, where: Where, field: str) -> tuple[list[dict[str, Any]], list[str | None]]:
    if not isinstance(value, list):
        raise SchemaError(
            "answers must be a list", where=where, value=value, hint="SQuAD answers: [{text, answer_start}]"
        )
    answers, extras = [], []
    for index, answer in enumerate(value):
        if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
            raise SchemaError(
                "answer needs 'text' and 'answer_start'",
                where=Where(file=where.file, row=where.row, field=f"{field}[{index}]"),
                value=answer,
            )
        start = answer["answer_start"]
        if isinstance(start, bool) or not isinstance(start, int):
            raise SchemaError(
                "answer_start must be an integer",
                where=Where(file=where.file, row=where.row, field=f"{field}[{index}].answer_start"),
                value=start,
            )
        answers.append({"text": answer["text"], "answer_start": start})
        extras.append(_extra_json(answer, _ANSWER_KEYS))
    return answers, extras


def _row(
    article: dict[str, Any], paragraph: dict[str, Any], qa: dict[str, Any], document_id: str, pi: int, where: Where
) -> dict[str, Any]:
    if not isinstance(qa, dict):
        raise SchemaError("question is not a JSON object", where=where, value=qa)
    for key in ("id", "question"):
        if key not in qa:
            raise SchemaError(f"question has no '{key}'", where=Where(file=where.file, field=key), value=sorted(qa))
    if "context" not in paragraph:
        raise SchemaError(
            "paragraph has no 'context'", where=Where(file=where.file, field="context"), value=sorted(paragraph)
        )
    answers, answer_extras = _answers(qa.get("answers", []), where, "answers")
    row: dict[str, Any] = {
        "id": str(qa["id"]),
        "title": article.get("title"),
        "context": paragraph["context"],
        "question": qa["question"],
        "answers": answers,
        "is_impossible": qa.get("is_impossible"),
        "plausible_answers": _answers(qa["plausible_answers"], where, "plausible_answers")[0]
        if "plausible_answers" in qa
        else None,
        "document_id": document_id,
        "passage_id": f"{document_id}/{pi}",
        ARTICLE_EXTRA: _extra_json(article, {"title", "paragraphs"}),
        PARAGRAPH_EXTRA: _extra_json(paragraph, {"context", "qas"}),
        ANSWERS_EXTRA: json.dumps(answer_extras, ensure_ascii=False) if any(answer_extras) else None,
    }
    if "answers" not in qa:
        row["answers"] = []
        row[ANSWERS_EXTRA] = json.dumps({"no_answers_key": True})
    for key, value in qa.items():
        if key not in _QA_KEYS:
            row[key] = value
    return row


def read_squad(path: Path, *, skip_bad_rows: bool = False) -> tuple[pa.Table, list[BadRow]]:
    """Read a SQuAD-format JSON file into flat ``mrc`` rows (schema columns plus lossless extras)."""
    doc = _load_json(path)
    rows: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    for row, bad_row in _walk(doc, path, skip_bad_rows):
        if row is not None:
            rows.append(row)
        elif bad_row is not None:
            bad.append(bad_row)
    table = _rows_to_table(rows)
    top = {k: v for k, v in doc.items() if k != "data"}
    metadata = {"source_format": "squad", "squad_top": json.dumps(top, ensure_ascii=False, sort_keys=True)}
    empty = _empty_parts(doc, path)
    if empty:
        metadata["squad_empty"] = json.dumps(empty, ensure_ascii=False)
    if rows and all(_is_int_id(qa.get("id")) for qa in _questions(doc)):
        metadata["squad_int_ids"] = "true"  # the id column is text; the way back restores integers
    return with_metadata(table, metadata), bad


def _empty_parts(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Articles without paragraphs and paragraphs without questions: they make no row, so they are
    kept in the dataset metadata and put back in place when written as SQuAD again."""
    found = []
    for ai, article in enumerate(doc["data"]):
        header = {k: v for k, v in article.items() if k != "paragraphs"}
        paragraphs = article.get("paragraphs", [])
        if not paragraphs:
            found.append({"document_id": f"{path.stem}/{ai}", "article": article})
        for pi, paragraph in enumerate(paragraphs):
            if not paragraph.get("qas"):
                found.append(
                    {"document_id": f"{path.stem}/{ai}", "article": header, "paragraph": pi, "value": paragraph}
                )
    return found


def _questions(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for article in doc["data"]:
        for paragraph in article.get("paragraphs", []):
            yield from paragraph.get("qas", [])


def _is_int_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _index(key: Any) -> int | None:
    """The trailing ``/<n>`` of a curate ``document_id`` or ``passage_id``."""
    if isinstance(key, str) and "/" in key:
        tail = key.rsplit("/", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None


def _insert_at(items: list[Any], indices: list[int | None], index: int, item: Any) -> None:
    """Insert ``item`` before the first element whose index is greater than ``index``."""
    position = next((i for i, other in enumerate(indices) if other is not None and other > index), len(items))
    items.insert(position, item)
    indices.insert(position, index)


def _expect_object(value: Any, file: str, locator: str) -> None:
    if not isinstance(value, dict):
        raise InputError(
            "expected a JSON object",
            where=Where(file=file, field=locator),
            value=value,
            hint="SQuAD layout: {data: [{title, paragraphs: [{context, qas: [...]}]}]}",
        )


def _walk(doc: Any, path: Path, skip: bool) -> Iterator[tuple[dict[str, Any] | None, BadRow | None]]:
    file = str(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(
            "not a SQuAD file: no top-level 'data' list",
            where=Where(file=file),
            value=sorted(doc)[:5] if isinstance(doc, dict) else type(doc).__name__,
            hint="use --from jsonl/csv/parquet for other layouts",
        )
    for ai, article in enumerate(doc["data"]):
        document_id = f"{path.stem}/{ai}"
        _expect_object(article, file, f"data[{ai}]")
        for pi, paragraph in enumerate(article.get("paragraphs", [])):
            _expect_object(paragraph, file, f"data[{ai}].paragraphs[{pi}]")
            for qi, qa in enumerate(paragraph.get("qas", [])):
                locator = f"data[{ai}].paragraphs[{pi}].qas[{qi}]"
                try:
                    yield _row(article, paragraph, qa, document_id, pi, Where(file=file)), None
                except SchemaError as exc:
                    field = f"{locator}.{exc.where.field}" if exc.where.field else locator
                    if not skip:
                        raise SchemaError(
                            exc.what, where=Where(file=file, field=field), value=exc.value, hint=exc.hint
                        ) from None
                    raw = json.dumps(qa, ensure_ascii=False)
                    yield None, BadRow(file=file, location=field, reason=exc.what, raw=raw)


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = get_schema("mrc")
    names = dict.fromkeys([*schema.names, ARTICLE_EXTRA, PARAGRAPH_EXTRA, ANSWERS_EXTRA])
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {name: [row.get(name) for row in rows] for name in names}
    arrays: dict[str, pa.Array] = {}
    for name, values in columns.items():
        field = schema.field(name)
        if field is not None:
            arrays[name] = pa.array(values, type=field.type)
        elif name in (ARTICLE_EXTRA, PARAGRAPH_EXTRA, ANSWERS_EXTRA):
            if any(v is not None for v in values):
                arrays[name] = pa.array(values, type=pa.string())
        else:
            arrays[name] = _extra_array(values, name)
    return pa.table(arrays) if rows else schema.empty_table()


def _extra_array(values: list[Any], name: str) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise SchemaError(
            "question key holds values of mixed types",
            where=Where(field=name),
            value=[type(v).__name__ for v in values if v is not None][:4],
            hint="convert the file with consistent types for this key",
        ) from None


def write_squad(table: pa.Table, path: Path, *, metadata: dict[str, str] | None = None) -> None:
    """Write ``mrc`` rows as SQuAD JSON, grouping articles by ``document_id`` (else ``title``) and
    paragraphs by ``passage_id`` (else ``context``), both in first-appearance order."""
    schema_names = set(get_schema("mrc").names) | {ARTICLE_EXTRA, PARAGRAPH_EXTRA, ANSWERS_EXTRA}
    extra_names = [n for n in table.column_names if n not in schema_names]
    articles: dict[Any, dict[str, Any]] = {}
    paragraphs: dict[Any, dict[str, Any]] = {}
    needs_positions = bool((metadata or {}).get("squad_empty"))
    int_ids = (metadata or {}).get("squad_int_ids") == "true"
    for row in table.to_pylist():
        doc_key = row.get("document_id") or ("title", row.get("title"))
        article = articles.get(doc_key)
        if article is None:
            article = {"title": row.get("title"), "paragraphs": []}
            if row.get("title") is None:
                del article["title"]
            article.update(json.loads(row.get(ARTICLE_EXTRA) or "{}"))
            articles[doc_key] = article
        para_key = (doc_key, row.get("passage_id") or ("context", row["context"]))
        paragraph = paragraphs.get(para_key)
        if paragraph is None:
            paragraph = {"context": row["context"], "qas": []}
            paragraph.update(json.loads(row.get(PARAGRAPH_EXTRA) or "{}"))
            if needs_positions:
                paragraph["_passage_id"] = row.get("passage_id")
            paragraphs[para_key] = paragraph
            article["paragraphs"].append(paragraph)
        paragraph["qas"].append(_qa(row, extra_names, int_ids))
    top = json.loads((metadata or {}).get("squad_top") or "{}")
    if "version" not in top:
        top["version"] = (
            "v2.0"
            if "is_impossible" in table.column_names and table["is_impossible"].null_count < table.num_rows
            else "1.1"
        )
    _restore_empty(articles, json.loads((metadata or {}).get("squad_empty") or "[]"))
    doc = {**top, "data": list(articles.values())}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        json.dump(doc, handle, ensure_ascii=False)


def _restore_empty(articles: dict[Any, dict[str, Any]], empty: list[dict[str, Any]]) -> None:
    """Put articles without paragraphs and paragraphs without questions back in their places."""
    if not empty:
        return
    order = list(articles)
    doc_indices = [_index(key) for key in order]
    values = [articles[key] for key in order]
    for part in empty:
        key = part["document_id"]
        if key not in articles:
            article = {**part["article"], "paragraphs": []} if "paragraph" in part else dict(part["article"])
            articles[key] = article
            _insert_at(values, doc_indices, _index(key) or 0, article)
        if "paragraph" in part:
            article = articles[key]
            indices = [_index(p.get("_passage_id")) for p in article["paragraphs"]]
            _insert_at(
                article["paragraphs"],
                indices,
                part["paragraph"],
                {**part["value"], "_passage_id": f"{key}/{part['paragraph']}"},
            )
    articles.clear()
    for position, article in enumerate(values):
        for paragraph in article.get("paragraphs", []):
            paragraph.pop("_passage_id", None)
        articles[position] = article


def _qa(row: dict[str, Any], extra_names: list[str], int_ids: bool = False) -> dict[str, Any]:
    extras_raw = row.get(ANSWERS_EXTRA)
    extras = json.loads(extras_raw) if extras_raw else None
    row_id = row["id"]
    if int_ids and row_id.lstrip("-").isdigit():
        row_id = int(row_id)
    qa: dict[str, Any] = {"id": row_id, "question": row["question"]}
    if not (isinstance(extras, dict) and extras.get("no_answers_key")):
        answers = [dict(a) for a in row["answers"]]
        if isinstance(extras, list):
            for answer, extra in zip(answers, extras, strict=False):
                answer.update(json.loads(extra) if extra else {})
        qa["answers"] = answers
    if row.get("is_impossible") is not None:
        qa["is_impossible"] = row["is_impossible"]
    if row.get("plausible_answers") is not None:
        qa["plausible_answers"] = row["plausible_answers"]
    for name in extra_names:
        if row.get(name) is not None:
            qa[name] = row[name]
    return qa
