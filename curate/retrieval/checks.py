"""Consistency checks of a retrieval set (corpus, queries, qrels): pure functions over Arrow tables.

:func:`find_retrieval_problems` joins the three tables in DuckDB (no Python loop over rows, so a
corpus of millions of passages is fine) and returns one row per problem:

===========================  ========  =====================================================================
code                         table     what
===========================  ========  =====================================================================
``duplicate_doc_id``         corpus    the doc_id was used by an earlier passage
``empty_passage``            corpus    the passage text is missing, empty or only whitespace / invisible
                             qrels     characters (also reported on every qrel that points to it)
``duplicate_query_id``       queries   the query_id was used by an earlier query
``empty_query``              queries   the query text is missing, empty or only whitespace
                             qrels     (also reported on every qrel of that query)
``no_positive``              queries   no qrel of the query has score > 0 (none at all, or only 0 / negative)
``missing_query``            qrels     the qrel's query_id is not in the queries
``missing_document``         qrels     the qrel's doc_id is not in the corpus
``duplicate_qrel``           qrels     an earlier qrel of the same split judges the same (query, doc) pair
``answer_not_in_positive``   qrels     a positive (score > 0) passage holds none of the query's answers
===========================  ========  =====================================================================

``answer_not_in_positive`` needs the query's known answers: a ``list<string>`` column of the
queries (default ``answers``; queries without answers are not checked). An answer is in a passage
(title and text) when it occurs there lower-cased, as it is or after NFC and whitespace folding of
both; only the passages missing every answer as they are get folded.
"""

from __future__ import annotations

from typing import Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import ConfigError, Where
from curate.sql import connect

QrelsCode = Literal[
    "missing_query", "missing_document", "empty_query", "empty_passage", "duplicate_qrel", "answer_not_in_positive"
]
"""Codes reported on qrels rows, in the order a stage gives them as the reject reason."""
Code = Literal[QrelsCode, "no_positive", "duplicate_query_id", "duplicate_doc_id"]
CODES: tuple[Code, ...] = get_args(Code)
QRELS_CODES: tuple[QrelsCode, ...] = get_args(QrelsCode)

PROBLEM_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("field", pa.string()),
        pa.field("code", pa.string()),
        pa.field("detail", pa.string()),
    ]
)
"""``table`` (corpus, queries, qrels), ``row`` (0-based row of that table), ``id`` (the passage or
query id the problem is about), ``field``, ``code`` and a human ``detail``."""

_BLANK = r"[\s\pZ\p{Cc}\p{Cf}]*"  # whitespace, separators, controls and invisible format characters
_FOLD = "trim(lower(regexp_replace(nfc_normalize({}), '[\\s\\pZ]+', ' ', 'g')))"
_TABLE_ORDER = {"corpus": 0, "queries": 1, "qrels": 2}


def _columns(table: pa.Table, name: str, needed: tuple[str, ...]) -> None:
    for column in needed:
        if column not in table.column_names:
            raise ConfigError(
                f"{name} has no column '{column}'",
                where=Where(field=column),
                hint=f"columns: {', '.join(table.column_names)}",
            )


def _numbered(table: pa.Table, columns: list[str]) -> pa.Table:
    """``columns`` of ``table`` (ids as strings) plus ``row``, the 0-based row number."""
    out = {}
    for name in columns:
        values = table.column(name)
        out[name] = values if name not in ("doc_id", "query_id") else pc.cast(values, pa.string())
    out["row"] = pa.array(range(table.num_rows), pa.int64())
    return pa.table(out)


def _answers(queries: pa.Table, column: str | None) -> pa.Table | None:
    """``query_id, answer`` pairs (non-empty answers only), or None when there are no answers."""
    if column is None or column not in queries.column_names:
        return None
    values = queries.column(column)
    if pa.types.is_null(values.type) or (
        (pa.types.is_list(values.type) or pa.types.is_large_list(values.type))
        and pa.types.is_null(values.type.value_type)
    ):
        return None
    if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)) or not (
        pa.types.is_string(values.type.value_type) or pa.types.is_large_string(values.type.value_type)
    ):
        raise ConfigError(
            "answers column must be list<string>",
            where=Where(field=column),
            value=str(values.type),
            hint="give each query a list of answer strings, or pass another answers column",
        )
    return pa.table({"query_id": pc.cast(queries.column("query_id"), pa.string()), "answers": values})


