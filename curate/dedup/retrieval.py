"""Near-duplicate passages in a retrieval set: merge them and re-point qrels, so no positive is lost."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from curate.dataset import Dataset
from curate.sql import connect
from curate.stages.base import StageStats
from curate.stages.minhash_dedup import MinHashDedup


@dataclass
class RetrievalDedup:
    """The deduplicated parts, the removed passages (with ``duplicate_of``), the stage's artifacts
    (``clusters``, ``conflicts``), how many qrels were re-pointed or merged, and how many merges
    joined judgements with different scores (the highest is kept)."""

    parts: dict[str, Dataset]
    rejected: Dataset
    artifacts: dict[str, pa.Table]
    stats: StageStats
    qrels_repointed: int
    qrels_merged: int
    qrels_score_conflicts: int


def remap_qrels(qrels: pa.Table, mapping: pa.Table) -> tuple[pa.Table, int, int, int]:
    """Point every qrel at the kept passage (``mapping``: ``doc_id -> duplicate_of``); judgements of
    one query that now meet on one passage are merged, keeping the highest score (first split).
    Returns the qrels, how many were re-pointed, how many merged away, and how many merged
    judgements had different scores."""
    con = connect()
    con.register("qrels", qrels)
    con.register("mapping", mapping)
    columns = [c for c in qrels.column_names if c not in ("doc_id", "score")]
    moved = con.sql(
        "SELECT q.* EXCLUDE (doc_id), coalesce(m.duplicate_of, q.doc_id) AS doc_id, "
        "m.duplicate_of IS NOT NULL AS moved, row_number() OVER () AS rn "
        "FROM qrels q LEFT JOIN mapping m ON q.doc_id = m.doc_id"
    )
    repointed = int(moved.filter("moved").count("*").fetchall()[0][0])
    con.register("moved", moved.to_arrow_table())
    others = ", ".join(f'arg_min("{c}", rn) AS "{c}"' for c in columns if c != "query_id")
    select = f"query_id, doc_id, max(score) AS score{', ' + others if others else ''}, min(rn) AS rn"
    grouped = con.sql(f"SELECT {select}, min(score) <> max(score) AS differ FROM moved GROUP BY query_id, doc_id")
    score_conflicts = int(grouped.filter("differ").count("*").fetchall()[0][0])
    merged = grouped.order("rn").to_arrow_table().select(qrels.column_names)
    return merged, repointed, qrels.num_rows - merged.num_rows, score_conflicts


def dedup_retrieval(parts: dict[str, Dataset], stage: MinHashDedup) -> RetrievalDedup:
    """Run ``stage`` on the corpus; re-point the qrels (queries are unchanged)."""
    result = stage(parts["corpus"])
    rejected = result.rejected.to_arrow()
    new_parts = dict(parts, corpus=result.kept)
    repointed = merged = differ = 0
    if "qrels" in parts:
        mapping = rejected.select(["doc_id", "duplicate_of"])
        qrels, repointed, merged, differ = remap_qrels(parts["qrels"].to_arrow(), mapping)
        new_parts["qrels"] = Dataset.from_arrow(qrels, "qrels")
    return RetrievalDedup(new_parts, result.rejected, result.artifacts, result.stats, repointed, merged, differ)
