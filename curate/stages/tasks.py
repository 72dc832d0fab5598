"""A stage's batches as the tasks of an executor (:meth:`curate.stages.base.Stage.execute` with one).

The driver checks the input and plans, as a local run does. Every task then gets the stage as a
:class:`StageJob` (its class, params and id: the worker builds the stage again, so a model it loads
is loaded there, once per worker, and never pickled), the plan, the dataset (its Parquet paths, or
its table when it is held in memory) and one batch's row range, the ranges of
:meth:`curate.dataset.Dataset.batch_ranges`. It reads those rows
(:meth:`~curate.dataset.Dataset.rows`), splits them and returns a :class:`~curate.stages.base.Batch`:
the counts, and the kept and rejected rows in Arrow files of a temporary folder under the stage's
output folder (in the result itself when the stage writes nothing). The driver takes the results in
batch order, so the stage's files, counts and artifacts are those of a local run.

The workers read the input where the driver does: on several machines, the run folder must be on a
file system they share, at the same path. A relative path in a stage's parameters (a model file) is
read from the driver's working directory.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from curate.config import Strict
from curate.dataset import Dataset
from curate.executors import Executor, Shared
from curate.stages.base import Batch

if TYPE_CHECKING:
    from curate.stages.base import Stage


@dataclass(frozen=True)
class StageJob:
    """What a worker needs to split batches of one stage run: the stage's class (``module:qualname``),
    ``params`` and ``id``, the input's ``kind``, the ``plan`` and the driver's working directory."""

    stage: str
    params: Strict
    id: str
    kind: str
    plan: Any
    cwd: str

    def build(self) -> Stage:
        """The stage, made again from its class, params and id (without the retrieval set's parts:
        they serve the plan, made by the driver)."""
        module, _, name = self.stage.partition(":")
        cls: Any = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        stage: Stage = cls(self.params, id=self.id)
        return stage


@dataclass(frozen=True)
class BatchTask:
    """One batch to split: rows ``start:stop`` of the shared dataset (batch ``index``); ``folder``:
    where its rows go (None: back in the result). ``run`` names the stage run, so a worker builds
    the stage once for all the batches it gets."""

    run: str
    job: Shared[StageJob]
    data: Shared[Dataset]
    index: int
    start: int
    stop: int
    folder: str | None


def split_on(
    executor: Executor, stage: Stage, dataset: Dataset, plan: Any, batch_rows: int, out_dir: Path | None
) -> Generator[Batch, None, None]:
    """The batches of ``dataset`` split by ``executor``'s workers, in order, their rows read back."""
    cls = type(stage)
    job = StageJob(f"{cls.__module__}:{cls.__qualname__}", stage.params, stage.id, dataset.kind, plan, os.getcwd())
    if dataset.paths:  # workers may start elsewhere: absolute paths
        dataset = replace(dataset, paths=tuple(path.absolute() for path in dataset.paths))
    folder = tempfile.mkdtemp(prefix=".batches-", dir=out_dir.absolute()) if out_dir is not None else None
    try:
        run, shared_job, shared_data = uuid.uuid4().hex, executor.share(job), executor.share(dataset)
        tasks = (
            BatchTask(run, shared_job, shared_data, index, start, stop, folder)
            for index, (start, stop) in enumerate(dataset.batch_ranges(batch_rows))
        )
        for done in executor.map(split_batch, tasks, what="batch"):
            yield done.load() if isinstance(done, Saved) else done
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


_BUILT: dict[str, tuple[Stage, StageJob, Dataset]] = {}
"""The stage this worker process last built, with its job and dataset, by run."""


def split_batch(task: BatchTask) -> Batch | Saved:
    """The task: split one batch (in a worker), its rows saved to ``task.folder`` when it has one."""
    if task.run not in _BUILT:
        _BUILT.clear()
        job = task.job.get()
        _BUILT[task.run] = (job.build(), job, task.data.get())
    stage, job, data = _BUILT[task.run]
    with _working_dir(job.cwd):
        rows = data.rows(task.start, task.stop)
        done = Batch.of(stage.split_with(rows, job.plan, task.start, job.kind), rows.num_rows)
    if task.folder is None:
        return done
    files = [Path(task.folder) / f"{task.index:08d}.{name}.arrow" for name in ("kept", "rejected")]
    for table, path in zip((done.kept, done.rejected), files, strict=True):
        _save(table, path)
    empty = replace(done, kept=done.kept.slice(0, 0), rejected=done.rejected.slice(0, 0))
    return Saved(empty, str(files[0]), str(files[1]))


@dataclass(frozen=True)
class Saved:
    """A task's result whose rows it wrote to Arrow files: ``batch`` without rows, and the files."""

    batch: Batch
    kept: str
    rejected: str

    def load(self) -> Batch:
        """The batch with its rows read back (the files are then removed)."""
        return replace(self.batch, kept=_load(self.kept), rejected=_load(self.rejected))


@contextmanager
def _working_dir(path: str) -> Iterator[None]:
    """Run in ``path`` (the driver's working directory) when it exists here, then go back."""
    here = os.getcwd()
    if path == here or not os.path.isdir(path):
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


def _save(table: pa.Table, path: Path) -> None:
    """Write ``table`` to the Arrow file ``path``, through a temporary (a task run again after its
    worker died writes it whole)."""
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _load(path: str) -> pa.Table:
    with pa.OSFile(path) as source:
        table = pa.ipc.open_file(source).read_all()
    os.remove(path)
    return table
