"""Pipelines: a YAML file naming an input, an output folder and a list of stages, run with resume.

Pipeline file::

    name: korquad_clean                       # a name (letters, digits, _ - .): default folder runs/<name>
    input:
      path: sample_data/korquad_sample.json   # relative to the working directory
      format: squad                           # optional, inferred from the path
      kind: mrc                               # optional, inferred from format / columns
      primary: corpus                         # a retrieval folder without kind: the part whose rows run
      columns: {document: text}               # optional source -> schema column renames
      on_error: fail                          # or skip: unreadable rows go to quarantine.jsonl
      shard_rows: 100000                      # rows per Parquet shard the input is read into (> 0)
    output:
      dir: runs/korquad_clean                 # default runs/<name>; apart from the input
      export:                                 # optional copies of the final rows
        - {path: clean.json, format: squad}   # relative to dir; format: one of io.WRITE_FORMATS
        - {path: clean_hf, format: hf}        # a datasets folder (load_from_disk), see curate.io.hf
      upload: s3://bucket/clean/              # optional: the published set copied there after the run
    stages:
      - use: validate_spans                   # a registered stage, or package.module:Class of another package
        id: spans                             # optional, default: the stage name; names the folder
        params: {repair: true}
        warn_reject_share: 0.9                # optional, this stage's own warning threshold
        part: qrels                           # a retrieval set only: the part it works on (default: primary)
    batch_rows: 32768                         # rows per batch (> 0); part of every stage's fingerprint
    executor: processes                       # where batches are split: local (default), processes, ray,
                                              # or settings: {name: ray, address: auto}; no fingerprint's part
    warn_reject_share: 0.5                    # warn when a stage rejects more than this share of its rows
    allow_empty_output: false                 # true: an empty final output is not an error

A retrieval folder (BEIR, or Parquet ``corpus/queries/qrels.parquet``) given without ``kind`` is a
:class:`~curate.dataset.Bundle`: every part is read, the ``primary`` part (default ``corpus``)
streams through the stages as rows do, the others travel with it. A stage with ``part: <name>``
works on that part instead (``retrieval_checks`` on the qrels, checked against the kept corpus); the
primary stays what the run outputs. A stage changes another part through
:meth:`~curate.stages.base.Stage.update_parts` (dedup re-points the qrels at the kept passages) and
the run keeps it in ``NN_<id>/parts/<name>.parquet``; a stage whose output is no other part of the
set (triplets) ends it. The published set holds the other parts beside ``output.parquet``
(``output.<part>.parquet``), and a ``beir`` export (or a ``parquet`` export to a path without a
suffix, a folder) writes the whole set.

A run writes, under the output folder (layout in :mod:`curate.run_folder`): the input as Parquet
shards ``input/data/part-NNNNN.parquet`` (read chunk by chunk: memory follows ``shard_rows``),
per stage ``NN_<id>/`` with the Parquet folders ``kept.parquet/`` and ``rejected.parquet/`` (a file
per batch, ``part-NNNNNN.parquet``), ``stats.json`` and artifacts, then the published set:
``output.parquet``, the exports and their dataset cards (:mod:`curate.io.card`), ``report.md``,
``report.html`` (see :mod:`curate.report.html`) and ``manifest.json`` last. Every run appends what
it did to ``run.log`` (stages started and finished with their counts, progress lines,
notes, warnings, the error that stopped it).

- Before anything is written: stage ids and a default folder's name are checked to be plain names,
  exports to be writable formats for the final kind and paths inside the folder, and the folder to be
  apart from every input (neither inside the other, symlinks resolved).
- One run at a time: the folder is locked; a second run fails at once with one line.
- The run removes temporaries of a killed run and stage folders of stages the pipeline no longer has,
  and, before it changes anything in the folder, what an earlier run published (manifest first): a
  folder never mixes two runs' outputs, and an interrupted re-run that changed nothing leaves them.
- Each folder and file is written to a temporary beside it and renamed into place, so a failure (or a
  kill) leaves earlier outputs intact and a re-run resumes; a full or read-only disk is one line
  naming the path it could not write.
- A stage whose fingerprint (input fingerprint + stage name + params + files it reads + batch_rows +
  curate version) matches its ``stats.json`` is not run again, provided every file the record lists
  still has its size and SHA-256 (the cached ``input/`` too); otherwise it runs again and says why.
- ``executor`` (:class:`~curate.executors.ExecutorSettings`): with ``processes`` or ``ray`` each
  stage's batches are split by workers (:meth:`~curate.stages.base.Stage.execute`); the outputs are those of a
  ``local`` run, so switching executor resumes finished stages. It starts with the first stage that runs.
- A stage that rejects more than ``warn_reject_share`` of its rows is a warning (terminal, manifest,
  report). An empty output is an error naming the stage that rejected the last rows, unless
  ``allow_empty_output`` is true.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import Field, field_validator

from curate import io, objects, progress
from curate._version import __version__
from curate.config import Strict, validated
from curate.dataset import DEFAULT_BATCH_ROWS, Bundle, Dataset
from curate.errors import ConfigError, CurateError, InputError, StageError, Where
from curate.executors import Executor, ExecutorSettings, make_executor
from curate.files import atomic_dir, atomic_file, check_name, digest, is_write_error, write_json, writing
from curate.io.card import write_run_cards
from curate.io.tabular import write_parquet
from curate.run_folder import (
    INPUT,
    MANIFEST,
    OUTPUT,
    PARTS_DIR,
    RECORD,
    REPORT,
    REPORT_HTML,
    RUN_LOG,
    SHARDS_DIR,
    RunFolder,
    RunResult,
    StageRun,
    part_output,
    read_record,
    stage_dir_name,
    write_record,
)
from curate.stages import Stage, StageStats, get_stage_class


class InputConfig(Strict):
    path: str
    format: str | None = None
    kind: str | None = None
    primary: Literal["corpus", "queries", "qrels"] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    split: str | None = None
    on_error: Literal["fail", "skip"] = "fail"
    quote: str | None = "default"
    shard_rows: int = Field(io.DEFAULT_SHARD_ROWS, gt=0, strict=True)  # no part of any fingerprint
    """Rows per Parquet shard the input is read into, a positive integer (memory follows it)."""


class ExportConfig(Strict):
    path: str
    format: str | None = None


class OutputConfig(Strict):
    dir: str | None = None
    export: list[ExportConfig] = Field(default_factory=list)
    upload: str | None = None
    """An s3://bucket/prefix the published set (output, exports and cards, reports, manifest.json
    last) is copied to once the run has published it."""

    @field_validator("upload")
    @classmethod
    def _object_store_prefix(cls, value: str | None) -> str | None:
        if value is not None and not (objects.is_remote(value) and value[len(objects.SCHEME) :].strip("/")):
            raise ValueError("must be an object-store prefix, s3://bucket/prefix")
        return value


class StageConfig(Strict):
    use: str
    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    warn_reject_share: float | None = Field(None, ge=0, le=1)
    part: Literal["corpus", "queries", "qrels"] | None = None
    """On a retrieval set: the part whose rows the stage keeps or rejects (default: the input's primary)."""


class PipelineConfig(Strict):
    """A pipeline file, validated; unknown keys anywhere are an error naming the allowed ones."""

    name: str
    description: str = ""
    input: InputConfig
    output: OutputConfig = OutputConfig()
    stages: list[StageConfig] = Field(default_factory=list)
    batch_rows: int = Field(DEFAULT_BATCH_ROWS, gt=0)
    warn_reject_share: float = Field(0.5, ge=0, le=1)
    allow_empty_output: bool = False
    executor: ExecutorSettings = ExecutorSettings()
    """Where the stages' batches are split: a name (``local``, ``processes``, ``ray``) or settings."""

    @field_validator("output", mode="before")
    @classmethod
    def _output_shorthand(cls, value: Any) -> Any:
        return {"dir": value} if isinstance(value, str) else value

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


def load_config(source: str | Path | dict[str, Any]) -> PipelineConfig:
    """Parse a pipeline from a YAML file or a dict; one-line ConfigError on any problem."""
    file = None
    if isinstance(source, dict):
        raw = source
    else:
        file = str(source)
        path = Path(source)
        if not path.exists():
            raise ConfigError("pipeline file not found", where=Where(file=file), hint="check the path")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(
                f"malformed YAML ({getattr(exc, 'problem', None) or exc})",
                where=Where(file=file, line=mark.line + 1 if mark else None),
            ) from None
    if not isinstance(raw, dict):
        raise ConfigError("a pipeline file must be a mapping", where=Where(file=file), value=type(raw).__name__)
    return validated(PipelineConfig, raw, where=Where(file=file), noun="key")


def build_stages(config: PipelineConfig) -> list[Stage]:
    """Stage instances of a pipeline; ids must be unique names (:data:`curate.files.NAME`)."""
    stages, seen = [], set()
    for index, spec in enumerate(config.stages):
        cls = get_stage_class(spec.use, stage_id=spec.id, index=index)
        stage_id = spec.id or cls.name
        if spec.id is not None:
            check_name(spec.id, what="stage id", where=Where(field=f"stages[{index}].id"))
        if stage_id in seen:
            raise ConfigError(
                "duplicate stage id",
                where=Where(stage=stage_id, field=f"stages[{index}].id"),
                value=stage_id,
                hint="give each use of a stage its own id",
            )
        seen.add(stage_id)
        stages.append(cls(spec.params, id=stage_id))
    return stages


def _sha(*parts: Any) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(json.dumps(part, sort_keys=True, default=str).encode())
        sha.update(b"\x00")
    return sha.hexdigest()[:24]


class Reporter:
    """Receives a run's events; the CLI shows them (rich bars on a terminal, plain lines otherwise),
    the Python API stays quiet. Every method does nothing by default."""

    def stage_started(self, stage: Stage, index: int, total_rows: int) -> None: ...
    def progress(self, phase: str, done: int, total: int | None, unit: str) -> None:
        """A step of the running stage (a :data:`curate.progress.Listener`): phase ``rows``, or a
        phase of a global stage's plan (``shingling``, ``cross-validation``...)."""

    def stage_finished(self, run: StageRun) -> None: ...
    def note(self, message: str) -> None:
        """Something the run did on its own (removed an earlier run's folder, ran a stage again)."""

    def warn(self, message: str) -> None:
        """A stage rejected more than its share (the message is also in the manifest and report)."""


def start_line(stage: Stage, index: int, total_rows: int) -> str:
    """``03_near_dedup: started (minhash_dedup, 49,558 rows)``."""
    return f"{stage_dir_name(index, stage.id)}: started ({stage.name}, {total_rows:,} rows)"


def stage_line(run: StageRun) -> str:
    """One line of counts for a finished stage: ``03_near_dedup: 49,558 in, 48,711 kept, 847 rejected
    (near_duplicate 770, label_conflict 77) in 0.65 s`` (or ``(resumed)``)."""
    s = run.stats
    added = f", {s.rows_added:,} new" if s.rows_added else ""
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(s.reasons.items()))
    flags = ", ".join(f"{flag} {count:,}" for flag, count in sorted(s.flags.items()))
    rewrites = ", ".join(f"{name} {count:,}" for name, count in sorted(s.rewrites.items()))
    marked = (f"flagged: {flags}" if flags else "", f"rewritten: {rewrites}" if rewrites else "")
    detail = "; ".join(part for part in (reasons, *marked) if part)
    note = " (resumed)" if run.resumed else f" in {s.seconds:.2f}s"
    parts = "".join(
        f"; {name} {before:,} -> {after:,} rows" if after is not None else f"; {name} {before:,} rows, ended"
        for name, (before, after) in sorted(run.parts.items())
    )
    name = f"{run.dir.name} ({run.part})" if run.part else run.dir.name
    return (
        f"{name}: {s.rows_in:,} in{added}, {s.rows_kept:,} kept, {s.rows_rejected:,} rejected"
        + (f" ({detail})" if detail else "")
        + parts
        + note
    )


