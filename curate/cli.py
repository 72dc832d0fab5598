"""The ``curate`` command: a thin skin over the Python API.

Errors a user can cause print one line (``error: ...``) and exit 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from curate import api, io, progress
from curate._version import __version__
from curate.config import M, validated
from curate.dedup.contamination import ContaminationSettings
from curate.errors import ConfigError, CurateError, Where
from curate.pipeline import Reporter, stage_line, start_line
from curate.quality.classifier import TrainSettings
from curate.retrieval.chunk import ChunkSettings
from curate.retrieval.negatives import MiningSettings
from curate.stages.bias_report import BiasReportParams
from curate.stages.chunk_passages import ChunkPassagesParams
from curate.stages.label_issues import LabelIssuesParams
from curate.stages.mine_hard_negatives import MineHardNegativesParams
from curate.stages.minhash_dedup import MinHashDedupParams
from curate.validate import Validation

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
        out.print(f"curate {__version__}")
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


def _reading(from_: str | None, rename: list[str] | None = None, quote: str | None = None) -> dict[str, Any]:
    """The input options every reading command shares, as the API takes them."""
    return {"format": from_, "rename": _parse_renames(rename), "quote": _quote(quote)}


def _written(card: Path | None, warnings: tuple[str, ...] = ()) -> None:
    """Print the dataset card an API call wrote (``card: PATH``) and its warnings."""
    if card is not None:
        out.print(f"card: {card}", highlight=False)
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)


# ----------------------------------------------------------------------------- run


class _Counts(ProgressColumn):
    """``40,000/100,000 rows`` (``40,000 rows`` while the total is unknown)."""

    def render(self, task: Any) -> Text:
        total = f"/{int(task.total):,}" if task.total is not None else ""
        return Text(f"{int(task.completed):,}{total} {task.fields.get('unit', '')}")


class _Display:
    """Shows the progress of one piece of work after another (a stage, a command): rich bars, one per
    phase, when stderr is a terminal; plain ``[curate] ...`` lines at most every 10 s otherwise (CI
    logs); nothing when ``quiet``."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.lines = None if quiet or err.is_terminal else progress.Lines(self._print)
        self.bars: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.label = ""

    @staticmethod
    def _print(line: str) -> None:
        err.print(line, highlight=False, markup=False)

    def begin(self, label: str) -> None:
        """Start the work called ``label`` (a stage folder's name, a command)."""
        self.end()
        self.label = label
        if self.lines is not None:
            self.lines.begin(label)

    def progress(self, phase: str, done: int, total: int | None, unit: str) -> None:
        """A :data:`curate.progress.Listener`."""
        if self.lines is not None:
            self.lines.step(phase, done, total, unit)
        if self.quiet or self.lines is not None:
            return
        if self.bars is None:
            self.bars = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                _Counts(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                redirect_stdout=False,  # results go to stdout, which may be a file
            )
            self.bars.start()
        task = self.tasks.get(phase)
        if task is None:
            for earlier in self.tasks.values():  # the phase before has ended: its clock stops
                self.bars.stop_task(earlier)
            task = self.tasks[phase] = self.bars.add_task(f"{self.label}: {phase}", total=total, unit=unit)
        self.bars.update(task, completed=done, total=total)

    def end(self, *, stopped: bool = False) -> None:
        """End the current work: its phases' bars go (the lines mode says the last phase ended, or
        was ``stopped`` by an error)."""
        if self.lines is not None:
            self.lines.end(stopped=stopped)
        if self.bars is not None:
            for task in self.tasks.values():
                self.bars.remove_task(task)
        self.tasks = {}

    def close(self, *, stopped: bool = False) -> None:
        self.end(stopped=stopped)
        if self.bars is not None:
            self.bars.stop()
            self.bars = None


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[_Display]:
    """Show the progress of the work done inside (see :class:`_Display`) as ``label``."""
    display = _Display(quiet)
    display.begin(label)
    try:
        with progress.listening(display.progress):
            yield display
    except BaseException:
        display.close(stopped=True)
        raise
    display.close()


QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Show no progress (errors, warnings and results still print).")
]


class _RunReporter(Reporter):
    """``curate run``: each stage's progress (:class:`_Display`), its line of counts when it ends, notes
    and warnings (these two even when quiet)."""

    def __init__(self, quiet: bool = False):
        self.display = _Display(quiet)

    def stage_started(self, stage: Any, index: int, total_rows: int) -> None:
        self.display.begin(f"{index:02d}_{stage.id}")
        if self.display.lines is not None:
            self.display.lines.line(start_line(stage, index, total_rows))

    def progress(self, phase: str, done: int, total: int | None, unit: str) -> None:
        self.display.progress(phase, done, total, unit)

    def stage_finished(self, run: Any) -> None:
        self.display.end()
        if not self.display.quiet:
            err.print(f"  {escape(stage_line(run))}", highlight=False)

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
    quiet: QuietOpt = False,
    executor: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--executor", help="Where batches are split: local, processes or ray (default: the pipeline's)."),
    ] = None,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", help="processes: how many; ray: tasks at once (default: every core or CPU)."),
    ] = None,
    ray_address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--ray-address", help="ray: the cluster to join (auto: started with `ray start`; host:port)."),
    ] = None,
) -> None:
    """Run a pipeline; finished stages whose inputs and params did not change are resumed. Progress
    goes to stderr (bars on a terminal, plain lines otherwise) and to run.log in the run folder."""
    from curate.executors import ExecutorSettings
    from curate.report.summary import summary_table

    with _errors():
        flags = {"name": "--executor", "workers": "--workers", "address": "--ray-address"}
        given = {"name": executor, "workers": workers, "address": ray_address}
        changes = {key: value for key, value in given.items() if value is not None}
        validated(
            ExecutorSettings, changes, noun="option", name=lambda key: flags.get(key, key)
        )  # one line naming the option
        reporter = _RunReporter(quiet)
        try:
            result = api.run(
                pipeline, input=input, output=output, force=force, reporter=reporter, executor=changes or None
            )
        except BaseException:
            reporter.display.close(stopped=True)
            raise
        reporter.display.close()
        out.print(summary_table(result))
        out.print(f"output: {result.dir / 'output.parquet'} ({result.output.num_rows:,} rows)", highlight=False)
        for path in result.exports:
            out.print(f"export: {path}", highlight=False)
        for card in result.cards:
            out.print(f"card: {result.dir / card}", highlight=False)
        out.print(
            f"report: {result.dir / 'report.html'} ({result.dir / 'report.md'})   manifest: {result.manifest_path}"
            f"   log: {result.dir / 'run.log'}",
            highlight=False,
        )


# ----------------------------------------------------------------------------- rejected


@app.command()
def rejected(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `curate run`.")],
    stage: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--stage", help="Only this stage's rows (its id, or its folder name such as 03_pii)."),
    ] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Only rows with this reject_reason.")] = None,  # noqa: UP045
    out_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Write every matching row here: .parquet, .jsonl, .csv or .tsv."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows shown in the terminal.")] = 20,
) -> None:
    """Every rejected row of a run in one table (stages in run order, columns joined by name): a
    short table in the terminal, or all of them in --out FILE."""
    with _errors():
        found = api.rejected(run_dir, stage=stage, reason=reason, out=out_file)
        table = found.table
        listed = ", ".join(f"{s}/{r} {n:,}" for s, r, n in found.counts)
        out.print(f"{table.num_rows:,} rejected rows" + (f": {listed}" if listed else ""), highlight=False)
        if found.out is not None:
            out.print(f"written: {found.out} ({table.num_columns} columns)", highlight=False)
            return
        key = next((c for c in ("id", "doc_id", "query_id") if c in table.column_names), None)
        head = table.slice(0, limit).to_pylist()
        cells = [
            (str(row["reject_stage"]), str(row["reject_reason"]), str(row[key] if key else n), row["reject_detail"])
            for n, row in enumerate(head)
        ]
        shown = Table(box=None, pad_edge=False)
        used = 0
        for i, header in enumerate(("stage", "reason", key or "row")):
            width = min(30, max([len(header), *(len(c[i]) for c in cells)]))
            shown.add_column(header, no_wrap=True, overflow="ellipsis", width=width)
            used += width + 2
        shown.add_column("detail", no_wrap=True, overflow="ellipsis", width=max(20, out.width - used))
        for cell in cells:
            shown.add_row(*cell)
        if head:
            out.print(shown)
        if table.num_rows > len(head):
            out.print(f"showing {len(head):,} of {table.num_rows:,}; write them all with --out FILE", highlight=False)


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
    with _errors():
        page = api.report(run_dir, out_file)
        out.print(f"report: {page.path} ({page.bytes:,} bytes)", highlight=False)


