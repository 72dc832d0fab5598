"""Properties of the readers and writers over generated data (hypothesis).

- Any SQuAD file (Korean, NFD, emoji and any other text; answers at random valid offsets;
  unanswerable questions with plausible answers; extra keys at every level; integer or text ids)
  survives SQuAD -> Parquet -> SQuAD unchanged.
- Any table of a kind written as JSON Lines, CSV, TSV or Parquet reads back with equal values, and
  the kind's columns with their schema types. What a format cannot tell apart is the documented
  exception: CSV/TSV hold text, so an extra column comes back as the text of its values and an
  empty text cell as ``""``; JSON Lines keep JSON types (JSON has no type for a value it never
  holds: an extra column of only empty lists comes back as lists of nulls).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.dataset import Dataset
from curate.errors import CurateError
from curate.io import read, write
from curate.schemas import get_schema

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

HANGUL = st.integers(0xAC00, 0xD7A3).map(chr)
EMOJI = st.sampled_from(["😀", "👍🏽", "🇰🇷", "👩‍👩‍👧", "❤️"])
ANY = st.characters(exclude_categories=("Cs",))  # every code point UTF-8 can hold
PIECES = st.one_of(HANGUL, HANGUL, EMOJI, ANY, st.sampled_from(" .,?\n\t\"'\\"))  # emoji: several code points


@st.composite
def texts(draw: Any, min_size: int = 0, max_size: int = 40) -> str:
    """Text of any script, sometimes decomposed (NFD) the way macOS file names and old corpora are."""
    text = "".join(draw(st.lists(PIECES, min_size=min_size, max_size=max_size)))
    return unicodedata.normalize("NFD", text) if draw(st.booleans()) else text


JSON_SCALARS = st.one_of(st.integers(-(2**40), 2**40), st.booleans(), texts(max_size=8), st.none())
EXTRA_VALUES = st.one_of(
    JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3), st.dictionaries(st.sampled_from("abc"), JSON_SCALARS, max_size=2)
)


@st.composite
def spans(draw: Any, context: str, max_count: int = 3) -> list[dict[str, Any]]:
    """Answers at random valid offsets: ``context[start:start + len(text)] == text``."""
    answers = []
    for _ in range(draw(st.integers(0, max_count))):
        start = draw(st.integers(0, len(context) - 1))
        end = draw(st.integers(start + 1, len(context)))
        answer: dict[str, Any] = {"text": context[start:end], "answer_start": start}
        if draw(st.integers(0, 4)) == 0:
            answer["annotator"] = draw(EXTRA_VALUES)
        answers.append(answer)
    return answers


@st.composite
def squad_files(draw: Any) -> dict[str, Any]:
    v2 = draw(st.booleans())
    int_ids = draw(st.booleans())
    counter = iter(range(10**6))
    data = []
    for _ in range(draw(st.integers(1, 3))):
        paragraphs = []
        for _ in range(draw(st.integers(1, 3))):
            context = draw(texts(min_size=1))
            qas = []
            for _ in range(draw(st.integers(1, 3))):
                n = next(counter)
                qa: dict[str, Any] = {"id": n * 7 - 3 if int_ids else f"{draw(texts(max_size=5))}-{n}"}
                qa["question"] = draw(texts())
                impossible = v2 and draw(st.booleans())
                if draw(st.integers(0, 9)) or not v2:  # a question may lack the answers key
                    qa["answers"] = [] if impossible else draw(spans(context))
                if v2:
                    qa["is_impossible"] = impossible
                    if impossible and draw(st.booleans()):
                        qa["plausible_answers"] = draw(spans(context))
                if draw(st.integers(0, 3)) == 0:
                    qa[draw(st.sampled_from(["question_type", "source", "번호"]))] = draw(EXTRA_VALUES)
                qas.append(qa)
            paragraph: dict[str, Any] = {"context": context, "qas": qas}
            if draw(st.integers(0, 4)) == 0:
                paragraph["paragraph_id"] = draw(EXTRA_VALUES)
            paragraphs.append(paragraph)
        article: dict[str, Any] = {"paragraphs": paragraphs}
        title = draw(st.one_of(texts(), st.none(), st.just("absent")))
        if title != "absent":
            article["title"] = title
        if draw(st.integers(0, 4)) == 0:
            article["source"] = draw(EXTRA_VALUES)
        data.append(article)
    top: dict[str, Any] = {"version": "v2.0" if v2 else "1.1"}
    if draw(st.booleans()):
        top["license"] = draw(texts())
    return {**top, "data": data}


@SETTINGS
@given(doc=squad_files())
def test_any_squad_file_survives_squad_parquet_squad(tmp_path: Path, doc: dict[str, Any]) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    first = read(source)
    assert len(first) == sum(len(p["qas"]) for a in doc["data"] for p in a["paragraphs"])
    second = read(write(first, tmp_path / "rows.parquet"))
    assert second.kind == "mrc"
    back = write(second, tmp_path / "back.json")
    assert json.loads(back.read_text(encoding="utf-8")) == doc
    for row in second.to_arrow().to_pylist():  # offsets are code points into the context, unchanged
        for answer in row["answers"]:
            start = answer["answer_start"]
            assert row["context"][start : start + len(answer["text"])] == answer["text"]


# --------------------------------------------------------------------------- tables


def column_values(kind: str, name: str, draw: Any, rows: int) -> list[Any]:
    field = get_schema(kind).field(name)
    assert field is not None
    dtype = field.type
    if pa.types.is_string(dtype):
        value = texts(min_size=1) if field.required else st.one_of(texts(), st.none())
    elif pa.types.is_boolean(dtype):
        value = st.one_of(st.booleans(), st.none())
    elif pa.types.is_int32(dtype):
        value = st.integers(-(2**31), 2**31 - 1)
    else:  # list<struct<text, answer_start>>
        value = st.lists(
            st.fixed_dictionaries({"text": texts(), "answer_start": st.integers(0, 2**31 - 1)}), max_size=3
        )
    return [draw(value) for _ in range(rows)]


EXTRA_COLUMNS = {
    "rating": (pa.int64(), st.one_of(st.integers(-(2**62), 2**62), st.none())),
    "confidence": (pa.float64(), st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none())),
    "seen": (pa.bool_(), st.one_of(st.booleans(), st.none())),
    "tags": (pa.list_(pa.string()), st.one_of(st.lists(texts(max_size=5), max_size=3), st.none())),
    "note": (pa.string(), st.one_of(texts(), st.none())),
}


@st.composite
def tables(draw: Any) -> tuple[str, pa.Table]:
    kind = draw(st.sampled_from(["classification", "mrc", "qrels", "corpus"]))
    rows = draw(st.integers(1, 6))
    schema = get_schema(kind)
    columns = {f.name: pa.array(column_values(kind, f.name, draw, rows), f.type) for f in schema.fields}
    if schema.key:  # unique ids
        columns[schema.key] = pa.array([f"{v}-{i}" for i, v in enumerate(columns[schema.key].to_pylist())])
    for name in draw(st.lists(st.sampled_from(sorted(EXTRA_COLUMNS)), unique=True, max_size=3)):
        dtype, value = EXTRA_COLUMNS[name]
        values = [draw(value) for _ in range(rows)]
        if all(v is None for v in values):
            values[0] = draw(value.filter(lambda v: v is not None))
        columns[name] = pa.array(values, dtype)
    return kind, pa.table(columns)


def as_text(value: Any) -> str:
    """What a CSV/TSV cell holds for ``value``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@SETTINGS