class _Logged(Reporter):
    """Passes every event on to ``reporter`` and appends it to the run's ``run.log`` as plain lines."""

    def __init__(self, reporter: Reporter, lines: progress.Lines):
        self.reporter = reporter
        self.lines = lines

    def stage_started(self, stage: Stage, index: int, total_rows: int) -> None:
        self.lines.begin(stage_dir_name(index, stage.id))
        self.lines.line(start_line(stage, index, total_rows))
        self.reporter.stage_started(stage, index, total_rows)

    def progress(self, phase: str, done: int, total: int | None, unit: str) -> None:
        self.lines.step(phase, done, total, unit)
        self.reporter.progress(phase, done, total, unit)

    def stage_finished(self, run: StageRun) -> None:
        self.lines.end()
        self.lines.line(stage_line(run))
        self.reporter.stage_finished(run)

    def note(self, message: str) -> None:
        self.lines.line(f"note: {message}")
        self.reporter.note(message)

    def warn(self, message: str) -> None:
        self.lines.line(f"warning: {message}")
        self.reporter.warn(message)


@contextmanager
def _run_log(folder: RunFolder, config: PipelineConfig, reporter: Reporter) -> Iterator[_Logged]:
    """A reporter that also appends to ``<folder>/run.log``: the run's start, its events, and how it
    ended (the output's rows, or the error that stopped it)."""
    with writing(folder.path / RUN_LOG), open(folder.path / RUN_LOG, "a", encoding="utf-8", buffering=1) as file:
        lines = progress.Lines(lambda line: file.write(line + "\n"), stamp=True)
        where = "" if config.executor.name == "local" else f", executor {config.executor.name}"
        if config.executor.storage:
            where += f" (files through {config.executor.storage})"
        lines.line(
            f"run '{config.name}' started: curate {__version__}, {len(config.stages)} stages, "
            f"input {config.input.path}{where}"
        )
        logged = _Logged(reporter, lines)
        try:
            yield logged
        except CurateError as exc:
            lines.end(stopped=True)
            lines.line(f"error: {exc.message}")
            raise
        except KeyboardInterrupt:
            lines.end(stopped=True)
            lines.line("interrupted")
            raise
        except Exception as exc:
            lines.end(stopped=True)
            lines.line(f"failed: {type(exc).__name__}: {exc}")
            raise


