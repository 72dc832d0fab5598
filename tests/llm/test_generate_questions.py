"""generate_questions against a real local chat-completions server (tests/llm/chat_server.py)."""

from __future__ import annotations

import json
import unicodedata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.llm.prompts import PAIRS_SCHEMA
from curate.mrc.checks import check_row
from curate.pipeline import run_pipeline
from curate.stages.generate_questions import STATUSES, GenerateQuestions
from tests.conftest import CONTEXT, REPO, answer, mrc_rows
from tests.llm.chat_server import ChatServer, cloze, sentences
from tests.outputs import folder_bytes, parquet_rows

KEY = "sk-live-7d3e9b2a61f04c58b9e0-SECRET"
EN_CONTEXT = (
    "Seoul is the capital of South Korea. The Han River flows through the city. About nine million people live there."
)


def stage(server: ChatServer, tmp_path, **params) -> GenerateQuestions:
    options = {
        "base_url": server.base_url,
        "model": "test-model",
        "cache_dir": str(tmp_path / "cache"),
        "timeout": 10.0,
        **params,
    }
    return GenerateQuestions(options)


def korean_and_english() -> Dataset:
    rows = mrc_rows()[:3] + [
        {"id": "e1", "context": EN_CONTEXT, "question": "What is the capital of South Korea?",
         "answers": [answer(EN_CONTEXT, "Seoul")]},
    ]  # fmt: skip
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")


def generation(result) -> list[dict]:
    return result.artifacts["generation"].to_pylist()


def test_generated_rows_have_exact_spans_and_every_rejection_kind_is_reported(server, tmp_path):
    dataset = korean_and_english()
    result = stage(server, tmp_path)(dataset)
    kept = result.kept.to_arrow().to_pylist()
    log = generation(result)
    originals, generated = kept[:4], kept[4:]
    # input rows unchanged, marked as originals; no row is rejected
    assert [{k: v for k, v in row.items() if k != "source"} for row in originals] == dataset.to_arrow().to_pylist()
    assert {row["source"] for row in originals} == {"original"} and result.stats.rows_rejected == 0
    # three cloze questions per passage, with exact spans
    assert [row["id"] for row in generated] == ["q1#gen-1", "q1#gen-2", "q1#gen-3", "e1#gen-1", "e1#gen-2", "e1#gen-3"]
    for row in generated:
        assert row["source"] == "llm:test-model" and row["is_impossible"] is False
        assert check_row(row["context"], row["answers"], row["is_impossible"]) == []
    expected = [cloze(s, korean=True) for s in sentences(CONTEXT)] + [cloze(s, False) for s in sentences(EN_CONTEXT)]
    assert [(r["question"], r["answers"][0]["text"]) for r in generated] == expected
    assert generated[0]["answers"] == [answer(CONTEXT, "대한민국의")]
    # every proposal is in the artifact, with one status each
    statuses = [entry["status"] for entry in log]
    assert set(statuses) == set(STATUSES) - {"over_limit"}
    assert statuses.count("accepted") == result.stats.rows_added == len(generated) == 6
    for kind in ("answer_not_in_passage", "wrong_language", "near_duplicate", "unparseable"):
        assert statuses.count(kind) == 2, kind  # once per passage
    by_status = {(e["passage_id"], e["status"]): e for e in log}
    assert by_status[("q1", "wrong_language")]["detail"] == "question is 'en', passage is 'ko'"
    assert by_status[("e1", "wrong_language")]["question"] == "이 지문의 첫 번째 단어는 무엇인가?"
    assert by_status[("q1", "near_duplicate")]["detail"].endswith("character 5-gram Jaccard with q1#gen-1")
    assert by_status[("e1", "unparseable")]["detail"].startswith("no answer text")
    accepted = [e for e in log if e["status"] == "accepted"]
    assert [e["id"] for e in accepted] == [r["id"] for r in generated]
    assert [e["answer_start"] for e in accepted] == [r["answers"][0]["answer_start"] for r in generated]
    assert {e["choice"] for e in log} == {0}
    (usage,) = result.artifacts["usage"].to_pylist()
    assert usage["passages"] == usage["requests"] == server.count == 2 and usage["cached"] == 0
    assert usage["accepted"] == 6 and usage["pairs"] == len(log) and usage["prompt_tokens"] > 0
    # structured output: every request carried the pairs' JSON schema, and the server took it
    assert all(
        seen.body["response_format"] == {"type": "json_schema", "json_schema": PAIRS_SCHEMA} for seen in server.requests
    )
    assert usage["structured"] == 2 and usage["fallbacks"] == 0 and usage["fallback_reason"] is None
    # Korean passage: Korean prompt; English passage: English prompt
    prompts = [seen.body["messages"][-1]["content"] for seen in server.requests]
    assert sorted("한국어" in p for p in prompts) == [False, True]