@given(case=tables(), fmt=st.sampled_from(["jsonl", "csv", "tsv", "parquet"]))
def test_any_table_reads_back_with_equal_values_and_kept_types(
    tmp_path: Path, case: tuple[str, pa.Table], fmt: str
) -> None:
    kind, table = case
    schema = get_schema(kind)
    dataset = Dataset.from_arrow(table, kind)
    if fmt == "tsv":  # TSV without quoting cannot store a tab or a line break: refused, never garbled
        cells = [as_text(v) for column in dataset.to_arrow().columns for v in column.to_pylist()]
        if any(c in cell for cell in cells for c in "\t\n\r"):
            return
    back = read(write(dataset, tmp_path / f"rows.{fmt}"), kind=kind).to_arrow()
    expected = dataset.to_arrow()
    assert back.column_names == expected.column_names
    for field in schema.fields:  # the kind's columns keep their schema types
        assert back.schema.field(field.name).type == field.type
    for name in expected.column_names:
        want, got = expected.column(name).to_pylist(), back.column(name).to_pylist()
        field = schema.field(name)
        if fmt in ("csv", "tsv"):
            if field is None:
                want = [as_text(v) for v in want]
            elif pa.types.is_string(field.type):
                want = ["" if v is None else v for v in want]
        assert got == want, name
        if fmt in ("jsonl", "parquet") and field is None:
            got_type = back.schema.field(name).type
            if not (fmt == "jsonl" and untyped(got_type)):
                assert got_type == expected.schema.field(name).type, name


