"""curate: clean, deduplicate, decontaminate, relabel and augment training data for extractive QA,
retrieval and text classification; Korean first, any language.

Python API::

    import curate
    ds = curate.read("korquad.json")                      # Dataset of kind "mrc"
    result = curate.stages.ValidateSpans(repair=True)(ds)  # kept / rejected / stats
    curate.write(result.kept, "clean.parquet")
    run = curate.run_pipeline("pipelines/mrc.yaml")
"""

from __future__ import annotations

__version__ = "0.1.0"

from curate import stages
from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, InputError, OutputError, SchemaError, StageError
from curate.io import read, read_bundle, to_hf, write, write_bundle
from curate.pipeline import PipelineConfig, RunResult, load_config, run_pipeline
from curate.schemas import get_schema, kinds
from curate.stages import ExactDedup, LengthFilter, NormalizeText, SqlFilter, Stage, ValidateSpans
from curate.validate import find_problems, repair

__all__ = [
    "ConfigError",
    "CurateError",
    "Dataset",
    "ExactDedup",
    "InputError",
    "LengthFilter",
    "NormalizeText",
    "OutputError",
    "PipelineConfig",
    "RunResult",
    "SchemaError",
    "SqlFilter",
    "Stage",
    "StageError",
    "ValidateSpans",
    "find_problems",
    "get_schema",
    "kinds",
    "load_config",
    "read",
    "read_bundle",
    "repair",
    "run_pipeline",
    "stages",
    "to_hf",
    "write",
    "write_bundle",
]
