"""Every test here talks to a local chat-completions server (tests/conftest.py refuses any other host)."""

import pytest

from tests.llm.chat_server import ChatServer


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running
