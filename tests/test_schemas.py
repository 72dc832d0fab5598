from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.errors import SchemaError
from curate.schemas import conform, conform_rows, describe, get_schema, kinds, parse_type, row_ids

ANSWERS = pa.list_(pa.struct([("text", pa.string()), ("answer_start", pa.int32())]))


# --------------------------------------------------------------------------- parse_type


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("string", pa.string()),
        ("bool", pa.bool_()),
        ("int32", pa.int32()),
        ("int64", pa.int64()),
        ("float32", pa.float32()),
        ("float64", pa.float64()),
    ],
)
def test_parse_type_scalars(spec: str, expected: pa.DataType) -> None:
    assert parse_type(spec) == expected


def test_parse_type_list_and_nested_struct() -> None:
    assert parse_type("list<string>") == pa.list_(pa.string())
    assert parse_type("list<list<int64>>") == pa.list_(pa.list_(pa.int64()))
    assert parse_type("list<struct<text: string, answer_start: int32>>") == ANSWERS
    nested = parse_type("struct<span: struct<start: int32, end: int32>, tags: list<string>, ok: bool>")
    assert nested == pa.struct(
        [
            ("span", pa.struct([("start", pa.int32()), ("end", pa.int32())])),
            ("tags", pa.list_(pa.string())),
            ("ok", pa.bool_()),
        ]
    )
    # spaces are not significant, field order is
    assert parse_type(" list < struct < text:string ,answer_start : int32 > > ") == ANSWERS
    assert parse_type("struct<answer_start: int32, text: string>") != ANSWERS.value_type


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "bad type ''"),
        ("<string>", "bad type '<string>'"),
        ("str", "unknown type 'str'"),
        ("String", "bad type 'String'"),
        ("list", "unknown type 'list'"),
        ("list<string", "missing '>' in type 'list<string'"),
        ("list<string>>", "unexpected '>' in type 'list<string>>'"),
        ("int32, int64", "unexpected ',int64'"),
        ("struct<text string>", "bad struct field in type 'struct<text string>'"),
        ("struct<>", "bad struct field"),
        ("struct<a: int32", "missing '>' in type 'struct<a: int32'"),
        ("list<varchar>", "unknown type 'varchar' in 'list<varchar>'"),
    ],
)
def test_parse_type_errors_quote_the_spec(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_type(spec)


def test_unknown_type_error_lists_the_known_types() -> None:
    with pytest.raises(ValueError, match=r"known: string, bool, int32, int64, float32, float64, list<T>, struct"):
        parse_type("decimal")


# --------------------------------------------------------------------------- kinds


def test_kinds_are_the_seven_schema_files_sorted() -> None:
    assert kinds() == ("classification", "corpus", "document", "mrc", "qrels", "queries", "triplets")


@pytest.mark.parametrize("kind", kinds())
def test_every_kind_loads_and_gives_an_arrow_schema(kind: str) -> None:
    schema = get_schema(kind)
    assert schema.kind == kind
    assert schema.description
    assert schema.required, "every kind has at least one required field"
    arrow = schema.arrow_schema()
    assert isinstance(arrow, pa.Schema)
    assert arrow.names == schema.names
    for field in schema.fields:
        assert arrow.field(field.name).type == field.type == parse_type(field.type_spec)
        assert arrow.field(field.name).nullable is not field.required
    if schema.key is not None:
        assert schema.key in schema.required
    assert set(schema.text_fields) <= set(schema.names)
    empty = schema.empty_table()
    assert empty.num_rows == 0
    assert empty.schema.names == schema.names
    assert [f.type for f in empty.schema] == [f.type for f in arrow]


def test_mrc_kind_shape() -> None:
    schema = get_schema("mrc")
    assert schema.key == "id"
    assert schema.required == ["id", "context", "question", "answers"]
    assert schema.field("answers").type == ANSWERS
    assert schema.field("plausible_answers").type == ANSWERS
    assert schema.field("is_impossible").type == pa.bool_()
    assert schema.field("nope") is None
    assert get_schema("triplets").field("negatives").type == pa.list_(pa.string())
    assert get_schema("qrels").field("score").type == pa.int32()


def test_unknown_kind_names_the_known_kinds() -> None:
    with pytest.raises(SchemaError) as info:
        get_schema("squad")
    message = str(info.value)
    assert "unknown dataset kind" in message
    assert "'squad'" in message
    assert "classification, corpus, document, mrc, qrels, queries, triplets" in message


# --------------------------------------------------------------------------- conform


def test_conform_casts_int_ids_to_string_ids() -> None:
    table = pa.table({"doc_id": [1, 22, 333], "text": ["가", "나", "다"]})
    out = conform(table, "corpus")
    assert out.schema.field("doc_id").type == pa.string()
    assert out.column("doc_id").to_pylist() == ["1", "22", "333"]
    qrels = conform(pa.table({"query_id": [7], "doc_id": [8], "score": ["2"]}), "qrels")
    assert qrels.column("query_id").to_pylist() == ["7"]
    assert qrels.column("score").type == pa.int32()
    assert qrels.column("score").to_pylist() == [2]


def test_conform_parses_json_text_cells_into_answers() -> None:
    table = pa.table(
        {
            "id": ["q1", "q2"],
            "context": ["서울은 수도이다.", "한강"],
            "question": ["수도는?", "강은?"],
            "answers": ['[{"text": "서울", "answer_start": 0}]', "[]"],
            "plausible_answers": ["", '[{"answer_start": 0, "text": "한강"}]'],
        }
    )
    out = conform(table, "mrc")
    assert out.schema.field("answers").type == ANSWERS
    assert out.column("answers").to_pylist() == [[{"text": "서울", "answer_start": 0}], []]
    assert out.column("plausible_answers").to_pylist() == [None, [{"text": "한강", "answer_start": 0}]]


def test_conform_casts_nested_answers_with_other_int_width_and_key_order() -> None:
    answers = pa.array(
        [[{"answer_start": 3, "text": "수도"}]],
        pa.list_(pa.struct([("answer_start", pa.int64()), ("text", pa.string())])),
    )
    table = pa.table({"id": ["q"], "context": ["서울은 수도"], "question": ["?"], "answers": answers})
    out = conform(table, "mrc")
    assert out.schema.field("answers").type == ANSWERS
    assert out.column("answers").to_pylist() == [[{"text": "수도", "answer_start": 3}]]


def test_conform_adds_absent_optional_columns_as_nulls() -> None:
    table = pa.table({"id": ["q1"], "context": ["c"], "question": ["q"], "answers": pa.array([[]], ANSWERS)})
    out = conform(table, "mrc")
    assert out.column_names == get_schema("mrc").names
    for name in ("title", "is_impossible", "plausible_answers", "document_id", "passage_id"):
        assert out.column(name).null_count == 1
        assert out.schema.field(name).type == get_schema("mrc").field(name).type


def test_conform_keeps_extra_columns_in_their_order_after_schema_columns() -> None:
    table = pa.table(
        {
            "zeta": [1, 2],
            "label": ["pos", "neg"],
            "text": ["좋다", "싫다"],
            "alpha": [["a"], []],
            "id": ["r1", "r2"],
            "mid": ["x", None],
        }
    )
    out = conform(table, "classification")
    assert out.column_names == ["id", "text", "text_pair", "label", "zeta", "alpha", "mid"]
    assert out.column("zeta").type == pa.int64()
    assert out.column("zeta").to_pylist() == [1, 2]
    assert out.column("alpha").to_pylist() == [["a"], []]
    assert out.column("mid").to_pylist() == ["x", None]
    assert out.column("text").to_pylist() == ["좋다", "싫다"]


def test_conform_of_a_conformed_table_changes_nothing() -> None:
    table = pa.table({"id": [1], "text": ["t"], "label": [0], "extra": [1.5]})
    once = conform(table, "classification")
    assert conform(once, "classification").equals(once)


def test_missing_required_column_names_column_file_and_rename_hint() -> None:
    table = pa.table({"id": ["1"], "document": ["재밌다"], "label": ["1"]})
    with pytest.raises(SchemaError) as info:
        conform(table, "classification", file="reviews.tsv")
    message = str(info.value)
    assert "missing required field 'text'" in message
    assert "'classification'" in message
    assert "reviews.tsv" in message
    assert "--rename SOURCE=text" in message
    assert "'document'" in message  # the columns that are there


def test_wrong_type_names_file_row_field_and_value() -> None:
    table = pa.table({"query_id": ["q1", "q2", "q3"], "doc_id": ["d1", "d2", "d3"], "score": ["1", "0", "high"]})
    with pytest.raises(SchemaError) as info:
        conform(table, "qrels", file="qrels/test.tsv")
    error = info.value
    assert error.where.row == 3
    assert error.where.field == "score"
    message = str(error)
    assert message.startswith("wrong type at qrels/test.tsv, row 3, field 'score': got 'high'")
    assert "int32" in message


def test_wrong_type_in_a_nested_value_names_its_row() -> None:
    table = pa.table(
        {
            "id": ["q1", "q2"],
            "context": ["c", "c"],
            "question": ["q", "q"],
            "answers": ['[{"text": "c", "answer_start": 0}]', '[{"text": "c", "answer_start": "zero"}]'],
        }
    )
    with pytest.raises(SchemaError) as info:
        conform(table, "mrc", file="train.csv")
    message = str(info.value)
    assert "wrong type at train.csv, row 2, field 'answers'" in message
    assert "zero" in message


def test_invalid_json_text_in_a_nested_cell_names_its_row() -> None:
    table = pa.table({"query": ["q", "q"], "positive": ["p", "p"], "negatives": ['["n1"]', "[n2"]})
    with pytest.raises(SchemaError) as info:
        conform(table, "triplets", file="triplets.csv")
    message = str(info.value)
    assert "value is not valid JSON at triplets.csv, row 2, field 'negatives': got '[n2'" in message


def test_null_in_a_required_field_names_its_row() -> None:
    table = pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"], "label": ["0", "1", None]})
    with pytest.raises(SchemaError) as info:
        conform(table, "classification", file="labels.csv")
    error = info.value
    assert error.where.row == 3
    assert "missing value in a required field at labels.csv, row 3, field 'label'" in str(error)


def test_empty_text_is_null_for_bool_and_int_but_stays_text_for_strings() -> None:
    mrc = pa.table(
        {
            "id": ["q1", "q2"],
            "context": ["c", "c"],
            "question": ["q", ""],
            "answers": ["[]", "[]"],
            "is_impossible": ["", "true"],
        }
    )
    out = conform(mrc, "mrc")
    assert out.column("is_impossible").to_pylist() == [None, True]
    assert out.column("question").to_pylist() == ["q", ""]
    # polars hands over large_string: an empty text is still a text
    large = pa.table({"id": ["1"], "text": pa.array([""], pa.large_string()), "label": ["0"]})
    assert conform(large, "classification").column("text").to_pylist() == [""]
    qrels = pa.table({"query_id": ["q"], "doc_id": ["d"], "score": pa.array([""], pa.large_string())})
    with pytest.raises(SchemaError, match=r"missing value in a required field at row 1, field 'score'"):
        conform(qrels, "qrels")


def test_null_in_an_optional_field_is_fine() -> None:
    table = pa.table({"id": ["a"], "text": ["x"], "text_pair": pa.array([None], pa.string()), "label": ["0"]})
    assert conform(table, "classification").column("text_pair").to_pylist() == [None]


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (pa.array([1.5, 2.0]), "1.5"),  # 1.0 would read as "1": a float has no one text form
        (pa.array([True, False]), "True"),  # and "true" / "True"
        (pa.array([[1], [2]]), "[1]"),
        (pa.array([b"x", b"y"]), "b'x'"),
    ],
)
def test_floats_booleans_and_nested_values_are_not_turned_into_text(values: pa.Array, shown: str) -> None:
    table = pa.table({"id": ["1", "2"], "text": ["a", "b"], "label": values})
    with pytest.raises(SchemaError) as info:
        conform(table, "classification", file="labels.jsonl")
    assert str(info.value).startswith(f"wrong type at labels.jsonl, row 1, field 'label': got {shown}")
    assert "expected string" in str(info.value)


