"""Near-duplicate removal at scale: curate's ``minhash_dedup`` on each executor against datatrove,
side by side on the scale corpus.

    .venv/bin/python benchmarks/scale_dedup.py [--rows 10000000] [--work DIR]
        [--only curate-local,curate-processes,curate-ray,datatrove,curate-ray-storage] [--timeout 7200]

The corpus is ``benchmarks/scale_corpus.py``'s (seed 13, copy rate 0.3), built under
``WORK/corpus-<rows>`` on first use and reused after. Systems, each a subprocess in its own session:

- ``curate-local``, ``curate-processes`` (2 workers), ``curate-ray`` (a Ray head of 2 CPUs this script
  starts on 127.0.0.1 and stops at the end, the curate run joining it): ``curate run`` on a pipeline
  of one stage, ``minhash_dedup`` on ``text`` with its defaults, reading the corpus' Parquet folder as
  kind ``document`` (``id``, ``text``).
- ``datatrove``: its four MinHash stages (``benchmarks/peers/datatrove_minhash.py``, settings of
  ``benchmarks/dedup.py``) on the corpus written as JSON Lines shards (not timed), 2 workers.
- ``curate-ray-storage`` (only when named in ``--only``): the ``curate-ray`` run with
  ``executor.storage`` on an S3 server (moto's, on 127.0.0.1, objects in memory) this script starts:
  what exchanging the rows through an object store costs.

Prints Markdown: per system the wall time, rows a second, the peak resident memory of the largest
process and of all processes together (RSS and PSS summed; for ``curate-ray`` the Ray head's processes
are counted too), rows removed, the precision and recall of removal against the corpus' truth
(``ground_truth.removal_scores_sql``, in DuckDB), and whether the curate executors agree on the
clusters artifact and the kept rows. Then the reference: the in-memory engine
(``curate dedup``'s, one search over all rows) on the 712,404 NSMC reviews, and the target that
curate's rows a second at 10M rows are at least half of its.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_corpus
from dedup import (
    CURATE,
    PROJECT_PY,
    REPO,
    REVIEWS,
    DataSet,
    Measurement,
    _base_env,
    _session_pids,
    chosen_systems,
    datatrove_system,
    ensure_env,
    log_tail,
    machine_lines,
    measure,
)
from ground_truth import removal_scores_sql

SYSTEMS = ("curate-local", "curate-processes", "curate-ray", "datatrove", "curate-ray-storage")
DEFAULT_SYSTEMS = SYSTEMS[:4]
EXECUTOR = {
    "curate-local": "local",
    "curate-processes": "processes",
    "curate-ray": "ray",
    "datatrove": "local (2)",
    "curate-ray-storage": "ray + storage",
}
RAY_SYSTEMS = ("curate-ray", "curate-ray-storage")
WORKERS = 2
RAY = REPO / ".venv" / "bin" / "ray"
TARGET_ROWS = 10_000_000
DATATROVE_NOTE = (
    "- datatrove: `benchmarks/peers/datatrove_minhash.py` with the settings of `benchmarks/dedup.py` (word 5-grams "
    "of Kiwi tokens, 9 x 13 hashes, no similarity check), on the corpus as JSON Lines, one task per shard, "
    f"{WORKERS} workers."
)

STORAGE_NOTE = (
    "- curate-ray-storage: the `ray` run with `executor.storage: s3://<bucket>/exchange/`: every row the tasks "
    "read and write "
    "(input shards, stage parts, scratch files) goes through a moto S3 server on 127.0.0.1 (not counted in the "
    "memory columns), the run folder's stage files copied down by the `curate` process."
)


@dataclass
class Run:
    system: str
    rows: int
    measurement: Measurement | None = None
    kept: str = ""  # a DuckDB table expression with the kept ids
    folder: Path | None = None  # curate's run folder
    problem: str = ""


# ----------------------------------------------------------------------------------------------
# inputs


def corpus(work: Path, rows: int) -> Path:
    """``WORK/corpus-<rows>`` with ``corpus/`` and ``truth/``, built unless a finished build is there."""
    out = work / f"corpus-{rows}"
    done = out / "built.json"
    if done.exists():
        return out
    shard_rows = min(500_000, -(-rows // 4))  # at least 4 shards, so datatrove's 2 workers both read
    print(f"<!-- building the corpus of {rows:,} rows in {out} -->", file=sys.stderr)
    for name in ("corpus", "truth"):
        for old in (out / name).glob("part-*.parquet"):
            old.unlink()
    counts = scale_corpus.build(out, rows=rows, copy_rate=0.3, shard_rows=shard_rows, seed=13)
    done.write_text(json.dumps({"rows": rows, "shard_rows": shard_rows, "counts": counts}))
    return out


def jsonl_shards(data: Path, con: duckdb.DuckDBPyConnection) -> DataSet:
    """The corpus as JSON Lines shards (``id``, ``text``) for datatrove, one per Parquet shard."""
    folder = data / "datatrove-input"
    shards = folder / "shards"
    parts = sorted((data / "corpus").glob("part-*.parquet"))
    if not (folder / "done").exists():
        shards.mkdir(parents=True, exist_ok=True)
        for part in parts:
            target = shards / part.name.replace(".parquet", ".jsonl")
            con.execute(f"COPY (SELECT id, text FROM read_parquet('{part}')) TO '{target}' (FORMAT json)")
        (folder / "done").write_text("")
    return DataSet("scale", folder, [], [])


def nsmc_parquet(work: Path) -> Path:
    """The NSMC reviews as Parquet (``id``: review id, ``text``: review), every row."""
    path = work / "nsmc" / "reviews.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        ids, texts = [], []
        with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                ids.append(str(row["review_id"]))
                texts.append(row["review"])
        pq.write_table(pa.table({"id": ids, "text": texts}), path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
    return path


# ----------------------------------------------------------------------------------------------
# the Ray head


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ray_env(work: Path) -> dict[str, str]:
    """What the Ray head and the curate run joining it share: loopback only, one token for both."""
    env = curate_env(work)
    token = work / "ray-token"
    if not token.exists():
        token.write_text(secrets.token_hex(16))
    env.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token.read_text())
    return env


@contextlib.contextmanager
def ray_head(work: Path) -> Iterator[tuple[str, int]]:
    """A Ray head of ``WORKERS`` CPUs on 127.0.0.1: yields its address and the session of its
    processes; stops exactly those processes at the end (``ray stop`` would stop every Ray of the
    machine's user)."""
    port = free_port()
    log = work / "ray-head.log"
    cmd = [
        str(RAY),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={WORKERS}",
        "--include-dashboard=false",
        f"--port={port}",
        f"--temp-dir={work / 'ray'}",
    ]
    with log.open("w", encoding="utf-8") as out:
        head = subprocess.Popen(cmd, env=ray_env(work), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if head.wait(timeout=180) != 0:
            raise RuntimeError(f"ray start failed: {log_tail(log)}")
        yield f"127.0.0.1:{port}", head.pid
    finally:
        stop_session(head.pid)


def stop_session(session: int, grace: float = 15.0) -> None:
    """SIGTERM every process of ``session``, SIGKILL those left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _session_pids(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while _live(session) and time.monotonic() < deadline:
            time.sleep(0.2)


def _live(session: int) -> list[int]:
    """Processes of ``session`` that are not zombies."""
    live = []
    for pid in _session_pids(session):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            stat = handle.read()
            if stat[stat.rfind(")") + 2] != "Z":
                live.append(pid)
    return live


@contextlib.contextmanager
def s3_server() -> Iterator[tuple[dict[str, str], str]]:
    """The tests' S3 server (moto's, objects in memory) on 127.0.0.1: yields the ``AWS_*`` variables
    that reach it and a new bucket's ``s3://`` URL; stopped at the end."""
    sys.path.insert(0, str(REPO))
    from tests.s3_server import create_bucket, running_server, settings

    with running_server() as server:
        yield settings(server), create_bucket(server)


# ----------------------------------------------------------------------------------------------
# systems


def curate_env(work: Path) -> dict[str, str]:
    """The base environment with this checkout's curate first on the path (Ray workers included)."""
    return _base_env(work) | {"PYTHONPATH": str(REPO)}


def pipeline_yaml(data: Path, out: Path, executor: dict[str, object]) -> str:
    """One stage, ``minhash_dedup`` on ``text`` with its defaults, on the corpus as kind ``document``."""
    pipeline = {
        "name": "scale_dedup",
        "input": {"path": str(data / "corpus"), "kind": "document"},
        "output": str(out),
        "stages": [{"use": "minhash_dedup", "params": {"fields": ["text"]}}],
        "executor": executor,
    }
    return json.dumps(pipeline, indent=2)  # JSON is YAML


def run_curate(
    system: str,
    data: Path,
    rows: int,
    work: Path,
    timeout: float,
    ray: tuple[str, int] | None,
    s3: tuple[dict[str, str], str] | None = None,
) -> Run:
    folder = work / f"runs-{rows}" / system
    executor: dict[str, object] = {"name": "ray" if system in RAY_SYSTEMS else EXECUTOR[system]}
    sessions: tuple[int, ...] = ()
    env = curate_env(work)
    if system == "curate-processes":
        executor["workers"] = WORKERS
    if system in RAY_SYSTEMS:
        if ray is None:
            return Run(system, rows, problem="no Ray head")
        executor["address"], session = ray
        sessions = (session,)
        env = ray_env(work)
    if system == "curate-ray-storage":
        if s3 is None:
            return Run(system, rows, problem="no S3 server")
        variables, bucket = s3
        executor["storage"] = f"{bucket}/exchange/"
        env = env | variables
    shutil.rmtree(folder, ignore_errors=True)  # every run reads its input and runs its stage afresh
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = work / f"runs-{rows}" / f"{system}.yaml"
    config.write_text(pipeline_yaml(data, folder / "out", executor), encoding="utf-8")
    print(f"<!-- running {system} on {rows:,} rows -->", file=sys.stderr)
    cmd = [str(CURATE), "run", str(config), "--quiet"]
    m = measure(cmd, cwd=work, log=folder.with_suffix(".log"), env=env, timeout=timeout, sessions=sessions)
    found = Run(system, rows, m, f"read_parquet('{folder / 'out' / 'output.parquet'}')", folder / "out")
    return _checked(found, m, timeout)


def run_datatrove(data: Path, rows: int, work: Path, timeout: float, con: duckdb.DuckDBPyConnection) -> Run:
    env = ensure_env("datatrove")
    if env.python is None:
        return Run("datatrove", rows, problem=f"not available: {env.problem}")
    ds = jsonl_shards(data, con)
    folder = work / f"runs-{rows}" / "datatrove"
    shutil.rmtree(folder, ignore_errors=True)  # datatrove skips the tasks it finished before otherwise
    folder.mkdir(parents=True)
    cmd, cwd, run_env = datatrove_system(env).command(ds, folder)
    print(f"<!-- running datatrove on {rows:,} rows -->", file=sys.stderr)
    m = measure(cmd, cwd=cwd, log=folder / "run.log", env=run_env, timeout=timeout)
    kept = f"read_json('{folder / 'dt' / 'kept'}/*.jsonl', columns = {{'id': 'VARCHAR'}})"
    return _checked(Run("datatrove", rows, m, kept), m, timeout)


def _checked(found: Run, m: Measurement, timeout: float) -> Run:
    if m.timed_out:
        found.problem = f"stopped after {timeout:.0f} s (timeout)"
    elif m.returncode != 0:
        found.problem = f"failed (exit {m.returncode}): {log_tail(m.log)}"
    return found


def reference(work: Path, timeout: float) -> tuple[int, Measurement]:
    """The in-memory engine (one search over every row: ``shard_rows`` above the row count) on the
    NSMC reviews, as ``curate dedup`` ran it before the split search."""
    src = nsmc_parquet(work)
    rows = pq.ParquetFile(src).metadata.num_rows
    folder = work / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys\n"
        "from curate.api import dedup\n"
        "from curate.stages.minhash_dedup import MinHashDedupParams\n"
        "dedup(sys.argv[1], sys.argv[2], MinHashDedupParams(fields=['text'], shard_rows=int(sys.argv[3])),"
        " kind='document')\n"
    )
    cmd = [str(PROJECT_PY), "-c", code, str(src), str(folder / "kept.parquet"), str(rows + 1)]
    print("<!-- running the in-memory reference on the NSMC reviews -->", file=sys.stderr)
    return rows, measure(cmd, cwd=work, log=folder / "run.log", env=curate_env(work), timeout=timeout)


