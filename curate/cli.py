"""The ``curate`` command: a thin skin over the Python API.

Errors a user can cause print one line (``error: ...``) and exit 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import curate
from curate import io
from curate.config import M, validated
from curate.dedup.contamination import ContaminationSettings
from curate.errors import ConfigError, CurateError, SchemaError, Where
from curate.pipeline import Reporter
from curate.retrieval.chunk import ChunkSettings
from curate.retrieval.negatives import MiningSettings
from curate.stages.bias_report import BiasReportParams
from curate.stages.chunk_passages import ChunkPassages, ChunkPassagesParams
from curate.stages.label_issues import LabelIssues, LabelIssuesParams
from curate.stages.mine_hard_negatives import MineHardNegatives, MineHardNegativesParams
from curate.stages.minhash_dedup import MinHashDedup, MinHashDedupParams

app = typer.Typer(
    help="Clean, deduplicate and validate training data for extractive QA, retrieval and classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
schema_app = typer.Typer(help="Show the dataset schema kinds.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
export_app = typer.Typer(help="Export rows for annotation.", no_args_is_help=True)
app.add_typer(export_app, name="export")
import_app = typer.Typer(help="Merge annotations back into a dataset.", no_args_is_help=True)
app.add_typer(import_app, name="import")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).replace("\r", " ")


@contextmanager
def _errors() -> Iterator[None]:
    """Turn CurateError into one line + exit 2, and so an OSError on a path the user gave (a
    folder where a file goes, no permission, a full disk); anything else into a short
    internal-error line, exit 3."""
    try:
        yield
    except CurateError as exc:
        if _state["debug"]:
            traceback.print_exc()
        err.print(f"[bold red]error:[/] {escape(_one_line(exc.message))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except OSError as exc:
        if exc.filename is None:
            _internal(exc)
        if _state["debug"]:
            traceback.print_exc()
        where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
        err.print(
            f"[bold red]error:[/] {escape(_one_line(f'{exc.strerror or type(exc).__name__} at {where}'))} "
            "(hint: check the path and its permissions)",
            highlight=False,
        )
        raise typer.Exit(2) from None
    except Exception as exc:
        _internal(exc)


def _internal(exc: Exception) -> NoReturn:
    if _state["debug"]:
        traceback.print_exc()
    err.print(
        f"[bold red]internal error:[/] {escape(_one_line(f'{type(exc).__name__}: {exc}'))} "
        "(run with --debug for the traceback)",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(3) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"curate {curate.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _reasons(counts: dict[str, int]) -> str:
    """``reason count, ...`` sorted by reason, for one-line summaries."""
    return ", ".join(f"{reason} {count:,}" for reason, count in sorted(counts.items()))


def _check_choice_option(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"bad value for {option}", value=value, hint=f"choose one of: {', '.join(choices)}")


def _parse_renames(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise ConfigError("bad --rename", value=pair, hint="write SOURCE=TARGET, e.g. --rename document=text")
        mapping[source] = target
    return mapping


RenameOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer needs Optional here)
    typer.Option("--rename", help="Map a source column to a schema column: SOURCE=TARGET (repeatable)."),
]
KindOpt = Annotated[Optional[str], typer.Option("--kind", help="Schema kind (see `curate schema list`).")]  # noqa: UP045
FromOpt = Annotated[Optional[str], typer.Option("--from", help=f"Input format: {', '.join(io.FORMATS)}.")]  # noqa: UP045
QuoteOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--quote", help="CSV/TSV quote character ('none' for none). Default: \" for CSV, none for TSV."),
]


_FLAGS: dict[str, str] = {}  # a settings field -> its command-line option, for error messages


def option(model: type[BaseModel], name: str, flag: str | None = None, *, note: str = "") -> Any:
    """The option ``flag`` (default ``--`` + ``name`` with dashes) of the field ``name`` of ``model``: its
    default and help text are the field's (its description, plus ``note``). A bool field gets ``--x/--no-x``."""
    field = model.model_fields[name]
    flag = flag or "--" + name.replace("_", "-")
    _FLAGS[name] = flag
    default = field.get_default(call_default_factory=True)
    if field.annotation is bool:
        flag = f"{flag}/--no-{flag.removeprefix('--')}"
    help_text = " ".join([*(field.description or "").replace("``", "").split(), note]).strip()
    return typer.Option(default, flag, help=help_text)


def _settings(model: type[M], options: dict[str, Any], **values: Any) -> M:
    """``model`` from a command's ``options`` (its ``locals()``: those named as a field of ``model``) and
    ``values`` (fields spelt or typed otherwise on the command line); a bad value is a one-line error
    naming the option."""
    fields = {name: options[name] for name in model.model_fields if name in options}
    return validated(model, {**fields, **values}, noun="option", name=lambda key: _FLAGS.get(key, key))


def _quote(value: str | None) -> Any:
    if value is None:
        return "default"
    return None if value.lower() == "none" else value


# ----------------------------------------------------------------------------- run


