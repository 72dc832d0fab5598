"""ChatClient (on the openai SDK) against a real local chat-completions server; prompt templates
and the reply parser."""

from __future__ import annotations

import json
import socket
import time

import pytest

from curate.errors import ConfigError, StageError
from curate.llm.client import ChatClient, Sampling, request_key
from curate.llm.prompts import PAIRS_SCHEMA, BadItem, PromptTemplate, QAPair, parse_pairs
from tests.llm.chat_server import ChatServer

KEY = "sk-test-4f9a1c77e2b94d0c8a51-SECRET"
SCHEMA = {"name": "echo", "strict": True, "schema": {"type": "object", "properties": {"echo": {"type": "string"}}}}


def client(server: ChatServer, **kwargs) -> ChatClient:
    options = {"max_retries": 3, "timeout": 5.0, **kwargs}
    return ChatClient(server.base_url, "test-model", **options)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# ----------------------------------------------------------------- protocol


def test_complete_sends_the_sampling_parameters_through_the_sdk(server):
    chat = client(server)
    sampling = Sampling(temperature=0.2, top_p=0.9, seed=7, max_tokens=50, n=2, stop=("###",))
    out = chat.complete(ask("hello"), sampling)
    assert [c.content for c in out.choices] == ["echo: hello", "echo: hello (choice 1)"]
    assert out.content == "echo: hello" and out.finish_reason == "stop" and not out.cached and out.retries == 0
    (seen,) = server.requests
    assert seen.path == "/v1/chat/completions" and seen.authorization is None  # no key: no header
    assert seen.body == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "max_tokens": 50,
        "n": 2,
        "stop": ["###"],
    }
    assert seen.headers["x-stainless-retry-count"] == "0"  # sent by the SDK
    chat.complete(ask("defaults"))
    assert server.requests[1].body == {"model": "test-model", "messages": ask("defaults")}
    assert chat.usage.requests == 2 and chat.usage.prompt_tokens > 0
    assert out.completion_tokens == len("echo: hello") // 4 + 1 + len("echo: hello (choice 1)") // 4 + 1
    assert chat.usage.completion_tokens == out.completion_tokens + len("echo: defaults") // 4 + 1


def test_the_key_comes_from_the_named_environment_variable_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer(api_key=KEY) as server:
        chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY")
        assert chat.complete(ask("hi")).content == "echo: hi"
        assert server.requests[0].authorization == f"Bearer {KEY}"
        assert KEY not in repr(chat) and KEY not in json.dumps(chat.usage.as_dict())


def test_an_unset_key_variable_sends_no_key_not_the_sdk_default_one(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # the SDK's own default variable
    chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY")
    chat.complete(ask("hi"))
    assert server.requests[0].authorization is None


def test_a_rejected_key_fails_fast_in_one_line_without_the_key(monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer(api_key="the-right-key") as server:
        chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY", max_retries=5)
        with pytest.raises(ConfigError) as info:
            chat.complete(ask("hi"))
        message = str(info.value)
        assert server.count == 1  # not retried
        assert "\n" not in message and KEY not in message
        assert f"chat endpoint {server.base_url} (model 'm') rejected the API key" in message
        assert "HTTP 401: Incorrect API key provided: ***" in message and "CHAT_TEST_KEY" in message


def test_a_missing_key_is_named_in_the_hint():
    with ChatServer(api_key="the-right-key") as server, pytest.raises(ConfigError, match="OPENAI_API_KEY.*not set"):
        ChatClient(server.base_url, "m").complete(ask("hi"))


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (400, StageError, "rejected the request (HTTP 400: injected failure 400)"),
        (403, ConfigError, "refused access (HTTP 403"),
        (404, ConfigError, "no such endpoint or model (HTTP 404"),
        (422, StageError, "HTTP 422"),
        (307, ConfigError, "redirects to http://127.0.0.1:9/elsewhere"),
    ],
)
def test_client_errors_fail_fast_quoting_the_server(status, error, words):
    with ChatServer(fail=[status]) as server:
        with pytest.raises(error) as info:
            client(server).complete(ask("hi"))
        assert server.count == 1  # neither retried nor redirected
        assert words in str(info.value) and "(model 'test-model')" in str(info.value)
        assert "\n" not in str(info.value)


