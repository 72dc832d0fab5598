"""report.html on real data: XQuAD-en (../shared/data/xquad/xquad.en.json) and NSMC reviews
(../shared/data/nsmc/binary_sample50k.tsv).

Regressions: on XQuAD the three examples of a passage-level rejection were three questions on one
passage, the same passage three times; on NSMC most of what normalize_text rewrites is a double
space, and its before/after looked unchanged.
"""

from __future__ import annotations

import re

from curate.pipeline import run_pipeline
from curate.report.html import render
from curate.report.load import load_run
from tests.conftest import needs_shared


def test_examples_of_a_passage_rule_show_different_passages(tmp_path):
    xquad = needs_shared("xquad", "xquad.en.json")
    config = {"name": "xquad", "input": {"path": str(xquad)}, "stages": [{"use": "gopher_quality"}]}
    result = run_pipeline(config, output=tmp_path / "run")
    short = next(f for f in load_run(result.dir).stages[0].reasons if f.name == "gopher_word_count")
    assert short.rows >= 30  # XQuAD's short paragraphs, under Gopher's 50 words
    contexts = [dict(e.values)["context"] for e in short.examples]
    assert len(contexts) == 3 and len(set(contexts)) == 3
    assert all(int(dict(e.values)["gopher_word_count"]) < 50 for e in short.examples)


def test_a_whitespace_rewrite_is_visible(tmp_path):
    nsmc = needs_shared("nsmc", "binary_sample50k.tsv")
    config = {
        "name": "nsmc",
        "input": {"path": str(nsmc), "kind": "classification", "columns": {"document": "text"}},
        "stages": [{"use": "normalize_text"}],
    }
    result = run_pipeline(config, output=tmp_path / "run")
    rewrites = load_run(result.dir).stages[0].rewrites
    assert rewrites and rewrites[0].rows > 1000
    spaces_only = [
        e for e in rewrites[0].examples if all(not t.strip() for t, changed in e.changes["text"][0] if changed)
    ]
    assert spaces_only  # the first rewritten reviews lose a doubled space
    page = render(load_run(result.dir))
    assert re.search(r"<del>␣+</del>", page)