# ----------------------------------------------------------------------------------------------
# comparing


def rows_differ(con: duckdb.DuckDBPyConnection, a: str, b: str) -> int:
    """Rows in one of two tables (DuckDB table expressions with the same columns) and not the other,
    counted with multiplicity."""
    count = con.execute(
        f"SELECT (SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})) + "
        f"(SELECT count(*) FROM (FROM {b} EXCEPT ALL FROM {a}))"
    ).fetchone()
    return int(count[0]) if count else 0


def agreement(con: duckdb.DuckDBPyConnection, runs: list[Run]) -> dict[str, str]:
    """Per curate run: whether its clusters artifact and kept ids equal the first curate run's."""
    done = [r for r in runs if r.folder is not None and not r.problem]
    out: dict[str, str] = {}
    if len(done) < 2:
        return out
    first = done[0]
    for r in done:
        if r is first:
            out[r.system] = "(compared with this)"
            continue
        assert r.folder is not None and first.folder is not None
        clusters = rows_differ(con, _clusters(first.folder), _clusters(r.folder))
        kept = rows_differ(con, f"(SELECT id FROM {first.kept})", f"(SELECT id FROM {r.kept})")
        differ = f"NO: {clusters:,} cluster rows, {kept:,} kept ids differ"
        out[r.system] = f"yes, as {first.system}" if clusters == kept == 0 else differ
    return out


