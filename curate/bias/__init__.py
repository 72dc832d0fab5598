"""Bias diagnostics: shortcuts a model can learn from a training set instead of the task.

Pure functions, Arrow in, small tables out (:class:`Diagnostics`):

- :func:`classification_bias`: token-label association (PMI, G-test with a Bonferroni floor),
  shortcut tokens per label, the best one-token rule, label shares per length bucket and source;
- :func:`mrc_bias`: answer positions, question types against answer types, the lexical-overlap
  heuristic, answer lengths;
- :func:`retrieval_bias`: how often BM25 ranks a query's positive first, positive vs corpus
  passage lengths;
- :func:`compare`: the shifts between two diagnoses (before and after a run).
"""

from curate.bias.classification import classification_bias
from curate.bias.mrc import mrc_bias, question_type
from curate.bias.result import (
    DISTRIBUTION_SCHEMA,
    METRICS_SCHEMA,
    SHIFT_SCHEMA,
    TASKS,
    TOKEN_SCHEMA,
    Diagnostics,
    Task,
    compare,
)
from curate.bias.retrieval import retrieval_bias
from curate.bias.tokens import OneTokenRule, TokenSettings, one_token_rule, token_associations

__all__ = [
    "DISTRIBUTION_SCHEMA",
    "METRICS_SCHEMA",
    "SHIFT_SCHEMA",
    "TASKS",
    "TOKEN_SCHEMA",
    "Diagnostics",
    "OneTokenRule",
    "Task",
    "TokenSettings",
    "classification_bias",
    "compare",
    "mrc_bias",
    "one_token_rule",
    "question_type",
    "retrieval_bias",
    "token_associations",
]
