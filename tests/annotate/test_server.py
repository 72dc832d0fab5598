"""Label Studio server calls that fail before or at the first request: one clear error each.

The round trip against a running server is in tests/integration/test_label_studio_server.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from curate.annotate.server import TOKEN_ENV, connect, pull_export, push_tasks
from curate.errors import ConfigError
from tests.conftest import without_progress


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_missing_token_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError, match=TOKEN_ENV) as err:
        connect("http://127.0.0.1:8080")
    assert "export LABEL_STUDIO_API_KEY" in str(err.value)


def test_url_needs_a_scheme() -> None:
    with pytest.raises(ConfigError, match="http://"):
        connect("127.0.0.1:8080", token="x")


def test_server_down_names_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ConfigError, match="cannot reach Label Studio") as err:
        pull_export(url, 1, token="x")
    assert url in str(err.value)


def test_push_needs_a_title_or_project() -> None:
    with pytest.raises(ConfigError, match="title or an id"):
        push_tasks([], "<View/>", url="http://127.0.0.1:8080", token="x")


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with HTTP 400 and the request's headers in the body, as some proxies
    and debug servers do."""

    def do_GET(self) -> None:
        headers = "; ".join(f"{k}: {v}" for k, v in sorted(self.headers.items()))
        body = json.dumps({"detail": f"bad request with headers {headers}"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_server_that_echoes_the_token_gets_it_masked_in_the_error(echoing_server: str, tmp_path: Path) -> None:
    token = "f" * 8 + "0123456789abcdef0123456789abcdef"
    with pytest.raises(ConfigError, match=r"could not talk to \(HTTP 400\)") as err:
        connect(echoing_server, token=token)
    assert token not in str(err.value) and "Token ***" in str(err.value)
    env = {**os.environ, TOKEN_ENV: token}
    src = Path(__file__).resolve().parents[2] / "sample_data" / "reviews_cls.tsv"
    args = ["export", "label-studio", src, tmp_path / "ls", "--push", echoing_server]
    done = subprocess.run(
        [sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2 and without_progress(done.stderr).strip().count("\n") == 0, done.stderr
    assert token not in done.stderr + done.stdout and "***" in done.stderr
    assert not (tmp_path / "ls").exists()
