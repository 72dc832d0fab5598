"""Stage registry: every stage class, keyed by its snake_case ``name``."""

from __future__ import annotations

import difflib

from curate.errors import ConfigError, Where
from curate.stages.answer_issues import AnswerIssues
from curate.stages.augment import AugmentMrc, AugmentText
from curate.stages.base import Params, Split, Stage, StageResult, StageStats, reject
from curate.stages.bias_report import BiasReport
from curate.stages.chunk_passages import ChunkPassages
from curate.stages.decontaminate import Decontaminate
from curate.stages.exact_dedup import ExactDedup
from curate.stages.generate_questions import GenerateQuestions
from curate.stages.label_issues import LabelIssues
from curate.stages.language import LanguageFilter, LanguageId
from curate.stages.length_filter import LengthFilter
from curate.stages.mine_hard_negatives import MineHardNegatives
from curate.stages.minhash_dedup import MinHashDedup
from curate.stages.mrc_checks import MrcChecks
from curate.stages.normalize_text import NormalizeText
from curate.stages.pii import Pii
from curate.stages.quality import QUALITY_STAGES
from curate.stages.quality_classifier import QualityClassifier
from curate.stages.retrieval_checks import RetrievalChecks
from curate.stages.retrieval_label_issues import RetrievalLabelIssues
from curate.stages.sql_filter import SqlFilter
from curate.stages.token_count import TokenCount
from curate.stages.validate_spans import ValidateSpans

STAGES: tuple[type[Stage], ...] = (
    ValidateSpans,
    NormalizeText,
    ExactDedup,
    MinHashDedup,
    LengthFilter,
    TokenCount,
    SqlFilter,
    Decontaminate,
    LanguageId,
    LanguageFilter,
    QualityClassifier,
    Pii,
    MrcChecks,
    RetrievalChecks,
    *QUALITY_STAGES,
    GenerateQuestions,
    MineHardNegatives,
    ChunkPassages,
    AugmentMrc,
    AugmentText,
    AnswerIssues,
    RetrievalLabelIssues,
    LabelIssues,
    BiasReport,
)
REGISTRY: dict[str, type[Stage]] = {cls.name: cls for cls in STAGES}


def get_stage_class(name: str, *, stage_id: str | None = None) -> type[Stage]:
    """The stage class registered as ``name``; a ConfigError suggests the closest names."""
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = (f"did you mean '{close[0]}'? " if close else "") + f"stages: {', '.join(sorted(REGISTRY))}"
    raise ConfigError("unknown stage", where=Where(stage=stage_id), value=name, hint=hint)


__all__ = [
    "REGISTRY",
    "AugmentMrc",
    "AugmentText",
    "BiasReport",
    "ChunkPassages",
    "Decontaminate",
    "ExactDedup",
    "GenerateQuestions",
    "LanguageFilter",
    "LanguageId",
    "LengthFilter",
    "MinHashDedup",
    "MineHardNegatives",
    "MrcChecks",
    "NormalizeText",
    "Params",
    "Pii",
    "QualityClassifier",
    "RetrievalChecks",
    "Split",
    "SqlFilter",
    "Stage",
    "StageResult",
    "StageStats",
    "TokenCount",
    "ValidateSpans",
    "get_stage_class",
    "reject",
]