class _RichReporter(Reporter):
    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.task: Any = None

    @contextmanager
    def shown(self) -> Iterator[None]:
        """Show the progress bar from the first stage that runs until the block ends."""
        try:
            yield
        finally:
            if self.task is not None:
                self.progress.stop()

    def stage_started(self, stage: Any, index: int, total_rows: int) -> None:
        if self.task is None:
            self.progress.start()
        else:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"{index:02d} {stage.id}", total=total_rows)

    def rows_done(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)

    def stage_finished(self, run: Any) -> None:
        s = run.stats
        note = " (resumed)" if run.resumed else f" in {s.seconds:.2f}s"
        err.print(
            f"  {run.dir.name}: {s.rows_in:,} in{f', {s.rows_added:,} new' if s.rows_added else ''}, "
            f"{s.rows_kept:,} kept, {s.rows_rejected:,} rejected{note}",
            highlight=False,
        )

    def note(self, message: str) -> None:
        err.print(f"  {escape(message)}", highlight=False)

    def warn(self, message: str) -> None:
        err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False)


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    input: Annotated[Optional[Path], typer.Option("--input", help="Replace the pipeline's input path.")] = None,  # noqa: UP045
    output: Annotated[Optional[Path], typer.Option("--output", help="Run folder (default runs/<name>).")] = None,  # noqa: UP045
    force: Annotated[bool, typer.Option("--force", help="Run every stage again, even when up to date.")] = False,
) -> None:
    """Run a pipeline; finished stages whose inputs and params did not change are resumed."""
    from curate.pipeline import run_pipeline
    from curate.report.summary import summary_table

    with _errors():
        reporter = _RichReporter()
        with reporter.shown():
            result = run_pipeline(pipeline, input=input, output=output, force=force, reporter=reporter)
        out.print(summary_table(result))
        out.print(f"output: {result.dir / 'output.parquet'} ({result.output.num_rows:,} rows)", highlight=False)
        for path in result.exports:
            out.print(f"export: {path}", highlight=False)
        out.print(
            f"report: {result.dir / 'report.html'} ({result.dir / 'report.md'})   manifest: {result.manifest_path}",
            highlight=False,
        )


# ----------------------------------------------------------------------------- report


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `curate run`.")],
    out_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Where to write the page (default RUN_DIR/report.html)."),
    ] = None,
) -> None:
    """Rebuild a run's report.html: one self-contained page (opens offline) with the funnel, every
    stage's reasons, flags and rewrites with examples, and score histograms with their thresholds."""
    from curate.report.html import write_html_report

    with _errors():
        path = write_html_report(run_dir, out_file)
        out.print(f"report: {path} ({path.stat().st_size:,} bytes)", highlight=False)


# ----------------------------------------------------------------------------- convert


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="Input file or folder.")],
    dst: Annotated[Path, typer.Argument(help="Output file or folder.")],
    from_: FromOpt = None,
    to: Annotated[Optional[str], typer.Option("--to", help=f"Output format: {', '.join(io.WRITE_FORMATS)}.")] = None,  # noqa: UP045
    kind: KindOpt = None,
    rename: RenameOpt = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Split of a datasets folder.")] = None,  # noqa: UP045
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Put unreadable rows in a quarantine file instead of failing.")
    ] = False,
    quarantine: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--quarantine", help="Quarantine file (default DST + .quarantine.jsonl)."),
    ] = None,
    quote: QuoteOpt = None,
) -> None:
    """Convert between formats (squad, jsonl, csv, tsv, parquet, beir, hf) with column renames."""
    with _errors():
        fmt = from_ or io.detect_format(src)
        if kind is None and io.is_bundle(src, fmt):
            parts = io.read_bundle(src, format=fmt)
            io.write_bundle(parts, dst, format=to or "parquet")
            counts = ", ".join(f"{k} {v.num_rows:,}" for k, v in parts.items())
            out.print(f"wrote {dst} ({counts})", highlight=False)
            return
        qfile = quarantine or dst.with_name(dst.name + ".quarantine.jsonl")
        dataset = io.read(
            src,
            format=from_,
            kind=kind,
            rename=_parse_renames(rename),
            split=split,
            on_error="skip" if skip_bad_rows else "fail",
            quarantine=qfile if skip_bad_rows else None,
            quote=_quote(quote),
        )
        try:
            io.write(dataset, dst, format=to, quote=_quote(quote))
        except BaseException:
            if skip_bad_rows:
                qfile.unlink(missing_ok=True)  # written by the read above: nothing is left behind
            raise
        out.print(f"wrote {dst} ({dataset.num_rows:,} rows, kind {dataset.kind})", highlight=False)
        bad = int(dataset.metadata.get("quarantined_rows", 0))
        if bad:
            err.print(f"{bad:,} unreadable rows skipped, each with its reason -> {qfile}", highlight=False)


# ----------------------------------------------------------------------------- validate


