"""ChatClient against a real local chat-completions server; prompt templates and the reply parser."""

from __future__ import annotations

import json
import socket
import time

import pytest

from curate.errors import ConfigError, StageError
from curate.llm.client import ChatClient, parse_retry_after, request_key
from curate.llm.prompts import BadItem, PromptTemplate, QAPair, parse_pairs
from tests.llm.chat_server import ChatServer

KEY = "sk-test-4f9a1c77e2b94d0c8a51-SECRET"


def client(server: ChatServer, **kwargs) -> ChatClient:
    options = {"backoff": 0.001, "max_retries": 3, "timeout": 5.0, **kwargs}
    return ChatClient(server.base_url, "test-model", **options)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# ----------------------------------------------------------------- protocol


def test_complete_posts_the_chat_completions_protocol(server):
    chat = client(server)
    out = chat.complete(ask("hello"), temperature=0.2, max_tokens=50, seed=7)
    assert out.content == "echo: hello" and out.finish_reason == "stop" and not out.cached
    (seen,) = server.requests
    assert seen.path == "/v1/chat/completions" and seen.authorization is None
    assert seen.body == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0.2,
        "max_tokens": 50,
        "seed": 7,
    }
    chat.complete(ask("json please"), response_format={"type": "json_object"})
    assert server.requests[1].body["response_format"] == {"type": "json_object"}
    assert "max_tokens" not in server.requests[1].body and "seed" not in server.requests[1].body
    assert chat.usage.requests == 2 and chat.usage.prompt_tokens > 0 and chat.usage.completion_tokens > 0


def test_the_key_comes_from_the_named_environment_variable_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer(api_key=KEY) as server:
        chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY")
        assert chat.complete(ask("hi")).content == "echo: hi"
        assert server.requests[0].authorization == f"Bearer {KEY}"
        assert KEY not in repr(chat) and KEY not in json.dumps(chat.usage.as_dict())


def test_a_rejected_key_fails_fast_in_one_line_without_the_key(monkeypatch):
    monkeypatch.setenv("CHAT_TEST_KEY", KEY)
    with ChatServer(api_key="the-right-key") as server:
        chat = ChatClient(server.base_url, "m", api_key_env="CHAT_TEST_KEY", max_retries=5, backoff=0.001)
        with pytest.raises(ConfigError) as info:
            chat.complete(ask("hi"))
        message = str(info.value)
        assert server.count == 1  # not retried
        assert "\n" not in message and KEY not in message
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
        assert server.count == 1
        assert words in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_model_is_a_404_config_error():
    message = r"HTTP 404: The model `test-model` does not exist.*check that model"
    with ChatServer(model="served-model") as server, pytest.raises(ConfigError, match=message):
        client(server).complete(ask("hi"))


# ----------------------------------------------------------------- retries


def test_429_and_5xx_are_retried_with_backoff_then_succeed():
    with ChatServer(fail=[429, 500, 503]) as server:
        chat = client(server)
        assert chat.complete(ask("hi")).content == "echo: hi"
        assert server.count == 4 and chat.usage.retries == 3 and chat.usage.requests == 1
        assert 0 < chat.usage.waited < 0.05  # backoff 0.001 doubling, jittered


def test_retry_after_is_honoured():
    with ChatServer(fail=[429], retry_after="0.3") as server:
        chat = client(server)
        started = time.perf_counter()
        chat.complete(ask("hi"))
        assert time.perf_counter() - started >= 0.3 and chat.usage.waited >= 0.3


def test_retry_after_forms():
    assert parse_retry_after("2") == 2.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a past date: no wait
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("86400") == 600.0


def test_gives_up_after_max_retries_in_one_line():
    with ChatServer(fail=[500] * 10) as server:
        with pytest.raises(StageError, match=r"failed after 3 attempts \(HTTP 500: injected failure 500\)") as info:
            client(server, max_retries=2).complete(ask("hi"))
        assert server.count == 3 and "\n" not in str(info.value)


def test_timeouts_and_dropped_connections_are_retried():
    with ChatServer(fail=["stall", "drop"], stall_seconds=1.0) as server:
        chat = client(server, timeout=0.3)
        assert chat.complete(ask("hi")).content == "echo: hi"
        assert server.count == 3 and chat.usage.retries == 2


def test_a_refused_connection_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chat = ChatClient(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff=0.001)
    with pytest.raises(StageError, match=r"failed after 2 attempts \(ConnectionRefusedError"):
        chat.complete(ask("hi"))


# ----------------------------------------------------------------- cache


def test_the_cache_answers_a_repeated_request_without_sending_it(server, tmp_path):
    chat = client(server, cache_dir=tmp_path / "cache")
    first = chat.complete(ask("hi"), seed=1)
    again = chat.complete(ask("hi"), seed=1)
    assert server.count == 1 and again.cached and again.content == first.content and again.key == first.key
    assert chat.usage.cached == 1 and chat.usage.cached_prompt_tokens == first.prompt_tokens
    files = list((tmp_path / "cache").rglob("*"))
    entries = [f for f in files if f.is_file()]
    assert [f.name for f in entries] == [f"{first.key}.json"] and entries[0].parent.name == first.key[:2]
    saved = json.loads(entries[0].read_text(encoding="utf-8"))
    assert saved["request"]["messages"] == ask("hi") and saved["response"]["content"] == "echo: hi"
    chat.complete(ask("hi"), seed=2)  # other parameters: another request
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
        out = chat.complete(ask("hi"))
        assert server.requests[0].authorization == f"Bearer {KEY}"
        assert out.content == "echo: hi (request authorized with ***)"
        assert chat.complete(ask("hi")).content == out.content  # the cached answer is the masked one
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
