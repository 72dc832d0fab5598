"""Token-label association: which tokens give a label away (pure functions over texts and counts).

A model can learn a shortcut from a token that occurs mostly with one label ("최악" in negative
movie reviews). For every token and label this module counts the rows holding the token (a token
counts once per row: document frequency) and measures the association:

- ``p_label`` = P(label | token) = rows with both / rows with the token;
- ``pmi`` = log(P(label | token) / P(label)), natural log (Church and Hanks 1990); 0 means
  independence, ``log(1 / P(label))`` that every row with the token has the label;
- ``npmi`` = pmi / -log P(token, label), in [-1, 1] (Bouma 2009);
- ``g``, the G statistic (log-likelihood ratio, Dunning 1993) of the 2 x 2 table token present /
  absent x label / other labels, and its ``p_value`` (chi-square, one degree of freedom);
- ``pmi_low``: PMI with P(label | token) replaced by the lower end of its Wilson score interval at
  the corrected level below: a token seen 40 times, always with the label, has the largest PMI
  there is but a wide interval; one seen 2,000 times with the label 92% of the time has a smaller
  PMI but a narrow one.

Significance floor: a token is tested only when it occurs in at least ``min_count`` rows, and an
association is ``significant`` when its G-test p-value is below ``alpha`` divided by the number of
tests (tested tokens x labels: Bonferroni's correction), with PMI > 0.

Shortcut tokens of a label: the significant tokens ranked by ``pmi_low`` (then rows, then the
token), at most ``top_k``. Measured on the NSMC binary sample (50,000 reviews): ranked by PMI alone
the top of the list is n-grams seen a few dozen times, always in one class, mostly pieces of
longer words (``미없네``, ``레기다``, ``증나는``, ``화예요``); ranked by G it fills with single
characters and endings (``없``, ``쓰``, ``?``, ``요``, ``!``, ``어요``); ``pmi_low`` ranks
``최악``, ``아깝다``, ``재미없``, ``쓰레기`` first for the negative class and ``최고``, ``♥``,
``굿``, ``밌어요``, ``감동적`` for the positive one. With character n-grams the list skips a
token ``covered_by`` a token one character longer that occurs in at least 90% of its rows (``쓰레``
and ``레기`` in ``쓰레기``), and a token that overlaps one already listed (holds it, is held by it,
or shares a run of all but one of the shorter one's characters, as ``최고입`` and ``고입니``,
``재밌음`` and ``재밌네``): the table keeps every token.

Tokenizers (every text NFC-normalized and lower-cased first):

``char`` (default)
    character n-grams (``ngram_min`` to ``ngram_max``, default 1-3) inside each eojeol (run of
    non-space characters), punctuation and emoticons kept (``^^``, ``ㅡㅡ`` and ``!!`` are
    shortcuts too). Korean glues particles and endings to words (``재미없다``, ``재미없네``,
    ``재미없어요``), so whole eojeol split one shortcut over many rare tokens, while n-grams of 2-3
    syllables find the stem (``재미없``).
``eojeol``
    whitespace-separated words as they are.
``morph``
    kiwipiepy morphemes (the ``morph`` extra), punctuation and symbols left out.

Measured on the NSMC binary sample (``benchmarks/bias.py``, BENCHMARKS.md): ``char`` 1-3 takes
4 s and its best one-token rule (``없`` -> negative) reaches 55.8% accuracy; ``eojeol`` 2 s and
51.6% (``정말`` -> positive); ``morph`` 47 s and 54.1% (``재밌`` -> positive), with lists much
like ``char``'s. ``char`` is the default: as telling as morphemes at 1/11 of the time, it keeps
emoticons, and it needs no model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Self, get_args

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator

from curate.bias.result import TOKEN_SCHEMA
from curate.config import Strict

TokenUnit = Literal["char", "eojeol", "morph"]
TOKEN_UNITS: tuple[TokenUnit, ...] = get_args(TokenUnit)
COVER_SHARE = 0.9
"""A char n-gram is ``covered_by`` a one-character-longer n-gram found in this share of its rows."""


class TokenSettings(Strict):
    """How tokens are made and judged (see the module notes)."""

    tokenizer: TokenUnit = "char"
    """Classification tokens: ``char`` (n-grams inside each eojeol: on NSMC as telling as
    morphemes at a fraction of the time), ``eojeol`` or ``morph`` (kiwipiepy morphemes)."""
    ngram_min: int = Field(default=1, ge=1)
    """Shortest character n-gram (``char``)."""
    ngram_max: int = Field(default=3, ge=1)
    """Longest character n-gram (``char``)."""
    min_count: int = Field(default=20, ge=1)
    """A token is tested when it occurs in at least this many rows."""
    alpha: float = Field(default=0.01, gt=0.0, lt=1.0)
    """Significance level of the G-test, divided by the number of tests (Bonferroni)."""
    top_k: int = Field(default=20, ge=1)
    """Shortcut tokens listed per label."""

    @model_validator(mode="after")
    def _ngrams(self) -> Self:
        if self.ngram_min > self.ngram_max:
            raise ValueError(f"ngram_min ({self.ngram_min}) is above ngram_max ({self.ngram_max})")
        return self


# --------------------------------------------------------------------------- tokens and counts

COUNT_SCHEMA = {"token": pl.String, "label": pl.String, "rows": pl.Int64}
"""Columns of a count table: rows holding ``token`` whose label is ``label``."""


def _prepared(texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pl.Series:
    series = pl.Series("text", texts, dtype=pl.String) if not isinstance(texts, pl.Series) else texts
    return series.fill_null("").str.normalize("NFC").str.to_lowercase()


def row_tokens(texts: pa.Array | pa.ChunkedArray | Sequence[str | None], settings: TokenSettings) -> pl.DataFrame:
    """The distinct tokens of each text: columns ``row`` (index into ``texts``, UInt32) and
    ``token``, one row per (text, token) pair, in no particular order."""
    text = _prepared(texts)
    if settings.tokenizer == "morph":
        from curate.retrieval.negatives import tokenize

        tokens = pl.Series("token", tokenize(text.to_list(), "morph"), dtype=pl.List(pl.String))
        frame = pl.DataFrame({"token": tokens}).with_row_index("row").explode("token")
    else:
        words = pl.DataFrame({"word": text.str.extract_all(r"\S+")}).with_row_index("row").explode("word")
        if settings.tokenizer == "eojeol":
            frame = words.rename({"word": "token"})
        else:
            length = pl.col("word").str.len_chars().cast(pl.Int64)
            frame = pl.concat(
                [
                    words.with_columns(start=pl.int_ranges(0, (length - n + 1).clip(0)))
                    .explode("start")
                    .drop_nulls("start")
                    .select("row", token=pl.col("word").str.slice(pl.col("start"), n))
                    for n in range(settings.ngram_min, settings.ngram_max + 1)
                ]
            )
    frame = frame.drop_nulls("token").filter(pl.col("token") != "")
    return frame.group_by("row").agg(pl.col("token").unique()).explode("token")


def count_tokens(
    texts: pa.Array | pa.ChunkedArray | Sequence[str | None],
    labels: pa.Array | pa.ChunkedArray | Sequence[str | None],
    settings: TokenSettings,
) -> pl.DataFrame:
    """Rows per (token, label) (:data:`COUNT_SCHEMA`); rows whose label is null are left out."""
    label = pl.Series("label", labels, dtype=pl.String)
    pairs = row_tokens(texts, settings)
    pairs = pairs.with_columns(label=label.gather(pairs["row"]))
    counts = pairs.drop_nulls("label").group_by("token", "label").agg(rows=pl.len().cast(pl.Int64))
    return counts.cast(COUNT_SCHEMA)  # type: ignore[arg-type]


def merge_counts(*tables: pl.DataFrame) -> pl.DataFrame:
    """Sum count tables (:data:`COUNT_SCHEMA`) of disjoint sets of rows."""
    tables = tuple(t for t in tables if t.height)
    if not tables:
        return pl.DataFrame(schema=COUNT_SCHEMA)
    if len(tables) == 1:
        return tables[0]
    return pl.concat(tables).group_by("token", "label").agg(pl.col("rows").sum())


# --------------------------------------------------------------------------- statistics


def _g_statistic(a: np.ndarray, token_rows: np.ndarray, label_rows: np.ndarray, total: int) -> np.ndarray:
    """G = 2 sum O log(O / E) over the 2 x 2 table of each (token, label) pair (``a`` rows with
    both)."""
    observed = [a, token_rows - a, label_rows - a, total - token_rows - label_rows + a]
    row_sums = [token_rows, token_rows, total - token_rows, total - token_rows]
    col_sums = [label_rows, total - label_rows, label_rows, total - label_rows]
    g = np.zeros(len(a))
    for o, r, c in zip(observed, row_sums, col_sums, strict=True):
        o = o.astype(np.float64)
        expected = r.astype(np.float64) * c / total
        positive = o > 0
        g[positive] += o[positive] * np.log(o[positive] / expected[positive])
    return 2.0 * g


def _wilson_low(successes: np.ndarray, trials: np.ndarray, z: float) -> np.ndarray:
    """Lower end of the Wilson score interval of successes / trials."""
    n = trials.astype(np.float64)
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.asarray((centre - half) / (1 + z * z / n))


def _covering(counts: pl.DataFrame) -> pl.DataFrame:
    """``token, covered_by``: the one-character-longer token with the most rows, where it occurs
    in at least :data:`COVER_SHARE` of the token's rows."""
    totals = counts.group_by("token").agg(token_rows=pl.col("rows").sum())
    longer = totals.filter(pl.col("token").str.len_chars() > 1)
    parents = pl.concat(
        [
            longer.select(
                token=pl.col("token").str.slice(0, pl.col("token").str.len_chars() - 1), by="token", n="token_rows"
            ),
            longer.select(token=pl.col("token").str.slice(1), by="token", n="token_rows"),
        ]
    )
    covering = parents.join(totals, on="token").filter(pl.col("n") >= COVER_SHARE * pl.col("token_rows"))
    best = covering.sort(["n", "by"], descending=[True, False]).group_by("token", maintain_order=True).first()
    return best.select("token", covered_by="by")