@app.command()
def validate(
    src: Annotated[Path, typer.Argument(help="Dataset file or folder.")],
    kind: KindOpt = None,
    from_: FromOpt = None,
    rename: RenameOpt = None,
    report: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--report", help="Write one row per problem (row, id, field, problem, detail): .csv/.tsv/.jsonl/.parquet."
        ),
    ] = None,
    repair: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--repair", help="MRC: write repaired rows here; unrepairable rows go to DST's .rejected.jsonl."),
    ] = None,
    quote: QuoteOpt = None,
) -> None:
    """Check schema conformance and (MRC) every answer span, or a retrieval folder's corpus, queries
    and qrels against each other. Exit 0 clean, 1 problems, 2 unusable."""
    from curate.validate import find_problems
    from curate.validate import repair as repair_spans

    with _errors():
        if kind is None and io.is_bundle(src, from_ or io.detect_format(src)):
            if repair is not None:
                raise ConfigError("--repair works on MRC data", value=str(src), hint="pass an MRC file")
            _validate_retrieval(src, from_ or io.detect_format(src), report)
            return
        dataset = io.read(src, format=from_, kind=kind, rename=_parse_renames(rename), quote=_quote(quote))
        result = find_problems(dataset)
        if report is not None:
            io.write_table(result.problems, report)
        if result.clean:
            out.print(f"{src}: {result.rows:,} rows of kind {dataset.kind}, no problems", highlight=False)
        else:
            table = Table(
                title=f"{src}: {result.problems.num_rows:,} problems in "
                f"{result.rows_with_problems:,} of {result.rows:,} rows"
            )
            table.add_column("problem")
            table.add_column("count", justify="right")
            table.add_column("first example")
            examples: dict[str, str] = {}
            for row in result.problems.to_pylist():
                examples.setdefault(row["problem"], f"row {row['row']} ({row['id']}) {row['field']}: {row['detail']}")
            for code, count in result.counts().items():
                table.add_row(code, f"{count:,}", examples[code])
            out.print(table)
        if report is not None:
            out.print(f"report: {report}", highlight=False)
        if repair is not None:
            if dataset.kind != "mrc":
                raise ConfigError("--repair works on MRC data", value=dataset.kind, hint="repair moves answer spans")
            kept, rejected = repair_spans(dataset)
            io.write(kept, repair)
            rejected_path = repair.with_name(repair.name.split(".")[0] + ".rejected.jsonl")
            io.write(rejected, rejected_path, format="jsonl")
            out.print(
                f"repaired: {repair} ({kept.num_rows:,} rows); "
                f"could not repair: {rejected_path} ({rejected.num_rows:,} rows)",
                highlight=False,
            )
        if not result.clean:
            raise typer.Exit(1)


def _validate_retrieval(src: Path, fmt: str, report: Path | None) -> None:
    """``curate validate`` on a retrieval folder: every problem of corpus, queries and qrels."""
    from curate.retrieval.checks import find_retrieval_problems

    parts = io.read_bundle(src, format=fmt)
    missing = [name for name in ("corpus", "queries", "qrels") if name not in parts]
    if missing:
        raise ConfigError("the folder has no " + " or ".join(missing), where=Where(file=str(src)), hint="pass --kind")
    corpus, queries, qrels = (parts[name].to_arrow() for name in ("corpus", "queries", "qrels"))
    problems = find_retrieval_problems(corpus, queries, qrels)
    if report is not None:
        io.write_table(problems, report)
    counts = ", ".join(f"{name} {table.num_rows:,}" for name, table in parts.items())
    if problems.num_rows == 0:
        out.print(f"{src}: {counts}, no problems", highlight=False)
    else:
        table = Table(title=f"{src} ({counts}): {problems.num_rows:,} problems")
        for header in ("table", "problem", "count", "first example"):
            table.add_column(header, justify="right" if header == "count" else "left")
        seen: dict[tuple[str, str], list[Any]] = {}
        for row in problems.to_pylist():
            example = f"row {row['row']} ({row['id']}): {row['detail']}"
            entry = seen.setdefault((row["table"], row["code"]), [0, example])
            entry[0] += 1
        for (part, code), (count, first) in seen.items():
            table.add_row(part, code, f"{count:,}", first)
        out.print(table)
    if report is not None:
        out.print(f"report: {report}", highlight=False)
    if problems.num_rows:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- dedup