def _is_bundle(config: InputConfig) -> bool:
    """True when the input is a retrieval set read whole (a retrieval folder without ``kind``);
    ConfigError when ``primary`` is given for any other input."""
    bundle = config.kind is None and io.is_bundle(config.path, config.format or io.detect_format(config.path))
    if config.primary is not None and not bundle:
        raise ConfigError(
            "input.primary names a part of a retrieval set, but the input is not one",
            where=Where(file=config.path, field="input.primary"),
            value=config.primary,
            hint="give a BEIR or Parquet folder of corpus, queries and qrels, without input.kind",
        )
    if bundle and (config.columns or config.on_error != "fail"):
        field = "input.columns" if config.columns else "input.on_error"
        raise ConfigError(
            f"{field} works on one table, not on a retrieval set",
            where=Where(file=config.path, field=field),
            hint="convert the folder first, or read one part with input.kind",
        )
    return bundle


def _read_bundle(config: InputConfig, tmp: Path) -> dict[str, Any]:
    """Read every part of a retrieval folder into ``tmp``: the primary as ``data.parquet``, the
    others as ``parts/<name>.parquet``. Returns the input record's fields."""
    parts = io.read_bundle(config.path, format=config.format)
    primary = config.primary or next(name for name in ("corpus", "queries", "qrels") if name in parts)
    if primary not in parts:
        raise ConfigError(
            f"the retrieval set has no {primary}",
            where=Where(file=config.path, field="input.primary"),
            value=primary,
            hint=f"it holds: {', '.join(parts)}",
        )
    io.write(parts[primary], tmp / "data.parquet", format="parquet", as_source=False)
    siblings = [name for name in parts if name != primary]
    for name in siblings:
        (tmp / PARTS_DIR).mkdir(exist_ok=True)
        io.write(parts[name], tmp / PARTS_DIR / f"{name}.parquet", format="parquet", as_source=False)
    return {
        "kind": parts[primary].kind,
        "rows": parts[primary].num_rows,
        "primary": primary,
        "parts": {name: parts[name].num_rows for name in siblings},
    }


