"""The stage contract.

A stage has a registry ``name``, a ``role`` (one of :data:`ROLES`), typed ``Params`` (unknown keys
are an error) and the schema ``kinds`` it accepts. Defining a subclass that sets ``name`` registers
it in :data:`REGISTRY` (its ``role`` is checked then).

Columns are declared, not discovered: ``requires`` maps each input column the stage reads to its
Arrow type or a type family (:data:`FAMILIES`), ``adds`` maps each column it adds to kept rows to
its Arrow type, ``reject_extras`` the columns only rejected rows get (``duplicate_of``), and
``rejects_added`` says whether rejected rows carry the added columns. Where parameters choose the
columns (``field: question`` adds ``question_chars``), :meth:`Stage.required`, :meth:`Stage.added`
and :meth:`Stage.extras` compute them. From these and the input schema the base class knows the
output schemas before any row is read (:meth:`Stage.output_schemas`; a converting stage's kept rows
start from :meth:`Stage.output_kind`'s schema in :mod:`curate.schemas`), checks the input
(:meth:`Stage.check_input`: one error wording for a missing or mistyped column) and casts every
output batch to them (a batch that lacks, adds or mistypes a column is a StageError naming the
stage and the column).

Given a dataset a stage returns kept rows, rejected rows (original columns + ``reject_stage``,
``reject_reason``, ``reject_detail`` and any stage extras such as ``duplicate_of``), stats and
optional artifacts. kept + rejected = input + added, always: only generating stages (augmentation)
add rows, which they count in ``Split.added`` and mark in their ``source`` column. A stage may turn
rows of one kind into another (MRC questions into retrieval triplets): :meth:`Stage.output_kind`
names the kind of its kept rows; rejected rows keep the input's kind.

A stage that flags kept rows (a flag column) or changes their values (a repaired span, a redaction)
counts them per flag and per rewrite on the kept rows it returns (:meth:`Split.marked`); the runner
sums them into :class:`StageStats` (``flags``, ``rewrites``, ``rows_flagged``, ``rows_rewritten``).

Row-local stages implement :meth:`Stage.process` (one Arrow batch in, a :class:`Split` out); it
must hold no state across batches, so batches can be processed in any order and in any process.
Global stages subclass :class:`PlannedStage`: :meth:`PlannedStage.plan` looks at the whole dataset
once and returns a plan, a plain picklable value (a frozen dataclass of arrays, lists and tables; no
reference to the stage, an open file or a model), and :meth:`PlannedStage.split` applies it to one
batch given the dataset position of the batch's first row (``split(batch, plan, start)``), so a plan
computed once can be shipped to workers that split batches in any order.
Artifacts come from the plan (:meth:`PlannedStage.plan_artifacts`) or from counts the batches
report in :attr:`Split.tally`, summed by the runner (:meth:`Stage.tally_artifacts`); after a run
:meth:`Stage.artifacts` returns them. The runner checks kept + rejected = rows in + added on every
batch of every stage.

Retrieval sets (:class:`curate.dataset.Bundle`): the runner gives a stage the other parts of
its input in :attr:`Stage.parts` (``{}`` for a plain dataset) before it runs, and after it ran
calls :meth:`Stage.update_parts` with its kept and rejected rows, which returns the other parts as
they are now (a dedup re-points the qrels at the kept passages; by default they are unchanged).

Executors (:mod:`curate.executors`): :meth:`Stage.execute` given one checks the input and plans in
this process, then each batch (:meth:`curate.dataset.Dataset.batch_ranges`) is a task
(:func:`split_batch`): the worker builds the stage again from its class, params and id (:class:`StageJob`;
a model it loads is loaded there, once per worker, never pickled), reads the batch's rows from the
input's Parquet files (:meth:`curate.dataset.Dataset.rows`; the table itself when the input is in
memory), splits them with the shared plan and writes its kept and rejected rows to the stage's
output folders (``kept.parquet/``, ``rejected.parquet/``: a Parquet file per batch). The results are
taken in batch order, so files, counts and artifacts are those of a local run. On several machines
the input and the output folder must be on a file system every node sees at the same path; relative
paths in parameters are read from the driver's working directory. A plan may map tasks of its own on
the same executor (:meth:`Stage.tasks`: shards of a dedup, folds of a cross-validation), exchanging
files in :meth:`Stage.scratch_folder` (they last until the run ends); a stage whose plan holds
something for every row sets :attr:`Stage.sliced_plan`, so each batch task gets only its rows' part
(:meth:`Stage.plan_rows`).

Progress (:mod:`curate.progress`): the rows streamed through ``process``/``split`` are phase ``rows``
(a stage may step it inside a batch, counting the batch's rows); a global stage steps the phases of
its plan (``shingling``, ``LSH bands``, ``cross-validation``...).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeAlias, TypeVar, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import locations, objects, progress
from curate.config import Strict, validated
from curate.dataset import DEFAULT_BATCH_ROWS, Dataset
from curate.errors import ConfigError, CurateError, StageError, Where
from curate.schemas import get_schema

if TYPE_CHECKING:
    from curate.executors import Executor, Shared

Data = TypeVar("Data")
"""The type of rows a stage is called on, and gets back (:class:`StageResult`)."""

REJECT_COLUMNS = ("reject_stage", "reject_reason", "reject_detail")
FAMILIES = ("any", "string", "list<string>", "text", "list<float>")
"""Type families a stage may require instead of one Arrow type (``text``: string or list<string>)."""
ColumnType: TypeAlias = pa.DataType | str
"""A required column's type: an Arrow type, or a family of :data:`FAMILIES`."""
PART_NAME = "part-{:06d}.parquet"
"""The file of batch ``n`` in a stage's output folder (``kept.parquet/``, ``rejected.parquet/``)."""

