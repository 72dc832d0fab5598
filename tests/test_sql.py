"""User SQL is one expression over the rows, on DuckDB connections that cannot reach files, URLs or
extensions: injection attempts through every option that takes SQL fail in one line and touch nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import io, sql
from curate.errors import ConfigError, Where
from tests.conftest import REPO, without_progress

SAMPLES = REPO / "sample_data"
SECRET = "ZX-curate-secret-7731"


def curate(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True, check=False
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text(f"word\n{SECRET}\n", encoding="utf-8")
    return path


def attacks(secret: Path, target: Path) -> list[str]:
    """Predicates that would read ``secret``, write ``target``, attach, install or drop if run as SQL."""
    return [
        f"read_csv('{secret}')",
        f"(SELECT count(*) FROM read_csv('{secret}')) > 0",
        f"EXISTS (SELECT * FROM read_text('{secret}') WHERE content LIKE '%{SECRET}%')",
        f"text IN (SELECT word FROM '{secret}')",
        f"true) AS BOOLEAN); COPY (SELECT 1) TO '{target}'; SELECT (1",
        f"true) AS BOOLEAN) UNION SELECT 1 FROM read_csv('{secret}') WHERE CAST((true",
        "'; DROP TABLE rows; --",
        "true; DROP TABLE rows",
        f"true; ATTACH '{target}' AS other",
        "true; INSTALL httpfs",
        "true; LOAD httpfs",
        "true; SET enable_external_access = true",
        "true LIMIT 1",
    ]


def one_line_refusal(done: subprocess.CompletedProcess[str], option: str) -> None:
    assert done.returncode == 2, done.stderr
    error = without_progress(done.stderr).strip()
    assert error.count("\n") == 0 and error.startswith("error: bad SQL"), done.stderr
    assert option in done.stderr and SECRET not in done.stderr + done.stdout


# ----------------------------------------------------------------- connections


def test_connections_reach_no_file_url_or_extension(secret: Path, tmp_path: Path) -> None:
    con = sql.connect()
    settings = dict(
        con.sql(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'autoload_known_extensions', 'enable_external_access', 'lock_configuration')"
        ).fetchall()
    )
    assert settings == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "enable_external_access": "false",
        "lock_configuration": "true",
    }
    target = tmp_path / "written.csv"
    for statement in (
        f"SELECT * FROM read_csv('{secret}')",
        f"COPY (SELECT 42) TO '{target}'",
        f"ATTACH '{tmp_path / 'other.db'}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM 'https://example.com/data.parquet'",
        "SET enable_external_access = true",
        "SET autoload_known_extensions = true",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(statement).fetchall()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv"]


def test_a_reading_connection_reads_only_the_files_it_names(secret: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), data)
    con = sql.connect(reads=[data])
    assert con.sql(f"SELECT sum(x) FROM read_parquet('{data}')").fetchall() == [(3,)]
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        con.sql(f"SELECT * FROM read_csv('{secret}')").fetchall()


def test_every_duckdb_connection_of_curate_is_opened_by_curate_sql() -> None:
    opened = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "curate").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"duckdb\.(connect|sql|query|execute|read_\w+|from_\w+)\(", line)
    ]
    assert opened and all(o.startswith("curate/sql.py:") for o in opened), opened


# ----------------------------------------------------------------- expressions


def test_predicates_and_orders_over_the_rows() -> None:
    table = pa.table({"id": ["a", "b", "c", "d"], "n": [3, 1, None, 2], "text": ["서울", "x", "한강", None]})
    keep = sql.filter_rows(table, "n >= 2 -- a comment ends at the line", where=Where(field="where"))
    assert keep.to_pylist() == [True, False, False, True]  # null is not true
    assert sql.filter_rows(table, "regexp_matches(text, '[가-힣]')", where=Where()).to_pylist() == [
        True, False, True, False,
    ]  # fmt: skip
    assert sql.order_rows(table, "n DESC NULLS LAST", where=Where()).tolist() == [0, 3, 1, 2]
    assert sql.order_rows(table, "text IS NULL", where=Where()).tolist() == [0, 1, 2, 3]  # ties keep row order
    assert sql.filter_rows(table.slice(0, 0), "n > 1", where=Where()).to_pylist() == []


def test_anything_but_one_expression_is_refused_before_it_runs(secret: Path, tmp_path: Path) -> None:
    table = pa.table({"text": ["a", SECRET]})
    target = tmp_path / "written.csv"
    for attack in attacks(secret, target):
        with pytest.raises(ConfigError, match="bad SQL predicate at stage 's', field 'where'") as caught:
            sql.filter_rows(table, attack, where=Where(stage="s", field="where"))
        assert "\n" not in str(caught.value)
    for attack in (
        "text; INSTALL httpfs",
        "(SELECT 1)",
        "text LIMIT 1",
        f"text) UNION SELECT 1 FROM '{secret}' ORDER BY (1",
    ):
        with pytest.raises(ConfigError, match="bad SQL in order_by"):
            sql.order_rows(table, attack, where=Where(field="order_by"))
    with pytest.raises(ConfigError, match="WHERE clause cannot contain aggregates"):
        sql.filter_rows(table, "count(*) > 1", where=Where())
    assert not target.exists()


# ----------------------------------------------------------------- every option that takes SQL


def test_sql_filter_in_a_pipeline_refuses_injection(secret: Path, tmp_path: Path) -> None:
    target = tmp_path / "written.csv"
    for n, attack in enumerate(attacks(secret, target)[:6]):
        pipeline = tmp_path / f"p{n}.yaml"
        config = {
            "name": "attack",
            "input": {"path": str(SAMPLES / "reviews_cls.tsv")},
            "output": {"dir": str(tmp_path / f"run{n}")},
            "stages": [{"use": "sql_filter", "params": {"where": attack}}],
        }
        pipeline.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        done = curate("run", pipeline)
        one_line_refusal(done, "stage 'sql_filter', field 'where'")
    assert not target.exists()


def test_export_select_refuses_injection(secret: Path, tmp_path: Path) -> None:
    target = tmp_path / "written.csv"
    for n, attack in enumerate(attacks(secret, target)):
        out = tmp_path / f"ls{n}"
        done = curate("export", "label-studio", SAMPLES / "reviews_cls.tsv", out, "--select", attack)
        one_line_refusal(done, "field 'select'")
        assert not out.exists()
    assert not target.exists()
    fine = curate("export", "label-studio", SAMPLES / "reviews_cls.tsv", tmp_path / "ok", "--select", "label = 'neg'")
    assert fine.returncode == 0, fine.stderr


def test_dedup_order_by_refuses_injection(secret: Path, tmp_path: Path) -> None:
    target = tmp_path / "written.csv"
    src = tmp_path / "docs.jsonl"
    io.write(pa.table({"id": ["1", "2"], "text": ["같은 문장입니다", "같은 문장입니다"]}), src, kind="document")
    orders = [
        f"(SELECT count(*) FROM read_csv('{secret}'))",
        f"id; COPY (SELECT 1) TO '{target}'",
        f"id; ATTACH '{target}' AS other",
        "id; INSTALL httpfs",
        "id LIMIT 1",
    ]
    for n, attack in enumerate(orders):
        dst = tmp_path / f"out{n}.jsonl"
        done = curate("dedup", src, dst, "--keep", "sql", "--order-by", attack)
        one_line_refusal(done, "field 'order_by'")
        assert not dst.exists()
    assert not target.exists()
    kept = curate("dedup", src, tmp_path / "ok.jsonl", "--keep", "sql", "--order-by", "id DESC")
    assert kept.returncode == 0, kept.stderr
    assert io.read(tmp_path / "ok.jsonl").column("id").to_pylist() == ["2"]