def _load_input(
    config: InputConfig, run_folder: RunFolder, fingerprint: str, reporter: Reporter
) -> tuple[Dataset | Bundle, int]:
    """Read the input once, chunk by chunk, into Parquet shards ``input/data/part-NNNNN.parquet`` of
    at most ``input.shard_rows`` rows (:func:`curate.io.read_to_shards`; a retrieval set whole, its
    primary part into ``input/data.parquet`` and the others into ``input/parts/``); later runs reuse
    them while the fingerprint and ``shard_rows`` hold and the files are unchanged. Returns the
    dataset (its shards as one, or the retrieval set) and the number of quarantined rows."""
    folder = run_folder.path / INPUT
    record, problem = read_record(folder, fingerprint)
    if problem:
        reporter.note(f"{folder.name}: {problem}; reading the input again")
    elif record is not None and "primary" not in record and (why := _stale_shards(record, folder, config)):
        reporter.note(f"{folder.name}: {why}; reading the input again into shards")
        record = None
    if record is None and _is_bundle(config):
        run_folder.changing()
        with atomic_dir(folder) as tmp:
            info = {"fingerprint": fingerprint, **_read_bundle(config, tmp)}
            files = ["data.parquet", *(f"{PARTS_DIR}/{name}.parquet" for name in info["parts"])]
            record = write_record(tmp, {**info, "quarantined": 0}, files)
    if record is None:
        run_folder.changing()
        with atomic_dir(folder) as tmp:
            quarantine = tmp / "quarantine.jsonl"
            sharded = io.read_to_shards(
                config.path,
                tmp / SHARDS_DIR,
                shard_rows=config.shard_rows,
                format=config.format,
                kind=config.kind,
                rename=config.columns or None,
                split=config.split,
                on_error=config.on_error,
                quarantine=quarantine if config.on_error == "skip" else None,
                quote=config.quote,
            )
            shards = [f"{SHARDS_DIR}/{Path(path).name}" for path in sharded.paths]
            files = [*shards, *(["quarantine.jsonl"] if quarantine.exists() else [])]
            info = {"fingerprint": fingerprint, "kind": sharded.kind, "rows": sharded.rows}
            extra = {"quarantined": sharded.quarantined, "shard_rows": config.shard_rows, "shards": shards}
            record = write_record(tmp, {**info, **extra}, files)
    quarantined = int(record.get("quarantined", 0))
    if "primary" not in record:
        return Dataset.from_parquet([folder / shard for shard in record["shards"]], record["kind"]), quarantined
    dataset = Dataset.from_parquet(folder / "data.parquet", record["kind"])
    siblings = {name: Dataset.from_parquet(folder / PARTS_DIR / f"{name}.parquet", name) for name in record["parts"]}
    return Bundle(record["primary"], {record["primary"]: dataset, **siblings}), quarantined


def _stale_shards(record: Mapping[str, Any], folder: Path, config: InputConfig) -> str | None:
    """Why the input's shards, their files unchanged, are not those ``config`` asks for (a folder
    of an earlier curate, another ``shard_rows``, rows other than the record's), or None."""
    if "shards" not in record:
        return "data.parquet is of an earlier curate, which read the input whole"
    if record.get("shard_rows") != config.shard_rows:
        return f"sharded by {record.get('shard_rows')} rows, not by input.shard_rows {config.shard_rows}"
    rows = sum(pq.ParquetFile(folder / shard).metadata.num_rows for shard in record["shards"])
    if rows != record.get("rows"):
        return f"its shards hold {rows} rows, {RECORD} says {record.get('rows')}"
    return None


def _versions() -> dict[str, str]:
    names = ["curate", "duckdb", "pyarrow", "polars", "pydantic", "numpy"]
    found = {}
    for name in names:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    found["python"] = platform.python_version()
    return found