# ----------------------------------------------------------------------------- convert


@app.command()
def convert(
    src: Annotated[str, typer.Argument(help="Input file or folder (or s3://bucket/key).")],
    dst: Annotated[str, typer.Argument(help="Output file or folder (or s3://bucket/key).")],
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
    quiet: QuietOpt = False,
) -> None:
    """Convert between formats (squad, jsonl, csv, tsv, parquet, beir, hf) with column renames."""
    with _errors():
        with _progress("convert", quiet):
            done = api.convert(
                src,
                dst,
                to=to,
                kind=kind,
                split=split,
                skip_bad_rows=skip_bad_rows,
                quarantine=quarantine,
                **_reading(from_, rename, quote),
            )
        if done.kind is None:
            counts = ", ".join(f"{k} {v:,}" for k, v in done.parts.items())
            out.print(f"wrote {dst} ({counts})", highlight=False)
        else:
            out.print(f"wrote {dst} ({done.rows:,} rows, kind {done.kind})", highlight=False)
        _written(done.card, done.warnings)
        if done.quarantined:
            err.print(
                f"{done.quarantined:,} unreadable rows skipped, each with its reason -> {done.quarantine}",
                highlight=False,
            )


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
    quiet: QuietOpt = False,
) -> None:
    """Check schema conformance and (MRC) every answer span, or a retrieval folder's corpus, queries
    and qrels against each other. Exit 0 clean, 1 problems, 2 unusable."""
    with _errors():
        with _progress("validate", quiet):
            found = api.validate(src, kind=kind, **_reading(from_, rename, quote), report=report, repair=repair)
        if found.kind is None:
            _show_retrieval_problems(found)
        elif found.clean:
            out.print(f"{src}: {found.rows:,} rows of kind {found.kind}, no problems", highlight=False)
        else:
            table = Table(
                title=f"{src}: {found.problems.num_rows:,} problems in "
                f"{found.rows_with_problems:,} of {found.rows:,} rows"
            )
            table.add_column("problem")
            table.add_column("count", justify="right")
            table.add_column("first example")
            examples: dict[str, str] = {}
            for row in found.problems.to_pylist():
                examples.setdefault(row["problem"], f"row {row['row']} ({row['id']}) {row['field']}: {row['detail']}")
            for code, count in Validation(found.rows, found.problems).counts().items():
                table.add_row(code, f"{count:,}", examples[code])
            out.print(table)
        if report is not None:
            out.print(f"report: {report}", highlight=False)
        if found.repaired is not None:
            _written(found.card, found.warnings)
            out.print(
                f"repaired: {found.repaired} ({found.repaired_rows:,} rows); "
                f"could not repair: {found.unrepaired} ({found.unrepaired_rows:,} rows)",
                highlight=False,
            )
        if not found.clean:
            raise typer.Exit(1)