def untyped(dtype: pa.DataType) -> bool:
    """The type JSON Lines give a column that never holds a value: null, or lists of it."""
    return pa.types.is_null(dtype) or (pa.types.is_list(dtype) and untyped(dtype.value_type))


# --------------------------------------------------------------------------- any bytes

TOKENS = st.sampled_from(
    ['{', '}', '[', ']', '"', ",", ":", "\n", "\r", "\t", " ", "\\", "\\ud800", "\\u0000", "null", "true", "1.5",
     "99999999999999999999", "NaN", '"id"', '"text"', '"label"', '"data"', '"qas"', '"context"', '"answers"',
     '"answer_start"', '"paragraphs"', "가", "\ufeff", "\x00", "😀", "id,text,label\n", "id\ttext\tlabel\n"]
)  # fmt: skip
VALID = {
    "jsonl": '{"id": "1", "text": "좋다", "label": "pos"}\n{"id": "2", "text": "별로", "label": "neg"}\n',
    "csv": "id,text,label\n1,좋다,pos\n2,\"별로, 정말\",neg\n",
    "tsv": "id\ttext\tlabel\n1\t좋다\tpos\n",
    "json": json.dumps(
        {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "서울", "qas": [
            {"id": "q", "question": "?", "answers": [{"text": "서울", "answer_start": 0}]}]}]}]},
        ensure_ascii=False,
    ),
}  # fmt: skip


@st.composite
def hostile_bytes(draw: Any, fmt: str) -> bytes:
    """Random bytes, random JSON/CSV-like tokens, or a valid file with a few bytes changed."""
    how = draw(st.sampled_from(["bytes", "tokens", "mutated"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "tokens":
        return "".join(draw(st.lists(TOKENS, max_size=40))).encode("utf-8", "surrogatepass")
    data = bytearray(VALID[fmt].encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        change = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.binary(min_size=1, max_size=3), TOKENS.map(str.encode)))
        if change == "insert":
            data[at:at] = piece
        elif change == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), fmt=st.sampled_from(sorted(VALID)), kind=st.sampled_from([None, "classification"]))
def test_any_bytes_give_a_dataset_or_a_curate_error(tmp_path: Path, data: Any, fmt: str, kind: str | None) -> None:
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data.draw(hostile_bytes(fmt)))
    for on_error in ("fail", "skip"):
        try:
            dataset = read(
                path, kind=None if fmt == "json" else kind, on_error=on_error, quarantine=tmp_path / "q.jsonl"
            )
        except CurateError as exc:
            assert exc.message  # a bad file is a one-line error (the CLI prints it), never a crash
            continue
        out = write(dataset, tmp_path / "out.parquet")  # whatever was read can be written
        assert len(read(out)) == len(dataset)


ANY_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
        st.text(max_size=5), st.sampled_from(["\ud800", "qas", "context", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["id", "question", "answers", "qas", "context", "text", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)  # fmt: skip


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a JSON value."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += places(child, (*path, index))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=squad_files(), data=st.data())
def test_any_value_anywhere_in_a_squad_file_is_read_or_named(tmp_path: Path, doc: dict[str, Any], data: Any) -> None:
    path = data.draw(st.sampled_from(places(doc)[1:]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(ANY_JSON)
    source = tmp_path / "in.json"
    source.write_text(json.dumps(doc), encoding="utf-8")  # ASCII escapes: a lone surrogate stays "\ud800"
    for on_error in ("fail", "skip"):
        try:
            dataset = read(source, on_error=on_error, quarantine=tmp_path / "q.jsonl")
        except CurateError as exc:
            assert exc.where.file == str(source)
            continue
        back = json.loads(write(dataset, tmp_path / "out.json").read_text(encoding="utf-8"))
        assert len(read(tmp_path / "out.json")) == len(dataset)
        if on_error == "fail":  # read without complaint: every question comes back
            assert sum(len(p["qas"]) for a in back["data"] for p in a["paragraphs"]) == len(dataset)