def test_an_answer_found_only_after_folding_becomes_the_exact_span_of_the_passage(server, tmp_path):
    nfd = unicodedata.normalize("NFD", CONTEXT)
    dataset = Dataset.from_arrow(pa.Table.from_pylist([mrc_rows()[3]]), "mrc")
    result = stage(server, tmp_path)(dataset)
    generated = result.kept.to_arrow().to_pylist()[1:]
    assert len(generated) == 3
    for row in generated:
        (span,) = row["answers"]
        assert row["context"] == nfd and check_row(nfd, row["answers"]) == []
        assert not unicodedata.is_normalized("NFC", span["text"])  # the passage's own (NFD) characters
    details = [e["detail"] for e in generation(result) if e["status"] == "accepted"]
    assert all(d.startswith("answer found after NFC/whitespace folding") for d in details)


def test_questions_close_to_existing_ones_are_near_duplicates(server, tmp_path):
    first_cloze = cloze(sentences(CONTEXT)[0], korean=True)[0]
    rows = mrc_rows()[:1] + [
        {"id": "same", "context": CONTEXT, "question": first_cloze.rstrip("다") + "!", "answers": [answer(CONTEXT, "서울")]},
        {"id": "other", "context": EN_CONTEXT, "question": cloze(sentences(CONTEXT)[1], korean=True)[0],
         "answers": [answer(EN_CONTEXT, "Seoul")]},
    ]  # fmt: skip
    result = stage(server, tmp_path, language="ko", max_passages=1)(
        Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    )
    details = {e["question"]: e["detail"] for e in generation(result) if e["status"] == "near_duplicate"}
    assert details[first_cloze].endswith("Jaccard with same")  # near the question of its own passage
    assert details[cloze(sentences(CONTEXT)[1], korean=True)[0]] == "same question as other"  # anywhere in the data
    assert result.stats.rows_added == 1 and server.count == 1