def test_an_answer_that_is_no_chat_completion_is_one_line():
    with ChatServer(fail=["html"]) as server, pytest.raises(StageError) as info:
        client(server).complete(ask("hi"))
    assert str(info.value) == (
        f"chat endpoint {server.base_url} (model 'test-model') answered with no chat completion: "
        "got '<!doctype html><title>Welcome</title>' "
        "(hint: base_url must point at an OpenAI-compatible API root (ending in /v1))"
    )


def test_an_unknown_model_is_a_404_config_error():
    message = r"HTTP 404: The model `test-model` does not exist.*check the model name"
    with ChatServer(model="served-model") as server, pytest.raises(ConfigError, match=message):
        client(server).complete(ask("hi"))


# ----------------------------------------------------------------- retries and timeouts (done by the SDK)


def test_429_and_5xx_are_retried_by_the_sdk_then_succeed():
    with ChatServer(fail=[429, 500, 503], retry_after="0.01") as server:
        chat = client(server)
        out = chat.complete(ask("hi"))
        assert out.content == "echo: hi" and out.retries == 3
        assert server.count == 4 and chat.usage.retries == 3 and chat.usage.requests == 1
        assert [seen.headers["x-stainless-retry-count"] for seen in server.requests] == ["0", "1", "2", "3"]


def test_retry_after_is_honoured():
    with ChatServer(fail=[429], retry_after="0.3") as server:
        started = time.perf_counter()
        client(server).complete(ask("hi"))
        assert time.perf_counter() - started >= 0.3 and server.count == 2


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (500, r"failed after 3 attempts \(HTTP 500: injected failure 500\)"),
        (429, r"still limits the request rate after 3 attempts \(HTTP 429: injected failure 429\).*lower concurrency"),
    ],
)
def test_gives_up_after_max_retries_in_one_line(status, words):
    with ChatServer(fail=[status] * 10, retry_after="0.01") as server:
        chat = client(server, max_retries=2)
        with pytest.raises(StageError, match=words) as info:
            chat.complete(ask("hi"))
        assert server.count == 3 and chat.usage.retries == 2 and "\n" not in str(info.value)


def test_timeouts_and_dropped_connections_are_retried():
    with ChatServer(fail=["stall", "drop"], stall_seconds=1.0) as server:
        chat = client(server, timeout=0.3)
        assert chat.complete(ask("hi")).content == "echo: hi"
        assert server.count == 3 and chat.usage.retries == 2


def test_a_server_that_never_answers_in_time_is_one_line():
    with ChatServer(fail=["stall"] * 5, stall_seconds=1.0) as server:
        chat = client(server, timeout=0.2, max_retries=1)
        started = time.perf_counter()
        with pytest.raises(StageError, match=r"\(model 'test-model'\) did not answer within 0.2 s \(2 attempts\)"):
            chat.complete(ask("hi"))
        assert server.count == 2 and time.perf_counter() - started < 1.9  # each attempt cut at 0.2 s


def test_a_refused_connection_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chat = ChatClient(f"http://127.0.0.1:{port}/v1", "m", max_retries=1)
    with pytest.raises(StageError, match=r"cannot be reached \(2 attempts; ConnectError: .*Connection refused"):
        chat.complete(ask("hi"))


# ----------------------------------------------------------------- structured output


