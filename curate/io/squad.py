"""SQuAD v1.1 / v2.0 JSON (KorQuAD 1.0 is the same format) <-> flat ``mrc`` rows.

A SQuAD file ``{"version", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`` becomes
one row per question with ``document_id`` (``<file stem>/<article index>``) and ``passage_id``
(``<document_id>/<paragraph index>``), which keep article and paragraph order for the way back.

Lossless: keys the flat schema has no column for are kept too: extra question keys as columns of
their own (or, when their values cannot be one Arrow column exactly, as JSON text in
``squad_question_extra``), extra article / paragraph / answer keys as JSON text in
``squad_article_extra``, ``squad_paragraph_extra`` and ``squad_answers_extra``; the top-level keys
other than ``data``, and whether the question ids were integers, in the dataset metadata.
``is_impossible`` and ``plausible_answers`` stay null where the file had no such key, so a v1.1 file
comes back without them.

Strict: every value must have its SQuAD type (``context``, ``question`` and answer ``text`` are
text, ``answer_start`` an integer that fits 32 bits, ``is_impossible`` true or false, ids text or
integers, one of the two in the whole file). An article without paragraphs or a paragraph without
questions makes no row, so it is an error (or, when skipping bad rows, set aside in the quarantine
file with its reason): nothing is carried to the output past the stages. Questions or paragraphs
under a key SQuAD does not know (``qa``, or ``qas`` directly in an article) are an error naming it.
"""

from __future__ import annotations

import gzip
import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa

from curate.dataset import with_metadata
from curate.errors import CurateError, InputError, SchemaError, Where
from curate.io.files import create_text, json_problem, not_utf8, open_text, unreadable
from curate.io.quarantine import BadRow, Rows, Source, Unstreamable, raw_json
from curate.schemas import get_schema

ARTICLE_EXTRA = "squad_article_extra"
PARAGRAPH_EXTRA = "squad_paragraph_extra"
QUESTION_EXTRA = "squad_question_extra"
ANSWERS_EXTRA = "squad_answers_extra"
EXTRA_COLUMNS = (ARTICLE_EXTRA, PARAGRAPH_EXTRA, QUESTION_EXTRA, ANSWERS_EXTRA)
_QA_KEYS = {"id", "question", "answers", "is_impossible", "plausible_answers"}
_ANSWER_KEYS = {"text", "answer_start"}
# keys that hold SQuAD content: found under a key SQuAD does not know, they were misplaced
_CONTENT_KEYS = {"paragraphs", "context", "qas", "question", "answers"}
_LAYOUT = "SQuAD layout: {data: [{title, paragraphs: [{context, qas: [{id, question, answers}]}]}]}"
_SKIP_HINT = "remove it, or skip bad rows (--skip-bad-rows / on_error: skip) to set it aside"
_INT32 = (-(2**31), 2**31 - 1)
_MADE = frozenset(get_schema("mrc").names) | frozenset(EXTRA_COLUMNS)  # columns that are no question extra


def _load_json(path: Path) -> Any:
    try:
        with open_text(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON ({exc.msg})",
            where=Where(file=str(path), line=exc.lineno),
            value=exc.doc[max(0, exc.pos - 30) : exc.pos + 30],
            hint=f"column {exc.colno}; check the file is complete, valid JSON",
        ) from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except RecursionError:
        raise InputError(
            "JSON nested too deeply to read", where=Where(file=str(path)), hint="a SQuAD file nests 6 levels"
        ) from None
    except (OSError, EOFError) as exc:
        raise unreadable(path, exc) from None


def _problem(what: str, field: str | None = None, value: Any = ..., hint: str | None = None) -> SchemaError:
    """A SchemaError whose ``field`` is a JSON path relative to the part being read (``value``
    left out: no value is shown)."""
    if value is ...:
        return SchemaError(what, where=Where(field=field), hint=hint)
    return SchemaError(what, where=Where(field=field), value=value, hint=hint)


def _check_json(value: Any) -> None:
    found = json_problem(value)
    if found is not None:
        path, what = found
        raise _problem(what, path or None, hint="fix the text in the file (or its \\u escapes)")


