"""The folder a pipeline run writes: its layout, its lock, what it owns, and verified stage records.

Layout::

    <dir>/
      .curate.lock        locked (flock) while a run writes here; the OS releases it when the run ends or dies
      input/              data/part-NNNNN.parquet, the input's shards (+ quarantine.jsonl), and
                          stats.json; a retrieval set as data.parquet (its primary part) and its
                          other parts in parts/<name>.parquet
      NN_<id>/            per stage: kept.parquet/ and rejected.parquet/ (folders, a Parquet file
                          per batch: part-NNNNNN.parquet), artifacts and stats.json; the
                          parts of a retrieval set the stage changed in parts/<name>.parquet
      output.parquet      the published set, written after the last stage: output, exports, report,
      output.<part>.parquet  and manifest.json last (a retrieval set's other parts beside the output);
      <exports>           a folder with a manifest holds one run's complete set
      README.md           dataset card beside the exports (curate.io.card; one per folder holding exports)
      report.md, report.html
      manifest.json
      run.log             what each run did, appended: stages started and finished with their counts,
                          progress lines, warnings and errors (kept across runs and resumes)

``stats.json`` (a *record*) holds the fingerprint the folder was made for and the size and SHA-256
of each file in it; a resumed run trusts a folder only when all of them still match.
:class:`RunResult` is a finished run as the Python API returns it, one :class:`StageRun` per stage.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from curate.dataset import Dataset
from curate.errors import ConfigError, OutputError, Where
from curate.files import digest, is_within, remove, temp_path, write_json, writing
from curate.io.card import forget
from curate.stages.base import StageStats

LOCK = ".curate.lock"
INPUT = "input"
OUTPUT = "output.parquet"
PARTS_DIR = "parts"
SHARDS_DIR = "data"


def part_output(name: str) -> str:
    """Where the published set holds a retrieval set's part ``name`` (other than the primary),
    beside ``output.parquet``."""
    return f"output.{name}.parquet"


PART_OUTPUTS = tuple(part_output(name) for name in ("corpus", "queries", "qrels"))
REPORT = "report.md"
REPORT_HTML = "report.html"
MANIFEST = "manifest.json"
RECORD = "stats.json"
RUN_LOG = "run.log"
_RESERVED = (LOCK, INPUT, OUTPUT, *PART_OUTPUTS, REPORT, REPORT_HTML, MANIFEST, RUN_LOG)
_STAGE_DIR = re.compile(r"\d{2,}_[\w.-]+")


@dataclass
class StageRun:
    """One stage of a finished run; ``warning`` says when it rejected more than its share."""

    id: str
    use: str
    params: dict[str, Any]
    fingerprint: str
    dir: Path
    stats: StageStats
    resumed: bool
    artifacts: list[str] = field(default_factory=list)
    warning: str | None = None
    role: str = ""
    """The stage's role (:data:`curate.stages.base.ROLES`); empty in records of older runs."""
    parts: dict[str, list[int | None]] = field(default_factory=dict)
    """Retrieval-set parts the stage changed: name -> [rows before, rows after] (0 after: ended)."""
    part: str = ""
    """The retrieval-set part the stage worked on, when it is not the primary (``part:`` of the stage)."""


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
    cards: list[str] = field(default_factory=list)
    """Dataset cards written beside the exports (:mod:`curate.io.card`), relative to ``dir``."""
    parts: dict[str, Dataset] = field(default_factory=dict)
    """A retrieval-set run: the parts other than the primary (``output``), by name."""

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    @property
    def warnings(self) -> list[str]:
        """The stages' warnings, in stage order."""
        return [run.warning for run in self.stages if run.warning]


def stage_dir_name(index: int, stage_id: str) -> str:
    """``NN_<id>``: the folder of the ``index``-th (1-based) stage."""
    return f"{index:02d}_{stage_id}"


def write_record(folder: Path, record: dict[str, Any], files: Sequence[str]) -> dict[str, Any]:
    """Write ``stats.json`` in ``folder``: ``record`` plus ``files`` (name -> bytes and SHA-256; a
    folder's files each by their relative name)."""
    names = [path for name in files for path in _files_in(folder, name)]
    listed = {name: {"bytes": (folder / name).stat().st_size, "sha256": digest(folder / name)} for name in names}
    record = {**record, "files": listed}
    write_json(folder / RECORD, record)
    return record


def _files_in(folder: Path, name: str) -> list[str]:
    """``[name]``, or the files in the folder ``name`` (relative to ``folder``, in name order)."""
    path = folder / name
    if not path.is_dir():
        return [name]
    return [p.relative_to(folder).as_posix() for p in sorted(path.rglob("*")) if p.is_file()]


