"""Bias diagnoses as text: rich tables for the terminal, a Markdown section for ``report.md``.

Both are made from the same :class:`Block` list (a title, headers and rows of strings), so the
terminal and the report always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.table import Table

from curate.bias import Diagnostics

if TYPE_CHECKING:
    from curate.run_folder import RunResult

_PERCENT_METRICS = (
    "_share",
    "accuracy",
    "baseline",
    "coverage",
    "precision",
    "first_sentence_chars",
    "random_sentence",
    "mean_relative_start",
)
"""Metric names (endings) whose values are shares, shown as percentages."""


@dataclass(frozen=True)
class Block:
    """One table: ``title``, ``headers`` and ``rows`` of already formatted cells."""

    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def format_value(metric: str, value: float | None) -> str:
    """A metric value as text: shares as percentages, counts with thousands separators,
    p-values in scientific notation."""
    if value is None:
        return "-"
    if metric in ("p_value", "level"):
        return f"{value:.2e}"
    if metric.endswith(_PERCENT_METRICS):
        return f"{100 * value:.1f}%"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3f}"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def metric_block(diagnostics: Diagnostics) -> Block:
    rows = [
        (r["section"], r["metric"], format_value(r["metric"], r["value"]), r["detail"] or "")
        for r in diagnostics.metrics.to_pylist()
    ]
    return Block(f"bias: {diagnostics.task}", ("section", "metric", "value", "detail"), rows)


def token_block(diagnostics: Diagnostics, top: int = 10) -> Block | None:
    """Shortcut tokens per label (``token P(label|token) rows``), labels by share."""
    if not diagnostics.tokens.num_rows:
        return None
    by_token = {(r["label"], r["token"]): r for r in diagnostics.listed().to_pylist()}
    rows = []
    for label, share in diagnostics.shares("labels").items():
        tokens = diagnostics.shortcuts(label)[:top]
        cells = [f"{t} {_percent(by_token[(label, t)]['p_label'])} ({by_token[(label, t)]['rows']:,})" for t in tokens]
        rows.append((label, _percent(share), ", ".join(cells) or "(none significant)"))
    return Block("shortcut tokens: token P(label | token) (rows)", ("label", "share", "tokens"), rows)


def distribution_blocks(diagnostics: Diagnostics) -> list[Block]:
    """One block per distribution section: ``category, rows, share`` for a single group, or a
    group x category table of shares (rows per group last)."""
    table = diagnostics.distributions.to_pylist()
    blocks = []
    for section in dict.fromkeys(r["section"] for r in table):
        if section == "labels" and diagnostics.tokens.num_rows:
            continue  # shown with the shortcut tokens
        rows = [r for r in table if r["section"] == section]
        groups = list(dict.fromkeys(r["group"] for r in rows))
        if groups == ["all"]:
            cells = [(r["category"], f"{r['rows']:,}", _percent(r["share"])) for r in rows]
            blocks.append(Block(section, ("category", "rows", "share"), cells))
            continue
        categories = list(dict.fromkeys(r["category"] for r in rows))
        share = {(r["group"], r["category"]): r["share"] for r in rows}
        size = {g: sum(r["rows"] for r in rows if r["group"] == g) for g in groups}
        cells = [(g, *(_percent(share.get((g, c), 0.0)) for c in categories), f"{size[g]:,}") for g in groups]
        blocks.append(Block(f"{section} (share of each group)", ("group", *categories, "rows"), cells))
    return blocks


def diagnostics_blocks(diagnostics: Diagnostics, top: int = 10) -> list[Block]:
    """Everything worth reading of one diagnosis."""
    tokens = token_block(diagnostics, top)
    return [metric_block(diagnostics), *([tokens] if tokens else []), *distribution_blocks(diagnostics)]


def shift_blocks(shifts: pa.Table, top: int = 15, tokens_per_label: int = 10) -> list[Block]:
    """The shifts of :func:`curate.bias.compare`: every metric that changed, the ``top`` largest
    share changes, and for each label the first ``tokens_per_label`` shortcut tokens' P(label |
    token) on both sides."""
    rows = shifts.to_pylist()

    def changed(r: dict[str, Any]) -> bool:
        return r["change"] is None or abs(r["change"]) > 1e-12

    def points(change: float | None) -> str:
        return "-" if change is None else f"{100 * change:+.1f} pt"

    metrics = [
        (r["section"], r["name"], format_value(r["name"], r["before"]), format_value(r["name"], r["after"]))
        for r in rows
        if r["measure"] == "value" and changed(r)
    ]
    shares = sorted(
        (r for r in rows if r["measure"] == "share" and changed(r)),
        key=lambda r: (r["change"] is not None, -abs(r["change"] or 0.0)),
    )[:top]
    tokens: list[dict[str, Any]] = []
    for label in dict.fromkeys(r["group"] for r in rows if r["measure"] == "p_label"):
        tokens += [r for r in rows if r["measure"] == "p_label" and r["group"] == label][:tokens_per_label]
    blocks = [
        Block("metrics that changed", ("section", "metric", "before", "after"), metrics),
        Block(
            f"largest share changes (top {top}; '-': the group is empty on that side)",
            ("section", "group", "category", "before", "after", "change"),
            [
                (r["section"], r["group"], r["name"], _percent(r["before"]), _percent(r["after"]), points(r["change"]))
                for r in shares
            ],
        ),
    ]
    if tokens:
        blocks.append(
            Block(
                "shortcut tokens, P(label | token) ('-': below min_count or no longer associated)",
                ("label", "token", "before", "after", "change"),
                [
                    (r["group"], r["name"], _percent(r["before"]), _percent(r["after"]), points(r["change"]))
                    for r in tokens
                ],
            )
        )
    return blocks


# --------------------------------------------------------------------------- renderers


_TEXT_HEADERS = frozenset({"section", "metric", "detail", "tokens", "label", "token", "group", "category"})


def rich_table(block: Block) -> Table:
    table = Table(title=block.title, title_justify="left")
    for i, header in enumerate(block.headers):
        justify = "left" if i == 0 or header in _TEXT_HEADERS else "right"
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in block.rows:
        table.add_row(*row)
    return table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(blocks: list[Block]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        lines += ["", f"**{block.title}**", "", "| " + " | ".join(block.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in block.headers) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    return lines


# --------------------------------------------------------------------------- runs


def read_diagnostics(stage_dir: Path, artifacts: list[str]) -> Diagnostics:
    """The diagnosis a ``bias_report`` stage wrote into its folder."""
    tables = {Path(name).stem: pq.read_table(stage_dir / name) for name in artifacts if name.startswith("bias_")}
    return Diagnostics.from_artifacts(tables)


def run_section(result: RunResult) -> list[str]:
    """The ``## Bias`` section of a run's report: each ``bias_report`` stage's diagnosis, and
    the shifts from the first to the last when there are several ([] without such a stage)."""
    from curate.bias import compare

    runs = [run for run in result.stages if run.use == "bias_report"]
    if not runs:
        return []
    found = [(run, read_diagnostics(run.dir, run.artifacts)) for run in runs]
    lines = ["", "## Bias", ""]
    lines.append(
        "Tables of each `bias_report` stage: `bias_metrics.parquet`, `bias_distributions.parquet`, "
        "`bias_tokens.parquet` in its folder."
    )
    for run, diagnostics in found:
        lines += ["", f"### `{run.id}` ({run.dir.name})"]
        lines += markdown(diagnostics_blocks(diagnostics))
    (first, before), (last, after) = found[0], found[-1]
    if len(found) > 1 and before.task == after.task:
        lines += ["", f"### Shifts from `{first.id}` to `{last.id}`"]
        lines += markdown(shift_blocks(compare(before, after)))
    return lines


def card_sections(run_dir: Path, stages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The bias sections of a dataset card (:mod:`curate.io.card`) from a run's manifest ``stages``:
    each ``bias_report`` stage's blocks, and the shifts from the first to the last when there are
    several of one task, as ``[{"title", "blocks": [{"title", "headers", "rows"}]}]``."""
    from curate.bias import compare

    runs = [s for s in stages if s.get("use") == "bias_report"]
    found = [(s, read_diagnostics(run_dir / s["dir"], list(s.get("artifacts", [])))) for s in runs]
    sections = [(f"`{s['id']}` ({s['dir']})", diagnostics_blocks(d)) for s, d in found]
    if len(found) > 1 and found[0][1].task == found[-1][1].task:
        (first, before), (last, after) = found[0], found[-1]
        sections.append((f"shifts from `{first['id']}` to `{last['id']}`", shift_blocks(compare(before, after))))
    return [
        {
            "title": title,
            "blocks": [
                {"title": b.title, "headers": list(b.headers), "rows": [list(r) for r in b.rows]} for b in blocks
            ],
        }
        for title, blocks in sections
    ]