def _text(obj: dict[str, Any], key: str, what: str) -> str:
    if key not in obj:
        raise _problem(f"{what} has no '{key}'", key, sorted(obj), _LAYOUT)
    value = obj[key]
    if not isinstance(value, str):
        raise _problem(f"'{key}' must be text", key, value)
    return value


def _misplaced(obj: dict[str, Any], known: set[str]) -> None:
    """SQuAD content under a key the level does not know is an error naming the key."""
    for key, value in obj.items():
        if key in known:
            continue
        items = value if isinstance(value, list) else [value]
        if key in _CONTENT_KEYS or any(isinstance(i, dict) and i.keys() & _CONTENT_KEYS for i in items):
            raise _problem(
                f"unknown key '{key}' holds SQuAD content", key, sorted(obj), f"move it where it belongs: {_LAYOUT}"
            )


def _list_of(obj: dict[str, Any], key: str, what: str, known: set[str]) -> list[Any]:
    """The list under ``key`` (``paragraphs`` of an article, ``qas`` of a paragraph); it must be
    there, be a list and hold something."""
    if key not in obj:
        unknown = sorted(set(obj) - known)
        what_found = f"; unknown key {', '.join(repr(k) for k in unknown)}" if unknown else ""
        raise _problem(f"{what} has no '{key}'{what_found}", key, sorted(obj), _LAYOUT)
    value = obj[key]
    if not isinstance(value, list):
        raise _problem(f"'{key}' must be a list", key, value, _LAYOUT)
    if not value:
        raise _problem(f"{what} has no {'questions' if key == 'qas' else key}: it makes no row", key, value, _SKIP_HINT)
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(f"{what} is not a JSON object", None, value, _LAYOUT)
    return value


def _article(article: Any) -> tuple[list[Any], str | None, str | None]:
    """The paragraphs of an article, its title and its other keys as JSON text (or None)."""
    article = _object(article, "article")
    paragraphs = _list_of(article, "paragraphs", "article", {"title"})
    title = article.get("title")
    if title is not None and not isinstance(title, str):
        raise _problem("'title' must be text", "title", title)
    _misplaced(article, {"title", "paragraphs"})
    _check_json({k: v for k, v in article.items() if k != "paragraphs"})
    # an explicit "title": null is kept with the other keys, so it comes back
    return paragraphs, title, _extra_json(article, {"paragraphs", "title"} if title is not None else {"paragraphs"})


def _paragraph(paragraph: Any) -> tuple[list[Any], str, str | None]:
    """The questions of a paragraph, its context and its other keys as JSON text (or None)."""
    paragraph = _object(paragraph, "paragraph")
    context = _text(paragraph, "context", "paragraph")
    questions = _list_of(paragraph, "qas", "paragraph", {"context"})
    _misplaced(paragraph, {"context", "qas"})
    _check_json({k: v for k, v in paragraph.items() if k != "qas"})
    return questions, context, _extra_json(paragraph, {"context", "qas"})


def _answers(value: Any, field: str) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """``[{text, answer_start}]`` and each answer's extra keys (or None)."""
    if not isinstance(value, list):
        raise _problem(f"'{field}' must be a list", field, value, "SQuAD answers: [{text, answer_start}]")
    answers, extras = [], []
    for index, answer in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
            raise _problem("answer needs 'text' and 'answer_start'", where, answer)
        if not isinstance(answer["text"], str):
            raise _problem("answer text must be text", f"{where}.text", answer["text"])
        start = answer["answer_start"]
        if isinstance(start, bool) or not isinstance(start, int):
            raise _problem("answer_start must be an integer", f"{where}.answer_start", start)
        if not _INT32[0] <= start <= _INT32[1]:
            raise _problem(
                "answer_start is out of range", f"{where}.answer_start", start, "a character offset into the context"
            )
        answers.append({"text": answer["text"], "answer_start": start})
        extras.append({k: v for k, v in answer.items() if k not in _ANSWER_KEYS} or None)
    return answers, extras


def _extra_json(obj: dict[str, Any], known: set[str]) -> str | None:
    extra = {k: v for k, v in obj.items() if k not in known}
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None


