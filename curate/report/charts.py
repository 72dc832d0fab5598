"""Vega-Lite chart specs for the run report (pure functions: plain data in, a JSON-able dict out),
and the JavaScript that draws them offline.

The JavaScript is Vega, Vega-Lite and Vega-Embed as bundled by the ``vl-convert-python`` package
(``vl_convert.javascript_bundle()``, no network). Bundling takes a few seconds, so the bundle is
kept per process and on disk (``$XDG_CACHE_HOME/curate``, else ``~/.cache/curate``), one file per
``vl-convert-python`` version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from curate.errors import OutputError
from curate.files import atomic_file
from curate.report.catalog import Threshold

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
"""Names the Vega-Lite version of the specs; never fetched."""
KEPT, REJECTED = "#4c78a8", "#e45756"
INPUT, OUTPUT = "#9ecae9", "#4c78a8"
FONT = "system-ui, 'Noto Sans KR', 'Nanum Gothic', sans-serif"
_CONFIG = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "gridColor": "#eee"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "top"},
}

Spec = dict[str, Any]


def _spec(body: Spec, *, width: int | str = 360, height: int = 140) -> Spec:
    return {"$schema": SCHEMA, "width": width, "height": height, "config": _CONFIG, **body}


def funnel(rows: Sequence[tuple[str, int, int]]) -> Spec:
    """Rows kept and rejected at each step, ``(step, kept, rejected)`` in run order (the input first)."""
    order = [step for step, _, _ in rows]
    values = [
        {"step": step, "status": status, "rows": n, "order": i}
        for i, (step, kept, rejected) in enumerate(rows)
        for status, n in (("kept", kept), ("rejected", rejected))
    ]
    return _spec(
        {
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": "step", "type": "nominal", "sort": order, "title": None},
                "x": {"field": "rows", "type": "quantitative", "stack": True, "title": "rows"},
                "color": _colour("status", ("kept", "rejected"), (KEPT, REJECTED)),
                "order": {"field": "status", "sort": "ascending"},
            },
        },
        width=340,
        height=max(60, 20 * len(rows)),
    )


def seconds(rows: Sequence[tuple[str, float, bool]]) -> Spec:
    """Seconds per stage, ``(stage, seconds, resumed)``; a resumed stage shows the time of the run that made it."""
    values = [{"stage": s, "seconds": round(t, 3), "run": "resumed" if r else "ran"} for s, t, r in rows]
    return _spec(
        {
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": "stage", "type": "nominal", "sort": [s for s, _, _ in rows], "title": None},
                "x": {"field": "seconds", "type": "quantitative", "title": "seconds"},
                "color": _colour("run", ("ran", "resumed"), ("#72b7b2", "#bab0ac")),
            },
        },
        width=260,
        height=max(60, 20 * len(rows)),
    )


def histogram(
    column: str,
    bins: Sequence[tuple[float, float, int, int]],
    thresholds: Sequence[Threshold] = (),
    *,
    series: tuple[str, str] = ("kept", "rejected"),
    stacked: bool = True,
) -> Spec:
    """Rows per bin ``(low, high, first, second)`` coloured by series (kept/rejected, or input/output
    overlaid), with a labelled rule at each threshold."""
    colours = (KEPT, REJECTED) if series == ("kept", "rejected") else (INPUT, OUTPUT)
    values = [
        {"low": lo, "high": hi, "series": name, "rows": n}
        for lo, hi, first, second in bins
        for name, n in zip(series, (first, second), strict=True)
        if n
    ]
    bars: Spec = {
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True, **({} if stacked else {"opacity": 0.6})},
        "encoding": {
            "x": {"field": "low", "type": "quantitative", "bin": {"binned": True}, "title": column},
            "x2": {"field": "high"},
            "y": {"field": "rows", "type": "quantitative", "stack": True if stacked else None, "title": "rows"},
            "color": _colour("series", series, colours),
        },
    }
    layers = [bars]
    if thresholds:
        marks = [{"value": t.value, "label": threshold_label(t)} for t in thresholds]
        layers += [
            {
                "data": {"values": marks},
                "mark": {"type": "rule", "color": "#222", "strokeDash": [4, 3], "strokeWidth": 1.5},
                "encoding": {"x": {"field": "value", "type": "quantitative"}, "tooltip": {"field": "label"}},
            },
            {
                "data": {"values": marks},
                "mark": {
                    "type": "text",
                    "angle": 270,
                    "align": "right",
                    "baseline": "bottom",
                    "dx": -2,
                    "dy": -2,
                    "fontSize": 9,
                    "color": "#222",
                    "y": 0,
                    "limit": 130,
                },
                "encoding": {"x": {"field": "value", "type": "quantitative"}, "text": {"field": "label"}},
            },
        ]
    return _spec({"layer": layers} if len(layers) > 1 else bars)


def shares(column: str, values: Sequence[tuple[str, int, int]]) -> Spec:
    """Rows per value of a category column, kept and rejected stacked."""
    data = [
        {"value": v, "status": s, "rows": n}
        for v, kept, rejected in values
        for s, n in (("kept", kept), ("rejected", rejected))
        if n
    ]
    return _spec(
        {
            "data": {"values": data},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": "value", "type": "nominal", "sort": [v for v, _, _ in values], "title": column},
                "x": {"field": "rows", "type": "quantitative", "stack": True, "title": "rows"},
                "color": _colour("status", ("kept", "rejected"), (KEPT, REJECTED)),
            },
        },
        width=300,
        height=max(40, 18 * len(values)),
    )


def heatmap(given: str, suggested: str, cells: Sequence[tuple[str, str, int]]) -> Spec:
    """Rows per (given, suggested) pair, colour on a log scale, counts written in the cells."""
    values = [{"given": g, "suggested": s, "rows": n} for g, s, n in cells]
    labels = sorted({g for g, _, _ in cells} | {s for _, s, _ in cells})
    side = min(480, max(120, 36 * len(labels)))
    encoding = {
        "x": {"field": "suggested", "type": "nominal", "sort": labels, "title": suggested},
        "y": {"field": "given", "type": "nominal", "sort": labels, "title": given},
    }
    return _spec(
        {
            "data": {"values": values},
            "encoding": encoding,
            "layer": [
                {
                    "mark": {"type": "rect", "tooltip": True},
                    "encoding": {
                        "color": {
                            "field": "rows",
                            "type": "quantitative",
                            "scale": {"type": "log", "scheme": "oranges"},
                        }
                    },
                },
                {
                    "mark": {"type": "text", "fontSize": 11},
                    "encoding": {"text": {"field": "rows", "type": "quantitative"}},
                },
            ],
        },
        width=side,
        height=side,
    )


def bars(title: str, values: Sequence[tuple[str, float]], colour: str = KEPT) -> Spec:
    """One bar per ``(name, value)``, in the given order."""
    data = [{"name": n, "value": v} for n, v in values]
    return _spec(
        {
            "data": {"values": data},
            "mark": {"type": "bar", "tooltip": True, "color": colour},
            "encoding": {
                "y": {"field": "name", "type": "nominal", "sort": [n for n, _ in values], "title": None},
                "x": {"field": "value", "type": "quantitative", "title": title},
            },
        },
        width=300,
        height=max(40, 20 * len(values)),
    )


def _colour(field: str, domain: Sequence[str], colours: Sequence[str]) -> Spec:
    scale = {"domain": list(domain), "range": list(colours)}
    return {"field": field, "type": "nominal", "scale": scale, "title": None}


def threshold_label(t: Threshold) -> str:
    """``param value (note)``, e.g. ``min_words_ko 40 (Korean)``."""
    value = f"{t.value:g}"
    return f"{t.param} {value}" + (f" ({t.note})" if t.note else "")


# ---------------------------------------------------------------------------------------------- JavaScript


def vega_version() -> str:
    """The ``vl-convert-python`` version whose bundle draws the charts."""
    return metadata.version("vl-convert-python")


_SNIPPET = "window.vegaEmbed = vegaEmbed;"
"""The code vl-convert bundles with its libraries: it only makes ``vegaEmbed`` global."""


@cache
def vega_bundle() -> str:
    """Vega + Vega-Lite + Vega-Embed as one script (global ``vegaEmbed``), from vl-convert's bundler;
    read from the disk cache when an earlier process made it."""
    tag = hashlib.sha256(_SNIPPET.encode()).hexdigest()[:8]
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "curate"
    path = cache_dir / f"vega-bundle-{vega_version()}-{tag}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    import vl_convert

    bundle: str = vl_convert.javascript_bundle(_SNIPPET)
    try:
        with atomic_file(path, shared=True) as tmp:
            tmp.write_text(bundle, encoding="utf-8")
    except (OSError, OutputError):
        pass  # no cache where the home folder cannot be written: bundle again next time
    return bundle