def _show_retrieval_problems(found: api.Validated) -> None:
    """The problems of a retrieval folder: a line when there are none, else a table of the count and
    first example per part and problem."""
    counts = ", ".join(f"{name} {rows:,}" for name, rows in found.parts.items())
    if found.clean:
        out.print(f"{found.src}: {counts}, no problems", highlight=False)
        return
    table = Table(title=f"{found.src} ({counts}): {found.problems.num_rows:,} problems")
    for header in ("table", "problem", "count", "first example"):
        table.add_column(header, justify="right" if header == "count" else "left")
    seen: dict[tuple[str, str], list[Any]] = {}
    for row in found.problems.to_pylist():
        example = f"row {row['row']} ({row['id']}): {row['detail']}"
        entry = seen.setdefault((row["table"], row["code"]), [0, example])
        entry[0] += 1
    for (part, code), (count, first) in seen.items():
        table.add_row(part, code, f"{count:,}", first)
    out.print(table)


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
    quiet: QuietOpt = False,
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
        with _progress("dedup", quiet):
            done = api.dedup(
                src,
                dst,
                params,
                rejected=rejected,
                clusters=clusters,
                conflicts=conflicts,
                kind=kind,
                **_reading(from_, rename, quote),
            )
        stats = done.stats
        extra = ""
        if done.qrels_repointed is not None:
            extra = f"; qrels re-pointed {done.qrels_repointed:,}, merged {done.qrels_merged:,}"
            if done.qrels_merged:
                extra += f" ({done.qrels_score_conflicts:,} with different scores, the highest kept)"
        reasons = f" ({_reasons(stats.reasons)})" if stats.reasons else ""
        flags = f"; kept rows flagged: {_reasons(stats.flags)}" if stats.flags else ""
        out.print(
            f"{stats.rows_in:,} rows: kept {stats.rows_kept:,}, removed {stats.rows_rejected:,}{reasons}{flags} "
            f"in {stats.seconds:.1f}s{extra}",
            highlight=False,
        )
        written = {"clusters": done.clusters, "conflicts": done.conflicts}
        out.print(
            f"kept: {done.kept}  removed: {done.rejected}"
            + "".join(f"  {name}: {path}" for name, path in written.items() if path is not None),
            highlight=False,
        )
        _written(done.card, done.warnings)


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
    quiet: QuietOpt = False,
) -> None:
    """Find training rows that overlap an evaluation set (MinHash near-duplicates, shared 13-word or
    50-character runs, exact short texts). A finding is not an error: the exit code is 0."""
    with _errors():
        settings = _settings(
            ContaminationSettings, locals(), ngram_words=ngram_words or None, ngram_chars=ngram_chars or None
        )
        with _progress("contamination", quiet):
            done = api.contamination(
                train,
                evaluation,
                settings,
                fields=field,
                report=report,
                drop=drop,
                kind=kind,
                format=from_,
                eval_format=eval_from,
            )
        found = done.found
        table = Table(title=f"{train}: {done.contaminated:,} of {found.num_train:,} training rows overlap {evaluation}")
        for name in ("field", "method", "train rows", "eval rows"):
            table.add_column(name, justify="right" if name.endswith("rows") else "left")
        for row in found.counts().to_pylist():
            table.add_row(row["field"], row["method"], f"{row['train_rows']:,}", f"{row['eval_rows']:,}")
        out.print(table)
        if done.report is not None:
            out.print(f"report: {done.report} ({done.report_rows:,} rows)", highlight=False)
        if done.clean is not None:
            out.print(f"clean: {done.clean} ({done.clean_rows:,} rows)", highlight=False)
            _written(done.card, done.warnings)


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
    with _errors():
        _check_choice_option("--to", to, ("beir", "parquet"))
        done = api.mrc_to_retrieval(src, dst, to=to, split=split, format=from_)
        counts = ", ".join(f"{name} {rows:,}" for name, rows in done.parts.items())
        out.print(f"wrote {dst} ({counts})", highlight=False)
        _written(done.card, done.warnings)


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
    quiet: QuietOpt = False,
) -> None:
    """Mine BM25 hard negatives that are really negative: never a positive, never a near-duplicate of
    one, never a passage containing an answer as written or in another form, or an answer of the
    same question asked elsewhere. Every mined negative is written; the line printed says what the
    file holds."""
    with _errors():
        params = _settings(MineHardNegativesParams, locals())
        with _progress("mine-negatives", quiet):
            done = api.mine_negatives(src, dst, params, to=to, split=split, format=from_)
        if done.rejected:
            none = "question gives" if done.rejected == 1 else "questions give"
            err.print(f"{done.rejected:,} {none} no triplet ({_reasons(dict(done.reasons))})", highlight=False)
        dropped = ", ".join(f"{k} {v:,}" for k, v in done.dropped.items())
        out.print(f"wrote {dst} ({done.written.describe()}; candidates dropped by guard: {dropped})", highlight=False)
        _written(done.card, done.warnings)


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
    quiet: QuietOpt = False,
) -> None:
    """Split long passages on sentence boundaries without cutting an answer; qrels (or MRC questions)
    follow their answer to the passage that holds it."""
    with _errors():
        settings = _settings(ChunkPassagesParams, locals())
        with _progress("chunk-passages", quiet):
            done = api.chunk_passages(src, dst, settings, to=to, format=from_)
        if done.corpus is not None and done.qrels is not None:
            out.print(
                f"wrote {dst} (corpus {done.corpus[0]:,} -> {done.corpus[1]:,} passages, "
                f"qrels {done.qrels[0]:,} -> {done.qrels[1]:,})",
                highlight=False,
            )
            _written(done.card, done.warnings)
            return
        out.print(f"wrote {dst} ({done.questions:,} questions on {done.passages:,} passages)", highlight=False)
        _written(done.card, done.warnings)
        if done.rejected:
            err.print(f"{done.rejected:,} questions not chunked ({_reasons(dict(done.reasons))})", highlight=False)


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
    quiet: QuietOpt = False,
) -> None:
    """Find rows whose label is probably wrong (out-of-fold probabilities + cleanlab)."""
    with _errors():
        params = _settings(LabelIssuesParams, locals(), pred_probs_column=pred_probs)
        with _progress("label-issues", quiet):
            done = api.label_issues(src, params, out=out_path, issues=issues, **_reading(from_, rename, quote))
        found = done.issues
        out.print(f"{src}: {found.num_rows:,} of {done.rows:,} rows have a likely label issue", highlight=False)
        table = Table()
        for header in ("id", "label", "suggested", "quality", "text"):
            table.add_column(header)
        for row in found.slice(0, top).to_pylist():
            text = (row["text"] or "")[:60]
            table.add_row(row["id"], row["label"], row["suggested_label"], f"{row['label_quality']:.3f}", text)
        if found.num_rows:
            out.print(table)
        if done.out is not None:
            out.print(f"wrote {done.out}", highlight=False)
            _written(done.card, done.warnings)
        if done.issues_file is not None:
            out.print(f"issues: {done.issues_file}", highlight=False)


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
    quiet: QuietOpt = False,
) -> None:
    """Measure biases a model could learn instead of the task: label shortcut tokens, the best
    one-token rule and label shares by length (classification); answer positions, question types
    and a lexical-overlap heuristic (MRC); how often BM25 ranks the positive first (retrieval)."""
    from curate.report.bias import diagnostics_blocks, rich_table, shift_blocks

    with _errors():
        params = _settings(BiasReportParams, locals())
        with _progress("bias", quiet):
            done = api.bias(src, params, compare=compare_with, out=out_dir, kind=kind, **_reading(from_, rename, quote))
        for block in diagnostics_blocks(done.before, top):
            out.print(rich_table(block))
        if done.shifts is not None:
            out.print(f"shifts from {done.before_path} to {done.after_path}:", highlight=False)
            for block in shift_blocks(done.shifts):
                out.print(rich_table(block))
        if out_dir is not None:
            out.print(f"wrote {len(done.tables)} tables to {out_dir}", highlight=False)