Role = Literal["filter", "flag", "rewrite", "generate", "convert"]
ROLES: dict[str, str] = {
    "filter": "rejects rows that fail a test; kept rows are unchanged apart from added columns",
    "flag": "keeps every row; marks some for review with a flag or score column, or only reports on them",
    "rewrite": "keeps every row and changes values in place (normalised text, redacted PII)",
    "generate": "adds new rows beside the input's (augmented copies, synthetic questions)",
    "convert": "turns the input's rows into rows of another shape (chunks, triplets)",
}
"""Each role and what a stage of it does to rows; a stage doing two names its main one."""
assert tuple(ROLES) == get_args(Role)

REGISTRY: dict[str, type[Stage]] = {}
"""Every stage class by ``name``, filled as stage classes are defined (:meth:`Stage.__init_subclass__`)."""


Params = Strict  # base of every stage's parameters (often an engine's settings + stage-only fields)
StageParams = Strict


def check_distinct(values: Sequence[str], what: str, *, if_empty: str | None = None) -> None:
    """For a list parameter's validator: ``ValueError`` when ``values`` is empty (with the
    ``if_empty`` hint) or names something twice."""
    if not values:
        raise ValueError(f"{what} is empty" + (f": {if_empty}" if if_empty else ""))
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} listed twice: {', '.join(repeated)}")


@dataclass
class Split:
    """What a stage made of one batch: ``kept`` rows and ``rejected`` rows (with reject columns)."""

    kept: pa.Table
    rejected: pa.Table
    added: int = 0
    """How many of the kept rows are new (made by the stage, not taken from the input)."""
    flags: Counter[str] = field(default_factory=Counter)
    """Kept rows per flag (a row counts once per flag it carries); set by :meth:`marked`."""
    rewrites: Counter[str] = field(default_factory=Counter)
    """Kept rows per rewrite (a row counts once per kind of change); set by :meth:`marked`."""
    flagged: int = 0
    """Kept rows carrying at least one flag."""
    rewritten: int = 0
    """Kept rows the stage changed in at least one way."""
    tally: Counter[str] = field(default_factory=Counter)
    """Counts for the stage's artifacts, summed over the batches (:meth:`Stage.tally_artifacts`)."""

    def marked(
        self, *, flags: Iterable[Iterable[str]] | None = None, rewrites: Iterable[Iterable[str]] | None = None
    ) -> Split:
        """Count what the stage did to its kept rows: one list of flag (or rewrite) names per kept
        row (rows without any may be left out). Returns this split."""
        if flags is not None:
            self.flags, self.flagged = _tally(flags)
        if rewrites is not None:
            self.rewrites, self.rewritten = _tally(rewrites)
        return self


