"""``retrieval_label_issues``: flag positives BM25 buries and list likely missing positives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.dataset import Dataset
from curate.errors import CurateError
from curate.retrieval.label_issues import ISSUE_SCHEMA, find_retrieval_label_issues
from curate.retrieval.negatives import Tokenizer
from curate.stages.base import Split, names_in, reject
from curate.stages.retrieval_checks import RetrievalInputParams, RetrievalInputStage

FLAGS_COLUMN = "label_flags"


class RetrievalLabelIssuesParams(RetrievalInputParams):
    tokenizer: Tokenizer = "bigram"
    """BM25 tokens: ``bigram``, ``morph`` (kiwipiepy) or ``word``."""
    rank_threshold: int = Field(100, ge=0)
    """A positive ranked below this many unlabelled passages is a ``buried_positive``."""
    top_k: int = Field(20, ge=0)
    """Unlabelled passages per query searched for answers (``missing_positive``)."""
    reject: list[Literal["buried_positive"]] = Field(default_factory=list)
    """``[buried_positive]`` rejects buried positives (reason ``buried_positive``); default: flag only."""


@dataclass(frozen=True)
class LabelIssuesPlan:
    """Every issue found (the ``label_issues`` artifact) and the detail of each buried positive by
    qrels row."""

    issues: pa.Table
    buried: dict[int, str]


class RetrievalLabelIssues(RetrievalInputStage):
    """Find likely label errors of a qrels set with BM25 (``curate.retrieval.label_issues``).

    Qrels rows whose positive BM25 ranks below ``rank_threshold`` unlabelled passages are flagged
    ``buried_positive`` in ``label_flags`` (and rejected when listed in ``reject``). Unlabelled
    passages among a query's ``top_k`` that hold one of its answers are no qrels rows: they go to
    the ``label_issues`` artifact as ``missing_positive``, together with the buried positives (:data:`ISSUE_SCHEMA`).
    """

    name = "retrieval_label_issues"
    role = "flag"
    Params = RetrievalLabelIssuesParams
    params: RetrievalLabelIssuesParams
    adds = {FLAGS_COLUMN: pa.list_(pa.string())}
    description = "Flag positives BM25 ranks far down; list unlabelled passages holding the answer."

    def plan(self, dataset: Dataset) -> LabelIssuesPlan:
        p = self.params
        corpus, queries = self.read_part("corpus").to_arrow(), self.read_part("queries").to_arrow()
        answers = self._answers_column(queries, self._queries_path())
        try:
            issues = find_retrieval_label_issues(
                corpus,
                queries,
                dataset.to_arrow(),
                answers_column=answers,
                tokenizer=p.tokenizer,
                rank_threshold=p.rank_threshold,
                top_k=p.top_k,
            )
        except CurateError as exc:
            raise exc.at(stage=self.id) from None
        buried = issues.filter(pc.equal(issues.column("issue"), "buried_positive"))
        rows, details = buried.column("qrels_row").to_pylist(), buried.column("detail").to_pylist()
        return LabelIssuesPlan(issues.cast(ISSUE_SCHEMA), dict(zip(rows, details, strict=True)))

    def split(self, batch: pa.Table, plan: LabelIssuesPlan, start: int) -> Split:
        end = start + batch.num_rows
        rejecting = "buried_positive" in self.params.reject
        flags = [["buried_positive"] if row in plan.buried else [] for row in range(start, end)]
        table = batch.append_column(FLAGS_COLUMN, pa.array(flags, pa.list_(pa.string())))
        keep = [not (rejecting and f) for f in flags]
        details = [plan.buried.get(row) for row in range(start, end)]
        split = reject(table, keep, stage=self.id, reasons="buried_positive", details=details)
        return split.marked(flags=names_in(split.kept, FLAGS_COLUMN))

    def plan_artifacts(self, plan: LabelIssuesPlan) -> dict[str, pa.Table]:
        return {"label_issues": plan.issues}
