"""``chunk_passages``: split long passages on sentence boundaries (:mod:`curate.retrieval.chunk`).

On ``corpus`` rows a passage longer than ``size`` becomes passages ``<doc_id>#<n>`` (n from 0), each
a new row with the other columns copied; the stage counts the extra rows as added. On ``mrc`` rows
(one per question) the same number of rows comes out: each context longer than ``size`` is chunked
once, never cutting an answer or plausible answer of any of its questions, and every question
moves, answers re-based, to the first chunk holding all its spans (an unanswerable question without
plausible answers to the first chunk). Its ``passage_id`` becomes ``<passage_id or text hash>#<n>``.

Columns added: ``parent_id`` (the original doc_id / passage_id, or a 16-hex hash of an MRC context
without one) and ``start`` (code-point offset of the new text in the original); on MRC also
``chunk_widened`` (the new context is longer than ``size``: a chunk grew around a long answer, or a
question's answers lay in different chunks and it got their union, passage ``<parent>#<a>-<b>``);
on a corpus also ``source``, ``chunk`` for the passages of a split row (none of them is an input
row) and ``original`` for the rest unless they had a source already. Rows whose text fits are
unchanged (``start`` 0).

On the corpus of a retrieval set (a pipeline input read whole, see :mod:`curate.pipeline`) with
qrels, the corpus is chunked as ``curate chunk-passages`` chunks a folder
(:func:`~curate.retrieval.chunk.chunk_corpus`: cuts never fall inside an answer of a query judged
on the passage) and the qrels follow their passage's chunks.

``unit: tokens`` counts subword tokens of a local ``tokenizer.json`` (``tokenizer:``), special
tokens not counted, each passage as the tokenizer encodes it alone. For a reader with
``max_length`` L, leave room for the question and the special tokens: ``size`` = L - longest
question - 3 (BERT's ``[CLS] q [SEP] p [SEP]``)::

    - use: chunk_passages
      params: {unit: tokens, tokenizer: models/reader/tokenizer.json, size: 320, overlap: 64}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import progress
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.retrieval.chunk import (
    ChunkedQuestion,
    ChunkSettings,
    Span,
    chunk_corpus,
    chunk_text,
    context_chunks,
    place_question,
    text_key,
)
from curate.stages.base import ColumnType, PlannedStage, Split, changed, names_in, reject, with_fields
from curate.stages.scoring import set_columns
from curate.text.tokens import load_tokenizer

_ADDED = {"parent_id": pa.string(), "start": pa.int32()}
_ADDED_MRC = {**_ADDED, "chunk_widened": pa.bool_()}
_ADDED_CORPUS = {**_ADDED, "source": pa.string()}


class ChunkPassagesParams(ChunkSettings):
    """The chunk settings (the stage has no others)."""


@dataclass(frozen=True)
class ChunkPlan:
    """The input's kind; for MRC, the chunks of each distinct context by its :func:`text_key`; for a
    retrieval set's corpus, each row's ``pieces`` (spans, in dataset order) and the ``qrels``
    pointed at them."""

    kind: str
    chunks: dict[str, list[Span]] = field(default_factory=dict)
    pieces: list[list[Span]] | None = None
    qrels: pa.Table | None = None


class ChunkPassages(PlannedStage):
    """Split long texts into passages of at most ``size`` units on sentence boundaries.

    Reasons (MRC only): ``span_invalid``: a question on a context that needs chunking has an
    answer or plausible answer that does not match its span, so it cannot be moved (run
    ``validate_spans`` first). Nothing is rejected on a corpus.

    Rewrites counted in the stats: ``chunked`` (a corpus text that was cut, counted on its first
    piece, the other pieces being added rows; an MRC question moved to a chunk of its context) and
    ``chunk_widened`` (a chunk widened to hold the question's answer).
    """

    name = "chunk_passages"
    role = "convert"  # one long passage becomes several chunk rows
    Params = ChunkPassagesParams
    params: ChunkPassagesParams
    kinds = ("mrc", "corpus")
    rejects_added = False
    description = "split long passages on sentence boundaries; MRC answers move to their chunk"

    def input_files(self) -> list[Path]:
        return [Path(self.params.tokenizer)] if self.params.tokenizer else []

    def required(self, kind: str) -> dict[str, ColumnType]:
        return {"context": "string", "answers": "any"} if kind == "mrc" else {"doc_id": "any", "text": "string"}

    def added(self, kind: str) -> dict[str, pa.DataType]:
        return dict(_ADDED_MRC if kind == "mrc" else _ADDED_CORPUS)

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        if self.params.tokenizer:  # a bad tokenizer file fails before any row is read
            try:
                load_tokenizer(self.params.tokenizer)
            except ConfigError as exc:
                raise exc.at(stage=self.id, field="tokenizer") from None

    def plan(self, dataset: Dataset) -> ChunkPlan:
        """MRC: chunk every distinct context once, protecting the answers of all its questions."""
        if dataset.kind != "mrc":
            return self._plan_bundle(dataset) if "qrels" in self.parts else ChunkPlan(dataset.kind)
        chunks: dict[str, list[Span]] = {}
        p = self.params
        groups: dict[str, list[dict[str, Any]]] = {}
        for batch in dataset.batches():
            columns = [c for c in ("context", "answers", "plausible_answers") if c in batch.column_names]
            for row in batch.select(columns).to_pylist():
                if row["context"] is not None:
                    groups.setdefault(row["context"], []).append(row)
        progress.step("chunking", 0, len(groups), "contexts")
        for done, (context, rows) in enumerate(groups.items(), start=1):
            chunks[text_key(context)] = context_chunks(context, rows, p)
            if progress.every(done, len(groups)):
                progress.step("chunking", done, len(groups), "contexts")
        return ChunkPlan(dataset.kind, chunks)

    def split(self, batch: pa.Table, plan: ChunkPlan, start: int) -> Split:
        if plan.kind == "mrc":
            return self._questions(batch, plan.chunks)
        return self._passages(batch, plan.pieces, start)

    def plan_parts(self, plan: ChunkPlan, parts: Mapping[str, Dataset]) -> dict[str, Dataset] | None:
        """On a retrieval set's corpus: the qrels re-pointed at the chunks."""
        return None if plan.qrels is None else {"qrels": Dataset.from_arrow(plan.qrels, "qrels")}

    # ----------------------------------------------------------------- corpus
    def _plan_bundle(self, corpus: Dataset) -> ChunkPlan:
        """Chunk a retrieval set's corpus with its qrels (and the queries' answers) once."""
        answers = None
        queries = self.parts.get("queries")
        if queries is not None and "answers" in queries.schema.names:
            table = queries.to_arrow()
            answers = dict(zip(table.column("query_id").to_pylist(), table.column("answers").to_pylist(), strict=True))
        chunked, qrels = chunk_corpus(
            corpus.to_arrow(), self.parts["qrels"].to_arrow(), answers=answers, settings=self.params
        )
        planned: list[list[Span]] = []
        for start, text in zip(chunked.column("start").to_pylist(), chunked.column("text").to_pylist(), strict=True):
            span = (start, start + len(text or ""))
            if start == 0:  # the first piece of the next passage
                planned.append([span])
            else:
                planned[-1].append(span)
        return ChunkPlan(corpus.kind, pieces=planned, qrels=qrels)

    def _passages(self, batch: pa.Table, planned: list[list[Span]] | None, first: int) -> Split:
        p = self.params
        out: dict[str, list[Any]] = {name: [] for name in [*batch.column_names, *_ADDED_CORPUS]}
        added = 0
        cut: list[list[str]] = []  # per kept row: ["chunked"] on the first piece of a passage that was cut
        for index, row in enumerate(batch.to_pylist()):
            text, doc_id = row["text"], row["doc_id"]
            if planned is not None:
                spans = planned[first + index]
            else:
                spans = chunk_text(text, p.size, p.overlap, p.unit, tokenizer=p.tokenizer) if text else []
            if len(spans) <= 1:
                pieces = [({**row, "source": row.get("source") or "original"}, doc_id, 0)]
            else:
                pieces = [
                    ({**row, "doc_id": f"{doc_id}#{n}", "text": text[s:e], "source": "chunk"}, doc_id, s)
                    for n, (s, e) in enumerate(spans)
                ]
                added += len(spans) - 1
            cut += [["chunked"] if len(pieces) > 1 and n == 0 else [] for n in range(len(pieces))]
            for piece, parent, start in pieces:
                piece["parent_id"], piece["start"] = parent, start
                for name in out:
                    out[name].append(piece[name])
        kept = pa.Table.from_pydict(out, schema=with_fields(batch.schema, _ADDED_CORPUS))
        nothing = reject(batch, [True] * batch.num_rows, stage=self.id, reasons=[None] * batch.num_rows)
        return Split(kept, nothing.rejected, added=added).marked(rewrites=cut)

    # ----------------------------------------------------------------- MRC
    def _questions(self, batch: pa.Table, chunks_of: dict[str, list[Span]]) -> Split:
        p = self.params
        rows = batch.to_pylist()
        placed: list[ChunkedQuestion] = []
        for row in rows:
            context = row["context"]
            chunks = chunks_of.get(text_key(context)) if context is not None else None
            if chunks is None:  # no context
                parent = row.get("passage_id") or (text_key(context) if context is not None else None)
                placed.append(ChunkedQuestion({**row, "parent_id": parent, "start": 0, "chunk_widened": False}))
            else:
                placed.append(place_question(row, chunks, p))
        columns: dict[str, pa.Array] = {}
        for name in ("context", "answers", "plausible_answers", "passage_id"):
            if name in batch.column_names:
                dtype = batch.schema.field(name).type
                columns[name] = pa.array([q.row[name] for q in placed], dtype)
        for name, dtype in _ADDED_MRC.items():
            columns[name] = pa.array([None if q.problem else q.row[name] for q in placed], dtype)
        keep = [q.problem is None for q in placed]
        kept = set_columns(batch, columns).filter(pa.array(keep, pa.bool_()))
        details = [q.problem for q in placed]
        split = Split(kept, reject(batch, keep, stage=self.id, reasons="span_invalid", details=details).rejected)
        moved = changed(batch.filter(pa.array(keep, pa.bool_())), kept, ["context"])
        widened = names_in(kept, "chunk_widened", "chunk_widened")
        return split.marked(rewrites=[["chunked"] * bool(m) + w for m, w in zip(moved, widened, strict=True)])
