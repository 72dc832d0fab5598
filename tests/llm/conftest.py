"""Every test here talks to a local chat-completions server; a request to any other host fails."""

import pytest

from tests.llm.chat_server import ChatServer, loopback_only


@pytest.fixture(autouse=True)
def no_request_leaves_the_machine(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with loopback_only() as refused:
        yield
    assert not refused


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running
