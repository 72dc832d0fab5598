"""Where the tasks of a run go: this process, a pool of local processes, or a Ray cluster.

An :class:`Executor` maps a module-level function over items and yields the results in item order,
with at most a few tasks per worker in flight (so results stream and memory stays bounded). Tasks
and their items must pickle; a value every task reads (a stage's plan, an index) is shared once with
:meth:`Executor.share` and read in the task with :meth:`Shared.get`.

- ``local``: tasks run one after the other in this process (the default; nothing to set up).
- ``processes``: a pool of ``workers`` local processes (default: every core), started with
  ``forkserver`` so no lock or thread of this process is copied into them.
- ``ray``: Ray core tasks on a cluster (``address``: ``auto`` for the running cluster, a
  ``host:port``, or none to start one in this process); ``num_cpus`` / ``memory`` per task, and a
  task whose worker dies is run again up to ``max_retries`` times.

An error raised by a task reaches the caller as itself (a :class:`~curate.errors.CurateError` keeps
its one line); a worker that dies without Ray to retry it ends the run with one line
(:class:`~curate.errors.ExecutorError`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Literal, TypeVar

import pydantic

from curate.config import Strict

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

    def map(self, task: Callable[[T], R], items: Iterable[T], *, what: str = "task") -> Iterator[R]:
        """``task(item)`` for each item, results in item order. ``what`` names the work in errors."""
        for item in items:
            yield task(item)

    def share(self, value: T) -> Shared[T]:
        """``value`` made readable by every task, sent to each worker at most once."""
        return Shared(value)

    def close(self) -> None:
        """Stop the workers this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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


def make_executor(settings: ExecutorSettings | None = None) -> Executor:
    """The executor ``settings`` name (``local`` when none), started."""
    settings = settings or ExecutorSettings()
    if settings.name == "processes":
        from curate.executors.processes import ProcessExecutor

        return ProcessExecutor(settings)
    if settings.name == "ray":
        from curate.executors.ray_cluster import RayExecutor

        return RayExecutor(settings)
    return Executor()
