"""``ray``: tasks as Ray core tasks on a cluster (see :mod:`curate.executors`).

Ray is imported only here, when a run asks for it (``pip install 'curate[ray]'``). Joining a cluster
(``address``) needs curate installed on every node; with no address a Ray is started in this process
on 127.0.0.1 and stopped when the executor closes.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from curate import objects
from curate.errors import ConfigError, ExecutorError, Where
from curate.executors.base import IN_FLIGHT_PER_WORKER, Executor, ExecutorSettings, R, Shared, T, in_order


class _RayShared(Shared[T]):
    """A value in Ray's object store; tasks read it from their node's copy."""

    def __init__(self, ref: Any):
        self.ref = ref

    def get(self) -> T:
        import ray

        value: T = ray.get(self.ref)
        return value


def _is_loopback(address: str) -> bool:
    """True for a ``host:port`` on this machine's loopback (127.x.x.x, ``localhost``)."""
    host = address.removeprefix("ray://").rpartition(":")[0]
    return host == "localhost" or host.startswith("127.")


def _ray(*, loopback: bool = False) -> Any:
    """The ``ray`` module. ``loopback``: the cluster is a Ray of our own, or one on this machine's
    loopback address; Ray then binds and advertises 127.0.0.1 only, instead of replacing the
    address with the machine's network address (Ray reads the variable when first imported)."""
    if loopback:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "executor 'ray' needs Ray installed",
            where=Where(field="executor"),
            hint="pip install 'curate[ray]', or use executor: processes",
        ) from exc
    return ray


def _died(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a task whose worker or node died (after its retries)."""
    errors = ray.exceptions
    return (errors.WorkerCrashedError, errors.NodeDiedError, errors.OutOfMemoryError)


def _reachable(address: str, seconds: float = 5.0) -> None:
    """ConnectionError unless something listens at ``host:port`` (Ray itself would wait minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        raise ValueError(f"not host:port: {address}")
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=seconds):
        pass


class RayExecutor(Executor):
    """Ray core tasks, ``num_cpus`` (and ``memory``) each, spread over the cluster's nodes."""

    name = "ray"

    def __init__(self, settings: ExecutorSettings):
        ray = _ray(loopback=settings.address is None or _is_loopback(settings.address))
        self.settings = settings
        self._owner = not ray.is_initialized()
        if self._owner:
            self._start(ray, settings)
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.workers = settings.workers or max(1, int(cpus // settings.num_cpus))
        if settings.storage is not None:
            self.storage = f"{settings.storage.rstrip('/')}/curate-{uuid.uuid4().hex}"

    @staticmethod
    def _start(ray: Any, settings: ExecutorSettings) -> None:
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        runtime_env = dict(settings.runtime_env or {})
        if settings.storage is not None:  # the tasks reach the object store as this process does
            runtime_env["env_vars"] = {**objects.environment(), **runtime_env.get("env_vars", {})}
        if runtime_env:
            options["runtime_env"] = runtime_env
        if settings.address is None:  # a Ray of our own, on loopback only
            options |= {"include_dashboard": False}
            if settings.workers:
                options["num_cpus"] = settings.workers
        try:
            if settings.address not in (None, "auto"):
                _reachable(settings.address)
            # "local": a new Ray even when a cluster runs on this machine (None would join that one)
            ray.init(address=settings.address or "local", **options)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ExecutorError(
                "cannot join the Ray cluster",
                where=Where(field="executor.address"),
                value=settings.address,
                hint="start it with `ray start --head` (address: auto) or give its head's host:port; a head that "
                "checks a token (Ray's default) needs RAY_AUTH_MODE=token here (and RAY_AUTH_TOKEN unless "
                "~/.ray/auth_token holds it); " + str(exc).splitlines()[0][:120],
            ) from exc

    def map(self, task: Callable[[T], R], items: Iterable[T], *, what: str = "task") -> Iterator[R]:
        ray = _ray()
        options: dict[str, Any] = {
            "num_cpus": self.settings.num_cpus,
            "max_retries": self.settings.max_retries,
            "retry_exceptions": False,
            "scheduling_strategy": "SPREAD",
        }
        if self.settings.memory:
            options["memory"] = self.settings.memory
        remote = ray.remote(task).options(**options)
        return in_order(
            items,
            remote.remote,
            lambda index, ref: self._result(ray, ref, what, index),
            lambda ref: ray.cancel(ref, force=True),
            self.workers * IN_FLIGHT_PER_WORKER,
        )

    def _result(self, ray: Any, ref: Any, what: str, index: int) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, FileNotFoundError) and self.storage is None:
                named = re.search(r"'([^']+)'", str(exc.cause))
                raise ExecutorError(
                    f"a Ray task ({what} {index}) cannot find a file of the run on its node",
                    where=Where(file=exc.cause.filename or (named.group(1) if named else None)),
                    hint="the cluster's nodes do not share this machine's disk: set executor.storage to an "
                    "s3://bucket/prefix every node reaches, or put the run folder on a disk every node mounts",
                ) from exc
            if isinstance(exc.cause, BaseException):  # the task's own error, as if it ran here
                raise exc.cause from exc
            raise
        except _died(ray) as exc:
            raise ExecutorError(
                f"a Ray worker died while running {what} {index}, {self.settings.max_retries} retries used",
                hint="it was killed or ran out of memory: give tasks more memory (executor.memory) or use smaller "
                "batches; a re-run resumes finished stages",
            ) from exc

    def share(self, value: T) -> Shared[T]:
        return _RayShared(_ray().put(value))

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._owner:
                _ray().shutdown()
                self._owner = False