def _question(qa: Any, made: set[str]) -> dict[str, Any]:
    """The columns one question gives (``id`` still of its JSON type), answer extras in ``ANSWERS_EXTRA``."""
    qa = _object(qa, "question")
    _check_json(qa)
    if "id" not in qa:
        raise _problem("question has no 'id'", "id", sorted(qa))
    if isinstance(qa["id"], bool) or not isinstance(qa["id"], str | int):
        raise _problem("question id must be text or an integer", "id", qa["id"], "give every question a unique id")
    row: dict[str, Any] = {"id": qa["id"], "question": _text(qa, "question", "question")}
    extras: dict[str, Any] = {}
    if "answers" in qa:
        row["answers"], answer_extras = _answers(qa["answers"], "answers")
        if any(answer_extras):
            extras["answers"] = answer_extras
    else:
        row["answers"] = []
        extras["no_answers_key"] = True
    row["is_impossible"] = qa.get("is_impossible")
    if "is_impossible" in qa and not isinstance(row["is_impossible"], bool):
        raise _problem("is_impossible must be true or false", "is_impossible", row["is_impossible"])
    row["plausible_answers"] = None
    if "plausible_answers" in qa:
        row["plausible_answers"], plausible_extras = _answers(qa["plausible_answers"], "plausible_answers")
        if any(plausible_extras):
            extras["plausible_answers"] = plausible_extras
    row[ANSWERS_EXTRA] = json.dumps(extras, ensure_ascii=False) if extras else None
    for key, value in qa.items():
        if key in _QA_KEYS:
            continue
        if key in made:
            raise _problem(
                f"question key '{key}' is also a column curate makes", key, value, "rename the key in the file"
            )
        row[key] = value
    return row


def squad_source(path: Path, *, skip_bad_rows: bool = False, chunk_rows: int | None = None) -> Source:
    """A SQuAD file as :func:`read_squad` reads it, in chunks of ``chunk_rows`` rows (``None``: one).

    In chunks, the articles are parsed one at a time by the incremental parser ``ijson`` (its C
    backend; the pure-Python one when the file escapes a UTF-16 surrogate, which the C backend would
    turn into ``?``), twice: a first pass checks every question and decides the extra columns and
    their types over the whole file, a second builds the chunks. A file that is not one JSON object
    with one ``data`` list, that ``ijson`` cannot parse, that holds a bad question when not
    skipping or whose extra columns do not type chunk by chunk raises :class:`Unstreamable`: read
    whole, it gets the error (or result) of :func:`read_squad`.
    """
    if chunk_rows is None:
        table, whole_bad = read_squad(path, skip_bad_rows=skip_bad_rows)
        return Source(table.schema, [Rows(table, whole_bad)])
    top: dict[str, Any] = {}
    layout = _Layout()
    bad: list[BadRow] = []
    first_id: type | None = None
    chunk: list[dict[str, Any]] = []
    for row, bad_row in _streamed_rows(path, skip_bad_rows, top):
        if row is None:
            bad.append(cast(BadRow, bad_row))
            continue
        first_id = first_id or type(row["id"])
        chunk.append(row)
        if len(chunk) == chunk_rows:
            layout.merge(_Layout.of(chunk))
            chunk = []
    layout.merge(_Layout.of(chunk))
    if json_problem(top) is not None:
        raise Unstreamable(str(path))
    metadata = _metadata(top, first_id is int)
    schema = with_metadata(_table([], layout), metadata).schema

    def chunks() -> Iterator[Rows]:
        yield Rows(schema.empty_table(), bad)
        rows: list[dict[str, Any]] = []
        for row, _ in _streamed_rows(path, skip_bad_rows, {}):
            if row is not None:
                rows.append(row)
            if len(rows) == chunk_rows:
                yield Rows(with_metadata(_table(rows, layout), metadata))
                rows = []
        if rows:
            yield Rows(with_metadata(_table(rows, layout), metadata))

    return Source(schema, chunks())