def test_structured_output_sends_the_json_schema(server, tmp_path):
    chat = client(server, cache_dir=tmp_path)
    out = chat.complete(ask("hi"), schema=SCHEMA)
    assert json.loads(out.content) == {"echo": "echo: hi"} and out.structured and out.fallback is None
    assert server.requests[0].body["response_format"] == {"type": "json_schema", "json_schema": SCHEMA}
    assert chat.usage.structured == 1 and chat.usage.fallbacks == 0 and chat.fallback is None
    again = client(server, cache_dir=tmp_path).complete(ask("hi"), schema=SCHEMA)
    assert again.cached and again.structured and server.count == 1


def test_a_server_that_rejects_response_format_is_asked_in_plain_text_from_then_on(tmp_path):
    with ChatServer(response_format="reject") as server:
        chat = client(server, cache_dir=tmp_path, concurrency=1)
        first = chat.complete(ask("one"), schema=SCHEMA)
        assert first.content == "echo: one" and not first.structured
        assert (
            first.fallback
            == "the server rejected response_format (response_format of type 'json_schema' is not supported by this server)"
        )
        assert ["response_format" in seen.body for seen in server.requests] == [True, False]
        assert chat.fallback == first.fallback
        second = chat.complete(ask("two"), schema=SCHEMA)  # remembered: sent plain at once
        assert second.content == "echo: two" and second.fallback == first.fallback
        assert server.count == 3 and chat.usage.fallbacks == 2 and chat.usage.requests == 2
        rerun = client(server, cache_dir=tmp_path)
        again = rerun.complete_many([ask("one"), ask("two")], schema=SCHEMA)
        assert server.count == 3  # the fallbacks were cached with the answers
        assert [c.content for c in again] == ["echo: one", "echo: two"] and all(c.cached for c in again)
        assert rerun.usage.fallbacks == 2 and rerun.usage.cached == 2 and rerun.usage.requests == 0
    markers = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.rglob("*.json")]
    assert sorted("fallback" in m for m in markers) == [False, False, True, True]


def test_a_server_that_ignores_response_format_has_its_reply_parsed_as_plain_text():
    with ChatServer(response_format="ignore") as server:
        chat = client(server)
        out = chat.complete(ask("one"), schema=SCHEMA)
        assert out.content == "echo: one" and not out.structured
        assert out.fallback == "the server answered choice 0 with text that is not JSON: 'echo: one'"
        chat.complete(ask("two"), schema=SCHEMA)
        assert ["response_format" in seen.body for seen in server.requests] == [True, False]
        assert server.count == 2 and chat.usage.fallbacks == 2 and chat.usage.structured == 0


def test_the_pairs_schema_is_answered_as_an_object_the_parser_reads(server):
    passage = "서울은 대한민국의 수도이다. 한강이 서울을 가로지른다."
    out = client(server).complete(PromptTemplate.builtin("ko").messages(passage, 2), schema=PAIRS_SCHEMA)
    assert out.structured and list(json.loads(out.content)) == ["pairs"]
    assert [pair.answer for pair in parse_pairs(out.content).pairs][:2] == ["대한민국의", "가로지른다"]


# ----------------------------------------------------------------- cache


def test_the_cache_answers_a_repeated_request_without_sending_it(server, tmp_path):
    chat = client(server, cache_dir=tmp_path / "cache")
    first = chat.complete(ask("hi"), Sampling(seed=1, n=2))
    again = chat.complete(ask("hi"), Sampling(seed=1, n=2))
    assert server.count == 1 and again.cached and again.choices == first.choices and again.key == first.key
    assert chat.usage.cached == 1 and chat.usage.cached_prompt_tokens == first.prompt_tokens
    files = list((tmp_path / "cache").rglob("*"))
    entries = [f for f in files if f.is_file()]
    assert [f.name for f in entries] == [f"{first.key}.json"] and entries[0].parent.name == first.key[:2]
    saved = json.loads(entries[0].read_text(encoding="utf-8"))
    assert saved["request"]["messages"] == ask("hi") and saved["endpoint"] == server.base_url
    assert saved["response"]["choices"] == [
        {"content": "echo: hi", "finish_reason": "stop"},
        {"content": "echo: hi (choice 1)", "finish_reason": "stop"},
    ]
    chat.complete(ask("hi"), Sampling(seed=2, n=2))  # other parameters: another request
    assert server.count == 2