def reject_warning(run: StageRun, share: float) -> str | None:
    """A one-line warning when ``run`` rejected more than ``share`` of the rows it saw, else None."""
    s = run.stats
    seen = s.rows_in + s.rows_added
    if not seen or s.rows_rejected / seen <= share:
        return None
    reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(s.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    return (
        f"stage '{run.id}' rejected {s.rows_rejected:,} of {seen:,} rows ({s.rows_rejected / seen:.1%}), "
        f"more than warn_reject_share {share:g} ({reasons}; rows in {run.dir.name}/rejected.parquet)"
    )


def run_pipeline(
    pipeline: str | Path | dict[str, Any] | PipelineConfig,
    *,
    input: str | Path | None = None,
    output: str | Path | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
    executor: ExecutorSettings | Mapping[str, Any] | str | None = None,
) -> RunResult:
    """Run a pipeline (file, dict or config) and return its :class:`RunResult`.

    Args:
        input: replaces ``input.path``.
        output: replaces ``output.dir``.
        force: run every stage again even when its outputs are up to date.
        executor: replaces the pipeline's ``executor`` (settings), or changes it (a name, or a
            mapping of the fields to change).

    Raises:
        CurateError: a bad config, input or export, an output folder that overlaps the input, is a
            file, is read-only, is full or is in use, a failing stage, or an empty output (unless
            ``allow_empty_output``); nothing is published then.
    """
    config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline)
    if input is not None:
        config = config.model_copy(update={"input": config.input.model_copy(update={"path": str(input)})})
    if executor is not None:
        config = config.model_copy(update={"executor": _executor_settings(config.executor, executor)})
    reporter = reporter or Reporter()
    with _naming(pipeline):
        stages = build_stages(config)
        if output is None and config.output.dir is None:
            check_name(config.name, what="pipeline name", where=Where(field="name"))
        folder = RunFolder(Path(output or config.output.dir or Path("runs") / config.name))
        exports = [_export_path(folder, i, spec) for i, spec in enumerate(config.output.export)]
    # an s3:// input is copied here for the run (errors name its URL); its bytes make the fingerprint
    with objects.input_path(config.input.path) as (input_path, _):
        local_input = config.input.model_copy(update={"path": str(input_path)})
        if not input_path.exists():
            raise ConfigError(
                "input not found", where=Where(file=str(input_path), field="input.path"), hint="check the path"
            )
        folder.check_apart(
            [("input", input_path), *((f"file stage '{s.id}' reads", p) for s in stages for p in s.input_files())]
        )
        with folder.locked(), _run_log(folder, config, reporter) as reporter, _executor(config.executor) as running:
            started = time.perf_counter()
            owned = {stage_dir_name(index, stage.id) for index, stage in enumerate(stages, start=1)}
            folder.clear(stage_dirs=owned, exports=exports, note=reporter.note)
            unset = {"path", "shard_rows", *(("primary",) if config.input.primary is None else ())}  # as before
            fingerprint = _sha(digest(input_path), config.input.model_dump(exclude=unset), __version__)
            data, quarantined = _load_input(local_input, folder, fingerprint, reporter)
            dataset = data.main if isinstance(data, Bundle) else data
            with _naming(pipeline):
                _check_kinds(config, stages, exports, dataset.kind, data.parts if isinstance(data, Bundle) else {})
            if not dataset.num_rows and not config.allow_empty_output:
                raise InputError(
                    "the input has no rows",
                    where=Where(file=str(input_path)),
                    hint="check the file, or set allow_empty_output: true",
                )
            runs, kept = _run_stages(config, stages, folder, data, fingerprint, force, reporter, running)
            last, parts = (kept.main, kept.siblings) if isinstance(kept, Bundle) else (kept, {})
            rows_in = dataset.num_rows
            result = RunResult(config.name, folder.path, last, rows_in, runs, exports, quarantined, parts=parts)
            for warning in _publish(config, result, folder, time.perf_counter() - started):
                reporter.warn(warning)
            if config.output.upload:
                files = upload_published(result, config.output.upload)
                reporter.lines.line(f"uploaded {len(files)} files of the published set to {config.output.upload}")
            reporter.lines.line(
                f"run '{config.name}' finished: {OUTPUT} {result.output.num_rows:,} rows "
                f"in {time.perf_counter() - started:.1f} s"
            )
        return result


def _executor_settings(
    settings: ExecutorSettings, change: ExecutorSettings | Mapping[str, Any] | str
) -> ExecutorSettings:
    """``settings`` replaced by ``change`` (settings) or changed by it (a name, or fields)."""
    if isinstance(change, ExecutorSettings):
        return change
    fields = {"name": change} if isinstance(change, str) else dict(change)
    values = {**settings.model_dump(exclude_unset=True), **fields}
    return validated(ExecutorSettings, values, where=Where(field="executor"), noun="key")


@contextmanager
def _executor(settings: ExecutorSettings) -> Iterator[Callable[[], Executor | None]]:
    """A function giving the run's executor, started when first asked for (None: ``local``, so a
    stage runs as without one); stopped at the end."""
    started: list[Executor] = []

    def running() -> Executor | None:
        if settings.name == "local":
            return None
        if not started:
            started.append(make_executor(settings))
        return started[0]

    try:
        yield running
    except BaseException:
        for executor in started:
            with suppress(CurateError):  # the error that stopped the run is the one to tell
                executor.close()
        raise
    for executor in started:
        executor.close()


@contextmanager
def _naming(pipeline: str | Path | dict[str, Any] | PipelineConfig) -> Iterator[None]:
    """Errors raised inside name the pipeline file, when the pipeline came from one."""
    try:
        yield
    except CurateError as exc:
        raise exc.at(file=str(pipeline)) if isinstance(pipeline, str | Path) else exc from None


