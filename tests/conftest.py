"""Shared fixtures: tiny inline MRC rows and the path to the real data beside the checkout."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest

from curate.dataset import Dataset

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

CONTEXT = "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다. 한강이 서울을 가로지른다."


def answer(context: str, text: str, nth: int = 0) -> dict:
    """``{"text", "answer_start"}`` of the ``nth`` occurrence of ``text`` in ``context``."""
    start = -1
    for _ in range(nth + 1):
        start = context.index(text, start + 1)
    return {"text": text, "answer_start": start}


def mrc_rows() -> list[dict]:
    nfd = unicodedata.normalize("NFD", CONTEXT)
    return [
        {"id": "q1", "context": CONTEXT, "question": "대한민국의 수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "q2", "context": CONTEXT, "question": "서울의 인구는?", "answers": [answer(CONTEXT, "약 940만 명")]},
        {"id": "q3", "context": CONTEXT, "question": "서울을 가로지르는 강은?", "answers": [answer(CONTEXT, "한강")]},
        {
            "id": "q4",
            "context": nfd,
            "question": "수도는?",
            "answers": [answer(nfd, unicodedata.normalize("NFD", "서울"))],
        },
    ]


def mrc_table(rows: list[dict] | None = None) -> pa.Table:
    return Dataset.from_arrow(pa.Table.from_pylist(rows if rows is not None else mrc_rows()), "mrc").table


@pytest.fixture
def mrc() -> Dataset:
    return Dataset.from_arrow(pa.Table.from_pylist(mrc_rows()), "mrc")


def needs_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data beside the checkout)")
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly when the real Label Studio round trip or the browser tests were skipped because the
    server or Chromium is not installed."""
    from tests.integration.label_studio_server import NOT_INSTALLED as NO_LABEL_STUDIO
    from tests.report.chromium import NOT_INSTALLED as NO_CHROMIUM

    for what, reason in (("LABEL STUDIO", NO_LABEL_STUDIO), ("BROWSER (CHROMIUM)", NO_CHROMIUM)):
        skipped = [r for r in terminalreporter.stats.get("skipped", []) if reason in str(r.longrepr)]
        if skipped:
            terminalreporter.write_sep("!", f"{len(skipped)} {what} TESTS SKIPPED", red=True, bold=True)
            terminalreporter.write_line(reason, red=True, bold=True)


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WordPiece ``tokenizer.json`` trained on the sample data (``tests/tokenizer.py``)."""
    from tests.tokenizer import save_sample_tokenizer

    return save_sample_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tokenizer.json")
