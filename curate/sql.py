"""Every DuckDB connection curate opens, and the one way SQL a user wrote is run.

Connections (:func:`connect`) never install or load a DuckDB extension by themselves
(``autoinstall_known_extensions`` and ``autoload_known_extensions`` off) and have no external
access: no file, URL, ``COPY``, ``ATTACH``, ``INSTALL`` or ``LOAD``, apart from the Parquet files a
caller names in ``reads``. Their configuration is locked, so no statement can change it.

SQL a user writes (``sql_filter``'s ``where``, ``export label-studio --select``, ``dedup
--order-by``) is one expression over the columns of the rows at hand, nothing else:

- :func:`filter_rows` takes a predicate (``length(question) >= 5``); a row is kept when it is true
  (false and null drop it);
- :func:`order_rows` takes an ORDER BY list (``len(context) DESC, id``); ties keep row order.

The statement curate builds around the expression is parsed by DuckDB before it runs, and anything
beyond an expression over the rows (a second statement, another clause such as ``FROM`` or
``LIMIT``, a subquery) is a :class:`~curate.errors.ConfigError` naming the field; so is SQL that
DuckDB cannot parse or run (its first message line is the hint). The expression runs on a
connection that sees one registered Arrow table, so even a function that reads files fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from curate.errors import ConfigError, Where

ROWS = "rows"
"""Name of the table user SQL sees."""
_ROW = "__curate_row"
_NOT_AN_EXPRESSION = "write one expression over the columns; a second statement, a clause or a subquery is not allowed"


def connect(*, reads: Sequence[str | Path] = (), read_dirs: Sequence[str | Path] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with no extension auto-install or auto-load and no external
    access except reading the files in ``reads`` and under the folders in ``read_dirs``; its settings
    cannot be changed afterwards. It draws no progress bar of its own (curate shows progress: a
    query streaming a stage's batches would draw over it, and past ``--quiet``)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET enable_progress_bar = false")
    if reads:
        con.execute("SET allowed_paths = ?", [[str(p) for p in reads]])
    if read_dirs:
        con.execute("SET allowed_directories = ?", [[str(Path(d).resolve()) for d in read_dirs]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def filter_rows(table: pa.Table, predicate: str, *, where: Where) -> pa.BooleanArray:
    """True for each row of ``table`` where the SQL ``predicate`` over its columns is true.

    Raises:
        ConfigError: ``predicate`` is not one expression, or DuckDB cannot parse or run it
            (``where`` names the stage or option it came from).
    """
    template = (f"SELECT {_ROW} FROM {ROWS} WHERE CAST((", "\n) AS BOOLEAN)")
    keep = np.zeros(table.num_rows, dtype=bool)
    keep[_run(table, template, predicate, lambda node: node["where_clause"], "bad SQL predicate", where)] = True
    return pa.array(keep, pa.bool_())


def order_rows(table: pa.Table, order_by: str, *, where: Where) -> np.ndarray:
    """Row numbers of ``table`` sorted by the SQL ORDER BY list ``order_by`` (ties in row order).

    Raises:
        ConfigError: ``order_by`` is not an ORDER BY list of expressions, or DuckDB cannot parse or
            run it.
    """
    template = (f"SELECT {_ROW} FROM {ROWS} ORDER BY ", f"\n, {_ROW}")
    return _run(table, template, order_by, lambda node: node["modifiers"][0]["orders"], "bad SQL in order_by", where)


def _run(
    table: pa.Table,
    template: tuple[str, str],
    sql: str,
    hole: Callable[[dict[str, Any]], Any],
    what: str,
    where: Where,
) -> np.ndarray:
    """The ``_ROW`` numbers that ``template`` (text before and after the user's ``sql``) returns over
    ``table``, once the statement is checked to differ from the template only inside ``hole``
    (the text after starts on a new line, so a ``--`` comment in ``sql`` ends with it)."""
    before, after = template
    statement = before + sql + after
    con = connect()
    try:
        _check(con, statement, before + "TRUE" + after, hole, what, where, sql)
        numbered = table.append_column(_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        con.register(ROWS, numbered)
        rows = con.sql(statement).to_arrow_table().column(0)
    except duckdb.Error as exc:
        raise ConfigError(what, where=where, value=sql, hint=_first_line(exc)) from None
    finally:
        con.close()
    return np.asarray(rows, dtype=np.int64)


def _check(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    reference: str,
    hole: Callable[[dict[str, Any]], Any],
    what: str,
    where: Where,
    sql: str,
) -> None:
    """ConfigError unless ``statement`` parses into one select equal to ``reference`` (the template
    around ``TRUE``) outside ``hole``, with no subquery inside it."""
    parsed, expected = _parse(con, statement), _parse(con, reference)
    if parsed.get("error"):
        raise ConfigError(what, where=where, value=sql, hint=f"{parsed.get('error_message')}; {_NOT_AN_EXPRESSION}")
    statements = parsed["statements"]
    if len(statements) != 1 or statements[0]["node"].get("type") != "SELECT_NODE":
        raise ConfigError(what, where=where, value=sql, hint=_NOT_AN_EXPRESSION)
    node, model = statements[0]["node"], expected["statements"][0]["node"]
    try:
        expression = hole(node)
    except (KeyError, IndexError, TypeError):
        raise ConfigError(what, where=where, value=sql, hint=_NOT_AN_EXPRESSION) from None
    if _without(node, expression) != _without(model, hole(model)) or _has_subquery(expression):
        raise ConfigError(what, where=where, value=sql, hint=_NOT_AN_EXPRESSION)


def _parse(con: duckdb.DuckDBPyConnection, statement: str) -> dict[str, Any]:
    ((text,),) = con.execute("SELECT json_serialize_sql(?)", [statement]).fetchall()
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _without(tree: Any, hole: Any) -> Any:
    """``tree`` with the subtree ``hole`` (by identity) replaced by None and source positions dropped."""
    if tree is hole:
        return None
    if isinstance(tree, dict):
        return {k: _without(v, hole) for k, v in tree.items() if not k.startswith("query_location")}
    if isinstance(tree, list):
        return [_without(v, hole) for v in tree]
    return tree


def _has_subquery(tree: Any) -> bool:
    if isinstance(tree, dict):
        return tree.get("class") == "SUBQUERY" or any(_has_subquery(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_subquery(v) for v in tree)
    return False


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
