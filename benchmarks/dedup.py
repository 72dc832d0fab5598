"""MinHash near-duplicate removal: curate against datatrove, text-dedup and plain datasketch / rensa.

    .venv/bin/python benchmarks/dedup.py [--rows N] [--only curate,datatrove,text-dedup,datasketch,rensa]

Prints Markdown: the machine and tool versions, the settings and commands per system, a scale table on
the NSMC reviews (``../shared/data/nsmc/reviews.jsonl.gz``; ``--rows N`` takes the first N) and a
quality table on a near-duplicate set with known clusters (``benchmarks/ground_truth.py``).

Peer environments are made on first use (and reused after): ``benchmarks/.venvs/datatrove`` and
``benchmarks/.venvs/text-dedup`` from PyPI with pip. text-dedup 0.4.1 declares Python >= 3.12, so its
environment is made with the first Python 3.12+ found. A peer that cannot be installed or run shows
the reason in the tables instead of numbers.

Every system runs as its own subprocess in a new session. Wall time is that process's. Peak memory
is sampled every 0.1 s over every process of the session: "RSS" is the largest sum of resident memory
(VmRSS; or the largest single process's high-water mark VmHWM if that is larger), "PSS" the largest
sum of proportional set sizes, which counts a page shared by forked workers once. Each system reads
the same JSON Lines (``id``, ``text``) and writes its own output; reading and writing are timed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ground_truth

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
PEERS = BENCH / "peers"
REVIEWS = REPO.parent / "shared" / "data" / "nsmc" / "reviews.jsonl.gz"
PROJECT_PY = REPO / ".venv" / "bin" / "python"
CURATE = REPO / ".venv" / "bin" / "curate"

SYSTEMS = ("curate", "datatrove", "text-dedup", "datasketch", "rensa")
THRESHOLD = 0.8
NGRAM = 5
NUM_PERM = 128
WORKERS = max(1, os.cpu_count() or 1)
# datasketch's MinHashLSH picks 9 bands x 13 rows for threshold 0.8 and 128 permutations; datatrove
# takes the band layout directly, so it gets the same one (its own default is 14 x 8).
DT_BUCKETS, DT_HASHES = 9, 13
RENSA_BANDS = 16  # RMinHashLSH needs a band count that divides 128

PEER_ENVS: dict[str, dict] = {
    "datatrove": {
        "min_python": (3, 11),
        # datatrove itself, what its JSONL reader/writer need (orjson), its default hash (xxhash<4, as
        # its "processing" extra pins), its Korean word tokenizer (kiwipiepy<0.22, as its "multilingual"
        # extra pins), and what its dedup package imports unconditionally (regex, tokenizers)
        "packages": [
            "datatrove==0.10.1",
            "orjson==3.13.0",
            "xxhash==3.8.2",
            "kiwipiepy==0.21.0",
            "regex==2026.11.19",
            "tokenizers==0.23.3",
        ],
        "report": ["datatrove", "kiwipiepy", "numpy", "xxhash", "orjson"],
    },
    "text-dedup": {
        "min_python": (3, 12),  # text-dedup 0.4.1: Requires-Python >=3.12,<4.0
        "packages": ["text-dedup==0.4.1"],
        "report": ["text-dedup", "datasets", "polars", "polars-grouper", "numpy", "pyarrow", "xxhash"],
    },
}


# ----------------------------------------------------------------------------------------------
# environments


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> str | None:
    """A Python interpreter of at least ``minimum``: python3.X on PATH, then pyenv's versions."""
    candidates: list[str] = []
    for minor in range(minimum[1], 15):
        found = shutil.which(f"python{minimum[0]}.{minor}")
        if found:
            candidates.append(found)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        for version in sorted(pyenv.iterdir()):
            candidates.append(str(version / "bin" / "python3"))
    for python in candidates:
        version = _python_version(python)
        if version is not None and version >= minimum:
            return python
    return None


@dataclass
class PeerEnv:
    name: str
    python: Path | None = None
    problem: str = ""
    versions: dict[str, str] = field(default_factory=dict)


