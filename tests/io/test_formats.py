from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, InputError, OutputError, SchemaError
from curate.io import detect_format, infer_kind, read, read_bundle, write, write_bundle, write_table
from curate.schemas import get_schema


def put(path: Path, text: str) -> Path:
    """Write ``text`` byte for byte (no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def column(dataset: Dataset, name: str) -> list:
    return dataset.to_arrow().column(name).to_pylist()


# --------------------------------------------------------------------------- detect_format


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train.jsonl", "jsonl"),
        ("train.jsonl.gz", "jsonl"),
        ("train.ndjson", "jsonl"),
        ("TRAIN.JSONL", "jsonl"),
        ("train.csv", "csv"),
        ("train.csv.gz", "csv"),
        ("train.tsv", "tsv"),
        ("train.parquet", "parquet"),
        ("train.pq", "parquet"),
        ("train.txt", "tsv"),
        ("train.json", "squad"),
    ],
)
def test_detect_format_by_suffix(tmp_path: Path, name: str, expected: str) -> None:
    assert detect_format(tmp_path / name, writing=True) == expected


def test_detect_format_json_array_or_squad_by_content(tmp_path: Path) -> None:
    assert detect_format(put(tmp_path / "records.json", '\n  [{"id": "1", "text": "a"}]')) == "json"
    assert detect_format(put(tmp_path / "squad.json", '{"version": "1.1", "data": []}')) == "squad"
    assert detect_format(tmp_path / "absent.json") == "squad"


def test_detect_format_of_folders(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    put(beir / "corpus.jsonl", jsonl([{"_id": "d1", "text": "t"}]))
    assert detect_format(beir) == "beir"
    hf_single = tmp_path / "hf_single"
    put(hf_single / "state.json", "{}")
    assert detect_format(hf_single) == "hf"
    hf_dict = tmp_path / "hf_dict"
    put(hf_dict / "dataset_dict.json", '{"splits": []}')
    assert detect_format(hf_dict) == "hf"
    parquet = tmp_path / "parts"
    parquet.mkdir()
    pq.write_table(pa.table({"id": ["1"], "text": ["a"]}), parquet / "part-0.parquet")
    assert detect_format(parquet) == "parquet"


def test_detect_format_failures(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="cannot tell the format of a folder") as info:
        detect_format(empty)
    assert "BEIR (corpus.jsonl, qrels/), Parquet (*.parquet) or datasets" in str(info.value)
    with pytest.raises(InputError, match="cannot tell the format") as info:
        detect_format(put(tmp_path / "data.xml", "<x/>"))
    assert "squad, jsonl, json, csv, tsv, parquet, beir, hf" in str(info.value)
    with pytest.raises(InputError, match="file not found"):
        detect_format(tmp_path / "missing.xml")
    with pytest.raises(InputError, match="file not found") as info:
        read(tmp_path / "missing.jsonl")
    assert "missing.jsonl" in str(info.value)


def test_unknown_format_or_kind_option_is_a_config_error(tmp_path: Path) -> None:
    path = put(tmp_path / "a.jsonl", jsonl([{"id": "1", "text": "a"}]))
    with pytest.raises(ConfigError, match="unknown format") as info:
        read(path, format="xlsx")
    assert "xlsx" in str(info.value)
    with pytest.raises(ConfigError, match="unknown kind"):
        read(path, kind="squad")


# --------------------------------------------------------------------------- infer_kind


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["id", "title", "context", "question", "answers"], "mrc"),
        (["query", "positive", "negatives", "hard"], "triplets"),
        (["query_id", "doc_id", "score"], "qrels"),
        (["doc_id", "title", "text"], "corpus"),
        (["query_id", "text"], "queries"),
        (["id", "text", "label"], "classification"),
        (["text", "label"], "classification"),
        (["id", "text"], "document"),
        (["id", "document", "label"], None),
        ([], None),
    ],
)
def test_infer_kind(columns: list[str], kind: str | None) -> None:
    assert infer_kind(columns) == kind


def test_read_without_a_kind_it_can_infer(tmp_path: Path) -> None:
    path = put(tmp_path / "nsmc.tsv", "id\tdocument\tlabel\n1\t좋다\t1\n")
    with pytest.raises(SchemaError) as info:
        read(path)
    message = str(info.value)
    assert "cannot tell the dataset kind" in message
    assert "--kind" in message
    assert "--rename" in message


# --------------------------------------------------------------------------- JSON Lines, JSON


ROWS = [
    {"id": 1, "text": "영화가 정말 재밌다", "label": "1", "rating": 10},
    {"id": 2, "text": "지루했다", "label": "0", "rating": 2},
]


def test_jsonl_reads_and_conforms(tmp_path: Path) -> None:
    dataset = read(put(tmp_path / "train.jsonl", jsonl(ROWS) + "\n"))
    assert dataset.kind == "classification"
    assert dataset.metadata["kind"] == "classification"
    table = dataset.to_arrow()
    assert table.column_names == ["id", "text", "text_pair", "label", "rating"]
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column("text").to_pylist() == ["영화가 정말 재밌다", "지루했다"]
    assert table.column("rating").to_pylist() == [10, 2]


def test_jsonl_gz(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(jsonl(ROWS))
    dataset = read(path, kind="classification")
    assert column(dataset, "text") == ["영화가 정말 재밌다", "지루했다"]
    assert column(dataset, "label") == ["1", "0"]


def test_jsonl_ids_of_mixed_types_become_text(tmp_path: Path) -> None:
    path = put(tmp_path / "docs.jsonl", jsonl([{"id": 7, "text": "a"}, {"id": "x-8", "text": "b"}]))
    assert column(read(path), "id") == ["7", "x-8"]


def test_jsonl_date_like_text_stays_text(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "첫 글", "date": "2015-08-25", "meta": {"seen": "2015-08-25T10:00:00Z"}},
        {"id": "b", "text": "둘째 글", "date": "2016-01-02 03:04:05", "meta": {"seen": "2016-01-02"}},
    ]
    path = put(tmp_path / "docs.jsonl", jsonl(rows))
    dataset = read(path)
    assert column(dataset, "date") == ["2015-08-25", "2016-01-02 03:04:05"]
    assert column(dataset, "meta") == [{"seen": "2015-08-25T10:00:00Z"}, {"seen": "2016-01-02"}]
    out = write(dataset, tmp_path / "out.jsonl")
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == rows


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    text = jsonl(ROWS[:1]) + '{"id": 2, "text": "깨진 줄", "label": "0"\n' + jsonl(ROWS[1:])
    path = put(tmp_path / "train.jsonl", text)
    with pytest.raises(InputError) as info:
        read(path)
    message = str(info.value)
    assert "malformed JSON" in message
    assert f"{path}, line 2" in message
    assert "깨진 줄" in message


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = put(tmp_path / "train.jsonl", jsonl(ROWS) + "[1, 2]\n")
    with pytest.raises(InputError, match="expected a JSON object") as info:
        read(path)
    assert "line 3" in str(info.value)


def test_malformed_jsonl_skip_mode_quarantines_the_line(tmp_path: Path) -> None:
    text = jsonl(ROWS[:1]) + "{oops\n" + jsonl(ROWS[1:])
    path = put(tmp_path / "train.jsonl", text)
    quarantine = tmp_path / "q.jsonl"
    dataset = read(path, on_error="skip", quarantine=quarantine)
    assert column(dataset, "id") == ["1", "2"]
    assert dataset.metadata["quarantined_rows"] == "1"
    bad = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert len(bad) == 1
    assert bad[0]["location"] == "line 2"
    assert bad[0]["raw"] == "{oops"
    assert "malformed JSON" in bad[0]["reason"]


def test_skip_mode_quarantines_rows_of_the_wrong_type(tmp_path: Path) -> None:
    rows = [
        {"query_id": "q1", "doc_id": "d1", "score": 1},
        {"query_id": "q1", "doc_id": "d2", "score": "high"},
        {"query_id": "q2", "doc_id": "d3", "score": 0},
    ]
    quarantine = tmp_path / "q.jsonl"
    dataset = read(put(tmp_path / "qrels.jsonl", jsonl(rows)), on_error="skip", quarantine=quarantine)
    assert column(dataset, "doc_id") == ["d1", "d3"]
    assert column(dataset, "score") == [1, 0]
    (bad,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert bad["location"] == "line 2"
    assert "field 'score'" in bad["reason"] and "'high'" in bad["reason"]
    assert "line" not in bad["reason"] and "row" not in bad["reason"]  # the location names it, once
    assert json.loads(bad["raw"]) == rows[1]


@pytest.mark.parametrize("suffix", [".jsonl", ".tsv", ".csv"])
def test_non_utf8_file_is_a_clear_input_error(tmp_path: Path, suffix: str) -> None:
    if suffix == ".jsonl":
        text = '{"id": "1", "text": "한국어 리뷰", "label": "1"}\n'
    else:
        sep = "\t" if suffix == ".tsv" else ","
        text = f"id{sep}text{sep}label\n1{sep}한국어 리뷰{sep}1\n"
    path = tmp_path / f"cp949{suffix}"
    path.write_bytes(text.encode("cp949"))
    with pytest.raises(InputError) as info:
        read(path, kind="classification")
    message = str(info.value)
    assert "not UTF-8" in message
    assert str(path) in message


def test_json_array_of_records(tmp_path: Path) -> None:
    path = put(
        tmp_path / "queries.json", json.dumps([{"query_id": 1, "text": "서울 인구"}, {"query_id": 2, "text": "한강"}])
    )
    dataset = read(path)
    assert dataset.kind == "queries"
    assert column(dataset, "query_id") == ["1", "2"]
    assert column(dataset, "text") == ["서울 인구", "한강"]


def test_json_array_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="malformed JSON") as info:
        read(put(tmp_path / "broken.json", '[\n{"id": "1"},\n{"id": \n'), format="json")
    assert "broken.json" in str(info.value)
    with pytest.raises(InputError, match="expected a JSON array of objects"):
        read(put(tmp_path / "numbers.json", "[1, 2]"))


# --------------------------------------------------------------------------- CSV / TSV


def test_csv_with_quoted_commas_quotes_and_newlines(tmp_path: Path) -> None:
    text = 'id,text,label\r\n1,"좋다, 정말 좋다",1\r\n2,"첫 줄\n둘째 줄",0\r\n3,"그가 ""최고""라 했다",1\r\n'
    dataset = read(put(tmp_path / "train.csv", text), kind="classification")
    assert column(dataset, "id") == ["1", "2", "3"]
    assert column(dataset, "text") == ["좋다, 정말 좋다", "첫 줄\n둘째 줄", '그가 "최고"라 했다']
    assert column(dataset, "label") == ["1", "0", "1"]


def test_csv_header_bom_is_dropped(tmp_path: Path) -> None:
    dataset = read(put(tmp_path / "train.csv", "\ufeffid,text,label\n1,a,0\n"))
    assert dataset.kind == "classification"
    assert column(dataset, "id") == ["1"]


def test_tsv_without_quoting_keeps_stray_quote_and_bare_cr(tmp_path: Path) -> None:
    text = 'id\ttext\tlabel\n1\t"최고의 영화\t1\n2\t줄\r바꿈 "이상한" 리뷰\t0\n3\t끝 줄\t1\r\n'
    dataset = read(put(tmp_path / "train.tsv", text), kind="classification")
    assert len(dataset) == 3
    assert column(dataset, "text") == ['"최고의 영화', '줄\r바꿈 "이상한" 리뷰', "끝 줄"]
    assert column(dataset, "label") == ["1", "0", "1"]


def test_tsv_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    text = "id\ttext\tlabel\n1\t좋다\t1\n2\t탭이\t없는\t줄\t0\n3\t별로\t0\n"
    path = put(tmp_path / "train.tsv", text)
    with pytest.raises(InputError) as info:
        read(path, kind="classification")
    message = str(info.value)
    assert f"{path}, line 3" in message
    assert "expected 3 fields, found 5" in message


def test_tsv_wrong_field_count_skip_mode_quarantines_it(tmp_path: Path) -> None:
    text = "id\ttext\tlabel\n1\t좋다\t1\n2\t필드가 모자람\n3\t별로\t0\n"
    path = put(tmp_path / "train.tsv", text)
    quarantine = tmp_path / "out" / "bad.jsonl"
    dataset = read(path, kind="classification", on_error="skip", quarantine=quarantine)
    assert column(dataset, "id") == ["1", "3"]
    (bad,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert bad == {
        "file": str(path),
        "location": "line 3",
        "reason": "expected 3 fields, found 2",
        "raw": "2\t필드가 모자람",
    }


def test_csv_that_breaks_quoting_names_the_line(tmp_path: Path) -> None:
    path = put(tmp_path / "train.csv", 'id,text,label\n1,"ok",1\n2,"a"b,0\n')
    with pytest.raises(InputError, match="malformed CSV") as info:
        read(path, kind="classification")
    assert "line 3" in str(info.value)


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no header row"):
        read(put(tmp_path / "empty.tsv", ""), kind="document")


def test_empty_cells_are_empty_text_but_null_for_other_types(tmp_path: Path) -> None:
    text = (
        "id,title,context,question,answers,is_impossible\n"
        'q1,,서울은 수도,수도는?,"[{""text"": ""서울"", ""answer_start"": 0}]",\n'
        "q2,서울,서울은 수도,부산은?,[],true\n"
    )
    dataset = read(put(tmp_path / "mrc.csv", text))
    assert dataset.kind == "mrc"
    assert column(dataset, "title") == ["", "서울"]
    assert column(dataset, "is_impossible") == [None, True]
    assert column(dataset, "answers") == [[{"text": "서울", "answer_start": 0}], []]
    pairs = read(put(tmp_path / "pairs.tsv", "id\ttext\ttext_pair\tlabel\n1\t가\t\t0\n"))
    assert column(pairs, "text_pair") == [""]


def test_empty_cell_in_a_required_int_field_is_a_missing_value(tmp_path: Path) -> None:
    path = put(tmp_path / "qrels.tsv", "query_id\tdoc_id\tscore\nq1\td1\t1\nq1\td2\t\n")
    with pytest.raises(SchemaError) as info:
        read(path)
    message = str(info.value)
    assert "missing value" in message
    assert f"{path}, line 3, row 2, field 'score'" in message


def test_tsv_with_quote_option_reads_quoted_tabs(tmp_path: Path) -> None:
    path = put(tmp_path / "train.tsv", 'id\ttext\tlabel\n1\t"탭\t있음"\t1\n')
    assert column(read(path, kind="classification", quote='"'), "text") == ["탭\t있음"]


def test_csv_tsv_write_and_read_back(tmp_path: Path) -> None:
    rows = [
        {
            "id": "q1",
            "context": "서울, 수도",
            "question": '"따옴표"',
            "answers": [{"text": "서울", "answer_start": 0}],
            "is_impossible": None,
        },
        {"id": "q2", "context": "c", "question": "q", "answers": [], "is_impossible": True},
    ]
    dataset = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    for name in ("rows.csv", "rows.tsv"):
        back = read(write(dataset, tmp_path / name))
        assert back.kind == "mrc"
        assert column(back, "context") == ["서울, 수도", "c"]
        assert column(back, "question") == ['"따옴표"', "q"]
        assert column(back, "answers") == [[{"text": "서울", "answer_start": 0}], []]
        assert column(back, "is_impossible") == [None, True]


def test_tsv_write_refuses_values_with_line_breaks(tmp_path: Path) -> None:
    table = pa.table({"id": ["1", "2"], "text": ["한 줄", "두\n줄"]})
    with pytest.raises(InputError) as info:
        write(table, tmp_path / "docs.tsv", kind="document")
    assert "row 2, field 'text'" in str(info.value)
    assert not (tmp_path / "docs.tsv").exists()


# --------------------------------------------------------------------------- rename


def test_rename_maps_columns_before_conforming(tmp_path: Path) -> None:
    path = put(tmp_path / "nsmc.tsv", "id\tdocument\tlabel\n9976970\t아 더빙.. 진짜 짜증나네요\t0\n")
    dataset = read(path, kind="classification", rename={"document": "text"})
    assert dataset.to_arrow().column_names == ["id", "text", "text_pair", "label"]
    assert column(dataset, "text") == ["아 더빙.. 진짜 짜증나네요"]
    # the kind can be inferred after renaming
    assert read(path, rename={"document": "text"}).kind == "classification"


def test_rename_of_a_missing_source_column(tmp_path: Path) -> None:
    path = put(tmp_path / "nsmc.tsv", "id\tdocument\tlabel\n1\t좋다\t1\n")
    with pytest.raises(ConfigError) as info:
        read(path, kind="classification", rename={"review": "text"})
    message = str(info.value)
    assert "column to rename not found" in message
    assert "'review'" in message
    assert "id, document, label" in message
    assert str(path) in message


def test_missing_required_column_hints_rename(tmp_path: Path) -> None:
    path = put(tmp_path / "nsmc.tsv", "id\tdocument\tlabel\n1\t좋다\t1\n")
    with pytest.raises(SchemaError) as info:
        read(path, kind="classification")
    message = str(info.value)
    assert "missing required field 'text'" in message
    assert str(path) in message
    assert "--rename SOURCE=text" in message


# --------------------------------------------------------------------------- Parquet


def test_parquet_written_by_curate_reads_back_with_kind_types_and_extras(tmp_path: Path) -> None:
    rows = [
        {
            "id": "q1",
            "context": "서울은 수도",
            "question": "수도는?",
            "answers": [{"text": "서울", "answer_start": 0}],
            "is_impossible": False,
            "source_rank": 3,
            "tags": ["a", "b"],
        },
        {
            "id": "q2",
            "context": "c",
            "question": "q",
            "answers": [],
            "is_impossible": True,
            "source_rank": None,
            "tags": [],
        },
    ]
    dataset = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    path = write(dataset, tmp_path / "out" / "mrc.parquet")
    assert path == tmp_path / "out" / "mrc.parquet"
    assert [p.name for p in path.parent.iterdir()] == ["mrc.parquet"]  # no temporary file left
    assert json.loads(pq.read_schema(path).metadata[b"curate"])["kind"] == "mrc"

    back = read(path)  # kind from the file's metadata
    assert back.kind == "mrc"
    assert back.metadata["kind"] == "mrc"
    table = back.to_arrow()
    mrc = get_schema("mrc")
    assert table.column_names == [*mrc.names, "source_rank", "tags"]
    for field in mrc.fields:
        assert table.schema.field(field.name).type == field.type
    assert table.schema.field("source_rank").type == pa.int64()
    assert table.schema.field("tags").type.value_type == pa.string()
    assert table.to_pylist() == dataset.to_arrow().to_pylist()


def test_parquet_kind_argument_wins_over_columns(tmp_path: Path) -> None:
    # id + text + label would infer classification; the stored kind says document
    table = pa.table({"id": ["1"], "text": ["a"], "label": ["x"]})
    path = write(table, tmp_path / "docs.parquet", kind="document")
    back = read(path)
    assert back.kind == "document"
    assert back.to_arrow().column_names == ["id", "text", "label"]


def test_folder_of_parquet_files(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    write(pa.table({"id": ["1", "2"], "text": ["가", "나"]}), folder / "part-0.parquet", kind="document")
    write(pa.table({"id": ["3"], "text": ["다"]}), folder / "part-1.parquet", kind="document")
    dataset = read(folder)
    assert dataset.kind == "document"
    assert column(dataset, "id") == ["1", "2", "3"]


def test_parquet_dataset_streams_in_batches(tmp_path: Path) -> None:
    path = write(
        pa.table({"id": [str(i) for i in range(10)], "text": ["t"] * 10}), tmp_path / "d.parquet", kind="document"
    )
    dataset = Dataset.from_parquet(path, "document")
    assert len(dataset) == 10
    assert dataset.metadata["kind"] == "document"
    batches = list(dataset.batches(4))
    assert [b.num_rows for b in batches] == [4, 4, 2]
    assert pa.concat_tables(batches).column("id").to_pylist() == [str(i) for i in range(10)]


def test_write_polars_frame_and_rejects_other_objects(tmp_path: Path) -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame({"query_id": ["q1"], "text": ["서울"]})
    assert read(write(frame, tmp_path / "queries.jsonl")).kind == "queries"
    with pytest.raises(TypeError, match="got dict"):
        write({"id": ["1"]}, tmp_path / "x.jsonl")


# --------------------------------------------------------------------------- BEIR


def make_beir(folder: Path) -> Path:
    put(
        folder / "corpus.jsonl",
        jsonl(
            [
                {"_id": "d1", "title": "서울", "text": "서울은 대한민국의 수도이다."},
                {"_id": "d2", "title": "", "text": "한강은 서울을 가로지른다."},
                {"_id": "d3", "title": "부산", "text": "부산은 항구 도시이다.", "metadata": {"url": "x"}},
            ]
        ),
    )
    put(folder / "queries.jsonl", jsonl([{"_id": "q1", "text": "대한민국의 수도"}, {"_id": "q2", "text": "항구 도시"}]))
    put(folder / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\n")
    put(folder / "qrels" / "train.tsv", "query-id\tcorpus-id\tscore\nq1\td2\t0\n")
    return folder


def test_beir_folder_read_per_part(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "scifact")
    corpus = read(folder, kind="corpus")
    assert corpus.kind == "corpus"
    assert column(corpus, "doc_id") == ["d1", "d2", "d3"]
    assert column(corpus, "title") == ["서울", "", "부산"]
    queries = read(folder, kind="queries")
    assert column(queries, "query_id") == ["q1", "q2"]
    qrels = read(folder, kind="qrels")
    table = qrels.to_arrow()
    assert table.column_names == ["query_id", "doc_id", "score", "split"]
    assert table.to_pylist() == [
        {"query_id": "q1", "doc_id": "d1", "score": 1, "split": "test"},
        {"query_id": "q2", "doc_id": "d3", "score": 2, "split": "test"},
        {"query_id": "q1", "doc_id": "d2", "score": 0, "split": "train"},
    ]
    with pytest.raises(ConfigError, match="--kind"):
        read(folder)
    with pytest.raises(CurateError, match="corpus, queries"):
        read(folder, kind="mrc")


def test_beir_bundle_round_trip(tmp_path: Path) -> None:
    parts = read_bundle(make_beir(tmp_path / "in"))
    assert set(parts) == {"corpus", "queries", "qrels"}
    out = write_bundle(parts, tmp_path / "out", format="beir")
    corpus_lines = [json.loads(line) for line in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["_id"] for line in corpus_lines] == ["d1", "d2", "d3"]
    assert "doc_id" not in corpus_lines[0]
    assert (out / "qrels" / "train.tsv").read_text(encoding="utf-8") == "query-id\tcorpus-id\tscore\nq1\td2\t0\n"
    again = read_bundle(out)
    assert set(again) == set(parts)
    for part in parts:
        assert again[part].to_arrow().to_pylist() == parts[part].to_arrow().to_pylist()


def test_beir_qrels_of_many_batches_go_to_their_split_files_with_the_card_counting_them(tmp_path: Path) -> None:
    """Qrels are written batch by batch, one pass per split: splits interleaved across batches each
    get every one of their rows, in order; a row without a split goes to test.tsv."""
    from curate.io.card import export_entry

    rows = 70_000  # three batches
    splits = [("train", "dev", None, "")[i % 4] for i in range(rows)]
    qrels = Dataset.from_arrow(
        pa.table(
            {
                "query_id": [f"q{i}" for i in range(rows)],
                "doc_id": [f"d{i % 1000}" for i in range(rows)],
                "score": [i % 3 for i in range(rows)],
                "split": splits,
            }
        ),
        "qrels",
    )
    corpus = Dataset.from_arrow(pa.table({"doc_id": [f"d{i}" for i in range(1000)], "text": ["글"] * 1000}), "corpus")
    out = write_bundle({"corpus": corpus, "qrels": qrels}, tmp_path / "beir", format="beir")
    written = {p.stem: p.read_text(encoding="utf-8").splitlines() for p in (out / "qrels").glob("*.tsv")}
    assert sorted(written) == ["dev", "test", "train"]
    for split, lines in written.items():
        want = [i for i, s in enumerate(splits) if (s or "test") == split]
        assert lines[0] == "query-id\tcorpus-id\tscore"
        assert lines[1:] == [f"q{i}\td{i % 1000}\t{i % 3}" for i in want]
    entry = export_entry({"corpus": corpus, "qrels": qrels}, out, "beir", made_by="test")
    files = next(p for p in entry["parts"] if p["name"] == "qrels")["splits"]
    assert {f["name"]: f["num_examples"] for f in files} == {s: len(v) - 1 for s, v in written.items()}


def test_beir_bundle_with_integer_ids(tmp_path: Path) -> None:
    folder = tmp_path / "ints"
    put(folder / "corpus.jsonl", jsonl([{"_id": 10, "title": "t", "text": "a"}]))
    put(folder / "queries.jsonl", jsonl([{"_id": 5, "text": "q"}]))
    put(folder / "qrels" / "dev.tsv", "query-id\tcorpus-id\tscore\n5\t10\t1\n")
    parts = read_bundle(folder)
    assert column(parts["corpus"], "doc_id") == ["10"]
    assert column(parts["queries"], "query_id") == ["5"]
    assert parts["qrels"].to_arrow().to_pylist() == [{"query_id": "5", "doc_id": "10", "score": 1, "split": "dev"}]


def test_parquet_bundle_round_trip(tmp_path: Path) -> None:
    parts = read_bundle(make_beir(tmp_path / "in"))
    out = write_bundle(parts, tmp_path / "pq")
    assert sorted(p.name for p in out.iterdir()) == ["corpus.parquet", "qrels.parquet", "queries.parquet"]
    assert read(out, kind="queries").to_arrow().to_pylist() == parts["queries"].to_arrow().to_pylist()
    again = read_bundle(out)
    for part in parts:
        assert again[part].kind == part
        assert again[part].to_arrow().to_pylist() == parts[part].to_arrow().to_pylist()


def test_read_bundle_of_a_folder_without_parts(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    write(pa.table({"id": ["1"], "text": ["a"]}), folder / "docs.parquet", kind="document")
    with pytest.raises(InputError, match="no corpus, queries or qrels"):
        read_bundle(folder)


# --------------------------------------------------------------------------- Hugging Face datasets


def test_hf_save_to_disk_folders_with_class_labels(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "document": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
        }
    )
    train = datasets.Dataset.from_dict(
        {"id": ["1", "2", "3"], "document": ["재밌다", "지루하다", "최고"], "label": [1, 0, 1]}, features=features
    )
    test = datasets.Dataset.from_dict({"id": ["9"], "document": ["별로"], "label": [0]}, features=features)

    single = tmp_path / "single"
    train.save_to_disk(str(single))
    dataset = read(single, format="hf", rename={"document": "text"})
    assert dataset.kind == "classification"
    assert column(dataset, "label") == ["positive", "negative", "positive"]
    assert column(dataset, "text") == ["재밌다", "지루하다", "최고"]

    both = tmp_path / "dict"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(both))
    assert detect_format(both) == "hf"
    everything = read(both, format="hf", kind="classification", rename={"document": "text"})
    assert column(everything, "split") == ["train", "train", "train", "test"]
    assert column(everything, "label") == ["positive", "negative", "positive", "negative"]
    only_test = read(both, format="hf", kind="classification", split="test", rename={"document": "text"})
    assert column(only_test, "id") == ["9"]
    assert column(only_test, "label") == ["negative"]
    with pytest.raises(InputError, match="unknown split") as info:
        read(both, format="hf", split="validation")
    assert "train, test" in str(info.value)


# --------------------------------------------------------------------------- write_table


def report_table() -> pa.Table:
    return pa.table(
        {
            "stage": ["dedup", "length_filter"],
            "reason": ["exact, duplicate", "too\tshort"],
            "rows": [3, 1],
            "examples": [["가", "나"], []],
        }
    )


def test_write_table_csv_tsv_jsonl_parquet(tmp_path: Path) -> None:
    table = report_table()
    csv_path = write_table(table, tmp_path / "reports" / "counts.csv")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["stage", "reason", "rows", "examples"],
            ["dedup", "exact, duplicate", "3", '["가", "나"]'],
            ["length_filter", "too\tshort", "1", "[]"],
        ]
    tsv_path = write_table(table, tmp_path / "counts.tsv")
    with tsv_path.open(encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle, delimiter="\t"))[2] == ["length_filter", "too\tshort", "1", "[]"]
    jsonl_path = write_table(table, tmp_path / "counts.jsonl")
    assert [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()] == table.to_pylist()
    parquet_path = write_table(table, tmp_path / "counts.parquet")
    assert pq.read_table(parquet_path).equals(table)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_write_table_refuses_other_formats(tmp_path: Path) -> None:
    for name, suffix in (("counts.json", "'.json'"), ("counts.xlsx", "'.xlsx'"), ("counts", "'(no suffix)'")):
        with pytest.raises(ConfigError, match=f"unknown report format at .*{name}: got {re.escape(suffix)}"):
            write_table(report_table(), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_lone_beir_file_keeps_its_underscore_ids():
    from tests.conftest import REPO

    corpus = read(REPO / "sample_data" / "retrieval" / "corpus.jsonl", kind="corpus").to_arrow()
    assert corpus.column("doc_id")[0].as_py() == "d001" and "_id" not in corpus.column_names
    queries = read(REPO / "sample_data" / "retrieval" / "queries.jsonl", kind="queries").to_arrow()
    assert queries.column("query_id")[0].as_py() == "q001"


# --------------------------------------------------------------------------- hostile input


def test_a_field_mixing_text_with_floats_or_booleans_is_an_error_naming_the_line(tmp_path: Path) -> None:
    rows = [{"id": "1", "text": "a", "label": "pos"}, {"id": "2", "text": "b", "label": 1.5}]
    with pytest.raises(InputError) as info:
        read(put(tmp_path / "mixed.jsonl", jsonl(rows)), kind="classification")
    assert info.value.where.line == 2 and info.value.where.field == "label"
    assert "field holds number here but text on line 1" in str(info.value)
    quarantine = tmp_path / "q.jsonl"
    dataset = read(tmp_path / "mixed.jsonl", kind="classification", on_error="skip", quarantine=quarantine)
    assert column(dataset, "label") == ["pos"]
    (bad,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert bad["location"] == "line 2" and json.loads(bad["raw"]) == rows[1]


def test_booleans_are_not_read_as_text_labels(tmp_path: Path) -> None:
    path = put(tmp_path / "b.jsonl", jsonl([{"id": "1", "text": "a", "label": True}]))
    with pytest.raises(SchemaError, match="wrong type .* field 'label': got True"):
        read(path, kind="classification")


def test_a_repeated_csv_header_is_an_error_not_a_dropped_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="column name 'text' appears twice in the header") as info:
        read(put(tmp_path / "d.csv", "id,text,text,label\n1,가,나,pos\n"))
    assert info.value.where.line == 1


def test_a_repeated_key_in_a_json_line_is_an_error_not_a_dropped_value(tmp_path: Path) -> None:
    path = put(tmp_path / "d.jsonl", '{"id": "1", "text": "가"}\n{"id": "2", "text": "나", "text": "다"}\n')
    with pytest.raises(InputError, match="key 'text' appears twice in one object") as info:
        read(path, kind="document")
    assert info.value.where.line == 2


def test_an_empty_file_is_an_empty_dataset_of_the_kind_given(tmp_path: Path) -> None:
    for name in ("empty.jsonl", "blank.jsonl"):
        path = put(tmp_path / name, "" if name == "empty.jsonl" else "\n\n")
        dataset = read(path, kind="classification")
        assert len(dataset) == 0 and dataset.to_arrow().schema == get_schema("classification").empty_table().schema
        with pytest.raises(InputError, match="file has no rows, so its kind cannot be told"):
            read(path)
    empty = Dataset.from_arrow(get_schema("qrels").empty_table(), "qrels")
    for name in ("qrels.jsonl", "qrels.csv", "qrels.tsv", "qrels.parquet"):  # what curate writes, it reads
        assert len(read(write(empty, tmp_path / name), kind="qrels")) == 0


def test_lone_surrogates_are_an_error_or_set_aside(tmp_path: Path) -> None:
    path = put(
        tmp_path / "s.jsonl", '{"id": "1", "text": "a"}\n{"id": "2", "text": "\\ud800"}\n{"id": "3", "text": "c"}\n'
    )
    with pytest.raises(InputError, match="lone surrogate") as info:
        read(path, kind="document")
    assert info.value.where.line == 2
    quarantine = tmp_path / "q.jsonl"
    dataset = read(path, kind="document", on_error="skip", quarantine=quarantine)
    assert column(dataset, "id") == ["1", "3"]
    (bad,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert bad["location"] == "line 2" and bad["raw"] == '{"id": "2", "text": "\\ud800"}'


def test_each_quarantined_row_is_named_once_by_its_source_line(tmp_path: Path) -> None:
    text = "query_id\tdoc_id\tscore\nq1\td1\t1\n\nq1\td2\thigh\nq1\td3\t0\nq2\td4\tlow\n"
    quarantine = tmp_path / "q.jsonl"
    dataset = read(put(tmp_path / "qrels.tsv", text), on_error="skip", quarantine=quarantine)
    assert column(dataset, "doc_id") == ["d1", "d3"]
    bad = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert [b["location"] for b in bad] == ["line 4", "line 6"]
    assert [b["reason"] for b in bad] == [
        "wrong type at field 'score': got 'high' (hint: expected int32)",
        "wrong type at field 'score': got 'low' (hint: expected int32)",
    ]
    assert [b["raw"] for b in bad] == ["q1\td2\thigh", "q2\td4\tlow"]


def test_rename_onto_a_column_that_stays_is_an_error(tmp_path: Path) -> None:
    path = put(tmp_path / "d.jsonl", jsonl([{"id": "1", "text": "a", "document": "b", "label": "x"}]))
    with pytest.raises(ConfigError, match="--rename document=text: the file already has a column 'text'"):
        read(path, rename={"document": "text"})
    with pytest.raises(ConfigError, match="--rename document=body: 'text' is renamed to 'body' too"):
        read(path, rename={"document": "body", "text": "body"})
    swapped = read(path, kind="classification", rename={"document": "text", "text": "document"})
    assert column(swapped, "text") == ["b"] and column(swapped, "document") == ["a"]


def test_folders_where_files_belong_and_back(tmp_path: Path) -> None:
    folder = tmp_path / "train.jsonl"
    folder.mkdir()
    with pytest.raises(InputError, match="expected a file, found a folder"):
        read(folder)
    source = put(tmp_path / "d.jsonl", jsonl([{"id": "1", "text": "a"}]))
    with pytest.raises(OutputError, match="the destination is a folder"):
        write(read(source), folder)
    with pytest.raises(OutputError, match="the destination is a folder"):
        write(read(source), folder, format="jsonl")
    with pytest.raises(OutputError, match="a file is in the way"):
        write(read(source), source / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "train.jsonl"]
    assert list(folder.iterdir()) == []


def test_a_failed_write_leaves_nothing_behind_and_names_the_real_file(tmp_path: Path) -> None:
    table = pa.table({"id": ["1"], "text": ["탭\t있음"]})
    with pytest.raises(InputError) as info:
        write(table, tmp_path / "docs.tsv", kind="document")
    assert info.value.where.file == str(tmp_path / "docs.tsv")
    assert list(tmp_path.iterdir()) == []


def test_parquet_files_of_a_folder_must_agree(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["1"], "text": ["a"]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"id": ["2"], "text": ["b"], "extra": [1]}), folder / "part-1.parquet")
    with pytest.raises(InputError, match="different columns or types") as info:
        read(folder, kind="document")
    assert info.value.where.file == str(folder / "part-1.parquet")
    pq.write_table(pa.table({"text": ["b"], "id": [2]}), folder / "part-1.parquet")
    with pytest.raises(InputError, match="different columns or types"):
        read(folder, kind="document")


def test_corrupt_parquet_and_its_metadata_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read Parquet"):
        read(put(tmp_path / "bad.parquet", "PAR1 garbage"))
    schema = pa.schema([("id", pa.string()), ("text", pa.string())], metadata={b"curate": b"{oops"})
    pq.write_table(pa.table({"id": ["1"], "text": ["a"]}, schema=schema), tmp_path / "meta.parquet")
    with pytest.raises(SchemaError, match="curate metadata in the file is not a JSON object") as info:
        read(tmp_path / "meta.parquet")
    assert info.value.where.file == str(tmp_path / "meta.parquet")
    with pytest.raises(InputError, match="cannot read Parquet"):
        Dataset.from_parquet(tmp_path / "bad.parquet", "document")


@pytest.mark.parametrize("name", ["rows.csv", "rows.tsv.gz", "rows.csv.gz", "rows.jsonl.gz"])
def test_text_formats_keep_a_carriage_return_and_gz_names_are_compressed(tmp_path: Path, name: str) -> None:
    text = "줄\r바꿈" if "tsv" not in name else "한 줄"
    dataset = Dataset.from_arrow(pa.table({"id": ["1", "2"], "text": [text, "둘"]}), "document")
    path = write(dataset, tmp_path / name)
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes())
    assert column(read(path, kind="document"), "text") == [text, "둘"]


def test_a_long_csv_cell_is_read(tmp_path: Path) -> None:
    long = "가" * 300_000
    assert column(read(put(tmp_path / "d.csv", f"id,text\n1,{long}\n"), kind="document"), "text") == [long]


def test_a_bom_is_skipped_in_every_text_format(tmp_path: Path) -> None:
    for name, text in [
        ("d.jsonl", '\ufeff{"id": "1", "text": "a"}\n{"id": "2", "text": true}\n'),
        ("d.json", '\ufeff[{"id": "1", "text": "a"}]'),
        ("d.tsv", "\ufeffid\ttext\n1\ta\n"),
    ]:
        path = put(tmp_path / name, text)
        if name == "d.jsonl":  # the line reader (a mixed field sends it there) skips the mark too
            with pytest.raises(InputError, match="line 2"):
                read(path, kind="document")
        else:
            assert column(read(path, kind="document"), "id") == ["1"]


def test_a_failed_bundle_write_leaves_no_folder_behind(tmp_path: Path) -> None:
    parts = read_bundle(make_beir(tmp_path / "in"))
    table = parts["qrels"].to_arrow()
    split = table.column_names.index("split")
    parts["qrels"] = Dataset.from_arrow(table.set_column(split, "split", pa.array(["../up"] * table.num_rows)), "qrels")
    with pytest.raises(InputError, match="qrels split cannot be a file name"):
        write_bundle(parts, tmp_path / "out" / "beir", format="beir")
    assert not (tmp_path / "out" / "beir").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_a_column_parquet_cannot_hold_is_a_one_line_error(tmp_path: Path) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "1", "text": "a", "meta": {}}\n', encoding="utf-8")
    dataset = read(src)  # in memory an empty object is an empty struct
    with pytest.raises(OutputError) as refused:
        write(dataset, tmp_path / "docs.parquet")
    message = str(refused.value)
    assert message.startswith(f"Parquet cannot hold these rows at {tmp_path / 'docs.parquet'}: got ")
    assert "\n" not in message and not (tmp_path / "docs.parquet").exists()
