"""Run translated Athena SQL on a fresh in-memory DuckDB and answer with Athena's shapes.

:func:`run_query` gives ``GetQueryResults``' ColumnInfo and row texts, :func:`run_query_arrow`
an Arrow table with Athena's column types (for UNLOAD). DuckDB errors become
:class:`~omics_toolkit.local.athena.errors.QueryFailed` with Athena's error names.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from omics_toolkit.local.athena.errors import QueryFailed
from omics_toolkit.local.athena.functions import find_identifier, install
from omics_toolkit.local.athena.results import athena_arrow, athena_type, format_value
from omics_toolkit.local.athena.translate import translate

LOG = logging.getLogger(__name__)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _run(
    sql: str,
    default_db: str,
    account_id: str,
    region: str,
    catalog: str | None,
    consume: Any,
) -> Any:
    """Translate and run ``sql`` on a fresh DuckDB; ``consume(con, duck_sql)`` reads the result."""
    import duckdb

    scratch = Path(tempfile.mkdtemp(prefix="omics-toolkit-athena-"))
    con = duckdb.connect(":memory:")
    try:
        install(con)
        duck_sql = translate(sql, default_db, account_id, region, con, scratch, catalog)
        LOG.debug("athena -> duckdb: %s", duck_sql)
        try:
            return consume(con, duck_sql)
        except duckdb.Error as exc:
            raise QueryFailed(_duck_reason(exc, sql)) from exc
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def run_query(
    sql: str, default_db: str, account_id: str, region: str, catalog: str | None = None
) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
    """Run Athena SQL; return ``(ColumnInfo list, rows of Athena texts)``.

    Raises:
        QueryFailed: any failure, with Athena-style reason text.
    """

    def consume(con: Any, duck_sql: str) -> Any:
        rel = con.sql(duck_sql)
        if rel is None:
            return [], [], []
        return rel.columns, rel.types, rel.fetchall()

    names, types, raw_rows = _run(sql, default_db, account_id, region, catalog, consume)
    column_info = []
    for name, typ in zip(names, types, strict=True):
        athena, precision, scale = athena_type(typ)
        column_info.append(
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": name,
                "Label": name,
                "Type": athena,
                "Precision": precision,
                "Scale": scale,
                "Nullable": "UNKNOWN",
                "CaseSensitive": athena == "varchar",
            }
        )
    rows = [[format_value(v) for v in row] for row in raw_rows]
    return column_info, rows


#: DuckDB types without an Athena counterpart, cast to Athena's type in UNLOAD output.
_UNLOAD_CASTS = {
    "HUGEINT": "BIGINT",
    "UBIGINT": "BIGINT",
    "UINTEGER": "BIGINT",
    "USMALLINT": "INTEGER",
    "UTINYINT": "SMALLINT",
    "UUID": "VARCHAR",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
}


def run_query_arrow(
    sql: str, default_db: str, account_id: str, region: str, catalog: str | None = None
) -> Any:
    """Run Athena SQL; return a ``pyarrow.Table`` with Athena's column types (for UNLOAD).

    int -> int32, bigint -> int64, varchar -> string, array/map/row -> list/map/struct.

    Raises:
        QueryFailed: any failure, with Athena-style reason text.
    """
    import pyarrow as pa

    def consume(con: Any, duck_sql: str) -> Any:
        rel = con.sql(duck_sql)
        if rel is None:
            return pa.table({})
        projections = []
        for name, typ in zip(rel.columns, rel.types, strict=True):
            target = _UNLOAD_CASTS.get(str(typ).upper())
            column = _quote(name)
            projections.append(f"CAST({column} AS {target}) AS {column}" if target else column)
        cast_sql = f"SELECT {', '.join(projections)} FROM ({duck_sql}) AS __unload"
        return athena_arrow(con.sql(cast_sql).arrow())

    return _run(sql, default_db, account_id, region, catalog, consume)


def _duck_reason(exc: Exception, sql: str = "") -> str:
    text = str(exc)
    kind = type(exc).__name__
    first = text.split("\n", 1)[0]
    for prefix in ("Invalid Input Error: ", "Binder Error: ", "Conversion Error: "):
        if first.startswith(prefix):
            first = first[len(prefix) :]
    athena_code = re.match(r"^([A-Z_]+): ", first)
    if athena_code and athena_code.group(1) in (
        "NOT_SUPPORTED",
        "DIVISION_BY_ZERO",
        "INVALID_FUNCTION_ARGUMENT",
        "INVALID_CAST_ARGUMENT",
    ):
        return first  # raised by a __trino_* macro
    if kind in ("ParserException",):
        return f"SYNTAX_ERROR: line 1:1: {first}"
    if kind in ("BinderException", "CatalogException"):
        m = re.search(r'[Cc]olumn "([^"]+)" not found|column named "([^"]+)"', text)
        if m:
            column = m.group(1) or m.group(2)
            return (
                f"COLUMN_NOT_FOUND: {find_identifier(sql, column)}: Column '{column}' cannot be "
                "resolved or requester is not authorized to access requested resources"
            )
        if "No function matches" in text:
            return (
                f"FUNCTION_NOT_FOUND: line 1:1: Unexpected parameters for a function call: {first}"
            )
        return f"SEMANTIC_ERROR: {first}"
    if kind in ("ConversionException", "InvalidInputException", "OutOfRangeException"):
        if "Could not convert" in text or "Conversion Error" in text:
            return f"INVALID_CAST_ARGUMENT: {first}"
        return f"INVALID_FUNCTION_ARGUMENT: {first}"
    return f"GENERIC_USER_ERROR: {first}"
