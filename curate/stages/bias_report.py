"""``bias_report``: measure shortcuts a model could learn from the data; flags nothing.

Every row is kept unchanged. The diagnosis (:mod:`curate.bias`) goes to three artifacts:
``bias_metrics``, ``bias_distributions`` and ``bias_tokens`` (classification), and to the bias
section of the run's ``report.md``; a pipeline that uses the stage twice (say, first and last)
gets the shifts between the two there.

- classification: token-label association with shortcut tokens per label, the best one-token
  rule, label shares per length bucket and per ``source``;
- mrc: answer positions, question types against answer types, the lexical-overlap heuristic,
  answer lengths;
- qrels (with ``corpus:``): how often BM25 ranks a query's positive first, positive vs corpus
  passage lengths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import progress
from curate.bias import Diagnostics, TokenSettings, classification_bias, mrc_bias, retrieval_bias
from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, Where
from curate.retrieval.negatives import Tokenizer
from curate.stages.base import ColumnType, PlannedStage, Split, reject


class BiasReportParams(TokenSettings):
    """The token settings, and which columns and files the other tasks' measures read."""

    field: str = "text"
    """Classification: the text column whose tokens and length are measured (``text_pair`` for
    the hypothesis of an NLI set)."""
    source_column: str = "source"
    """Classification: label shares per value of this column, when the rows have it."""
    corpus: str | None = None
    """qrels: the passages (a BEIR folder, a Parquet folder with ``corpus.parquet``, or a file)."""
    queries: str | None = None
    """qrels: the queries, like ``corpus``; default: the ``corpus`` folder."""
    bm25_tokenizer: Tokenizer = "bigram"
    """qrels: BM25 tokens, ``bigram`` (character bigrams of each word), ``morph`` or ``word``."""


class BiasReport(PlannedStage):
    """Measure shortcuts a model could learn (label shortcut tokens, answer positions, BM25-easy
    positives) and write them as artifacts; keeps every row unchanged (see the module notes)."""

    name = "bias_report"
    role = "flag"  # measures only: keeps every row unchanged, writes its findings as artifacts
    Params = BiasReportParams
    params: BiasReportParams
    kinds = ("classification", "mrc", "qrels")
    description = "Measure label shortcuts, answer-position and lexical-overlap biases; flags nothing."

    def _parts(self) -> dict[str, Path]:
        """The corpus and queries paths of a qrels input."""
        p = self.params
        if p.corpus is None:
            raise ConfigError(
                f"missing parameter 'corpus' for stage '{self.name}'",
                where=Where(stage=self.id, field="corpus"),
                hint="qrels are judged against their passages: corpus: path/to/beir_folder",
            )
        if p.queries is None and not Path(p.corpus).is_dir():
            raise ConfigError(
                f"missing parameter 'queries' for stage '{self.name}'",
                where=Where(stage=self.id, field="queries"),
                hint="pass the queries file, or give corpus as a BEIR or Parquet folder holding both",
            )
        return {"corpus": Path(p.corpus), "queries": Path(p.queries or p.corpus)}

    def required(self, kind: str) -> dict[str, ColumnType]:
        return {self.params.field: "string"} if kind == "classification" else {}

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        if dataset.kind == "qrels":
            for part, path in self._parts().items():
                if not path.exists():
                    raise ConfigError(
                        f"{part} not found",
                        where=Where(stage=self.id, file=str(path), field=part),
                        hint="check the path (relative paths start from the working directory)",
                    )

    def input_files(self) -> list[Path]:
        return sorted(set(self._parts().values())) if self.params.corpus else []

    def diagnose(self, dataset: Dataset) -> Diagnostics:
        """The diagnosis of ``dataset`` (its kind decides which)."""
        p = self.params
        batches = progress.track(dataset.batches(), "measuring", dataset.num_rows)
        if dataset.kind == "classification":
            return classification_bias(batches, text=p.field, source=p.source_column, settings=p)
        if dataset.kind == "mrc":
            return mrc_bias(batches)
        from curate import io

        parts: dict[str, pa.Table] = {}
        for part, path in self._parts().items():
            try:
                parts[part] = io.read(path, kind=part).to_arrow()
            except CurateError as exc:
                raise exc.at(stage=self.id, file=str(path)) from None
        return retrieval_bias(parts["corpus"], parts["queries"], dataset.to_arrow(), tokenizer=p.bm25_tokenizer)

    def plan(self, dataset: Dataset) -> Diagnostics:
        return self.diagnose(dataset)

    def split(self, batch: pa.Table, plan: Diagnostics, start: int) -> Split:
        return reject(batch, [True] * batch.num_rows, stage=self.id, reasons=[None] * batch.num_rows)

    def plan_artifacts(self, plan: Diagnostics) -> dict[str, pa.Table]:
        return plan.artifacts()


def diagnose_source(path: Path, params: dict[str, Any], **read: Any) -> Diagnostics:
    """The diagnosis of a dataset file or folder (read with ``read``: ``format``, ``kind``,
    ``rename``, ``quote``), or of a retrieval folder: its qrels judged against its corpus and
    queries."""
    from curate import io

    fmt = read.get("format") or io.detect_format(path)
    if read.get("kind") is None and io.is_bundle(path, fmt):
        parts = io.read_bundle(path, format=fmt)
        if "qrels" not in parts:
            raise ConfigError("a retrieval folder needs qrels", where=Where(file=str(path)), hint="add qrels/*.tsv")
        stage = BiasReport({**params, "corpus": str(path)})
        dataset = parts["qrels"]
    else:
        stage = BiasReport(params)
        dataset = io.read(path, **read)
    stage.check_input(dataset)
    return stage.diagnose(dataset)
