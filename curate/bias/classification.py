"""Bias diagnosis of a classification set, streamed batch by batch (pure: Arrow batches in).

Sections of the :class:`~curate.bias.result.Diagnostics` it returns:

- metrics ``dataset``: ``rows``, ``labelled_rows`` (rows with a label; the others take no part),
  ``labels``;
- metrics ``one_token_rule``: ``accuracy``, ``baseline`` (always the most common label),
  ``coverage`` and ``precision`` of the best one-token rule (detail: ``'최고' -> 1, else 0``),
  see :func:`curate.bias.tokens.one_token_rule`;
- metrics ``tokens``: ``tested`` tokens, ``tests`` (tested tokens x labels), ``significant``
  associations and the corrected ``level`` (alpha / tests);
- distribution ``labels``: the label shares of the set, and ``text_length``: the shares of the
  text length buckets (characters: 0-9, 10-19, 20-39, ... 640+);
- distribution ``label_by_length`` (groups: the length buckets) and, when the rows have a
  ``source`` column, ``label_by_source`` (groups: its values, ``(none)`` for null): label shares
  inside each group. Their metrics sections hold
  Cramér's V of the group x label table (0: the label does not depend on the group, 1: the group
  decides it) and the chi-square test's ``p_value``;
- tokens: :func:`curate.bias.tokens.token_associations`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from curate.bias.result import Diagnostics, MetricRows, bucket_names, distribution_table, share_rows
from curate.bias.tokens import (
    TokenSettings,
    count_tokens,
    describe_rule,
    merge_counts,
    one_token_rule,
    token_associations,
)

LENGTH_EDGES = (0, 10, 20, 40, 80, 160, 320, 640)
"""Character-length buckets of the texts: 0-9, 10-19, 20-39, ..., 640+."""
NO_SOURCE = "(none)"
MERGE_ROWS = 20_000_000
"""Token counts of batches are summed once this many (token, label) rows are waiting: merging
after every batch re-sorts the growing table each time (measured: most of the time on NSMC)."""


def association_strength(table: dict[str, Counter[str]]) -> tuple[float | None, float | None]:
    """Cramér's V and the p-value of Pearson's chi-square test of independence of a
    ``{group: {label: rows}}`` table; None when it has fewer than two groups or labels with rows."""
    from scipy.special import chdtrc

    groups = [g for g in table if sum(table[g].values())]
    labels = sorted({label for g in groups for label, n in table[g].items() if n})
    if len(groups) < 2 or len(labels) < 2:
        return None, None
    observed = np.array([[table[g].get(label, 0) for label in labels] for g in groups], np.float64)
    total = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    statistic = float(((observed - expected) ** 2 / expected).sum())
    v = math.sqrt(statistic / (total * (min(len(groups), len(labels)) - 1)))
    return v, float(chdtrc((len(groups) - 1) * (len(labels) - 1), statistic))


def classification_bias(
    batches: Iterable[pa.Table],
    *,
    text: str = "text",
    label: str = "label",
    source: str | None = "source",
    settings: TokenSettings | None = None,
    length_edges: Sequence[int] = LENGTH_EDGES,
) -> Diagnostics:
    """Diagnose label shortcuts of classification rows (see the module notes).

    Args:
        batches: Arrow tables with the ``text`` and ``label`` columns (and ``source`` when the
            set has it); read once, in order, so a whole set never needs to be in memory.
        text: column whose tokens and length are measured (``text_pair`` for the hypothesis of
            an NLI set).
        source: column whose values group the rows, when present; None: no source section.
    """
    settings = settings or TokenSettings()
    partial: list[pl.DataFrame] = []  # token counts of the batches not merged yet
    counts = merge_counts()
    label_rows: Counter[str] = Counter()
    by_length: dict[str, Counter[str]] = {}
    by_source: dict[str, Counter[str]] = {}
    rows = 0
    has_source = False
    buckets = bucket_names(length_edges)
    for batch in batches:
        rows += batch.num_rows
        if not batch.num_rows:
            continue
        labels = pl.Series("label", batch.column(label), dtype=pl.String)
        texts = pl.Series("text", batch.column(text), dtype=pl.String)
        partial.append(count_tokens(texts, labels, settings))
        if sum(p.height for p in partial) > MERGE_ROWS:
            counts, partial = merge_counts(counts, *partial), []
        chars = texts.str.len_chars().fill_null(0).to_numpy()
        bucket = np.searchsorted(np.asarray(length_edges), chars, side="right") - 1
        frame = pl.DataFrame({"label": labels, "bucket": np.asarray(buckets)[np.maximum(bucket, 0)]})
        if source is not None and source in batch.column_names:
            has_source = True
            frame = frame.with_columns(source=pl.Series(batch.column(source), dtype=pl.String).fill_null(NO_SOURCE))
        frame = frame.drop_nulls("label")
        label_rows.update(dict(frame.group_by("label").len().iter_rows()))
        for bucket, name, n in frame.group_by("bucket", "label").len().iter_rows():
            by_length.setdefault(bucket, Counter())[name] += n
        if has_source:
            for value, name, n in frame.group_by("source", "label").len().iter_rows():
                by_source.setdefault(value, Counter())[name] += n

    counts = merge_counts(counts, *partial)
    label_order = sorted(label_rows, key=lambda k: (-label_rows[k], k))
    metrics = MetricRows("classification")
    labelled = sum(label_rows.values())
    metrics.add("dataset", "rows", rows)
    metrics.add("dataset", "labelled_rows", labelled)
    metrics.add("dataset", "labels", len(label_rows))
    rule = one_token_rule(counts, label_rows, settings)
    detail = describe_rule(rule)
    metrics.add("one_token_rule", "accuracy", rule.accuracy, detail)
    metrics.add("one_token_rule", "baseline", rule.baseline, f"always {label_order[0]}" if label_order else None)
    metrics.add("one_token_rule", "coverage", rule.coverage, detail)
    metrics.add("one_token_rule", "precision", rule.precision, detail)
    tokens, tests = token_associations(counts, label_rows, settings)
    tested = counts.group_by("token").agg(n=pl.col("rows").sum()).filter(pl.col("n") >= settings.min_count).height
    unit = settings.tokenizer + (f" {settings.ngram_min}-{settings.ngram_max}" if settings.tokenizer == "char" else "")
    metrics.add("tokens", "tested", tested, f"{unit}; in at least {settings.min_count} rows")
    metrics.add("tokens", "tests", tests, "tested tokens x labels")
    significant = sum(tokens.column("significant").to_pylist()) if tokens.num_rows else 0
    metrics.add("tokens", "significant", significant, "G-test, PMI > 0, p below level")
    metrics.add("tokens", "level", settings.alpha / tests if tests else None, f"alpha {settings.alpha} / tests")

    shares = share_rows("labels", "all", label_rows, label_order)
    lengths = {bucket: sum(counter.values()) for bucket, counter in by_length.items()}
    shares += share_rows("text_length", "all", lengths, buckets)
    groupings = [("label_by_length", by_length, buckets)]
    if has_source:
        groupings.append(("label_by_source", by_source, sorted(by_source)))
    for section, table, groups in groupings:
        v, p = association_strength(table)
        metrics.add(section, "cramers_v", v, f"{len(table)} groups x {len(label_rows)} labels")
        metrics.add(section, "p_value", p, "chi-square test of independence")
        for group in groups:
            if group in table:
                shares += share_rows(section, group, table[group], label_order, keep_empty=True)
    return Diagnostics("classification", metrics.table(), distribution_table(shares), tokens)