def _tally(rows: Iterable[Iterable[str]]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    marked = 0
    for names in rows:
        distinct = set(names)
        counts.update(distinct)
        marked += bool(distinct)
    return counts, marked


def changed(before: pa.Table, after: pa.Table, columns: Sequence[str]) -> list[list[str]]:
    """Per row, which of ``columns`` differ between ``before`` and ``after`` (the same rows in the
    same order; a column missing on either side is skipped)."""
    names = [c for c in columns if c in before.column_names and c in after.column_names]
    out: list[list[str]] = [[] for _ in range(after.num_rows)]
    for name in names:
        old, new = before.column(name).to_pylist(), after.column(name).to_pylist()
        for row, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                out[row].append(name)
    return out


def names_in(table: pa.Table, column: str, name: str | None = None) -> list[list[str]]:
    """Per row of ``table``, the names its ``column`` marks: the items of a ``list<string>`` column,
    or ``[name]`` where a bool column is true. An absent column marks nothing."""
    if column not in table.column_names:
        return [[] for _ in range(table.num_rows)]
    values = table.column(column).to_pylist()
    if name is not None:
        return [[name] if v else [] for v in values]
    return [[str(v) for v in items or [] if v is not None] for items in values]


@dataclass
class StageStats:
    """Counts and time of one stage run; ``reasons`` maps ``reject_reason`` to its row count;
    ``rows_added`` counts kept rows the stage made (rows_kept + rows_rejected = rows_in + rows_added);
    ``flags`` maps a flag to the number of kept rows that carry it and ``rows_flagged`` counts kept
    rows with any flag; ``rewrites`` and ``rows_rewritten`` do the same for kept rows whose values
    the stage changed (a repaired span, a redacted phone number). All are counted on the kept rows
    as written."""

    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rows_added: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    rewrites: dict[str, int] = field(default_factory=dict)
    rows_flagged: int = 0
    rows_rewritten: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "rows_added": self.rows_added,
            "reasons": dict(sorted(self.reasons.items())),
            "rows_flagged": self.rows_flagged,
            "flags": dict(sorted(self.flags.items())),
            "rows_rewritten": self.rows_rewritten,
            "rewrites": dict(sorted(self.rewrites.items())),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class StageResult(Generic[Data]):
    """Output of a stage on a whole dataset. ``kept``/``rejected`` have the type of the input
    (Dataset, pyarrow Table, polars or pandas DataFrame, ``datasets.Dataset``): a stage called on a
    ``pyarrow.Table`` gives a ``StageResult[pyarrow.Table]``; ``artifacts`` maps a name to an Arrow
    table."""

    kept: Data
    rejected: Data
    stats: StageStats
    artifacts: dict[str, pa.Table] = field(default_factory=dict)


@dataclass
class Batch:
    """What one batch gave, as the runner sums it: ``rows_in`` and the :class:`Split`'s counts, the
    reject reasons counted, and the ``kept`` and ``rejected`` rows (None once a task wrote them to
    the stage's output folders, :func:`write_part`)."""

    rows_in: int
    kept_rows: int
    rejected_rows: int
    kept: pa.Table | None
    rejected: pa.Table | None
    added: int
    flagged: int
    rewritten: int
    reasons: Counter[str]
    flags: Counter[str]
    rewrites: Counter[str]
    tally: Counter[str]

    @classmethod
    def of(cls, split: Split, rows_in: int) -> Batch:
        reasons: Counter[str] = Counter()
        if split.rejected.num_rows:
            reasons.update(split.rejected.column("reject_reason").to_pylist())
        return cls(
            rows_in,
            split.kept.num_rows,
            split.rejected.num_rows,
            split.kept,
            split.rejected,
            split.added,
            split.flagged,
            split.rewritten,
            reasons,
            split.flags,
            split.rewrites,
            split.tally,
        )


def reject(
    table: pa.Table,
    keep: pa.Array | list[bool],
    *,
    stage: str,
    reasons: list[str | None] | str,
    details: list[str | None] | None = None,
    extra: Mapping[str, pa.Array] | None = None,
) -> Split:
    """Split ``table`` by the boolean ``keep`` mask; rejected rows get the reject columns.

    Args:
        keep: one bool per row (True = kept).
        reasons: one reason code per row (used where ``keep`` is False), or one code for all.
        details: free-text detail per row (``None`` allowed).
        extra: more columns for the rejected rows only, one value per input row (e.g. ``duplicate_of``).
    """
    mask = pa.array(keep, pa.bool_()) if not isinstance(keep, pa.Array) else keep
    dropped = pc.invert(mask)
    rejected = table.filter(dropped)
    n = rejected.num_rows
    reason_array = pa.array([reasons] * table.num_rows if isinstance(reasons, str) else reasons, pa.string())
    detail_array = pa.array(details if details is not None else [None] * table.num_rows, pa.string())
    rejected = rejected.append_column("reject_stage", pa.array([stage] * n, pa.string()))
    rejected = rejected.append_column("reject_reason", reason_array.filter(dropped))
    rejected = rejected.append_column("reject_detail", detail_array.filter(dropped))
    for name, values in (extra or {}).items():
        rejected = rejected.append_column(name, values.filter(dropped))
    return Split(kept=table.filter(mask), rejected=rejected)


class Stage:
    """Base class of every stage. Subclasses set the class attributes (the columns they require
    and add) and implement ``process`` (row-local) or subclass :class:`PlannedStage`; one that sets
    ``name`` is a stage users can name and must set ``role``."""

    name: ClassVar[str]
    role: ClassVar[Role]
    Params: ClassVar[type[StageParams]] = StageParams
    kinds: ClassVar[tuple[str, ...]] = ()  # accepted schema kinds; empty = every kind
    requires: ClassVar[Mapping[str, ColumnType]] = {}  # input columns read, with their type (family)
    adds: ClassVar[Mapping[str, pa.DataType]] = {}  # columns added to kept rows (replaced if present)
    reject_extras: ClassVar[Mapping[str, pa.DataType]] = {}  # columns only rejected rows get
    rejects_added: ClassVar[bool] = True  # rejected rows carry the added columns too
    sliced_plan: ClassVar[bool] = False  # batch tasks get plan_rows(plan, start, stop), not the whole plan
    description: ClassVar[str] = ""  # one line for `curate stages`; default: the docstring's first paragraph
    parts: Mapping[str, Dataset] = MappingProxyType({})
    """Sibling parts of a retrieval-set input by name (``corpus``, ``queries``, ``qrels``), set by
    the runner before the stage runs; empty for a plain dataset."""
    executor: Executor | None = None
    """Where the stage's tasks run, set by :meth:`execute` for the run (None: this process). A plan
    may map its own tasks on it (shards of a dedup, folds of a cross-validation)."""
    scratch: Path | None = None
    """A folder for files the plan's tasks exchange, made by :meth:`execute` for the run (under the
    stage's output folder, else the system's temporary folder) and removed when the run ends; see
    :meth:`scratch_folder`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register a class that sets ``name``; TypeError when its role is missing or unknown, or
        the name is taken by another class. Classes without a ``name`` of their own are bases."""
        super().__init_subclass__(**kwargs)
        if "name" not in vars(cls):
            return
        role = getattr(cls, "role", None)
        if role not in ROLES:
            raise TypeError(
                f"stage class {cls.__module__}.{cls.__qualname__} ('{cls.name}') must set role to one of "
                f"{', '.join(ROLES)}: got {role!r}"
            )
        taken = REGISTRY.get(cls.name)
        if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(
                f"stage name '{cls.name}' of {cls.__module__}.{cls.__qualname__} is taken by "
                f"{taken.__module__}.{taken.__qualname__}"
            )
        REGISTRY[cls.name] = cls

    @classmethod
    def default_added(cls) -> dict[str, pa.DataType]:
        """The columns a stage with default parameters adds on the first kind it accepts (``mrc``
        when it accepts any), for listings; ``adds`` when it has required parameters."""
        try:
            return cls().added(cls.kinds[0] if cls.kinds else "mrc")
        except ConfigError:
            return dict(cls.adds)

    @classmethod
    def describe(cls) -> str:
        """One line saying what the stage does: ``description``, else its docstring's first paragraph."""
        text = cls.description or (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(text.split())

    def __init__(self, params: Strict | Mapping[str, Any] | None = None, *, id: str | None = None, **kwargs: Any):
        self.id = id or self.name
        self.params: StageParams
        if isinstance(params, self.Params) and not kwargs:
            self.params = params
        else:  # a mapping, or an engine's settings (their fields are parameters of the stage)
            values = dict(params) if isinstance(params, Strict) else {**(params or {})}
            owner = f" for stage '{self.name}'"
            self.params = validated(self.Params, {**values, **kwargs}, where=Where(stage=self.id), owner=owner)

    # ----------------------------------------------------------------- contract for subclasses
    def output_kind(self, kind: str) -> str:
        """Kind of the kept rows for input of ``kind`` (the same kind unless the stage converts)."""
        return kind

    def check_kind(self, kind: str) -> None:
        """Raise ConfigError when this stage does not accept the schema ``kind``."""
        if self.kinds and kind not in self.kinds:
            raise ConfigError(
                f"stage '{self.name}' does not accept kind '{kind}'",
                where=Where(stage=self.id),
                value=kind,
                hint=f"it accepts: {', '.join(self.kinds)}",
            )

    def required(self, kind: str) -> dict[str, ColumnType]:
        """Input columns the stage reads on ``kind`` (``requires``; override when params choose them)."""
        return dict(self.requires)

    def added(self, kind: str) -> dict[str, pa.DataType]:
        """Columns added to kept rows of ``kind`` (``adds``; override when params choose them)."""
        return dict(self.adds)

    def extras(self, kind: str) -> dict[str, pa.DataType]:
        """Columns only rejected rows get, after the reject columns (``reject_extras``)."""
        return dict(self.reject_extras)

    def check_input(self, dataset: Dataset) -> None:
        """Raise ConfigError when this stage cannot run on ``dataset``: its kind, then every column of
        :meth:`required` (present, of its type). Stages add checks that are not about columns
        (a file a parameter names) in an override."""
        self.check_kind(dataset.kind)
        check_columns(dataset.schema, self.required(dataset.kind), stage=self.id)

    def output_schemas(self, schema: pa.Schema, kind: str) -> tuple[pa.Schema, pa.Schema]:
        """``(kept, rejected)`` schemas for input of ``schema`` and ``kind``: the input's columns (a
        converting stage's kept rows: :meth:`output_kind`'s schema) with :meth:`added` replaced in
        place or appended; rejected rows: the input's columns (with the added ones unless
        ``rejects_added`` is false), the reject columns and :meth:`extras`."""
        added = self.added(kind)
        out_kind = self.output_kind(kind)
        kept = with_fields(schema if out_kind == kind else get_schema(out_kind).arrow_schema(), added)
        base = with_fields(schema, added) if self.rejects_added else schema
        reject_fields = {name: pa.string() for name in REJECT_COLUMNS}
        return kept, with_fields(base, {**reject_fields, **self.extras(kind)})

    def process(self, batch: pa.Table, kind: str) -> Split:
        """Row-local work on one batch; no state kept across batches."""
        raise NotImplementedError

    def artifacts(self) -> dict[str, pa.Table]:
        """Tables the stage produced besides kept/rejected (e.g. clusters) in its last run."""
        return dict(getattr(self, "_artifacts", {}))

    def add_artifact(self, name: str, table: pa.Table) -> None:
        """Add an artifact after the run (:meth:`update_parts` lists the qrels it re-pointed)."""
        self._artifacts = {**getattr(self, "_artifacts", {}), name: table}

    def tally_artifacts(self, tally: Counter[str]) -> dict[str, pa.Table]:
        """Artifacts made from the batches' :attr:`Split.tally` summed over the run."""
        return {}

    def update_parts(self, parts: Mapping[str, Dataset], kept: Dataset, rejected: Dataset) -> dict[str, Dataset]:
        """The sibling parts of a retrieval set after this stage ran (``kept``/``rejected``: its
        rows of the primary part, before :meth:`artifacts`). Return a part unchanged (the same
        object) when the stage does not change it; leave a part out to end it (a stage whose
        output is no longer a retrieval part). Default: the parts the plan left
        (:meth:`PlannedStage.plan_parts`), else every sibling unchanged."""
        planned = getattr(self, "_planned_parts", None)
        return dict(parts) if planned is None else {**parts, **planned}

    def input_files(self) -> list[Path]:
        """Files the stage reads besides its input (an evaluation set, an index): their content is
        part of the stage's fingerprint, so editing them re-runs the stage."""
        return []

    # ----------------------------------------------------------------- running
    def planned(self, dataset: Dataset) -> tuple[Any, dict[str, pa.Table]]:
        """``(plan, artifacts)`` for ``dataset``: a row-local stage has no plan (None) and no artifacts
        yet; :class:`PlannedStage` plans."""
        return None, {}

    def tasks(self) -> Executor:
        """The executor the stage runs on (this process when none was given)."""
        from curate.executors import Executor

        return self.executor or Executor()

    def scratch_folder(self) -> str:
        """A new empty folder under :attr:`scratch`, as its location for the tasks
        (:meth:`~curate.executors.Executor.location`: on the object store when the executor has
        storage). It lasts until the run ends: a plan may point at files in it (decisions read
        batch by batch)."""
        return self.tasks().location(Path(tempfile.mkdtemp(prefix="plan-", dir=self.scratch)))

    def plan_rows(self, plan: Any, start: int, stop: int) -> Any:
        """The part of ``plan`` that splitting rows ``start:stop`` needs: what a batch task gets
        when the stage's :attr:`sliced_plan` is set (a plan over every row is then not sent to
        every worker). Default: the whole plan."""
        return plan

    def split_with(self, batch: pa.Table, plan: Any, start: int, kind: str) -> Split:
        """Split ``batch`` of a dataset of ``kind``, its rows ``start:start + len(batch)``, with the
        plan :meth:`planned` made (row-local: :meth:`process`)."""
        return self.process(batch, kind)

    def splitter(self, dataset: Dataset) -> tuple[Callable[[pa.Table, int], Split], dict[str, pa.Table]]:
        """``(split_batch, artifacts)``: ``split_batch(batch, start)`` splits one batch of ``dataset``
        whose first row is row ``start`` of the dataset (any batch, in any order), with the plan of
        :meth:`planned`."""
        kind = dataset.kind
        plan, artifacts = self.planned(dataset)
        return (lambda batch, start: self.split_with(batch, plan, start, kind)), artifacts

    def execute(
        self,
        dataset: Dataset,
        *,
        out_dir: Path | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        executor: Executor | None = None,
    ) -> tuple[pa.Table | Path, pa.Table | Path, StageStats]:
        """Run over ``dataset``: check the input, plan (a planned stage), split each batch and write
        the folders ``kept.parquet/`` and ``rejected.parquet/`` of the declared schemas to ``out_dir``
        (a Parquet file per batch, :func:`write_part`), or keep the rows in memory. Checks kept +
        rejected = input + added per batch and in total. Returns (kept, rejected, stats): tables, or
        the folders; :meth:`artifacts` then has the run's artifacts. Progress goes to the listener
        of :mod:`curate.progress`, if any.

        ``executor`` (other than ``local``): the batches are its tasks (:func:`split_batch`), which
        write their rows to the folders themselves; input checks and the plan stay in this process,
        and the outputs are those of a local run."""
        from curate.executors import Executor

        self.check_input(dataset)
        tasks = executor or Executor()
        scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=out_dir.absolute() if out_dir is not None else None))
        try:
            done = self._execute(dataset, out_dir, batch_rows, tasks, scratch)
        except BaseException:
            with suppress(CurateError):  # the error that stopped the stage is the one to tell
                tasks.remove(scratch)
            raise
        tasks.remove(scratch)
        return done

    def _execute(
        self, dataset: Dataset, out_dir: Path | None, batch_rows: int, tasks: Executor, scratch: Path
    ) -> tuple[pa.Table | Path, pa.Table | Path, StageStats]:
        started = time.perf_counter()
        schemas = self.output_schemas(dataset.schema, dataset.kind)
        self.executor, self.scratch = tasks, scratch
        try:
            plan, self._artifacts = self.planned(dataset)
        finally:
            self.executor, self.scratch = None, None
        outputs = Outputs(self.id, *schemas, None if out_dir is None else tasks.location(out_dir))
        outputs.create()
        reasons: Counter[str] = Counter()
        flags: Counter[str] = Counter()
        rewrites: Counter[str] = Counter()
        tally: Counter[str] = Counter()
        stats = StageStats()
        total = dataset.num_rows
        kept: list[pa.Table] = []
        rejected: list[pa.Table] = []
        progress.step("rows", 0, total)
        if tasks.name == "local":
            results = self._split_here(dataset, plan, batch_rows, outputs)
        else:
            results = _split_on(tasks, self, dataset, plan, batch_rows, outputs)
        with closing(results):
            for done in results:
                progress.step("rows", stats.rows_in + done.rows_in, total)
                kept_rows, rejected_rows = done.kept_rows, done.rejected_rows
                if kept_rows + rejected_rows != done.rows_in + done.added:
                    raise self._miscounted(
                        f"lost rows: {done.rows_in} in + {done.added} added, {kept_rows} kept + "
                        f"{rejected_rows} rejected"
                    )
                stats.rows_in += done.rows_in
                stats.rows_added += done.added
                stats.rows_kept += kept_rows
                stats.rows_rejected += rejected_rows
                if max(done.flagged, done.rewritten) > kept_rows:
                    raise self._miscounted(
                        f"counted {done.flagged} flagged and {done.rewritten} rewritten rows in a batch of "
                        f"{kept_rows} kept rows"
                    )
                stats.rows_flagged += done.flagged
                stats.rows_rewritten += done.rewritten
                flags.update(done.flags)
                rewrites.update(done.rewrites)
                tally.update(done.tally)
                reasons.update(done.reasons)
                if done.kept is not None and done.rejected is not None:
                    kept.append(done.kept)
                    rejected.append(done.rejected)
        if stats.rows_kept + stats.rows_rejected != stats.rows_in + stats.rows_added:
            raise self._miscounted(
                f"broke kept + rejected = input + added: {stats.rows_in} in + {stats.rows_added} added, "
                f"{stats.rows_kept} kept + {stats.rows_rejected} rejected"
            )
        self._artifacts.update(self.tally_artifacts(tally))
        stats.reasons = {str(k): v for k, v in reasons.items()}
        stats.flags = {str(k): v for k, v in flags.items() if v}
        stats.rewrites = {str(k): v for k, v in rewrites.items() if v}
        stats.seconds = time.perf_counter() - started
        if outputs.folder is None:
            return (
                pa.concat_tables([outputs.kept.empty_table(), *kept]),
                pa.concat_tables([outputs.rejected.empty_table(), *rejected]),
                stats,
            )
        assert out_dir is not None
        for folder in ("kept.parquet", "rejected.parquet"):
            tasks.fetch(out_dir / folder)
        return *finish_outputs(out_dir, outputs), stats

    def _miscounted(self, what: str) -> StageError:
        """The error of a run whose counts do not add up (``what``: how)."""
        return StageError(f"stage '{self.name}' {what}", where=Where(stage=self.id))

    def _split_here(
        self, dataset: Dataset, plan: Any, batch_rows: int, outputs: Outputs
    ) -> Generator[Batch, None, None]:
        """Each batch of ``dataset`` split in this process, in order (its rows written to the
        ``outputs`` folders when they have one)."""
        start, total = 0, dataset.num_rows
        for index, batch in enumerate(dataset.batches(batch_rows)):
            with progress.within("rows", start, total):
                split = self.split_with(batch, plan, start, dataset.kind)
            yield outputs.took(index, Batch.of(split, batch.num_rows))
            start += batch.num_rows

    def __call__(self, data: Data, *, kind: str | None = None) -> StageResult[Data]:
        """Run on a Dataset, pyarrow Table, polars or pandas DataFrame or ``datasets.Dataset``; results
        come back in the same type."""
        from curate.io import _as_dataset, _like

        dataset = _as_dataset(data, kind)
        kept, rejected, stats = self.execute(dataset)
        assert isinstance(kept, pa.Table) and isinstance(rejected, pa.Table)
        kept_kind = self.output_kind(dataset.kind)
        return StageResult(
            _like(data, kept, kept_kind, dataset.metadata if kept_kind == dataset.kind else {}),
            _like(data, rejected, dataset.kind, dataset.metadata),
            stats,
            self.artifacts(),
        )

    run = __call__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, {self.params!r})"


