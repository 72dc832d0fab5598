"""read_to_shards against read: the same rows, order, types, metadata, quarantine and errors,
whatever the shard size (1, 2, 7 rows), for every format and every file of the bad-input corpus;
the shards of one input share one schema and open as one Dataset; memory stays bounded by the
shard size on a large JSON Lines file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate.dataset import with_metadata
from curate.errors import CurateError
from curate.io import read, read_to_shards
from tests.conftest import REPO

CORPUS = REPO / "tests" / "bad_input"
SIZES = (1, 2, 7)


def _options(case: dict[str, Any]) -> dict[str, Any]:
    """read() options from a bad-input case's command-line arguments (None: not a plain read)."""
    args = list(case.get("args", []))
    options: dict[str, Any] = {}
    rename: dict[str, str] = {}
    while args:
        flag = args.pop(0)
        if flag == "--skip-bad-rows":
            options["on_error"] = "skip"
        elif flag in ("--kind", "--from", "--rename") and args:
            value = args.pop(0)
            if flag == "--rename":
                if "=" not in value:
                    return {}
                source, target = value.split("=", 1)
                rename[source] = target
            else:
                options["kind" if flag == "--kind" else "format"] = value
        else:
            return {}
    if rename:
        options["rename"] = rename
    return options


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for case in cases:
        if case.get("command", "convert") != "convert" or case.get("setup") or "to" in case:
            continue
        options = _options(case)
        if case.get("args") and not options:
            continue
        for on_error in ("fail", "skip"):
            both = {**options, "on_error": options.get("on_error", on_error)}
            key = f"{case['file']} {sorted(both.items())}"
            found.setdefault(key, (case["file"], both))
    return list(found.values())


def outcome(action: Any) -> tuple[str, Any]:
    try:
        return "ok", action()
    except CurateError as exc:
        return "error", str(exc)


def assert_same(src: Path, tmp_path: Path, shard_rows: int, **options: Any) -> None:
    """read_to_shards(src) gives what read(src) gives."""
    skip = options.get("on_error") == "skip"
    whole_q, shard_q = tmp_path / "whole.q.jsonl", tmp_path / f"shards{shard_rows}.q.jsonl"
    status, expected = outcome(lambda: read(src, quarantine=whole_q if skip else None, **options))
    out = tmp_path / f"shards{shard_rows}"
    got_status, got = outcome(
        lambda: read_to_shards(src, out, shard_rows=shard_rows, quarantine=shard_q if skip else None, **options)
    )
    assert (got_status, got if got_status == "error" else None) == (status, expected if status == "error" else None)
    if status == "error":
        assert not list(out.glob("part-*")) if out.exists() else True
        return
    tables = [pq.read_table(p) for p in got.paths]
    schemas = {t.schema for t in tables}
    assert len(schemas) == 1, schemas  # one schema for every shard, metadata included
    assert all(t.num_rows <= shard_rows for t in tables)
    assert [p.name for p in got.paths] == [f"part-{i:05d}.parquet" for i in range(len(got.paths))]
    whole = with_metadata(expected.table, expected.metadata)
    shards = pa.concat_tables(tables)
    assert shards.schema == whole.schema
    assert shards.schema.metadata == whole.schema.metadata
    assert shards.equals(whole), (shards.to_pylist()[:3], whole.to_pylist()[:3])
    assert (got.rows, got.kind, got.metadata) == (expected.num_rows, expected.kind, expected.metadata)
    if skip:
        assert shard_q.read_bytes() == whole_q.read_bytes()
        assert got.quarantined == int(expected.metadata["quarantined_rows"])
    dataset = got.dataset()
    assert (dataset.kind, dataset.num_rows, dataset.metadata) == (expected.kind, expected.num_rows, expected.metadata)
    assert (
        dataset.to_arrow()
        .select(expected.table.column_names[:1])
        .equals(expected.table.select(expected.table.column_names[:1]))
    )


@pytest.mark.parametrize(("file", "options"), _cases(), ids=lambda v: v if isinstance(v, str) else str(v))
def test_bad_input_files_read_to_the_same_shards(file: str, options: dict[str, Any], tmp_path: Path) -> None:
    for size in SIZES:
        assert_same(CORPUS / file, tmp_path, size, **options)