def test_generated_rows_follow_the_batch_of_their_passage_first_row(server, tmp_path):
    rows = [
        {"id": "a1", "context": CONTEXT, "question": "대한민국의 수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "a2", "context": CONTEXT, "question": "서울의 인구는?", "answers": [answer(CONTEXT, "약 940만 명")]},
        {
            "id": "b1",
            "context": EN_CONTEXT,
            "question": "What is the capital?",
            "answers": [answer(EN_CONTEXT, "Seoul")],
        },
        {"id": "a3", "context": CONTEXT, "question": "서울을 가로지르는 강은?", "answers": [answer(CONTEXT, "한강")]},
    ]
    dataset = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    out = tmp_path / "out"
    out.mkdir()
    kept, rejected, stats = stage(server, tmp_path, questions_per_passage=2).execute(dataset, out_dir=out, batch_rows=2)
    ids = pq.read_table(kept).column("id").to_pylist()
    assert ids == ["a1", "a2", "a1#gen-1", "a1#gen-2", "b1", "a3", "b1#gen-1", "b1#gen-2"]
    assert stats.rows_in == 4 and stats.rows_added == 4 and stats.rows_kept == 8
    assert parquet_rows(rejected) == 0


def test_retries_by_the_sdk_then_the_same_rows(tmp_path):
    dataset = korean_and_english()
    with ChatServer(fail=[429, 500, 503], retry_after="0.01") as flaky:
        result = stage(flaky, tmp_path, concurrency=1)(dataset)
        assert flaky.count == 2 + 3
    (usage,) = result.artifacts["usage"].to_pylist()
    assert usage["retries"] == 3 and usage["requests"] == 2 and result.stats.rows_added == 6


def test_a_server_without_structured_output_falls_back_to_parsing_with_the_same_rows(server, tmp_path):
    dataset = korean_and_english()
    structured = stage(server, tmp_path)(dataset)
    with ChatServer(response_format="reject") as plain:
        result = stage(plain, tmp_path / "plain", concurrency=1)(dataset)
        assert ["response_format" in seen.body for seen in plain.requests] == [True, False, False]
        (usage,) = result.artifacts["usage"].to_pylist()
        assert usage["requests"] == 2 and usage["structured"] == 0 and usage["fallbacks"] == 2
        assert "rejected response_format" in usage["fallback_reason"]
        again = stage(plain, tmp_path / "plain")(dataset)  # the cache knows the server falls back
        assert plain.count == 3 and again.artifacts["usage"].to_pylist()[0]["fallbacks"] == 2
    rows = [(r["id"], r["question"], r["answers"]) for r in structured.kept.to_arrow().to_pylist()]
    assert [(r["id"], r["question"], r["answers"]) for r in result.kept.to_arrow().to_pylist()] == rows
    assert [(r["id"], r["question"], r["answers"]) for r in again.kept.to_arrow().to_pylist()] == rows
    assert generation(result) == generation(structured)


def test_a_server_that_ignores_structured_output_has_its_replies_parsed(tmp_path):
    with ChatServer(response_format="ignore") as server:
        result = stage(server, tmp_path, concurrency=1)(korean_and_english())
        assert ["response_format" in seen.body for seen in server.requests] == [True, False]
    (usage,) = result.artifacts["usage"].to_pylist()
    assert usage["fallbacks"] == 2 and usage["fallback_reason"].startswith("the server answered choice 0 with text")
    assert result.stats.rows_added == 6


def test_several_samples_fill_in_for_a_reply_that_could_not_be_read(tmp_path):
    with ChatServer(bad_choices=1) as server:
        result = stage(server, tmp_path, n=2, top_p=0.9, stop=["###"])(korean_and_english())
        (seen, _) = server.requests
    assert seen.body["n"] == 2 and seen.body["top_p"] == 0.9 and seen.body["stop"] == ["###"]
    log = generation(result)
    assert [(e["passage_id"], e["choice"]) for e in log if (e["detail"] or "").startswith("no JSON array")] == [
        ("q1", 0),
        ("e1", 0),
    ]
    accepted = [e for e in log if e["status"] == "accepted"]
    assert len(accepted) == result.stats.rows_added == 6 and {e["choice"] for e in accepted} == {1}


def test_a_question_a_later_sample_repeats_is_a_near_duplicate(server, tmp_path):
    result = stage(server, tmp_path, n=2, language="ko", max_passages=1)(korean_and_english())
    log = generation(result)
    accepted = {e["question"]: e["id"] for e in log if e["status"] == "accepted"}
    assert len(accepted) == 3 and {e["choice"] for e in log if e["status"] == "accepted"} == {0}
    repeated = [e for e in log if e["choice"] == 1 and e["question"] in accepted]
    assert len(repeated) == 3  # the second sample asks the same cloze questions in another order
    assert all(
        e["status"] == "near_duplicate" and e["detail"] == f"same question as {accepted[e['question']]}"
        for e in repeated
    )
    assert result.artifacts["usage"].to_pylist()[0]["requests"] == 1


def test_a_rejected_key_fails_fast_in_one_line_without_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", KEY)
    with ChatServer(api_key="another-key") as server:
        with pytest.raises(ConfigError) as info:
            stage(server, tmp_path, api_key_env="CURATE_TEST_KEY", concurrency=1)(korean_and_english())
        assert server.count == 1
    message = str(info.value)
    assert "\n" not in message and KEY not in message
    assert "HTTP 401" in message and "stage 'generate_questions'" in message and "CURATE_TEST_KEY" in message
    assert not (tmp_path / "cache").exists() or not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_key_pasted_into_api_key_env_is_refused_without_being_shown(server, tmp_path):
    with pytest.raises(ConfigError) as info:
        stage(server, tmp_path, api_key_env=KEY)
    assert KEY not in str(info.value) and "api_key_env" in str(info.value)


def test_a_rerun_with_the_cache_sends_no_request_and_writes_the_same_rows(server, tmp_path):
    dataset = korean_and_english()
    outputs, usages = [], []
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        out.mkdir()
        gen = stage(server, tmp_path)
        kept, rejected, _ = gen.execute(dataset, out_dir=out, batch_rows=3)
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
        usages.append(gen.artifacts()["usage"].to_pylist()[0])
    assert server.count == 2  # the first run only
    assert outputs[0] == outputs[1]
    assert usages[1]["requests"] == 0 and usages[1]["cached"] == 2
    assert usages[1]["cached_prompt_tokens"] == usages[0]["prompt_tokens"] > 0


def test_an_unreadable_reply_is_a_counted_failure_not_a_crash(tmp_path):
    with ChatServer(malformed=True) as server:
        result = stage(server, tmp_path)(korean_and_english())
    assert result.stats.rows_added == 0 and result.kept.num_rows == 4
    log = generation(result)
    assert [(e["passage_id"], e["status"]) for e in log] == [("q1", "unparseable"), ("e1", "unparseable")]
    assert log[0]["detail"].startswith("no JSON array of question/answer pairs in the reply")
    (usage,) = result.artifacts["usage"].to_pylist()
    assert usage["unparseable"] == 2 and usage["fallbacks"] == 2  # prose under a JSON schema: the server ignored it


def test_pairs_beyond_questions_per_passage_are_over_limit(tmp_path):
    with ChatServer(extra_good=2) as server:
        result = stage(server, tmp_path, questions_per_passage=1)(korean_and_english())
    statuses = [(e["passage_id"], e["status"]) for e in generation(result)]
    assert statuses.count(("q1", "accepted")) == 1 and statuses.count(("q1", "over_limit")) == 2
    assert result.stats.rows_added == 2


def test_language_and_template_params(server, tmp_path):
    template = tmp_path / "prompt.txt"
    template.write_text('Make {n} pairs. Reply with [{{"question", "answer"}}].\n<passage>\n{passage}\n</passage>\n')
    result = stage(server, tmp_path, language="ko", prompt_template=str(template), max_passages=1)(korean_and_english())
    (seen,) = server.requests
    assert seen.body["messages"] == [
        {
            "role": "user",
            "content": f'Make 3 pairs. Reply with [{{"question", "answer"}}].\n<passage>\n{CONTEXT}\n</passage>\n',
        }
    ]
    assert seen.body["temperature"] == 0.7 and seen.body["max_tokens"] == 1024 and seen.body["seed"] == 0
    assert result.stats.rows_added == 3
    template.write_text("{passage} in {language}")
    with pytest.raises(ConfigError, match=r"unknown placeholder.*stage 'generate_questions'.*got '\{language\}'"):
        stage(server, tmp_path, prompt_template=str(template))(korean_and_english())
    assert stage(server, tmp_path, prompt_template=str(template)).input_files() == [template]
    with pytest.raises(ConfigError, match="unknown parameter 'questions'.*allowed: base_url, model"):
        GenerateQuestions(base_url=server.base_url, model="m", questions=3)
    with pytest.raises(ConfigError, match="bad value for parameter 'language'"):
        GenerateQuestions(base_url=server.base_url, model="m", language="ja")


def test_empty_input_and_every_table_type(server, tmp_path):
    import polars as pl

    table = korean_and_english().to_arrow()
    empty = stage(server, tmp_path)(Dataset.from_arrow(table.slice(0, 0), "mrc"))
    assert empty.kept.num_rows == 0 and empty.rejected.num_rows == 0 and server.count == 0
    assert "reject_reason" in empty.rejected.schema.names and "source" in empty.kept.schema.names
    assert generation(empty) == []
    assert isinstance(stage(server, tmp_path)(table, kind="mrc").kept, pa.Table)
    assert isinstance(stage(server, tmp_path)(pl.from_arrow(table), kind="mrc").kept, pl.DataFrame)
    assert server.count == 2  # the second and third runs came from the cache


def test_pipeline_run_keeps_the_key_out_of_every_file(tmp_path, monkeypatch):
    from curate import stages as registry

    monkeypatch.setitem(registry.REGISTRY, "generate_questions", GenerateQuestions)
    monkeypatch.setenv("CURATE_TEST_KEY", KEY)
    cache = tmp_path / "cache"
    with ChatServer(api_key=KEY, echo_key=True) as server:
        config = {
            "name": "synthetic",
            "input": {"path": str(REPO / "sample_data" / "korquad_sample.json")},
            "output": {"dir": str(tmp_path / "run"), "export": [{"path": "clean.json", "format": "squad"}]},
            "stages": [
                {"use": "validate_spans"},
                {
                    "use": "generate_questions",
                    "id": "synth",
                    "params": {
                        "base_url": server.base_url,
                        "model": "test-model",
                        "api_key_env": "CURATE_TEST_KEY",
                        "cache_dir": str(cache),
                        "max_passages": 3,
                        "questions_per_passage": 2,
                    },
                },
                {"use": "exact_dedup"},
            ],
        }
        result = run_pipeline(config)
        assert server.count == 3 and all(seen.authorization == f"Bearer {KEY}" for seen in server.requests)
        again = run_pipeline(config, force=True)
        assert server.count == 3  # every reply came from the cache
    spans, synth, dedup = result.stages
    accepted = [e for e in pq.read_table(synth.dir / "generation.parquet").to_pylist() if e["status"] == "accepted"]
    assert synth.stats.rows_added == len(accepted) > 0
    assert synth.stats.rows_kept == synth.stats.rows_in + synth.stats.rows_added
    assert sorted(synth.artifacts) == ["generation.parquet", "usage.parquet"]
    assert again.stages[1].stats.rows_added == synth.stats.rows_added
    stats = json.loads((synth.dir / "stats.json").read_text(encoding="utf-8"))
    assert stats["params"]["api_key_env"] == "CURATE_TEST_KEY" and stats["rows_added"] == len(accepted)
    output = result.output.to_arrow()
    generated = [r for r in output.to_pylist() if r["source"] == "llm:test-model"]
    assert len(generated) == len(accepted) and all(check_row(r["context"], r["answers"]) == [] for r in generated)
    files = [p for root in (tmp_path / "run", cache) for p in root.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    # the model echoed the key in every reply: it reached the artifact masked
    echoed = [e for e in pq.read_table(synth.dir / "generation.parquet").to_pylist() if e["answer"] == "***"]
    assert len(echoed) == 3 and {e["status"] for e in echoed} == {"answer_not_in_passage"}
    assert all(e["question"].endswith("(request authorized with ***)") for e in echoed)