def test_the_cache_key_covers_endpoint_and_model_but_not_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer() as one, ChatServer() as two:
        first = ChatClient(one.base_url, "m", cache_dir=tmp_path).complete(ask("hi"))
        hit = ChatClient(one.base_url + "/", "m", api_key_env="CHAT_TEST_KEY", cache_dir=tmp_path).complete(ask("hi"))
        assert hit.cached and one.count == 1  # the same endpoint, now with a key
        other = ChatClient(two.base_url, "m", cache_dir=tmp_path).complete(ask("hi"))
        assert not other.cached and two.count == 1 and other.key != first.key  # another server of the same model
        ChatClient(two.base_url, "other-model", cache_dir=tmp_path).complete(ask("hi"))
        assert two.count == 2
    entries = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.rglob("*.json")]
    assert sorted(e["endpoint"] for e in entries) == sorted([one.base_url, two.base_url, two.base_url])
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8")
    body = {"model": "m", "messages": ask("hi"), "temperature": 0.0}
    assert request_key("http://127.0.0.1:1/v1", body) == request_key(
        "http://127.0.0.1:1/v1", dict(reversed(body.items()))
    )
    assert request_key("http://127.0.0.1:1/v1", body) != request_key("http://127.0.0.1:2/v1", body)


def test_a_reply_that_echoes_the_key_is_masked_before_it_is_used_or_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer(api_key=KEY, echo_key=True) as server:
        chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY", cache_dir=tmp_path)
        out = chat.complete(ask("hi"), Sampling(n=2))
        assert server.requests[0].authorization == f"Bearer {KEY}"
        assert [c.content for c in out.choices] == [
            "echo: hi (request authorized with ***)",
            "echo: hi (request authorized with ***) (choice 1)",
        ]
        assert chat.complete(ask("hi"), Sampling(n=2)).choices == out.choices  # the cached answer is the masked one
    (entry,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    saved = json.loads(entry.read_text(encoding="utf-8"))
    assert saved["response"]["model"] == "m for ***" and KEY not in entry.read_text(encoding="utf-8")


def test_a_corrupt_cache_entry_is_asked_again_and_replaced(server, tmp_path):
    chat = client(server, cache_dir=tmp_path)
    key = chat.complete(ask("hi")).key
    path = chat.cache_path(key)
    assert path is not None
    path.write_text("{not json", encoding="utf-8")
    assert not chat.complete(ask("hi")).cached and server.count == 2
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == key
    assert not [p for p in tmp_path.rglob("*.tmp")]


# ----------------------------------------------------------------- concurrency


def test_complete_many_runs_concurrently_and_keeps_input_order(server):
    chat = client(server, concurrency=4)
    texts = [f"item {i} sleep={delay}" for i, delay in enumerate((0.4, 0.3, 0.2, 0.1))] + ["item 4"]
    started = time.perf_counter()
    out = chat.complete_many([ask(t) for t in texts])
    assert [c.content for c in out] == [f"echo: {t}" for t in texts]
    assert time.perf_counter() - started < 0.9  # 1.0 s of sleeps, run side by side
    assert chat.usage.requests == 5 and chat.usage.seconds > 0


def test_complete_many_stops_sending_after_a_fatal_error():
    with ChatServer(api_key="the-right-key") as server:
        chat = client(server, concurrency=1)
        with pytest.raises(ConfigError, match="HTTP 401"):
            chat.complete_many([ask(f"item {i}") for i in range(6)])
        assert server.count == 1


def test_a_failed_batch_leaves_the_client_usable():
    with ChatServer(fail=[400]) as server:
        chat = client(server, concurrency=1)
        with pytest.raises(StageError, match="HTTP 400"):
            chat.complete_many([ask("a"), ask("b"), ask("c")])
        assert server.count == 1
        assert chat.complete(ask("d")).content == "echo: d"
        assert [c.content for c in chat.complete_many([ask("e"), ask("f")])] == ["echo: e", "echo: f"]


def test_complete_many_of_nothing_sends_nothing(server):
    assert client(server).complete_many([]) == [] and server.count == 0


def test_bad_settings_are_config_errors_that_do_not_echo_a_pasted_key():
    with pytest.raises(ConfigError, match="base_url must be an http"):
        ChatClient("127.0.0.1:8000/v1", "m")
    with pytest.raises(ConfigError) as info:
        ChatClient("http://127.0.0.1:8000/v1", "m", api_key_env=KEY)
    assert KEY not in str(info.value) and "NAME of an environment variable" in str(info.value)
    with pytest.raises(ConfigError, match="concurrency"):
        ChatClient("http://127.0.0.1:8000/v1", "m", concurrency=0)
    with pytest.raises(ConfigError, match="max_retries"):
        ChatClient("http://127.0.0.1:8000/v1", "m", max_retries=-1)


# ----------------------------------------------------------------- prompts and the reply parser


def test_builtin_templates_render_the_passage_and_count():
    for language in ("ko", "en"):
        messages = PromptTemplate.builtin(language).messages("지문 {본문} 입니다", 4)
        assert [m["role"] for m in messages] == ["system", "user"]
        user = messages[1]["content"]
        assert "<passage>\n지문 {본문} 입니다\n</passage>" in user and "4" in user
        assert '[{"question": ' in user
    assert "한국어" in PromptTemplate.builtin("ko").user
    with pytest.raises(ConfigError, match="no built-in prompt"):
        PromptTemplate.builtin("ja")


def test_user_templates_allow_only_passage_and_n(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text('Write {n} pairs as {{"question": ...}} about:\n{passage}', encoding="utf-8")
    template = PromptTemplate.from_file(path)
    assert template.messages("P", 2) == [{"role": "user", "content": 'Write 2 pairs as {"question": ...} about:\nP'}]
    for text, message in [
        ("{passage} in {lang}", r"unknown placeholder.*got '\{lang\}'"),
        ("{passage!r}", "unknown placeholder"),
        ("{passage:>10}", "unknown placeholder"),
        ("{}", "unknown placeholder"),
        ("{n} pairs", r"no \{passage\} placeholder"),
        ("{passage} {", "malformed prompt template"),
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            PromptTemplate.from_file(path)
    with pytest.raises(ConfigError, match="prompt template not found"):
        PromptTemplate.from_file(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "reply",
    [
        '[{"question": "Q?", "answer": "A"}]',
        'Sure! Here you go:\n```json\n[{"question": "Q?", "answer": "A"}]\n```\nAnything else?',
        'Notes [draft] first.\n[{"question": "Q?", "answer": "A"}] and that is all [1].',
        '{"pairs": [{"question": "Q?", "answer": "A"}]}',
        '```\n[{"question": "Q?", "answer": "A",},]\n```',
        '{"question": "Q?", "answer": "A"}',
        '[{"Question": " Q? ", "Answer": {"text": "A", "answer_start": 0}}]',
    ],
)
def test_parser_reads_the_first_array_in_its_many_wrappings(reply):
    assert parse_pairs(reply).items == [QAPair("Q?", "A")] and parse_pairs(reply).error is None


def test_parser_reports_bad_elements_and_unreadable_replies():
    parsed = parse_pairs('[{"question": "Q?", "answer": 1945}, "text", {"question": "only"}, {"answer": "A"}]')
    assert parsed.items[0] == QAPair("Q?", "1945")
    assert [type(i) for i in parsed.items[1:]] == [BadItem] * 3
    assert [i.detail for i in parsed.items[1:]] == ["element is not an object", "no answer text", "no question text"]
    for reply in ("", "I cannot help with that.", '[{"question": "Q?", "answer": ', '{"result": "none"}'):
        broken = parse_pairs(reply)
        assert broken.items == [] and broken.error
