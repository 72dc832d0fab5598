"""Generating stages: ``augment_mrc`` (extractive QA) and ``augment_text`` (classification).

Both keep every input row and append, after the rows of each batch, new rows made from them; the
new rows are counted in ``rows_added`` and marked in the ``source`` column (``augment:<method>`` or
``augment:<op>``); input rows get ``source`` = ``original`` unless they already have one. Nothing is
rejected: a row that cannot be augmented is simply kept. Both look at the whole dataset first
(distractor sentences, negatives, class sizes), and make the same new rows for the same input and
``seed`` whatever the batch size (only where they appear follows the batches). Input ids are
assumed unique: two rows sharing an id give new rows sharing ids too.

New rows copy every other column of their source row, score columns of earlier stages included:
augment before scoring, or re-score with ``reuse_scores: false``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from curate.augment.mrc import METHODS, Method, Negative, SentencePool, augment_question, unanswerable_rows
from curate.augment.text import NOISE_KINDS, TEXT_OPS, NewText, Noise, TextNoise, TextOp, plan_augmentation
from curate.dataset import Dataset
from curate.retrieval.chunk import text_key
from curate.stages.base import ColumnType, Params, PlannedStage, Split, check_distinct, reject

SOURCE = "source"
ORIGINAL = "original"
_SPARE_NEGATIVES = 3  # negatives mined beyond ``copies``, in case some contain an answer after all
_SUMMARY = "augment_summary"
_DEFAULT_METHODS: list[Method] = ["distractor", "shuffle"]


def with_source(batch: pa.Table) -> pa.Table:
    """``batch`` with a ``source`` column: ``original`` where it has none (added when absent)."""
    n = batch.num_rows
    if SOURCE not in batch.column_names:
        return batch.append_column(SOURCE, pa.array([ORIGINAL] * n, pa.string()))
    column = pc.cast(batch.column(SOURCE), pa.string())
    filled = pc.fill_null(column, pa.scalar(ORIGINAL, pa.string())) if n else column
    return batch.set_column(batch.column_names.index(SOURCE), SOURCE, filled)


def _append(batch: pa.Table, new_rows: list[dict[str, Any]], stage: str) -> Split:
    """Kept = the batch (with ``source``) then ``new_rows``; nothing rejected."""
    originals = with_source(batch)
    kept = pa.concat_tables([originals, pa.Table.from_pylist(new_rows, schema=originals.schema)])
    nothing = reject(batch, [True] * batch.num_rows, stage=stage, reasons=[None] * batch.num_rows)
    return Split(kept, nothing.rejected, added=len(new_rows))


# ----------------------------------------------------------------- MRC


class AugmentMrcParams(Params):
    methods: list[Method] = Field(default_factory=lambda: _DEFAULT_METHODS.copy())
    """``distractor``: insert sentences from other articles' contexts (never holding one of the
    row's answer texts) at sentence boundaries away from the answer sentences; ``shuffle``: reorder
    the sentences, answer sentences moving whole; ``unanswerable``: pair the question with a passage
    of the dataset mined by BM25 (``curate.retrieval.negatives``) that does not contain its answer,
    as an ``is_impossible`` row."""
    copies: int = Field(1, ge=1)
    """New rows per question per method (fewer when the method cannot make that many different ones)."""
    seed: int = 0
    """Seed of every random choice; the same seed gives the same rows."""
    ratio: float | None = Field(None, gt=0)
    """At most ``ratio`` x input rows new rows in all (questions drawn in a seeded random order)."""
    max_new_rows: int | None = Field(None, ge=0)
    """At most this many new rows in all (with ``ratio``, the smaller bound applies)."""
    max_distractors: int = Field(2, ge=1)
    """``distractor`` inserts 1..max_distractors sentences."""

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[Method]) -> list[Method]:
        check_distinct(value, "methods")
        return value


@dataclass(frozen=True)
class MrcAugmentPlan:
    """What new rows need besides their source row: the distractor ``pool`` and mined ``negatives``
    (by question id); ``allowed``: new rows allowed per dataset row under a cap (None: no cap)."""

    pool: SentencePool | None
    negatives: dict[str, list[Negative]]
    allowed: dict[int, int] | None = None


class AugmentMrc(PlannedStage):
    """Answer-preserving perturbation of MRC contexts (:mod:`curate.augment.mrc`), new rows
    ``<id>#aug-<method>-<n>`` (n from 0) after the rows of their batch, ``source`` =
    ``augment:<method>``. Perturbed rows get ``passage_id`` ``<passage_id or context hash>#<new id>``;
    unanswerable rows the mined passage's. Every new answer span is exact (checked; a variant that
    fails is not made). Rows whose own spans are not exact are kept but not augmented.

    Artifact ``augment_summary``: per method, rows ``made`` and questions that got fewer than
    ``copies`` (``short``: a one-sentence context cannot be shuffled, no negative was found...).
    """

    name = "augment_mrc"
    role = "generate"
    Params = AugmentMrcParams
    params: AugmentMrcParams
    kinds = ("mrc",)
    requires = {"id": "any", "context": "string", "answers": "any"}
    adds = {SOURCE: pa.string()}
    rejects_added = False
    description = "add perturbed copies of MRC rows (distractor sentences, shuffled sentences, unanswerable pairs)"

    def required(self, kind: str) -> dict[str, ColumnType]:
        asks = "unanswerable" in self.params.methods
        return {**self.requires, **({"question": "string"} if asks else {})}

    def _rows(self, dataset: Dataset) -> list[dict[str, Any]]:
        """The columns augmentation reads, for every row (contexts shared, not copied)."""
        wanted = ["id", "title", "context", "question", "answers", "is_impossible", "plausible_answers"]
        wanted += ["document_id", "passage_id"]
        shared: dict[str, str] = {}
        rows = []
        for batch in dataset.batches():
            for row in batch.select([c for c in wanted if c in batch.column_names]).to_pylist():
                if row["context"] is not None:
                    row["context"] = shared.setdefault(row["context"], row["context"])
                rows.append(row)
        return rows

    def plan(self, dataset: Dataset) -> MrcAugmentPlan:
        rows = self._rows(dataset)
        pool, negatives = None, {}
        if "distractor" in self.params.methods:
            pairs = {r["context"]: r.get("document_id") or r.get("title") for r in rows if r["context"]}
            pool = SentencePool.from_contexts(pairs, pairs.values())
        if "unanswerable" in self.params.methods:
            negatives = self._mine(rows)
        plan = MrcAugmentPlan(pool, negatives)
        cap = self._cap(len(rows))
        if cap is None:
            return plan
        order = list(range(len(rows)))
        random.Random(f"{self.params.seed}|order").shuffle(order)
        allowed, left = {}, cap
        for index in order:
            if left <= 0:
                break
            count = min(left, len(self._generate(rows[index], plan)[0]))
            if count:
                allowed[index] = count
                left -= count
        return replace(plan, allowed=allowed)

    def _cap(self, rows_in: int) -> int | None:
        bounds = [b for b in (self.params.max_new_rows,) if b is not None]
        if self.params.ratio is not None:
            bounds.append(int(self.params.ratio * rows_in))
        return min(bounds) if bounds else None

    def _mine(self, rows: list[dict[str, Any]]) -> dict[str, list[Negative]]:
        """BM25 negatives for every answerable question among the dataset's own contexts."""
        from curate.retrieval.negatives import MiningSettings, mine_negatives

        passages: dict[str, Negative] = {}
        for row in rows:
            if row["context"]:
                key = text_key(row["context"])
                passages.setdefault(key, (row.get("passage_id") or key, row.get("title"), row["context"]))
        questions = [r for r in rows if r["context"] and r.get("answers") and not r.get("is_impossible")]
        if not questions or len(passages) < 2:
            return {}
        keys = list(passages)
        corpus = pa.table(
            {
                "doc_id": pa.array(keys, pa.string()),
                "title": pa.array([passages[k][1] for k in keys], pa.string()),
                "text": pa.array([passages[k][2] for k in keys], pa.string()),
            }
        )
        mined = mine_negatives(
            corpus,
            [r.get("question") or "" for r in questions],
            [[text_key(r["context"])] for r in questions],
            [[a["text"] for a in r["answers"] if a["text"]] for r in questions],
            settings=MiningSettings(count=self.params.copies + _SPARE_NEGATIVES),
        )
        return {
            str(r["id"]): [passages[d] for d in found if d in passages]
            for r, found in zip(questions, mined.negatives, strict=True)
        }

    def _generate(self, row: dict[str, Any], plan: MrcAugmentPlan) -> tuple[list[dict[str, Any]], list[str]]:
        """New rows of one row, variant by variant across the methods (variant 0 of every method,
        then variant 1, ...), so a cap cuts evenly; and the methods that made fewer than ``copies``."""
        p = self.params
        made: dict[str, list[dict[str, Any]]] = {}
        for method in p.methods:
            if method == "unanswerable":
                made[method] = list(unanswerable_rows([row], plan.negatives, per_question=p.copies))
            else:
                made[method] = augment_question(
                    row, method, copies=p.copies, seed=p.seed, pool=plan.pool, max_distractors=p.max_distractors
                )
        short: list[str] = [m for m in p.methods if len(made[m]) < p.copies]
        return [made[m][n] for n in range(p.copies) for m in p.methods if n < len(made[m])], short

    def split(self, batch: pa.Table, plan: MrcAugmentPlan, start: int) -> Split:
        new_rows: list[dict[str, Any]] = []
        tally: Counter[str] = Counter()  # made:<method> new rows, short:<method> rows given fewer than copies
        for offset, row in enumerate(batch.to_pylist()):
            limit = None if plan.allowed is None else plan.allowed.get(start + offset, 0)
            if limit == 0:
                continue
            made, short = self._generate(row, plan)
            tally.update(f"short:{method}" for method in short)
            tally.update(f"made:{r[SOURCE].removeprefix('augment:')}" for r in made[:limit])
            new_rows.extend(made[:limit])
        split = _append(batch, new_rows, self.id)
        split.tally = tally
        return split

    def tally_artifacts(self, tally: Counter[str]) -> dict[str, pa.Table]:
        methods = list(self.params.methods)
        return {
            _SUMMARY: pa.table(
                {
                    "method": pa.array(methods, pa.string()),
                    "made": pa.array([tally[f"made:{m}"] for m in methods], pa.int64()),
                    "short": pa.array([tally[f"short:{m}"] for m in methods], pa.int64()),
                }
            )
        }


