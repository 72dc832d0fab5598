"""README.md documents every command and every stage, and its contributing example is the real stage."""

import re

from typer.main import get_command

from curate import api
from curate.cli import app
from curate.stages import REGISTRY
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def command_paths(command, prefix=()):
    """``("schema", "show")`` and so on: every command of the typer app, sub-commands included."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from command_paths(sub, (*prefix, name))
    else:
        yield prefix


def test_every_command_is_in_the_readme():
    paths = [" ".join(path) for path in command_paths(get_command(app))]
    assert {"run", "stages", "schema show", "export label-studio"} <= set(paths)
    missing = [path for path in paths if f"curate {path}" not in README]
    assert missing == [], f"README.md does not show `curate {missing[0] if missing else ''}`"


def test_every_stage_is_in_the_readme():
    builtin = [name for name, cls in REGISTRY.items() if cls.__module__.startswith("curate.stages.")]
    missing = [name for name in builtin if f"`{name}`" not in README]
    assert missing == [], f"README.md does not mention the stage(s) {missing}"


def test_the_contributing_example_is_the_real_stage_and_test():
    section = README[README.index("## Contributing") :]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    stage = (REPO / "curate" / "stages" / "answer_in_question.py").read_text(encoding="utf-8")
    test = (REPO / "tests" / "stages" / "test_answer_in_question.py").read_text(encoding="utf-8")
    assert blocks[0] == stage
    assert blocks[1] in test and blocks[1].startswith("def test_")


def test_every_api_function_is_in_the_readme():
    functions = [name for name in api.__all__ if callable(getattr(api, name)) and name[0].islower()]
    assert {"dedup", "mine_negatives", "export_label_studio"} <= set(functions)
    section = README[README.index("### Library API") :]
    missing = [name for name in functions if f"`api.{name}(" not in section]
    assert missing == [], f"README.md's Library API does not list {missing}"