def _streamed_rows(
    path: Path, skip: bool, top: dict[str, Any]
) -> Iterator[tuple[dict[str, Any] | None, BadRow | None]]:
    """The rows of a SQuAD file read article by article (``top`` gets the top-level keys)."""
    try:
        yield from _rows_of(_articles(path, top), path, skip)
    except (CurateError, RecursionError):
        raise Unstreamable(str(path)) from None  # a bad question when not skipping: the whole file names it


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _articles(path: Path, top: dict[str, Any]) -> Iterator[Any]:
    """The articles of a SQuAD file one at a time; ``top`` gets the other top-level keys."""
    import ijson

    backend: Any = ijson
    seen = False
    try:
        with _open_bytes(path) as handle:
            rest = b""
            while block := handle.read(1 << 20):
                if _SURROGATE.search(rest + block):
                    backend = importlib.import_module("ijson.backends.python")
                    break
                rest = block[-5:]
        with _open_bytes(path) as handle:
            events = backend.parse(handle, use_float=True)
            if next(events, ("", None, None))[1] != "start_map":
                raise Unstreamable(str(path))
            for prefix, event, key in events:
                if prefix == "" and event == "end_map":
                    break
                _, event, value = next(events)
                if key != "data":
                    top[key] = _value(event, value, events)
                    continue
                if seen or event != "start_array":
                    raise Unstreamable(str(path))
                seen = True
                for _, event, value in events:
                    if event == "end_array":
                        break
                    yield _value(event, value, events)
            for _ in events:  # trailing text is an error
                pass
    except (ijson.JSONError, UnicodeDecodeError, OSError, EOFError, ValueError, RecursionError, StopIteration):
        raise Unstreamable(str(path)) from None
    if not seen:
        raise Unstreamable(str(path))