def find_retrieval_problems(
    corpus: pa.Table,
    queries: pa.Table,
    qrels: pa.Table,
    *,
    answers_column: str | None = "answers",
) -> pa.Table:
    """Every problem of a retrieval set, as a table of :data:`PROBLEM_SCHEMA` ordered by table
    (corpus, queries, qrels), row and code.

    Args:
        corpus: ``doc_id``, ``text`` and optionally ``title``.
        queries: ``query_id``, ``text`` and optionally the answers column.
        qrels: ``query_id``, ``doc_id``, ``score`` and optionally ``split`` (pairs are duplicates only
            within one split).
        answers_column: ``list<string>`` column of ``queries`` with each query's known answers; when
            the column is absent (or None) ``answer_not_in_positive`` is not checked.

    Raises:
        ConfigError: a required column is missing, or the answers column is not ``list<string>``.
    """
    _columns(corpus, "corpus", ("doc_id", "text"))
    _columns(queries, "queries", ("query_id", "text"))
    _columns(qrels, "qrels", ("query_id", "doc_id", "score"))
    con = connect()
    title = "title" in corpus.column_names
    split = "split" if "split" in qrels.column_names else "NULL"
    con.register("corpus", _numbered(corpus, ["doc_id", "text", *(["title"] if title else [])]))
    con.register("queries", _numbered(queries, ["query_id", "text"]))
    con.register("qrels", _numbered(qrels, ["query_id", "doc_id", "score", *(["split"] if split != "NULL" else [])]))
    parts = [
        # ------------------------------------------------------------- corpus and queries
        """SELECT 'corpus', row, doc_id, 'doc_id', 'duplicate_doc_id',
               'doc_id ' || doc_id || ' first used at row ' || first_row
            FROM (SELECT row, doc_id, min(row) OVER (PARTITION BY doc_id) AS first_row FROM corpus)
            WHERE row > first_row""",
        f"""SELECT 'corpus', row, doc_id, 'text', 'empty_passage',
               CASE WHEN coalesce(text, '') = '' THEN 'passage text is empty'
                    ELSE 'passage text is only whitespace' END
            FROM corpus WHERE text IS NULL OR regexp_full_match(text, '{_BLANK}')""",
        """SELECT 'queries', row, query_id, 'query_id', 'duplicate_query_id',
               'query_id ' || query_id || ' first used at row ' || first_row
            FROM (SELECT row, query_id, min(row) OVER (PARTITION BY query_id) AS first_row FROM queries)
            WHERE row > first_row""",
        f"""SELECT 'queries', row, query_id, 'text', 'empty_query',
               CASE WHEN coalesce(text, '') = '' THEN 'query text is empty' ELSE 'query text is only whitespace' END
            FROM queries WHERE text IS NULL OR regexp_full_match(text, '{_BLANK}')""",
        """SELECT 'queries', q.row, q.query_id, 'query_id', 'no_positive',
               CASE WHEN j.n IS NULL THEN 'no qrels for this query' ELSE j.n || ' qrels, none with score > 0' END
            FROM queries q
            LEFT JOIN (SELECT query_id, count(*) AS n, bool_or(score > 0) AS positive FROM qrels GROUP BY query_id) j
                ON j.query_id = q.query_id
            WHERE j.positive IS NULL OR NOT j.positive""",
        # ------------------------------------------------------------- qrels
        """SELECT 'qrels', r.row, r.query_id, 'query_id', 'missing_query',
               'query ' || r.query_id || ' is not in the queries'
            FROM qrels r ANTI JOIN queries q ON q.query_id = r.query_id""",
        """SELECT 'qrels', r.row, r.doc_id, 'doc_id', 'missing_document',
               'passage ' || r.doc_id || ' is not in the corpus'
            FROM qrels r ANTI JOIN corpus c ON c.doc_id = r.doc_id""",
        f"""SELECT 'qrels', r.row, r.query_id, 'query_id', 'empty_query', 'query ' || r.query_id || ' is empty'
            FROM qrels r SEMI JOIN queries q ON q.query_id = r.query_id
                AND (q.text IS NULL OR regexp_full_match(q.text, '{_BLANK}'))""",
        f"""SELECT 'qrels', r.row, r.doc_id, 'doc_id', 'empty_passage', 'passage ' || r.doc_id || ' is empty'
            FROM qrels r SEMI JOIN corpus c ON c.doc_id = r.doc_id
                AND (c.text IS NULL OR regexp_full_match(c.text, '{_BLANK}'))""",
        f"""SELECT 'qrels', row, doc_id, 'doc_id', 'duplicate_qrel',
               'query ' || query_id || ' judges passage ' || doc_id || ' again (first at row ' || first_row || ')'
            FROM (SELECT row, query_id, doc_id, min(row) OVER (PARTITION BY {split}, query_id, doc_id) AS first_row
                  FROM qrels)
            WHERE row > first_row""",
    ]
    answers = _answers(queries, answers_column)
    if answers is not None:
        con.register("answer_lists", answers)
        passage = "coalesce(c.title, '') || ' ' || coalesce(c.text, '')" if title else "coalesce(c.text, '')"
        fold_passage, fold_answer = _FOLD.format(passage), _FOLD.format("a.answer")
        parts.append(
            f"""WITH ans AS (
                    SELECT query_id, answer, lower(answer) AS low
                    FROM (SELECT query_id, unnest(answers) AS answer FROM answer_lists)
                    WHERE answer IS NOT NULL AND NOT regexp_full_match(answer, '{_BLANK}')
                ),
                pos AS (
                    SELECT row, query_id, doc_id FROM qrels
                    WHERE score > 0 AND query_id IN (SELECT query_id FROM ans)
                ),
                as_is AS (
                    SELECT p.row, p.query_id, p.doc_id FROM pos p
                    JOIN corpus c ON c.doc_id = p.doc_id JOIN ans a ON a.query_id = p.query_id
                    GROUP BY p.row, p.query_id, p.doc_id
                    HAVING NOT bool_or(contains(lower({passage}), a.low))
                ),
                folded AS (
                    SELECT p.row, p.query_id, p.doc_id FROM as_is p
                    JOIN corpus c ON c.doc_id = p.doc_id JOIN ans a ON a.query_id = p.query_id
                    GROUP BY p.row, p.query_id, p.doc_id
                    HAVING NOT bool_or(contains({fold_passage}, {fold_answer}))
                ),
                shown AS (SELECT query_id, list(answer) AS answers FROM ans GROUP BY query_id)
            SELECT 'qrels', p.row, p.doc_id, 'doc_id', 'answer_not_in_positive',
                   'no answer of query ' || p.query_id || ' (' || array_to_string(s.answers[1:3], ' | ')
                   || CASE WHEN len(s.answers) > 3 THEN ' | ...' ELSE '' END || ') is in passage ' || p.doc_id
            FROM folded p JOIN shown s ON s.query_id = p.query_id"""
        )
    found = pa.concat_tables(
        [con.sql(part).to_arrow_table().rename_columns(PROBLEM_SCHEMA.names).cast(PROBLEM_SCHEMA) for part in parts]
    )
    order = pc.sort_indices(
        pa.table(
            {
                "t": pa.array([_TABLE_ORDER[t] for t in found.column("table").to_pylist()], pa.int8()),
                "row": found.column("row"),
                "c": pa.array([CODES.index(c) for c in found.column("code").to_pylist()], pa.int8()),
            }
        ),
        [("t", "ascending"), ("row", "ascending"), ("c", "ascending")],
    )
    return found.take(order)
