"""Near-duplicate passages in a retrieval set: re-point their qrels at the kept passage, so no
positive is lost (the dedup stages call :func:`remap_qrels` on a retrieval-set input)."""

from __future__ import annotations

import pyarrow as pa

from curate.sql import connect


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
