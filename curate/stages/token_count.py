"""``token_count``: count subword tokens of text fields with a local ``tokenizer.json``, then
keep rows within [``min_tokens``, ``max_tokens``].

Adds ``<prefix>_<field>`` (int32; default ``tokens_context``, ``tokens_question``) per field: the
tokens of the text as the tokenizer encodes it alone, special tokens not counted; null text counts 0.
A row with a field outside the bounds is rejected with reason ``too_many_tokens`` (or
``too_few_tokens``) and a detail naming every failing field, e.g. ``tokens_context=812 > 512``.
Counts already in the input are reused (score first, filter second), so changing a bound
recomputes nothing; counting with another tokenizer needs another ``prefix`` (or
``reuse_scores: false``)::

    - use: token_count
      params: {tokenizer: models/reader/tokenizer.json, fields: [context], max_tokens: 512}

For the whole reader input of a (question, context) pair, special tokens included, and where the
answer falls in it, use ``mrc_checks`` with ``tokenizer`` and ``max_length``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.schemas import get_schema
from curate.stages.base import ColumnType, check_distinct
from curate.stages.scoring import ScoreParams, ScoreStage, Verdict, verdict
from curate.text.tokens import count_tokens, load_tokenizer


class TokenCountParams(ScoreParams):
    tokenizer: str
    """Path to a Hugging Face ``tokenizer.json`` (or a folder holding one); read from disk, never
    downloaded."""
    fields: list[str] | None = None
    """Text columns to count; default: the kind's text fields that are strings (MRC: context and
    question; triplets: query and positive)."""
    min_tokens: int | None = Field(None, ge=0)
    """Fewest tokens a field may have (inclusive); null: no lower bound."""
    max_tokens: int | None = Field(None, ge=0)
    """Most tokens a field may have (inclusive); null: no upper bound."""
    prefix: str = "tokens"
    """Column names are ``<prefix>_<field>``; give each tokenizer its own prefix."""

    @field_validator("fields")
    @classmethod
    def _distinct(cls, fields: list[str] | None) -> list[str] | None:
        if fields is not None:
            check_distinct(fields, "fields", if_empty="leave it out to count the kind's text fields")
        return fields

    @model_validator(mode="after")
    def _bounds(self) -> TokenCountParams:
        if self.min_tokens is not None and self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) is greater than max_tokens ({self.max_tokens})")
        return self


class TokenCount(ScoreStage):
    """Adds ``<prefix>_<field>`` token counts; rejects rows with a field above ``max_tokens``
    (reason ``too_many_tokens``) or below ``min_tokens`` (``too_few_tokens``)."""

    name = "token_count"
    role = "filter"
    Params = TokenCountParams
    params: TokenCountParams
    description = "subword token counts of text fields (local tokenizer.json), then min/max bounds"

    def fields(self, kind: str) -> list[str]:
        """``fields``, else the kind's string text fields (a triplet's ``negatives`` list is left out)."""
        if self.params.fields:
            return list(self.params.fields)
        schema = get_schema(kind)
        return [name for name in schema.text_fields if (f := schema.field(name)) and pa.types.is_string(f.type)]

    def column(self, field: str) -> str:
        return f"{self.params.prefix}_{field}"

    def input_files(self) -> list[Path]:
        return [Path(self.params.tokenizer)]

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(self.fields(kind), "string")

    def check_input(self, dataset: Dataset) -> None:
        fields = self.fields(dataset.kind)
        if not fields:
            raise ConfigError(f"kind '{dataset.kind}' has no text field", where=Where(stage=self.id), hint="set fields")
        super().check_input(dataset)
        self.tokenizer()  # a bad tokenizer file fails before any row is read

    def tokenizer(self) -> Any:
        try:
            return load_tokenizer(self.params.tokenizer)
        except ConfigError as exc:
            raise exc.at(stage=self.id, field="tokenizer") from None

    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        return {self.column(field): pa.int32() for field in self.fields(kind)}

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        out: dict[str, pa.Array] = {}
        for field in self.fields(kind):
            texts = batch.column(field).to_pylist()
            distinct = list(dict.fromkeys(t for t in texts if t))  # MRC rows repeat their context
            counts = dict(zip(distinct, count_tokens(self.tokenizer(), distinct), strict=True))
            out[self.column(field)] = pa.array([counts[t] if t else 0 for t in texts], pa.int32())
        return out

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        lo, hi = self.params.min_tokens, self.params.max_tokens
        failures: list[list[tuple[str, str]]] = [[] for _ in range(scored.num_rows)]
        for field in self.fields(kind):
            name = self.column(field)
            for i, n in enumerate(scored.column(name).to_pylist()):
                if n is None:
                    continue
                if hi is not None and n > hi:
                    failures[i].append(("too_many_tokens", f"{name}={n} > {hi}"))
                elif lo is not None and n < lo:
                    failures[i].append(("too_few_tokens", f"{name}={n} < {lo}"))
        return [verdict(found) for found in failures]
