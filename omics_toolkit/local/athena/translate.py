"""Athena SQL (engine v3, Trino) to DuckDB SQL: parameters, parsing, table resolution, sqlglot.

:func:`translate` parses one query with sqlglot's Trino dialect as Athena parses it, applies the
function rewrites and allow-list of :mod:`omics_toolkit.local.athena.functions`, names unnamed
columns ``_col<i>``, registers a DuckDB view for every table referenced (Glue tables through
:mod:`omics_toolkit.local.athena.glue`, ``s3tablescatalog/<table bucket>`` tables through
:mod:`omics_toolkit.local.athena.s3tables`) and writes DuckDB SQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omics_toolkit.local.athena import glue
from omics_toolkit.local.athena.catalogs import GLUE_CATALOG, catalog_kind
from omics_toolkit.local.athena.errors import QueryFailed
from omics_toolkit.local.athena.functions import (
    AthenaTrino,
    check_and_rewrite_functions,
    find_identifier,
    line_col,
    quoted_end,
    rewrite_unnest,
)
from omics_toolkit.local.athena.s3 import parquet_files


def _question_marks(sql: str) -> list[int]:
    """Offsets of ``?`` placeholders outside string literals, quoted identifiers and comments."""
    positions: list[int] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            i = quoted_end(sql, i) + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            if c == "?":
                positions.append(i)
            i += 1
    return positions


def bind_parameters(sql: str, parameters: list[str] | None) -> str:
    """Substitute Athena ``ExecutionParameters`` (SQL literal texts, e.g. ``"'q'"``, ``"100"``).

    Raises:
        QueryFailed: the number of ``?`` differs from the number of parameters.
    """
    marks = _question_marks(sql)
    params = list(parameters or [])
    if len(marks) != len(params):
        raise QueryFailed(
            f"INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected {len(marks)} but found {len(params)}"
        )
    out, last = [], 0
    for pos, value in zip(marks, params, strict=True):
        out.append(sql[last:pos])
        out.append(str(value))
        last = pos + 1
    out.append(sql[last:])
    return "".join(out)


def _parse(sql: str) -> Any:
    import sqlglot
    from sqlglot import exp

    from omics_toolkit.local.athena.syntax import syntax_error

    try:
        trees = sqlglot.parse(sql, read=AthenaTrino)
    except sqlglot.errors.SqlglotError as exc:
        reason = syntax_error(sql) or f"line 1:1: {exc}"
        raise QueryFailed(f"SYNTAX_ERROR: {reason}") from exc
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise QueryFailed("SYNTAX_ERROR: line 1:1: only one statement per query is allowed")
    tree = trees[0]
    if not isinstance(tree, exp.Query | exp.Values):
        first = (sql.split() or [""])[0]
        raise QueryFailed(f"SYNTAX_ERROR: line 1:1: mismatched input '{first}'")
    return tree


def _located(exc: QueryFailed, sql: str, table: Any, qualified: str) -> QueryFailed:
    """A missing table or schema as Trino reports it: ``line L:C:`` where the table reference
    starts (its first name part) and, for a table, its ``catalog.schema.table`` name
    (``TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.t' does not exist``)."""
    name, _, rest = exc.reason.partition(": ")
    if name not in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND") or rest.startswith("line "):
        return exc
    if name == "TABLE_NOT_FOUND":
        rest = f"Table '{qualified}' does not exist"
    first = table.parts[0] if table.parts else None
    start = first.meta.get("start") if first is not None else None
    where = line_col(sql, start) if isinstance(start, int) else find_identifier(sql, table.name)
    return QueryFailed(f"{name}: {where}: {rest}", exc.category)


def _name_columns(tree: Any) -> None:
    """Name unnamed result columns ``_col<i>`` as Athena does (column references keep theirs)."""
    from sqlglot import exp

    select = tree
    while isinstance(select, exp.SetOperation | exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for i, projection in enumerate(list(select.expressions)):
        if isinstance(projection, exp.Alias | exp.Column | exp.Star):
            continue
        projection.replace(exp.alias_(projection.copy(), f"_col{i}", quoted=True))


def translate(
    sql: str,
    default_db: str,
    account_id: str,
    region: str,
    con: Any,
    scratch: Path,
    catalog: str | None = None,
) -> str:
    """Transpile Athena SQL to DuckDB, registering a view for every table referenced.

    ``catalog`` is ``QueryExecutionContext.Catalog`` (default ``AwsDataCatalog``, the Glue Data
    Catalog); ``s3tablescatalog/<table bucket>`` tables are registered by
    ``omics_toolkit.local.athena.s3tables.register_view``. A three-part name
    (``catalog.database.table``) overrides it.

    Raises:
        QueryFailed: syntax error, unknown catalog/schema/table, a function or construct the
            local Athena does not implement.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    tree = _parse(sql)
    check_and_rewrite_functions(tree, sql)
    rewrite_unnest(tree)
    _name_columns(tree)
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    default_catalog = catalog or GLUE_CATALOG
    catalog_kind(default_catalog)
    views: dict[tuple[str, str, str], str] = {}
    for table in list(tree.find_all(exp.Table)):
        if not table.name or (not table.db and table.name.lower() in cte_names):
            continue
        if isinstance(table.this, exp.Func | exp.Anonymous) or table.this is None:
            continue  # table functions
        table_catalog = table.catalog or default_catalog
        kind = catalog_kind(table_catalog)
        database = (table.db or default_db).lower()
        name = table.name.lower()
        key = (table_catalog.lower(), database, name)
        if key not in views:
            view = f"__athena_{len(views)}_{name}"
            try:
                if kind == "glue":
                    resolved = glue.resolve_table(account_id, region, database, name)
                    glue.register_view(
                        con, view, resolved, parquet_files(resolved.location, account_id, scratch)
                    )
                else:
                    from omics_toolkit.local.athena.s3tables import register_view

                    register_view(con, view, table_catalog, database, name, account_id, region)
            except QueryFailed as exc:
                located = _located(exc, sql, table, f"{table_catalog.lower()}.{database}.{name}")
                if located is exc:
                    raise
                raise located from exc
            views[key] = view
        alias = table.alias
        replacement = exp.Table(this=exp.to_identifier(views[key], quoted=True))
        replacement.set(
            "alias", exp.TableAlias(this=exp.to_identifier(alias or table.name, quoted=True))
        )
        table.replace(replacement)
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise QueryFailed(f"NOT_SUPPORTED: {exc}") from exc
