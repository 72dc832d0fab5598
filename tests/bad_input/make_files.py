"""Write the hostile input files of the bad-input corpus (``cases.yaml`` says what each must give).

Run ``python tests/bad_input/make_files.py`` from the repository root after changing it; the output
is deterministic, and the files are committed so the corpus can be read and extended by hand.
Only the standard library and pyarrow are used.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
C = "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다."
NOTICE = "문의: help@example.com, 010-1234-5678. 서울 센터는 평일에 연다."


def write(rel: str, content: str | bytes) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def lines(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def cls(i: int, text: str = "좋은 영화", label: Any = "pos") -> dict[str, Any]:
    return {"id": str(i), "text": text, "label": label}


def squad(qas: Any = None, paragraph: Any = None, article: Any = None, **top: Any) -> str:
    """A one-article SQuAD file; ``qas``, ``paragraph`` or ``article`` replace the default part."""
    if qas is None:
        qas = [{"id": "q1", "question": "대한민국의 수도는?", "answers": [{"text": "서울", "answer_start": 0}]}]
    if paragraph is None:
        paragraph = {"context": C, "qas": qas}
    if article is None:
        article = {"title": "서울", "paragraphs": [paragraph]}
    return json.dumps({"version": "1.1", "data": [article], **top}, ensure_ascii=False)


def qa(**changes: Any) -> list[dict[str, Any]]:
    question = {"id": "q1", "question": "대한민국의 수도는?", "answers": [{"text": "서울", "answer_start": 0}]}
    question.update(changes)
    return [question]


def answer(**changes: Any) -> list[dict[str, Any]]:
    return qa(answers=[{"text": "서울", "answer_start": 0, **changes}])


def jsonl_files() -> None:
    write("jsonl/malformed_line.jsonl", lines(cls(1), '{"id": "2", "text": "닫히지 않은 줄", "label": "pos"', cls(3)))
    write("jsonl/truncated_last_line.jsonl", lines(cls(1)) + '{"id": "2", "te')
    write("jsonl/array_line.jsonl", lines(cls(1), "[1, 2, 3]"))
    write("jsonl/null_line.jsonl", lines(cls(1), "null"))
    write("jsonl/null_first_line.jsonl", lines("null", cls(1)))  # crashed Arrow's JSON reader
    write("jsonl/empty.jsonl", "")
    write("jsonl/blank_lines_only.jsonl", "\n  \n\t\n")
    write("jsonl/lone_surrogate.jsonl", lines(cls(1), '{"id": "2", "text": "반쪽 \\ud800 문자", "label": "pos"}'))
    write("jsonl/repeated_key.jsonl", lines(cls(1), '{"id": "2", "text": "첫째", "text": "둘째", "label": "pos"}'))
    write(
        "jsonl/empty_key.jsonl",
        lines({"": "1", "text": "좋다", "label": "pos"}, {"id": "2", "text": "별로", "label": "neg"}),
    )
    write(
        "jsonl/deep_nesting.jsonl",
        lines(cls(1), '{"id": "2", "text": "t", "label": "pos", "meta": ' + "[" * 3000 + "]" * 3000 + "}"),
    )
    write("jsonl/float_among_text_labels.jsonl", lines(cls(1), cls(2, label=1.5), cls(3)))
    write("jsonl/boolean_labels.jsonl", lines(cls(1, label=True), cls(2, label=False)))
    write("jsonl/float_labels.jsonl", lines(cls(1, label=1.0), cls(2, label=0.0)))
    write("jsonl/object_id.jsonl", lines({"id": {"n": 1}, "text": "t", "label": "pos"}))
    qrel = {"query_id": "q1", "doc_id": "d1", "score": 1}
    write("jsonl/qrels_huge_score.jsonl", lines(qrel, {**qrel, "doc_id": "d2", "score": 99999999999999999999}))
    write("jsonl/qrels_score_over_int32.jsonl", lines(qrel, {**qrel, "doc_id": "d2", "score": 3000000000}))
    write("jsonl/qrels_score_text.jsonl", lines(qrel, {**qrel, "doc_id": "d2", "score": "high"}))
    write("jsonl/qrels_score_nan.jsonl", lines(qrel, '{"query_id": "q1", "doc_id": "d2", "score": NaN}'))
    write("jsonl/qrels_score_fraction.jsonl", lines(qrel, {**qrel, "doc_id": "d2", "score": 0.5}))
    write("jsonl/qrels_score_boolean.jsonl", lines({**qrel, "score": True}))
    write("jsonl/null_required_text.jsonl", lines(cls(1), {"id": "2", "text": None, "label": "pos"}))
    write("jsonl/missing_required_column.jsonl", lines({"id": "1", "document": "좋다", "label": "pos"}))
    write("jsonl/cp949.jsonl", lines(cls(1, "한국어 리뷰")).encode("cp949"))
    write("jsonl/key_not_utf8.jsonl", b'{"\x80id": "1", "text": "a"}\n')
    write("jsonl/utf16.jsonl", lines(cls(1, "한국어 리뷰")).encode("utf-16"))
    write("jsonl/not_gzip.jsonl.gz", lines(cls(1)))
    write("jsonl/truncated.jsonl.gz", gzip.compress(lines(*(cls(i) for i in range(50))).encode(), mtime=0)[:60])
    write("jsonl/bom.jsonl", "\ufeff" + lines(cls(1), cls(2)))
    write("jsonl/crlf.jsonl", lines(cls(1), cls(2)).replace("\n", "\r\n"))
    write("jsonl/nfd_emoji.jsonl", lines(cls(1, unicodedata.normalize("NFD", "정말 재밌다 😀")), cls(2, "👍🏽 최고")))
    write(
        "jsonl/skip_mixed_problems.jsonl",
        lines(cls(1), "{broken", {"id": "3", "text": None, "label": "pos"}, cls(4, label=2.5), cls(5)),
    )
    write("jsonl/skip_every_line_bad.jsonl", lines("{oops", '{"id": "2", "text": }'))
    write("jsonl/skip_lone_surrogate.jsonl", lines(cls(1), '{"id": "2", "text": "\\udc80", "label": "pos"}', cls(3)))


def json_files() -> None:
    write("json/malformed.json", '[\n{"id": "1", "text": "a"},\n{"id": \n')
    write("json/numbers.json", "[1, 2, 3]")
    write("json/empty_array.json", "[]")
    write("json/repeated_key.json", '[{"id": "1", "text": "a", "text": "b"}]')
    write("json/lone_surrogate.json", '[{"id": "1", "text": "\\ud83d"}]')


def delimited_files() -> None:
    write("csv/unclosed_quote.csv", 'id,text,label\n1,"열린 따옴표,pos\n2,좋다,pos\n')
    write("csv/stray_quote.csv", 'id,text,label\n1,"좋다"요,pos\n')
    write("csv/too_many_fields.csv", "id,text,label\n1,좋다,pos\n2,쉼표,가 있다,neg\n")
    write("csv/too_few_fields.csv", "id,text,label\n1,좋다,pos\n2,모자람\n")
    write("csv/repeated_header.csv", "id,text,text,label\n1,가,나,pos\n")
    write("csv/unnamed_index_column.csv", ",id,text,label\n0,1,좋다,pos\n")
    write("csv/empty.csv", "")
    write("csv/blank_lines_only.csv", "\n\n\n")
    write("csv/latin1.csv", "id,text,label\n1,café crème,pos\n".encode("latin-1"))
    write("csv/qrels_empty_score.csv", "query_id,doc_id,score\nq1,d1,1\nq1,d2,\n")
    write(
        "csv/mrc_answers_not_json.csv",
        "id,context,question,answers\nq1,서울은 수도,수도는?,[{text: 서울}]\n",
    )
    write(
        "csv/mrc_answer_start_text.csv",
        'id,context,question,answers\nq1,서울은 수도,수도는?,"[{""text"": ""서울"", ""answer_start"": ""x""}]"\n',
    )
    write(
        "csv/mrc_is_impossible_maybe.csv",
        "id,context,question,answers,is_impossible\nq1,서울은 수도,수도는?,[],maybe\n",
    )
    write("csv/nul_in_header.csv", "id\x00,text,label\n1,좋다,pos\n")  # a Parquet reader cuts the name short
    write("csv/bom_header.csv", "\ufeffid,text,label\n1,좋다,pos\n")
    write("csv/nul_byte.csv", "id,text,label\n1,널\x00문자,pos\n")
    write("csv/long_cell.csv", "id,text,label\n1," + "a" * 140_000 + ",pos\n")
    write("csv/skip_ragged.csv", "id,text,label\n1,좋다,pos\n2,모자람\n3,별로,neg\n")
    write("csv/skip_wrong_score.csv", "query_id,doc_id,score\nq1,d1,1\nq1,d2,높음\nq1,d3,0\n")
    write("csv/empty_label.csv", "id,text,label\n1,좋다,pos\n2,별로,\n")
    write("tsv/ragged.tsv", "id\ttext\tlabel\n1\t좋다\tpos\n2\t탭이\t더\t있다\tneg\n")
    write("tsv/repeated_header.tsv", "id\ttext\tid\n1\t가\t2\n")
    write(
        "tsv/quoted_tabs.tsv",
        'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t10\t11\t"A quoted \t tab"\tplain\n',
    )
    write("tsv/qrels_fraction_score.tsv", "query_id\tdoc_id\tscore\nq1\td1\t1.5\n")
    write("tsv/header_only_blank_name.tsv", "id\t\tlabel\n")


def parquet(rel: str, table: pa.Table, **kwargs: Any) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)


def parquet_files() -> None:
    write("parquet/garbage.parquet", b"PAR1 this is not a parquet file PAR1")
    write("parquet/empty.parquet", b"")
    good = pa.table({"id": [str(i) for i in range(200)], "text": ["좋은 영화"] * 200, "label": ["pos"] * 200})
    sink = pa.BufferOutputStream()
    pq.write_table(good, sink)
    write("parquet/truncated.parquet", sink.getvalue().to_pybytes()[:300])
    parquet(
        "parquet/repeated_column.parquet",
        pa.table([pa.array(["1"]), pa.array(["a"]), pa.array(["b"])], names=["id", "text", "text"]),
    )
    parquet(
        "parquet/qrels_score_text.parquet",
        pa.table({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": ["1", "high"]}),
    )
    parquet("parquet/float_label.parquet", pa.table({"id": ["1"], "text": ["a"], "label": [1.5]}))
    parquet("parquet/bool_label.parquet", pa.table({"id": ["1"], "text": ["a"], "label": [True]}))
    parquet("parquet/mixed_folder/part-0.parquet", pa.table({"id": ["1"], "text": ["a"]}))
    parquet("parquet/mixed_folder/part-1.parquet", pa.table({"id": ["2"], "text": ["b"], "extra": [1]}))
    schema = pa.schema([("id", pa.string()), ("text", pa.string())], metadata={b"curate": b"{not json"})
    parquet("parquet/broken_metadata.parquet", pa.table({"id": ["1"], "text": ["a"]}, schema=schema))
    schema = pa.schema([("id", pa.string()), ("text", pa.string())], metadata={b"curate": b'{"kind": "tweets"}'})
    parquet("parquet/unknown_kind_metadata.parquet", pa.table({"id": ["1"], "text": ["a"]}, schema=schema))
    parquet(
        "parquet/answers_of_integers.parquet",
        pa.table({"id": ["q1"], "context": ["서울"], "question": ["?"], "answers": [[0, 2]]}),
    )
    parquet(
        "parquet/squad_extra_not_json.parquet",
        pa.table(
            {
                "id": ["q1"],
                "context": ["서울"],
                "question": ["?"],
                "answers": [[{"text": "서울", "answer_start": 0}]],
                "squad_paragraph_extra": ["{oops"],
            }
        ),
    )
    parquet(
        "parquet/int_column_into_text.parquet",
        pa.table({"id": [1, 2], "text": ["a", "b"], "label": [0, 1]}),
    )


def squad_files() -> None:
    write("squad/top_level_list.squad", json.dumps([{"title": "t"}]))
    write("squad/no_data.json", json.dumps({"version": "1.1", "articles": []}))
    write("squad/data_empty.json", json.dumps({"version": "1.1", "data": []}))
    write("squad/data_object.json", json.dumps({"version": "1.1", "data": {"title": "t"}}))
    write("squad/article_not_object.json", json.dumps({"version": "1.1", "data": ["제목만"]}, ensure_ascii=False))
    write("squad/questions_in_article.json", squad(article={"title": "서울", "qas": qa()}))
    write(
        "squad/questions_beside_paragraphs.json",
        squad(article={"title": "서울", "paragraphs": [{"context": C, "qas": qa()}], "qas": qa(id="q2")}),
    )
    write("squad/article_no_paragraphs.json", squad(article={"title": "서울", "paragraphs": []}))
    write("squad/paragraphs_null.json", squad(article={"title": "서울", "paragraphs": None}))
    write("squad/paragraph_no_questions.json", squad(paragraph={"context": NOTICE, "qas": []}))
    write("squad/qa_misspelt.json", squad(paragraph={"context": C, "qa": qa()}))
    write("squad/qas_null.json", squad(paragraph={"context": C, "qas": None}))
    write("squad/qas_object.json", squad(paragraph={"context": C, "qas": qa()[0]}))
    write("squad/context_integer.json", squad(paragraph={"context": 42, "qas": qa()}))
    write("squad/context_missing.json", squad(paragraph={"text": C, "qas": qa()}))
    write("squad/question_missing.json", squad(qas=[{"id": "q1", "answers": []}]))
    write("squad/question_not_object.json", squad(qas=["대한민국의 수도는?"]))
    write("squad/id_null.json", squad(qas=qa(id=None) + qa(id=None, question="둘째?")))
    write("squad/id_float.json", squad(qas=qa(id=1.5)))
    write("squad/ids_mixed.json", squad(qas=qa(id=123) + qa(id="q2", question="둘째?")))
    write("squad/answer_start_huge.json", squad(qas=answer(answer_start=10**20)))
    write("squad/answer_start_over_int32.json", squad(qas=answer(answer_start=2**31)))
    write("squad/answer_start_text.json", squad(qas=answer(answer_start="0")))
    write("squad/answer_start_float.json", squad(qas=answer(answer_start=0.0)))
    write("squad/answer_start_boolean.json", squad(qas=answer(answer_start=False)))
    write("squad/answer_text_integer.json", squad(qas=answer(text=940)))
    write("squad/answer_without_text.json", squad(qas=qa(answers=[{"answer_start": 0}])))
    write("squad/answers_null.json", squad(qas=qa(answers=None)))
    write("squad/is_impossible_text.json", squad(qas=qa(is_impossible="false")))
    write("squad/plausible_answers_object.json", squad(qas=qa(plausible_answers={"text": "서울"})))
    write("squad/question_key_clash.json", squad(qas=qa(context="다른 문단")))
    write("squad/title_integer.json", squad(article={"title": 7, "paragraphs": [{"context": C, "qas": qa()}]}))
    write("squad/lone_surrogate_context.json", squad().replace("서울은 대한민국", "\\udc00서울은 대한민국"))
    write("squad/lone_surrogate_key.json", squad().replace('"id": "q1"', '"id": "q1", "n\\udfffote": 1'))
    write("squad/deep_nesting.json", '{"version": "1.1", "data": ' + "[" * 5000 + "]" * 5000 + "}")
    write("squad/extra_deep_nesting.json", squad(qas=qa(meta=json.loads("[" * 150 + "]" * 150))))
    write("squad/truncated.json", squad()[:-20])
    write("squad/cp949.json", squad().encode("cp949"))
    write("squad/not_gzip.json.gz", squad())
    write("squad/bom.json", "\ufeff" + squad())
    nfd = unicodedata.normalize("NFD", C)
    write(
        "squad/nfd_korean.json",
        squad(
            paragraph={
                "context": nfd,
                "qas": qa(answers=[{"text": unicodedata.normalize("NFD", "서울"), "answer_start": 0}]),
            }
        ),
    )
    skip = {
        "version": "v2.0",
        "data": [
            {
                "title": "서울",
                "paragraphs": [
                    {"context": C, "qas": qa() + qa(id="q2", answers=[{"text": "서울", "answer_start": "0"}])},
                    {"context": NOTICE, "qas": []},
                ],
            },
            {"title": "빈 글", "paragraphs": []},
        ],
    }
    write("squad/skip_parts.json", json.dumps(skip, ensure_ascii=False))


def folder_files() -> None:
    write("paths/folder.jsonl/README", "a folder named like a JSON Lines file\n")
    write("paths/plain_folder/README", "a folder with nothing curate can read\n")
    write("paths/classification.jsonl", lines(cls(1), cls(2)))
    write("paths/tab_in_text.jsonl", lines(cls(1, "탭\t있음")))
    write("beir/bad_score/corpus.jsonl", lines({"_id": "d1", "title": "t", "text": "본문"}))
    write("beir/bad_score/queries.jsonl", lines({"_id": "q1", "text": "질문"}))
    write("beir/bad_score/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\thigh\n")
    write("beir/corpus_folder/corpus.jsonl/README", "corpus.jsonl is a folder here\n")
    write("hf/broken_state/state.json", "{not json")
    write("hf/missing_arrow/state.json", json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    write("hf/bad_dict/dataset_dict.json", json.dumps({"splits": "train"}))
    write("hf/not_arrow/state.json", json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    write("hf/not_arrow/data-00000-of-00001.arrow", b"ARROW1 this is not an Arrow stream")
    hf_folder(
        "hf/label_out_of_range",
        pa.table({"text": ["좋다", "싫다"], "label": pa.array([1, 5], pa.int64())}),
        {"text": {"dtype": "string", "_type": "Value"}, "label": {"names": ["neg", "pos"], "_type": "ClassLabel"}},
    )
    hub = {"id": "q1", "title": "서울", "context": C, "question": "대한민국의 수도는?"}
    write(
        "jsonl/hub_answer_lists_differ.jsonl",
        lines(
            {**hub, "answers": {"text": ["서울"], "answer_start": [0]}},
            {**hub, "id": "q2", "answers": {"text": ["서울", "대한민국"], "answer_start": [0]}},
            {**hub, "id": "q3", "answers": {"text": [], "answer_start": []}},
        ),
    )


def hf_folder(rel: str, table: pa.Table, features: dict[str, Any]) -> None:
    """A save_to_disk folder as ``datasets`` lays it out: state.json, dataset_info.json, one Arrow stream."""
    write(f"{rel}/state.json", json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    write(f"{rel}/dataset_info.json", json.dumps({"features": features}, ensure_ascii=False))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    write(f"{rel}/data-00000-of-00001.arrow", sink.getvalue().to_pybytes())


if __name__ == "__main__":
    jsonl_files()
    json_files()
    delimited_files()
    parquet_files()
    squad_files()
    folder_files()