@app.command()
def dedup(
    src: Annotated[Path, typer.Argument(help="Dataset file or folder (a BEIR/Parquet folder: corpus + qrels).")],
    dst: Annotated[Path, typer.Argument(help="Where the kept rows go (a folder for a retrieval set).")],
    field: Optional[list[str]] = option(MinHashDedupParams, "fields", "--field", note="Repeatable."),  # noqa: UP045
    threshold: float = option(MinHashDedupParams, "threshold"),
    clustering: str = option(MinHashDedupParams, "clustering"),
    shingle: str = option(MinHashDedupParams, "shingle"),
    ngram: int = option(MinHashDedupParams, "ngram"),
    lowercase: bool = option(MinHashDedupParams, "lowercase"),
    num_perm: int = option(MinHashDedupParams, "num_perm"),
    bands: Optional[int] = option(MinHashDedupParams, "bands"),  # noqa: UP045
    rows: Optional[int] = option(MinHashDedupParams, "rows"),  # noqa: UP045
    seed: int = option(MinHashDedupParams, "seed"),
    unit: Optional[str] = option(MinHashDedupParams, "unit"),  # noqa: UP045
    keep: str = option(MinHashDedupParams, "keep"),
    order_by: Optional[str] = option(MinHashDedupParams, "order_by"),  # noqa: UP045
    verify: bool = option(MinHashDedupParams, "verify"),
    clusters: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--clusters", help="Write the clusters (id, cluster_id, representative_id, jaccard) here."),
    ] = None,
    conflicts: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--conflicts",
            help="Write the pairs of duplicates whose label or answers differ (id, other_id, reason, similarity, "
            "detail) here.",
        ),
    ] = None,
    rejected: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--rejected", help="Write removed rows here (default: beside DST, .rejected.parquet)."),
    ] = None,
    against: Optional[Path] = option(MinHashDedupParams, "against"),  # noqa: UP045
    save_index: Optional[Path] = option(MinHashDedupParams, "save_index"),  # noqa: UP045
    kind: KindOpt = None,
    from_: FromOpt = None,
    rename: RenameOpt = None,
    quote: QuoteOpt = None,
) -> None:
    """Remove near-duplicates with MinHash LSH (the engine of the minhash_dedup stage)."""
    with _errors():
        params = _settings(
            MinHashDedupParams,
            locals(),
            fields=field or None,
            against=str(against) if against else None,
            save_index=str(save_index) if save_index else None,
        )
        stage = MinHashDedup(params)
        fmt = from_ or io.detect_format(src)
        rejected_path = rejected or dst.with_name(dst.name.split(".")[0] + ".rejected.parquet")
        if kind is None and io.is_bundle(src, fmt):
            from curate.dedup.retrieval import dedup_retrieval

            found = dedup_retrieval(io.read_bundle(src, format=fmt), stage)
            io.write_bundle(found.parts, dst, format="beir" if fmt == "beir" else "parquet")
            stats, artifacts, removed = found.stats, found.artifacts, found.rejected
            extra = f"; qrels re-pointed {found.qrels_repointed:,}, merged {found.qrels_merged:,}"
            if found.qrels_merged:
                extra += f" ({found.qrels_score_conflicts:,} with different scores, the highest kept)"
        else:
            dataset = io.read(src, format=from_, kind=kind, rename=_parse_renames(rename), quote=_quote(quote))
            result = stage(dataset)
            io.write(result.kept, dst)
            stats, artifacts, removed = result.stats, result.artifacts, result.rejected
            extra = ""
        io.write(removed, rejected_path, format="parquet")
        written = {"clusters": clusters, "conflicts": conflicts}
        for name, path in written.items():
            if path is not None:
                io.write_table(artifacts[name], path)
        reasons = f" ({_reasons(stats.reasons)})" if stats.reasons else ""
        flags = f"; kept rows flagged: {_reasons(stats.flags)}" if stats.flags else ""
        out.print(
            f"{stats.rows_in:,} rows: kept {stats.rows_kept:,}, removed {stats.rows_rejected:,}{reasons}{flags} "
            f"in {stats.seconds:.1f}s{extra}",
            highlight=False,
        )
        out.print(
            f"kept: {dst}  removed: {rejected_path}"
            + "".join(f"  {name}: {path}" for name, path in written.items() if path is not None),
            highlight=False,
        )


# ----------------------------------------------------------------------------- contamination


@app.command()
def contamination(
    train: Annotated[Path, typer.Argument(metavar="TRAIN", help="Training set (file or folder).")],
    evaluation: Annotated[
        Path, typer.Argument(metavar="EVAL", help="Evaluation set (file or folder) it must not overlap.")
    ],
    field: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--field", help="Column to compare (repeatable; default MRC context and question; else text fields)."
        ),
    ] = None,
    report: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--out",
            help="Write the report (train_id, eval_id, field, method, overlap, shared): .csv/.tsv/.jsonl/.parquet.",
        ),
    ] = None,
    drop: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--drop", help="Write the training rows that overlap nothing here."),
    ] = None,
    threshold: float = option(ContaminationSettings, "threshold"),
    ngram_words: int = option(ContaminationSettings, "ngram_words", note="0 turns it off here."),
    ngram_chars: int = option(ContaminationSettings, "ngram_chars", note="0 turns it off here."),
    ngram_fraction: float = option(ContaminationSettings, "ngram_fraction"),
    min_chars: int = option(ContaminationSettings, "min_chars"),
    kind: KindOpt = None,
    from_: FromOpt = None,
    eval_from: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--eval-from", help=f"Format of the evaluation set: {', '.join(io.FORMATS)}."),
    ] = None,
) -> None:
    """Find training rows that overlap an evaluation set (MinHash near-duplicates, shared 13-word or
    50-character runs, exact short texts). A finding is not an error: the exit code is 0."""
    from curate.dedup.contamination import find_contamination

    with _errors():
        settings = _settings(
            ContaminationSettings, locals(), ngram_words=ngram_words or None, ngram_chars=ngram_chars or None
        )
        train_set = io.read(train, format=from_, kind=kind)
        eval_set = io.read(evaluation, format=eval_from, kind=kind or train_set.kind)
        found = find_contamination(train_set, eval_set, fields=field or None, settings=settings)
        flags = found.contaminated
        table = Table(title=f"{train}: {int(flags.sum()):,} of {found.num_train:,} training rows overlap {evaluation}")
        for name in ("field", "method", "train rows", "eval rows"):
            table.add_column(name, justify="right" if name.endswith("rows") else "left")
        for row in found.counts().to_pylist():
            table.add_row(row["field"], row["method"], f"{row['train_rows']:,}", f"{row['eval_rows']:,}")
        out.print(table)
        if report is not None:
            io.write_table(found.report, report)
            out.print(f"report: {report} ({found.report.num_rows:,} rows)", highlight=False)
        if drop is not None:
            import pyarrow as pa

            clean = train_set.to_arrow().filter(pa.array(~flags))
            io.write(curate.Dataset(kind=train_set.kind, table=clean, metadata=train_set.metadata), drop)
            out.print(f"clean: {drop} ({clean.num_rows:,} rows)", highlight=False)


# ----------------------------------------------------------------------------- retrieval training sets


