"""The package's layers (the import contract in pyproject.toml), no import cycles, one version."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import curate
from tests.conftest import REPO


def test_the_import_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_no_module_imports_another_that_imports_it_back():
    graph = grimp.build_graph("curate", cache_dir=None)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.find_shortest_chain(importer=imported, imported=module):
                cycles.append((module, imported))
    assert cycles == []
    assert graph.find_modules_that_directly_import("curate") == set()  # nothing inside reaches for the package


def test_the_version_is_defined_once():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "curate/_version.py"
    found = [
        str(path.relative_to(REPO))
        for path in (REPO / "curate").rglob("*.py")
        if re.search(r"^__version__ = ", path.read_text(encoding="utf-8"), re.M)
    ]
    assert found == ["curate/_version.py"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", curate.__version__)
    assert (REPO / "curate" / "py.typed").exists()


def test_a_stage_result_has_the_type_of_the_rows_it_was_called_on(tmp_path):
    """Type checkers see ``kept``/``rejected`` as what the stage was given (py.typed ships the hints)."""
    snippet = tmp_path / "use.py"
    snippet.write_text(
        "import polars as pl\nimport pyarrow as pa\nfrom curate.dataset import Dataset\n"
        "from curate.stages import LengthFilter\n"
        "stage = LengthFilter(field='text', min=1)\n"
        "reveal_type(stage(Dataset.from_arrow(pa.table({'text': ['a']}), 'corpus')).kept)\n"
        "reveal_type(stage(pl.DataFrame({'text': ['a']})).rejected)\n",
        encoding="utf-8",
    )
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run(
        [mypy, "--no-incremental", "--follow-imports=silent", "--ignore-missing-imports", str(snippet)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    revealed = re.findall(r'Revealed type is "([^"]+)"', result.stdout)
    assert revealed == ["curate.dataset.Dataset", "polars.dataframe.frame.DataFrame"], result.stdout
