"""One function per ``curate`` command, taking plain Python values and returning a typed result.

The command line parses its options, calls one of these and prints what it returns; a script does
the same without the shell::

    from curate import api
    from curate.stages.minhash_dedup import MinHashDedupParams
    done = api.dedup("sample_data/korquad_sample.json", "clean.parquet", MinHashDedupParams(threshold=0.8))
    done.stats.rows_rejected, done.rejected   # 13, Path("clean.rejected.parquet")

Settings are the engines' and stages' own models (``MinHashDedupParams``, ``ContaminationSettings``,
``MineHardNegativesParams``, ``ChunkPassagesParams``, ``LabelIssuesParams``, ``BiasReportParams``,
``TrainSettings``); ``None`` means their defaults. Input options follow :func:`curate.io.read`
(``format``, ``kind``, ``rename``, ``quote``). Every function steps :mod:`curate.progress` (``reading
<file>``, ``writing <file>`` and the engines' phases): run it inside :func:`curate.progress.listening`
to see them. Errors a user can cause raise :class:`curate.errors.CurateError`. A result lists each
file written, the counts, the dataset card written beside the output (``card``, None when none was)
and ``warnings`` (one line each).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from curate import io, objects, progress
from curate.dataset import Dataset
from curate.dedup.contamination import Contamination, ContaminationSettings
from curate.errors import ConfigError, SchemaError, Where
from curate.io.training import TrainingCounts
from curate.quality.classifier import TrainReport, TrainSettings
from curate.stages.base import StageStats
from curate.stages.bias_report import BiasReportParams
from curate.stages.chunk_passages import ChunkPassages, ChunkPassagesParams
from curate.stages.label_issues import LabelIssues, LabelIssuesParams
from curate.stages.mine_hard_negatives import MineHardNegatives, MineHardNegativesParams
from curate.stages.minhash_dedup import MinHashDedup, MinHashDedupParams, dedup_retrieval

if TYPE_CHECKING:
    from curate.annotate.server import Pushed
    from curate.executors import ExecutorSettings
    from curate.pipeline import Reporter, RunResult
    from curate.stages.base import Stage
    from curate.stages.bias_report import Diagnostics

Quote = Any
"""A CSV/TSV quote character, None for none, or ``"default"`` (``"`` for CSV, none for TSV)."""

Step = tuple[str, str, Mapping[str, Any], str]
"""The step that made a card's rows: (stage id, stage name, stats dict, role)."""


def _read(src: Path, **options: Any) -> Dataset:
    """``io.read`` as phase ``reading <file name>``."""
    phase = f"reading {src.name}"
    progress.step(phase, 0, None)
    dataset = io.read(src, **options)
    progress.step(phase, dataset.num_rows, dataset.num_rows)
    return dataset


def _write(dataset: Dataset, dst: Path, **options: Any) -> None:
    """``io.write`` as phase ``writing <file name>``."""
    phase = f"writing {dst.name}"
    progress.step(phase, 0, dataset.num_rows)
    io.write(dataset, dst, **options)
    progress.step(phase, dataset.num_rows, dataset.num_rows)


@dataclass(frozen=True)
class Written:
    """What every command that writes a dataset also returns: the dataset card written beside it
    (``card``, None when none was) and ``warnings``, one line each."""

    card: Path | None = field(default=None, kw_only=True)
    warnings: tuple[str, ...] = field(default=(), kw_only=True)


def _card(dst: Path, data: Any, fmt: str | None, command: str, src: Path, stage: Step | None = None) -> dict[str, Any]:
    """Write the dataset card beside ``dst`` (:mod:`curate.io.card`): ``data`` (a Dataset, or the
    parts of a retrieval folder) written as ``fmt`` by ``curate <command>`` from ``src``, made by
    ``stage`` if a stage made it. Returns the fields of :class:`Written`."""
    from curate.io.card import export_entry, step, write_card

    if isinstance(data, Dataset):
        fmt = io.check_write(dst, fmt, data.kind)
    steps = [step(*stage)] if stage else []
    entry = export_entry(data, dst, fmt or "parquet", made_by=f"`curate {command}`", source=str(src), steps=steps)
    card, warning = write_card(dst, entry)
    return {"card": card, "warnings": (warning,) if warning else ()}


def _stage_step(stage: Stage, stats: StageStats) -> Step:
    return stage.id, stage.name, stats.as_dict(), stage.role


def _is_bundle(src: Path, fmt: str | None, kind: str | None = None) -> bool:
    """Whether ``src`` (read as ``fmt``, detected when None) is a retrieval folder and no ``kind``
    asks for one part of it."""
    return kind is None and io.is_bundle(src, fmt or io.detect_format(src))


def _path(path: str | Path | None) -> Path | None:
    return Path(path) if path is not None else None


def _row_counts(parts: Mapping[str, Dataset]) -> dict[str, int]:
    return {name: part.num_rows for name, part in parts.items()}


# ----------------------------------------------------------------------------- runs


def run(
    pipeline: str | Path,
    *,
    input: str | Path | None = None,
    output: str | Path | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
    executor: ExecutorSettings | Mapping[str, Any] | str | None = None,
) -> RunResult:
    """``curate run``: :func:`curate.pipeline.run_pipeline` (resumes finished stages unless ``force``;
    ``executor`` replaces or changes the pipeline's, see there)."""
    from curate.pipeline import run_pipeline

    return run_pipeline(pipeline, input=input, output=output, force=force, reporter=reporter, executor=executor)


@dataclass(frozen=True)
class Rejected:
    """``curate rejected``: every matching rejected row (``table``), the count per (stage, reason)
    in the order they come, and the file they were written to (``out``), if any."""

    table: pa.Table
    counts: tuple[tuple[str, str, int], ...]
    out: Path | None


def rejected(
    run_dir: str | Path, *, stage: str | None = None, reason: str | None = None, out: str | Path | None = None
) -> Rejected:
    """Every rejected row of a run (:func:`curate.report.load.rejected_rows`), written to ``out``
    (.parquet/.jsonl/.csv/.tsv) when given."""
    from curate.report.load import rejected_rows

    if out is not None:
        io.report_format(out)  # an unknown suffix fails before anything is read
    table = rejected_rows(run_dir, stage=stage, reason=reason)
    pairs = zip(table.column("reject_stage").to_pylist(), table.column("reject_reason").to_pylist(), strict=True)
    counts = tuple((s, r, n) for (s, r), n in Counter(pairs).items())
    if out is not None:
        io.write_table(table, out)
    return Rejected(table=table, counts=counts, out=_path(out))


@dataclass(frozen=True)
class Report:
    """``curate report``: the page written and its size in bytes."""

    path: Path
    bytes: int


def report(run_dir: str | Path, out: str | Path | None = None) -> Report:
    """Rebuild a run's report.html (default ``RUN_DIR/report.html``)."""
    from curate.report.html import write_html_report

    path = write_html_report(Path(run_dir), _path(out))
    return Report(path=path, bytes=path.stat().st_size)


# ----------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Converted(Written):
    """``curate convert``: ``dst`` with ``rows`` of ``kind``, or the row count per part of a
    retrieval folder (``parts``; ``kind`` None); rows that could not be read went to ``quarantine``."""

    dst: Path
    kind: str | None
    rows: int
    parts: Mapping[str, int]
    quarantined: int
    quarantine: Path | None


def convert(
    src: str | Path,
    dst: str | Path,
    *,
    format: str | None = None,
    to: str | None = None,
    kind: str | None = None,
    rename: Mapping[str, str] | None = None,
    split: str | None = None,
    skip_bad_rows: bool = False,
    quarantine: str | Path | None = None,
    quote: Quote = "default",
) -> Converted:
    """Convert between formats; a retrieval folder (no ``kind``) is converted whole. With
    ``skip_bad_rows``, unreadable rows go to ``quarantine`` (default ``DST.quarantine.jsonl``).
    Both are local paths (a dataset card is written beside ``dst``)."""
    for name, path in (("SRC", src), ("DST", dst)):
        if objects.is_remote(path):
            raise ConfigError(
                "curate convert reads and writes local files",
                where=Where(field=name),
                value=str(path),
                hint="in Python, curate.write(curate.read(SRC), 's3://BUCKET/KEY') reads and writes s3:// URLs",
            )
    src, dst = Path(src), Path(dst)
    if _is_bundle(src, format, kind):
        parts = io.read_bundle(src, format=format or io.detect_format(src))
        io.write_bundle(parts, dst, format=to or "parquet")
        card = _card(dst, parts, to or "parquet", "convert", src)
        counts = _row_counts(parts)
        return Converted(dst, None, sum(counts.values()), counts, 0, None, **card)
    qfile = Path(quarantine) if quarantine else dst.with_name(dst.name + ".quarantine.jsonl")
    dataset = _read(
        src,
        format=format,
        kind=kind,
        rename=dict(rename or {}),
        split=split,
        on_error="skip" if skip_bad_rows else "fail",
        quarantine=qfile if skip_bad_rows else None,
        quote=quote,
    )
    try:
        _write(dataset, dst, format=to, quote=quote)
    except BaseException:
        if skip_bad_rows:
            qfile.unlink(missing_ok=True)  # written by the read above: nothing is left behind
        raise
    card = _card(dst, dataset, to, "convert", src)
    bad = int(dataset.metadata.get("quarantined_rows", 0))
    return Converted(dst, dataset.kind, dataset.num_rows, {}, bad, qfile if skip_bad_rows else None, **card)


@dataclass(frozen=True)
class Validated(Written):
    """``curate validate``: the problems found (``problems``: one row each), the rows checked and
    the kind (a retrieval folder: ``parts`` gives rows per part, ``problems`` has ``table, row, id,
    code, detail``; a dataset: ``row, id, field, problem, detail``), the problem report written
    (``report``), and with ``repair`` the repaired rows (``repaired``) and those that could not be
    (``unrepaired``) with their counts."""

    src: Path
    kind: str | None
    rows: int
    parts: Mapping[str, int]
    problems: pa.Table
    report: Path | None
    repaired: Path | None = None
    repaired_rows: int = 0
    unrepaired: Path | None = None
    unrepaired_rows: int = 0

    @property
    def clean(self) -> bool:
        return self.problems.num_rows == 0

    @property
    def rows_with_problems(self) -> int:
        return len(set(self.problems.column("row").to_pylist()))


def validate(
    src: str | Path,
    *,
    kind: str | None = None,
    format: str | None = None,
    rename: Mapping[str, str] | None = None,
    quote: Quote = "default",
    report: str | Path | None = None,
    repair: str | Path | None = None,
) -> Validated:
    """Check schema conformance and (MRC) every answer span, or a retrieval folder's corpus,
    queries and qrels against each other; write one row per problem to ``report``. ``repair``
    (MRC): write the repaired rows there and the rows that cannot be repaired to
    ``<repair stem>.rejected.jsonl``."""
    from curate.validate import find_problems
    from curate.validate import repair as repair_spans

    src = Path(src)
    report = _path(report)
    if _is_bundle(src, format, kind):
        if repair is not None:
            raise ConfigError("--repair works on MRC data", value=str(src), hint="pass an MRC file")
        return _validate_retrieval(src, format or io.detect_format(src), report)
    dataset = _read(src, format=format, kind=kind, rename=dict(rename or {}), quote=quote)
    found = find_problems(dataset)
    if report is not None:
        io.write_table(found.problems, report)
    done = Validated(src, dataset.kind, found.rows, {}, found.problems, report)
    if repair is None:
        return done
    if dataset.kind != "mrc":
        raise ConfigError("--repair works on MRC data", value=dataset.kind, hint="repair moves answer spans")
    repair = Path(repair)
    kept, dropped = repair_spans(dataset)
    io.write(kept, repair)
    dropped_path = repair.with_name(repair.name.split(".")[0] + ".rejected.jsonl")
    io.write(dropped, dropped_path, format="jsonl")
    reasons = Counter(dropped.to_arrow().column("reject_reason").to_pylist())
    counts = {"rows_in": dataset.num_rows, "rows_kept": kept.num_rows, "rows_rejected": dropped.num_rows}
    stats = {**counts, "reasons": reasons}
    card = _card(repair, kept, None, "validate --repair", src, ("repair", "validate_spans", stats, "filter"))
    return Validated(
        src,
        dataset.kind,
        found.rows,
        {},
        found.problems,
        report,
        repaired=repair,
        repaired_rows=kept.num_rows,
        unrepaired=dropped_path,
        unrepaired_rows=dropped.num_rows,
        **card,
    )


def _validate_retrieval(src: Path, fmt: str, report: Path | None) -> Validated:
    """:func:`validate` on a retrieval folder: every problem of corpus, queries and qrels."""
    from curate.retrieval.checks import find_retrieval_problems

    parts = io.read_bundle(src, format=fmt)
    missing = [name for name in ("corpus", "queries", "qrels") if name not in parts]
    if missing:
        raise ConfigError("the folder has no " + " or ".join(missing), where=Where(file=str(src)), hint="pass --kind")
    corpus, queries, qrels = (parts[name].to_arrow() for name in ("corpus", "queries", "qrels"))
    problems = find_retrieval_problems(corpus, queries, qrels)
    if report is not None:
        io.write_table(problems, report)
    counts = _row_counts(parts)
    return Validated(src, None, sum(counts.values()), counts, problems, report)


# ----------------------------------------------------------------------------- dedup, contamination


@dataclass(frozen=True)
class Deduplicated(Written):
    """``curate dedup``: the stage's ``stats``, where the kept rows (``kept``), removed rows
    (``rejected``) and the ``clusters`` / ``conflicts`` tables went; on a retrieval folder, how
    many qrels were re-pointed or merged (None on a dataset) and how many merges joined different
    scores."""

    stats: StageStats
    kept: Path
    rejected: Path
    clusters: Path | None
    conflicts: Path | None
    qrels_repointed: int | None
    qrels_merged: int | None
    qrels_score_conflicts: int | None


def dedup(
    src: str | Path,
    dst: str | Path,
    settings: MinHashDedupParams | None = None,
    *,
    rejected: str | Path | None = None,
    clusters: str | Path | None = None,
    conflicts: str | Path | None = None,
    kind: str | None = None,
    format: str | None = None,
    rename: Mapping[str, str] | None = None,
    quote: Quote = "default",
) -> Deduplicated:
    """Remove near-duplicates with the ``minhash_dedup`` stage: from a dataset, or from a retrieval
    folder's corpus with its qrels re-pointed at the kept passages. Removed rows go to ``rejected``
    (default beside ``dst``: ``<stem>.rejected.parquet``)."""
    src, dst = Path(src), Path(dst)
    stage = MinHashDedup(settings or MinHashDedupParams())
    fmt = format or io.detect_format(src)
    rejected_path = Path(rejected) if rejected else dst.with_name(dst.name.split(".")[0] + ".rejected.parquet")
    written = {"clusters": clusters, "conflicts": conflicts}
    repointed = merged = differ = None
    if kind is None and io.is_bundle(src, fmt):
        found = dedup_retrieval(io.read_bundle(src, format=fmt), stage)
        card_fmt = "beir" if fmt == "beir" else "parquet"
        io.write_bundle(found.parts, dst, format=card_fmt)
        card_data: Any = found.parts
        stats, artifacts, removed = found.stats, found.artifacts, found.rejected
        repointed, merged, differ = found.qrels_repointed, found.qrels_merged, found.qrels_score_conflicts
    else:
        dataset = _read(src, format=format, kind=kind, rename=dict(rename or {}), quote=quote)
        result = stage(dataset)
        _write(result.kept, dst)
        card_data, card_fmt = result.kept, None
        stats, artifacts, removed = result.stats, result.artifacts, result.rejected
    io.write(removed, rejected_path, format="parquet")
    for name, path in written.items():
        if path is not None:
            io.write_table(artifacts[name], path)
    card = _card(dst, card_data, card_fmt, "dedup", src, _stage_step(stage, stats))
    return Deduplicated(
        stats=stats,
        kept=dst,
        rejected=rejected_path,
        clusters=_path(clusters),
        conflicts=_path(conflicts),
        qrels_repointed=repointed,
        qrels_merged=merged,
        qrels_score_conflicts=differ,
        **card,
    )


@dataclass(frozen=True)
class Contaminated(Written):
    """``curate contamination``: what was found (``found``: the report table, per-field counts,
    one flag per training row), how many training rows overlap (``contaminated``), and the files
    written: the report (``report``, ``report_rows``) and the training rows that overlap nothing
    (``clean``, ``clean_rows``)."""

    found: Contamination
    contaminated: int
    report: Path | None
    report_rows: int
    clean: Path | None
    clean_rows: int


def contamination(
    train: str | Path,
    evaluation: str | Path,
    settings: ContaminationSettings | None = None,
    *,
    fields: list[str] | None = None,
    report: str | Path | None = None,
    drop: str | Path | None = None,
    kind: str | None = None,
    format: str | None = None,
    eval_format: str | None = None,
) -> Contaminated:
    """Find training rows that overlap an evaluation set (:func:`curate.dedup.contamination.
    find_contamination`); write the report to ``report`` and the rows that overlap nothing to ``drop``."""
    from curate.dedup.contamination import find_contamination

    train, evaluation = Path(train), Path(evaluation)
    train_set = _read(train, format=format, kind=kind)
    eval_set = _read(evaluation, format=eval_format, kind=kind or train_set.kind)
    found = find_contamination(train_set, eval_set, fields=fields or None, settings=settings or ContaminationSettings())
    flags = found.contaminated
    if report is not None:
        io.write_table(found.report, report)
    card: dict[str, Any] = {}
    clean_rows = 0
    if drop is not None:
        clean = train_set.to_arrow().filter(pa.array(~flags))
        kept = Dataset(kind=train_set.kind, table=clean, metadata=train_set.metadata)
        io.write(kept, drop)
        clean_rows = clean.num_rows
        removed = found.num_train - clean_rows
        counts = {"rows_in": found.num_train, "rows_kept": clean_rows, "rows_rejected": removed}
        stats = {**counts, "reasons": {"contaminated": removed} if removed else {}}
        card = _card(
            Path(drop), kept, None, "contamination --drop", train, ("contamination", "contamination", stats, "filter")
        )
    return Contaminated(
        found=found,
        contaminated=int(flags.sum()),
        report=_path(report),
        report_rows=found.report.num_rows,
        clean=_path(drop),
        clean_rows=clean_rows,
        **card,
    )


# ----------------------------------------------------------------------------- retrieval training sets


@dataclass(frozen=True)
class Parts(Written):
    """A retrieval folder written (``dst``) with the rows of each part (``parts``)."""

    dst: Path
    parts: Mapping[str, int]


def mrc_to_retrieval(
    src: str | Path, dst: str | Path, *, to: str = "beir", split: str = "train", format: str | None = None
) -> Parts:
    """Turn an MRC set into a retrieval folder (``beir`` or ``parquet``): contexts -> corpus,
    questions -> queries (with answers), question -> its context -> qrels (split ``split``)."""
    from curate.retrieval.build import mrc_to_retrieval as build

    src, dst = Path(src), Path(dst)
    dataset = io.read(src, format=format, kind="mrc")
    tables = build(dataset.to_arrow(), split=split)
    datasets = {name: Dataset(kind=name, table=table) for name, table in tables.items()}
    io.write_bundle(datasets, dst, format=to)
    card = _card(dst, datasets, to, "mrc-to-retrieval", src)
    return Parts(dst, _row_counts(datasets), **card)


@dataclass(frozen=True)
class NegativesMined(Written):
    """``curate mine-negatives``: what ``dst`` holds (``written``), the candidates each guard
    dropped, and (MRC input) the questions that gave no triplet with their reasons."""

    dst: Path
    written: TrainingCounts
    dropped: Mapping[str, int]
    rejected: int
    reasons: Mapping[str, int]


def mine_negatives(
    src: str | Path,
    dst: str | Path,
    settings: MineHardNegativesParams | None = None,
    *,
    to: str | None = None,
    split: str | None = None,
    format: str | None = None,
) -> NegativesMined:
    """Mine BM25 hard negatives guarded against false negatives, from an MRC set (its contexts
    are the corpus; the ``mine_hard_negatives`` stage) or a retrieval folder (its qrels ``split``);
    write the triplets as ``to`` (jsonl, parquet, dpr, sentence-transformers; default from ``dst``)."""
    from curate.io.training import training_counts
    from curate.retrieval.build import mine_retrieval

    src, dst = Path(src), Path(dst)
    params = settings or MineHardNegativesParams()
    fmt = format or io.detect_format(src)
    step: Step | None = None
    rejected, reasons = 0, {}
    if io.is_bundle(src, fmt):
        mined = mine_retrieval(io.read_bundle(src, format=fmt), params, split=split)
        triplets, summary = mined.triplets, mined.summary
    else:
        stage = MineHardNegatives(params)
        result = stage(_read(src, format=format, kind="mrc"))
        triplets, summary = result.kept.to_arrow(), result.artifacts["mining"]
        step = _stage_step(stage, result.stats)
        rejected, reasons = result.rejected.num_rows, dict(result.stats.reasons)
    written = Dataset(kind="triplets", table=triplets)
    _write(written, dst, format=to)
    info = summary.to_pylist()[0]
    dropped = {k.removeprefix("dropped_"): v for k, v in info.items() if k.startswith("dropped_")}
    counts = training_counts(triplets, to or io.detect_format(dst, writing=True))
    card = _card(dst, written, to, "mine-negatives", src, step)
    return NegativesMined(dst, counts, dropped, rejected, reasons, **card)


@dataclass(frozen=True)
class Chunked(Written):
    """``curate chunk-passages``: on a retrieval folder the corpus and qrels rows before and after
    (``corpus``, ``qrels``: (in, out)); on an MRC set the ``questions`` written on how many
    ``passages`` and the questions not chunked (``rejected``, with their ``reasons``)."""

    dst: Path
    corpus: tuple[int, int] | None
    qrels: tuple[int, int] | None
    questions: int
    passages: int
    rejected: int
    reasons: Mapping[str, int]


def chunk_passages(
    src: str | Path,
    dst: str | Path,
    settings: ChunkPassagesParams | None = None,
    *,
    to: str | None = None,
    format: str | None = None,
) -> Chunked:
    """Split long passages on sentence boundaries without cutting an answer: a retrieval folder's
    corpus (qrels follow their answer to the passage that holds it) or an MRC set's contexts (the
    ``chunk_passages`` stage); ``to``: the output format (default from ``dst``, or the folder's)."""
    from curate.retrieval.chunk import chunk_corpus

    src, dst = Path(src), Path(dst)
    params = settings or ChunkPassagesParams()
    fmt = format or io.detect_format(src)
    if io.is_bundle(src, fmt):
        parts = {name: ds.to_arrow() for name, ds in io.read_bundle(src, format=fmt).items()}
        answers = None
        if "answers" in parts["queries"].column_names:
            ids, values = parts["queries"].column("query_id").to_pylist(), parts["queries"].column("answers")
            answers = dict(zip(ids, values.to_pylist(), strict=True))
        corpus, qrels = chunk_corpus(parts["corpus"], parts["qrels"], answers=answers, settings=params)
        tables = {**parts, "corpus": corpus, "qrels": qrels}
        chunked = {k: Dataset(kind=k, table=t) for k, t in tables.items()}
        io.write_bundle(chunked, dst, format=to or fmt)
        card = _card(dst, chunked, to or fmt, "chunk-passages", src)
        before = parts["corpus"].num_rows, parts["qrels"].num_rows
        return Chunked(
            dst, (before[0], corpus.num_rows), (before[1], qrels.num_rows), 0, corpus.num_rows, 0, {}, **card
        )
    stage = ChunkPassages(params)
    result = stage(_read(src, format=format, kind="mrc"))
    _write(result.kept, dst, format=to)
    passages = len(set(result.kept.to_arrow().column("passage_id").to_pylist()))
    card = _card(dst, result.kept, to, "chunk-passages", src, _stage_step(stage, result.stats))
    stats = result.stats
    return Chunked(dst, None, None, stats.rows_kept, passages, stats.rows_rejected, dict(stats.reasons), **card)


# ----------------------------------------------------------------------------- labels, bias


@dataclass(frozen=True)
class LabelIssuesFound(Written):
    """``curate label-issues``: the rows read, the flagged rows worst first (``issues``: ``id,
    text, text_pair, label, suggested_label, label_quality, ...``), and the files written: every
    row with the issue columns (``out``) and the flagged rows (``issues_file``)."""

    rows: int
    issues: pa.Table
    out: Path | None
    issues_file: Path | None


def label_issues(
    src: str | Path,
    settings: LabelIssuesParams | None = None,
    *,
    out: str | Path | None = None,
    issues: str | Path | None = None,
    format: str | None = None,
    rename: Mapping[str, str] | None = None,
    quote: Quote = "default",
) -> LabelIssuesFound:
    """Find classification rows whose label is probably wrong (the ``label_issues`` stage)."""
    src = Path(src)
    stage = LabelIssues(settings or LabelIssuesParams())
    dataset = _read(src, format=format, kind="classification", rename=dict(rename or {}), quote=quote)
    result = stage(dataset)
    card: dict[str, Any] = {}
    if out is not None:
        _write(result.kept, Path(out))
        card = _card(Path(out), result.kept, None, "label-issues", src, _stage_step(stage, result.stats))
    found = result.artifacts["issues"]
    if issues is not None:
        io.write_table(found, issues)
    return LabelIssuesFound(dataset.num_rows, found, _path(out), _path(issues), **card)


@dataclass(frozen=True)
class Bias:
    """``curate bias``: the diagnosis of ``before_path`` (``before``) and, when compared, of
    ``after_path`` (``after``) with the ``shifts``; the tables written (``tables``)."""

    before_path: Path
    before: Diagnostics
    after_path: Path | None
    after: Diagnostics | None
    shifts: pa.Table | None
    tables: tuple[Path, ...]


def bias(
    src: str | Path,
    settings: BiasReportParams | None = None,
    *,
    compare: str | Path | None = None,
    out: str | Path | None = None,
    kind: str | None = None,
    format: str | None = None,
    rename: Mapping[str, str] | None = None,
    quote: Quote = "default",
) -> Bias:
    """Measure biases a model could learn instead of the task in a classification or MRC set, a
    retrieval folder, or a run folder (its input against its output); ``compare``: a second set of
    the same task, whose shifts are measured. ``out``: a folder for the tables (Parquet)."""
    from curate.bias import compare as shifts_between
    from curate.stages.bias_report import diagnose_source

    src = Path(src)
    params: dict[str, Any] = dict(settings or BiasReportParams())
    read: dict[str, Any] = {"format": format, "kind": kind, "rename": dict(rename or {}), "quote": quote}
    if src.is_dir() and (src / "manifest.json").exists():
        if compare is not None:
            raise ConfigError(
                "--compare with a run folder", value=str(compare), hint="a run folder compares its input and output"
            )
        shards = src / "input" / "data"  # the input's shards; data.parquet in older runs and retrieval sets
        before_path: Path = shards if shards.is_dir() else src / "input" / "data.parquet"
        after_path: Path | None = src / "output.parquet"
        read = {}
    else:
        before_path, after_path = src, Path(compare) if compare is not None else None
    before = diagnose_source(before_path, params, **read)
    tables = {"": before.artifacts()}
    after = shifts = None
    if after_path is not None:
        after = diagnose_source(after_path, params, **read)
        try:
            shifts = shifts_between(before, after)
        except ValueError as exc:
            raise ConfigError(str(exc), value=str(after_path), hint="compare two sets of the same task") from None
        tables = {"before": before.artifacts(), "after": after.artifacts(), "": {"bias_shifts": shifts}}
    written: tuple[Path, ...] = ()
    if out is not None:
        written = tuple(
            io.write_table(table, Path(out) / folder / f"{name}.parquet")
            for folder, named in tables.items()
            for name, table in named.items()
        )
    return Bias(before_path, before, after_path, after, shifts, written)


# ----------------------------------------------------------------------------- Label Studio


def _annotation_source(src: Path, format: str | None, kind: str | None) -> tuple[Dataset, dict[str, Any]]:
    """The rows to annotate and, for a retrieval folder, its qrels with the passage and query texts."""
    fmt = format or io.detect_format(src)
    if io.is_bundle(src, fmt) and kind in (None, "qrels"):
        parts = io.read_bundle(src, format=fmt)
        return parts["qrels"], {"corpus": parts["corpus"], "queries": parts["queries"]}
    return _read(src, format=format, kind=kind), {}


@dataclass(frozen=True)
class Exported:
    """``curate export label-studio``: the files written, the number of tasks, and what was pushed
    to a Label Studio server (``pushed``, None when nothing was)."""

    tasks_file: Path
    config_file: Path
    tasks: int
    pushed: Pushed | None


def export_label_studio(
    src: str | Path,
    out_dir: str | Path,
    *,
    select: str | None = None,
    suggestion: str | None = None,
    suggestion_score: str | None = None,
    push: str | None = None,
    project: int | None = None,
    title: str | None = None,
    kind: str | None = None,
    format: str | None = None,
) -> Exported:
    """Write Label Studio tasks (``tasks.json``) and the labeling config (``label_config.xml``) to
    ``out_dir``; ``push``: also import the tasks into a project on that server (``project`` id, or
    the one titled ``title``, default ``curate: <src name>``; token from LABEL_STUDIO_API_KEY)."""
    from curate.annotate import export_tasks

    src, out_dir = Path(src), Path(out_dir)
    if push is None and (project is not None or title is not None):
        raise ConfigError("--project and --title need --push URL", hint="add --push http://host:port")
    dataset, texts = _annotation_source(src, format, kind)
    progress.step("tasks", 0, dataset.num_rows)
    tasks, config = export_tasks(
        dataset, kind=dataset.kind, select=select, suggestion=suggestion, suggestion_score=suggestion_score, **texts
    )
    progress.step("tasks", dataset.num_rows, dataset.num_rows)
    if push is not None and tasks:  # server, URL and token checked before anything is written
        from curate.annotate.server import connect

        connect(push)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tasks.json").write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    (out_dir / "label_config.xml").write_text(config, encoding="utf-8")
    pushed = None
    if push is not None and tasks:
        from curate.annotate import push_tasks

        pushed = push_tasks(tasks, config, url=push, title=title or f"curate: {src.name}", project_id=project)
    return Exported(out_dir / "tasks.json", out_dir / "label_config.xml", len(tasks), pushed)


@dataclass(frozen=True)
class Imported(Written):
    """``curate import label-studio``: the corrected dataset (``dst``, ``rows``), the number of
    tasks per status (sorted by status), the per-task report (``report``) and the saved export."""

    dst: Path
    rows: int
    statuses: Mapping[str, int]
    report: Path | None
    saved_export: Path | None


def import_label_studio(
    src: str | Path,
    dst: str | Path,
    export: str | Path | None = None,
    *,
    pull: tuple[str, int] | None = None,
    save_export: str | Path | None = None,
    report: str | Path | None = None,
    kind: str | None = None,
    format: str | None = None,
) -> Imported:
    """Merge completed annotations from ``export`` (a Label Studio JSON export) or ``pull`` (URL,
    project id) into ``src``: corrected values with provenance go to ``dst``; one row per task to
    ``report``; the pulled export to ``save_export``."""
    from curate.annotate import import_annotations

    src, dst = Path(src), Path(dst)
    if (export is None) == (pull is None):
        raise ConfigError(
            "give either EXPORT.json or --pull URL PROJECT_ID", hint="one source of annotations, not both"
        )
    if save_export is not None and pull is None:
        raise ConfigError("--save-export needs --pull URL PROJECT_ID")
    dataset, texts = _annotation_source(src, format, kind)
    io.check_write(dst, kind=dataset.kind)  # every destination checked before anything is written
    if report is not None:
        io.report_format(report)
    source: Path | list[Any] = Path(export) if export is not None else []
    name = str(export)
    if pull is not None:
        from curate.annotate import pull_export

        url, project_id = pull
        source = pull_export(url, project_id)
        name = f"{url.rstrip('/')}/projects/{project_id}"
    corrected, found = import_annotations(dataset, source, kind=dataset.kind, file=name, **texts)
    if save_export is not None:
        save_export = Path(save_export)
        save_export.parent.mkdir(parents=True, exist_ok=True)
        save_export.write_text(json.dumps(source, ensure_ascii=False, indent=1), encoding="utf-8")
    io.write(corrected, dst)
    if report is not None:
        io.write_table(found, report)
    statuses = dict(sorted(Counter(found.column("status").to_pylist()).items()))
    card = _card(dst, corrected, None, "import label-studio", src)
    mismatched = [r for r in found.to_pylist() if r["status"] == "mismatch"]
    if mismatched:
        first = mismatched[0]
        where = f" in {report}" if report else ""
        card["warnings"] += (
            f"{len(mismatched):,} tasks not applied: their row no longer shows the task's text "
            f"(status mismatch{where}); first: task {first['task']} ({first['curate_id']}): "
            f"{first['detail']} (hint: import into the file as it was when exported)",
        )
    return Imported(dst, corrected.num_rows, statuses, _path(report), _path(save_export), **card)


# ----------------------------------------------------------------------------- train-quality


def train_quality(
    src: str | Path,
    out: str | Path,
    settings: TrainSettings | None = None,
    *,
    text: str = "text",
    label: str = "label",
    good: str = "good",
    held_out: float = 0.1,
    quantize: bool = False,
    format: str | None = None,
    kind: str | None = None,
    rename: Mapping[str, str] | None = None,
    quote: Quote = "default",
) -> TrainReport:
    """Train a fastText quality classifier (for the ``quality_classifier`` stage) on the ``text``
    and ``label`` columns of ``src``, ``good`` being the label of good rows, and write it to ``out``."""
    from curate.quality.classifier import train_quality as train

    src = Path(src)
    if not 0.0 <= held_out < 1.0:
        raise ConfigError("--held-out must be in [0, 1)", value=held_out)
    renames = {**(rename or {}), **{c: n for c, n in ((text, "text"), (label, "label")) if c != n}}
    try:
        dataset = io.read(src, format=format, kind=kind or "classification", rename=renames, quote=quote)
    except SchemaError as exc:
        missing = {"missing required field 'text'": text, "missing required field 'label'": label}
        column = next((c for prefix, c in missing.items() if exc.what.startswith(prefix)), None)
        if column is None:
            raise
        raise ConfigError(
            "no such column",
            where=Where(file=str(src), field=column),
            value=column,
            hint=f"choose --text and --label among the file's columns: {exc.value}",
        ) from None
    table = dataset.to_arrow()
    try:
        return train(
            table.column("text").to_pylist(),
            table.column("label").to_pylist(),
            out,
            good=good,
            held_out=held_out,
            settings=settings or TrainSettings(),
            quantize=quantize,
        )
    except ValueError as exc:
        raise ConfigError("cannot train", where=Where(file=str(src), field="label"), hint=str(exc)) from None


# ----------------------------------------------------------------------------- stages, schemas


@dataclass(frozen=True)
class StageParam:
    """One parameter of a stage: its type as a user reads it, its default (``required`` when it has
    none, else ``default <repr>``) and its help."""

    name: str
    type: str
    default: str
    help: str


@dataclass(frozen=True)
class StageInfo:
    """A stage as ``curate stages`` shows it: name, class (``module.Class``), role and what it
    means, the kinds it accepts, the columns it adds, its one-line description, its docstring's
    paragraphs and its parameters."""

    name: str
    cls: str
    role: str
    role_meaning: str
    kinds: tuple[str, ...]
    adds: tuple[str, ...]
    description: str
    paragraphs: tuple[str, ...]
    params: tuple[StageParam, ...]


def _stage_info(cls: type[Stage]) -> StageInfo:
    from curate.stages import ROLES

    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(cls.__doc__ or "").split("\n\n") if p.strip()]
    params = tuple(
        StageParam(
            name,
            _type_name(field.annotation),
            "required" if field.is_required() else f"default {field.get_default(call_default_factory=True)!r}",
            " ".join((field.description or "").split()),
        )
        for name, field in cls.Params.model_fields.items()
    )
    return StageInfo(
        name=cls.name,
        cls=f"{cls.__module__}.{cls.__qualname__}",
        role=cls.role,
        role_meaning=ROLES[cls.role],
        kinds=tuple(cls.kinds),
        adds=tuple(f"{name} ({str(dtype).replace('<item: ', '<')})" for name, dtype in cls.default_added().items()),
        description=cls.describe(),
        paragraphs=tuple(paragraphs),
        params=params,
    )


