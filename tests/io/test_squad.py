from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.errors import CurateError, InputError, SchemaError
from curate.io import detect_format, read, write


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def span(context: str, text: str, nth: int = 0) -> dict[str, Any]:
    start = -1
    for _ in range(nth + 1):
        start = context.index(text, start + 1)
    return {"text": text, "answer_start": start}


def save(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def round_trip(tmp_path: Path, doc: dict[str, Any]) -> tuple[Dataset, Dataset, Any]:
    """SQuAD JSON -> Dataset -> Parquet -> Dataset -> SQuAD JSON; returns both datasets and the parsed output."""
    source = save(tmp_path / "train.json", doc)
    first = read(source)
    parquet = write(first, tmp_path / "rows.parquet")
    second = read(parquet)
    out = write(second, tmp_path / "back.json")
    return first, second, json.loads(out.read_text(encoding="utf-8"))


C1 = "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다."
C2 = "한강은 서울을 가로지른다. 한강의 길이는 약 494 km이다."
C3 = "부산은 대한민국 제2의 도시이다."

V11 = {
    "version": "1.1",
    "data": [
        {
            "title": "서울",
            "paragraphs": [
                {
                    "context": C1,
                    "qas": [
                        {"id": "1", "question": "대한민국의 수도는?", "answers": [span(C1, "서울")]},
                        {"id": "2", "question": "서울의 인구는?", "answers": [span(C1, "약 940만 명")]},
                    ],
                },
                {
                    "context": C2,
                    "qas": [{"id": "3", "question": "서울을 가로지르는 강은?", "answers": [span(C2, "한강")]}],
                },
            ],
        },
        {
            "title": "부산",
            "paragraphs": [
                {"context": C3, "qas": [{"id": "4", "question": "제2의 도시는?", "answers": [span(C3, "부산")]}]}
            ],
        },
    ],
}


def test_v11_round_trip_is_lossless(tmp_path: Path) -> None:
    first, second, back = round_trip(tmp_path, V11)
    assert back == V11
    assert back["version"] == "1.1"
    for article in back["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                assert "is_impossible" not in qa
                assert "plausible_answers" not in qa
    assert first.kind == second.kind == "mrc"
    assert second.metadata["kind"] == "mrc"
    assert len(first) == len(second) == 4
    assert second.to_arrow().equals(first.to_arrow())


def test_flat_rows_one_question_per_row(tmp_path: Path) -> None:
    dataset = read(save(tmp_path / "korquad.json", V11))
    rows = dataset.to_arrow().to_pylist()
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[2]["title"] == "서울"
    assert rows[2]["context"] == C2
    assert rows[2]["question"] == "서울을 가로지르는 강은?"
    assert rows[2]["answers"] == [{"text": "한강", "answer_start": 0}]
    assert rows[2]["is_impossible"] is None
    assert rows[2]["plausible_answers"] is None
    assert [r["document_id"] for r in rows] == ["korquad/0", "korquad/0", "korquad/0", "korquad/1"]
    assert [r["passage_id"] for r in rows] == ["korquad/0/0", "korquad/0/0", "korquad/0/1", "korquad/1/0"]


def test_v20_unanswerable_and_plausible_answers_round_trip(tmp_path: Path) -> None:
    doc = {
        "version": "v2.0",
        "data": [
            {
                "title": "Seoul",
                "paragraphs": [
                    {
                        "context": C1,
                        "qas": [
                            {
                                "id": "a1",
                                "question": "대한민국의 수도는?",
                                "answers": [span(C1, "서울")],
                                "is_impossible": False,
                            },
                            {
                                "plausible_answers": [span(C1, "서울", 1)],
                                "question": "일본의 수도는?",
                                "id": "a2",
                                "answers": [],
                                "is_impossible": True,
                            },
                            {"id": "a3", "question": "부산의 인구는?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }
    first, _, back = round_trip(tmp_path, doc)
    assert back == doc
    rows = first.to_arrow().to_pylist()
    assert [r["is_impossible"] for r in rows] == [False, True, True]
    assert rows[1]["answers"] == []
    assert rows[1]["plausible_answers"] == [{"text": "서울", "answer_start": C1.index("서울", 1)}]
    assert rows[2]["plausible_answers"] is None


def test_several_answers_per_question_keep_their_order(tmp_path: Path) -> None:
    answers = [span(C1, "약 940만 명"), span(C1, "940만 명"), span(C1, "940만"), span(C1, "940만")]
    doc = {
        "version": "KorQuAD_v1.0_dev",
        "data": [
            {
                "title": "서울",
                "paragraphs": [{"context": C1, "qas": [{"id": "m", "question": "인구?", "answers": answers}]}],
            }
        ],
    }
    first, _, back = round_trip(tmp_path, doc)
    assert back == doc
    assert first.to_arrow().column("answers").to_pylist() == [answers]


def test_paragraphs_with_the_same_context_keep_order_and_split(tmp_path: Path) -> None:
    doc = {
        "version": "1.1",
        "data": [
            {
                "title": "중복",
                "paragraphs": [
                    {"context": C1, "qas": [{"id": "p0", "question": "수도?", "answers": [span(C1, "서울")]}]},
                    {"context": C2, "qas": [{"id": "p1", "question": "강?", "answers": [span(C2, "한강")]}]},
                    {
                        "context": C1,
                        "qas": [
                            {"id": "p2a", "question": "인구?", "answers": [span(C1, "약 940만 명")]},
                            {"id": "p2b", "question": "나라?", "answers": [span(C1, "대한민국")]},
                        ],
                    },
                    {
                        "context": C1,
                        "qas": [{"id": "p3", "question": "두 번째 서울?", "answers": [span(C1, "서울", 1)]}],
                    },
                ],
            },
            # a second article with the same title and context is still its own article
            {
                "title": "중복",
                "paragraphs": [
                    {"context": C1, "qas": [{"id": "x", "question": "수도?", "answers": [span(C1, "서울")]}]}
                ],
            },
        ],
    }
    first, _, back = round_trip(tmp_path, doc)
    assert back == doc
    passages = first.to_arrow().column("passage_id").to_pylist()
    assert len(set(passages)) == 5


def test_extra_keys_at_every_level_round_trip(tmp_path: Path) -> None:
    doc = {
        "version": "1.1",
        "license": "CC BY-ND 2.0 KR",
        "data": [
            {
                "title": "서울",
                "source": {"site": "ko.wikipedia.org", "revision": 31},
                "paragraphs": [
                    {
                        "context": C1,
                        "paragraph_id": "P-7",
                        "qas": [
                            {
                                "id": "e1",
                                "question": "대한민국의 수도는?",
                                "question_type": "what",
                                "answers": [
                                    {**span(C1, "서울"), "annotator": "A", "votes": [1, 2]},
                                    span(C1, "서울", 1),
                                ],
                            },
                            {"id": "e2", "question": "인구는?", "answers": [span(C1, "약 940만 명")]},
                        ],
                    },
                    {"context": C2, "qas": [{"id": "e3", "question": "강?", "question_type": "which", "answers": []}]},
                ],
            },
            {"title": "부산", "paragraphs": [{"context": C3, "qas": [{"id": "e4", "question": "?", "answers": []}]}]},
        ],
    }
    _, second, back = round_trip(tmp_path, doc)
    assert back == doc
    # the unknown question key is a column of its own, after the schema columns
    table = second.to_arrow()
    assert table.column("question_type").to_pylist() == ["what", None, "which", None]
    assert table.column_names.index("question_type") > table.column_names.index("passage_id")


def test_question_without_answers_key_comes_back_without_it(tmp_path: Path) -> None:
    doc = {
        "version": "1.1",
        "data": [{"title": "t", "paragraphs": [{"context": C3, "qas": [{"id": "n", "question": "?"}]}]}],
    }
    first, _, back = round_trip(tmp_path, doc)
    assert back == doc
    assert first.to_arrow().column("answers").to_pylist() == [[]]


def test_nfd_korean_is_not_normalized_by_io(tmp_path: Path) -> None:
    context = nfd(C1)
    answer = nfd("서울")
    doc = {
        "version": "1.1",
        "data": [
            {
                "title": nfd("서울"),
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [{"id": "d", "question": nfd("수도는?"), "answers": [span(context, answer)]}],
                    }
                ],
            }
        ],
    }
    assert context != C1
    _, second, back = round_trip(tmp_path, doc)
    assert back == doc
    assert back["data"][0]["paragraphs"][0]["context"] == context
    assert back["data"][0]["paragraphs"][0]["context"] != unicodedata.normalize("NFC", context)
    row = second.to_arrow().to_pylist()[0]
    assert row["context"] == context
    start = row["answers"][0]["answer_start"]
    assert row["context"][start : start + len(answer)] == answer
    # written as real characters, not \u escapes
    assert context in (tmp_path / "back.json").read_text(encoding="utf-8")


def test_round_trip_through_parquet_stores_metadata(tmp_path: Path) -> None:
    first, _, _ = round_trip(tmp_path, V11)
    metadata = json.loads(pq.read_schema(tmp_path / "rows.parquet").metadata[b"curate"])
    assert metadata["kind"] == "mrc"
    assert json.loads(metadata["squad_top"]) == {"version": "1.1"}
    assert first.metadata["source_format"] == "squad"


def test_json_suffix_is_detected_as_squad(tmp_path: Path) -> None:
    path = save(tmp_path / "dev.json", V11)
    assert detect_format(path) == "squad"


# --------------------------------------------------------------------------- errors


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": "1.1",\n "data": [\n  {"title": "t" "paragraphs": []}\n ]\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read(path)
    message = str(info.value)
    assert "malformed JSON" in message
    assert str(path) in message
    assert "line 3" in message
    assert info.value.where.line == 3


def test_squad_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "euckr.json"
    path.write_bytes('{"version": "1.1", "data": [{"title": "서울"}]}'.encode("euc-kr"))
    with pytest.raises(InputError, match="not UTF-8") as info:
        read(path, format="squad")
    assert str(path) in str(info.value)


def test_json_without_data_list_is_not_squad(tmp_path: Path) -> None:
    path = save(tmp_path / "other.json", {"version": "1.1", "articles": []})
    with pytest.raises(InputError, match="no top-level 'data' list"):
        read(path)


def missing_question_doc() -> dict[str, Any]:
    return {
        "version": "1.1",
        "data": [
            {
                "title": "서울",
                "paragraphs": [
                    {
                        "context": C1,
                        "qas": [
                            {"id": "ok1", "question": "수도?", "answers": [span(C1, "서울")]},
                            {"id": "bad", "answers": [span(C1, "서울")]},
                            {"id": "ok2", "question": "인구?", "answers": [span(C1, "약 940만 명")]},
                        ],
                    }
                ],
            }
        ],
    }


def test_question_without_question_names_json_path_and_field(tmp_path: Path) -> None:
    path = save(tmp_path / "train.json", missing_question_doc())
    with pytest.raises(CurateError) as info:
        read(path)
    message = str(info.value)
    assert str(path) in message
    assert "data[0].paragraphs[0].qas[1]" in message
    assert "'question'" in message
    assert info.value.where.field == "data[0].paragraphs[0].qas[1].question"


def test_bad_answer_start_names_the_answer(tmp_path: Path) -> None:
    doc = missing_question_doc()
    doc["data"][0]["paragraphs"][0]["qas"][1] = {
        "id": "b",
        "question": "?",
        "answers": [{"text": "서울", "answer_start": "0"}],
    }
    with pytest.raises(CurateError) as info:
        read(save(tmp_path / "train.json", doc))
    assert "data[0].paragraphs[0].qas[1].answers[0].answer_start" in str(info.value)
    assert "'0'" in str(info.value)


def test_skip_mode_quarantines_the_bad_question_and_keeps_the_rest(tmp_path: Path) -> None:
    path = save(tmp_path / "train.json", missing_question_doc())
    quarantine = tmp_path / "bad" / "quarantine.jsonl"
    dataset = read(path, on_error="skip", quarantine=quarantine)
    assert dataset.to_arrow().column("id").to_pylist() == ["ok1", "ok2"]
    assert dataset.metadata["quarantined_rows"] == "1"
    lines = quarantine.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    bad = json.loads(lines[0])
    assert bad["file"] == str(path)
    assert bad["location"] == "data[0].paragraphs[0].qas[1].question"
    assert "question" in bad["reason"]
    assert json.loads(bad["raw"]) == {"id": "bad", "answers": [span(C1, "서울")]}


def test_article_or_paragraph_that_is_not_an_object_names_its_path(tmp_path: Path) -> None:
    doc = {"version": "1.1", "data": [V11["data"][0], ["not", "an", "article"]]}
    with pytest.raises(CurateError, match="article is not a JSON object") as info:
        read(save(tmp_path / "a.json", doc))
    assert "field 'data[1]'" in str(info.value)
    doc = {"version": "1.1", "data": [{"title": "t", "paragraphs": ["just text"]}]}
    with pytest.raises(CurateError, match="paragraph is not a JSON object") as info:
        read(save(tmp_path / "p.json", doc))
    assert "field 'data[0].paragraphs[0]'" in str(info.value)


def test_question_that_is_not_an_object_is_quarantined_in_skip_mode(tmp_path: Path) -> None:
    doc = missing_question_doc()
    doc["data"][0]["paragraphs"][0]["qas"][1] = "어떤 질문?"
    path = save(tmp_path / "train.json", doc)
    with pytest.raises(CurateError, match="question is not a JSON object") as info:
        read(path)
    assert "data[0].paragraphs[0].qas[1]" in str(info.value)
    quarantine = tmp_path / "q.jsonl"
    dataset = read(path, on_error="skip", quarantine=quarantine)
    assert dataset.to_arrow().column("id").to_pylist() == ["ok1", "ok2"]
    (bad,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert bad["location"] == "data[0].paragraphs[0].qas[1]"
    assert json.loads(bad["raw"]) == "어떤 질문?"


def test_skip_mode_needs_a_quarantine_file(tmp_path: Path) -> None:
    path = save(tmp_path / "train.json", missing_question_doc())
    with pytest.raises(CurateError, match="quarantine"):
        read(path, on_error="skip")


def test_only_mrc_is_written_as_squad(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "1", "text": "a"}\n', encoding="utf-8")
    with pytest.raises(CurateError, match="only kind 'mrc'"):
        write(read(path), tmp_path / "docs.json")


def test_gzipped_squad_file_is_read(tmp_path: Path) -> None:
    import gzip

    doc = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [{"context": C3, "qas": [{"id": "z", "question": "?", "answers": [span(C3, "부산")]}]}],
            }
        ],
    }
    path = tmp_path / "dev.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(doc, handle, ensure_ascii=False)
    assert read(path).to_arrow().column("id").to_pylist() == ["z"]


NOTICE = "문의: help@example.com, 010-1234-5678. 서울 센터는 평일에 연다."


def with_paragraph(paragraph: dict[str, Any]) -> dict[str, Any]:
    """A SQuAD file with one good paragraph and ``paragraph`` after it."""
    good = {"context": C3, "qas": [{"id": "a1", "question": "?", "answers": [span(C3, "부산")]}]}
    return {"version": "1.1", "data": [{"title": "A", "paragraphs": [good, paragraph]}]}


@pytest.mark.parametrize(
    ("part", "message", "field"),
    [
        ({"context": NOTICE, "qas": []}, "paragraph has no questions: it makes no row", "paragraphs[1].qas"),
        (
            {"context": NOTICE, "qa": [{"id": "q", "question": "?", "answers": []}]},
            "paragraph has no 'qas'; unknown key 'qa'",
            "paragraphs[1].qas",
        ),
        ({"context": NOTICE, "qas": None}, "'qas' must be a list", "paragraphs[1].qas"),
        (
            {"context": NOTICE, "qas": [{"id": "x", "question": "?", "answers": []}], "questions": [{"question": "?"}]},
            "unknown key 'questions' holds SQuAD content",
            "paragraphs[1].questions",
        ),
    ],
)
def test_paragraph_without_questions_is_an_error_naming_its_place(
    tmp_path: Path, part: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(SchemaError) as info:
        read(save(tmp_path / "in.json", with_paragraph(part)))
    assert info.value.what == message
    assert info.value.where.field == f"data[0].{field}"
    assert str(tmp_path / "in.json") in str(info.value)


def test_questions_placed_in_an_article_are_an_error_naming_the_key(tmp_path: Path) -> None:
    doc = {"version": "1.1", "data": [{"title": "A", "qas": [{"id": "q", "question": "?", "answers": []}]}]}
    with pytest.raises(SchemaError, match="article has no 'paragraphs'; unknown key 'qas'"):
        read(save(tmp_path / "in.json", doc))
    doc["data"][0]["paragraphs"] = V11["data"][1]["paragraphs"]
    with pytest.raises(SchemaError, match="unknown key 'qas' holds SQuAD content") as info:
        read(save(tmp_path / "in.json", doc))
    assert info.value.where.field == "data[0].qas"
    with pytest.raises(SchemaError, match="article has no paragraphs: it makes no row"):
        read(save(tmp_path / "in.json", {"version": "1.1", "data": [{"title": "A", "paragraphs": []}]}))


def test_skipping_sets_question_less_parts_aside_with_their_reason(tmp_path: Path) -> None:
    doc = with_paragraph({"context": NOTICE, "qas": []})
    doc["data"].append({"title": "B", "paragraphs": []})
    quarantine = tmp_path / "q.jsonl"
    dataset = read(save(tmp_path / "in.json", doc), on_error="skip", quarantine=quarantine)
    assert column_of(dataset, "id") == ["a1"]
    assert dataset.metadata["quarantined_rows"] == "2"
    entries = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert [e["location"] for e in entries] == ["data[0].paragraphs[1].qas", "data[1].paragraphs"]
    assert entries[0]["reason"].startswith("paragraph has no questions: it makes no row")
    assert json.loads(entries[0]["raw"]) == {"context": NOTICE, "qas": []}
    back = json.loads(write(dataset, tmp_path / "out.json").read_text(encoding="utf-8"))
    assert "help@example.com" not in json.dumps(back, ensure_ascii=False)
    assert back == {"version": "1.1", "data": [{"title": "A", "paragraphs": [doc["data"][0]["paragraphs"][0]]}]}


def test_a_pipeline_never_exports_a_question_less_paragraph_untouched(tmp_path: Path) -> None:
    from curate.pipeline import run_pipeline

    source = save(tmp_path / "in.json", with_paragraph({"context": NOTICE, "qas": []}))
    config = {
        "name": "e",
        "input": {"path": str(source)},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "out.json", "format": "squad"}]},
        "stages": [{"use": "pii"}],
    }
    with pytest.raises(SchemaError, match="paragraph has no questions"):
        run_pipeline(config)
    config["input"]["on_error"] = "skip"
    result = run_pipeline(config)
    exported = (tmp_path / "run" / "out.json").read_text(encoding="utf-8")
    assert "help@example.com" not in exported and "010-1234-5678" not in exported
    assert result.quarantined == 1
    (entry,) = (tmp_path / "run" / "input" / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(entry)["location"] == "data[0].paragraphs[1].qas"


def column_of(dataset: Dataset, name: str) -> list[Any]:
    return dataset.to_arrow().column(name).to_pylist()


def test_integer_question_ids_come_back_as_integers(tmp_path: Path) -> None:
    doc = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [{"context": C3, "qas": [{"id": 7, "question": "?", "answers": [span(C3, "부산")]}]}],
            }
        ],
    }
    first, _, back = round_trip(tmp_path, doc)
    assert first.to_arrow().column("id").to_pylist() == ["7"] and back == doc


def one_question(**changes: Any) -> dict[str, Any]:
    qa = {"id": "q1", "question": "대한민국의 수도는?", "answers": [span(C1, "서울")], **changes}
    return {"version": "1.1", "data": [{"title": "서울", "paragraphs": [{"context": C1, "qas": [qa]}]}]}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"id": None}, "id", "question id must be text or an integer"),
        ({"id": 1.5}, "id", "question id must be text or an integer"),
        ({"answers": [{"text": "서울", "answer_start": 10**20}]}, "answers[0].answer_start", "out of range"),
        ({"answers": [{"text": "서울", "answer_start": 2**31}]}, "answers[0].answer_start", "out of range"),
        ({"answers": [{"text": "서울", "answer_start": "0"}]}, "answers[0].answer_start", "must be an integer"),
        ({"answers": [{"text": 5, "answer_start": 0}]}, "answers[0].text", "answer text must be text"),
        ({"is_impossible": "false"}, "is_impossible", "is_impossible must be true or false"),
        ({"is_impossible": None}, "is_impossible", "is_impossible must be true or false"),
        ({"question": 7}, "question", "'question' must be text"),
        ({"context": "다른 문단"}, "context", "question key 'context' is also a column curate makes"),
        ({"passage_id": "x"}, "passage_id", "question key 'passage_id' is also a column curate makes"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_json_path(
    tmp_path: Path, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SchemaError, match=message) as info:
        read(save(tmp_path / "in.json", one_question(**changes)))
    assert info.value.where.field == f"data[0].paragraphs[0].qas[0].{field}"
    assert info.value.where.file == str(tmp_path / "in.json")


def test_the_wrong_type_in_a_paragraph_or_article_names_it(tmp_path: Path) -> None:
    doc = one_question()
    doc["data"][0]["paragraphs"][0]["context"] = 42
    with pytest.raises(SchemaError, match="'context' must be text") as info:
        read(save(tmp_path / "in.json", doc))
    assert info.value.where.field == "data[0].paragraphs[0].context"
    doc = one_question()
    doc["data"][0]["title"] = ["서울"]
    with pytest.raises(SchemaError, match="'title' must be text"):
        read(save(tmp_path / "in.json", doc))


def test_ids_of_one_file_have_one_type(tmp_path: Path) -> None:
    doc = one_question(id=123)
    doc["data"][0]["paragraphs"][0]["qas"].append({"id": "x", "question": "?", "answers": []})
    with pytest.raises(SchemaError, match="question ids mix text and integers") as info:
        read(save(tmp_path / "in.json", doc))
    assert info.value.where.field == "data[0].paragraphs[0].qas[1].id"
    assert "qas[0] is an integer" in str(info.value)


def test_skipping_sets_aside_wrong_types_and_lone_surrogates(tmp_path: Path) -> None:
    doc = missing_question_doc()
    qas = doc["data"][0]["paragraphs"][0]["qas"]
    qas[1] = {"id": "bad", "question": "?", "answers": [], "is_impossible": "false"}
    qas.append({"id": "half", "question": "\ud800", "answers": []})
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # ASCII escapes: the lone surrogate is "\ud800"
    with pytest.raises(SchemaError, match="is_impossible must be true or false"):
        read(path)
    quarantine = tmp_path / "q.jsonl"
    dataset = read(path, on_error="skip", quarantine=quarantine)
    assert column_of(dataset, "id") == ["ok1", "ok2"]
    bad = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert [b["location"] for b in bad] == [
        "data[0].paragraphs[0].qas[1].is_impossible",
        "data[0].paragraphs[0].qas[3].question",
    ]
    assert "lone surrogate" in bad[1]["reason"] and json.loads(bad[1]["raw"])["question"] == "\ud800"


def test_extra_keys_that_a_column_would_change_come_back_exactly(tmp_path: Path) -> None:
    doc = one_question(note=None, meta={"a": 1})
    qas = doc["data"][0]["paragraphs"][0]["qas"]
    qas.append({"id": "q2", "question": "?", "answers": [], "meta": {"b": [1, "x"]}, "rank": 2**70})
    qas.append({"id": "q3", "question": "?", "answers": [], "meta": "text", "rank": 1})
    doc["data"][0]["title"] = None
    doc["version"] = "v2.0"
    qas[1]["is_impossible"] = True
    qas[1]["plausible_answers"] = [{**span(C1, "서울"), "annotator": "B"}]
    _, second, back = round_trip(tmp_path, doc)
    assert back == doc
    assert "squad_question_extra" in second.to_arrow().column_names


def test_hostile_extras_columns_are_an_error_when_written_as_squad(tmp_path: Path) -> None:
    dataset = read(save(tmp_path / "in.json", one_question(**{"source": "x"})))
    table = dataset.to_arrow()
    table = table.append_column("squad_paragraph_extra", pa.array(["{oops"]))
    broken = Dataset(kind="mrc", table=table, metadata=dataset.metadata)
    with pytest.raises(InputError, match="holds text that is not JSON") as info:
        write(broken, tmp_path / "out.json")
    assert info.value.where.row == 1 and info.value.where.field == "squad_paragraph_extra"
    assert info.value.where.file == str(tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def _batches(table: pa.Table, rows: int, taken: list[int] | None = None):
    """A function giving ``table`` again in batches of ``rows`` (counting the batches handed out)."""

    def batches():
        for start in range(0, table.num_rows, rows):
            if taken is not None:
                taken.append(start)
            yield table.slice(start, rows)

    return batches


def test_squad_streamed_in_batches_is_the_file_written_whole(tmp_path: Path):
    from curate.io.squad import _squad_articles, write_squad

    squad = Path(__file__).resolve().parents[2] / "sample_data" / "korquad_sample.json"
    dataset = read(squad)
    table, metadata = dataset.to_arrow(), dataset.metadata
    whole, streamed = tmp_path / "whole.json", tmp_path / "streamed.json"
    write_squad(table, whole, metadata=metadata)
    write_squad(_batches(table, 7), streamed, metadata=metadata)  # batches cut paragraphs and articles
    assert streamed.read_bytes() == whole.read_bytes()
    assert json.loads(whole.read_text(encoding="utf-8"))["data"][0]["title"] == table.column("title")[0].as_py()
    # grouped rows: the first article comes out before the rows after it are read
    taken: list[int] = []
    first = next(_squad_articles(_batches(table, 7, taken)(), False, grouped=True))
    assert first["title"] == table.column("title")[0].as_py() and len(taken) < table.num_rows // 7
    # a paragraph whose rows are apart: grouped in memory, the same file as written whole
    apart = pa.concat_tables([table.slice(0, 1), table.slice(40, 5), table.slice(1, 3)])
    write_squad(apart, whole, metadata=metadata)
    write_squad(_batches(apart, 2), streamed, metadata=metadata)
    assert streamed.read_bytes() == whole.read_bytes()
    paragraphs = [p for a in json.loads(whole.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"]]
    assert sum(len(p["qas"]) for p in paragraphs) == 9 and len({p["context"] for p in paragraphs}) == len(paragraphs)