class PlannedStage(Stage):
    """A global stage: :meth:`plan` looks at the whole dataset first (clusters, overlaps) and returns
    a plain picklable value; :meth:`split` then applies it to each batch, given the dataset position
    of the batch's first row. The stage keeps nothing between the two: the plan is all there is."""

    def plan(self, dataset: Dataset) -> Any:
        """What the stage decided about ``dataset`` as a whole: a picklable value (a frozen dataclass
        of arrays, lists, strings and Arrow tables) that :meth:`split` and :meth:`plan_artifacts` read."""
        raise NotImplementedError

    def split(self, batch: pa.Table, plan: Any, start: int) -> Split:
        """Split ``batch``, rows ``start:start + len(batch)`` of the planned dataset."""
        raise NotImplementedError

    def plan_artifacts(self, plan: Any) -> dict[str, pa.Table]:
        """Tables the stage makes from its plan besides kept/rejected (clusters, issues, reports)."""
        return {}

    def plan_parts(self, plan: Any, parts: Mapping[str, Dataset]) -> dict[str, Dataset] | None:
        """The other parts of a retrieval set as the plan leaves them (chunking: the qrels pointed at
        the chunks), or None to leave them to :meth:`Stage.update_parts`."""
        return None

    def planned(self, dataset: Dataset) -> tuple[Any, dict[str, pa.Table]]:
        plan = self.plan(dataset)
        self._planned_parts = self.plan_parts(plan, self.parts)  # read by update_parts after the run
        return plan, self.plan_artifacts(plan)

    def split_with(self, batch: pa.Table, plan: Any, start: int, kind: str) -> Split:
        return self.split(batch, plan, start)