@app.command("mrc-to-retrieval")
def mrc_to_retrieval(
    src: Annotated[Path, typer.Argument(help="MRC set (SQuAD/KorQuAD JSON or any MRC table).")],
    dst: Annotated[Path, typer.Argument(help="Output folder (BEIR layout, or Parquet with --to parquet).")],
    to: Annotated[str, typer.Option("--to", help="beir or parquet.")] = "beir",
    split: Annotated[str, typer.Option("--split", help="Name of the qrels split.")] = "train",
    from_: FromOpt = None,
) -> None:
    """Turn an MRC set into a retrieval set: contexts -> corpus, questions -> queries (with answers),
    question -> its context -> qrels."""
    from curate.retrieval.build import mrc_to_retrieval as convert

    with _errors():
        _check_choice_option("--to", to, ("beir", "parquet"))
        dataset = io.read(src, format=from_, kind="mrc")
        parts = convert(dataset.to_arrow(), split=split)
        io.write_bundle({name: curate.Dataset(kind=name, table=table) for name, table in parts.items()}, dst, format=to)
        counts = ", ".join(f"{name} {table.num_rows:,}" for name, table in parts.items())
        out.print(f"wrote {dst} ({counts})", highlight=False)


@app.command("mine-negatives")
def mine_negatives(
    src: Annotated[Path, typer.Argument(help="MRC set (its contexts become the corpus) or a retrieval folder.")],
    dst: Annotated[
        Path,
        typer.Argument(
            help="Triplets (.jsonl/.parquet), or --to dpr (DPR JSON) / sentence-transformers "
            "(anchor, positive, negative: one row per negative)."
        ),
    ],
    count: int = option(MiningSettings, "count"),
    rank_from: int = option(MiningSettings, "rank_from"),
    rank_to: int = option(MiningSettings, "rank_to"),
    tokenizer: str = option(MiningSettings, "tokenizer"),
    margin: Optional[float] = option(MiningSettings, "margin"),  # noqa: UP045
    to: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--to", help="Output format: jsonl, parquet, dpr or sentence-transformers."),
    ] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Retrieval folder: qrels split to mine.")] = None,  # noqa: UP045
    from_: FromOpt = None,
) -> None:
    """Mine BM25 hard negatives that are really negative: never a positive, never a near-duplicate of
    one, never a passage containing an answer as written or in another form, or an answer of the
    same question asked elsewhere. Every mined negative is written; the line printed says what the
    file holds."""
    from curate.io.training import training_counts
    from curate.retrieval.build import mine_retrieval

    with _errors():
        params = _settings(MineHardNegativesParams, locals())
        fmt = from_ or io.detect_format(src)
        if io.is_bundle(src, fmt):
            mined = mine_retrieval(io.read_bundle(src, format=fmt), params, split=split)
            triplets, summary = mined.triplets, mined.summary
        else:
            result = MineHardNegatives(params)(io.read(src, format=from_, kind="mrc"))
            triplets, summary = result.kept.to_arrow(), result.artifacts["mining"]
            if result.rejected.num_rows:
                reasons = _reasons(result.stats.reasons)
                none = "question gives" if result.rejected.num_rows == 1 else "questions give"
                err.print(f"{result.rejected.num_rows:,} {none} no triplet ({reasons})", highlight=False)
        io.write(curate.Dataset(kind="triplets", table=triplets), dst, format=to)
        written = training_counts(triplets, to or io.detect_format(dst, writing=True))
        info = summary.to_pylist()[0]
        dropped = ", ".join(f"{k.removeprefix('dropped_')} {v:,}" for k, v in info.items() if k.startswith("dropped_"))
        out.print(f"wrote {dst} ({written.describe()}; candidates dropped by guard: {dropped})", highlight=False)


@app.command("chunk-passages")
def chunk_passages(
    src: Annotated[Path, typer.Argument(help="A retrieval folder (corpus, queries, qrels) or an MRC set.")],
    dst: Annotated[Path, typer.Argument(help="Output folder (retrieval) or file (MRC).")],
    size: int = option(ChunkSettings, "size"),
    overlap: int = option(ChunkSettings, "overlap"),
    unit: str = option(ChunkSettings, "unit"),
    tokenizer: Optional[str] = option(ChunkSettings, "tokenizer"),  # noqa: UP045
    to: Annotated[Optional[str], typer.Option("--to", help="Output format (default from DST).")] = None,  # noqa: UP045
    from_: FromOpt = None,
) -> None:
    """Split long passages on sentence boundaries without cutting an answer; qrels (or MRC questions)
    follow their answer to the passage that holds it."""
    from curate.retrieval.chunk import chunk_corpus

    with _errors():
        settings = _settings(ChunkPassagesParams, locals())
        fmt = from_ or io.detect_format(src)
        if io.is_bundle(src, fmt):
            parts = {name: ds.to_arrow() for name, ds in io.read_bundle(src, format=fmt).items()}
            answers = None
            if "answers" in parts["queries"].column_names:
                ids, values = parts["queries"].column("query_id").to_pylist(), parts["queries"].column("answers")
                answers = dict(zip(ids, values.to_pylist(), strict=True))
            corpus, qrels = chunk_corpus(
                parts["corpus"],
                parts["qrels"],
                answers=answers,
                settings=settings,
            )
            tables = {**parts, "corpus": corpus, "qrels": qrels}
            io.write_bundle({k: curate.Dataset(kind=k, table=t) for k, t in tables.items()}, dst, format=to or fmt)
            out.print(
                f"wrote {dst} (corpus {parts['corpus'].num_rows:,} -> {corpus.num_rows:,} passages, "
                f"qrels {parts['qrels'].num_rows:,} -> {qrels.num_rows:,})",
                highlight=False,
            )
            return
        result = ChunkPassages(settings)(io.read(src, format=from_, kind="mrc"))
        io.write(result.kept, dst, format=to)
        passages = len(set(result.kept.to_arrow().column("passage_id").to_pylist()))
        out.print(f"wrote {dst} ({result.stats.rows_kept:,} questions on {passages:,} passages)", highlight=False)
        if result.rejected.num_rows:
            reasons = _reasons(result.stats.reasons)
            err.print(f"{result.rejected.num_rows:,} questions not chunked ({reasons})", highlight=False)