# ----------------------------------------------------------------------------- Label Studio


AnnotateKindOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--kind", help="classification, mrc or qrels (default: inferred from the data)."),
]


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
    quiet: QuietOpt = False,
) -> None:
    """Write Label Studio tasks (current value and suggestion as predictions) and the labeling config."""
    with _errors():
        with _progress("export", quiet):
            done = api.export_label_studio(
                src,
                out_dir,
                select=select,
                suggestion=suggestion,
                suggestion_score=suggestion_score,
                push=push,
                project=project,
                title=title,
                kind=kind,
                format=from_,
            )
        out.print(f"wrote {done.tasks_file} ({done.tasks:,} tasks) and {done.config_file}")
        if push is not None and not done.tasks:
            out.print("nothing pushed: no row selected", highlight=False)
        elif done.pushed is not None:
            pushed = done.pushed
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
    with _errors():
        done = api.import_label_studio(
            src, dst, export, pull=pull, save_export=save_export, report=report, kind=kind, format=from_
        )
        summary = ", ".join(f"{status} {count:,}" for status, count in done.statuses.items())
        out.print(f"wrote {dst} ({done.rows:,} rows; tasks: {summary})", highlight=False)
        _written(done.card, done.warnings)


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
    with _errors():
        settings = TrainSettings(epoch=epoch, lr=lr, seed=seed)
        done = api.train_quality(
            src,
            out_path,
            settings,
            text=text,
            label=label,
            good=good,
            held_out=held_out,
            quantize=quantize,
            kind=kind,
            **_reading(from_, rename, quote),
        )
        rows = ", ".join(f"{name} {count:,}" for name, count in done.rows.items())
        out.print(f"wrote {done.model} (rows: {rows})", highlight=False)
        if done.accuracy is not None:
            out.print(
                f"held out {done.held_out:,} rows: accuracy {done.accuracy:.3f}, '{good}' precision "
                f"{done.precision:.3f} recall {done.recall:.3f} F1 {done.f1:.3f}",
                highlight=False,
            )