def read_record(folder: Path, fingerprint: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` when ``folder`` was made for ``fingerprint`` and every file its record lists
    is unchanged; else ``(None, why)``, with ``why`` None when there is simply nothing to resume (no
    record, or one for other inputs or params) and a sentence when files were lost or changed."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None, None
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return None, f"{RECORD} lists no files to check"
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return None, f"{name} is missing"
        if path.stat().st_size != expected.get("bytes") or digest(path) != expected.get("sha256"):
            return None, f"{name} changed since it was written"
    return record, None


def is_stage_folder(path: Path) -> bool:
    """True for a ``NN_<id>`` folder holding a stage record (one a run wrote)."""
    if not (_STAGE_DIR.fullmatch(path.name) and path.is_dir()):
        return False
    try:
        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "stage" in record and "fingerprint" in record


def stage_dirs(run_dir: Path) -> list[Path]:
    """The stage folders of the run in ``run_dir``: those its manifest lists, or, for a run that
    stopped before publishing, the stage folders it wrote (a run removes other pipelines' first)."""
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return sorted(p for p in run_dir.glob("[0-9][0-9]*_*") if is_stage_folder(p))
    return [run_dir / stage["dir"] for stage in manifest["stages"]]


class RunFolder:
    """The output folder of a run (``path``): checks before a run, the lock, and clearing what an
    earlier run left."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._exports: list[Path] = []
        self._published = True  # what an earlier run published may still be there

    def export_path(self, relative: str, *, field: str) -> Path:
        """The path of an export given relative to the folder; ConfigError when it leaves the folder or
        takes the place of something the run writes itself."""
        parts = PurePath(relative).parts
        if "://" in relative:
            problem = "an export is written inside the output folder, not to a URL"
            hint = "give a path relative to the output folder, then copy it: curate convert RUN/PATH s3://BUCKET/KEY"
            raise ConfigError(problem, where=Where(field=field), value=relative, hint=hint)
        if not parts or PurePath(relative).is_absolute() or ".." in parts:
            problem = "an export path must stay inside the output folder"
        elif parts[0] in _RESERVED or parts[0].startswith(".") or _STAGE_DIR.fullmatch(parts[0]):
            problem = "an export path takes the place of a file the run writes itself"
        else:
            return self.path / relative
        hint = f"give a path relative to the output folder, not {', '.join(_RESERVED)}, 'NN_<id>' or hidden"
        raise ConfigError(problem, where=Where(field=field), value=relative, hint=hint)

    def check_apart(self, reads: Sequence[tuple[str, Path]]) -> None:
        """ConfigError when a file or folder the run reads (``(what, path)`` pairs) is the output folder,
        holds it or lies inside it: every run would read what the one before wrote."""
        for what, path in reads:
            if is_within(self.path, path):
                where = "is" if is_within(path, self.path) else "lies inside"
                raise ConfigError(
                    f"the output folder {where} the {what}, so each run would read what the last one wrote",
                    where=Where(file=str(self.path)),
                    hint=f"choose an output folder outside {path}",
                )
            if is_within(path, self.path):
                raise ConfigError(
                    f"the {what} lies inside the output folder, so each run would read what the last one wrote",
                    where=Where(file=str(path)),
                    hint=f"move it out of {self.path}, or choose another output folder",
                )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Create the folder and hold its lock for the block. Another run holding it is a one-line
        OutputError; a folder this run created and left empty (but for its ``run.log``) is removed again."""
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(
                "the output folder is a file",
                where=Where(file=str(self.path)),
                hint="choose a folder (--output or output.dir), or move the file away",
            )
        created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        with writing(self.path):
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                handle = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                _remove_empty(created)
                raise
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(handle, 32).decode(errors="replace").strip()
                raise OutputError(
                    "the output folder is in use by another run" + (f" (pid {holder})" if holder.isdigit() else ""),
                    where=Where(file=str(self.path)),
                    hint="wait for that run to finish, or choose another output folder",
                ) from None
            os.ftruncate(handle, 0)
            os.write(handle, f"{os.getpid()}\n".encode())
            try:
                yield
            finally:
                if created and {p.name for p in self.path.iterdir()} <= {LOCK, RUN_LOG}:
                    (self.path / LOCK).unlink()
                    (self.path / RUN_LOG).unlink(missing_ok=True)
                    _remove_empty(created)
        finally:
            os.close(handle)

    def clear(self, *, stage_dirs: set[str], exports: Sequence[Path], note: Callable[[str], None]) -> None:
        """Before a run: remove temporaries of a killed run, stage folders that are not among
        ``stage_dirs`` (an earlier version of the pipeline) and exports an earlier run published that
        ``exports`` no longer has; then the published set of an earlier run stays until
        :meth:`changing`."""
        self._exports = list(exports)
        earlier = self._published_exports()  # read before changing() removes the manifest
        for entry in sorted(self.path.iterdir()):
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp"):
                final = name[1:-4]
                if final in _RESERVED or _STAGE_DIR.fullmatch(final):
                    remove(entry)
            elif name not in stage_dirs and is_stage_folder(entry):
                self.changing()
                remove(entry)
                note(f"removed {name}: a stage folder of an earlier run, not of this pipeline")
        for path in earlier:
            if path not in self._exports and path.exists():
                self.changing()
                forget(path)
                remove(path)
                note(f"removed {path.relative_to(self.path)}: an export of an earlier run, not of this pipeline")

    def changing(self) -> None:
        """Say that the run is about to change the folder (the input, a stage, the published set): the
        first call removes what an earlier run published (manifest first), so a manifest never
        describes a folder it no longer matches, and a run that changes nothing leaves it in place."""
        if self._published:
            self.unpublish()
            self._published = False

    def unpublish(self) -> None:
        """Remove the published set (manifest first) and the temporaries of its files; the exports
        leave the dataset cards beside them."""
        for path in (
            self.path / MANIFEST,
            self.path / REPORT,
            self.path / REPORT_HTML,
            self.path / OUTPUT,
            *(self.path / name for name in PART_OUTPUTS),
            *self._exports,
        ):
            if path in self._exports:
                forget(path)
            remove(path)
            remove(temp_path(path))

    def _published_exports(self) -> list[Path]:
        """Exports the folder's manifest lists (only export paths, inside the folder)."""
        try:
            listed = json.loads((self.path / MANIFEST).read_text(encoding="utf-8")).get("exports", [])
        except (OSError, ValueError, AttributeError):
            return []
        paths = []
        for relative in listed if isinstance(listed, list) else []:
            with suppress(ConfigError, TypeError):
                paths.append(self.export_path(relative, field="exports"))
        return [p for p in paths if is_within(p, self.path)]


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove ``folders`` (innermost first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