def _clusters(folder: Path) -> str:
    return f"read_parquet('{folder / '01_minhash_dedup' / 'clusters.parquet'}')"


def fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


def table(runs: list[Run], truth: str, con: duckdb.DuckDBPyConnection) -> list[str]:
    same = agreement(con, runs)
    out = [
        "| system | executor | rows | wall s | rows/s | peak MB, largest process | peak MB, all (RSS / PSS) | "
        "rows removed | removal precision | removal recall | curate clusters and kept rows identical |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        m = r.measurement
        if r.problem or m is None:
            wall = f"{m.seconds:.1f}" if m else ""
            out.append(f"| {r.system} | {EXECUTOR[r.system]} | {r.rows:,} | {wall} | {r.problem} | | | | | | |")
            continue
        scores = removal_scores_sql(con, truth, r.kept)
        out.append(
            f"| {r.system} | {EXECUTOR[r.system]} | {r.rows:,} | {m.seconds:.1f} | {r.rows / m.seconds:,.0f} | "
            f"{m.peak_one_mb:,.0f} | {m.peak_mb:,.0f} / {m.peak_pss_mb:,.0f} | {scores['removed']:,} | "
            f"{fmt(scores['precision'])} | {fmt(scores['recall'])} | {same.get(r.system, '-')} |"
        )
    return out


# ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help="rows of the scale corpus")
    parser.add_argument("--work", type=Path, default=Path("runs/bench/scale-dedup"), help="corpus, runs and logs")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_SYSTEMS),
        help=f"comma-separated systems to run, of {', '.join(SYSTEMS)} (curate-ray-storage: the Ray run with "
        "executor.storage on a local S3 server holding every object in memory; not run by default)",
    )
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per system")
    parser.add_argument("--no-reference", action="store_true", help="skip the in-memory run on the NSMC reviews")
    args = parser.parse_args()
    chosen = chosen_systems(args.only, SYSTEMS)
    load_before = os.getloadavg()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = corpus(work, args.rows)
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{work / 'duckdb-tmp'}'")
    con.execute("SET memory_limit = '4GB'")

    runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        ray = stack.enter_context(ray_head(work)) if set(RAY_SYSTEMS) & set(chosen) else None
        s3 = stack.enter_context(s3_server()) if "curate-ray-storage" in chosen else None
        for system in SYSTEMS:
            if system not in chosen:
                continue
            if system == "datatrove":
                runs.append(run_datatrove(data, args.rows, work, args.timeout, con))
            else:
                runs.append(run_curate(system, data, args.rows, work, args.timeout, ray, s3))
    ref = None if args.no_reference else reference(work, args.timeout)

    truth = f"read_parquet('{data / 'truth'}/*.parquet')"
    built = json.loads((data / "built.json").read_text())
    load = " / ".join(f"{a:.1f} -> {b:.1f}" for a, b in zip(load_before, os.getloadavg(), strict=True))
    lines = [
        "# Near-duplicate removal at scale",
        "",
        *machine_lines(),
        f"Load average (1, 5, 15 min), start -> end: {load}.",
        "",
    ]
    lines += [
        f"Corpus: `benchmarks/scale_corpus.py` (seed 13, copy rate 0.3), {args.rows:,} rows in Parquet shards of "
        f"{built['shard_rows']:,}; rows by kind: " + ", ".join(f"{k} {v:,}" for k, v in built["counts"].items()) + ".",
        "",
        *table(runs, truth, con),
        "",
        "- curate: `curate run` of one stage, `minhash_dedup` on `text` with its defaults (character 5-grams, "
        "128 permutations, threshold 0.8, greedy, keep central, `shard_rows` 200,000: the search is split into "
        "tasks when the executor is not local or the rows exceed it), the corpus folder read as kind `document`; "
        f"`processes` with {WORKERS} workers, `ray` joining a head of {WORKERS} CPUs started for the run on "
        "127.0.0.1 (its processes are counted in the memory columns; its start is not timed).",
        *([DATATROVE_NOTE] if "datatrove" in chosen else []),
        *([STORAGE_NOTE] if "curate-ray-storage" in chosen else []),
        "- Removal precision and recall: a row removed against a row that is a redundant copy (a true cluster, an "
        "original and its copies, of n rows should lose n - 1, whichever); repeated NSMC reviews are separate "
        "originals, so removing them counts against precision.",
        "- Peak MB: the largest process's resident high-water mark, and the largest sum over all processes "
        "sampled every 0.1 s (RSS counts pages shared by workers once per worker, PSS splits them).",
    ]
    if ref is not None:
        ref_rows, m = ref
        if m.returncode == 0:
            rate = ref_rows / m.seconds
            lines += [
                "",
                f"Reference: the in-memory engine (`curate dedup`'s, one search over all rows) on the {ref_rows:,} "
                f"NSMC reviews: {m.seconds:.1f} s, {rate:,.0f} rows/s, peak {m.peak_mb:,.0f} MB. Target: rows/s at "
                f"{TARGET_ROWS:,} rows at least half of that, {rate / 2:,.0f} rows/s.",
            ]
        else:
            lines += ["", f"Reference: the in-memory run failed (exit {m.returncode}): {log_tail(m.log)}"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