# ----------------------------------------------------------------- classification


class AugmentTextParams(Params):
    ops: list[TextOp] = Field(default_factory=lambda: list(TEXT_OPS))
    """Operations a new text is made by, one drawn per text: ``eojeol_delete``, ``eojeol_swap``,
    ``char_noise``."""
    delete_prob: float = Field(0.1, ge=0, le=1)
    """``eojeol_delete``: chance that each eojeol is deleted (at least one is, one stays)."""
    swap_prob: float = Field(0.1, ge=0, le=1)
    """``eojeol_swap``: max(1, round(swap_prob x eojeol)) swaps of two eojeol."""
    noise_prob: float = Field(0.05, ge=0, le=1)
    """``char_noise``: max(1, round(noise_prob x characters)) character edits."""
    noise: list[Noise] = Field(default_factory=lambda: list(NOISE_KINDS))
    """Kinds of character edit: ``drop``, ``duplicate`` (a syllable), ``swap`` (two adjacent
    syllables), ``space`` (remove the space between two eojeol), ``jamo`` (a final consonant
    replaced by one that sounds alike, or dropped: 있 -> 잇, 않 -> 안)."""
    copies: int = Field(1, ge=0)
    """New rows per input row when ``balance`` is false."""
    balance: bool = False
    """Grow every class to ``per_class_cap`` rows, or to the size of the largest class, and never
    beyond; ``copies`` is then not used."""
    per_class_cap: int | None = Field(None, ge=1)
    """No class grows past this many rows (originals count; a class already larger gets nothing)."""
    seed: int = 0
    """Seed of every random choice; the same seed gives the same rows."""

    @field_validator("ops")
    @classmethod
    def _ops(cls, value: list[TextOp]) -> list[TextOp]:
        check_distinct(value, "ops")
        return value

    @field_validator("noise")
    @classmethod
    def _noise(cls, value: list[Noise]) -> list[Noise]:
        check_distinct(value, "noise")
        return value

    @model_validator(mode="after")
    def _growth(self) -> AugmentTextParams:
        if not self.balance and self.copies == 0:
            raise ValueError("copies is 0 and balance is false: nothing would be made")
        return self


