"""Run every ``pipelines/*.yaml`` on an earlier revision and on the working tree; compare what they keep.

Usage (from the repository root)::

    .venv/bin/python -m tests.tools.compare_pipelines [--before REV] [--pipelines NAME ...] [--keep DIR]

The ``before`` revision (default ``2cd57f3``) is written out with ``git archive REV | tar -x`` into a
temporary folder; the working tree is ``after``. Each pipeline runs in its own subprocess on each side
(``python -m curate run PIPE --output OUT`` with ``PYTHONPATH`` and the working directory set to that
side's tree, so ``sample_data/...`` paths resolve there). A pipeline whose stages ask an LLM server
(``generate_questions``) gets the test suite's local chat-completions server (``tests.llm.chat_server``,
127.0.0.1, deterministic replies) and a fresh cache folder on each side.

Compared per stage folder (``NN_stage``) that both runs wrote:

- kept and rejected row ids, in order (the kind's ``key`` column; kinds without one use their required
  fields as the id);
- ``reject_reason`` and ``reject_detail`` of every rejected row;
- the counts in ``stats.json``: every ``rows_*`` key and ``reasons`` / ``flags`` / ``rewrites`` present
  on both sides (``seconds``, params, fingerprints and file hashes are not behaviour);

and the final ``output.parquet``: the same ids and, for every column on both sides, the same values
(floats within a relative 1e-9). Stage folders, columns and stats keys that only one side has are
listed under "new fields", not counted as differences. Prints a Markdown table; exit status 1 when
any behaviour differs or a run failed, else 0.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
BEFORE = "2cd57f3"
COUNT_KEYS = ("reasons", "flags", "rewrites", "rows", "quarantined")
SHOWN = 4  # differences shown per pipeline


@dataclass
class Result:
    """One pipeline's comparison; each ``same_*`` is None when not compared (a run failed)."""

    pipeline: str
    stages: str = ""
    same_kept: bool | None = None
    same_rejected: bool | None = None
    same_reasons: bool | None = None
    same_stats: bool | None = None
    same_output: bool | None = None
    differences: list[str] = field(default_factory=list)
    new_fields: dict[str, list[str]] = field(default_factory=dict)  # "kept: +col" -> stage folders
    note: str = ""
    compared: int = 0  # stage folders (not input/) compared

    def new(self, what: str, where: str) -> None:
        self.new_fields.setdefault(what, []).append(where)

    @property
    def differs(self) -> bool:
        return bool(self.differences)


def materialise(rev: str, into: Path) -> Path:
    """Write revision ``rev`` of this repository into ``into`` (``git archive | tar -x``)."""
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def needs_llm(spec: dict[str, Any]) -> bool:
    return any(stage.get("use") == "generate_questions" for stage in spec.get("stages") or [])


def pointed_at(spec: dict[str, Any], base_url: str, cache_dir: Path) -> dict[str, Any]:
    """A copy of the pipeline whose ``generate_questions`` stages ask ``base_url`` and cache in ``cache_dir``."""
    spec = json.loads(json.dumps(spec))
    for stage in spec["stages"]:
        if stage.get("use") == "generate_questions":
            stage.setdefault("params", {}).update(base_url=base_url, cache_dir=str(cache_dir))
    return spec


def run(tree: Path, pipeline: Path, out: Path) -> str | None:
    """Run ``pipeline`` with ``tree``'s curate, cwd ``tree``; None when it succeeded, else its last lines."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [str(PYTHON), "-m", "curate", "run", str(pipeline), "--output", str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    (out.parent / f"{out.name}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return f"exit {done.returncode}: {' '.join(tail)}"
    return None


def id_columns(run_dir: Path, columns: list[str]) -> list[str]:
    """The kind's ``key`` column, or its required fields when it has no key (from ``schemas/``)."""
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    kind = (manifest.get("input") or {}).get("kind") or "mrc"
    schema_file = REPO / "schemas" / f"{kind}.yaml"
    schema = yaml.safe_load(schema_file.read_text(encoding="utf-8")) if schema_file.is_file() else {}
    key = schema.get("key")
    if key and key in columns:
        return [key]
    required = [name for name, f in (schema.get("fields") or {}).items() if f.get("required") and name in columns]
    return required or columns


def row_ids(rows: list[dict[str, Any]], key: list[str]) -> list[str]:
    return [str(r[key[0]]) if len(key) == 1 else json.dumps([r[k] for k in key], ensure_ascii=False) for r in rows]


