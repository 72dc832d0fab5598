"""The stage registry: stages register themselves, declare a role, and may come from another package."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import curate
import curate.stages
from curate.stages import REGISTRY, ROLES, Stage
from tests.conftest import REPO

HELPERS = {"base", "dedup_rows", "dedup_shards", "fields", "scoring"}
"""Modules of curate/stages that hold shared code, not stages."""


def stage_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(curate.stages.__path__)]


def test_every_stage_module_defines_registered_stages():
    for name in stage_modules():
        module = importlib.import_module(f"curate.stages.{name}")
        defined = [
            cls
            for cls in vars(module).values()
            if inspect.isclass(cls) and issubclass(cls, Stage) and cls.__module__ == module.__name__
        ]
        named = [cls for cls in defined if "name" in vars(cls)]
        assert all(REGISTRY[cls.name] is cls for cls in named), name
        assert bool(named) != (name in HELPERS), f"curate/stages/{name}.py: stages {named}, helper: {name in HELPERS}"


def test_every_registered_stage_is_importable_from_curate_with_a_role():
    builtin = [cls for cls in REGISTRY.values() if cls.__module__.startswith("curate.stages.")]
    assert len(builtin) >= 29
    for cls in builtin:
        assert getattr(curate, cls.__name__) is cls and getattr(curate.stages, cls.__name__) is cls
        assert cls.__name__ in curate.__all__ and cls.__name__ in curate.stages.__all__
        assert cls.role in ROLES and cls.describe()
    namespace: dict = {}
    exec("from curate import *", namespace)
    assert namespace["ValidateSpans"] is REGISTRY["validate_spans"]
    with pytest.raises(AttributeError, match="no attribute 'NoSuchStage'"):
        curate.NoSuchStage  # noqa: B018


def test_a_stage_without_a_valid_role_or_with_a_taken_name_fails_when_defined(stage_registry):
    with pytest.raises(TypeError, match=r"must set role to one of filter, flag, rewrite, generate, convert: got None"):

        class NoRole(Stage):
            name = "no_role"

    with pytest.raises(TypeError, match="got 'clean'"):

        class BadRole(Stage):
            name = "bad_role"
            role = "clean"

    with pytest.raises(TypeError, match="stage name 'exact_dedup' .* is taken by curate.stages.exact_dedup.ExactDedup"):

        class Again(Stage):
            name = "exact_dedup"
            role = "filter"

    class Base(Stage):  # no name of its own: a base class, not registered
        role = "flag"

    assert "no_role" not in stage_registry and "bad_role" not in stage_registry
    assert (
        Base not in stage_registry.values() and stage_registry["exact_dedup"].__module__ == "curate.stages.exact_dedup"
    )


# ----------------------------------------------------------------- a stage of another package

THIRD_PARTY = '''
"""Stages of another package, used by a curate pipeline as ``house_rules:NoShouting``."""

import pyarrow as pa

from curate.stages.base import Params, Split, Stage, reject


class NoShoutingParams(Params):
    field: str = "question"
    """The text column checked."""


class NoShouting(Stage):
    """Reject rows whose text has three exclamation marks in a row."""

    name = "no_shouting"
    role = "filter"
    Params = NoShoutingParams
    params: NoShoutingParams

    def process(self, batch: pa.Table, kind: str) -> Split:
        texts = batch.column(self.params.field).to_pylist()
        keep = ["!!!" not in (text or "") for text in texts]
        return reject(batch, keep, stage=self.id, reasons="shouting")


class NotAStage:
    name = "not_a_stage"


class Unnamed(NoShouting):
    """Inherits the name of NoShouting."""
'''


def run_curate(tmp_path, pipeline: str):
    """``curate run`` of ``pipeline`` with ``tmp_path/pkg`` (holding house_rules.py) on PYTHONPATH."""
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "house_rules.py").write_text(textwrap.dedent(THIRD_PARTY), encoding="utf-8")
    (tmp_path / "pkg" / "broken_rules.py").write_text("import no_such_package_here\n", encoding="utf-8")
    (tmp_path / "pkg" / "roleless_rules.py").write_text(
        "from curate.stages.base import Stage\n\n\nclass Roleless(Stage):\n    name = 'roleless'\n", encoding="utf-8"
    )
    path = tmp_path / "pipeline.yaml"
    path.write_text(pipeline, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "pkg"), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-m", "curate", "run", str(path)], capture_output=True, text=True, env=env, cwd=tmp_path
    )


def pipeline_using(tmp_path, use: str) -> str:
    squad = REPO / "sample_data" / "korquad_sample.json"
    return textwrap.dedent(f"""\
        name: house
        input: {{path: {squad}}}
        output: {tmp_path / "run"}
        stages:
          - use: validate_spans
          - use: {use}
            params: {{field: question}}
        allow_empty_output: true
        """)


def test_a_pipeline_runs_a_stage_of_another_package(tmp_path):
    import pyarrow.parquet as pq

    result = run_curate(tmp_path, pipeline_using(tmp_path, "house_rules:NoShouting"))
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    assert (run / "02_no_shouting" / "kept.parquet").exists()  # the stage's name names its folder
    kept = pq.read_table(run / "02_no_shouting" / "kept.parquet")
    assert kept.num_rows == pq.read_table(run / "01_validate_spans" / "kept.parquet").num_rows
    assert "| no_shouting | filter |" in (run / "report.md").read_text(encoding="utf-8")
    assert "no_shouting" in result.stdout and "filter" in result.stdout


@pytest.mark.parametrize(
    ("use", "message"),
    [
        ("missing_rules:NoShouting", "cannot import module 'missing_rules'"),
        ("broken_rules:Anything", "cannot import module 'broken_rules'"),
        ("house_rules:NoSuchClass", "module 'house_rules' has no 'NoSuchClass'"),
        ("house_rules:NotAStage", "not a stage class"),
        ("house_rules:Unnamed", "stage class sets no name of its own"),
        ("roleless_rules:Roleless", "cannot import module 'roleless_rules'"),
        (":NoShouting", "bad stage class reference"),
    ],
)
def test_a_bad_stage_class_reference_is_one_line_naming_the_file_and_stage(tmp_path, use, message):
    result = run_curate(tmp_path, pipeline_using(tmp_path, use))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message} at {tmp_path / 'pipeline.yaml'}, field 'stages[1].use': got '{use}'")
    assert "Traceback" not in result.stderr
    if use.startswith("missing"):
        assert "ModuleNotFoundError: No module named 'missing_rules'; is its folder on PYTHONPATH?" in line
    if use.startswith("broken"):
        assert line.endswith("(hint: ModuleNotFoundError: No module named 'no_such_package_here')")
    if use.startswith("roleless"):
        assert "TypeError: stage class roleless_rules.Roleless ('roleless') must set role" in line
