"""A stage for the fault tests of executors: its worker process kills itself once, on one batch.

Named in a pipeline as ``tests.executors.dying_stage:DieOnce`` (imported only then, so the stage
registry of other tests does not list it); workers import it from the checkout.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa

from curate.stages.base import Params, PlannedStage, Split, reject


class DieOnceParams(Params):
    marker: str
    """A file: absent, the worker splitting the batch that starts at row ``at`` creates it and is killed."""
    at: int = 32


class DieOnce(PlannedStage):
    """Keeps every row; the first time the batch starting at row ``at`` is split (no ``marker`` file
    yet), its process creates the marker and kills itself with SIGKILL."""

    name = "die_once"
    role = "flag"
    Params = DieOnceParams
    params: DieOnceParams

    def plan(self, dataset):
        return self.params.at

    def split(self, batch: pa.Table, plan: int, start: int) -> Split:
        marker = Path(self.params.marker)
        if start == plan and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return reject(batch, [True] * batch.num_rows, stage=self.id, reasons="never")