def _run_stages(
    config: PipelineConfig,
    stages: Sequence[Stage],
    folder: RunFolder,
    data: Dataset | Bundle,
    fingerprint: str,
    force: bool,
    reporter: Reporter,
    executor: Callable[[], Executor | None],
) -> tuple[list[StageRun], Dataset | Bundle]:
    """Run or resume each stage on the kept rows of the one before (of a retrieval set: on the part
    it takes, the siblings given to it and updated by it); returns the runs and the last kept rows."""
    runs: list[StageRun] = []
    bundle = data if isinstance(data, Bundle) else None
    dataset = data.main if isinstance(data, Bundle) else data
    for index, (spec, stage) in enumerate(zip(config.stages, stages, strict=True), start=1):
        stage_dir = folder.path / stage_dir_name(index, stage.id)
        part = None
        if bundle is not None:
            part = spec.part or bundle.primary
            dataset = bundle.parts[part]
            stage.parts = MappingProxyType(_others(bundle, part))
        extra_inputs = [digest(p) if p.exists() else str(p) for p in stage.input_files()]
        params = stage.params.model_dump(mode="json")
        on_part = [spec.part] if spec.part else []  # absent as before parts existed
        fingerprint = _sha(fingerprint, stage.name, params, extra_inputs, config.batch_rows, __version__, *on_part)
        run = None if force else _resumed(stage, stage_dir, fingerprint, reporter)
        if run is None:
            folder.changing()
            reporter.stage_started(stage, index, dataset.num_rows)
            siblings = _others(bundle, part) if bundle is not None and part is not None else None
            run = _run_stage(stage, dataset, stage_dir, fingerprint, config.batch_rows, reporter, siblings, executor())
        if bundle is not None and part != bundle.primary:
            run.part = str(part)
        share = spec.warn_reject_share if spec.warn_reject_share is not None else config.warn_reject_share
        run.warning = reject_warning(run, share)
        reporter.stage_finished(run)
        if run.warning:
            reporter.warn(run.warning)
        runs.append(run)
        dataset = Dataset.from_parquet(stage_dir / "kept.parquet", stage.output_kind(dataset.kind))
        if bundle is not None and part is not None:
            bundle = _parts_after(bundle, part, dataset, run)
        if not dataset.num_rows and not config.allow_empty_output:
            raise ConfigError(
                "every remaining row was rejected, so the output would be empty",
                where=Where(stage=stage.id),
                hint=f"check the stage's parameters against its rejected rows in {stage_dir / 'rejected.parquet'}, "
                "or set allow_empty_output: true",
            )
    return runs, bundle if bundle is not None else dataset


def _others(bundle: Bundle, part: str) -> dict[str, Dataset]:
    """Every part of ``bundle`` but ``part``, by name: what a stage working on ``part`` may read."""
    return {name: data for name, data in bundle.parts.items() if name != part}


def _parts_after(bundle: Bundle, part: str, kept: Dataset, run: StageRun) -> Bundle | None:
    """The retrieval set after ``run`` worked on ``part``: its ``kept`` rows in place of the part and
    the other parts as the stage left them (changed ones from its ``parts/`` folder); None once the
    kept rows are no part of a set (triplets mined from it)."""
    if kept.kind != part:
        return None
    parts = {}
    for name, data in bundle.parts.items():
        if name == part:
            parts[name] = kept
        elif name not in run.parts:
            parts[name] = data
        elif run.parts[name][1] is not None:
            parts[name] = Dataset.from_parquet(run.dir / PARTS_DIR / f"{name}.parquet", name)
    return Bundle(bundle.primary, parts)


def _export_path(folder: RunFolder, index: int, spec: ExportConfig) -> Path:
    """Where export ``index`` goes, its path and format checked (the kind is checked once it is known)."""
    path = folder.export_path(spec.path, field=f"output.export[{index}].path")
    _check_export(index, spec, path, None)
    return path


def _check_export(index: int, spec: ExportConfig, path: Path, kind: str | None) -> None:
    """CurateError naming ``output.export[index]`` when ``path`` cannot be written as asked."""
    try:
        io.check_write(path, spec.format, kind)
    except CurateError as exc:
        raise exc.at(field=f"output.export[{index}]") from None


def _check_kinds(
    config: PipelineConfig, stages: Sequence[Stage], exports: Sequence[Path], kind: str, parts: Mapping[str, Any]
) -> None:
    """Every stage accepts the kind it is given (of a retrieval set with ``parts``: the part its
    ``part`` names, else the primary ``kind``), and every export can hold the final kind."""
    primary = kind
    for index, (stage_spec, stage) in enumerate(zip(config.stages, stages, strict=True)):
        where = Where(stage=stage.id, field=f"stages[{index}].part")
        named = stage_spec.part
        if named is not None and named not in parts:
            held = f"the set holds: {', '.join(parts)}" if parts else "the input is one table, not a retrieval set"
            raise ConfigError("the stage names a part the input does not have", where=where, value=named, hint=held)
        given = named or kind
        fits = [name for name in parts if not stage.kinds or name in stage.kinds]
        if parts and named is None and stage.kinds and given not in stage.kinds and fits:
            raise ConfigError(
                f"stage '{stage.name}' does not accept kind '{given}', the retrieval set's primary part",
                where=where,
                value=given,
                hint=f"add part: {fits[0]} to run it on the set's {fits[0]}",
            )
        stage.check_kind(given)
        made = stage.output_kind(given)
        if parts and made == given:
            continue
        kind, parts = made, {}
    if parts:
        kind = primary
    for index, (spec, path) in enumerate(zip(config.output.export, exports, strict=True)):
        _check_export(index, spec, path, kind)


