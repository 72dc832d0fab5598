"""read_to_shards against read: the same rows, order, types, metadata, quarantine and errors,
whatever the shard size (1, 2, 7 rows), for every format and every file of the bad-input corpus;
the shards of one input share one schema and open as one Dataset; memory stays bounded by the
shard size on a large JSON Lines file."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from curate.dataset import Dataset, with_metadata
from curate.errors import CurateError
from curate.io import ShardedInput, read, read_to_shards, write, write_bundle
from curate.schemas import get_schema
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


def assert_same(src: Path, tmp_path: Path, shard_rows: int, **options: Any) -> ShardedInput | None:
    """read_to_shards(src) gives what read(src) gives (the shards written; None for an error)."""
    tmp_path.mkdir(exist_ok=True)
    skip = options.get("on_error") == "skip"
    whole_q, shard_q = tmp_path / "whole.q.jsonl", tmp_path / f"shards{shard_rows}.q.jsonl"
    status, expected = outcome(lambda: read(src, quarantine=whole_q if skip else None, **options))
    out = tmp_path / f"shards{shard_rows}"
    got_status, got = outcome(
        lambda: read_to_shards(src, out, shard_rows=shard_rows, quarantine=shard_q if skip else None, **options)
    )
    if status == "ok" and got_status == "error" and "Parquet cannot hold these rows" in got:
        assert got.startswith(f"Parquet cannot hold these rows at {out}: got ")  # read() keeps them in memory
        return None
    if status == got_status == "error":  # the chunked reader may name the line too, where Arrow's whole read cannot
        got, expected = (re.sub(r", line \d+,", ",", message) for message in (got, expected))
    assert (got_status, got if got_status == "error" else None) == (status, expected if status == "error" else None)
    if status == "error":
        assert not list(out.glob("part-*")) if out.exists() else True
        return None
    tables = [pq.read_table(p) for p in got.paths]
    schemas = {t.schema for t in tables}
    assert len(schemas) == 1, schemas  # one schema for every shard, metadata included
    assert all(t.num_rows <= shard_rows for t in tables)
    assert [Path(p).name for p in got.paths] == [f"part-{i:05d}.parquet" for i in range(len(got.paths))]
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


# ----------------------------------------------------------------------------- every format, generated rows


def _texts(rng: Any, n: int) -> list[str]:
    pieces = ["가", "나다", "😀", "e\u0301", " ", ",", '"', "'", "\\", "x", "1", "true"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def _classification(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": _texts(rng, n),
            "label": [rng.choice(["pos", "neg", "중립"]) for _ in range(n)],
            "score": [rng.choice([None, 0.5, 1.25, -3.0]) for _ in range(n)],
            "tags": [rng.choice([[], ["a"], ["b", "c"], None]) for _ in range(n)],
        }
    )


def _mrc(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    contexts = ["서울은 한국의 수도이다.", "Paris is in France.", "😀 emoji 😀"]
    rows = []
    for i in range(n):
        context = contexts[i // 3 % len(contexts)]
        start = rng.randint(0, len(context) - 2)
        answers = [{"text": context[start : start + 2], "answer_start": start}] if i % 4 else []
        rows.append(
            {
                "id": str(i),
                "title": f"t{i // 6}",
                "context": context,
                "question": f"q{i}?",
                "answers": answers,
                "is_impossible": not answers,
            }
        )
    return pa.Table.from_pylist(rows) if rows else get_schema("mrc").empty_table()


FORMATS = [
    ("classification", "data.jsonl"),
    ("classification", "data.jsonl.gz"),
    ("classification", "data.csv"),
    ("classification", "data.tsv"),
    ("classification", "data.parquet"),
    ("classification", "hf"),
    ("mrc", "squad.json"),
    ("mrc", "mrc.jsonl"),
    ("corpus", "beir"),
    ("qrels", "beir"),
]


@pytest.mark.parametrize(("kind", "name"), FORMATS)
@pytest.mark.parametrize("rows", [0, 1, 15])
def test_every_format_reads_to_the_same_shards(kind: str, name: str, rows: int, tmp_path: Path) -> None:
    if kind == "classification":
        table = _classification(rows, seed=rows)
    elif kind == "mrc":
        table = _mrc(rows, seed=rows)
    else:
        table = pa.table({"doc_id": [f"d{i}" for i in range(rows)], "text": _texts(random.Random(1), rows)})
    src = tmp_path / name
    if name == "beir":
        queries = pa.table({"query_id": ["q1", "q2"], "text": ["a", "b"]})
        qrels = pa.table({"query_id": ["q1"] * rows, "doc_id": [f"d{i}" for i in range(rows)], "score": [1] * rows})
        corpus = table if rows else pa.table({"doc_id": ["d0"], "text": ["x"]})
        parts = {
            "corpus": Dataset.from_arrow(corpus, "corpus"),
            "queries": Dataset.from_arrow(queries, "queries"),
            "qrels": Dataset.from_arrow(qrels, "qrels"),
        }
        write_bundle(parts, src, format="beir")
        (src / "qrels").mkdir(exist_ok=True)
        (src / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td0\t2\n", encoding="utf-8")
    elif name == "hf":
        pytest.importorskip("datasets")
        write(table, src, format="hf", kind=kind)
    else:
        if rows == 0 and name.endswith(".json"):
            src.write_text('{"version": "1.1", "data": []}', encoding="utf-8")
        else:
            write(table, src, kind=kind)
    for size in SIZES:
        got = assert_same(src, tmp_path / f"s{size}", size, kind=kind)
        whole_formats = ("hf",)
        assert got is None or got.streamed == (name not in whole_formats), name


JSONL_CASES = {
    # a later chunk widens a type: every shard gets the wide one
    "int_then_float": [{"id": "1", "text": "a", "n": 1}] * 3 + [{"id": "2", "text": "b", "n": 2.5}],
    # integers, then text: the whole column is text ("7")
    "int_then_text": [{"id": "1", "text": "a", "code": 7}] * 3 + [{"id": "2", "text": "b", "code": "x"}],
    # a column that first appears late, and a struct whose fields grow
    "late_column": [{"text": "a", "m": {"x": 1}}] * 3 + [{"text": "b", "late": [1, 2], "m": {"y": "z"}}],
    # nothing but nulls in the first chunks
    "nulls_first": [{"text": "a", "v": None}] * 4 + [{"text": "b", "v": [{"k": 1}]}],
    # no id column: generated ids count the rows of earlier chunks
    "generated_ids": [{"text": f"t{i}", "label": i % 2} for i in range(9)],
    # Arrow's fast reader and the line reader disagree on nothing here, but rows have leading spaces
    "leading_space": "LEAD",
    # a value Arrow cannot put with the values of an earlier chunk: read whole
    "clash": [{"text": "a", "v": [1]}] * 3 + [{"text": "b", "v": ["x"]}],
    # bad rows in several chunks, skipped or failing
    "bad_rows": "BAD",
}


def _jsonl_text(rows: Any) -> str:
    if rows == "LEAD":
        return "".join(f' {{"text": "t{i}", "label": "x"}}\n' for i in range(5))
    if rows == "BAD":
        return (
            '{"text": "a", "label": "x"}\n{"text": \n{"text": null, "label": "y"}\n\n'
            '{"text": "b", "label": 2.5}\n{"text": "c", "label": "z"}\n[1]\n{"text": "d", "label": "w"}\n'
        )
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_jsonl_types_decided_over_the_whole_file(case: str, on_error: str, tmp_path: Path) -> None:
    src = tmp_path / "data.jsonl"
    src.write_text(_jsonl_text(JSONL_CASES[case]), encoding="utf-8")
    kind = "classification" if case in ("generated_ids", "leading_space", "bad_rows") else "document"
    for size in SIZES:
        got = assert_same(src, tmp_path / f"s{size}", size, kind=kind, on_error=on_error)
        assert got is None or got.streamed == (case != "clash")


# ----------------------------------------------------------------------------- memory

_PEAK = """
import resource, sys
from curate.io import read_to_shards
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = read_to_shards(sys.argv[1], sys.argv[2], shard_rows=10_000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result.rows, result.streamed, len(result.paths), (peak - base) * 1024)
"""


@pytest.mark.slow
def test_memory_follows_the_shard_size_not_the_file_size(tmp_path: Path) -> None:
    src, rows = tmp_path / "big.jsonl.gz", 1_500_000
    line = '{"id": "r%d", "text": "row %d of the memory test, with some words to make it longer", "label": "l%d"}\n'
    size = 0
    with gzip.open(src, "wt", encoding="utf-8", compresslevel=1) as handle:
        for start in range(0, rows, 100_000):
            block = "".join(line % (i, i, i % 3) for i in range(start, start + 100_000))
            size += len(block.encode())
            handle.write(block)
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(src), str(tmp_path / "shards")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    read_rows, streamed, shards, grown = done.stdout.split()
    assert (int(read_rows), streamed, int(shards)) == (rows, "True", rows // 10_000)
    # reading the file whole holds at least its text (~160 MB) plus the table built from it;
    # chunk by chunk, what the process grows by stays well under half of the text
    assert int(grown) < size / 2, (int(grown) >> 20, size >> 20)


# ----------------------------------------------------------------------------- any JSON Lines file

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=2),
    max_leaves=4,
)
RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(0, 9), st.text("ab", min_size=1, max_size=2), st.none()),
            "text": st.text(max_size=3),
        },
        optional={"a": VALUES, "b": VALUES},
    ),
    min_size=1,
    max_size=9,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=RECORDS, on_error=st.sampled_from(["fail", "skip"]))
# Arrow's cast of this list of structs gives an invalid array: the file is read whole instead
@example(records=[{"id": None, "text": "", "a": [{"x": None}, None]}], on_error="fail")
@example(records=[{"id": "r1", "text": "", "a": [{"x": None}, None]}], on_error="fail")
def test_any_jsonl_file_reads_to_the_same_shards(tmp_path_factory: Any, records: list[dict], on_error: str) -> None:
    tmp_path = tmp_path_factory.mktemp("any")
    src = tmp_path / "any.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    for size in SIZES:
        assert_same(src, tmp_path / f"s{size}", size, kind="document", on_error=on_error)