def with_fields(schema: pa.Schema, fields: Mapping[str, pa.DataType]) -> pa.Schema:
    """``schema`` with ``fields`` set: a present column gets the new type in place, others are appended."""
    for name, dtype in fields.items():
        if name in schema.names:
            schema = schema.set(schema.get_field_index(name), pa.field(name, dtype))
        else:
            schema = schema.append(pa.field(name, dtype))
    return schema


def _columns(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} ({f.type})" for f in schema)


def is_type(dtype: pa.DataType, spec: ColumnType) -> bool:
    """Whether a column of ``dtype`` fits ``spec``: an Arrow type, or a family of :data:`FAMILIES`."""
    if isinstance(spec, pa.DataType):
        return dtype.equals(spec)
    listed = pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)
    if spec == "any":
        return True
    if spec == "string":
        return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
    if spec == "list<string>":
        return listed and is_type(dtype.value_type, "string")
    if spec == "text":
        return is_type(dtype, "string") or is_type(dtype, "list<string>")
    if spec == "list<float>":
        return listed and (pa.types.is_floating(dtype.value_type) or pa.types.is_integer(dtype.value_type))
    raise ValueError(f"unknown column type family {spec!r}: use an Arrow type or one of {', '.join(FAMILIES)}")


def check_columns(schema: pa.Schema, required: Mapping[str, ColumnType], *, stage: str) -> None:
    """ConfigError when a column of ``required`` is missing from ``schema`` or of another type: one
    wording for both, naming the stage, the column, its type and the columns present."""
    for name, spec in required.items():
        found = schema.field(name).type if name in schema.names else None
        if found is not None and is_type(found, spec):
            continue
        typed = "" if spec == "any" else f"{spec} "
        raise ConfigError(
            f"needs a {typed}column '{name}' in its input",
            where=Where(stage=stage, field=name),
            value="missing" if found is None else str(found),
            hint=f"columns: {', '.join(schema.names)}; rename a column or set the stage's parameter",
        )