def read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """``(column names, rows)`` of a Parquet file; no file is no columns and no rows."""
    if not path.is_file():
        return [], []
    table = pq.read_table(path)
    return table.column_names, table.to_pylist()


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def first_change(before: list[str], after: list[str]) -> str:
    """Where two id lists part: counts, then the ids only one side has, else the first reordering."""
    gone, new = [i for i in before if i not in set(after)], [i for i in after if i not in set(before)]
    text = f"{len(before)} -> {len(after)} rows"
    if gone:
        text += f"; only before: {', '.join(gone[:3])}{' ...' if len(gone) > 3 else ''}"
    if new:
        text += f"; only after: {', '.join(new[:3])}{' ...' if len(new) > 3 else ''}"
    if not gone and not new:
        at = next(i for i, (x, y) in enumerate(zip(before, after, strict=False)) if x != y)
        text += f"; same ids, order differs from position {at} ({before[at]} vs {after[at]})"
    return text


def compare_stage(name: str, before: Path, after: Path, key_of, result: Result) -> tuple[bool, bool, bool, bool]:
    """Compare one stage folder; differences and new fields go into ``result``."""
    same = [True, True, True, True]  # kept, rejected, reasons/details, stats
    for i, part in enumerate(("kept", "rejected")):
        cols_b, rows_b = read_rows(before / f"{part}.parquet")
        cols_a, rows_a = read_rows(after / f"{part}.parquet")
        only = sorted(set(cols_a) ^ set(cols_b))
        for c in only:
            result.new(f"{part} {'+' if c in cols_a else '-'}{c}", name)
        if not rows_b and not rows_a:
            continue
        key = key_of(cols_a or cols_b)
        ids_b, ids_a = row_ids(rows_b, key), row_ids(rows_a, key)
        if ids_b != ids_a:
            same[i] = False
            result.differences.append(f"{name} {part}: {first_change(ids_b, ids_a)}")
        if part == "rejected":
            by_id = dict(zip(ids_a, rows_a, strict=True))
            for row_id, row in zip(ids_b, rows_b, strict=True):
                other = by_id.get(row_id)
                if other is None:
                    continue
                for column in ("reject_reason", "reject_detail", "reject_stage"):
                    if row.get(column) != other.get(column):
                        same[2] = False
                        result.differences.append(
                            f"{name} {row_id} {column}: {row.get(column)!r} -> {other.get(column)!r}"
                        )
    stats_b = json.loads((before / "stats.json").read_text(encoding="utf-8"))
    stats_a = json.loads((after / "stats.json").read_text(encoding="utf-8"))
    for k in sorted(set(stats_a) ^ set(stats_b)):
        result.new(f"stats {'+' if k in stats_a else '-'}{k}", name)
    for k in sorted(set(stats_a) & set(stats_b)):
        if (k.startswith("rows_") or k in COUNT_KEYS) and stats_a[k] != stats_b[k]:
            same[3] = False
            result.differences.append(f"{name} stats {k}: {stats_b[k]} -> {stats_a[k]}")
    return tuple(same)  # type: ignore[return-value]


def stage_dirs(run_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(run_dir.iterdir()) if p.is_dir() and (p / "stats.json").is_file()}


def compare_output(before: Path, after: Path, key_of, result: Result) -> bool:
    cols_b, rows_b = read_rows(before / "output.parquet")
    cols_a, rows_a = read_rows(after / "output.parquet")
    only = sorted(set(cols_a) ^ set(cols_b))
    for c in only:
        result.new(f"output {'+' if c in cols_a else '-'}{c}", "output.parquet")
    key = key_of(cols_a or cols_b)
    ids_b, ids_a = row_ids(rows_b, key), row_ids(rows_a, key)
    if ids_b != ids_a:
        result.differences.append(f"output: {first_change(ids_b, ids_a)}")
        return False
    shared = [c for c in cols_b if c in set(cols_a)]
    same = True
    for row_id, row_b, row_a in zip(ids_b, rows_b, rows_a, strict=True):
        for column in shared:
            if not same_value(row_b[column], row_a[column]):
                same = False
                result.differences.append(
                    f"output {row_id} {column}: {_short(row_b[column])} -> {_short(row_a[column])}"
                )
    return same


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(name: str, before: Path, after: Path) -> Result:
    result = Result(name)
    key_of = lambda columns: id_columns(after, columns)  # noqa: E731
    dirs_b, dirs_a = stage_dirs(before), stage_dirs(after)
    for d in sorted(set(dirs_a) ^ set(dirs_b)):
        result.new(f"stage folder {'+' if d in dirs_a else '-'}{d}", d)
    both = [d for d in dirs_b if d in dirs_a]
    result.compared = len([d for d in both if d != "input"])
    result.stages = str(result.compared) + (
        f" (+{len(dirs_a) - len(both)}/-{len(dirs_b) - len(both)})" if set(dirs_a) ^ set(dirs_b) else ""
    )
    flags = [True, True, True, True]
    for d in both:
        for i, same in enumerate(compare_stage(d, dirs_b[d], dirs_a[d], key_of, result)):
            flags[i] = flags[i] and same
    result.same_kept, result.same_rejected, result.same_reasons, result.same_stats = flags
    result.same_output = compare_output(before, after, key_of, result)
    return result


