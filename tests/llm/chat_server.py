"""A real local HTTP server speaking the OpenAI chat-completions protocol, for tests.

``ChatServer`` binds 127.0.0.1 (on a free port unless ``port`` is given) and serves
``POST /v1/chat/completions`` from a background thread, as the ``openai`` SDK sends it (extra
``X-Stainless-*`` headers, ``stream: false`` are fine; ``stream: true`` is refused). Its replies are
deterministic, derived from the prompt:

- When the user message holds a passage between ``<passage>`` and ``</passage>`` lines, the reply
  is a JSON array (after a line of prose, inside a code fence, as chat models like to answer) of
  question/answer pairs built from the passage: one cloze question per sentence (the sentence's
  longest word is the answer, the question is in the passage's language), for the first ``n``
  sentences (``n`` read from the prompt, plus ``extra_good``), then one bad pair of each kind: an
  answer that is not in the passage, a question in the other language, a near-duplicate of the
  first question, and an element without an answer. Answers and questions are NFC, as models write.
- Otherwise the reply echoes the last user message (``echo: ...``); a message containing
  ``sleep=<seconds>`` is answered after that delay.
- ``response_format`` of type ``json_schema`` (or ``json_object``) makes the reply bare JSON: the
  pairs as ``{"pairs": [...]}``, an echo as ``{"echo": ...}``.
- ``n`` > 1 gives ``n`` choices; choice ``k`` builds its cloze pairs from the sentences rotated by
  ``k`` (so samples differ in order, as sampled replies do) and an echo ends in ``(choice k)``.
- ``usage`` counts prompt and completion tokens (about 4 characters a token, all choices).

Knobs: ``fail`` (a queue of HTTP statuses, ``"stall"``, ``"drop"`` or ``"html"`` (a web page with
status 200) used by the first requests),
``retry_after`` (``Retry-After`` header sent with every injected status), ``stall_seconds``,
``malformed`` (every reply is prose without JSON), ``bad_choices`` (the first this many choices of
each reply are prose without JSON), a 3xx status in ``fail`` redirects elsewhere,
``response_format``: ``"accept"`` (default), ``"reject"`` (HTTP 400 naming ``response_format``, as
servers without structured output answer) or ``"ignore"`` (answered as if not sent), ``api_key``
(requests must carry ``Authorization: Bearer <api_key>``; a wrong key is quoted back in the error
message, as some hosted APIs do), ``echo_key`` (every answer repeats the key the request carried: in
the prose, in one more question/answer pair, in the echo and in the reply's ``model``), ``model``
(another model name gets a 404). Every request is recorded (``requests``, ``count``).

By hand: ``python -m tests.llm.chat_server [--port 8000] [--fail 429 --fail 500] [...]`` serves
until interrupted and prints its ``base_url``.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PASSAGE = re.compile(r"<passage>\n(.*?)\n</passage>", re.DOTALL)
COUNT = re.compile(r"(\d+)\s*(?:쌍|question/answer pairs|pairs)")
SLEEP = re.compile(r"sleep=([0-9.]+)")


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    authorization: str | None
    body: Any
    headers: dict[str, str]


def is_korean(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" for ch in text)


def sentences(passage: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", passage.strip()) if s.strip()]


def cloze(sentence: str, korean: bool) -> tuple[str, str]:
    """``(question, answer)``: the sentence's longest word (punctuation stripped) is the answer."""
    words = [w.strip(".,!?'\"()") for w in sentence.split()]
    answer = max((w for w in words if w), key=len)
    blanked = sentence.rstrip(".!?").replace(answer, "___", 1)
    if korean:
        return f"다음 문장의 빈칸에 들어갈 말은 무엇인가: {blanked}", answer
    return f"Which word fills the blank in the sentence: {blanked}?", answer


def qa_pairs(passage: str, n: int, extra_good: int = 0, rotate: int = 0) -> list[Any]:
    """Good cloze pairs (from the sentences rotated by ``rotate``), then one bad pair of each kind
    (see the module docstring)."""
    korean = is_korean(passage)
    parts = sentences(passage)
    shift = rotate % len(parts) if parts else 0
    parts = parts[shift:] + parts[:shift]
    good = [cloze(s, korean) for s in parts[: n + extra_good]]
    items: list[Any] = [{"question": q, "answer": a} for q, a in good]
    first_word = passage.split()[0]
    if korean:
        items.append({"question": "이 글에서 가장 오래된 기록은 무엇인가?", "answer": "지문에 없는 답변입니다"})
        items.append({"question": "What is the very first word of this passage?", "answer": first_word})
    else:
        items.append({"question": "What is the oldest record in this text?", "answer": "an answer nowhere in it"})
        items.append({"question": "이 지문의 첫 번째 단어는 무엇인가?", "answer": first_word})
    if good:
        items.append({"question": good[0][0] + "?", "answer": good[0][1]})
    items.append({"question": "an element without an answer"})
    return [_nfc(item) for item in items]


def _nfc(item: dict[str, str]) -> dict[str, str]:
    return {k: unicodedata.normalize("NFC", v) for k, v in item.items()}