@dataclass(frozen=True)
class TextAugmentPlan:
    """The new texts of each dataset row, and per label ``(rows, added, target)``."""

    new: dict[int, list[NewText]]
    summary: dict[str, tuple[int, int, int]]


class AugmentText(PlannedStage):
    """Label-preserving noise for classification texts (:mod:`curate.augment.text`): new rows
    ``<id>#aug-<n>`` (n from 0) after the rows of their batch, same label and ``text_pair``,
    ``source`` = ``augment:<op>``. A new text never equals (after NFC and whitespace folding) a
    text of the dataset or another new one.

    Artifact ``augment_summary``: per label, ``rows`` in, ``added`` and ``target`` (rows it was
    meant to reach).
    """

    name = "augment_text"
    role = "generate"
    Params = AugmentTextParams
    params: AugmentTextParams
    kinds = ("classification",)
    requires = {"id": "any", "text": "string", "label": "any"}
    adds = {SOURCE: pa.string()}
    rejects_added = False
    description = "add noisy copies of classification texts (eojeol deletion and swap, Korean typos); balance classes"

    def plan(self, dataset: Dataset) -> TextAugmentPlan:
        p = self.params
        ids = [str(v) for v in dataset.column("id").to_pylist()]
        plan = plan_augmentation(
            ids,
            dataset.column("text").to_pylist(),
            [None if v is None else str(v) for v in dataset.column("label").to_pylist()],
            ops=p.ops,
            noise=TextNoise(p.delete_prob, p.swap_prob, p.noise_prob, tuple(p.noise)),
            copies=p.copies,
            balance=p.balance,
            per_class_cap=p.per_class_cap,
            seed=p.seed,
        )
        summary = {
            label: (plan.counts[label], plan.added[label], plan.targets.get(label, plan.counts[label]))
            for label in sorted(plan.counts)
        }
        return TextAugmentPlan(plan.new, summary)

    def split(self, batch: pa.Table, plan: TextAugmentPlan, start: int) -> Split:
        new_rows = [
            {**row, "id": f"{row['id']}#aug-{new.n}", "text": new.text, SOURCE: f"augment:{new.op}"}
            for offset, row in enumerate(batch.to_pylist())
            for new in plan.new.get(start + offset, ())
        ]
        return _append(batch, new_rows, self.id)

    def plan_artifacts(self, plan: TextAugmentPlan) -> dict[str, pa.Table]:
        labels = list(plan.summary)
        return {
            _SUMMARY: pa.table(
                {
                    "label": pa.array(labels, pa.string()),
                    "rows": pa.array([plan.summary[k][0] for k in labels], pa.int64()),
                    "added": pa.array([plan.summary[k][1] for k in labels], pa.int64()),
                    "target": pa.array([plan.summary[k][2] for k in labels], pa.int64()),
                }
            )
        }


__all__ = ["METHODS", "AugmentMrc", "AugmentMrcParams", "AugmentText", "AugmentTextParams", "with_source"]
