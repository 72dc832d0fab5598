"""``report.html``: one self-contained page per run that opens offline (no network, no other file).

:func:`render` turns a loaded :class:`~curate.report.load.Run` into the page (pure); the charts are
Vega-Lite specs drawn in the browser by the Vega bundle inlined in the page
(:func:`curate.report.charts.vega_bundle`). :func:`write_html_report` loads a run folder and writes
the page, ``report.html`` in the folder by default.

What the page holds: the funnel (rows after each stage) and seconds per stage; text lengths of the
input and the output; per stage its reasons, flags and rewrites, each with its count and example
rows (the fields looked at, the value that failed, ``reject_detail`` quoted, before and after for
rewrites), a histogram of every score column with the stage's thresholds, language shares, the
largest duplicate clusters, train/eval overlaps with the shared span marked, given against
suggested labels with the worst rows, and a generating stage's verdicts and token usage. When the
run has a ``pii`` stage, PII in every example is masked. Elements carry ``data-section`` and
``data-chart`` attributes, and ``document.body.dataset.charts`` becomes ``done`` once every chart
is drawn (``failed`` when one could not be).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from curate.files import atomic_file
from curate.report import charts
from curate.report.load import Example, Finding, Run, Stage, load_run

_STYLE = """
:root { --kept: #4c78a8; --rejected: #e45756; --flag: #f2a93b; --rewrite: #54a24b; --line: #e3e3e3; }
* { box-sizing: border-box; }
body {
  margin: 0;
  font: 14px/1.45 system-ui, 'Noto Sans KR', 'Nanum Gothic', sans-serif;
  color: #222;
  background: #fafafa;
}
nav {
  position: fixed;
  top: 0;
  left: 0;
  bottom: 0;
  width: 230px;
  overflow-y: auto;
  padding: 16px 12px;
  background: #fff;
  border-right: 1px solid var(--line);
  font-size: 13px;
}
nav a { display: block; padding: 2px 4px; color: #225; text-decoration: none; border-radius: 3px; }
nav a:hover { background: #eef; }
nav .n { float: right; color: #888; font-variant-numeric: tabular-nums; }
main { margin-left: 230px; padding: 20px 28px 60px; max-width: 1320px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 14px; margin: 10px 0 4px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 18px; margin: 16px 0; }
.meta { color: #555; margin: 2px 0; }
.warn { background: #fff4e0; border-left: 4px solid var(--flag); padding: 6px 10px; margin: 8px 0; }
table { border-collapse: collapse; }
table.counts td, table.counts th { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: right; }
table.counts td:first-child, table.counts th:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 10px 24px; align-items: flex-start; }
.chart { min-height: 40px; }
.finding { border-left: 4px solid var(--rejected); padding: 2px 0 4px 12px; margin: 10px 0; }
.finding[data-kind=flag] { border-color: var(--flag); }
.finding[data-kind=rewrite] { border-color: var(--rewrite); }
.finding[data-kind=verdict] { border-color: var(--kept); }
.count { color: #666; font-weight: normal; }
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 8px; }
.example {
  border: 1px solid var(--line);
  border-radius: 4px;
  padding: 6px 8px;
  background: #fcfcfc;
  font-size: 13px;
  overflow-wrap: anywhere;
}
.example .key { font-family: ui-monospace, monospace; color: #555; font-size: 12px; }
.example table { width: 100%; }
.example th {
  width: 1%;
  text-align: left;
  vertical-align: top;
  padding: 1px 8px 1px 0;
  color: #555;
  font-weight: 600;
  white-space: nowrap;
  font-size: 12px;
}
.example td { padding: 1px 0; }
blockquote {
  margin: 4px 0;
  padding: 2px 8px;
  border-left: 3px solid #bbb;
  background: #f3f3f3;
  font-family: ui-monospace, monospace;
  font-size: 12px;
}
del { background: #fbd3d3; text-decoration: line-through; }
ins { background: #cfeccb; text-decoration: none; }
mark { background: #ffe27a; }
.side { color: #888; font-size: 11px; text-transform: uppercase; margin-right: 4px; }
details summary { cursor: pointer; color: #446; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.cluster, .pair { border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; margin: 8px 0; }
.muted { color: #888; }
"""

_CLOSING = re.compile(r"</(script)", re.IGNORECASE)
_EMBED = """
(function () {
  const specs = JSON.parse(document.getElementById('curate-charts').textContent);
  const jobs = Object.keys(specs).map(function (id) {
    return vegaEmbed('#' + id, specs[id], {renderer: 'svg', actions: false}).catch(function (error) {
      document.getElementById(id).dataset.failed = String(error);
      console.error('chart ' + id + ' could not be drawn: ' + error);
      throw error;
    });
  });
  Promise.all(jobs).then(
    function () { document.body.dataset.charts = 'done'; },
    function () { document.body.dataset.charts = 'failed'; }
  );
})();
"""


def write_html_report(
    run_dir: str | Path, out: str | Path | None = None, *, manifest: Mapping[str, Any] | None = None
) -> Path:
    """Write the report of the run in ``run_dir`` to ``out`` (default ``run_dir/report.html``) and return
    its path. ``manifest`` stands in for ``manifest.json`` while a run is publishing (written last)."""
    run = load_run(run_dir, manifest=manifest)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    with atomic_file(path) as tmp:
        tmp.write_text(render(run), encoding="utf-8")
    return path


def render(run: Run) -> str:
    """The whole page for ``run``."""
    page = _Page()
    body = [_header(run), _overview(run, page), _lengths(run, page), *(_stage(s, page) for s in run.stages)]
    specs = json.dumps(page.specs, ensure_ascii=False, separators=(",", ":"))
    return "".join(
        [
            "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>curate run {escape(run.name)}</title><style>{_STYLE}</style>",
            f"<script>{_script(charts.vega_bundle())}</script></head>\n<body>",
            _toc(run),
            "<main>",
            *body,
            _footer(),
            "</main>",
            f"<script type='application/json' id='curate-charts'>{_script(specs)}</script>",
            f"<script>{_EMBED}</script>",
            "</body></html>\n",
        ]
    )


class _Page:
    """Collects the chart specs of the page; each chart is a ``div`` with an id."""

    def __init__(self) -> None:
        self.specs: dict[str, Any] = {}

    def chart(self, name: str, spec: dict[str, Any], title: str | None = None) -> str:
        chart_id = f"chart-{len(self.specs) + 1}"
        self.specs[chart_id] = spec
        heading = f"<h4>{escape(title)}</h4>" if title else ""
        chart = f"<div class='chart' id='{chart_id}' data-chart='{escape(name)}'></div>"
        return f"<figure style='margin:0'>{heading}{chart}</figure>"


def _script(text: str) -> str:
    """JavaScript or JSON safe inside a ``<script>`` element: ``</script`` and ``<!--`` cannot occur
    (inside JSON and JavaScript strings, ``<\\/`` and ``\\u003C!--`` read the same)."""
    return _CLOSING.sub(r"<\\/\1", text).replace("<!--", "\\u003C!--")


def _n(value: int) -> str:
    return f"{value:,}"


def _rows(value: int) -> str:
    return f"{value:,} row" + ("" if value == 1 else "s")


def _header(run: Run) -> str:
    meta = []
    if run.input_path:
        meta.append(
            f"input <code>{escape(run.input_path)}</code>: {_n(run.input_rows)} rows ({escape(run.input_kind or '?')})"
        )
    if run.output_rows is not None:
        meta.append(
            f"output <code>output.parquet</code>: {_n(run.output_rows)} rows ({escape(run.output_kind or '?')})"
        )
    if run.seconds is not None:
        meta.append(f"{run.seconds:.1f} s")
    if run.created:
        meta.append(escape(run.created))
    parts = [f"<header><h1>Run <code>{escape(run.name)}</code></h1><p class='meta'>{' · '.join(meta)}</p>"]
    if not run.finished:
        parts.append(
            "<p class='warn'>This run did not finish: no <code>manifest.json</code>; shown from the stage folders "
            "it wrote.</p>"
        )
    parts += [f"<p class='warn'>{escape(w)}</p>" for w in run.warnings]
    if run.masked:
        parts.append(
            "<p class='meta'>The run has a <code>pii</code> stage: personal data in the examples is masked.</p>"
        )
    if run.exports:
        parts.append("<p class='meta'>exports: " + ", ".join(f"<code>{escape(e)}</code>" for e in run.exports) + "</p>")
    return "".join(parts) + "</header>"


def _toc(run: Run) -> str:
    links = ["<a href='#overview'>Overview</a>"]
    if run.lengths:
        links.append("<a href='#lengths'>Text lengths</a>")
    for s in run.stages:
        count = f"<span class='n'>−{_n(s.rows_rejected)}</span>" if s.rows_rejected else ""
        links.append(f"<a href='#{_anchor(s)}'>{s.index:02d} {escape(s.id)}{count}</a>")
    return f"<nav><strong>curate</strong> · {escape(run.name)}<br><br>{''.join(links)}</nav>"


def _anchor(stage: Stage) -> str:
    return f"stage-{stage.index:02d}"


def _overview(run: Run, page: _Page) -> str:
    names = ("stage", "rows in", "kept", "rejected", "flagged", "rewritten", "seconds")
    header = "<tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    rows = []
    for s in run.stages:
        rows_in = _n(s.rows_in) + (f" +{_n(s.rows_added)} new" if s.rows_added else "")
        seconds = f"{s.seconds:.2f}" + (" (resumed)" if s.resumed else "")
        cells = [
            f"<a href='#{_anchor(s)}'>{s.index:02d} {escape(s.id)}</a>",
            rows_in,
            _n(s.rows_kept),
            _n(s.rows_rejected),
            _n(s.rows_flagged if s.rows_flagged is not None else sum(f.rows for f in s.flags)),
            _n(s.rows_rewritten if s.rows_rewritten is not None else sum(f.rows for f in s.rewrites)),
            seconds,
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    steps = [
        ("input", run.input_rows, 0),
        *((f"{s.index:02d} {s.id}", s.rows_kept, s.rows_rejected) for s in run.stages),
    ]
    funnel = page.chart("funnel", charts.funnel(steps), "Rows after each stage (rejected in red)")
    timing = page.chart(
        "seconds",
        charts.seconds([(f"{s.index:02d} {s.id}", s.seconds, s.resumed) for s in run.stages]),
        "Seconds per stage",
    )
    return (
        "<section id='overview' data-section='overview'><h2>Overview</h2>"
        f"<table class='counts'>{header}{''.join(rows)}</table>"
        f"<div class='charts'>{funnel}{timing}</div></section>"
    )


def _lengths(run: Run, page: _Page) -> str:
    if not run.lengths:
        return ""
    shown = "".join(
        page.chart(
            f"length:{h.column}",
            charts.histogram(f"{h.column} characters", h.bins, series=h.series, stacked=h.stacked),
            h.column,
        )
        for h in run.lengths
    )
    return (
        "<section id='lengths' data-section='lengths'><h2>Text lengths before and after</h2>"
        "<p class='meta'>Characters per row in the run's input and in its output (the last bin holds the "
        "longest 0.5%).</p>"
        f"<div class='charts'>{shown}</div></section>"
    )


def _stage(s: Stage, page: _Page) -> str:
    use = f" <span class='count'>({escape(s.use)})</span>" if s.use and s.use != s.id else ""
    line = (f"{escape(s.role)} · " if s.role else "") + f"{_n(s.rows_in)} rows in"
    line += f", {_n(s.rows_added)} new" if s.rows_added else ""
    counts = ((s.rows_flagged, "flagged"), (s.rows_rewritten, "rewritten"))
    marked = "".join(f", {_n(n)} {what}" for n, what in counts if n)
    line += f" → {_n(s.rows_kept)} kept, {_n(s.rows_rejected)} rejected{marked} · {s.seconds:.2f} s" + (
        " (resumed)" if s.resumed else ""
    )
    parts = [
        f"<section class='stage' id='{_anchor(s)}' data-section='stage' data-stage='{escape(s.id)}'>",
        f"<h2>{s.index:02d} {escape(s.id)}{use}</h2><p class='meta'>{line} · folder <code>{escape(s.dir)}</code></p>",
    ]
    if s.warning:
        parts.append(f"<p class='warn'>{escape(s.warning)}</p>")
    if s.params:
        params = escape(json.dumps(s.params, ensure_ascii=False, indent=1))
        parts.append(f"<details><summary>parameters</summary><pre>{params}</pre></details>")
    parts += [
        _findings("Rejected", "reason", s.reasons),
        _findings("Flagged (kept)", "flag", s.flags),
        _findings("Rewritten", "rewrite", s.rewrites),
        _scores(s, page),
        _languages(s, page),
        _clusters(s),
        _pairs(s),
        _labels(s, page),
        _generation(s, page),
    ]
    if not (s.reasons or s.flags or s.rewrites or s.generation or s.rows_added):
        parts.append("<p class='muted' data-section='nothing'>Nothing rejected, flagged or rewritten.</p>")
    if s.artifacts:
        listed = ", ".join(f"<code>{escape(name)}</code> ({_n(rows)} rows)" for name, rows in s.artifacts)
        parts.append(f"<p class='meta'>artifacts in the stage folder: {listed}</p>")
    return "".join(parts) + "</section>"


def _findings(title: str, kind: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    blocks = []
    for f in findings:
        examples = "".join(_example(e) for e in f.examples)
        blocks.append(
            f"<div class='finding' data-kind='{kind}' data-name='{escape(f.name)}'>"
            f"<h4>{escape(f.name)} <span class='count'>{_rows(f.rows)}</span></h4>"
            + (f"<div class='examples'>{examples}</div>" if examples else "")
            + "</div>"
        )
    return f"<div data-section='{kind}s'><h3>{title}</h3>{''.join(blocks)}</div>"


def _example(e: Example) -> str:
    rows = []
    for column, (before, after) in e.changes.items():
        rows.append(
            f"<tr><th>{escape(column)}</th><td><div><span class='side'>before</span>{_pieces(before, 'del')}</div>"
            f"<div><span class='side'>after</span>{_pieces(after, 'ins')}</div></td></tr>"
        )
    rows += [f"<tr><th>{escape(c)}</th><td>{escape(v)}</td></tr>" for c, v in e.values]
    detail = f"<blockquote>{escape(e.detail)}</blockquote>" if e.detail else ""
    key = f"<div class='key'>{escape(e.key)}</div>" if e.key else ""
    return f"<div class='example'>{key}{detail}<table>{''.join(rows)}</table></div>"


def _pieces(pieces: Iterable[tuple[str, bool]], tag: str) -> str:
    """Text with its changed pieces in ``tag``; inside a deletion or insertion, spaces and invisible
    characters are drawn (``␣``, ``↵``, ``<U+200B>``) and text that is not NFC says so, so a whitespace
    or Unicode edit can be seen."""
    shown = _visible if tag in ("del", "ins") else str
    return "".join(f"<{tag}>{escape(shown(t))}</{tag}>" if changed else escape(t) for t, changed in pieces)


_SHOWN = {" ": "␣", "\n": "↵", "\t": "⇥"}


def _visible(text: str) -> str:
    """A changed piece as shown: text that is not NFC says so, and a piece of only spaces or invisible
    characters is drawn (``␣``, ``↵``, ``<U+200B>``)."""
    note = "" if unicodedata.is_normalized("NFC", text) else " ⟨not NFC⟩"
    if any(not _invisible(c) for c in text):
        return text + note
    return "".join(_SHOWN.get(c) or f"<U+{ord(c):04X}>" for c in text) + note


def _invisible(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Mn")


def _scores(s: Stage, page: _Page) -> str:
    if not s.histograms:
        return ""
    shown, notes = [], []
    for h in s.histograms:
        if h.bins:
            chart = page.chart(f"histogram:{h.column}", charts.histogram(h.column, h.bins, h.thresholds), h.column)
            lines = " · ".join(escape(charts.threshold_label(t)) for t in h.thresholds)
            shown.append(
                chart.replace("</figure>", f"<figcaption class='meta'>{lines}</figcaption></figure>")
                if lines
                else chart
            )
        for t in h.off_axis:
            notes.append(
                f"<code>{escape(t.param)}</code> {t.value:g} on <code>{escape(t.column)}</code> "
                "lies far outside the data"
            )
        if h.constant is not None:
            notes.append(f"every row with a value ({_n(h.rows)}) has <code>{escape(h.column)}</code> = {h.constant:g}")
        if h.nulls:
            notes.append(f"<code>{escape(h.column)}</code>: {_n(h.nulls)} rows without a value")
    note = f"<p class='meta'>{'; '.join(notes)}.</p>" if notes else ""
    return (
        "<div data-section='scores'><h3>Scores <span class='count'>kept in blue, rejected in red; dashed lines are the "
        f"stage's thresholds</span></h3><div class='charts'>{''.join(shown)}</div>{note}</div>"
    )


def _languages(s: Stage, page: _Page) -> str:
    if not s.languages:
        return ""
    shown = "".join(
        page.chart(f"languages:{lang.column}", charts.shares(lang.column, lang.values), lang.column)
        for lang in s.languages
    )
    return f"<div data-section='languages'><h3>Languages</h3><div class='charts'>{shown}</div></div>"


def _clusters(s: Stage) -> str:
    if not s.clusters:
        return ""
    blocks = []
    for c in s.clusters:
        members = "".join(
            _example(m)
            if sim is None
            else _example(m).replace("<table>", f"<p class='meta'>similarity {sim:.2f}</p><table>", 1)
            for m, sim in c.members
        )
        kept = _example(c.representative) if c.representative else f"<p class='meta'>kept row {escape(c.key)}</p>"
        blocks.append(
            f"<div class='cluster'><h4>cluster of {_rows(c.size)}, kept <code>{escape(c.key)}</code></h4>"
            f"<div class='examples'>{kept}{members}</div></div>"
        )
    return (
        "<div data-section='clusters'><h3>Largest duplicate clusters <span class='count'>the kept row first, then the "
        f"rows rejected as its duplicates</span></h3>{''.join(blocks)}</div>"
    )


def _pairs(s: Stage) -> str:
    if not s.pairs and not s.pairs_note:
        return ""
    blocks = []
    for p in s.pairs:
        train = _pieces(p.train, "mark")
        other = (
            _pieces(p.eval, "mark")
            if p.eval is not None
            else "<span class='muted'>(evaluation text not available)</span>"
        )
        blocks.append(
            f"<div class='pair'><h4><code>{escape(p.train_id)}</code> ↔ <code>{escape(p.eval_id)}</code> "
            f"<span class='count'>{escape(p.field)}, {escape(p.method)}, overlap {p.overlap:.2f}</span></h4>"
            f"<div><span class='side'>train</span>{train}</div><div><span class='side'>eval</span>{other}</div></div>"
        )
    note = f"<p class='meta'>{escape(s.pairs_note)}</p>" if s.pairs_note else ""
    return (
        "<div data-section='contamination'><h3>Train/eval overlaps <span class='count'>closest pairs, the longest "
        f"shared span marked</span></h3>{note}{''.join(blocks)}</div>"
    )


def _labels(s: Stage, page: _Page) -> str:
    if s.labels is None:
        return ""
    lab = s.labels
    heat = page.chart(
        "labels", charts.heatmap(lab.given, lab.suggested, lab.cells), f"{lab.given} against {lab.suggested} (rows)"
    )
    worst = "".join(_example(e) for e in lab.worst)
    return (
        f"<div data-section='labels'><h3>Label issues</h3><div class='charts'>{heat}</div>"
        f"<h4>Worst flagged rows</h4><div class='examples'>{worst or '<p class=muted>none flagged</p>'}</div></div>"
    )


def _generation(s: Stage, page: _Page) -> str:
    if s.generation is None:
        return ""
    gen = s.generation
    verdicts = page.chart(
        "verdicts", charts.bars("pairs", [(v.name, v.rows) for v in gen.verdicts]), "Proposed pairs per verdict"
    )
    tokens = [(k, v) for k, v in gen.usage.items() if "tokens" in k and isinstance(v, int | float)]
    usage_chart = page.chart("tokens", charts.bars("tokens", tokens, charts.REJECTED), "Token usage") if tokens else ""
    usage = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in gen.usage.items())
    return (
        f"<div data-section='generation'><h3>Generation</h3><div class='charts'>{verdicts}{usage_chart}"
        f"<table class='counts'>{usage}</table></div>{_findings('Verdicts', 'verdict', gen.verdicts)}</div>"
    )


def _footer() -> str:
    return (
        "<p class='muted'>Charts: Vega-Lite, drawn offline by the Vega bundle of vl-convert-python "
        f"{escape(charts.vega_version())} "
        "inlined in this file.</p>"
    )