# ----------------------------------------------------------------------------- batches on an executor


@dataclass(frozen=True)
class StageJob:
    """What a worker needs to split batches of one stage run: the stage's class (``module:qualname``),
    ``params`` and ``id``, the input's ``kind``, the ``plan``, the driver's working directory and
    where the rows go."""

    stage: str
    params: Strict
    id: str
    kind: str
    plan: Any
    cwd: str
    outputs: Outputs

    def build(self) -> Stage:
        """The stage, made again from its class, params and id (without the retrieval set's parts:
        they serve the plan, made by the driver)."""
        module, _, name = self.stage.partition(":")
        cls: Any = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        stage: Stage = cls(self.params, id=self.id)
        return stage


@dataclass(frozen=True)
class BatchTask:
    """One batch to split: rows ``start:stop`` of the shared dataset (batch ``index``). ``run`` names
    the stage run, so a worker builds the stage once for all the batches it gets. ``plan``: the
    batch's part of the plan when the stage slices its plan (:attr:`Stage.sliced_plan`), else None
    and the job holds the plan."""

    run: str
    job: Shared[StageJob]
    data: Shared[Dataset]
    index: int
    start: int
    stop: int
    plan: Any = None


def _split_on(
    executor: Executor, stage: Stage, dataset: Dataset, plan: Any, batch_rows: int, outputs: Outputs
) -> Generator[Batch, None, None]:
    """The batches of ``dataset`` split by ``executor``'s workers, in order; their rows written to
    the ``outputs`` folders by the workers when they have one, else in the results."""
    cls = type(stage)
    whole = None if stage.sliced_plan else plan
    job = StageJob(
        f"{cls.__module__}:{cls.__qualname__}", stage.params, stage.id, dataset.kind, whole, os.getcwd(), outputs
    )
    dataset = executor.readable(dataset)
    run, shared_job, shared_data = uuid.uuid4().hex, executor.share(job), executor.share(dataset)
    tasks = (
        BatchTask(
            run,
            shared_job,
            shared_data,
            index,
            start,
            stop,
            stage.plan_rows(plan, start, stop) if stage.sliced_plan else None,
        )
        for index, (start, stop) in enumerate(dataset.batch_ranges(batch_rows))
    )
    yield from executor.map(split_batch, tasks, what="batch")