def _publish(config: PipelineConfig, result: RunResult, folder: RunFolder, seconds: float) -> list[str]:
    """Write ``output.parquet``, the exports and their dataset cards, ``report.md``, ``report.html`` and
    ``manifest.json`` last; when any of them fails, remove those already written, so the folder never
    holds part of a set. Returns the cards' warnings."""
    from curate.report.bias import card_sections
    from curate.report.html import write_html_report
    from curate.report.summary import write_markdown_report

    final = result.dir / OUTPUT
    folder.changing()
    try:
        if result.stages:  # the last stage's kept.parquet/: its files joined, row groups of one size
            with atomic_file(final) as tmp:
                write_parquet(_regrouped(result.output.paths, OUTPUT_GROUP_ROWS), tmp)
        else:  # the input's shards, when no stage ran
            io.write(result.output, final, format="parquet", as_source=False)
        result.output = Dataset.from_parquet(final, result.output.kind)
        for name, part in result.parts.items():
            with atomic_file(result.dir / part_output(name)) as tmp:
                io.write(part, tmp, format="parquet", as_source=False)
        result.parts = {n: Dataset.from_parquet(result.dir / part_output(n), n) for n in result.parts}
        whole = {result.output.kind: result.output, **result.parts}
        for spec, path in zip(config.output.export, result.exports, strict=True):
            with writing(path):
                bundle_format = _bundle_format(spec, path) if result.parts else None
                if bundle_format:
                    io.write_bundle(whole, path, format=bundle_format)
                else:
                    io.write(result.output, path, format=spec.format)
        write_markdown_report(result)
        manifest = _manifest(config, result, seconds)
        exports = [(path, spec.format) for spec, path in zip(config.output.export, result.exports, strict=True)]
        bias = card_sections(result.dir, manifest["stages"])
        outputs = [
            whole if result.parts and _bundle_format(spec, path) else result.output
            for spec, path in zip(config.output.export, result.exports, strict=True)
        ]
        result.cards, warnings = write_run_cards(result.dir, manifest, outputs, exports, bias)
        manifest["cards"] = result.cards
        write_html_report(result.dir, manifest=manifest)
        write_json(result.manifest_path, manifest)
    except BaseException:
        folder.unpublish()
        raise
    return warnings


OUTPUT_GROUP_ROWS = 65536
"""Rows per row group of ``output.parquet``: the same file however the stages' batches fell."""


def _regrouped(paths: Sequence[Path], rows: int) -> Iterator[pa.Table]:
    """The rows of the Parquet files ``paths`` (one schema) in order, as tables of ``rows`` rows
    (the last fewer; one empty table when there are none), the first file's schema kept."""
    schema = pq.ParquetFile(paths[0]).schema_arrow
    pending: list[pa.RecordBatch] = []
    held = given = 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending, schema)
                yield table.slice(0, rows)
                pending, held, given = table.slice(rows).to_batches(), held - rows, given + rows
    if held or not given:
        yield pa.Table.from_batches(pending, schema)


def upload_published(result: RunResult, prefix: str) -> list[str]:
    """Copy the set ``result`` published (``output.parquet``, the parts, the exports and their cards,
    ``report.md``, ``report.html``, then ``manifest.json``, so a reader who finds the manifest finds
    the rest) to the object-store ``prefix``, each file under its name in the run folder; returns the
    names. A refused copy is an OutputError naming the URL; what was copied before stays."""
    named = [OUTPUT, *map(part_output, result.parts), *result.exports, *result.cards, REPORT, REPORT_HTML]
    files: list[Path] = []
    for name in named:
        path = result.dir / str(name)
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    names = [*dict.fromkeys(path.relative_to(result.dir).as_posix() for path in files), MANIFEST]
    for name in names:
        objects.upload(result.dir / name, f"{prefix.rstrip('/')}/{name}")
    return names


def _bundle_format(spec: ExportConfig, path: Path) -> str | None:
    """``beir`` or ``parquet`` when export ``spec`` writes a whole retrieval set (a BEIR folder, or
    Parquet to a path without a suffix: a folder of ``<part>.parquet``), else None."""
    fmt = spec.format or io.detect_format(path, writing=True)
    if fmt == "beir" or (fmt == "parquet" and not path.suffix):
        return fmt
    return None


def _resumed(stage: Stage, stage_dir: Path, fingerprint: str, reporter: Reporter) -> StageRun | None:
    saved, problem = read_record(stage_dir, fingerprint)
    if problem:
        reporter.note(f"{stage_dir.name}: {problem}; running the stage again")
    if saved is None:
        return None
    if "rows_rewritten" not in saved:
        reporter.note(f"{stage_dir.name}: {RECORD} has no flag and rewrite counts; running the stage again")
        return None
    stats = StageStats(**{k: saved[k] for k in ("rows_in", "rows_kept", "rows_rejected", "reasons", "seconds")})
    stats.rows_added = saved.get("rows_added", 0)
    stats.flags = saved.get("flags", {})
    stats.rewrites = saved.get("rewrites", {})
    stats.rows_flagged = saved.get("rows_flagged", 0)
    stats.rows_rewritten = saved.get("rows_rewritten", 0)
    run = StageRun(
        stage.id,
        stage.name,
        saved["params"],
        fingerprint,
        stage_dir,
        stats,
        resumed=True,
        artifacts=saved.get("artifacts", []),
        role=stage.role,
    )
    run.parts = saved.get("parts", {})
    return run