def stages() -> tuple[StageInfo, ...]:
    """Every registered stage, by name."""
    from curate.stages import REGISTRY

    return tuple(_stage_info(cls) for _, cls in sorted(REGISTRY.items()))


def stage(name: str) -> StageInfo:
    """One stage in full (an unknown name is a ConfigError listing the known ones)."""
    from curate.stages import get_stage_class

    return _stage_info(get_stage_class(name))


def _type_name(annotation: Any) -> str:
    """A parameter type as a user reads it: ``int | None``, ``list[str]``, ``'chars' | 'words'``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def schemas() -> dict[str, str]:
    """Every schema kind with its description (``curate schema list``)."""
    from curate.schemas import get_schema, kinds

    return {kind: get_schema(kind).description for kind in kinds()}


def schema(kind: str) -> str:
    """One schema kind as text: fields, types, which are required (``curate schema show``)."""
    from curate.schemas import describe

    return describe(kind)


__all__ = [
    "Bias",
    "Chunked",
    "Contaminated",
    "Converted",
    "Deduplicated",
    "Exported",
    "Imported",
    "LabelIssuesFound",
    "NegativesMined",
    "Parts",
    "Rejected",
    "Report",
    "StageInfo",
    "StageParam",
    "Validated",
    "bias",
    "chunk_passages",
    "contamination",
    "convert",
    "dedup",
    "export_label_studio",
    "import_label_studio",
    "label_issues",
    "mine_negatives",
    "mrc_to_retrieval",
    "rejected",
    "report",
    "run",
    "schema",
    "schemas",
    "stage",
    "stages",
    "train_quality",
    "validate",
]