_BUILT: dict[str, tuple[Stage, StageJob, Dataset]] = {}
"""The stage this worker process last built, with its job and dataset, by run."""


def split_batch(task: BatchTask) -> Batch:
    """The task: split one batch (in a worker); its rows written to the stage's output folders
    when it has them (:meth:`Outputs.took`)."""
    if task.run not in _BUILT:
        _BUILT.clear()
        job = task.job.get()
        _BUILT[task.run] = (job.build(), job, task.data.get())
    stage, job, data = _BUILT[task.run]
    with _working_dir(job.cwd):
        rows = data.rows(task.start, task.stop)
        plan = task.plan if stage.sliced_plan else job.plan
        done = Batch.of(stage.split_with(rows, plan, task.start, job.kind), rows.num_rows)
    return job.outputs.took(task.index, done)


@contextmanager
def _working_dir(path: str) -> Iterator[None]:
    """Run in ``path`` (the driver's working directory) when it exists here, then go back."""
    here = os.getcwd()
    if path == here or not os.path.isdir(path):
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


@dataclass(frozen=True)
class Outputs:
    """Where the rows of a stage run go: the declared ``kept`` and ``rejected`` schemas, and the
    stage's output ``folder`` (None: kept in memory) holding the Parquet folders ``kept.parquet/``
    and ``rejected.parquet/``, a file per batch (:data:`PART_NAME`)."""

    stage: str
    kept: pa.Schema
    rejected: pa.Schema
    folder: str | None

    def folders(self) -> tuple[str, str]:
        """The locations (:mod:`curate.locations`) of ``kept.parquet/`` and ``rejected.parquet/``."""
        assert self.folder is not None
        return locations.join(self.folder, "kept.parquet"), locations.join(self.folder, "rejected.parquet")

    def create(self) -> None:
        """Make the folders when they are on this machine's disk (an object store needs none)."""
        if self.folder is not None and not objects.is_remote(self.folder):
            for location in self.folders():
                Path(location).mkdir()

    def took(self, index: int, done: Batch) -> Batch:
        """``done`` (batch ``index``) with its rows cast to the declared schemas (StageError naming
        a column that does not fit); with a folder, the rows are written (:func:`write_part`) and
        left out of the returned batch."""
        assert done.kept is not None and done.rejected is not None
        kept = conformed(done.kept, self.kept, "kept", self.stage)
        rejected = conformed(done.rejected, self.rejected, "rejected", self.stage)
        if self.folder is None:
            return replace(done, kept=kept, rejected=rejected)
        for table, folder in zip((kept, rejected), self.folders(), strict=True):
            write_part(table, folder, index)
        return replace(done, kept=None, rejected=None)


