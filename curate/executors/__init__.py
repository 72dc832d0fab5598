"""Where the tasks of a run go: this process, a pool of local processes, or a Ray cluster.

An :class:`Executor` maps a module-level function over items and yields the results in item order,
with at most a few tasks per worker in flight (so results stream and memory stays bounded). Tasks
and their items must pickle; a value every task reads (a stage's plan, an index) is shared once with
:meth:`Executor.share` and read in the task with :meth:`Shared.get`. :func:`map_ranges` does both for
work cut into ranges of items (rows of a dataset, queries against one index): a task per range,
about :data:`~curate.executors.base.TASKS_PER_WORKER` per worker, one range on a single worker.

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

from curate.executors.base import (
    IN_FLIGHT_PER_WORKER,
    Executor,
    ExecutorName,
    ExecutorSettings,
    Shared,
    Span,
    in_order,
    map_ranges,
    span_ranges,
)
from curate.executors.processes import ProcessExecutor
from curate.executors.ray_cluster import RayExecutor

__all__ = [
    "IN_FLIGHT_PER_WORKER",
    "Executor",
    "ExecutorName",
    "ExecutorSettings",
    "ProcessExecutor",
    "RayExecutor",
    "Shared",
    "Span",
    "in_order",
    "make_executor",
    "map_ranges",
    "span_ranges",
]


def make_executor(settings: ExecutorSettings | None = None) -> Executor:
    """The executor ``settings`` name (``local`` when none), started."""
    settings = settings or ExecutorSettings()
    if settings.name == "processes":
        return ProcessExecutor(settings)
    if settings.name == "ray":
        return RayExecutor(settings)
    return Executor()
