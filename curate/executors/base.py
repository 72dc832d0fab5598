"""The executor contract: settings, the local executor, shared values and the ordered submit loop
(see :mod:`curate.executors`)."""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import pydantic

from curate import objects, progress
from curate.config import Strict
from curate.dataset import Dataset

T = TypeVar("T")
R = TypeVar("R")
H = TypeVar("H")

ExecutorName = Literal["local", "processes", "ray"]
IN_FLIGHT_PER_WORKER = 2
"""Tasks submitted ahead per worker: enough to keep workers busy, few enough to bound memory."""


class ExecutorSettings(Strict):
    """Which executor runs the tasks, and its resources."""

    name: ExecutorName = "local"
    """``local`` (this process), ``processes`` (local processes) or ``ray`` (a Ray cluster)."""
    workers: int | None = pydantic.Field(default=None, ge=1)
    """``processes``: how many processes (default: every core); ``ray``: tasks at once (default: the
    cluster's CPUs divided by ``num_cpus``)."""
    address: str | None = None
    """``ray``: the cluster to join (``auto``: the one started with ``ray start`` on this machine;
    ``host:port``: its head). None starts a local Ray in this process."""
    num_cpus: float = pydantic.Field(default=1, gt=0)
    """``ray``: CPUs each task asks for."""
    memory: int | None = pydantic.Field(default=None, ge=1)
    """``ray``: bytes of memory each task asks for (Ray schedules by it; none: not reserved)."""
    max_retries: int = pydantic.Field(default=3, ge=0)
    """``ray``: times a task is run again when its worker process dies."""
    runtime_env: dict[str, Any] | None = None
    """``ray``: Ray's runtime environment for the run's tasks (``env_vars``, ``py_executable``,
    ...: see Ray's documentation); with ``storage``, the object-store settings (``AWS_*``) are
    added to its ``env_vars``."""
    storage: str | None = None
    """``ray``: an ``s3://bucket/prefix`` every node reads and writes, for a cluster whose nodes
    share no disk: the rows tasks read and write (input shards, stage outputs, the scratch files of
    a split search) go through it, under a prefix of the run's own that is removed at the end; the
    run folder stays on this machine. None: tasks use the run folder itself (one machine, or a
    folder every node mounts)."""

    @pydantic.field_validator("storage")
    @classmethod
    def _an_s3_prefix(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("s3://") and len(value.rstrip("/")) > len("s3://")):
            raise ValueError(f"storage must be an s3://bucket/prefix URL, not {value!r}")
        return value

    @pydantic.model_validator(mode="after")
    def _storage_on_ray(self) -> ExecutorSettings:
        for name in ("storage", "runtime_env"):
            if getattr(self, name) is not None and self.name != "ray":
                raise ValueError(f"{name} is for the ray executor only")
        return self


class Shared(Generic[T]):
    """A value handed to every task once (see :meth:`Executor.share`); :meth:`get` in the task."""

    def __init__(self, value: T):
        self._value = value

    def get(self) -> T:
        return self._value


class Executor:
    """Runs tasks; this base runs them one by one in this process (``local``)."""

    name: ExecutorName = "local"
    workers: int = 1
    storage: str | None = None
    """The object-store prefix tasks exchange files through (``executor.storage`` and a name of
    this executor's own); None: this machine's disk."""

    def location(self, local: Path) -> str:
        """Where tasks find the file or folder ``local`` of this machine (a location of
        :mod:`curate.locations`): its absolute path, or its place under :attr:`storage`."""
        absolute = local.absolute()
        return absolute.as_posix() if self.storage is None else self.storage + absolute.as_posix()

    def readable(self, dataset: Dataset) -> Dataset:
        """``dataset`` as tasks read it: files by absolute path (workers may start elsewhere), or,
        with :attr:`storage`, uploaded there (each file once) and read from there."""
        if not dataset.paths:
            return dataset
        paths = tuple(path.absolute() for path in dataset.paths)
        if self.storage is None:
            return replace(dataset, paths=paths)
        for path in paths:
            url = self.location(path)
            if objects.size_of(url) != path.stat().st_size:
                objects.upload(path, url)
        return replace(dataset, paths=paths, store=self.storage)

    def fetch(self, folder: Path) -> None:
        """The files tasks wrote at :meth:`location` of ``folder``, copied into ``folder`` (with
        :attr:`storage`; else they are there already)."""
        if self.storage is not None:
            objects.download(self.location(folder), folder)

    def map(self, task: Callable[[T], R], items: Iterable[T], *, what: str = "task") -> Iterator[R]:
        """``task(item)`` for each item, results in item order. ``what`` names the work in errors.
        A task's own progress steps reach no one, as from another process: the log of a run is the
        same on every executor."""
        for item in items:
            with progress.listening(None):
                done = task(item)
            yield done

    def share(self, value: T) -> Shared[T]:
        """``value`` made readable by every task, sent to each worker at most once."""
        return Shared(value)

    def remove(self, folder: Path) -> None:
        """Delete the local ``folder`` and, with :attr:`storage`, what tasks wrote at its location."""
        shutil.rmtree(folder, ignore_errors=True)
        if self.storage is not None:
            objects.remove_prefix(self.location(folder))

    def close(self) -> None:
        """Stop the workers this executor started (and empty its :attr:`storage`)."""
        if self.storage is not None:
            objects.remove_prefix(self.storage)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


TASKS_PER_WORKER = 4
"""Ranges :func:`map_ranges` cuts the items into per worker: a slow range leaves others busy."""


@dataclass(frozen=True)
class Span(Generic[T]):
    """One task of :func:`map_ranges`: items ``start:stop`` of the work, and the value every task reads."""

    shared: Shared[T]
    start: int
    stop: int

    def value(self) -> T:
        return self.shared.get()


def span_ranges(total: int, workers: int, *, align: int = 1) -> list[tuple[int, int]]:
    """``total`` items cut into ``(start, stop)`` ranges: one range on a single worker, else about
    :data:`TASKS_PER_WORKER` per worker; every range but the last holds a multiple of ``align`` items."""
    if total <= 0:
        return []
    size = total if workers <= 1 else -(-total // (workers * TASKS_PER_WORKER))
    size = -(-size // align) * align
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def map_ranges(
    executor: Executor | None,
    task: Callable[[Span[T]], R],
    value: T,
    total: int,
    *,
    align: int = 1,
    what: str = "range",
) -> Iterator[R]:
    """``task`` over ranges of ``total`` items (:func:`span_ranges` for the executor's workers) on
    ``executor`` (None: this process), ``value`` shared once; results in range order."""
    executor = executor or Executor()
    shared = executor.share(value)
    spans = (Span(shared, start, stop) for start, stop in span_ranges(total, executor.workers, align=align))
    return executor.map(task, spans, what=what)


def in_order(
    items: Iterable[T],
    submit: Callable[[T], H],
    collect: Callable[[int, H], R],
    cancel: Callable[[H], Any],
    limit: int,
) -> Iterator[R]:
    """Results of ``items`` in item order: each item is ``submit``ted ahead (at most ``limit``
    pending), its handle ``collect``ed with the item's index when its turn comes; handles still
    pending when the caller stops (or a result fails) are ``cancel``led."""
    pending: deque[tuple[int, H]] = deque()
    source = iter(enumerate(items))
    try:
        while True:
            while len(pending) < limit and (nxt := next(source, None)) is not None:
                pending.append((nxt[0], submit(nxt[1])))
            if not pending:
                return
            index, handle = pending.popleft()
            yield collect(index, handle)
    finally:
        for _, handle in pending:
            cancel(handle)
