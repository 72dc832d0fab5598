"""``retrieval_checks``: check qrels against their corpus and queries; reject the broken judgments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, Where
from curate.retrieval.checks import PROBLEM_SCHEMA, QRELS_CODES, QrelsCode, find_retrieval_problems
from curate.stages.base import Params, PlannedStage, Split, names_in, reject

FLAGS_COLUMN = "retrieval_flags"
_KEYS = {"corpus": "doc_id", "queries": "query_id"}


class RetrievalInputParams(Params):
    corpus: str | None = None
    """The passages: a BEIR folder, a Parquet folder with ``corpus.parquet``, or one file in any
    readable format (a BEIR ``corpus.jsonl`` on its own has its ``_id`` taken as ``doc_id``).
    Default: the corpus of the retrieval set the pipeline reads (an input folder without ``kind``);
    a part the retrieval set holds is taken from it, and the path is only the fallback."""
    queries: str | None = None
    """The queries, like ``corpus``; default: the ``corpus`` folder (a BEIR or Parquet folder holds both)."""
    corpus_format: str | None = None
    """Format of ``corpus``; inferred from the path when not given."""
    queries_format: str | None = None
    """Format of ``queries``; inferred from the path when not given."""
    answers_column: str | None = None
    """``list<string>`` column of the queries with each query's known answers; default ``answers``
    when the queries have it (naming a column the queries lack is an error)."""


class RetrievalChecksParams(RetrievalInputParams):
    reject: list[QrelsCode] = Field(default_factory=lambda: list(QRELS_CODES))
    """Problems that reject a qrels row (reason = the problem code); the others are only listed in
    ``retrieval_flags``. Default: all six, ``missing_query``, ``missing_document``, ``empty_query``,
    ``empty_passage``, ``duplicate_qrel`` and ``answer_not_in_positive``."""


class RetrievalInputStage(PlannedStage):
    """Base of the stages on qrels that also read the corpus and the queries: the parts of the
    retrieval set the pipeline reads (:attr:`~curate.stages.base.Stage.parts`), else the files
    the parameters name."""

    kinds = ("qrels",)
    params: RetrievalInputParams

    def _paths(self) -> dict[str, tuple[str, str, str | None]]:
        """``{kind: (path, parameter, format)}`` of the corpus and the queries not in :attr:`parts`."""
        p = self.params
        needed = [kind for kind in _KEYS if kind not in self.parts]
        if needed and p.corpus is None:
            raise ConfigError(
                f"stage '{self.name}' needs the {' and the '.join(needed)} of the qrels",
                where=Where(stage=self.id, field="corpus"),
                hint="read a retrieval folder whole (input.path without kind), or give the corpus parameter",
            )
        queries = p.queries
        if queries is None and "queries" in needed:
            assert p.corpus is not None
            if not Path(p.corpus).is_dir():
                raise ConfigError(
                    f"missing parameter 'queries' for stage '{self.name}'",
                    where=Where(stage=self.id, field="queries"),
                    hint="pass the queries file, or give corpus as a BEIR or Parquet folder holding both",
                )
            queries = p.corpus
        found = {"corpus": (p.corpus, "corpus", p.corpus_format), "queries": (queries, "queries", p.queries_format)}
        return {kind: (path, field, fmt) for kind, (path, field, fmt) in found.items() if kind in needed and path}

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        for kind, (path, field, _) in self._paths().items():
            if not Path(path).exists():
                raise ConfigError(
                    f"{kind} not found",
                    where=Where(stage=self.id, file=path, field=field),
                    hint="check the path (relative paths start from the working directory)",
                )

    def input_files(self) -> list[Path]:
        try:
            paths = [Path(path) for path, _, _ in self._paths().values()]
        except ConfigError:
            paths = [Path(self.params.corpus)] if self.params.corpus else []
        return list(dict.fromkeys(paths))

    def read_part(self, kind: str) -> Dataset:
        """The corpus or the queries: the retrieval set's part, else read with their format and kind."""
        from curate import io

        if kind in self.parts:
            return self.parts[kind]
        path, _, fmt = self._paths()[kind]
        try:
            return io.read(path, format=fmt or io.detect_format(path), kind=kind)
        except CurateError as exc:
            raise exc.at(stage=self.id, file=path) from None

    def _queries_path(self) -> str | None:
        """The queries file, None when they are the retrieval set's."""
        found = self._paths().get("queries")
        return found[0] if found else None

    def _answers_column(self, queries: pa.Table, path: str | None) -> str | None:
        column = self.params.answers_column
        if column is None:
            return "answers" if "answers" in queries.column_names else None
        if column not in queries.column_names:
            raise ConfigError(
                "no such column in the queries",
                where=Where(stage=self.id, file=path, field="answers_column"),
                value=column,
                hint=f"columns: {', '.join(queries.column_names)}",
            )
        return column


