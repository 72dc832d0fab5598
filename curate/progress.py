"""Progress of long work: named phases with counts, for whoever listens (no one by default).

A *phase* is one step of a stage or command (``rows``, ``shingling``, ``LSH bands``,
``cross-validation``, ``queries``), with ``done`` units out of ``total`` (None when not known
beforehand) of some ``unit`` (``rows``, ``bands``, ``folds``, ``queries``...). Engines call
:func:`step` as they go; a caller that wants to see it runs the work inside :func:`listening` with a
:data:`Listener`. Without a listener a step does nothing, so pure functions stay pure and library
users see nothing::

    with progress.listening(lambda phase, done, total, unit: print(phase, done, total, unit)):
        stage(dataset)

A phase starts with its first step and ends when ``done`` reaches ``total``, when another phase
starts, or when the work ends. :class:`Lines` turns the steps into plain log lines (CI logs,
``run.log``); the CLI shows rich bars on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

Listener = Callable[[str, int, "int | None", str], None]
"""``listener(phase, done, total, unit)``: called for each step, in the thread doing the work."""

_listener: ContextVar[Listener | None] = ContextVar("curate_progress_listener", default=None)


def step(phase: str, done: int, total: int | None = None, unit: str = "rows") -> None:
    """Say that ``done`` of ``total`` units of ``phase`` are done (nothing happens when no one listens)."""
    listener = _listener.get()
    if listener is not None:
        listener(phase, done, total, unit)


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send the steps of the work done inside the block to ``listener`` (None: to no one)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def scoped(prefix: str) -> Iterator[None]:
    """Name the phases inside ``"<prefix>: <phase>"`` (e.g. which field is being compared)."""
    outer = _listener.get()
    if outer is None:
        yield
        return
    with listening(lambda phase, done, total, unit: outer(f"{prefix}: {phase}", done, total, unit)):
        yield


@contextmanager
def within(phase: str, offset: int, total: int | None) -> Iterator[None]:
    """Steps of ``phase`` inside count from ``offset`` of ``total``: a batch's own count of its rows
    becomes the count of the whole dataset's."""
    outer = _listener.get()
    if outer is None:
        yield
        return

    def shifted(name: str, done: int, inner_total: int | None, unit: str) -> None:
        if name == phase:
            outer(name, offset + done, total, unit)
        else:
            outer(name, done, inner_total, unit)

    with listening(shifted):
        yield


def track(items: Iterable[T], phase: str, total: int | None, unit: str = "rows") -> Iterator[T]:
    """``items`` (tables or lists: ``len`` of each counts), stepping ``phase`` as each is used."""
    done = 0
    step(phase, 0, total, unit)
    for item in items:
        yield item
        done += len(item)  # type: ignore[arg-type]
        step(phase, done, total, unit)


def every(count: int, total: int, target: int = 50) -> bool:
    """True for about ``target`` of ``total`` iterations (and the last): when a loop should step."""
    return count == total or count % max(1, total // target) == 0


class Lines:
    """Plain progress lines for one labelled piece of work (a stage ``03_near_dedup``, a command
    ``dedup``), written through ``write``: each phase's start and end, and between them at most one
    line every ``interval`` seconds, e.g. ``[curate] 03_near_dedup: signatures 40,000/100,000 rows (12 s)``.
    ``stamp`` puts the wall-clock time in front of every line (for a log file)."""

    def __init__(self, write: Callable[[str], object], *, interval: float = 10.0, stamp: bool = False):
        self.write = write
        self.interval = interval
        self.stamp = stamp
        self.label = ""
        self._phase: str | None = None
        self._last: tuple[int, int | None, str] = (0, None, "rows")
        self._started = self._shown = 0.0
        self._ended: tuple[str, int, int | None] | None = None

    def line(self, text: str) -> None:
        """Write ``[curate] <text>`` (with the time when stamping)."""
        prefix = f"{datetime.now().astimezone().isoformat(timespec='seconds')} " if self.stamp else ""
        self.write(f"{prefix}[curate] {text}")

    def begin(self, label: str) -> None:
        """Start the work called ``label`` (ending any phase of the one before)."""
        self.end()
        self.label, self._ended = label, None

    def step(self, phase: str, done: int, total: int | None, unit: str) -> None:
        """A :data:`Listener`."""
        now = time.monotonic()
        if phase != self._phase:
            if self._ended == (phase, done, total):
                return  # the same last step again (a batch's last row is the dataset's)
            self.end()
            self._phase, self._started, self._shown = phase, now, now
            self.line(f"{self.label}: {phase} started" + (f" ({total:,} {unit})" if total is not None else ""))
        self._last = (done, total, unit)
        if total is not None and done >= total:
            self.end()
        elif now - self._shown >= self.interval:
            self._shown = now
            self.line(f"{self.label}: {_count(phase, done, total, unit)} ({now - self._started:.0f} s)")

    def end(self, *, stopped: bool = False) -> None:
        """End the current phase, if any, with its last count (``stopped``: by an error)."""
        if self._phase is None:
            return
        done, total, unit = self._last
        seconds = time.monotonic() - self._started
        how = "stopped at" if stopped else "done,"
        self.line(f"{self.label}: {self._phase} {how} {_count(None, done, total, unit)} ({seconds:.0f} s)")
        self._ended = (self._phase, done, total)
        self._phase = None


def _count(phase: str | None, done: int, total: int | None, unit: str) -> str:
    """``signatures 40,000/100,000 rows``; ``rows 40,000/100,000`` (the unit once); no phase: counts only."""
    counts = f"{done:,}/{total:,}" if total is not None else f"{done:,}"
    if phase is None:
        return f"{counts} {unit}"
    return f"{phase} {counts}" + ("" if phase == unit else f" {unit}")
