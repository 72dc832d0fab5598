"""End-of-run summaries: a rich table for the terminal and ``report.md`` in the run folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from curate.files import atomic_file
from curate.report.bias import run_section as bias_section
from curate.run_folder import part_output

if TYPE_CHECKING:
    from curate.run_folder import RunResult


def _counts(counts: dict[str, int]) -> str:
    """``name count, ...``, largest first (ties by name)."""
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


COLUMNS = (
    "stage",
    "role",
    "rows in",
    "kept",
    "rejected",
    "flagged",
    "rewritten",
    "reasons, flags, rewrites",
    "seconds",
)
"""Columns of the summary; ``flagged`` and ``rewritten`` count kept rows with any flag or rewrite."""


def _rows(result: RunResult) -> list[tuple[str, ...]]:
    """One tuple of :data:`COLUMNS` per stage."""
    rows = []
    for run in result.stages:
        s = run.stats
        what = [
            f"rejected: {_counts(s.reasons)}" if s.reasons else "",
            f"flagged: {_counts(s.flags)}" if s.flags else "",
            f"rewritten: {_counts(s.rewrites)}" if s.rewrites else "",
        ]
        seconds = "resumed" if run.resumed else f"{s.seconds:.2f}"
        rows_in = f"{s.rows_in:,}" + (f" +{s.rows_added:,} new" if s.rows_added else "")
        counts = (s.rows_kept, s.rows_rejected, s.rows_flagged, s.rows_rewritten)
        rows.append(
            (
                f"{run.id} ({run.part})" if run.part else run.id,
                run.role or "-",
                rows_in,
                *(f"{n:,}" for n in counts),
                "; ".join(filter(None, what)) or "-",
                seconds,
            )
        )
    return rows


def summary_table(result: RunResult) -> Group:
    """Role, rows in / kept / rejected / flagged / rewritten per stage with seconds (or ``resumed``), then
    one line per stage with its counts per reason, flag and rewrite (readable in a narrow terminal)."""
    table = Table(
        title=f"curate run '{result.name}'",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    details = COLUMNS.index("reasons, flags, rewrites")
    for header in COLUMNS[:details] + COLUMNS[details + 1 :]:
        if header in ("stage", "role"):
            table.add_column(header, overflow="fold")
        else:  # counts are never cut: the stage names wrap instead
            table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    lines = []
    for row in _rows(result):
        table.add_row(*row[:details], *row[details + 1 :])
        if row[details] != "-":
            lines.append(Text.assemble((f"{row[0]}: ", "bold"), row[details]))
    return Group(table, *lines)


def write_markdown_report(result: RunResult) -> None:
    """Write ``report.md``: the summary table, warnings, where outputs are, and how to query the
    rejected rows of this run's stages (and no other folder)."""
    lines = [
        f"# Run `{result.name}`",
        "",
        f"Input rows: {result.input_rows:,}"
        + (f" ({result.quarantined:,} unreadable rows in `input/quarantine.jsonl`)" if result.quarantined else ""),
        f"Output rows: {result.output.num_rows:,} in `output.parquet`"
        + (f" ({result.output.kind})" if result.parts else ""),
        *(
            f"Retrieval-set part {name}: {part.num_rows:,} rows in `{part_output(name)}`"
            for name, part in result.parts.items()
        ),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    if result.warnings:
        lines += ["", "## Warnings", "", *(f"- {warning}" for warning in result.warnings)]
    if result.stages:
        quoted = [str(run.dir / "rejected.parquet" / "*.parquet").replace("'", "''") for run in result.stages]
        lines += [
            "",
            "Each stage folder holds the Parquet folders `kept.parquet/` and `rejected.parquet/` (a file per",
            "batch; rejected rows with `reject_stage`, `reject_reason`, `reject_detail`) and `stats.json`.",
            "Every rejected row of the run:",
            "",
            "```sql",
            "SELECT reject_stage, reject_reason, count(*) FROM read_parquet([",
            ",\n".join(f"    '{path}'" for path in quoted),
            "], union_by_name = true) GROUP BY ALL;",
            "```",
        ]
    if result.exports:
        lines += ["", "Exports: " + ", ".join(f"`{p.relative_to(result.dir)}`" for p in result.exports)]
    lines += bias_section(result)
    with atomic_file(result.dir / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
