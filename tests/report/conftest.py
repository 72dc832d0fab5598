"""Real runs of the ready pipelines on sample_data/, shared by the report tests (each made once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.pipeline import RunResult, run_pipeline
from tests.conftest import REPO


def run_ready(pipeline: str, folder: Path) -> RunResult:
    """Run ``pipelines/<pipeline>.yaml`` on its sample input into ``folder``."""
    from curate.pipeline import load_config

    config = load_config(REPO / "pipelines" / f"{pipeline}.yaml")
    return run_pipeline(config, input=REPO / config.input.path, output=folder)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The demo (``make demo``): pipelines/demo.yaml on sample_data/korquad_sample.json."""
    return run_ready("demo", tmp_path_factory.mktemp("demo") / "run")


@pytest.fixture(scope="session")
def classification_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """pipelines/classification.yaml on sample_data/reviews_cls.tsv (ends with label_issues)."""
    return run_ready("classification", tmp_path_factory.mktemp("classification") / "run")