def _open_bytes(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb"))


def _value(event: str, value: Any, events: Iterator[tuple[str, str, Any]]) -> Any:
    """The JSON value that starts with ``event`` (the rest read from ``events``)."""
    if event not in ("start_map", "start_array"):
        return value
    import ijson

    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, event, value in events:
        builder.event(event, value)
        depth += event in ("start_map", "start_array")
        depth -= event in ("end_map", "end_array")
        if depth == 0:
            return builder.value
    raise ValueError("incomplete JSON")


def read_squad(path: Path, *, skip_bad_rows: bool = False) -> tuple[pa.Table, list[BadRow]]:
    """Read a SQuAD-format JSON file into flat ``mrc`` rows (schema columns plus lossless extras).

    Rows that cannot be read raise a :class:`~curate.errors.SchemaError` naming their JSON path
    (``data[0].paragraphs[2].qas[1].answers[0].answer_start``), or with ``skip_bad_rows`` are
    returned as :class:`BadRow` (a whole article or paragraph when the problem is there).
    """
    doc = _load_json(path)
    _check_top(doc, str(path))
    rows: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    for row, bad_row in _rows_of(doc["data"], path, skip_bad_rows):
        if row is not None:
            rows.append(row)
        elif bad_row is not None:
            bad.append(bad_row)
    top = {k: v for k, v in doc.items() if k != "data"}
    metadata = _metadata(top, bool(rows) and isinstance(rows[0]["id"], int))
    return with_metadata(_table(rows, _Layout.of(rows)), metadata), bad


def _metadata(top: dict[str, Any], int_ids: bool) -> dict[str, str]:
    metadata = {"source_format": "squad", "squad_top": json.dumps(top, ensure_ascii=False, sort_keys=True)}
    if int_ids:  # one id type per file: the way back restores integers
        metadata["squad_int_ids"] = "true"
    return metadata


def _check_top(doc: Any, file: str) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(
            "not a SQuAD file: no top-level 'data' list",
            where=Where(file=file),
            value=sorted(doc)[:5] if isinstance(doc, dict) else type(doc).__name__,
            hint="use --from jsonl/csv/parquet for other layouts",
        )
    found = json_problem({k: v for k, v in doc.items() if k != "data"})
    if found is not None:
        raise InputError(found[1], where=Where(file=file, field=found[0]), hint="fix the text in the file")


def _rows_of(articles: Iterable[Any], path: Path, skip: bool) -> Iterator[tuple[dict[str, Any] | None, BadRow | None]]:
    file = str(path)
    made = set(get_schema("mrc").names) | set(EXTRA_COLUMNS)
    first_id: tuple[type, str] | None = None  # type of the first id, and where it is

    def bad(locator: str, exc: SchemaError, raw: Any) -> BadRow:
        field = f"{locator}.{exc.where.field}" if exc.where.field else locator
        if not skip:
            raise SchemaError(exc.what, where=Where(file=file, field=field), value=exc.value, hint=exc.hint)
        reason = SchemaError(exc.what, value=exc.value, hint=exc.hint).message  # the location names the field
        return BadRow(file=file, location=field, reason=reason, raw=raw_json(raw))

    for ai, article in enumerate(articles):
        document_id = f"{path.stem}/{ai}"
        try:
            paragraphs, title, article_extra = _article(article)
        except SchemaError as exc:
            yield None, bad(f"data[{ai}]", exc, article)
            continue
        for pi, paragraph in enumerate(paragraphs):
            locator = f"data[{ai}].paragraphs[{pi}]"
            try:
                questions, context, paragraph_extra = _paragraph(paragraph)
            except SchemaError as exc:
                yield None, bad(locator, exc, paragraph)
                continue
            for qi, qa in enumerate(questions):
                try:
                    row = _question(qa, made)
                    if first_id is None:
                        first_id = (type(row["id"]), f"{locator}.qas[{qi}]")
                    elif type(row["id"]) is not first_id[0]:
                        raise _problem(
                            "question ids mix text and integers",
                            "id",
                            row["id"],
                            f"the id at {first_id[1]} is {'an integer' if first_id[0] is int else 'text'}; "
                            "give every id the same type",
                        )
                except SchemaError as exc:
                    yield None, bad(f"{locator}.qas[{qi}]", exc, qa)
                    continue
                row.update(
                    title=title,
                    context=context,
                    document_id=document_id,
                    passage_id=f"{document_id}/{pi}",
                    **{ARTICLE_EXTRA: article_extra, PARAGRAPH_EXTRA: paragraph_extra},
                )
                yield row, None


@dataclass
class _Layout:
    """The columns rows become besides the schema's: whether any row has article, paragraph and
    answer extras, and each extra question key with its Arrow type (``None``: kept as JSON text in
    ``squad_question_extra``), in first-appearance order."""

    article: bool = False
    paragraph: bool = False
    answers: bool = False
    extras: dict[str, pa.DataType | None] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> _Layout:
        names = dict.fromkeys(k for r in rows for k in r if k not in _MADE)
        extras = {}
        for name in names:
            column = _extra_column(rows, name)
            extras[name] = None if column is None else column.type
        return cls(
            any(r[ARTICLE_EXTRA] is not None for r in rows),
            any(r[PARAGRAPH_EXTRA] is not None for r in rows),
            any(r[ANSWERS_EXTRA] is not None for r in rows),
            extras,
        )

    def merge(self, other: _Layout) -> None:
        """Take in the layout of the rows after these; an extra column typed otherwise by them
        raises :class:`Unstreamable`."""
        self.article |= other.article
        self.paragraph |= other.paragraph
        self.answers |= other.answers
        for name, dtype in other.extras.items():
            if name not in self.extras:
                self.extras[name] = dtype
            elif self.extras[name] is not None and dtype is not None and self.extras[name] != dtype:
                raise Unstreamable(name)
            elif dtype is None:
                self.extras[name] = None


def _table(rows: list[dict[str, Any]], layout: _Layout) -> pa.Table:
    """``rows`` as columns: the schema's, then the extras of ``layout`` (see the module docstring)."""
    schema = get_schema("mrc")
    if not rows and layout == _Layout():
        return schema.empty_table()
    arrays: dict[str, pa.Array] = {
        f.name: pa.array([str(r[f.name]) if f.name == "id" else r[f.name] for r in rows], f.type) for f in schema.fields
    }
    for name, present in ((ARTICLE_EXTRA, layout.article), (PARAGRAPH_EXTRA, layout.paragraph)):
        if present:
            arrays[name] = pa.array([r[name] for r in rows], pa.string())
    as_json = [name for name, dtype in layout.extras.items() if dtype is None]
    for name, dtype in layout.extras.items():
        if dtype is not None:
            try:
                arrays[name] = pa.array([r.get(name) for r in rows], dtype)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                raise Unstreamable(name) from None
    if as_json:
        values = [{k: r[k] for k in as_json if k in r} for r in rows]
        arrays[QUESTION_EXTRA] = pa.array(
            [json.dumps(v, ensure_ascii=False) if v else None for v in values], pa.string()
        )
    if layout.answers:
        arrays[ANSWERS_EXTRA] = pa.array([r[ANSWERS_EXTRA] for r in rows], pa.string())
    return pa.table(arrays)


def _plain(dtype: pa.DataType) -> bool:
    """Text, numbers, booleans and lists of them: types a column gives back as the same JSON."""
    if pa.types.is_list(dtype):
        return _plain(dtype.value_type)
    return (
        pa.types.is_string(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
    )


def _extra_column(rows: list[dict[str, Any]], name: str) -> pa.Array | None:
    """An extra question key as an Arrow column, or None when a column would not give back exactly
    the same JSON (an explicit null, mixed types, objects, huge integers): JSON text then."""
    if any(name in r and r[name] is None for r in rows):
        return None
    values = [r.get(name) for r in rows]
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    if not _plain(array.type) or json.dumps(array.to_pylist()) != json.dumps(values):
        return None
    return array


def _json_cell(row: dict[str, Any], name: str, index: int) -> Any:
    """The decoded JSON text of an extras column (None when empty); text that is not JSON is an
    error naming the row, not a crash."""
    text = row.get(name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError, RecursionError):
        raise InputError(
            "cannot write SQuAD: a column curate's reader fills holds text that is not JSON",
            where=Where(row=index + 1, field=name),
            value=text,
            hint="curate's SQuAD reader writes this column; drop it or restore it",
        ) from None


def _json_object(row: dict[str, Any], name: str, index: int) -> dict[str, Any]:
    value = _json_cell(row, name, index)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            "cannot write SQuAD: a column curate's reader fills does not hold a JSON object",
            where=Where(row=index + 1, field=name),
            value=row.get(name),
        )
    return value


def write_squad(
    table: pa.Table | Callable[[], Iterable[pa.Table]],
    path: Path,
    *,
    metadata: dict[str, str] | None = None,
    name: Path | None = None,
) -> None:
    """Write ``mrc`` rows as SQuAD JSON, grouping articles by ``document_id`` (else ``title``) and
    paragraphs by ``passage_id`` (else ``context``), both in first-appearance order; gzip when the
    final ``name`` (default ``path``) ends in ``.gz``.

    ``table``: the rows, or a function giving them again as batches each time it is called. Batches
    are streamed: a first pass reads the grouping keys; when every article's and paragraph's rows
    are consecutive (as SQuAD files and the stages keep them) each article is written as soon as
    it ends, so memory follows one article; otherwise the rows are grouped in memory. The file is
    the same either way."""
    batches = (lambda: [table]) if isinstance(table, pa.Table) else table
    metadata = metadata or {}
    grouped, impossible = _squad_layout(batches())
    try:
        top = json.loads(metadata.get("squad_top") or "{}")
    except json.JSONDecodeError:
        top = None
    if not isinstance(top, dict):
        raise InputError("dataset metadata 'squad_top' is not a JSON object", value=metadata.get("squad_top"))
    if "version" not in top:
        top["version"] = "v2.0" if impossible else "1.1"
    marker = json.dumps("\x00articles\x00")
    head, tail = json.dumps({**top, "data": "\x00articles\x00"}, ensure_ascii=False).split(marker)
    articles = _squad_articles(batches(), metadata.get("squad_int_ids") == "true", grouped)
    with create_text(path, name) as handle:
        handle.write(head + "[")
        for number, article in enumerate(articles):
            handle.write((", " if number else "") + json.dumps(article, ensure_ascii=False))
        handle.write("]" + tail)


def _keys(row: dict[str, Any]) -> tuple[Any, Any]:
    """A row's article key and paragraph key (within the article)."""
    return row.get("document_id") or ("title", row.get("title")), row.get("passage_id") or ("context", row["context"])


def _squad_layout(batches: Iterable[pa.Table]) -> tuple[bool, bool]:
    """``(grouped, impossible)``: whether every article's rows and every paragraph's rows are
    consecutive, and whether a row has ``is_impossible`` set (SQuAD 2.0). Reads the key columns."""
    columns = ["document_id", "title", "passage_id", "context", "is_impossible"]
    closed_articles: set[Any] = set()
    closed_paragraphs: set[Any] = set()
    current: tuple[Any, Any] | None = None
    grouped, impossible = True, False
    for batch in batches:
        present = [c for c in columns if c in batch.column_names]
        for row in batch.select(present).to_pylist():
            impossible = impossible or row.get("is_impossible") is not None
            doc_key, para_key = _keys(row)
            para_key = (doc_key, para_key if para_key[0] != "context" else hash(para_key[1]))
            if current is not None and para_key != current[1]:
                closed_paragraphs.add(current[1])
                if doc_key != current[0]:
                    closed_articles.add(current[0])
                grouped = grouped and para_key not in closed_paragraphs and doc_key not in closed_articles
            current = (doc_key, para_key)
    return grouped, impossible


def _squad_articles(batches: Iterable[pa.Table], int_ids: bool, grouped: bool) -> Iterator[dict[str, Any]]:
    """The SQuAD articles of the rows, in first-appearance order: each yielded as it ends when the
    rows are ``grouped`` (:func:`_squad_layout`), else all at the end."""
    schema_names = set(get_schema("mrc").names) | set(EXTRA_COLUMNS)
    articles: dict[Any, dict[str, Any]] = {}
    paragraphs: dict[Any, dict[str, Any]] = {}
    index = 0
    for batch in batches:
        extra_names = [n for n in batch.column_names if n not in schema_names]
        for row in batch.to_pylist():
            doc_key, para = _keys(row)
            article = articles.get(doc_key)
            if article is None:
                if grouped:
                    yield from articles.values()
                    articles.clear()
                    paragraphs.clear()
                article = {"title": row.get("title"), "paragraphs": []}
                if row.get("title") is None:
                    del article["title"]
                article.update(_json_object(row, ARTICLE_EXTRA, index))
                articles[doc_key] = article
            paragraph = paragraphs.get((doc_key, para))
            if paragraph is None:
                paragraph = {"context": row["context"], "qas": []}
                paragraph.update(_json_object(row, PARAGRAPH_EXTRA, index))
                paragraphs[(doc_key, para)] = paragraph
                article["paragraphs"].append(paragraph)
            paragraph["qas"].append(_qa(row, index, extra_names, int_ids))
            index += 1
    yield from articles.values()


def _answer_extras(row: dict[str, Any], index: int) -> dict[str, Any]:
    """``{"answers": [...], "plausible_answers": [...], "no_answers_key": true}``, each part optional."""
    extras = _json_cell(row, ANSWERS_EXTRA, index)
    if isinstance(extras, list):  # an earlier curate stored the extras of 'answers' only, as JSON texts
        return {"answers": [json.loads(e) if isinstance(e, str) else e for e in extras]}
    if extras is not None and not isinstance(extras, dict):
        raise InputError(
            "cannot write SQuAD: a column curate's reader fills does not hold answer extras",
            where=Where(row=index + 1, field=ANSWERS_EXTRA),
            value=extras,
        )
    return extras or {}


_INT_ID = re.compile(r"-?(0|[1-9][0-9]*)")


def _qa(row: dict[str, Any], index: int, extra_names: list[str], int_ids: bool) -> dict[str, Any]:
    extras = _answer_extras(row, index)
    row_id = row["id"]
    if int_ids and _INT_ID.fullmatch(row_id):
        row_id = int(row_id)
    qa: dict[str, Any] = {"id": row_id, "question": row["question"]}
    if not extras.get("no_answers_key"):
        qa["answers"] = _with_extras(row["answers"], extras.get("answers"))
    if row.get("is_impossible") is not None:
        qa["is_impossible"] = row["is_impossible"]
    if row.get("plausible_answers") is not None:
        qa["plausible_answers"] = _with_extras(row["plausible_answers"], extras.get("plausible_answers"))
    for name in extra_names:
        if row.get(name) is not None:
            qa[name] = row[name]
    qa.update(_json_object(row, QUESTION_EXTRA, index))
    return qa


def _with_extras(answers: list[dict[str, Any]], extras: list[Any] | None) -> list[dict[str, Any]]:
    out = [dict(a) for a in answers]
    for answer, extra in zip(out, extras or [], strict=False):
        if isinstance(extra, dict):
            answer.update(extra)
    return out