def test_integers_become_their_digits_in_text_columns() -> None:
    table = pa.table({"id": pa.array([7, -2], pa.int64()), "text": ["a", "b"], "label": pa.array([0, 1], pa.int8())})
    out = conform(table, "classification")
    assert out.column("id").to_pylist() == ["7", "-2"] and out.column("label").to_pylist() == ["0", "1"]


def test_booleans_are_not_numbers_and_numbers_not_booleans() -> None:
    with pytest.raises(SchemaError, match="wrong type at row 1, field 'score': got True"):
        conform(pa.table({"query_id": ["q"], "doc_id": ["d"], "score": [True]}), "qrels")
    mrc = {"id": ["q"], "context": ["c"], "question": ["q"], "answers": [[]], "is_impossible": [1]}
    with pytest.raises(SchemaError, match="wrong type at row 1, field 'is_impossible': got 1"):
        conform(pa.table(mrc), "mrc")


def test_a_repeated_column_name_is_an_error_not_a_crash() -> None:
    table = pa.table([pa.array(["1"]), pa.array(["a"]), pa.array(["b"])], names=["id", "text", "text"])
    with pytest.raises(SchemaError, match="column 'text' appears twice"):
        conform(table, "document", file="docs.parquet")


def test_conform_rows_finds_every_bad_row_in_one_pass_with_its_line() -> None:
    table = pa.table(
        {
            "query_id": ["q1", "q1", "q2", "q3", "q4"],
            "doc_id": ["d1", None, "d3", "d4", "d5"],
            "score": ["1", "2", "x", "3", ""],
        }
    )
    kept, bad = conform_rows(table, "qrels", file="qrels.tsv", lines=[2, 3, 5, 6, 8])
    assert kept.column("query_id").to_pylist() == ["q1", "q3"]
    assert kept.column("score").to_pylist() == [1, 3]
    assert [b.row for b in bad] == [1, 2, 4]
    assert [str(b.error) for b in bad] == [
        "missing value in a required field at qrels.tsv, line 3, row 2, field 'doc_id': got None "
        "(hint: every row of kind 'qrels' needs 'doc_id')",
        "wrong type at qrels.tsv, line 5, row 3, field 'score': got 'x' (hint: expected int32)",
        "missing value in a required field at qrels.tsv, line 8, row 5, field 'score': got None "
        "(hint: every row of kind 'qrels' needs 'score')",
    ]
    with pytest.raises(SchemaError, match="line 3, row 2, field 'doc_id'"):
        conform(table, "qrels", file="qrels.tsv", lines=[2, 3, 5, 6, 8])