def run_both(pipeline: Path, before_tree: Path, work: Path, server_url: str | None) -> Result:
    name = pipeline.stem
    spec = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    sides = {"before": before_tree, "after": REPO}
    outs = {side: work / name / side for side in sides}
    for side, tree in sides.items():
        outs[side].parent.mkdir(parents=True, exist_ok=True)
        pipe = tree / "pipelines" / pipeline.name
        if not pipe.is_file():
            return Result(name, note=f"no pipelines/{pipeline.name} on the {side} side")
        if server_url is not None and needs_llm(spec):
            side_spec = yaml.safe_load(pipe.read_text(encoding="utf-8"))
            pipe = work / name / f"{side}.yaml"
            pipe.write_text(yaml.safe_dump(pointed_at(side_spec, server_url, work / name / f"{side}-llm-cache")))
        failed = run(tree, pipe, outs[side])
        if failed:
            result = Result(name, note=f"{side} run failed: {failed}")
            result.differences.append(result.note)
            return result
    return compare(name, outs["before"], outs["after"])


def _grouped(new_fields: dict[str, list[str]], stages: int) -> list[str]:
    """``stats +role (every stage)``, ``kept +col (03_x, 05_y)``: what is new, and where."""
    shown = []
    for what, where in new_fields.items():
        if what.startswith("stage folder") or what.startswith("output "):
            shown.append(what)
        elif len([w for w in where if w != "input"]) == stages > 1:
            shown.append(f"{what} (every stage)")
        else:
            shown.append(f"{what} ({', '.join(where)})")
    return shown


def mark(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "**no**")


def table(results: list[Result]) -> str:
    lines = [
        "| pipeline | stages | same kept | same rejected | same reasons/details | same stats | same output "
        "| differences (first few) | new fields |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        shown = r.differences[:SHOWN] + (
            [f"... {len(r.differences) - SHOWN} more"] if len(r.differences) > SHOWN else []
        )
        diffs = "; ".join(shown) or (r.note or "none")
        new = "; ".join(_grouped(r.new_fields, r.compared)) or "none"
        lines.append(
            f"| {r.pipeline} | {r.stages} | {mark(r.same_kept)} | {mark(r.same_rejected)} | {mark(r.same_reasons)} "
            f"| {mark(r.same_stats)} | {mark(r.same_output)} | {diffs.replace('|', '/')} | {new.replace('|', '/')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"git revision to compare against (default {BEFORE})")
    parser.add_argument("--pipelines", nargs="*", help="pipeline names (default: every pipelines/*.yaml)")
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (default: a temporary folder)")
    args = parser.parse_args(argv)

    pipelines = sorted((REPO / "pipelines").glob("*.yaml"))
    if args.pipelines:
        pipelines = [p for p in pipelines if p.stem in set(args.pipelines)]
    work = args.keep or Path(tempfile.mkdtemp(prefix="compare-pipelines-"))
    work.mkdir(parents=True, exist_ok=True)
    before_tree = work / f"tree-{args.before}"
    if before_tree.exists():
        shutil.rmtree(before_tree)
    materialise(args.before, before_tree)
    print(f"before: {args.before} in {before_tree}; after: working tree {REPO}; runs in {work}", file=sys.stderr)

    sys.path.insert(0, str(REPO))
    from tests.llm.chat_server import ChatServer

    results = []
    with ChatServer() as server:
        for pipeline in pipelines:
            llm = needs_llm(yaml.safe_load(pipeline.read_text(encoding="utf-8")))
            if llm:
                print(
                    f"{pipeline.stem}: its LLM stage asks the local test chat server at {server.base_url}",
                    file=sys.stderr,
                )
            print(f"{pipeline.stem}: running before and after", file=sys.stderr)
            results.append(run_both(pipeline, before_tree, work, server.base_url if llm else None))
    print(table(results))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.differs for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