@dataclass(frozen=True)
class ProblemsPlan:
    """Every problem found (the ``problems`` artifact) and, per qrels row with problems, their codes
    and details."""

    problems: pa.Table
    codes: dict[int, list[str]]
    details: dict[int, list[str]]


class RetrievalChecks(RetrievalInputStage):
    """Check a qrels set against its corpus and queries (``curate.retrieval.checks``) and reject the
    qrels rows that point to a missing query or passage, to an empty one, judge a (query, passage)
    pair again, or give a positive passage that holds none of the query's answers.

    Reasons are the problem codes; the reject detail says what is wrong. Every row gets
    ``retrieval_flags``, the codes of its problems (on kept rows: those not rejected). The
    ``problems`` artifact lists every problem of the three tables, those of the corpus and queries
    included (``duplicate_doc_id``, ``duplicate_query_id``, ``empty_passage``, ``empty_query``,
    ``no_positive``): ``table, row, id, field, code, detail``.
    """

    name = "retrieval_checks"
    role = "filter"  # problems not listed in reject only flag
    Params = RetrievalChecksParams
    params: RetrievalChecksParams
    adds = {FLAGS_COLUMN: pa.list_(pa.string())}
    description = "Check qrels against their corpus and queries; reject broken judgments."

    # ----------------------------------------------------------------- plan and split
    def plan(self, dataset: Dataset) -> ProblemsPlan:
        """Find every problem of the corpus, queries and the whole qrels ``dataset``."""
        corpus, queries = self.read_part("corpus").to_arrow(), self.read_part("queries").to_arrow()
        queries_path = self._queries_path()
        answers = self._answers_column(queries, queries_path)
        try:
            problems = find_retrieval_problems(corpus, queries, dataset.to_arrow(), answers_column=answers)
        except CurateError as exc:
            raise exc.at(stage=self.id, file=queries_path if exc.where.field == answers else None) from None
        qrels = problems.filter(pc.equal(problems.column("table"), "qrels"))
        codes: dict[int, list[str]] = defaultdict(list)
        details: dict[int, list[str]] = defaultdict(list)
        for row, code, detail in zip(
            qrels.column("row").to_pylist(),
            qrels.column("code").to_pylist(),
            qrels.column("detail").to_pylist(),
            strict=True,
        ):
            codes[row].append(code)
            details[row].append(detail)
        return ProblemsPlan(problems.cast(PROBLEM_SCHEMA), dict(codes), dict(details))

    def split(self, batch: pa.Table, plan: ProblemsPlan, start: int) -> Split:
        end = start + batch.num_rows
        rejecting = set(self.params.reject)
        keep: list[bool] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        flags: list[list[str]] = []
        for row in range(start, end):
            codes = plan.codes.get(row, [])
            failed = [(c, d) for c, d in zip(codes, plan.details.get(row, []), strict=True) if c in rejecting]
            keep.append(not failed)
            reasons.append(failed[0][0] if failed else None)
            details.append("; ".join(f"{c}: {d}" for c, d in failed) or None)
            flags.append(codes)
        flagged = batch.append_column(FLAGS_COLUMN, pa.array(flags, pa.list_(pa.string())))
        split = reject(flagged, keep, stage=self.id, reasons=reasons, details=details)
        return split.marked(flags=names_in(split.kept, FLAGS_COLUMN))

    def plan_artifacts(self, plan: ProblemsPlan) -> dict[str, pa.Table]:
        return {"problems": plan.problems}
