"""End-of-run summaries: a rich table for the terminal and ``report.md`` in the run folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from curate.files import atomic_file
from curate.report.bias import run_section as bias_section

if TYPE_CHECKING:
    from curate.run_folder import RunResult


def _counts(counts: dict[str, int]) -> str:
    """``name count, ...``, largest first."""
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1]))


def _rows(result: RunResult) -> list[tuple[str, str, str, str, str, str, str]]:
    """``(stage, role, rows in, kept, rejected, reasons, seconds)`` per stage."""
    rows = []
    for run in result.stages:
        s = run.stats
        reasons = _counts(s.reasons)
        if s.flags:
            reasons = "; ".join(filter(None, [reasons, f"flagged: {_counts(s.flags)}"]))
        seconds = "resumed" if run.resumed else f"{s.seconds:.2f}"
        rows_in = f"{s.rows_in:,}" + (f" +{s.rows_added:,} new" if s.rows_added else "")
        counts = (rows_in, f"{s.rows_kept:,}", f"{s.rows_rejected:,}")
        rows.append((run.id, run.role or "-", *counts, reasons or "-", seconds))
    return rows


def summary_table(result: RunResult) -> Table:
    """Role, rows in / kept / rejected per stage and reason, with seconds (or ``resumed``)."""
    table = Table(title=f"curate run '{result.name}'", title_justify="left")
    for header, justify in (
        ("stage", "left"),
        ("role", "left"),
        ("rows in", "right"),
        ("kept", "right"),
        ("rejected", "right"),
        ("reasons", "left"),
        ("seconds", "right"),
    ):
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in _rows(result):
        table.add_row(*row)
    return table


def write_markdown_report(result: RunResult) -> None:
    """Write ``report.md``: the summary table, warnings, where outputs are, and how to query the
    rejected rows of this run's stages (and no other folder)."""
    lines = [
        f"# Run `{result.name}`",
        "",
        f"Input rows: {result.input_rows:,}"
        + (f" ({result.quarantined:,} unreadable rows in `input/quarantine.jsonl`)" if result.quarantined else ""),
        f"Output rows: {result.output.num_rows:,} in `output.parquet`",
        "",
        "| stage | role | rows in | kept | rejected | reasons | seconds |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    if result.warnings:
        lines += ["", "## Warnings", "", *(f"- {warning}" for warning in result.warnings)]
    if result.stages:
        quoted = [str(run.dir / "rejected.parquet").replace("'", "''") for run in result.stages]
        lines += [
            "",
            "Each stage folder holds `kept.parquet`, `rejected.parquet` (with `reject_stage`, `reject_reason`,",
            "`reject_detail`) and `stats.json`. Every rejected row of the run:",
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