def _overlaps(token: str, other: str) -> bool:
    """Whether two char n-grams say the same thing in a shortcut list: one holds the other, or they
    share a run of all but one character of the shorter (and at least two): ``최고입`` and ``고입니``,
    ``재밌음`` and ``재밌네``."""
    if token in other or other in token:
        return True
    k = max(2, min(len(token), len(other)) - 1)
    return any(token[i : i + k] in other for i in range(len(token) - k + 1))


def token_associations(
    counts: pl.DataFrame, label_rows: Mapping[str, int], settings: TokenSettings
) -> tuple[pa.Table, int]:
    """Association of every tested token with every label (:data:`TOKEN_SCHEMA`, positive PMI only),
    ranked shortcut tokens marked, and the number of tests made.

    Args:
        counts: rows per (token, label), :func:`count_tokens` summed over the whole set.
        label_rows: rows per label (the rows counted in ``counts``, tokens or not).
    """
    from scipy.special import chdtrc, ndtri

    total = int(sum(label_rows.values()))
    totals = counts.group_by("token").agg(token_rows=pl.col("rows").sum())
    tested_tokens = totals.filter(pl.col("token_rows") >= settings.min_count)
    tests = tested_tokens.height * len(label_rows)
    if tests == 0 or total == 0:
        return TOKEN_SCHEMA.empty_table(), tests
    label_frame = pl.DataFrame(
        {"label": list(label_rows), "label_rows": [int(v) for v in label_rows.values()]},
        schema={"label": pl.String, "label_rows": pl.Int64},
    )
    frame = counts.join(tested_tokens, on="token").join(label_frame, on="label")
    a = frame["rows"].to_numpy().astype(np.float64)
    token_n = frame["token_rows"].to_numpy().astype(np.float64)
    label_n = frame["label_rows"].to_numpy().astype(np.float64)
    level = settings.alpha / tests
    p_label = a / token_n
    pmi = np.log(p_label * total / label_n)
    g = _g_statistic(a, token_n, label_n, total)
    p_value = chdtrc(1, g)
    z = float(-ndtri(level / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = np.where(a < total, pmi / -np.log(a / total), 0.0)
    frame = frame.with_columns(
        p_label=pl.Series(p_label),
        pmi=pl.Series(pmi),
        npmi=pl.Series(npmi),
        pmi_low=pl.Series(np.log(np.maximum(_wilson_low(a, token_n, z), 1e-300) * total / label_n)),
        g=pl.Series(g),
        p_value=pl.Series(p_value),
        significant=pl.Series((p_value < level) & (pmi > 0)),
    ).filter(pl.col("pmi") > 0)
    if settings.tokenizer == "char":
        frame = frame.join(_covering(counts), on="token", how="left")
    else:
        frame = frame.with_columns(covered_by=pl.lit(None, pl.String))
    frame = frame.sort(["label", "pmi_low", "rows", "token"], descending=[False, True, True, False])
    ranks = _ranks(frame, settings)
    frame = frame.with_columns(rank=pl.Series(ranks, dtype=pl.Int32))
    return frame.select(TOKEN_SCHEMA.names).to_arrow().cast(TOKEN_SCHEMA), tests


def _ranks(frame: pl.DataFrame, settings: TokenSettings) -> list[int | None]:
    """Rank of each row (sorted by label, then best first) in its label's shortcut list."""
    ranks: list[int | None] = []
    listed: dict[str, list[str]] = {}
    char = settings.tokenizer == "char"
    for label, token, significant, covered in frame.select("label", "token", "significant", "covered_by").iter_rows():
        shown = listed.setdefault(label, [])
        skip = not significant or covered is not None or len(shown) >= settings.top_k
        if not skip:
            skip = any(_overlaps(token, other) if char else (token in other or other in token) for other in shown)
        if skip:
            ranks.append(None)
        else:
            shown.append(token)
            ranks.append(len(shown))
    return ranks


@dataclass(frozen=True)
class OneTokenRule:
    """The best rule "token present -> ``label``, else -> ``otherwise``" over the tested tokens.

    ``accuracy`` is the share of labelled rows it gets right, ``baseline`` that of always
    answering the most common label, ``coverage`` the share of rows holding the token and
    ``precision`` P(label | token)."""

    token: str | None
    label: str | None
    otherwise: str | None
    accuracy: float | None
    baseline: float | None
    coverage: float | None
    precision: float | None


def one_token_rule(counts: pl.DataFrame, label_rows: Mapping[str, int], settings: TokenSettings) -> OneTokenRule:
    """The most accurate one-token rule (a decision stump on one token's presence): for each tested
    token the label most common among the rows holding it, and among the rows without it; ties go
    to the token with more rows, then the longer one (``꿀잼`` over ``꿀`` in the same rows), then
    the first in sorted order."""
    total = int(sum(label_rows.values()))
    if total == 0:
        return OneTokenRule(None, None, None, None, None, None, None)
    labels = sorted(label_rows, key=lambda k: (-label_rows[k], k))
    baseline = label_rows[labels[0]] / total
    totals = counts.group_by("token").agg(token_rows=pl.col("rows").sum())
    tested = counts.join(totals.filter(pl.col("token_rows") >= settings.min_count), on="token")
    if tested.height == 0:
        return OneTokenRule(None, labels[0], labels[0], baseline, baseline, 0.0, None)
    order = {label: i for i, label in enumerate(labels)}
    sizes = np.array([label_rows[k] for k in labels], np.int64)
    frame = tested.with_columns(position=pl.col("label").replace_strict(order, return_dtype=pl.Int64)).sort(
        "token", "position"
    )
    token = frame["token"].to_numpy()
    position = frame["position"].to_numpy()
    rows = frame["rows"].to_numpy()
    starts = np.flatnonzero(np.r_[True, token[1:] != token[:-1]])
    group = np.cumsum(np.r_[False, token[1:] != token[:-1]])
    index_in_group = np.arange(len(token)) - starts[group]
    # present: the label with most rows holding the token
    best_present = np.zeros(len(starts), np.int64)
    np.maximum.at(best_present, group, rows)
    # absent: max over labels of (label rows - rows with the token); labels the token never meets
    # keep all their rows, and the largest of those is the first label (by size) missing from the
    # token's sorted positions.
    absent_seen = np.full(len(starts), -1, np.int64)
    np.maximum.at(absent_seen, group, sizes[position] - rows)
    prefix = np.bincount(group, weights=(position == index_in_group), minlength=len(starts)).astype(np.int64)
    absent_unseen = np.where(prefix < len(labels), sizes[np.minimum(prefix, len(labels) - 1)], -1)
    correct = best_present + np.maximum(absent_seen, absent_unseen)
    token_rows = np.bincount(group, weights=rows, minlength=len(starts)).astype(np.int64)
    lengths = np.fromiter((len(t) for t in token[starts]), np.int64, len(starts))
    best = int(np.lexsort((-lengths, -token_rows, -correct))[0])  # then sorted token order
    lo, hi = int(starts[best]), int(starts[best + 1]) if best + 1 < len(starts) else len(token)
    present_label = labels[int(position[lo:hi][np.argmax(rows[lo:hi])])]
    remaining = {k: label_rows[k] for k in labels}
    for p, r in zip(position[lo:hi].tolist(), rows[lo:hi].tolist(), strict=True):
        remaining[labels[p]] -= r
    otherwise = max(labels, key=lambda k: (remaining[k], -order[k]))
    return OneTokenRule(
        token=str(token[lo]),
        label=present_label,
        otherwise=otherwise,
        accuracy=float(correct[best]) / total,
        baseline=baseline,
        coverage=float(token_rows[best]) / total,
        precision=float(best_present[best]) / float(token_rows[best]),
    )


def describe_rule(rule: OneTokenRule) -> str | None:
    """``'최고' -> 1, else 0`` (None without a rule)."""
    if rule.token is None:
        return None
    return f"{rule.token!r} -> {rule.label}, else {rule.otherwise}"