def ensure_env(name: str) -> PeerEnv:
    """Make ``benchmarks/.venvs/NAME`` (skipped when it already holds the same requirements)."""
    spec = PEER_ENVS[name]
    home = VENVS / name
    python = home / "bin" / "python"
    marker = home / ".requirements"
    wanted = "\n".join(spec["packages"])
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        base = find_python(spec["min_python"])
        if base is None:
            need = ".".join(map(str, spec["min_python"]))
            return PeerEnv(name, problem=f"needs Python >= {need}, none found on this machine")
        if home.exists():
            shutil.rmtree(home)
        print(f"<!-- setting up {home.relative_to(REPO)} with {base} -->", file=sys.stderr)
        steps = [[base, "-m", "venv", str(home)], [str(python), "-m", "pip", "install", "-q", *spec["packages"]]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")] or done.stderr.splitlines()
                return PeerEnv(name, problem=f"install failed: {' '.join(lines[-2:])[:300]}")
        marker.write_text(wanted)
    return PeerEnv(name, python=python, versions=package_versions(python, spec["report"]))


def package_versions(python: Path | str, packages: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, platform, sys\n"
        "out = {'python': platform.python_version()}\n"
        "for p in sys.argv[1:]:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: out[p] = 'missing'\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {"python": "?"}


# ----------------------------------------------------------------------------------------------
# measuring a process tree


@dataclass
class Measurement:
    returncode: int
    seconds: float
    peak_mb: float  # RSS summed over the process tree
    peak_pss_mb: float  # PSS summed over the process tree
    timed_out: bool
    log: Path
    peak_one_mb: float = 0.0  # the largest single process's high-water mark (VmHWM)


def _session_pids(session: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == session:
            pids.append(int(entry.name))
    return pids


def _memory_kb(pid: int) -> tuple[int, int, int]:
    """VmRSS, VmHWM and Pss of one process, in KiB (0 when it is gone)."""
    rss = hwm = pss = 0
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except OSError:
        pass
    return rss, hwm, pss


def measure(
    cmd: list[str],
    *,
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float,
    sessions: tuple[int, ...] = (),
) -> Measurement:
    """Run ``cmd`` in a new session; wall time and peak memory of the whole process tree, and of the
    processes of ``sessions`` too (a service the command uses, such as a Ray head; left running)."""
    with log.open("w", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        peak_sum = peak_one = peak_pss = 0
        timed_out = False
        while proc.poll() is None:
            total = total_pss = 0
            for pid in [p for session in (proc.pid, *sessions) for p in _session_pids(session)]:
                rss, hwm, pss = _memory_kb(pid)
                total += rss
                total_pss += pss
                peak_one = max(peak_one, hwm)
            peak_sum = max(peak_sum, total)
            peak_pss = max(peak_pss, total_pss)
            if time.perf_counter() - start > timeout:
                timed_out = True
                break
            time.sleep(0.1)
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)
        returncode = proc.wait()
        seconds = time.perf_counter() - start
    leftovers = _session_pids(proc.pid)
    if leftovers:  # workers of the run that outlived it
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return Measurement(
        returncode, seconds, max(peak_sum, peak_one) / 1024, peak_pss / 1024, timed_out, log, peak_one / 1024
    )


def log_tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    interesting = [ln for ln in text if "Error" in ln or "error" in ln] or text
    return " / ".join(ln.strip() for ln in interesting[-lines:])[:300]


# ----------------------------------------------------------------------------------------------
# data sets and outcomes


@dataclass
class DataSet:
    name: str
    folder: Path
    ids: list[str]
    texts: list[str]

    @property
    def jsonl(self) -> Path:
        return self.folder / "input.jsonl"

    @property
    def shards(self) -> Path:
        return self.folder / "shards"


def write_dataset(name: str, folder: Path, ids: list[str], texts: list[str], *, shards: int) -> DataSet:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in zip(ids, texts, strict=True)]
    (folder / "input.jsonl").write_text("".join(lines), encoding="utf-8")
    (folder / "shards").mkdir(exist_ok=True)
    step = -(-len(lines) // shards)
    for n in range(shards):
        (folder / "shards" / f"{n:05d}.jsonl").write_text("".join(lines[n * step : (n + 1) * step]), encoding="utf-8")
    return DataSet(name, folder, ids, texts)


def read_jsonl(path: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            ids.append(row["id"])
            texts.append(row["text"])
    return ids, texts


@dataclass
class Outcome:
    """What a system left: the kept ids and, when it tells, a cluster label per row."""

    kept: set[str]
    clusters: dict[str, str] | None  # every input id -> label (singletons: their own id)
    short: str = "-"  # rows with fewer than 5 tokens that it dropped or never compared
    note: str = ""


@dataclass
class Result:
    system: str
    dataset: str
    measurement: Measurement | None = None
    outcome: Outcome | None = None
    problem: str = ""


# ----------------------------------------------------------------------------------------------
# systems


@dataclass
class System:
    name: str
    settings: str
    available: Callable[[], str]  # "" when it can run, else why not
    command: Callable[[DataSet, Path], tuple[list[str], Path, dict[str, str] | None]]
    parse: Callable[[DataSet, Path], Outcome]


def _base_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        HF_HOME=str(work / "hf"),
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        TQDM_DISABLE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def _clusters_from_labels(ds: DataSet, labels: dict[str, str]) -> dict[str, str]:
    return {key: labels.get(key, key) for key in ds.ids}


# --- plain baselines (project venv) ---


def baseline_system(name: str, script: str, settings: str, module: str) -> System:
    def available() -> str:
        done = subprocess.run([str(PROJECT_PY), "-c", f"import {module}"], capture_output=True, text=True)
        return "" if done.returncode == 0 else f"`import {module}` failed in .venv"

    def command(ds: DataSet, work: Path):
        cmd = [
            str(PROJECT_PY),
            str(PEERS / script),
            str(ds.jsonl),
            str(work / "result.tsv"),
            "--threshold",
            str(THRESHOLD),
            "--num-perm",
            str(NUM_PERM),
            "--ngram",
            str(NGRAM),
        ]
        if name == "rensa":
            cmd += ["--bands", str(RENSA_BANDS)]
        return cmd, work, _base_env(work)

    def parse(ds: DataSet, work: Path) -> Outcome:
        kept: set[str] = set()
        labels: dict[str, str] = {}
        with (work / "result.tsv").open(encoding="utf-8") as handle:
            for line in handle:
                key, keep, match = line.rstrip("\n").split("\t")
                if keep == "1":
                    kept.add(key)
                else:
                    labels[key] = match
        return Outcome(kept, _clusters_from_labels(ds, labels), short="0 (one whole shingle)")

    return System(name, settings, available, command, parse)


# --- curate ---


def _curate_help() -> str:
    if not CURATE.exists():
        return ""
    done = subprocess.run([str(CURATE), "dedup", "--help"], capture_output=True, text=True, cwd=REPO)
    return done.stdout if done.returncode == 0 else ""


def curate_system() -> System:
    help_text = _curate_help()

    def available() -> str:
        return "" if help_text else "not available: `curate dedup` does not exist in this checkout yet"

    def command(ds: DataSet, work: Path):
        cmd = [
            str(CURATE),
            "dedup",
            str(ds.jsonl),
            str(work / "kept.parquet"),
            "--field",
            "text",
            "--threshold",
            str(THRESHOLD),
            "--ngram",
            str(NGRAM),
            "--shingle",
            "char",
            "--clusters",
            str(work / "clusters.parquet"),
        ]
        if "--num-perm" in help_text:
            cmd += ["--num-perm", str(NUM_PERM)]
        if "--kind" in help_text:
            cmd += ["--kind", "document"]
        return cmd, work, _base_env(work)

    def parse(ds: DataSet, work: Path) -> Outcome:
        kept = set(pq.read_table(work / "kept.parquet", columns=["id"]).column("id").to_pylist())
        table = pq.read_table(work / "clusters.parquet", columns=["id", "cluster_id"])
        labels = {
            str(key): f"cu:{cluster}"
            for key, cluster in zip(table.column("id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True)
        }
        short = "not reported"
        rejected = work / "kept.rejected.parquet"
        if rejected.exists():
            reasons = Counter(pq.read_table(rejected, columns=["reject_reason"]).column(0).to_pylist())
            short = "0 dropped (removed rows by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()) + ")"
        return Outcome(kept, _clusters_from_labels(ds, labels), short=short)

    perms = f"`--num-perm {NUM_PERM}`" if "--num-perm" in help_text else "its default permutations"
    settings = f"char {NGRAM}-grams (`--shingle char --ngram {NGRAM}`), threshold {THRESHOLD}, {perms}"
    if "--no-verify" in help_text:
        settings += ", candidates verified by true Jaccard (its default)"
    if "--keep" in help_text:
        settings += ", keeps the first row of a cluster (its default)"
    settings += "; one process (its own threading, if any)"
    return System("curate", settings, available, command, parse)


# --- datatrove ---


def datatrove_system(env: PeerEnv) -> System:
    def available() -> str:
        return "" if env.python else f"not available: {env.problem}"

    def command(ds: DataSet, work: Path):
        cmd = [
            str(env.python),
            str(PEERS / "datatrove_minhash.py"),
            str(ds.shards),
            str(work / "dt"),
            "--ngram",
            str(NGRAM),
            "--buckets",
            str(DT_BUCKETS),
            "--hashes-per-bucket",
            str(DT_HASHES),
            "--language",
            "kor",
            "--workers",
            str(WORKERS),
        ]
        return cmd, work, _base_env(work)

    def parse(ds: DataSet, work: Path) -> Outcome:
        kept: set[str] = set()
        labels: dict[str, str] = {}
        seen = 0
        for part in ("kept", "removed"):
            for path in sorted((work / "dt" / part).glob("*.jsonl*")):
                opener = gzip.open if path.suffix == ".gz" else open
                with opener(path, "rt", encoding="utf-8") as handle:
                    for line in handle:
                        row = json.loads(line)
                        seen += 1
                        if part == "kept":
                            kept.add(row["id"])
                        cluster = row.get("metadata", {}).get("minhash_cluster_id", -1)
                        if cluster != -1:
                            labels[row["id"]] = f"dt:{cluster}"
        record = DT_HASHES * 8 + 4  # 64-bit hashes + the document index
        signed = sum(p.stat().st_size for p in (work / "dt" / "signatures" / "bucket_000").glob("*.sig")) // record
        skipped = len(ds.ids) - seen
        short = f"{seen - signed:,} never compared (<{NGRAM} tokens)"
        if skipped:
            short += f"; {skipped:,} empty rows dropped by its reader"
        return Outcome(kept, _clusters_from_labels(ds, labels), short=short)

    settings = (
        f"word {NGRAM}-grams of Kiwi tokens (`language=kor`) after its text simplification (lowercase, digits "
        f"to 0, punctuation removed, diacritics stripped); {DT_BUCKETS} buckets x {DT_HASHES} hashes = "
        f"{DT_BUCKETS * DT_HASHES} hashes (the layout datasketch picks for {THRESHOLD} at {NUM_PERM}; its default is "
        f"14 x 8), 64-bit xxhash, seed 1; no similarity check (one equal bucket = duplicate); texts with fewer "
        f"than {NGRAM} tokens get no signature; input in {WORKERS} shards, {WORKERS} workers"
    )
    return System("datatrove", settings, available, command, parse)


# --- text-dedup ---

TEXT_DEDUP_TOML = """\
[input]
input_type = "local_files"
file_type = "json"

[input.read_arguments]
path = "json"
data_files = {data}
split = "train"
cache_dir = {cache}

[algorithm]
algorithm_name = "minhash"
text_column = "text"
seed = 42
num_perm = {num_perm}
threshold = {threshold}
ngram_size = {ngram}
min_length = {ngram}
hash_bits = 64
check_false_positive = true
num_proc = {workers}

[output]
output_dir = {out}
save_clusters = true
keep_index_column = true

[debug]
enable_profiling = false
"""


def text_dedup_system(env: PeerEnv) -> System:
    def available() -> str:
        return "" if env.python else f"not available: {env.problem}"

    def command(ds: DataSet, work: Path):
        config = TEXT_DEDUP_TOML.format(
            data=json.dumps(str(ds.jsonl)),
            cache=json.dumps(str(work / "hf_cache")),
            num_perm=NUM_PERM,
            threshold=THRESHOLD,
            ngram=NGRAM,
            workers=WORKERS,
            out=json.dumps(str(work / "out")),
        )
        (work / "config.toml").write_text(config, encoding="utf-8")
        return [str(env.python), "-m", "text_dedup.minhash"], work, _base_env(work)

    def parse(ds: DataSet, work: Path) -> Outcome:
        tables = []
        for path in sorted((work / "out").glob("data-*.arrow")):
            with pa.memory_map(str(path)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        kept_index = set(pa.concat_tables(tables).column("__INDEX__").to_pylist()) if tables else set()
        with (work / "out" / "clusters.pickle").open("rb") as handle:
            parents: dict[int, int] = pickle.load(handle)  # written by the run just measured
        labels = {ds.ids[index]: f"td:{parent}" for index, parent in parents.items()}
        kept = {ds.ids[index] for index in kept_index}
        dropped = sum(1 for index in range(len(ds.ids)) if index not in kept_index and index not in parents)
        return Outcome(kept, _clusters_from_labels(ds, labels), short=f"{dropped:,} dropped (<{NGRAM} tokens)")

    bands = _text_dedup_bands(env)
    settings = (
        f"word {NGRAM}-grams of lowercase tokens split on `\\W`, {NUM_PERM} permutations, threshold {THRESHOLD} "
        f"({bands}), 64-bit mode (xxh3 32-bit values), `check_false_positive = true` (exact Jaccard of the n-gram "
        f"sets >= {THRESHOLD} inside candidate clusters), `min_length = {NGRAM}` (its default: rows with fewer "
        f"tokens are dropped), `num_proc = {WORKERS}`"
    )
    return System("text-dedup", settings, available, command, parse)


def _text_dedup_bands(env: PeerEnv) -> str:
    if not env.python:
        return "bands x rows from its optimal_param"
    code = (
        "from text_dedup.config.algorithms.minhash import optimal_param\n"
        f"print(*optimal_param({THRESHOLD}, {NUM_PERM}))"
    )
    done = subprocess.run([str(env.python), "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return "bands x rows from its optimal_param"
    bands, rows = done.stdout.split()
    return f"{bands} bands x {rows} rows from its optimal_param"


# ----------------------------------------------------------------------------------------------
# running and reporting


def run(system: System, ds: DataSet, root: Path, timeout: float) -> Result:
    problem = system.available()
    if problem:
        return Result(system.name, ds.name, problem=problem)
    work = root / f"{ds.name}-{system.name}"
    work.mkdir(parents=True, exist_ok=True)
    cmd, cwd, env = system.command(ds, work)
    print(f"<!-- {ds.name}: running {system.name} -->", file=sys.stderr)
    m = measure(cmd, cwd=cwd, env=env, log=work / "run.log", timeout=timeout)
    if m.timed_out:
        return Result(system.name, ds.name, m, problem=f"stopped after {timeout:.0f} s (timeout)")
    if m.returncode != 0:
        return Result(system.name, ds.name, m, problem=f"failed (exit {m.returncode}): {log_tail(m.log)}")
    try:
        outcome = system.parse(ds, work)
    except Exception as exc:  # a peer's output we could not read: say so in the table
        return Result(system.name, ds.name, m, problem=f"output unreadable: {type(exc).__name__}: {exc}"[:300])
    return Result(system.name, ds.name, m, outcome)


def exact_left(ds: DataSet, kept: set[str]) -> int:
    seen: set[str] = set()
    left = 0
    for key, text in zip(ds.ids, ds.texts, strict=True):
        if key in kept:
            norm = " ".join(text.split())
            if norm in seen:
                left += 1
            seen.add(norm)
    return left


def fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def scale_table(results: list[Result], ds: DataSet) -> list[str]:
    exact_in = exact_left(ds, set(ds.ids))
    out = [
        f"Input: {len(ds.ids):,} reviews; exact repeats after whitespace folding: {exact_in:,}.",
        "",
        "| system | rows kept | rows removed | wall s | peak MB (RSS) | peak MB (PSS) | exact duplicates left | "
        "short reviews (<5 tokens) removed or never compared |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.outcome is None:
            out.append(f"| {r.system} | {r.problem} | | | | | | |")
            continue
        m, o = r.measurement, r.outcome
        assert m is not None
        kept = len(o.kept)
        out.append(
            f"| {r.system} | {kept:,} | {len(ds.ids) - kept:,} | {m.seconds:.1f} | {m.peak_mb:,.0f} | "
            f"{m.peak_pss_mb:,.0f} | {exact_left(ds, o.kept):,} | {o.short} |"
        )
    return out


def quality_tables(results: list[Result], ds: DataSet, truth_rows: list[dict]) -> list[str]:
    truth = {row["id"]: row["cluster"] for row in truth_rows}
    out = [
        "Pairwise: precision/recall/F1 over same-cluster pairs (a system's clusters against the true ones). "
        'Removal: "row removed" against "row is a redundant copy" (a true cluster of n rows should lose '
        "n - 1, whichever). False pairs: predicted same-cluster pairs that are translations of one XQuAD "
        "paragraph / two paragraphs of one article / anything else.",
        "",
        "| system | measure | precision | recall | F1 | removal P | removal R | removal F1 | rows kept | "
        "false pairs (translation / same article / other) | wall s | peak MB (RSS) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    by_edit: list[str] = []
    by_bucket: list[str] = []
    edits = list(ground_truth.EDIT_KINDS)
    buckets = [*ground_truth.NSMC_BUCKETS, "xquad"]
    for r in results:
        if r.outcome is None:
            out.append(f"| {r.system} | {r.problem} | | | | | | | | | | |")
            by_edit.append(f"| {r.system} | {r.problem} |" + " |" * (len(edits) - 1))
            by_bucket.append(f"| {r.system} | {r.problem} |" + " |" * (len(buckets) - 1))
            continue
        o, m = r.outcome, r.measurement
        assert m is not None
        removal = ground_truth.removal_scores(truth, o.kept)
        if o.clusters is not None:
            pair = ground_truth.pairwise_scores(truth, o.clusters)
            false = ground_truth.false_pair_kinds(truth_rows, o.clusters)
            measure_name = "pairwise + removal"
            p, rc, f1 = fmt(pair["precision"]), fmt(pair["recall"]), fmt(pair["f1"])
            false_text = f"{false['translation']:,} / {false['same_article']:,} / {false['other']:,}"
        else:
            measure_name = "removal only (no clusters)"
            p = rc = f1 = "n/a"
            false_text = "n/a"
        out.append(
            f"| {r.system} | {measure_name} | {p} | {rc} | {f1} | {fmt(removal['precision'])} | "
            f"{fmt(removal['recall'])} | {fmt(removal['f1'])} | {len(o.kept):,} | {false_text} | "
            f"{m.seconds:.1f} | {m.peak_mb:,.0f} |"
        )
        per_edit = ground_truth.copy_recall(truth_rows, o.clusters, o.kept, "edit")
        per_bucket = ground_truth.copy_recall(truth_rows, o.clusters, o.kept, "bucket")
        by_edit.append(f"| {r.system} | " + " | ".join(fmt(per_edit.get(k, float("nan")), 2) for k in edits) + " |")
        by_bucket.append(
            f"| {r.system} | " + " | ".join(fmt(per_bucket.get(k, float("nan")), 2) for k in buckets) + " |"
        )
    reference = f"(reference: true char-{NGRAM}-gram Jaccard >= {THRESHOLD})"
    per_edit = ground_truth.reference_recall(truth_rows, "edit", n=NGRAM, threshold=THRESHOLD)
    per_bucket = ground_truth.reference_recall(truth_rows, "bucket", n=NGRAM, threshold=THRESHOLD)
    by_edit.append(f"| {reference} | " + " | ".join(fmt(per_edit.get(k, float("nan")), 2) for k in edits) + " |")
    by_bucket.append(f"| {reference} | " + " | ".join(fmt(per_bucket.get(k, float("nan")), 2) for k in buckets) + " |")
    out += [
        "",
        "Copies caught, by edit (caught = in one predicted cluster with its original; for a system without "
        "clusters, removed). The reference row is not a system: it is the share of copies whose exact "
        f"Jaccard similarity with their original, on the folded character {NGRAM}-grams the char systems use, "
        f"reaches {THRESHOLD}, the most a MinHash of those shingles at that threshold should catch:",
        "",
        "| system | " + " | ".join(edits) + " |",
        "|---|" + "---:|" * len(edits),
        *by_edit,
        "",
        "Copies caught, by length of the original (NSMC characters; XQuAD paragraphs):",
        "",
        "| system | " + " | ".join(buckets) + " |",
        "|---|" + "---:|" * len(buckets),
        *by_bucket,
    ]
    return out


def notes(envs: dict[str, PeerEnv], kept_at: Path | None) -> list[str]:
    out = [
        "- Exact duplicates left: kept rows whose text, with whitespace runs folded, equals an earlier kept "
        "row's text (input order).",
        "- Peak MB (RSS) sums resident memory over the process tree, so pages that forked workers share are "
        "counted once per worker; PSS splits them between the workers (the fairer figure for datatrove and "
        "text-dedup, which fork 2 workers).",
        "- curate and the datasketch and rensa scripts run as one process each (a library may still use "
        f"threads); datatrove and text-dedup use {WORKERS} worker processes on {os.cpu_count()} cores.",
        "- Verification of candidate pairs: curate and text-dedup compute the true Jaccard similarity of the "
        "shingle sets; the datasketch and rensa baselines compare signatures (estimated Jaccard); datatrove "
        "does not check (a shared bucket makes a duplicate).",
        f"- datatrove tokenizes every text with Kiwi (`language=kor`), the English, German and Chinese "
        f"paragraphs of the quality set included; it hashes {DT_BUCKETS * DT_HASHES} values, not {NUM_PERM}.",
    ]
    td = envs.get("text-dedup")
    if td is not None and td.python:
        out.append(
            f"- text-dedup 0.4.1 declares Requires-Python >= 3.12, so its environment runs Python "
            f"{td.versions.get('python', '?')}; the others run Python {platform.python_version()}."
        )
    if kept_at is not None:
        out.append(f"- Inputs, outputs and logs kept in {kept_at}.")
    return out


def chosen_systems(only: str, systems: Sequence[str]) -> list[str]:
    """The systems of ``--only`` (comma-separated), checked against ``systems``; the NSMC reviews
    must be there."""
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(systems))
    if unknown:
        raise SystemExit(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(systems)}")
    if not REVIEWS.exists():
        raise SystemExit(f"needs {REVIEWS} (the shared data folder beside the checkout)")
    return chosen


def machine_lines() -> list[str]:
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    return [
        f"Machine: {os.cpu_count()} cores ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, {platform.machine()}."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=0, help="first N NSMC reviews for the scale table (0 = all)")
    parser.add_argument("--only", default=",".join(SYSTEMS), help="comma-separated systems to run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per system and data set")
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this folder (default: a temp folder)")
    args = parser.parse_args()
    chosen = chosen_systems(args.only, SYSTEMS)

    envs = {name: ensure_env(name) for name in PEER_ENVS if name in chosen}
    project = package_versions(PROJECT_PY, ["curate", "datasketch", "rensa", "numpy", "pyarrow"])
    factories: dict[str, Callable[[], System]] = {
        "curate": curate_system,
        "datatrove": lambda: datatrove_system(envs["datatrove"]),
        "text-dedup": lambda: text_dedup_system(envs["text-dedup"]),
        "datasketch": lambda: baseline_system(
            "datasketch",
            "datasketch_minhash.py",
            f"char {NGRAM}-grams (NFC, lowercase, whitespace folded; a text shorter than {NGRAM} is one shingle), "
            f"`MinHash(num_perm={NUM_PERM})` (affine32, sha1), `MinHashLSH(threshold={THRESHOLD})` = 9 bands x 13 "
            f"rows; a candidate counts when its estimated Jaccard >= {THRESHOLD}; greedy in input order, 1 process",
            "datasketch",
        ),
        "rensa": lambda: baseline_system(
            "rensa",
            "rensa_minhash.py",
            f"the same shingles, `RMinHash(num_perm={NUM_PERM}, seed=1)`, `RMinHashLSH(threshold={THRESHOLD}, "
            f"num_bands={RENSA_BANDS})` = {RENSA_BANDS} x {NUM_PERM // RENSA_BANDS} (bands must divide {NUM_PERM}); "
            f"estimated Jaccard >= {THRESHOLD}; greedy in input order, 1 process",
            "rensa",
        ),
    }
    systems = [factories[name]() for name in SYSTEMS if name in chosen]

    root = args.keep or Path(tempfile.mkdtemp(prefix="curate-dedup-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        ids, texts = [], []
        with gzip.open(REVIEWS, "rt", encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if args.rows and n >= args.rows:
                    break
                row = json.loads(line)
                ids.append(str(row["review_id"]))
                texts.append(row["review"])
        scale = write_dataset("nsmc", root / "nsmc", ids, texts, shards=WORKERS)
        summary = ground_truth.build(root / "quality-set")
        q_ids, q_texts = read_jsonl(root / "quality-set" / "input.jsonl")
        quality = write_dataset("quality", root / "quality", q_ids, q_texts, shards=WORKERS)
        truth_rows = ground_truth.read_truth(root / "quality-set" / "truth.jsonl")

        scale_results = [run(s, scale, root, args.timeout) for s in systems]
        quality_results = [run(s, quality, root, args.timeout) for s in systems]

        lines = ["# MinHash near-duplicate removal", ""]
        lines += machine_lines()
        lines += ["", "Versions:", ""]
        lines.append("- project venv: " + ", ".join(f"{k} {v}" for k, v in project.items()))
        for name, env in envs.items():
            if env.python:
                lines.append(f"- benchmarks/.venvs/{name}: " + ", ".join(f"{k} {v}" for k, v in env.versions.items()))
            else:
                lines.append(f"- benchmarks/.venvs/{name}: {env.problem}")
        lines += ["", "## Settings", "", "| system | settings |", "|---|---|"]
        lines += [f"| {s.name} | {s.settings} |" for s in systems]
        lines += ["", "Commands (NSMC run; the quality run is the same on its own input):", ""]
        for s in systems:
            if s.available():
                lines.append(f"- {s.name}: {s.available()}")
                continue
            cmd, cwd, _ = s.command(scale, root / f"{scale.name}-{s.name}")
            shown = " ".join(cmd).replace(str(root), "$TMP").replace(str(REPO) + "/", "")
            where = "" if cwd == root / f"{scale.name}-{s.name}" else f" (in {cwd})"
            lines.append(f"- {s.name}: `{shown}`{where}")
            config = root / f"{scale.name}-{s.name}" / "config.toml"
            if s.name == "text-dedup" and config.exists():
                toml = config.read_text(encoding="utf-8").replace(str(root), "$TMP").strip()
                lines += ["", "  text-dedup reads `config.toml` in its working folder:", "", "```toml", toml, "```", ""]
        lines += [
            "",
            f"## Scale: NSMC reviews ({len(scale.ids):,} rows)",
            "",
            *scale_table(scale_results, scale),
            "",
            "## Quality: near-duplicate set with known clusters",
            "",
            f"Built by `benchmarks/ground_truth.py` (seed {ground_truth.SEED}): {summary['rows']:,} rows, "
            f"{summary['clusters_with_copies']:,} clusters with copies, {summary['true_pairs']:,} true pairs; roles "
            + ", ".join(f"{k} {v:,}" for k, v in summary["roles"].items())
            + "; sources "
            + ", ".join(f"{k} {v:,}" for k, v in summary["sources"].items())
            + "; copies by edit "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(summary["edits"].items()))
            + ".",
            "",
            *quality_tables(quality_results, quality, truth_rows),
            "",
            "## Notes",
            "",
            *notes(envs, root if args.keep else None),
        ]
        print("\n".join(lines))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
