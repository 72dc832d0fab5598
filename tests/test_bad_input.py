"""The bad-input corpus (``tests/bad_input/``): every hostile file through the real command line.

Each case of ``tests/bad_input/cases.yaml`` ends in one error line with exit 2 (never an internal
error, exit 3), or in rows set aside with their reason, or in an accepted file. See the top of
``cases.yaml`` for what is checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from curate.cli import app
from tests.conftest import REPO, without_progress

CORPUS = REPO / "tests" / "bad_input"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
KEYS = {"file", "command", "to", "args", "error", "exit", "names", "rows", "quarantine", "problems", "setup"}


def case_id(case: dict[str, Any]) -> str:
    extra = " ".join(a for a in case.get("args", []) if a.startswith("--"))
    return " ".join(filter(None, [case.get("command", ""), case["file"], case.get("to", ""), extra, case.get("setup")]))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def destination(case: dict[str, Any], out: Path) -> Path:
    """The case's destination, with what its ``setup`` puts in the way."""
    dst = out / case.get("to", "out.parquet")
    if case.get("setup") == "output_is_folder":
        dst.mkdir()
    elif case.get("setup") == "output_parent_is_file":
        (out / "taken").write_text("a file, not a folder\n")
        dst = out / "taken" / "out.parquet"
    return dst


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_input(case: dict[str, Any], tmp_path: Path) -> None:
    assert set(case) <= KEYS, f"unknown keys in the case: {set(case) - KEYS}"
    out = tmp_path / "out"
    out.mkdir()
    src, dst = CORPUS / case["file"], destination(case, out)
    before = listing(out)
    command = case.get("command", "convert")
    args = [a.replace("{out}", str(out)) for a in case.get("args", [])]
    result = CliRunner().invoke(app, [command, str(src), *([str(dst)] if command == "convert" else []), *args])
    stderr = result.stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert result.exit_code == case.get("exit", 2 if "error" in case else 0), (result.stdout, stderr)
    if "error" in case:
        (line,) = without_progress(stderr).splitlines() or [""]
        assert line.startswith("error: "), stderr
        named = {"output": str(dst), "none": ""}.get(case.get("names", "input"), str(src))
        assert named in line, f"{named} not named in: {line}"
        for fragment in case["error"]:
            assert fragment in line, f"{fragment!r} not in: {line}"
        assert listing(out) == before, "something was left behind at the destination"
        return
    if "problems" in case:
        assert all(code in result.stdout for code in case["problems"]), result.stdout
    if "rows" in case:
        assert pq.read_metadata(dst).num_rows == case["rows"]
        assert f"({case['rows']:,} rows" in result.stdout
    quarantine = dst.with_name(dst.name + ".quarantine.jsonl")
    if "quarantine" in case:
        entries = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
        assert [e["location"] for e in entries] == [location for location, _ in case["quarantine"]]
        for entry, (_, fragment) in zip(entries, case["quarantine"], strict=True):
            assert fragment in entry["reason"], entry
            assert entry["raw"] and entry["file"] in (str(src), *map(str, src.rglob("*")))
        assert f"{len(entries):,} unreadable rows skipped" in stderr
    else:
        assert not quarantine.exists()


def test_every_file_of_the_corpus_has_a_case() -> None:
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".yaml") and p.name != "README"
    }
    covered = {case["file"] for case in CASES}
    missing = {f for f in files if not any(f == c or f.startswith(c + "/") for c in covered)}
    assert not missing, f"corpus files without a case: {sorted(missing)}"
    assert len(CASES) >= 60