# --------------------------------------------------------------------------- describe


def test_describe_lists_kind_key_fields_and_extras() -> None:
    text = describe("mrc")
    lines = text.splitlines()
    assert lines[0] == "kind: mrc"
    assert lines[1].startswith("description: Extractive question answering")
    assert "\n" not in lines[1]
    assert "key: id" in lines
    answers = next(line for line in lines if line.strip().startswith("answers "))
    assert "list<struct<text: string, answer_start: int32>>" in answers
    assert "required" in answers
    assert "gold answers" in answers
    impossible = next(line for line in lines if line.strip().startswith("is_impossible "))
    assert "optional" in impossible
    assert lines[-1] == "extra columns: kept as they are"
    field_lines = lines[lines.index("fields:") + 1 : -1]
    assert [line.split()[0] for line in field_lines] == get_schema("mrc").names


def test_describe_without_key_and_unknown_kind() -> None:
    text = describe("qrels")
    assert "key:" not in text
    assert "score" in text
    with pytest.raises(SchemaError, match="unknown dataset kind"):
        describe("nope")


def test_row_ids_are_the_key_as_text_or_the_row_number_from_the_first_row(tmp_path):
    corpus = conform(pa.table({"doc_id": ["d1", "d2"], "title": ["", ""], "text": ["가", "나"]}), "corpus")
    assert row_ids(corpus, "corpus") == ["d1", "d2"]
    pq.write_table(corpus, tmp_path / "corpus.parquet")
    assert row_ids(Dataset(kind="corpus", paths=(tmp_path / "corpus.parquet",)), "corpus") == ["d1", "d2"]
    qrels = conform(pa.table({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": [1, 0]}), "qrels")
    assert row_ids(qrels, "qrels") == ["#0", "#1"]
    assert row_ids(qrels, "qrels", first_row=5) == ["#5", "#6"]