def _run_stage(
    stage: Stage,
    dataset: Dataset,
    stage_dir: Path,
    fingerprint: str,
    batch_rows: int,
    reporter: Reporter,
    siblings: Mapping[str, Dataset] | None = None,
    executor: Executor | None = None,
) -> StageRun:
    """Run ``stage`` into ``stage_dir`` (its batches on ``executor``'s workers, if any); with
    ``siblings`` (a retrieval set's other parts) also write the parts it changed to ``parts/<name>.parquet``."""
    params = stage.params.model_dump(mode="json")
    parts: dict[str, list[int | None]] = {}
    with atomic_dir(stage_dir) as tmp:
        try:
            with progress.listening(reporter.progress):
                _, _, stats = stage.execute(dataset, out_dir=tmp, batch_rows=batch_rows, executor=executor)
                if siblings is not None:
                    parts = _write_parts(stage, dataset, siblings, tmp)
            artifacts = []
            for name, table in stage.artifacts().items():
                pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
                artifacts.append(f"{name}.parquet")
        except CurateError as exc:
            raise exc.at(stage=stage.id) from exc
        except OSError as exc:
            if is_write_error(exc):
                raise  # named by atomic_dir: the disk, not the stage
            raise StageError(f"stage failed: {type(exc).__name__}: {exc}", where=Where(stage=stage.id)) from exc
        except Exception as exc:
            raise StageError(f"stage failed: {type(exc).__name__}: {exc}", where=Where(stage=stage.id)) from exc
        kept_rows = Dataset.from_parquet(tmp / "kept.parquet", dataset.kind).num_rows
        rejected_rows = Dataset.from_parquet(tmp / "rejected.parquet", dataset.kind).num_rows
        if kept_rows + rejected_rows != dataset.num_rows + stats.rows_added:
            raise StageError(
                f"kept ({kept_rows}) + rejected ({rejected_rows}) != input ({dataset.num_rows}) "
                f"+ added ({stats.rows_added})",
                where=Where(stage=stage.id),
            )
        record = {
            "stage": stage.id,
            "use": stage.name,
            "role": stage.role,
            "params": params,
            "fingerprint": fingerprint,
        }
        write_record(
            tmp,
            {**record, **stats.as_dict(), "artifacts": artifacts, **({"parts": parts} if parts else {})},
            [
                "kept.parquet",
                "rejected.parquet",
                *artifacts,
                *(f"{PARTS_DIR}/{name}.parquet" for name, (_, after) in parts.items() if after is not None),
            ],
        )
    run = StageRun(stage.id, stage.name, params, fingerprint, stage_dir, stats, False, artifacts, role=stage.role)
    run.parts = parts
    return run


def _write_parts(
    stage: Stage, dataset: Dataset, siblings: Mapping[str, Dataset], tmp: Path
) -> dict[str, list[int | None]]:
    """Ask ``stage`` for the siblings after its run (:meth:`~curate.stages.base.Stage.update_parts`)
    and write those it changed to ``tmp/parts/``; returns ``{name: [rows before, rows after]}`` of
    the changed ones (after None: the stage ended the part)."""
    kept = Dataset.from_parquet(tmp / "kept.parquet", stage.output_kind(dataset.kind))
    rejected = Dataset.from_parquet(tmp / "rejected.parquet", dataset.kind)
    after = stage.update_parts(siblings, kept, rejected)
    changed: dict[str, list[int | None]] = {}
    for name, part in siblings.items():
        new = after.get(name)
        if new is part:
            continue
        if new is not None:
            (tmp / PARTS_DIR).mkdir(exist_ok=True)
            io.write(new, tmp / PARTS_DIR / f"{name}.parquet", format="parquet", as_source=False)
        changed[name] = [part.num_rows, None if new is None else new.num_rows]
    return changed


def _manifest(config: PipelineConfig, result: RunResult, seconds: float) -> dict[str, Any]:
    return {
        "name": config.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "input": {**config.input.model_dump(), "rows": result.input_rows, "quarantined": result.quarantined},
        "stages": [
            {
                "id": run.id,
                "use": run.use,
                "role": run.role,
                "params": run.params,
                "fingerprint": run.fingerprint,
                "resumed": run.resumed,
                "dir": run.dir.name,
                "artifacts": run.artifacts,
                **run.stats.as_dict(),
                **({"parts": run.parts} if run.parts else {}),
                "warning": run.warning,
            }
            for run in result.stages
        ],
        "output": {
            "path": OUTPUT,
            "kind": result.output.kind,
            "rows": result.output.num_rows,
            **(
                {"parts": {n: {"path": part_output(n), "rows": p.num_rows} for n, p in result.parts.items()}}
                if result.parts
                else {}
            ),
        },
        "exports": [str(p.relative_to(result.dir)) for p in result.exports],
        "settings": {
            "batch_rows": config.batch_rows,
            "warn_reject_share": config.warn_reject_share,
            "allow_empty_output": config.allow_empty_output,
        },
        "warnings": result.warnings,
        "seconds": round(seconds, 3),
    }
