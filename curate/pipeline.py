"""Pipelines: a YAML file naming an input, an output folder and a list of stages, run with resume.

Pipeline file::

    name: korquad_clean
    input:
      path: sample_data/korquad_sample.json   # relative to the working directory
      format: squad                           # optional, inferred from the path
      kind: mrc                               # optional, inferred from format / columns
      columns: {document: text}               # optional source -> schema column renames
      on_error: fail                          # or skip: unreadable rows go to quarantine.jsonl
    output:
      dir: runs/korquad_clean                 # default runs/<name>
      export:                                 # optional copies of the final rows
        - {path: clean.json, format: squad}   # relative to dir
    stages:
      - use: validate_spans
        id: spans                             # optional, default: the stage name
        params: {repair: true}

A run writes, under the output folder: ``input/data.parquet``, per stage ``NN_<id>/`` with
``kept.parquet``, ``rejected.parquet``, ``stats.json`` and artifacts, then ``output.parquet``,
the exports, ``manifest.json`` and ``report.md``. Each stage folder is written to a temporary
folder and renamed into place, so a failure leaves earlier outputs intact. A stage whose
fingerprint (input fingerprint + stage name + params + curate version) matches its
``stats.json`` is not run again.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

import curate
from curate import io
from curate.dataset import DEFAULT_BATCH_ROWS, Dataset
from curate.errors import ConfigError, CurateError, StageError, Where
from curate.stages import Stage, StageStats, get_stage_class


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputConfig(_Strict):
    path: str
    format: str | None = None
    kind: str | None = None
    columns: dict[str, str] = {}
    split: str | None = None
    on_error: Literal["fail", "skip"] = "fail"
    quote: str | None = "default"


class ExportConfig(_Strict):
    path: str
    format: str | None = None


class OutputConfig(_Strict):
    dir: str | None = None
    export: list[ExportConfig] = []


class StageConfig(_Strict):
    use: str
    id: str | None = None
    params: dict[str, Any] = {}


class PipelineConfig(_Strict):
    """A pipeline file, validated; unknown keys anywhere are an error naming the allowed ones."""

    name: str
    description: str = ""
    input: InputConfig
    output: OutputConfig = OutputConfig()
    stages: list[StageConfig] = []
    batch_rows: int = DEFAULT_BATCH_ROWS

    @field_validator("output", mode="before")
    @classmethod
    def _output_shorthand(cls, value: Any) -> Any:
        return {"dir": value} if isinstance(value, str) else value


def _config_error(exc: ValidationError, file: str | None) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc)
    model: type[BaseModel] = PipelineConfig
    for part in loc[:-1]:
        annotation = model.model_fields.get(part)
        inner = getattr(annotation, "annotation", None) if annotation else None
        inner = getattr(inner, "__args__", (inner,))[0] if inner is not None and hasattr(inner, "__args__") else inner
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
    allowed = ", ".join(model.model_fields)
    if first["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown key '{key}'", where=Where(file=file), value=first.get("input"), hint=f"allowed: {allowed}"
        )
    if first["type"] == "missing":
        return ConfigError(f"missing key '{key}'", where=Where(file=file), hint=f"keys here: {allowed}")
    return ConfigError(f"bad value for '{key}' ({first['msg']})", where=Where(file=file), value=first.get("input"))


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
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, file) from None


def build_stages(config: PipelineConfig) -> list[Stage]:
    """Stage instances of a pipeline; ids must be unique."""
    stages, seen = [], set()
    for index, spec in enumerate(config.stages):
        stage_id = spec.id or spec.use
        if stage_id in seen:
            raise ConfigError(
                "duplicate stage id",
                where=Where(stage=stage_id, field=f"stages[{index}].id"),
                value=stage_id,
                hint="give each use of a stage its own id",
            )
        seen.add(stage_id)
        stages.append(get_stage_class(spec.use, stage_id=stage_id)(spec.params, id=stage_id))
    return stages


def _sha(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def _file_digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:24]


@dataclass
class StageRun:
    """One stage of a finished run."""

    id: str
    use: str
    params: dict[str, Any]
    fingerprint: str
    dir: Path
    stats: StageStats
    resumed: bool
    artifacts: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """A finished pipeline run: its folder, final dataset, per-stage records and quarantined rows."""

    name: str
    dir: Path
    output: Dataset
    input_rows: int
    stages: list[StageRun]
    exports: list[Path]
    quarantined: int = 0

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"


class Reporter:
    """Receives progress events; the CLI shows them with rich, the Python API stays quiet."""

    def stage_started(self, stage: Stage, index: int, total_rows: int) -> None: ...
    def rows_done(self, rows: int) -> None: ...
    def stage_finished(self, run: StageRun) -> None: ...


def _atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    tmp = final.with_name(f".{final.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _load_input(config: InputConfig, run_dir: Path, fingerprint: str) -> tuple[Dataset, int]:
    """Read the input once into ``input/data.parquet``; later runs reuse it while the fingerprint holds."""
    folder = run_dir / "input"
    stats_file = folder / "stats.json"
    if stats_file.exists():
        saved = json.loads(stats_file.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint and (folder / "data.parquet").exists():
            return Dataset.from_parquet(folder / "data.parquet", saved["kind"]), saved.get("quarantined", 0)
    quarantined = 0

    def fill(tmp: Path) -> None:
        nonlocal quarantined
        skip = config.on_error == "skip"
        dataset = io.read(
            config.path,
            format=config.format,
            kind=config.kind,
            rename=config.columns or None,
            split=config.split,
            on_error=config.on_error,
            quarantine=tmp / "quarantine.jsonl" if skip else None,
            quote=config.quote,
        )
        quarantined = int(dataset.metadata.get("quarantined_rows", 0))
        io.write(dataset, tmp / "data.parquet", format="parquet")
        _write_json(
            tmp / "stats.json",
            {"fingerprint": fingerprint, "kind": dataset.kind, "rows": dataset.num_rows, "quarantined": quarantined},
        )

    _atomic_dir(folder, fill)
    saved = json.loads(stats_file.read_text(encoding="utf-8"))
    return Dataset.from_parquet(folder / "data.parquet", saved["kind"]), quarantined


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


def run_pipeline(
    pipeline: str | Path | dict[str, Any] | PipelineConfig,
    *,
    input: str | Path | None = None,
    output: str | Path | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run a pipeline (file, dict or config) and return its :class:`RunResult`.

    Args:
        input: replaces ``input.path``.
        output: replaces ``output.dir``.
        force: run every stage again even when its outputs are up to date.
    """
    config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline)
    if input is not None:
        config = config.model_copy(update={"input": config.input.model_copy(update={"path": str(input)})})
    reporter = reporter or Reporter()
    stages = build_stages(config)
    run_dir = Path(output or config.output.dir or Path("runs") / config.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    input_path = Path(config.input.path)
    if not input_path.exists():
        raise ConfigError(
            "input not found", where=Where(file=str(input_path), field="input.path"), hint="check the path"
        )
    fingerprint = _sha(_file_digest(input_path), config.input.model_dump(exclude={"path"}), curate.__version__)
    started = time.perf_counter()
    dataset, quarantined = _load_input(config.input, run_dir, fingerprint)
    input_rows = dataset.num_rows
    kind = dataset.kind
    for stage in stages:
        stage.check_kind(kind)
        kind = stage.output_kind(kind)
    runs: list[StageRun] = []
    for index, stage in enumerate(stages, start=1):
        extra_inputs = [_file_digest(p) if p.exists() else str(p) for p in stage.input_files()]
        fingerprint = _sha(
            fingerprint, stage.name, stage.params.model_dump(mode="json"), extra_inputs, curate.__version__
        )
        stage_dir = run_dir / f"{index:02d}_{stage.id}"
        run = _resumed(stage, stage_dir, fingerprint) if not force else None
        if run is None:
            reporter.stage_started(stage, index, dataset.num_rows)
            run = _run_stage(stage, dataset, stage_dir, fingerprint, config.batch_rows, reporter)
        reporter.stage_finished(run)
        runs.append(run)
        dataset = Dataset.from_parquet(stage_dir / "kept.parquet", stage.output_kind(dataset.kind))
    final = run_dir / "output.parquet"
    tmp = run_dir / ".output.parquet.tmp"
    shutil.copyfile(dataset.paths[0], tmp)
    tmp.replace(final)
    exports = [io.write(dataset, run_dir / spec.path, format=spec.format) for spec in config.output.export]
    result = RunResult(
        name=config.name,
        dir=run_dir,
        output=Dataset.from_parquet(final, dataset.kind),
        input_rows=input_rows,
        stages=runs,
        exports=exports,
        quarantined=quarantined,
    )
    _write_json(result.manifest_path, _manifest(config, result, time.perf_counter() - started))
    from curate.report.summary import write_markdown_report

    write_markdown_report(result)
    return result


def _resumed(stage: Stage, stage_dir: Path, fingerprint: str) -> StageRun | None:
    stats_file = stage_dir / "stats.json"
    if not stats_file.exists():
        return None
    saved = json.loads(stats_file.read_text(encoding="utf-8"))
    if saved.get("fingerprint") != fingerprint or not (stage_dir / "kept.parquet").exists():
        return None
    stats = StageStats(**{k: saved[k] for k in ("rows_in", "rows_kept", "rows_rejected", "reasons", "seconds")})
    stats.rows_added = saved.get("rows_added", 0)
    stats.flags = saved.get("flags", {})
    return StageRun(
        stage.id,
        stage.name,
        saved["params"],
        fingerprint,
        stage_dir,
        stats,
        resumed=True,
        artifacts=saved.get("artifacts", []),
    )


def _run_stage(
    stage: Stage, dataset: Dataset, stage_dir: Path, fingerprint: str, batch_rows: int, reporter: Reporter
) -> StageRun:
    params = stage.params.model_dump(mode="json")
    record: dict[str, Any] = {}

    def fill(tmp: Path) -> None:
        try:
            _, _, stats = stage.execute(dataset, out_dir=tmp, batch_rows=batch_rows, on_rows=reporter.rows_done)
        except CurateError as exc:
            raise exc.at(stage=stage.id) from exc
        except Exception as exc:
            raise StageError(f"stage failed: {type(exc).__name__}: {exc}", where=Where(stage=stage.id)) from exc
        artifacts = []
        for name, table in stage.artifacts().items():
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
            artifacts.append(f"{name}.parquet")
        kept_rows = pq.ParquetFile(tmp / "kept.parquet").metadata.num_rows
        rejected_rows = pq.ParquetFile(tmp / "rejected.parquet").metadata.num_rows
        if kept_rows + rejected_rows != dataset.num_rows + stats.rows_added:
            raise StageError(
                f"kept ({kept_rows}) + rejected ({rejected_rows}) != input ({dataset.num_rows}) "
                f"+ added ({stats.rows_added})",
                where=Where(stage=stage.id),
            )
        record.update(stats=stats, artifacts=artifacts)
        _write_json(
            tmp / "stats.json",
            {
                "stage": stage.id,
                "use": stage.name,
                "params": params,
                "fingerprint": fingerprint,
                **stats.as_dict(),
                "artifacts": artifacts,
            },
        )

    _atomic_dir(stage_dir, fill)
    return StageRun(stage.id, stage.name, params, fingerprint, stage_dir, record["stats"], False, record["artifacts"])


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
                "params": run.params,
                "fingerprint": run.fingerprint,
                "resumed": run.resumed,
                "dir": run.dir.name,
                "artifacts": run.artifacts,
                **run.stats.as_dict(),
            }
            for run in result.stages
        ],
        "output": {"path": "output.parquet", "kind": result.output.kind, "rows": result.output.num_rows},
        "exports": [str(p.relative_to(result.dir)) for p in result.exports],
        "seconds": round(seconds, 3),
    }


def rejected_rows(run_dir: str | Path) -> pa.Table:
    """Every rejected row of a run, all stages together, with ``reject_stage/reason/detail``."""
    files = sorted(Path(run_dir).glob("[0-9][0-9]_*/rejected.parquet"))
    tables = [pq.read_table(f) for f in files]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({"reject_stage": pa.array([], pa.string())})
    return pa.concat_tables(tables, promote_options="permissive")
