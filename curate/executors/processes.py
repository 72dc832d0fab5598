"""``processes``: tasks on a pool of local processes (see :mod:`curate.executors`)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from curate.errors import ExecutorError
from curate.executors.base import IN_FLIGHT_PER_WORKER, Executor, ExecutorSettings, R, Shared, T, in_order

_LOADED: dict[str, Any] = {}
"""Shared values this worker process has read, by file, the latest :data:`_KEPT` only: the plans of
earlier stages do not pile up in a worker."""
_KEPT = 4


class _SharedFile(Shared[T]):
    """A value pickled once to a file; each worker process reads it on its first :meth:`get`."""

    def __init__(self, path: str):
        self.path = path

    def get(self) -> T:
        if self.path not in _LOADED:
            while len(_LOADED) >= _KEPT:
                del _LOADED[next(iter(_LOADED))]  # the one read first
            with open(self.path, "rb") as handle:
                _LOADED[self.path] = pickle.load(handle)
        value: T = _LOADED[self.path]
        return value


class ProcessExecutor(Executor):
    """Tasks on ``workers`` local processes (default: every core)."""

    name = "processes"

    def __init__(self, settings: ExecutorSettings):
        self.workers = settings.workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
        self._folder = tempfile.TemporaryDirectory(prefix="curate-shared-")
        self._shared = 0

    def map(self, task: Callable[[T], R], items: Iterable[T], *, what: str = "task") -> Iterator[R]:
        def collect(index: int, future: Future[R]) -> R:
            try:
                return future.result()
            except BrokenProcessPool as exc:
                raise ExecutorError(
                    f"a worker process died while running {what} {index}",
                    hint="it was killed or ran out of memory: run again (finished stages are resumed), "
                    "with fewer workers or smaller batches",
                ) from exc

        def submit(item: T) -> Future[R]:
            return self._pool.submit(task, item)

        return in_order(items, submit, collect, Future.cancel, self.workers * IN_FLIGHT_PER_WORKER)

    def share(self, value: T) -> Shared[T]:
        self._shared += 1
        path = Path(self._folder.name) / f"shared-{self._shared}.pickle"
        with path.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return _SharedFile(str(path))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._folder.cleanup()
