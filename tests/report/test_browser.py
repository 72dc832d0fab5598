"""report.html in a real browser: headless Chromium opens the page as a file, offline, and every
section and chart must be there, drawn, without a console error (tests/report/chromium.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.chromium import NOT_INSTALLED, Browser, browser, executable
from tests.report.report_page import READY

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def chromium():
    if executable() is None:
        pytest.skip(NOT_INSTALLED)
    with browser() as running:
        yield running


def open_report(chromium: Browser, path: Path) -> dict:
    """Open the page and collect what the test looks at, straight from the DOM."""
    page = chromium.open(path, ready=READY, width=1280, height=1600)
    seen = chromium.evaluate(
        """(() => {
        const charts = [...document.querySelectorAll('.chart')].map(c => ({
            name: c.dataset.chart, failed: c.dataset.failed || null,
            marks: c.querySelectorAll('svg .mark-rect path, svg .mark-rule line, svg .mark-rect rect').length,
            width: c.getBoundingClientRect().width, height: c.getBoundingClientRect().height}));
        const stages = [...document.querySelectorAll('section.stage')].map(s => ({
            id: s.dataset.stage,
            findings: [...s.querySelectorAll('.finding')].map(f => ({
                kind: f.dataset.kind, name: f.dataset.name, examples: f.querySelectorAll('.example').length,
                text: f.innerText.length})),
            sections: [...s.querySelectorAll('[data-section]')].map(d => d.dataset.section),
            text: s.innerText.length}));
        return {state: document.body.dataset.charts, charts, stages,
                specs: Object.keys(JSON.parse(document.getElementById('curate-charts').textContent)).length,
                overview: document.querySelector('#overview') ? document.querySelector('#overview').innerText : '',
                lengths: document.querySelectorAll('#lengths .chart').length};
    })()"""
    )
    requests = [
        e["params"]["request"]["url"]
        for e in chromium.events
        if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == chromium.session
    ]
    return {**seen, "errors": page.errors, "requests": requests}


def assert_drawn(seen: dict) -> None:
    assert seen["errors"] == []
    assert seen["state"] == "done"
    assert not [u for u in seen["requests"] if not u.startswith(("file:", "data:", "about:"))]
    assert len(seen["charts"]) == seen["specs"] > 0
    for chart in seen["charts"]:
        assert chart["failed"] is None and chart["marks"] > 0 and chart["width"] > 50 and chart["height"] > 50, chart


def test_the_demo_report_shows_every_stage_with_its_examples_and_charts(chromium, demo_run, tmp_path):
    seen = open_report(chromium, demo_run.dir / "report.html")
    assert_drawn(seen)
    assert [s["id"] for s in seen["stages"]] == [r.id for r in demo_run.stages]
    assert all(r.id in seen["overview"] for r in demo_run.stages) and seen["lengths"] == 2
    charts = {c["name"] for c in seen["charts"]}
    assert {"funnel", "seconds", "length:context", "length:question"} <= charts
    assert {"histogram:lang_context_score", "histogram:gopher_word_count", "histogram:mrc_overlap"} <= charts
    assert {"languages:lang_context"} <= charts
    by_id = {s["id"]: s for s in seen["stages"]}
    for run in demo_run.stages:
        shown = by_id[run.id]
        assert shown["text"] > 100
        reasons = {f["name"]: f for f in shown["findings"] if f["kind"] == "reason"}
        assert set(reasons) == set(run.stats.reasons)  # every reason, each with example rows
        assert all(f["examples"] >= 1 for f in shown["findings"]), shown
    assert {f["name"] for f in by_id["mrc_checks"]["findings"] if f["kind"] == "flag"} == {
        "mrc_answer_ambiguous", "mrc_mismatched", "mrc_too_easy"
    }  # fmt: skip
    for rewriting in ("validate_spans", "normalize_text", "pii"):
        assert any(f["kind"] == "rewrite" for f in by_id[rewriting]["findings"])
    assert "clusters" in by_id["near_dedup"]["sections"] and "clusters" in by_id["exact_dedup"]["sections"]
    shot = tmp_path / "report.png"
    chromium.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_label_issues_draw_the_heatmap(chromium, classification_run):
    seen = open_report(chromium, classification_run.dir / "report.html")
    assert_drawn(seen)
    labels = next(s for s in seen["stages"] if s["id"] == "label_issues")
    assert "labels" in labels["sections"]
    assert "labels" in {c["name"] for c in seen["charts"]}
