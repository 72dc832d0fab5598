"""The stage contract.

A stage has a registry ``name``, a ``role`` (one of :data:`ROLES`), typed ``Params`` (unknown keys
are an error), the schema ``kinds`` it accepts and the columns it ``adds``. Defining a subclass that
sets ``name`` registers it in :data:`REGISTRY` (its ``role`` is checked then).

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
:meth:`PlannedStage.plan_artifacts` makes the stage's artifacts from the plan.
The runner checks kept + rejected = rows in + added on every batch of every stage.

Progress (:mod:`curate.progress`): the rows streamed through :meth:`Stage.process` are phase ``rows``
(a stage may step it inside a batch, counting the batch's rows); a global stage steps the phases of
its plan (``shingling``, ``LSH bands``, ``cross-validation``...).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import progress
from curate.config import Strict, validated
from curate.dataset import DEFAULT_BATCH_ROWS, Dataset
from curate.errors import ConfigError, StageError, Where

REJECT_COLUMNS = ("reject_stage", "reject_reason", "reject_detail")
ROW_GROUP_ROWS = 65536  # rows per Parquet row group written by a stage

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
class StageResult:
    """Output of a stage on a whole dataset. ``kept``/``rejected`` have the type of the input
    (Dataset, pyarrow Table, polars or pandas DataFrame, ``datasets.Dataset``); ``artifacts`` maps a
    name to an Arrow table."""

    kept: Any
    rejected: Any
    stats: StageStats
    artifacts: dict[str, pa.Table] = field(default_factory=dict)


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
    """Base class of every stage. Subclasses set the class attributes and implement ``process``;
    one that sets ``name`` is a stage users can name and must set ``role``."""

    name: ClassVar[str]
    role: ClassVar[Role]
    Params: ClassVar[type[StageParams]] = StageParams
    kinds: ClassVar[tuple[str, ...]] = ()  # accepted schema kinds; empty = every kind
    adds: ClassVar[tuple[str, ...]] = ()  # columns added to kept rows
    description: ClassVar[str] = ""  # one line for `curate stages`; default: the docstring's first paragraph

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
    def reset(self) -> None:
        """Forget state from an earlier run (called before each run)."""

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

    def check_input(self, dataset: Dataset) -> None:
        """Raise ConfigError when this stage cannot run on ``dataset`` (kind, columns)."""
        self.check_kind(dataset.kind)

    def process(self, batch: pa.Table, kind: str) -> Split:
        """Row-local work on one batch (must accept an empty batch); no state kept across batches."""
        raise NotImplementedError

    def artifacts(self) -> dict[str, pa.Table]:
        """Tables the stage produced besides kept/rejected (e.g. clusters) in its last run."""
        return dict(getattr(self, "_artifacts", {}))

    def input_files(self) -> list[Path]:
        """Files the stage reads besides its input (an evaluation set, an index): their content is
        part of the stage's fingerprint, so editing them re-runs the stage."""
        return []

    # ----------------------------------------------------------------- running
    def splitter(self, dataset: Dataset) -> tuple[Callable[[pa.Table, int], Split], dict[str, pa.Table]]:
        """``(split_batch, artifacts)``: ``split_batch(batch, start)`` splits one batch of ``dataset``
        whose first row is row ``start`` of the dataset (any batch, in any order). Row-local:
        :meth:`process`; :class:`PlannedStage` plans first."""
        kind = dataset.kind
        return (lambda batch, start: self.process(batch, kind)), {}

    def execute(
        self,
        dataset: Dataset,
        *,
        out_dir: Path | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> tuple[pa.Table | Path, pa.Table | Path, StageStats]:
        """Run over ``dataset``; write ``kept.parquet``/``rejected.parquet`` to ``out_dir`` or keep
        them in memory. Checks kept + rejected = input. Returns (kept, rejected, stats). Progress
        goes to the listener of :mod:`curate.progress`, if any."""
        self.check_input(dataset)
        self.reset()
        started = time.perf_counter()
        split_batch, self._artifacts = self.splitter(dataset)
        probe = split_batch(dataset.schema.empty_table(), 0)
        sinks: list[_Sink] = []
        try:
            sinks.append(_Sink(probe.kept.schema, out_dir, "kept"))
            sinks.append(_Sink(probe.rejected.schema, out_dir, "rejected"))
            reasons: Counter[str] = Counter()
            flags: Counter[str] = Counter()
            rewrites: Counter[str] = Counter()
            stats = StageStats()
            total = dataset.num_rows
            progress.step("rows", 0, total)
            for batch in dataset.batches(batch_rows):
                rows_in = batch.num_rows
                with progress.within("rows", stats.rows_in, total):
                    split = split_batch(batch, stats.rows_in)
                progress.step("rows", stats.rows_in + rows_in, total)
                out = split.kept.num_rows + split.rejected.num_rows
                if out != rows_in + split.added:
                    raise StageError(
                        f"stage '{self.name}' lost rows: {rows_in} in + {split.added} added, {split.kept.num_rows} "
                        f"kept + {split.rejected.num_rows} rejected",
                        where=Where(stage=self.id),
                    )
                stats.rows_in += rows_in
                stats.rows_added += split.added
                stats.rows_kept += split.kept.num_rows
                stats.rows_rejected += split.rejected.num_rows
                if max(split.flagged, split.rewritten) > split.kept.num_rows:
                    raise StageError(
                        f"stage '{self.name}' counted {split.flagged} flagged and {split.rewritten} rewritten rows "
                        f"in a batch of {split.kept.num_rows} kept rows",
                        where=Where(stage=self.id),
                    )
                stats.rows_flagged += split.flagged
                stats.rows_rewritten += split.rewritten
                flags.update(split.flags)
                rewrites.update(split.rewrites)
                if split.rejected.num_rows:
                    reasons.update(split.rejected.column("reject_reason").to_pylist())
                sinks[0].add(split.kept)
                sinks[1].add(split.rejected)
            if stats.rows_kept + stats.rows_rejected != stats.rows_in + stats.rows_added:
                raise StageError(
                    f"stage '{self.name}' broke kept + rejected = input + added: {stats.rows_in} in + "
                    f"{stats.rows_added} added, {stats.rows_kept} kept + {stats.rows_rejected} rejected",
                    where=Where(stage=self.id),
                )
            stats.reasons = {str(k): v for k, v in reasons.items()}
            stats.flags = {str(k): v for k, v in flags.items() if v}
            stats.rewrites = {str(k): v for k, v in rewrites.items() if v}
            kept, rejected = sinks[0].close(), sinks[1].close()
        except BaseException:
            for sink in sinks:
                sink.discard()
            raise
        stats.seconds = time.perf_counter() - started
        return kept, rejected, stats

    def __call__(self, data: Any, *, kind: str | None = None) -> StageResult:
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
        """Split ``batch``, rows ``start:start + len(batch)`` of the planned dataset (an empty batch
        gives the output schemas)."""
        raise NotImplementedError

    def plan_artifacts(self, plan: Any) -> dict[str, pa.Table]:
        """Tables the stage makes from its plan besides kept/rejected (clusters, issues, reports)."""
        return {}

    def splitter(self, dataset: Dataset) -> tuple[Callable[[pa.Table, int], Split], dict[str, pa.Table]]:
        plan = self.plan(dataset)
        return (lambda batch, start: self.split(batch, plan, start)), self.plan_artifacts(plan)


class _Sink:
    """Collects output batches in memory, or streams them to a Parquet file."""

    def __init__(self, schema: pa.Schema, out_dir: Path | None, name: str):
        self.schema = schema
        self.path = out_dir / f"{name}.parquet" if out_dir is not None else None
        self.tables: list[pa.Table] = []
        self.buffered = 0
        self.writer = pq.ParquetWriter(self.path, schema, compression="zstd") if self.path else None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.select(self.schema.names).cast(self.schema) if table.schema != self.schema else table
        self.tables.append(table)
        self.buffered += table.num_rows
        if self.writer is not None and self.buffered >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.writer is not None and self.tables:
            self.writer.write_table(pa.concat_tables(self.tables), row_group_size=ROW_GROUP_ROWS)
            self.tables, self.buffered = [], 0

    def discard(self) -> None:
        """Close the file after a failure, quietly (the caller removes it); nothing is kept."""
        self.tables = []
        if self.writer is not None:
            with suppress(OSError):
                self.writer.close()
            self.writer.is_open = False  # a failed close is not tried again (and reported) when collected

    def close(self) -> pa.Table | Path:
        if self.writer is not None:
            self._flush()
            self.writer.close()
            assert self.path is not None
            return self.path
        return pa.concat_tables([self.schema.empty_table(), *self.tables])