def finish_outputs(folder: Path, outputs: Outputs) -> tuple[Path, Path]:
    """The folders ``kept.parquet/`` and ``rejected.parquet/`` in the local ``folder``, done: one no
    batch wrote a row to gets an empty file of its schema, and what a task killed while writing
    left is removed."""
    done = folder / "kept.parquet", folder / "rejected.parquet"
    for path, schema in zip(done, (outputs.kept, outputs.rejected), strict=True):
        path.mkdir(exist_ok=True)
        for left in path.glob("*.tmp"):
            left.unlink()
        if not any(path.glob("*.parquet")):
            pq.write_table(schema.empty_table(), path / PART_NAME.format(0), compression="zstd")
    return done


def write_part(table: pa.Table, folder: str, index: int) -> None:
    """Write ``table`` (if it has rows) to the location ``folder`` as part ``index``
    (:data:`PART_NAME`), whole or not at all (a task run again after its worker died writes it again).
    Its columns are written as one chunk each where they fit in one: Parquet's pages follow the chunks,
    which depend on how the batch was read, so the same rows make the same file on every executor."""
    if not table.num_rows:
        return
    with suppress(pa.ArrowInvalid):  # a string column past 2 GB stays in chunks
        table = table.combine_chunks()
    locations.write_parquet(table, locations.join(folder, PART_NAME.format(index)))


def conformed(table: pa.Table, schema: pa.Schema, name: str, stage: str) -> pa.Table:
    """``table`` (the ``name`` rows of stage ``stage``) cast to the declared ``schema``; StageError
    naming a column it lacks, has beyond the declared ones, or cannot cast."""
    if not table.num_rows:
        return schema.empty_table()
    if table.schema == schema:
        # equal but maybe for the metadata and the names of list items (DuckDB's "l", Parquet's
        # "element"): the declared ones, so every executor writes the same bytes
        return pa.Table.from_arrays(table.columns, schema=schema)
    names = set(table.column_names)
    for problem, column in [
        *(("lacks declared column", c) for c in schema.names if c not in names),
        *(("has undeclared column", c) for c in table.column_names if c not in schema.names),
    ]:
        raise StageError(
            f"{name} rows {problem} '{column}'",
            where=Where(stage=stage, field=column),
            hint=f"declared: {_columns(schema)}; the stage's adds/reject_extras must list what it writes",
        )
    columns = []
    for field_ in schema:
        column = table.column(field_.name)
        try:
            columns.append(column.cast(field_.type) if column.type != field_.type else column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise StageError(
                f"{name} column '{field_.name}' is {column.type}, declared {field_.type}",
                where=Where(stage=stage, field=field_.name),
                hint=str(exc).splitlines()[0],
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)
