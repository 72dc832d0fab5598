"""Load a run folder into plain data for the report: every file the report reads is read here.

:class:`RunFiles` knows the layout (``manifest.json``, ``input/``, ``NN_<id>/`` stage folders with
``stats.json``, ``kept``, ``rejected`` and artifacts, ``output.parquet``). A table may be one
Parquet file (``kept.parquet``) or a folder of parts (``kept/part-*.parquet``); both are read
through DuckDB with ``union_by_name``, so parts whose columns differ read together.

:func:`load_run` turns a folder into a :class:`Run`: counts from the stage records, and what the
data shows, computed in DuckDB and bounded whatever the size of the run: a few example rows per
reason, flag and rewrite (``LIMIT``), histograms as bin counts, the largest duplicate clusters,
the closest train/eval pairs, the worst label issues, the generation verdicts.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.errors import CurateError, InputError, Where
from curate.report.catalog import Flags, LabelPair, Rewrites, Threshold, stage_fields, stage_info
from curate.run_folder import INPUT, MANIFEST, OUTPUT, RECORD
from curate.schemas import get_schema
from curate.sql import connect as connect_duckdb

EXAMPLES = 3
"""Example rows per reason, flag and rewrite."""
BINS = 30
"""Bins per histogram."""
TOP = 5
"""Clusters, pairs and worst rows shown."""
SCAN = 200
"""Matching rows read to choose the examples from."""
TEXT_CHARS = 400
"""Longest text shown for one value (longer ones are cut around what matters)."""
_STATUS = "__curate_status"
_REJECT_COLUMNS = ("reject_stage", "reject_reason", "reject_detail")
_INPUT_DATA = f"{INPUT}/data"
_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$"
)
_INTEGER = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$")
_NAMED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------------------------------------- data


@dataclass
class Example:
    """One row as shown: its ``key``, the ``detail`` of its rejection, ``values`` (column, text),
    and for a rewrite ``before`` (column, text) with the changed pieces in ``changes``."""

    key: str
    values: list[tuple[str, str]]
    detail: str | None = None
    before: list[tuple[str, str]] = field(default_factory=list)
    changes: dict[str, tuple[list[tuple[str, bool]], list[tuple[str, bool]]]] = field(default_factory=dict)
    """Column -> (before, after) as pieces ``(text, changed)``."""


@dataclass
class Finding:
    """A reason, flag or rewrite: its ``name``, the ``rows`` it counts and a few ``examples``."""

    name: str
    rows: int
    examples: list[Example] = field(default_factory=list)


@dataclass
class Histogram:
    """Bin counts of one column over a stage's rows: ``bins`` are ``(low, high, kept, rejected)``;
    ``nulls`` rows had no value; ``thresholds`` are drawn, ``off_axis`` lie outside the data."""

    column: str
    bins: list[tuple[float, float, int, int]]
    nulls: int = 0
    thresholds: list[Threshold] = field(default_factory=list)
    off_axis: list[Threshold] = field(default_factory=list)
    series: tuple[str, str] = ("kept", "rejected")
    stacked: bool = True
    constant: float | None = None
    """The one value of a column whose ``rows`` all hold the same value (then ``bins`` is empty)."""
    rows: int = 0


@dataclass
class Shares:
    """Rows per value of a category column (a language), as ``(value, kept, rejected)``."""

    column: str
    values: list[tuple[str, int, int]]


@dataclass
class Cluster:
    """A kept row and the rows rejected as its duplicates (``similarity`` per member when known)."""

    representative: Example | None
    key: str
    size: int
    members: list[tuple[Example, float | None]]


@dataclass
class Pair:
    """A training row overlapping an evaluation row: the texts of ``field`` and the shared span."""

    train_id: str
    eval_id: str
    field: str
    method: str
    overlap: float
    train: list[tuple[str, bool]]
    eval: list[tuple[str, bool]] | None


@dataclass
class Labels:
    """Given against suggested labels: ``cells`` are ``(given, suggested, rows)``; ``worst`` rows first."""

    given: str
    suggested: str
    cells: list[tuple[str, str, int]]
    worst: list[Example]


@dataclass
class Generation:
    """What a generating stage proposed: rows per verdict, token usage, examples per verdict."""

    verdicts: list[Finding]
    usage: dict[str, Any]


@dataclass
class Stage:
    """One stage of the run, as recorded and as its data shows."""

    index: int
    id: str
    use: str
    dir: str
    kind: str | None
    params: dict[str, Any]
    rows_in: int
    rows_kept: int
    rows_rejected: int
    rows_added: int
    seconds: float
    resumed: bool = False
    warning: str | None = None
    role: str = ""
    """filter, flag, rewrite, generate or convert; empty for runs recorded before stages had roles."""
    reasons: list[Finding] = field(default_factory=list)
    flags: list[Finding] = field(default_factory=list)
    rewrites: list[Finding] = field(default_factory=list)
    rows_flagged: int | None = None
    """Kept rows with any flag, as recorded (None: a record without it; then the flags' sum)."""
    rows_rewritten: int | None = None
    """Kept rows with any rewrite, as recorded (None: a record without it)."""
    histograms: list[Histogram] = field(default_factory=list)
    languages: list[Shares] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    pairs_note: str | None = None
    labels: Labels | None = None
    generation: Generation | None = None
    artifacts: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Run:
    """A run folder as the report shows it."""

    dir: Path
    name: str
    created: str | None
    input_path: str | None
    input_rows: int
    input_kind: str | None
    output_rows: int | None
    output_kind: str | None
    seconds: float | None
    stages: list[Stage]
    lengths: list[Histogram]
    warnings: list[str]
    versions: dict[str, str]
    exports: list[str]
    finished: bool
    masked: bool = False


# ---------------------------------------------------------------------------------------------- files


class RunFiles:
    """The files of one run folder, and the one DuckDB connection that reads them."""

    def __init__(self, run_dir: str | Path, manifest: Mapping[str, Any] | None = None):
        self.dir = Path(run_dir)
        self._manifest = dict(manifest) if manifest is not None else None
        if not self.dir.is_dir():
            raise InputError("no such run folder", where=Where(file=str(self.dir)), hint="give the folder a run wrote")
        self.con = connect_duckdb(read_dirs=[self.dir])

    def json(self, relative: str) -> dict[str, Any] | None:
        """A JSON file of the folder as a dict, or None when it is missing or unreadable."""
        try:
            data = json.loads((self.dir / relative).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def manifest(self) -> dict[str, Any] | None:
        """``manifest.json``, or the manifest given in its place (a run writes its file last)."""
        return self._manifest if self._manifest is not None else self.json(MANIFEST)

    def stage_records(self) -> list[dict[str, Any]]:
        """Each stage's record in run order: from the manifest, else from the stage folders' ``stats.json``
        (a run that stopped before publishing)."""
        manifest = self.manifest()
        if manifest is not None:
            return [{**(self.json(f"{s['dir']}/{RECORD}") or {}), **s} for s in manifest.get("stages", [])]
        records = []
        for folder in sorted(p for p in self.dir.glob("[0-9][0-9]*_*") if p.is_dir()):
            record = self.json(f"{folder.name}/{RECORD}")
            if record and "stage" in record:
                records.append({**record, "id": record["stage"], "dir": folder.name})
        return records

    def parts(self, relative: str) -> list[Path]:
        """The Parquet files of table ``relative`` (``01_x/kept``): ``kept.parquet``, or the parts in
        a folder ``kept/`` (or ``kept.parquet/``), in name order; empty when there is none."""
        base = self.dir / relative
        for candidate in (base.with_name(base.name + ".parquet"), base):
            if candidate.is_file():
                return [candidate]
            if candidate.is_dir():
                found = sorted(candidate.rglob("*.parquet"))
                if found:
                    return found
        return []

    def table(self, relative: str) -> str | None:
        """SQL reading table ``relative`` (see :meth:`parts`), or None when it does not exist."""
        files = self.parts(relative)
        if not files:
            return None
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        return f"read_parquet([{listed}], union_by_name = true)"

    def kind(self, relative: str) -> str | None:
        """The schema kind curate wrote into the table's Parquet metadata."""
        files = self.parts(relative)
        if not files:
            return None
        rows = self.con.execute(
            "SELECT value FROM parquet_kv_metadata(?) WHERE key = 'curate'", [str(files[0])]
        ).fetchall()
        try:
            kind = json.loads(rows[0][0]).get("kind") if rows else None
        except (ValueError, AttributeError):
            return None
        return kind if isinstance(kind, str) else None

    def columns(self, sql: str) -> dict[str, str]:
        """Column name -> DuckDB type of a table expression."""
        return {row[0]: row[1] for row in self.con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()}

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The result of a query as dicts."""
        result = self.con.execute(sql, list(params))
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a query (None without rows)."""
        rows = self.con.execute(sql, list(params)).fetchall()
        return rows[0][0] if rows else None


# ---------------------------------------------------------------------------------------------- rejected rows


def rejected_rows(run_dir: str | Path, *, stage: str | None = None, reason: str | None = None) -> pa.Table:
    """Every rejected row of a run folder in one Arrow table, stages in run order.

    The stages' ``rejected.parquet`` files are joined by column name: each row has the columns of
    the stage that rejected it (its input's columns, the scores computed up to that stage, and
    ``reject_stage`` (the stage id), ``reject_reason``, ``reject_detail``); a column another stage
    has is null. Types are kept (an int column that is a float elsewhere becomes float).

    Args:
        stage: only this stage's rows (its id, or its folder name such as ``03_pii``).
        reason: only rows with this ``reject_reason``.

    Raises:
        InputError: not a run folder, a stage or reason the run does not have (the message lists
            the ones it has), or two stages writing one column with types that cannot be joined.
    """
    files = RunFiles(run_dir)
    records = files.stage_records()
    if not records:
        raise InputError(
            "not a run folder (no stage folders)",
            where=Where(file=str(files.dir)),
            hint="give the output folder of `curate run`",
        )
    if stage is not None:
        chosen = [r for r in records if stage in (str(r.get("id")), str(r.get("dir")))]
        if not chosen:
            raise InputError(
                f"no stage '{stage}' in this run",
                where=Where(file=str(files.dir)),
                hint="stages: " + ", ".join(str(r.get("id")) for r in records),
            )
        records = chosen
    tables = []
    for record in records:
        tables += [pq.read_table(part) for part in files.parts(f"{record['dir']}/rejected")]
    if not tables:
        return pa.table({name: pa.array([], pa.string()) for name in _REJECT_COLUMNS})
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(
            f"the stages' rejected rows cannot be joined ({exc})",
            where=Where(file=str(files.dir)),
            hint="pass stage= to read one stage",
        ) from None
    table = table.replace_schema_metadata(None)
    if reason is None:
        return table
    reasons = sorted({str(r) for record in records for r in record.get("reasons") or {}})
    if reason not in reasons:
        where = f"stage '{stage}'" if stage is not None else "this run"
        raise InputError(
            f"no rows rejected for '{reason}' in {where}",
            where=Where(file=str(files.dir)),
            hint="reasons: " + (", ".join(reasons) or "none (nothing was rejected)"),
        )
    return table.filter(pc.equal(table.column("reject_reason"), reason))


# ---------------------------------------------------------------------------------------------- loading


def load_run(run_dir: str | Path, *, manifest: Mapping[str, Any] | None = None) -> Run:
    """Read a run folder (see the module docstring); ``manifest`` stands in for ``manifest.json``.
    Raises InputError when the folder holds no run."""
    files = RunFiles(run_dir, manifest)
    manifest = files.manifest()
    records = files.stage_records()
    if manifest is None and not records and files.table(_INPUT_DATA) is None:
        raise InputError(
            "not a run folder (no manifest.json, stage folders or input/)",
            where=Where(file=str(files.dir)),
            hint="give the output folder of `curate run`",
        )
    input_record = files.json(f"{INPUT}/{RECORD}") or {}
    input_kind = input_record.get("kind") or files.kind(_INPUT_DATA)
    mask = _masker(records)
    stages: list[Stage] = []
    previous, kind = _INPUT_DATA, input_kind
    for index, record in enumerate(records, start=1):
        stage = _load_stage(files, index, record, previous, kind, mask)
        stages.append(stage)
        previous = f"{record['dir']}/kept"
        kind = files.kind(previous) or kind
    input_rows = int(input_record.get("rows") or (manifest or {}).get("input", {}).get("rows") or 0)
    if not input_rows and stages:
        input_rows = stages[0].rows_in
    output = files.table(Path(OUTPUT).stem)
    lengths = _lengths(files, files.table(_INPUT_DATA), input_kind, output, kind)
    meta = manifest or {}
    return Run(
        dir=files.dir,
        name=str(meta.get("name") or files.dir.name),
        created=meta.get("created"),
        input_path=(meta.get("input") or {}).get("path"),
        input_rows=input_rows,
        input_kind=input_kind,
        output_rows=(meta.get("output") or {}).get("rows"),
        output_kind=(meta.get("output") or {}).get("kind") or (kind if output else None),
        seconds=meta.get("seconds"),
        stages=stages,
        lengths=lengths,
        warnings=list(meta.get("warnings") or [s.warning for s in stages if s.warning]),
        versions=dict(meta.get("versions") or {}),
        exports=list(meta.get("exports") or []),
        finished=manifest is not None,
        masked=mask is not None,
    )


def _load_stage(
    files: RunFiles, index: int, record: dict[str, Any], previous: str, kind: str | None, mask: Masker | None
) -> Stage:
    folder = str(record["dir"])
    params = dict(record.get("params") or {})
    stage = Stage(
        index=index,
        id=str(record.get("id") or record.get("stage") or folder),
        use=str(record.get("use") or ""),
        dir=folder,
        kind=kind,
        params=params,
        rows_in=int(record.get("rows_in", 0)),
        rows_kept=int(record.get("rows_kept", 0)),
        rows_rejected=int(record.get("rows_rejected", 0)),
        rows_added=int(record.get("rows_added", 0)),
        seconds=float(record.get("seconds", 0.0)),
        resumed=bool(record.get("resumed", False)),
        warning=record.get("warning"),
        role=str(record.get("role") or ""),
        rows_flagged=record.get("rows_flagged"),
        rows_rewritten=record.get("rows_rewritten"),
    )
    view = _StageView(files, stage, previous, mask)
    info = stage_info(stage.use)
    stage.reasons = view.reasons(record.get("reasons") or {})
    stage.flags = view.flags(info.flags(params), record.get("flags") or {})
    stage.rewrites = view.rewrites(info.rewrites(params), record.get("rewrites") or {})
    stage.histograms = view.histograms(info.thresholds(params, kind or ""))
    if info.languages:
        stage.languages = view.languages()
    stage.clusters = view.clusters()
    if info.labels is not None:
        stage.labels = view.labels(info.labels)
    stage.artifacts = view.artifacts(record.get("artifacts") or [])
    names = [name for name, _ in stage.artifacts]
    if "contamination" in names:
        stage.pairs, stage.pairs_note = view.pairs()
    if "generation" in names:
        stage.generation = view.generation()
    return stage


class _StageView:
    """Queries on one stage's tables: ``kept``, ``rejected``, both (``rows``, with a status column)
    and the stage's input (the kept rows of the stage before, or the run's input)."""

    def __init__(self, files: RunFiles, stage: Stage, previous: str, mask: Masker | None):
        self.files, self.stage, self.mask = files, stage, mask
        self.kept = files.table(f"{stage.dir}/kept")
        self.rejected = files.table(f"{stage.dir}/rejected")
        self.input = files.table(previous)
        parts = [
            f"SELECT *, '{s}' AS {_STATUS} FROM {t}" for s, t in (("kept", self.kept), ("rejected", self.rejected)) if t
        ]
        self.rows = f"({' UNION ALL BY NAME '.join(parts)})" if parts else None
        self.kept_columns = files.columns(self.kept) if self.kept else {}
        self.rejected_columns = files.columns(self.rejected) if self.rejected else {}
        self.input_columns = files.columns(self.input) if self.input else {}
        kind = stage.kind or ""
        try:
            schema = get_schema(kind)
            self.key, shown = schema.key, [*schema.text_fields, *(f for f in schema.required if f != schema.key)]
        except CurateError:
            self.key, shown = None, []
        self.fields = stage_fields(stage.params, kind)
        self.shown = list(dict.fromkeys([*self.fields, *shown]))

    # -- examples

    def example(self, row: Mapping[str, Any], extra: Sequence[str] = ()) -> Example:
        """A row as shown: the stage's fields, the kind's main fields, ``extra`` columns and columns
        its reject detail names."""
        detail = row.get("reject_detail")
        named = [n for n in _NAMED.findall(detail or "") if n in row and n not in _HIDDEN]
        wanted = [*extra, *named]
        shown = [c for c in self.shown if row.get(c) is not None]  # an empty optional field says nothing
        columns = [c for c in dict.fromkeys([*wanted, *shown]) if c in row and c not in _HIDDEN]
        key = row.get(self.key) if self.key else None
        return Example(
            key=str(key) if key is not None else "",
            values=[(c, self.text(row[c])) for c in columns],
            detail=self.text(detail) if detail is not None else None,
        )

    def text(self, value: Any, limit: int = TEXT_CHARS) -> str:
        shown = _cut(_format(value), limit)
        return self.mask(shown) if self.mask else shown

    def sample(
        self, table: str | None, where: str, params: Sequence[Any] = (), limit: int = EXAMPLES
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` rows matching ``where``, in file order, preferring rows whose first stage field
        differs (so three questions on one passage do not show the passage three times); looks at the
        first :data:`SCAN` matches only."""
        if table is None:
            return []
        rows = self.files.rows(f"SELECT * FROM {table} WHERE {where} LIMIT {SCAN}", params)
        field_ = self.fields[0] if self.fields else None
        picked, seen = [], set()
        for row in rows:
            value = _format(row.get(field_)) if field_ else None
            if value not in seen or field_ is None:
                picked.append(row)
                seen.add(value)
        picked += [row for row in rows if not any(row is p for p in picked)]
        return picked[:limit]

    # -- reasons, flags, rewrites

    def reasons(self, counts: Mapping[str, int]) -> list[Finding]:
        found = []
        for reason, rows in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            sample = self.sample(self.rejected, "reject_reason = ?", [reason])
            found.append(Finding(reason, int(rows), [self.example(r) for r in sample]))
        return found

    def flags(self, flags: Flags | None, recorded: Mapping[str, int]) -> list[Finding]:
        usable = flags is not None and self.kept is not None and flags.column in self.kept_columns
        counts = dict(recorded)
        if not counts and usable:
            assert flags is not None
            counts = {
                str(name): int(rows)
                for name, rows in self.files.con.execute(
                    f"SELECT flag, count(*) FROM (SELECT unnest({flags.names_sql()}) AS flag FROM {self.kept}) "
                    "GROUP BY flag"
                ).fetchall()
            }
        found = []
        for name, rows in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            examples = []
            if usable and rows:
                assert flags is not None
                evidence = [c for c in (flags.column, flags.evidence.get(name)) if c]
                sample = self.sample(self.kept, f"list_contains({flags.names_sql()}, ?)", [name])
                examples = [self.example(r, evidence) for r in sample]
            found.append(Finding(name, int(rows), examples))
        return found

    def rewrites(self, rewrites: Rewrites | None, recorded: Mapping[str, int]) -> list[Finding]:
        if rewrites is None and not recorded:
            return []
        rewrites = rewrites or Rewrites()
        compared = [
            c
            for c in dict.fromkeys([*self.fields, *rewrites.columns])
            if c in self.kept_columns and c in self.input_columns
        ]
        joinable = bool(
            self.key and self.input and self.kept and self.key in self.kept_columns and self.key in self.input_columns
        )
        if rewrites.where is not None and self.kept is not None:
            where = rewrites.where if _names_present(rewrites.where, self.kept_columns) else "false"
            source = self.kept
        elif joinable and compared:
            where = " OR ".join(f"k.{_q(c)} IS DISTINCT FROM i.{_q(c)}" for c in compared)
            key = _q(self.key or "")
            source = f"(SELECT k.* FROM {self.kept} k JOIN {self.input} i ON k.{key} = i.{key} WHERE {where})"
            where = "true"
        else:
            return [Finding(name, int(rows)) for name, rows in sorted(recorded.items(), key=lambda kv: (-kv[1], kv[0]))]
        counts = dict(recorded) or {"rewritten": int(self.files.value(f"SELECT count(*) FROM {source} WHERE {where}"))}
        found = [
            Finding(name, int(rows)) for name, rows in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if rows
        ]
        for finding in found:
            sample = self._rewritten_sample(finding.name, rewrites, compared, source, where, joinable)
            finding.examples = [self._before_after(row, compared, rewrites.what) for row in sample]
        return found

    def _rewritten_sample(
        self, name: str, rewrites: Rewrites, compared: Sequence[str], source: str, where: str, joinable: bool
    ) -> list[dict[str, Any]]:
        """Example rows of one recorded rewrite: rows whose column ``name`` changed (a per-column
        rewrite), else rows whose ``what`` column names it, else any rewritten row."""
        if name in compared and joinable and self.kept and self.input:
            key, column = _q(self.key or ""), _q(name)
            changed = (
                f"(SELECT k.* FROM {self.kept} k JOIN {self.input} i ON k.{key} = i.{key} "
                f"WHERE k.{column} IS DISTINCT FROM i.{column})"
            )
            return self.sample(changed, "true")
        if rewrites.what and rewrites.what in self.kept_columns:
            named = f"({where}) AND contains(CAST({_q(rewrites.what)} AS VARCHAR), ?)"
            return self.sample(source, named, [name]) or self.sample(source, where)
        return self.sample(source, where)

    def _before_after(self, row: dict[str, Any], compared: Sequence[str], what: str | None) -> Example:
        example = self.example(row, [what] if what else [])
        if not (self.key and self.input and self.key in self.input_columns):
            return example
        before = self.files.rows(f"SELECT * FROM {self.input} WHERE {_q(self.key)} = ? LIMIT 1", [row.get(self.key)])
        if not before:
            return example
        for column in compared:
            old, new = _format(before[0].get(column)), _format(row.get(column))
            if old != new:
                same = unicodedata.normalize("NFC", old) == unicodedata.normalize("NFC", new)
                pieces = ([(_cut(old, TEXT_CHARS), True)], [(_cut(new, TEXT_CHARS), True)]) if same else _diff(old, new)
                if self.mask:  # what a PII stage removed is masked whole; elsewhere the PII found
                    hide = _excerpt if stage_info(self.stage.use).sensitive else self.mask
                    pieces = (
                        [(hide(t) if changed else self.mask(t), changed) for t, changed in pieces[0]],
                        [(self.mask(t), changed) for t, changed in pieces[1]],
                    )
                example.changes[column] = pieces
        example.values = [(c, v) for c, v in example.values if c not in example.changes]
        return example

    # -- distributions

    def histograms(self, thresholds: Sequence[Threshold]) -> list[Histogram]:
        if self.rows is None:
            return []
        columns = {**self.rejected_columns, **self.kept_columns}
        by_column: dict[str, list[Threshold]] = {}
        for threshold in thresholds:
            if threshold.column in columns:
                by_column.setdefault(threshold.column, []).append(threshold)
        added = [c for c, t in self.kept_columns.items() if c not in self.input_columns and _NUMERIC.match(t)]
        found = []
        for column in dict.fromkeys([*by_column, *added]):
            if not _NUMERIC.match(columns[column]) and columns[column] != "BOOLEAN":
                continue
            found.append(
                _histogram(
                    self.files,
                    self.rows,
                    column,
                    by_column.get(column, []),
                    integer=bool(_INTEGER.match(columns[column])),
                )
            )
        return [h for h in found if h.bins or h.nulls or h.constant is not None]

    def languages(self) -> list[Shares]:
        if self.rows is None:
            return []
        columns = {**self.rejected_columns, **self.kept_columns}
        found = []
        for name in [c for c in columns if c.startswith("lang_") and columns[c] == "VARCHAR"]:
            rows = self.files.con.execute(
                f"SELECT coalesce({_q(name)}, '(none)') AS v, count(*) FILTER ({_STATUS} = 'kept'), "
                f"count(*) FILTER ({_STATUS} = 'rejected') FROM {self.rows} GROUP BY v ORDER BY count(*) DESC, v"
            ).fetchall()
            values = [(str(v), int(k), int(r)) for v, k, r in rows]
            if len(values) > 12:
                rest = values[11:]
                values = [*values[:11], ("other", sum(k for _, k, _ in rest), sum(r for _, _, r in rest))]
            found.append(Shares(name, values))
        return found

    # -- artifacts and sections

    def clusters(self) -> list[Cluster]:
        """The largest groups of rows rejected as duplicates of one kept row (``duplicate_of``)."""
        if self.rejected is None or "duplicate_of" not in self.rejected_columns:
            return []
        groups = self.files.con.execute(
            f"SELECT duplicate_of, count(*) AS n FROM {self.rejected} WHERE duplicate_of IS NOT NULL "
            f"GROUP BY duplicate_of ORDER BY n DESC, duplicate_of LIMIT {TOP}"
        ).fetchall()
        similarity = "similarity" in self.rejected_columns
        found = []
        for key, size in groups:
            representative = None
            if self.key and self.rows is not None:
                rows = self.files.rows(f"SELECT * FROM {self.rows} WHERE {_q(self.key)} = ? LIMIT 1", [key])
                representative = self.example(rows[0]) if rows else None
            members = self.sample(self.rejected, "duplicate_of = ?", [key], limit=TOP)
            found.append(
                Cluster(
                    representative,
                    str(key),
                    int(size) + 1,
                    [
                        (
                            self.example(m),
                            float(m["similarity"]) if similarity and m.get("similarity") is not None else None,
                        )
                        for m in members
                    ],
                )
            )
        return found

    def labels(self, pair: LabelPair) -> Labels | None:
        columns = {**self.rejected_columns, **self.kept_columns}
        if self.rows is None or not all(c in columns for c in (pair.given, pair.suggested, pair.quality)):
            return None
        given, suggested = _q(pair.given), _q(pair.suggested)
        cells = self.files.con.execute(
            f"SELECT CAST({given} AS VARCHAR), CAST({suggested} AS VARCHAR), count(*) FROM {self.rows} "
            f"WHERE {given} IS NOT NULL AND {suggested} IS NOT NULL GROUP BY ALL ORDER BY 3 DESC LIMIT 400"
        ).fetchall()
        worst = self.files.rows(
            f"SELECT * FROM {self.rows} WHERE {pair.flagged} ORDER BY {_q(pair.quality)} ASC NULLS LAST LIMIT {TOP}"
        )
        extra = [pair.given, pair.suggested, pair.quality]
        return Labels(
            pair.given,
            pair.suggested,
            [(str(g), str(s), int(n)) for g, s, n in cells],
            [self.example(r, extra) for r in worst],
        )

    def artifacts(self, names: Sequence[str]) -> list[tuple[str, int]]:
        found = []
        for name in names:
            table = self.files.table(f"{self.stage.dir}/{Path(name).stem}")
            if table is not None:
                found.append((Path(name).stem, int(self.files.value(f"SELECT count(*) FROM {table}"))))
        return found

    def pairs(self) -> tuple[list[Pair], str | None]:
        """The closest train/eval pairs of a contamination report, with the longest shared span."""
        report = self.files.table(f"{self.stage.dir}/contamination")
        if report is None or self.rows is None or not self.key:
            return [], None
        found = self.files.rows(f"SELECT * FROM {report} ORDER BY overlap DESC, train_id, eval_id, field LIMIT {TOP}")
        evals, note = _eval_texts(self.stage.params, {str(r["eval_id"]) for r in found})
        pairs = []
        for r in found:
            column = str(r["field"])
            rows = self.files.rows(f"SELECT * FROM {self.rows} WHERE {_q(self.key)} = ? LIMIT 1", [r["train_id"]])
            train_text = _format(rows[0].get(column)) if rows else ""
            eval_text = evals.get((str(r["eval_id"]), column))
            train, other = _shared(train_text, eval_text)
            if self.mask:
                train = [(self.mask(t), h) for t, h in train]
                other = [(self.mask(t), h) for t, h in other] if other else other
            pairs.append(
                Pair(str(r["train_id"]), str(r["eval_id"]), column, str(r["method"]), float(r["overlap"]), train, other)
            )
        return pairs, note

    def generation(self) -> Generation | None:
        table = self.files.table(f"{self.stage.dir}/generation")
        if table is None:
            return None
        counts = self.files.con.execute(
            f"SELECT status, count(*) FROM {table} GROUP BY status ORDER BY 2 DESC, 1"
        ).fetchall()
        verdicts = []
        for status, rows in counts:
            sample = self.files.rows(f"SELECT * FROM {table} WHERE status = ? LIMIT {EXAMPLES}", [status])
            examples = [
                Example(
                    key=str(s.get("id") or s.get("passage_id") or ""),
                    values=[(c, self.text(s[c])) for c in ("question", "answer", "passage_id") if s.get(c) is not None],
                    detail=self.text(s["detail"]) if s.get("detail") else None,
                )
                for s in sample
            ]
            verdicts.append(Finding(str(status), int(rows), examples))
        usage_table = self.files.table(f"{self.stage.dir}/usage")
        usage = self.files.rows(f"SELECT * FROM {usage_table} LIMIT 1")[0] if usage_table else {}
        return Generation(verdicts, {k: v for k, v in usage.items() if v is not None})


# ---------------------------------------------------------------------------------------------- helpers

_HIDDEN = {"reject_stage", "reject_reason", "reject_detail", _STATUS}

Masker = Callable[[str], str]


def _masker(records: Sequence[Mapping[str, Any]]) -> Masker | None:
    """When the run has a ``pii`` stage, a function masking the PII it looks for (all but the last two
    characters of each value), applied to every text the report shows; else None."""
    for record in records:
        if stage_info(str(record.get("use"))).sensitive:
            from curate.text.pii import DEFAULT_KINDS, excerpt, find_pii

            params = record.get("params") or {}
            kinds = tuple(params.get("kinds") or DEFAULT_KINDS)
            checksum = bool(params.get("rrn_checksum", True))

            def mask(text: str, kinds: tuple[str, ...] = kinds, checksum: bool = checksum) -> str:
                spans = find_pii(text, kinds, rrn_checksum=checksum)
                for span in reversed(spans):
                    text = text[: span.start] + excerpt(text[span.start : span.end]) + text[span.end :]
                return text

            return mask
    return None


def _excerpt(text: str) -> str:
    from curate.text.pii import excerpt

    return excerpt(text)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _names_present(sql: str, columns: Mapping[str, str]) -> bool:
    """True when every column-like name of a catalog predicate is a column (or an SQL word)."""
    words = {"is", "not", "null", "and", "or", "true", "false", "list_contains"}
    return all(n.lower() in words or n in columns for n in _NAMED.findall(re.sub(r"'[^']*'", "", sql)))


def _format(value: Any) -> str:
    """A cell as text: answers as ``'text' @start``, lists joined, structs as ``k=v``, floats short."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        if set(value) >= {"text", "answer_start"}:
            return f"{_format(value['text'])!r} @{value['answer_start']}"
        return ", ".join(f"{k}={_format(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + "; ".join(_format(v) for v in value) + "]"
    return str(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _diff(before: str, after: str, context: int = 60) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """``before`` and ``after`` around their changes, as pieces ``(text, changed)``. Unchanged runs
    shorter than 3 characters between changes count as changed (no stray letters inside a change);
    longer ones are cut to ``context`` characters at each end."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    spans: list[list[int]] = []  # [a0, a1, b0, b1] of each change, tiny equal runs merged in
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if spans and a0 - spans[-1][1] < 3:
            spans[-1][1], spans[-1][3] = a1, b1
        else:
            spans.append([a0, a1, b0, b1])
    old: list[tuple[str, bool]] = []
    new: list[tuple[str, bool]] = []
    a = 0
    for a0, a1, b0, b1 in [*spans, [len(before), len(before), len(after), len(after)]]:
        same = before[a:a0]
        if len(same) > 2 * context:
            first, last = a == 0, a0 == len(before)
            if first:
                same = "…" + same[-context:]
            elif last:
                same = same[:context] + "…"
            else:
                same = same[:context] + " … " + same[-context:]
        if same:
            old.append((same, False))
            new.append((same, False))
        if a1 > a0:
            old.append((before[a0:a1], True))
        if b1 > b0:
            new.append((after[b0:b1], True))
        a = a1
    return old, new


def _shared(train: str, other: str | None) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]] | None]:
    """Both texts as pieces with their longest common span marked (the train text alone when the
    evaluation text is unknown)."""
    train = _cut(train, 4000)
    if not other:
        return [(_cut(train, TEXT_CHARS), False)], None
    other = _cut(other, 4000)
    match = difflib.SequenceMatcher(None, train, other, autojunk=False).find_longest_match(0, len(train), 0, len(other))

    def pieces(text: str, start: int) -> list[tuple[str, bool]]:
        head, span, tail = text[:start], text[start : start + match.size], text[start + match.size :]
        return [
            (("…" + head[-120:]) if len(head) > 120 else head, False),
            (span, True),
            ((tail[:120] + "…") if len(tail) > 120 else tail, False),
        ]

    return pieces(train, match.a), pieces(other, match.b)


def _eval_texts(params: Mapping[str, Any], ids: set[str]) -> tuple[dict[tuple[str, str], str], str | None]:
    """``(eval id, column) -> text`` for the evaluation rows named, read from the stage's ``eval_path``;
    with a note when the evaluation set cannot be read any more."""
    from curate import io

    path = params.get("eval_path")
    if not path or not ids:
        return {}, None
    try:
        dataset = io.read(
            path,
            format=params.get("eval_format"),
            kind=params.get("eval_kind"),
            rename=params.get("eval_columns") or None,
        )
    except (CurateError, OSError) as exc:
        return {}, f"evaluation set not readable now ({path}: {exc}); train side only"
    key = get_schema(dataset.kind).key
    if not key or key not in dataset.schema.names:
        return {}, None
    table = dataset.to_arrow()
    wanted = pc.is_in(pc.cast(table.column(key), pa.string()), value_set=pa.array(sorted(ids), pa.string()))
    found: dict[tuple[str, str], str] = {}
    for row in table.filter(wanted).to_pylist():
        if str(row.get(key)) in ids:
            for column, value in row.items():
                if isinstance(value, str | list):
                    found[(str(row[key]), column)] = _format(value)
    return found, None


def _histogram(files: RunFiles, rows: str, column: str, thresholds: Sequence[Threshold], *, integer: bool) -> Histogram:
    """Bin counts of ``column`` by status; the axis covers the data, and thresholds near it."""
    value = f"CAST({_q(column)} AS DOUBLE)"
    low, high, count, nulls = files.con.execute(
        f"SELECT min({value}) FILTER (isfinite({value})), max({value}) FILTER (isfinite({value})), "
        f"count({value}) FILTER (isfinite({value})), count(*) - count({value}) FILTER (isfinite({value})) FROM {rows}"
    ).fetchall()[0]
    if not count:
        return Histogram(column, [], int(nulls or 0), off_axis=list(thresholds))
    reach = max(high - low, abs(low), abs(high), 1.0)  # thresholds further away than this are listed, not drawn
    shown = [t for t in thresholds if low - reach <= t.value <= high + reach]
    off = [t for t in thresholds if t not in shown]
    low = min([low, *(t.value for t in shown)])
    high = max([high, *(t.value for t in shown)])
    if high == low:  # one value, no threshold beside it: said in words, not drawn as one wide bar
        return Histogram(column, [], int(nulls or 0), off_axis=off, constant=float(low), rows=int(count))
    if integer:
        width = float(max(1, math.ceil((high - low + 1) / BINS)))
        bins = max(1, math.ceil((high - low + 1) / width))
    else:
        width = (high - low) / BINS if high > low else 1.0
        bins = BINS if high > low else 1
    counted = files.con.execute(
        f"SELECT least(CAST(floor(({value} - ?) / ?) AS BIGINT), ?) AS b, {_STATUS}, count(*) FROM {rows} "
        f"WHERE isfinite({value}) GROUP BY ALL",
        [low, width, bins - 1],
    ).fetchall()
    return Histogram(column, _binned(counted, low, width, bins), int(nulls or 0), shown, off)


def _binned(
    counted: Sequence[tuple[Any, ...]], low: float, width: float, bins: int
) -> list[tuple[float, float, int, int]]:
    """``(low, high, first, second)`` for each of ``bins`` bins from ``(bin, status, rows)`` counts
    (status ``kept`` is the first series); empty bins count 0."""
    cells: dict[int, list[int]] = {}
    for b, status, n in counted:
        cells.setdefault(int(b), [0, 0])[0 if status == "kept" else 1] += int(n)
    return [
        (low + b * width, low + (b + 1) * width, cells.get(b, [0, 0])[0], cells.get(b, [0, 0])[1]) for b in range(bins)
    ]


def _lengths(
    files: RunFiles, before: str | None, before_kind: str | None, after: str | None, after_kind: str | None
) -> list[Histogram]:
    """Character lengths of each text field in the run's input and output, on shared bins; the last
    bin holds everything above the 99.5th percentile."""
    if before is None or after is None:
        return []
    found = []
    for kind in dict.fromkeys([before_kind, after_kind]):
        try:
            fields = get_schema(kind or "").text_fields
        except CurateError:
            continue
        b_cols, a_cols = files.columns(before), files.columns(after)
        for name in fields:
            if b_cols.get(name) != "VARCHAR" or a_cols.get(name) != "VARCHAR":
                continue
            both = (
                f"(SELECT length({_q(name)}) AS n, 'kept' AS {_STATUS} FROM {before} UNION ALL "
                f"SELECT length({_q(name)}), 'rejected' FROM {after})"
            )
            top = files.value(f"SELECT quantile_cont(n, 0.995) FROM {both}")
            if top is None:
                continue
            width = float(max(1, math.ceil((float(top) + 1) / BINS)))
            counted = files.con.execute(
                f"SELECT least(CAST(floor(n / ?) AS BIGINT), ?) AS b, {_STATUS}, count(*) FROM {both} "
                "WHERE n IS NOT NULL GROUP BY ALL",
                [width, BINS - 1],
            ).fetchall()
            bins = _binned(counted, 0.0, width, BINS)
            found.append(Histogram(name, bins, series=("input", "output"), stacked=False))
    return found