# ----------------------------------------------------------------------------- label issues


@app.command("label-issues")
def label_issues(
    src: Annotated[Path, typer.Argument(help="Classification rows (id, text, optional text_pair, label).")],
    out_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Write every row with label_issue, label_quality, suggested_label here."),
    ] = None,
    issues: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--issues", help="Write the flagged rows, worst first, here."),
    ] = None,
    model: str = option(LabelIssuesParams, "model"),
    folds: int = option(LabelIssuesParams, "folds"),
    seed: int = option(LabelIssuesParams, "seed"),
    pred_probs: Optional[str] = option(LabelIssuesParams, "pred_probs_column", "--pred-probs"),  # noqa: UP045
    top: Annotated[int, typer.Option("--top", help="Show this many issues.")] = 10,
    from_: FromOpt = None,
    rename: RenameOpt = None,
    quote: QuoteOpt = None,
) -> None:
    """Find rows whose label is probably wrong (out-of-fold probabilities + cleanlab)."""
    with _errors():
        params = _settings(LabelIssuesParams, locals(), pred_probs_column=pred_probs)
        stage = LabelIssues(params)
        dataset = io.read(src, format=from_, kind="classification", rename=_parse_renames(rename), quote=_quote(quote))
        result = stage(dataset)
        found = result.artifacts["issues"]
        out.print(f"{src}: {found.num_rows:,} of {dataset.num_rows:,} rows have a likely label issue", highlight=False)
        table = Table()
        for header in ("id", "label", "suggested", "quality", "text"):
            table.add_column(header)
        for row in found.slice(0, top).to_pylist():
            text = (row["text"] or "")[:60]
            table.add_row(row["id"], row["label"], row["suggested_label"], f"{row['label_quality']:.3f}", text)
        if found.num_rows:
            out.print(table)
        if out_path is not None:
            io.write(result.kept, out_path)
            out.print(f"wrote {out_path}", highlight=False)
        if issues is not None:
            io.write_table(found, issues)
            out.print(f"issues: {issues}", highlight=False)


# ----------------------------------------------------------------------------- bias


@app.command("bias")
def bias(
    src: Annotated[
        Path, typer.Argument(help="Classification or MRC set, a retrieval folder, or a run folder (input vs output).")
    ],
    out_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Write the tables (bias_metrics, bias_distributions, bias_tokens) here."),
    ] = None,
    compare_with: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--compare", help="A second set of the same task (e.g. after cleaning): show the shifts."),
    ] = None,
    field: str = option(BiasReportParams, "field"),
    tokenizer: str = option(BiasReportParams, "tokenizer"),
    min_count: int = option(BiasReportParams, "min_count"),
    top: Annotated[int, typer.Option("--top", help="Shortcut tokens shown per label.")] = 10,
    kind: KindOpt = None,
    from_: FromOpt = None,
    rename: RenameOpt = None,
    quote: QuoteOpt = None,
) -> None:
    """Measure biases a model could learn instead of the task: label shortcut tokens, the best
    one-token rule and label shares by length (classification); answer positions, question types
    and a lexical-overlap heuristic (MRC); how often BM25 ranks the positive first (retrieval)."""
    from curate.bias import compare
    from curate.report.bias import diagnostics_blocks, rich_table, shift_blocks
    from curate.stages.bias_report import diagnose_source

    with _errors():
        params: dict[str, Any] = dict(_settings(BiasReportParams, locals()))
        read: dict[str, Any] = {"format": from_, "kind": kind, "rename": _parse_renames(rename), "quote": _quote(quote)}
        if src.is_dir() and (src / "manifest.json").exists():
            if compare_with is not None:
                raise ConfigError(
                    "--compare with a run folder",
                    value=str(compare_with),
                    hint="a run folder compares its input and output",
                )
            before_path: Path = src / "input" / "data.parquet"
            after_path: Path | None = src / "output.parquet"
            read = {}
        else:
            before_path, after_path = src, compare_with
        with err.status(f"measuring {before_path}"):
            before = diagnose_source(before_path, params, **read)
        for block in diagnostics_blocks(before, top):
            out.print(rich_table(block))
        tables = {"": before.artifacts()}
        if after_path is not None:
            with err.status(f"measuring {after_path}"):
                after = diagnose_source(after_path, params, **read)
            try:
                shifts = compare(before, after)
            except ValueError as exc:
                raise ConfigError(str(exc), value=str(after_path), hint="compare two sets of the same task") from None
            out.print(f"shifts from {before_path} to {after_path}:", highlight=False)
            for block in shift_blocks(shifts):
                out.print(rich_table(block))
            tables = {"before": before.artifacts(), "after": after.artifacts(), "": {"bias_shifts": shifts}}
        if out_dir is not None:
            written = [
                io.write_table(table, out_dir / folder / f"{name}.parquet")
                for folder, named in tables.items()
                for name, table in named.items()
            ]
            out.print(f"wrote {len(written)} tables to {out_dir}", highlight=False)