# ----------------------------------------------------------------------------- schema, stages


@schema_app.command("show")
def schema_show(kind: Annotated[str, typer.Argument(help="Schema kind.")]) -> None:
    """Print one schema kind: fields, types, which are required."""
    with _errors():
        out.print(api.schema(kind), highlight=False, markup=False)


@schema_app.command("list")
def schema_list() -> None:
    """List the schema kinds."""
    for kind, description in api.schemas().items():
        out.print(f"{kind:<16} {description}", highlight=False, markup=False)


@app.command()
def stages(
    name: Annotated[Optional[str], typer.Argument(help="One stage: its role, parameters and columns.")] = None,  # noqa: UP045
) -> None:
    """List every stage with its role and what it does, or show one stage in full."""
    from curate.stages import ROLES

    with _errors():
        if name is not None:
            _show_stage(api.stage(name))
            return
        listed = api.stages()
    width = max(len(info.name) for info in listed) + 2
    out.print(f"{'stage':<{width}}{'role':<10}what it does [kinds it accepts]", highlight=False, markup=False)
    for info in listed:
        kinds = ", ".join(info.kinds) or "any"
        out.print(f"{info.name:<{width}}{info.role:<10}{info.description} [{kinds}]", highlight=False, markup=False)
    out.print("\nroles:", highlight=False, markup=False)
    for role, meaning in ROLES.items():
        out.print(f"  {role:<10}{meaning}", highlight=False, markup=False)
    out.print("`curate stages NAME` shows a stage's parameters and the columns it adds.", highlight=False, markup=False)


def _show_stage(info: api.StageInfo) -> None:
    """One stage: name, role, kinds, the columns it adds, what it does (its description, then its
    docstring's paragraphs) and its parameters (type, default, help)."""
    lines = [
        f"{info.name}  ({info.cls})",
        f"role:   {info.role} ({info.role_meaning})",
        f"kinds:  {', '.join(info.kinds) or 'any'}",
        f"adds:   {', '.join(info.adds) or '-'}",
    ]
    for paragraph in dict.fromkeys([info.description, *info.paragraphs]):
        lines += ["", paragraph]
    lines += ["", "parameters:" if info.params else "parameters: none"]
    for param in info.params:
        lines.append(f"  {param.name}: {param.type} ({param.default})  {param.help}".rstrip())
    out.print("\n".join(lines), highlight=False, markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CurateError as exc:  # raised outside a command body (should not happen)
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)


__all__ = ["Where", "app", "main"]
