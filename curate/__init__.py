"""curate: clean, deduplicate, decontaminate, relabel and augment training data for extractive QA,
retrieval and text classification; Korean first, any language.

Python API::

    import curate
    ds = curate.read("korquad.json")                      # Dataset of kind "mrc"
    result = curate.stages.ValidateSpans(repair=True)(ds)  # kept / rejected / stats
    curate.write(result.kept, "clean.parquet")
    run = curate.run_pipeline("pipelines/mrc.yaml")
    dropped = curate.rejected_rows(run.dir, stage="pii")  # every rejected row of a run, one table
    done = curate.api.dedup("train.jsonl", "clean.parquet")  # what `curate dedup` does, as a result

:mod:`curate.api` has one function per ``curate`` command (``curate.api.convert``,
``curate.api.mine_negatives``, ...), each returning what it wrote and counted.

Every built-in stage class is here by its class name (``curate.ExactDedup``), taken from the
registry in :mod:`curate.stages`.
"""

from __future__ import annotations

from curate import api, stages
from curate._version import __version__
from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, InputError, OutputError, SchemaError, StageError
from curate.io import read, read_bundle, to_hf, write, write_bundle
from curate.pipeline import PipelineConfig, RunResult, load_config, run_pipeline
from curate.report.load import rejected_rows
from curate.schemas import get_schema, kinds
from curate.stages import BUILTIN as _BUILTIN
from curate.stages import Stage
from curate.validate import find_problems, repair


def __getattr__(name: str) -> type[Stage]:
    """A built-in stage class by its class name (``curate.ValidateSpans``)."""
    try:
        return _BUILTIN[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_BUILTIN])


__all__ = [
    "ConfigError",
    "CurateError",
    "Dataset",
    "InputError",
    "OutputError",
    "PipelineConfig",
    "RunResult",
    "SchemaError",
    "Stage",
    "StageError",
    "__version__",
    "api",
    "find_problems",
    "get_schema",
    "kinds",
    "load_config",
    "read",
    "read_bundle",
    "rejected_rows",
    "repair",
    "run_pipeline",
    "stages",
    "to_hf",
    "write",
    "write_bundle",
    *_BUILTIN,
]
