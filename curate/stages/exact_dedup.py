"""``exact_dedup``: drop rows whose chosen fields equal an earlier row's, after normalization."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from curate.dataset import Dataset
from curate.stages.base import Params, Split, Stage, reject
from curate.stages.fields import require_columns, row_keys, text_fields
from curate.text.normalize import Op, normalize_text

_DEFAULT_FIELDS = {"qrels": ["query_id", "doc_id"]}
_FOLD_OPS: tuple[Op, ...] = ("nfc", "whitespace")


class ExactDedupParams(Params):
    fields: list[str] | None = None
    """Columns that together make a row's identity; default: the kind's text fields (``mrc``:
    context and question; ``qrels``: query_id and doc_id)."""
    normalize: bool = True
    """Compare after NFC and whitespace folding."""
    casefold: bool = False
    """Also ignore letter case."""


class ExactDedup(Stage):
    """Keep the first row of every group of equal rows; later ones are rejected with reason
    ``exact_duplicate`` and ``duplicate_of`` (the first row's id, or ``#<row>`` for kinds
    without ids). Streams: memory grows by 16 bytes of digest per distinct row."""

    name = "exact_dedup"
    Params = ExactDedupParams
    params: ExactDedupParams

    def _fields(self, kind: str) -> list[str]:
        return list(self.params.fields or _DEFAULT_FIELDS.get(kind) or text_fields(kind, None))

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        require_columns(dataset, self._fields(dataset.kind), stage=self.id)

    def reset(self) -> None:
        self._first: dict[bytes, str] = {}
        self._rows_seen = 0

    def _digest(self, values: tuple) -> bytes:
        parts = []
        for value in values:
            if not isinstance(value, str):
                value = "\x00" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
            if self.params.normalize:
                value = normalize_text(value, _FOLD_OPS)
            if self.params.casefold:
                value = value.casefold()
            parts.append(value)
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest()

    def process(self, batch: pa.Table, kind: str) -> Split:
        columns = [batch.column(name).to_pylist() for name in self._fields(kind)]
        keys = row_keys(batch, kind, self._rows_seen)
        self._rows_seen += batch.num_rows
        keep, duplicate_of = [], []
        for key, values in zip(keys, zip(*columns, strict=True), strict=True):
            digest = self._digest(values)
            first = self._first.setdefault(digest, key)
            is_first = first is key
            keep.append(is_first)
            duplicate_of.append(None if is_first else first)
        details = [None if d is None else f"same {'+'.join(self._fields(kind))} as {d}" for d in duplicate_of]
        return reject(
            batch,
            keep,
            stage=self.id,
            reasons="exact_duplicate",
            details=details,
            extra={"duplicate_of": pa.array(duplicate_of, pa.string())},
        )