# ----------------------------------------------------------------------------- Label Studio


AnnotateKindOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--kind", help="classification, mrc or qrels (default: inferred from the data)."),
]


def _annotation_source(src: Path, from_: str | None, kind: str | None) -> tuple[Any, dict[str, Any]]:
    """The rows to annotate and, for a retrieval folder, its qrels with the passage and query texts."""
    fmt = from_ or io.detect_format(src)
    if io.is_bundle(src, fmt) and kind in (None, "qrels"):
        parts = io.read_bundle(src, format=fmt)
        return parts["qrels"], {"corpus": parts["corpus"], "queries": parts["queries"]}
    return io.read(src, format=from_, kind=kind), {}


@export_app.command("label-studio")
def export_label_studio(
    src: Annotated[Path, typer.Argument(help="Dataset to annotate (classification, MRC or qrels).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for tasks.json and label_config.xml.")],
    select: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--select", help="DuckDB predicate choosing the rows, e.g. 'label_issue'."),
    ] = None,
    push: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--push",
            metavar="URL",
            help="Also create or update a project on this Label Studio server and import the tasks "
            "(token from LABEL_STUDIO_API_KEY); rows already in the project are not sent again.",
        ),
    ] = None,
    project: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--project", help="With --push: update this project id instead of finding one by title."),
    ] = None,
    title: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--title", help="With --push: project title (default: 'curate: <SRC file name>')."),
    ] = None,
    suggestion: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--suggestion", help="MRC: column with a reader's predicted answer, pre-filled as a suggestion."),
    ] = None,
    suggestion_score: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--suggestion-score", help="MRC: column with the reader's confidence (0-1) in it."),
    ] = None,
    kind: AnnotateKindOpt = None,
    from_: FromOpt = None,
) -> None:
    """Write Label Studio tasks (current value and suggestion as predictions) and the labeling config."""
    from curate.annotate import export_tasks

    with _errors():
        if push is None and (project is not None or title is not None):
            raise ConfigError("--project and --title need --push URL", hint="add --push http://host:port")
        dataset, texts = _annotation_source(src, from_, kind)
        tasks, config = export_tasks(
            dataset,
            kind=dataset.kind,
            select=select,
            suggestion=suggestion,
            suggestion_score=suggestion_score,
            **texts,
        )
        if push is not None and tasks:  # server, URL and token checked before anything is written
            from curate.annotate.server import connect

            connect(push)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "tasks.json").write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
        (out_dir / "label_config.xml").write_text(config, encoding="utf-8")
        out.print(f"wrote {out_dir / 'tasks.json'} ({len(tasks):,} tasks) and {out_dir / 'label_config.xml'}")
        if push is not None and not tasks:
            out.print("nothing pushed: no row selected", highlight=False)
        elif push is not None:
            from curate.annotate import push_tasks

            pushed = push_tasks(tasks, config, url=push, title=title or f"curate: {src.name}", project_id=project)
            verb = "created" if pushed.created else "updated"
            out.print(
                f"{verb} project {pushed.project_id}: {pushed.imported:,} tasks imported, "
                f"{pushed.already_there:,} already there; {pushed.project_url}",
                highlight=False,
            )


@import_app.command("label-studio")
def import_label_studio(
    src: Annotated[Path, typer.Argument(help="The dataset (or retrieval folder) the tasks were exported from.")],
    dst: Annotated[Path, typer.Option("--out", help="Corrected dataset (format from the extension).")],
    export: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="Label Studio JSON export with the annotations (or use --pull)."),
    ] = None,
    pull: Annotated[
        Optional[tuple[str, int]],  # noqa: UP045
        typer.Option(
            "--pull",
            metavar="URL PROJECT_ID",
            help="Take the annotations straight from this Label Studio project (token from LABEL_STUDIO_API_KEY).",
        ),
    ] = None,
    save_export: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--save-export", help="With --pull: also keep the pulled JSON export in this file."),
    ] = None,
    report: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--report", help="One row per task: status, previous and new value, annotators."),
    ] = None,
    kind: AnnotateKindOpt = None,
    from_: FromOpt = None,
) -> None:
    """Merge completed annotations: corrected values with provenance; conflicts reported, the rest unchanged."""
    from curate.annotate import import_annotations

    with _errors():
        if (export is None) == (pull is None):
            raise ConfigError(
                "give either EXPORT.json or --pull URL PROJECT_ID", hint="one source of annotations, not both"
            )
        if save_export is not None and pull is None:
            raise ConfigError("--save-export needs --pull URL PROJECT_ID")
        dataset, texts = _annotation_source(src, from_, kind)
        io.check_write(dst, kind=dataset.kind)  # every destination checked before anything is written
        if report is not None:
            io.report_format(report)
        source: Path | list[Any] = export or []
        name = str(export)
        if pull is not None:
            from curate.annotate import pull_export

            url, project_id = pull
            source = pull_export(url, project_id)
            name = f"{url.rstrip('/')}/projects/{project_id}"
        corrected, found = import_annotations(dataset, source, kind=dataset.kind, file=name, **texts)
        if save_export is not None:
            save_export.parent.mkdir(parents=True, exist_ok=True)
            save_export.write_text(json.dumps(source, ensure_ascii=False, indent=1), encoding="utf-8")
        io.write(corrected, dst)
        if report is not None:
            io.write_table(found, report)
        counts = Counter(found.column("status").to_pylist())
        summary = ", ".join(f"{status} {count:,}" for status, count in sorted(counts.items()))
        out.print(f"wrote {dst} ({corrected.num_rows:,} rows; tasks: {summary})", highlight=False)
        mismatched = [r for r in found.to_pylist() if r["status"] == "mismatch"]
        if mismatched:
            first = mismatched[0]
            where = f" in {report}" if report else ""
            err.print(
                escape(
                    f"warning: {len(mismatched):,} tasks not applied: their row no longer shows the task's text "
                    f"(status mismatch{where}); first: task {first['task']} ({first['curate_id']}): "
                    f"{first['detail']} (hint: import into the file as it was when exported)"
                ),
                highlight=False,
            )


