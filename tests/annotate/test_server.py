"""Label Studio server calls that fail before or at the first request: one clear error each.

The round trip against a running server is in tests/integration/test_label_studio_server.py.
"""

from __future__ import annotations

import socket

import pytest

from curate.annotate.server import TOKEN_ENV, connect, pull_export, push_tasks
from curate.errors import ConfigError


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