class ChatServer:
    """See the module docstring. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | None = None,
        fail: list[int | str] | None = None,
        retry_after: str | None = None,
        malformed: bool = False,
        bad_choices: int = 0,
        extra_good: int = 0,
        stall_seconds: float = 1.0,
        echo_key: bool = False,
        response_format: str = "accept",
        port: int = 0,
    ) -> None:
        assert response_format in ("accept", "reject", "ignore"), response_format
        self.model = model
        self.api_key = api_key
        self.echo_key = echo_key
        self.fail = list(fail or [])
        self.retry_after = retry_after
        self.malformed = malformed
        self.bad_choices = bad_choices
        self.extra_good = extra_good
        self.stall_seconds = stall_seconds
        self.response_format = response_format
        self.port = port
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> ChatServer:
        server = _QuietServer(("127.0.0.1", self.port), _handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----------------------------------------------------------------- replies
    def record(self, seen: Seen) -> int | str | None:
        """Record a request; the failure it must meet, if any is queued."""
        with self._lock:
            self.requests.append(seen)
            return self.fail.pop(0) if self.fail else None

    def reply(self, body: dict[str, Any], key: str = "", choice: int = 0) -> str:
        """The content of choice ``choice`` for a request body sent with ``key``."""
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user")
        said = f" (request authorized with {key})" if self.echo_key else ""
        as_json = self.response_format == "accept" and isinstance(body.get("response_format"), dict)
        if self.malformed or choice < self.bad_choices:
            return "I am sorry, but I cannot produce questions for this text."
        if (found := PASSAGE.search(prompt)) is not None:
            count = COUNT.search(prompt)
            pairs = qa_pairs(found.group(1), int(count.group(1)) if count else 3, self.extra_good, rotate=choice)
            if self.echo_key:
                pairs.insert(0, {"question": f"{cloze(sentences(found.group(1))[0], False)[0]}{said}", "answer": key})
            if as_json:
                return json.dumps({"pairs": pairs}, ensure_ascii=False)
            return f"Here are the pairs{said}:\n```json\n" + json.dumps(pairs, ensure_ascii=False, indent=1) + "\n```"
        if choice == 0 and (sleep := SLEEP.search(prompt)) is not None:
            time.sleep(float(sleep.group(1)))
        echo = "echo: " + (body.get("messages") or [{}])[-1].get("content", "") + said
        echo += f" (choice {choice})" if choice else ""
        return json.dumps({"echo": echo}, ensure_ascii=False) if as_json else echo

    def completion(self, body: dict[str, Any], key: str = "") -> dict[str, Any]:
        """The chat completion object answering ``body``: ``n`` choices and the token counts."""
        n = body.get("n") or 1
        contents = [self.reply(body, key, choice) for choice in range(n)]
        prompt_tokens = len("\n".join(m.get("content", "") for m in body.get("messages", []))) // 4 + 1
        completion_tokens = sum(len(content) // 4 + 1 for content in contents)
        return {
            "id": f"chatcmpl-{self.count}",
            "object": "chat.completion",
            "created": 0,
            "model": f"{body.get('model')} for {key}" if self.echo_key else body.get("model"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                for i, content in enumerate(contents)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out or a dropped connection is expected here


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, {"error": {"message": message, "type": "test_error", "code": status}}, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = None
            authorization = self.headers.get("Authorization")
            failure = server.record(Seen(self.path, authorization, body, dict(self.headers.items())))
            if self.path != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}")
            if server.api_key is not None and authorization != f"Bearer {server.api_key}":
                sent = (authorization or "").removeprefix("Bearer ")
                return self._error(401, f"Incorrect API key provided: {sent}. You can find your API key in settings.")
            if failure == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            if failure == "html":  # a web page where the API should be
                page = b"<!doctype html><title>Welcome</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return None
            if failure == "stall":
                time.sleep(server.stall_seconds)
            elif isinstance(failure, int):
                headers = {"Retry-After": server.retry_after} if server.retry_after else {}
                if 300 <= failure < 400:
                    headers["Location"] = "http://127.0.0.1:9/elsewhere/chat/completions"
                return self._error(failure, f"injected failure {failure}", headers)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                return self._error(400, "'messages' is a required property")
            if body.get("stream"):
                return self._error(400, "streaming is not supported by this server")
            if server.model is not None and body.get("model") != server.model:
                return self._error(404, f"The model `{body.get('model')}` does not exist.")
            if server.response_format == "reject" and "response_format" in body:
                kind = (body["response_format"] or {}).get("type")
                return self._error(400, f"response_format of type '{kind}' is not supported by this server")
            key = (authorization or "").removeprefix("Bearer ")
            return self._send(200, server.completion(body, key))

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve on 127.0.0.1 until interrupted (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.llm.chat_server", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--model", help="the only model name served (others get a 404)")
    parser.add_argument("--api-key", help="the key requests must carry")
    parser.add_argument("--fail", action="append", default=[], help="a status, 'stall' or 'drop' for the next request")
    parser.add_argument("--retry-after", help="Retry-After header sent with injected statuses")
    parser.add_argument("--response-format", choices=("accept", "reject", "ignore"), default="accept")
    parser.add_argument("--echo-key", action="store_true", help="repeat the request's key in every answer")
    args = parser.parse_args(argv)
    fail: list[int | str] = [int(f) if f.isdigit() else f for f in args.fail]
    server = ChatServer(
        model=args.model,
        api_key=args.api_key,
        fail=fail,
        retry_after=args.retry_after,
        echo_key=args.echo_key,
        response_format=args.response_format,
        port=args.port,
    ).start()
    print(f"serving {server.base_url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