# ----------------------------------------------------------------------------- train-quality


@app.command("train-quality")
def train_quality(
    src: Annotated[Path, typer.Argument(help="Labelled rows: a text column and a good/bad label column.")],
    out_path: Annotated[Path, typer.Option("--out", help="Model file to write (.bin; .ftz with --quantize).")],
    text: Annotated[str, typer.Option("--text", help="Text column.")] = "text",
    label: Annotated[str, typer.Option("--label", help="Label column.")] = "label",
    good: Annotated[str, typer.Option("--good", help="The label value that means good.")] = "good",
    held_out: Annotated[float, typer.Option("--held-out", help="Share of rows held out to measure the model.")] = 0.1,
    epoch: Annotated[int, typer.Option("--epoch", help="Training epochs.")] = 25,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out split and of training.")] = 13,
    quantize: Annotated[bool, typer.Option("--quantize", help="Write a small quantized model.")] = False,
    from_: FromOpt = None,
    kind: KindOpt = None,
    rename: RenameOpt = None,
    quote: QuoteOpt = None,
) -> None:
    """Train a fastText quality classifier for the quality_classifier stage."""
    from curate.quality.classifier import TrainSettings
    from curate.quality.classifier import train_quality as train

    with _errors():
        if not 0.0 <= held_out < 1.0:
            raise ConfigError("--held-out must be in [0, 1)", value=held_out)
        renames = {**_parse_renames(rename), **{c: n for c, n in ((text, "text"), (label, "label")) if c != n}}
        try:
            dataset = io.read(src, format=from_, kind=kind or "classification", rename=renames, quote=_quote(quote))
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
        text, label = "text", "label"
        try:
            report = train(
                table.column(text).to_pylist(),
                table.column(label).to_pylist(),
                out_path,
                good=good,
                held_out=held_out,
                settings=TrainSettings(epoch=epoch, lr=lr, seed=seed),
                quantize=quantize,
            )
        except ValueError as exc:
            raise ConfigError("cannot train", where=Where(file=str(src), field=label), hint=str(exc)) from None
        rows = ", ".join(f"{name} {count:,}" for name, count in report.rows.items())
        out.print(f"wrote {report.model} (rows: {rows})", highlight=False)
        if report.accuracy is not None:
            out.print(
                f"held out {report.held_out:,} rows: accuracy {report.accuracy:.3f}, '{good}' precision "
                f"{report.precision:.3f} recall {report.recall:.3f} F1 {report.f1:.3f}",
                highlight=False,
            )


# ----------------------------------------------------------------------------- schema, stages


@schema_app.command("show")
def schema_show(kind: Annotated[str, typer.Argument(help="Schema kind.")]) -> None:
    """Print one schema kind: fields, types, which are required."""
    from curate.schemas import describe

    with _errors():
        out.print(describe(kind), highlight=False, markup=False)


@schema_app.command("list")
def schema_list() -> None:
    """List the schema kinds."""
    from curate.schemas import get_schema, kinds

    for kind in kinds():
        out.print(f"{kind:<16} {get_schema(kind).description}", highlight=False, markup=False)


@app.command()
def stages() -> None:
    """List every stage with its parameters and defaults."""
    from curate.stages import REGISTRY

    for name, cls in sorted(REGISTRY.items()):
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        out.print(f"[bold]{name}[/]  kinds: {', '.join(cls.kinds) or 'any'}", highlight=False)
        out.print("  " + " ".join(doc.split()), highlight=False, markup=False)
        for field_name, field in cls.Params.model_fields.items():
            default = "required" if field.is_required() else f"default {field.get_default(call_default_factory=True)!r}"
            type_name = _type_name(field.annotation)
            description = " ".join((field.description or "").split())
            out.print(f"    {field_name}: {type_name} ({default})  {description}", highlight=False, markup=False)
        out.print()


def _type_name(annotation: Any) -> str:
    """A parameter type as a user reads it: ``int | None``, ``list[str]``, ``'chars' | 'words'``."""
    import types
    import typing

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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CurateError as exc:  # raised outside a command body (should not happen)
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)


__all__ = ["Where", "app", "main"]
