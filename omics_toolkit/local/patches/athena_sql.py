"""Really run Athena SQL in moto: sqlglot (Athena/Trino -> DuckDB) over Glue tables' Parquet data.

Patched moto 5.2.x names:

- ``AthenaBackend.start_query_execution(self, query, context, config, workgroup,
  execution_parameters) -> str``: the query runs synchronously; the execution ends SUCCEEDED
  (rows stored for GetQueryResults, ``<QueryExecutionId>.csv`` written to the output location in
  moto S3) or FAILED (``StateChangeReason`` and ``AthenaError`` carry the reason).
- ``AthenaResponse.get_query_execution``: adds ``Status.StateChangeReason``, ``Status.AthenaError``
  and the effective ``ResultConfiguration.OutputLocation``.
- ``AthenaResponse.get_work_group``: an unknown workgroup raises ``InvalidRequestException`` (moto
  answers ``{"WorkGroup": null}``); an unknown query execution id too, in the two below (moto: 500).
- ``AthenaResponse.get_query_results``: ``MaxResults`` (default and maximum 1000) / ``NextToken``
  pagination; the header row comes first on the first page, as in Athena.

Table resolution: ``[catalog.][database.]table`` (database from the name or
``QueryExecutionContext.Database``, default ``default``; names lowercased) is looked up in moto's
Glue backend, resource links (``TargetTable {CatalogId, DatabaseName, Name}``) are followed, and
a DuckDB view is registered over every ``*.parquet`` under ``StorageDescriptor.Location``
(``file://`` read in place; ``s3://`` copied out of moto S3 for the query). A table without data
files is an empty view with the Glue columns.

Catalogs: ``QueryExecutionContext.Catalog`` or the first part of a three-part name; missing or
``AwsDataCatalog`` is Glue, ``s3tablescatalog/<table bucket>`` goes to
``omics_toolkit.local.s3tables_catalog.register_view``, anything else FAILS ``CATALOG_NOT_FOUND``.

Statements: SELECT / WITH / VALUES (and parenthesised queries) run in DuckDB after the Trino
rewrites and the function allow-list of :mod:`omics_toolkit.local.athena_functions`;
``UNLOAD (query) TO 's3://...' WITH (format = 'PARQUET')`` writes one Parquet file with Athena's
types and ``<QueryExecutionId>-manifest.csv`` next to the result location
(``Statistics.DataManifestLocation``); ``CREATE/DROP DATABASE`` keep moto's behaviour; anything
else FAILS with ``NOT_SUPPORTED`` rather than succeeding with a wrong answer.
See docs/local-athena.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from omics_toolkit.local.athena_functions import (
    USER_ERROR_CATEGORY,
    USER_ERROR_TYPE,
    AthenaTrino,
    QueryFailed,
    check_and_rewrite_functions,
    find_identifier,
    install,
    line_col,
    rewrite_unnest,
)
from omics_toolkit.local.patches.guard import Needs

__all__ = ["USER_ERROR_CATEGORY", "USER_ERROR_TYPE", "QueryFailed"]

LOG = logging.getLogger(__name__)

#: The moto symbols this module replaces (checked by tests/unit/local/test_patches_athena_sql.py).
TARGETS = (
    "moto.athena.models.AthenaBackend.start_query_execution",
    "moto.athena.responses.AthenaResponse.get_query_execution",
    "moto.athena.responses.AthenaResponse.get_query_results",
    "moto.athena.responses.AthenaResponse.get_work_group",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.athena.models.AthenaBackend.start_query_execution",
        params=("self", "query", "context", "config", "workgroup", "execution_parameters"),
    ),
    Needs("moto.athena.models.AthenaBackend.__init__", source=("self.executions",)),
    Needs(
        "moto.athena.models.Execution.__init__",
        params=("self", "query", "context", "config", "workgroup", "execution_parameters"),
    ),
    Needs("moto.athena.models.QueryResults.__init__", params=("self", "rows", "column_info")),
    Needs("moto.athena.responses.AthenaResponse.get_query_execution", source=('"Status"',)),
    Needs("moto.athena.responses.AthenaResponse.get_query_results"),
    Needs("moto.athena.responses.AthenaResponse.get_work_group"),
    Needs("moto.athena.responses.AthenaResponse._get_param"),
    Needs("moto.core.exceptions.JsonRESTError"),
    Needs("moto.glue.models.glue_backends"),
    Needs("moto.s3.models.s3_backends"),
)

SYSTEM_ERROR_TYPE = 100
MAX_RESULTS = 1000
#: The Glue Data Catalog's name in QueryExecutionContext.Catalog and three-part table names.
GLUE_CATALOG = "awsdatacatalog"
#: Prefix of the S3 Tables integration catalogs (``s3tablescatalog/<table bucket>``).
S3TABLES_CATALOG_PREFIX = "s3tablescatalog/"

_originals: dict[str, Any] = {}


# --------------------------------------------------------------------------- parameters


def _question_marks(sql: str) -> list[int]:
    """Offsets of ``?`` placeholders outside string literals, quoted identifiers and comments."""
    positions: list[int] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
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


# --------------------------------------------------------------------------- Glue resolution


@dataclass
class ResolvedTable:
    """A Glue table resolved to its data. ``location`` is the StorageDescriptor.Location."""

    database: str
    name: str
    location: str
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]


def _glue_table(
    account_id: str, region: str, database: str, name: str, display: str
) -> dict[str, Any]:
    from moto.glue.models import glue_backends

    backend = glue_backends[account_id][region]
    db = next((d for k, d in backend.databases.items() if k.lower() == database.lower()), None)
    if db is None:
        raise QueryFailed(f"SCHEMA_NOT_FOUND: Schema '{database}' does not exist")
    table = next((t for k, t in db.tables.items() if k.lower() == name.lower()), None)
    if table is None:
        raise QueryFailed(f"TABLE_NOT_FOUND: Table '{display}' does not exist")
    return dict(table.as_dict())


def resolve_table(account_id: str, region: str, database: str, name: str) -> ResolvedTable:
    """Resolve ``database.name`` through Glue, following resource links (at most 5 hops).

    Raises:
        QueryFailed: SCHEMA_NOT_FOUND / TABLE_NOT_FOUND, or a table without a location.
    """
    display = f"{database}.{name}".lower()
    for _ in range(5):
        table = _glue_table(account_id, region, database, name, display)
        target = table.get("TargetTable")
        if target:
            account_id = target.get("CatalogId") or account_id
            region = target.get("Region") or region
            database, name = target["DatabaseName"], target["Name"]
            continue
        sd = table.get("StorageDescriptor") or {}
        location = sd.get("Location")
        if not location:
            raise QueryFailed(
                f"HIVE_METASTORE_ERROR: Table '{display}' has no StorageDescriptor.Location"
            )
        cols = [(c["Name"].lower(), c.get("Type", "string")) for c in sd.get("Columns", [])]
        parts = [
            (c["Name"].lower(), c.get("Type", "string")) for c in table.get("PartitionKeys", [])
        ]
        return ResolvedTable(database.lower(), name.lower(), location, cols, parts)
    raise QueryFailed(f"HIVE_METASTORE_ERROR: too many resource-link hops resolving '{display}'")


def _parquet_files(location: str, account_id: str, scratch: Path) -> list[str]:
    """Local paths of every ``*.parquet`` under ``location`` (``file://`` or moto ``s3://``)."""
    parsed = urlparse(location)
    if parsed.scheme in ("file", ""):
        root = Path(unquote(parsed.path))
        if root.is_file():
            return [str(root)]
        return (
            sorted(str(p) for p in root.rglob("*.parquet") if p.is_file()) if root.is_dir() else []
        )
    if parsed.scheme in ("s3", "s3a"):
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        bucket = backend.buckets.get(parsed.netloc)
        if bucket is None:
            raise QueryFailed(f"HIVE_PATH_ALREADY_EXISTS: bucket of {location} does not exist")
        prefix = parsed.path.lstrip("/")
        files = []
        for key_name in sorted(bucket.keys.keys()):
            if not key_name.startswith(prefix) or not key_name.endswith(".parquet"):
                continue
            key = bucket.keys[key_name]
            target = scratch / parsed.netloc / key_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(key.value)
            files.append(str(target))
        return files
    raise QueryFailed(f"NOT_SUPPORTED: table location scheme {parsed.scheme!r} ({location})")


def _duck_type(glue_type: str) -> str:
    import sqlglot
    from sqlglot import exp

    try:
        return exp.DataType.build(glue_type, dialect="hive").sql(dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError):
        return "VARCHAR"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _register_view(con: Any, view: str, table: ResolvedTable, files: list[str]) -> None:
    if files:
        listing = ", ".join(_sql_str(f) for f in files)
        hive = ", hive_partitioning = true" if table.partition_keys else ""
        con.execute(
            f"CREATE VIEW {_quote(view)} AS SELECT * FROM read_parquet([{listing}], union_by_name = true{hive})"
        )
    else:
        cols = table.columns + table.partition_keys
        select = (
            ", ".join(f"CAST(NULL AS {_duck_type(t)}) AS {_quote(c)}" for c, t in cols)
            or "NULL AS _"
        )
        con.execute(f"CREATE VIEW {_quote(view)} AS SELECT {select} WHERE false")


# --------------------------------------------------------------------------- SQL


_OTHER_STATEMENTS = frozenset(
    "ALTER CREATE DELETE DESCRIBE DROP EXECUTE EXPLAIN INSERT MERGE MSCK OPTIMIZE PREPARE SHOW "
    "UPDATE USE VACUUM DEALLOCATE CALL GRANT REVOKE".split()
)
_DATABASE_DDL = re.compile(r"^\s*(create|drop)\s+(database|schema)\b", re.IGNORECASE)


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", sql)


def _parse(sql: str) -> Any:
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(sql, read=AthenaTrino)
    except sqlglot.errors.ParseError as exc:
        err = (exc.errors or [{}])[0]
        where = f"line {err.get('line') or 1}:{err.get('col') or 1}: "
        raise QueryFailed(f"SYNTAX_ERROR: {where}{err.get('description') or exc}") from exc
    except sqlglot.errors.SqlglotError as exc:
        raise QueryFailed(f"SYNTAX_ERROR: line 1:1: {exc}") from exc
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise QueryFailed("SYNTAX_ERROR: line 1:1: only one statement per query is allowed")
    tree = trees[0]
    if not isinstance(tree, exp.Query | exp.Values):
        first = (sql.split() or [""])[0]
        raise QueryFailed(f"SYNTAX_ERROR: line 1:1: mismatched input '{first}'")
    return tree


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


def _catalog_kind(catalog: str) -> str:
    lowered = catalog.lower()
    if lowered == GLUE_CATALOG:
        return "glue"
    if lowered.startswith(S3TABLES_CATALOG_PREFIX) and len(lowered) > len(S3TABLES_CATALOG_PREFIX):
        return "s3tables"
    raise QueryFailed(f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist")


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
    ``omics_toolkit.local.s3tables_catalog.register_view``. A three-part name
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
    _catalog_kind(default_catalog)
    views: dict[tuple[str, str, str], str] = {}
    for table in list(tree.find_all(exp.Table)):
        if not table.name or (not table.db and table.name.lower() in cte_names):
            continue
        if isinstance(table.this, exp.Func | exp.Anonymous) or table.this is None:
            continue  # table functions
        table_catalog = table.catalog or default_catalog
        kind = _catalog_kind(table_catalog)
        database = (table.db or default_db).lower()
        name = table.name.lower()
        key = (table_catalog.lower(), database, name)
        if key not in views:
            view = f"__athena_{len(views)}_{name}"
            if kind == "glue":
                resolved = resolve_table(account_id, region, database, name)
                _register_view(
                    con, view, resolved, _parquet_files(resolved.location, account_id, scratch)
                )
            else:
                from omics_toolkit.local.s3tables_catalog import register_view

                register_view(con, view, table_catalog, database, name, account_id, region)
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


# --------------------------------------------------------------------------- results


def athena_type(duck_type: Any) -> tuple[str, int, int]:
    """Athena type name, precision and scale for a DuckDB column type."""
    text = str(duck_type).upper()
    if text.endswith("[]") or text.startswith("LIST") or re.match(r"^.*\[\d*\]$", text):
        return "array", 0, 0
    if text.startswith("MAP"):
        return "map", 0, 0
    if text.startswith("STRUCT"):
        return "row", 0, 0
    m = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if m:
        return "decimal", int(m.group(1)), int(m.group(2))
    simple = {
        "VARCHAR": ("varchar", 2147483647, 0),
        "BOOLEAN": ("boolean", 0, 0),
        "TINYINT": ("tinyint", 3, 0),
        "SMALLINT": ("smallint", 5, 0),
        "INTEGER": ("integer", 10, 0),
        "BIGINT": ("bigint", 19, 0),
        "HUGEINT": ("bigint", 19, 0),
        "UTINYINT": ("smallint", 5, 0),
        "USMALLINT": ("integer", 10, 0),
        "UINTEGER": ("bigint", 19, 0),
        "UBIGINT": ("bigint", 19, 0),
        "FLOAT": ("float", 17, 0),
        "DOUBLE": ("double", 17, 0),
        "DATE": ("date", 0, 0),
        "TIMESTAMP": ("timestamp", 3, 0),
        "TIMESTAMP_NS": ("timestamp", 3, 0),
        "TIMESTAMP_MS": ("timestamp", 3, 0),
        "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3, 0),
        "TIME": ("time", 3, 0),
        "BLOB": ("varbinary", 1073741824, 0),
        "UUID": ("varchar", 2147483647, 0),
        "JSON": ("json", 0, 0),
        "INTERVAL": ("varchar", 2147483647, 0),
    }
    return simple.get(text, ("varchar", 2147483647, 0))


def _format_double(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    mantissa, exponent = f"{value:.16E}".split("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def format_value(value: Any, nested: bool = False) -> str | None:
    """Athena's text form of a value (``None`` for SQL NULL at the top level)."""
    if value is None:
        return None if not nested else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_double(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += " UTC"
        return text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return " ".join(f"{b:02x}" for b in bytes(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(format_value(v, True)) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{format_value(k, True)}={format_value(v, True)}" for k, v in value.items()
            )
            + "}"
        )
    return str(value)


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
        return _athena_arrow(con.sql(cast_sql).arrow())

    return _run(sql, default_db, account_id, region, catalog, consume)


def _athena_arrow(table: Any) -> Any:
    """Large/view Arrow string and list types to the plain ones Athena's Parquet carries."""
    import pyarrow as pa

    if hasattr(table, "read_all"):
        table = table.read_all()

    def plain(t: Any) -> Any:
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_large_binary(t):
            return pa.binary()
        if pa.types.is_large_list(t) or pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        if pa.types.is_map(t):
            return pa.map_(plain(t.key_type), plain(t.item_type))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, plain(f.type)) for f in t])
        return t

    schema = pa.schema([pa.field(f.name, plain(f.type)) for f in table.schema])
    return table.cast(schema)


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
            return f"COLUMN_NOT_FOUND: {find_identifier(sql, column)}: Column '{column}' cannot be resolved"
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


def results_csv(column_info: list[dict[str, Any]], rows: list[list[str | None]]) -> bytes:
    """Athena's result CSV: header row, every non-null value double-quoted, NULL empty."""
    buf = io.StringIO()

    def line(values: list[str | None]) -> str:
        return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values)

    if column_info:
        buf.write(line([c["Name"] for c in column_info]) + "\n")
    for row in rows:
        buf.write(line(row) + "\n")
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- moto glue


def _output_location(backend: Any, execution: Any, workgroup: str | None) -> str | None:
    config = execution.config or {}
    location = config.get("OutputLocation")
    wg = backend.work_groups.get(workgroup or "primary")
    wg_conf = (getattr(wg, "configuration", None) or {}) if wg else {}
    wg_location = (wg_conf.get("ResultConfiguration") or {}).get("OutputLocation")
    if wg_location and (wg_conf.get("EnforceWorkGroupConfiguration") or not location):
        location = wg_location.rstrip("/") + "/" + f"{execution.id}.csv"
    if location and not location.endswith(".csv"):
        location = location.rstrip("/") + "/" + f"{execution.id}.csv"
    return location


def _put_s3(account_id: str, location: str, body: bytes) -> None:
    from moto.s3.models import s3_backends

    parsed = urlparse(location)
    s3_backends[account_id]["aws"].put_object(
        bucket_name=parsed.netloc, key_name=parsed.path.lstrip("/"), value=body
    )


@dataclass
class Unload:
    """A parsed ``UNLOAD (query) TO 's3://...' WITH (format = ..., compression = ...)``."""

    query: str
    location: str
    format: str
    compression: str


_UNLOAD_START = re.compile(r"^\s*UNLOAD\s*\(", re.IGNORECASE)
_UNLOAD_TAIL = re.compile(
    r"^\s*TO\s+'((?:[^']|'')*)'\s*(?:WITH\s*\((.*)\))?\s*;?\s*$", re.IGNORECASE | re.DOTALL
)
_UNLOAD_PROPERTY = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|ARRAY\s*\[[^\]]*\]|[\w.]+)", re.I)
#: UNLOAD compression for Parquet (Athena default GZIP) -> pyarrow codec.
_PARQUET_CODECS = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "NONE": "none"}


def parse_unload(sql: str) -> Unload | None:
    """Parse an UNLOAD statement (``None`` for anything else).

    Raises:
        QueryFailed: malformed UNLOAD, or a format/property the local Athena does not implement.
    """
    from omics_toolkit.local.athena_functions import mask_literals

    head = _UNLOAD_START.match(sql)
    if not head:
        return None
    masked = mask_literals(sql)
    depth, i = 1, head.end()
    while i < len(sql) and depth:
        depth += {"(": 1, ")": -1}.get(masked[i], 0)
        i += 1
    if depth:
        raise QueryFailed(f"SYNTAX_ERROR: {line_col(sql, len(sql))}: mismatched input '<EOF>'")
    query = sql[head.end() : i - 1]
    tail = _UNLOAD_TAIL.match(sql[i:])
    if not tail:
        raise QueryFailed(f"SYNTAX_ERROR: {line_col(sql, i)}: mismatched input. Expecting: 'TO'")
    location = tail.group(1).replace("''", "'")
    props = {
        k.lower(): v.strip("'").replace("''", "'")
        for k, v in _UNLOAD_PROPERTY.findall(tail.group(2) or "")
    }
    fmt = props.pop("format", "PARQUET").upper()
    compression = props.pop("compression", "GZIP").upper()
    if fmt != "PARQUET":
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena writes UNLOAD format PARQUET only, not {fmt}"
        )
    if compression not in _PARQUET_CODECS:
        raise QueryFailed(
            f"INVALID_TABLE_PROPERTY: Unsupported compression {compression} for PARQUET"
        )
    if props:
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena does not implement UNLOAD properties {sorted(props)}"
        )
    if not location.startswith("s3://"):
        raise QueryFailed(
            f"INVALID_TABLE_PROPERTY: UNLOAD location must be an s3:// URI: {location}"
        )
    return Unload(query, location if location.endswith("/") else location + "/", fmt, compression)


def run_unload(
    unload: Unload,
    query_id: str,
    default_db: str,
    account_id: str,
    region: str,
    catalog: str | None,
) -> list[str]:
    """Run an UNLOAD: one Parquet file under ``unload.location`` in moto S3; return its URIs.

    Raises:
        QueryFailed: HIVE_PATH_ALREADY_EXISTS when the location holds objects (Athena requires
            it empty), or any query failure.
    """
    import pyarrow.parquet as pq
    from moto.s3.models import s3_backends

    parsed = urlparse(unload.location)
    bucket = s3_backends[account_id]["aws"].buckets.get(parsed.netloc)
    if bucket is None:
        raise QueryFailed(f"HIVE_FILESYSTEM_ERROR: the bucket of {unload.location} does not exist")
    prefix = parsed.path.lstrip("/")
    if any(key.startswith(prefix) for key in bucket.keys.keys()):
        raise QueryFailed(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: {unload.location}. "
            "You may need to manually clean the data at this location before retrying. "
            "Athena will not delete data in your account."
        )
    table = run_query_arrow(unload.query, default_db, account_id, region, catalog)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=_PARQUET_CODECS[unload.compression], store_schema=False)
    uri = f"{unload.location}{query_id}_00000"
    _put_s3(account_id, uri, buf.getvalue())
    return [uri]


def _manifest_location(location: str, query_id: str) -> str:
    return location.rsplit("/", 1)[0] + f"/{query_id}-manifest.csv"


def start_query_execution(
    self: Any,
    query: str,
    context: Any,
    config: dict[str, Any] | None,
    workgroup: str | None,
    execution_parameters: list[str] | None,
) -> str:
    """Replacement of ``AthenaBackend.start_query_execution``: run the query now."""
    from moto.athena.models import Execution, QueryResults

    if _DATABASE_DDL.match(_strip_comments(query)):
        return _originals["start_query_execution"](
            self, query, context, config, workgroup, execution_parameters
        )
    execution = Execution(
        query=query,
        context=context,
        config=dict(config) if config else {},
        workgroup=self.work_groups.get(workgroup or "primary"),
        execution_parameters=execution_parameters,
    )
    self.executions[execution.id] = execution
    location = _output_location(self, execution, workgroup)
    if location:
        execution.config["OutputLocation"] = location
    execution.otk_error = None
    execution.otk_manifest = None
    execution.otk_unload = False
    started = time.time()
    ctx = context if isinstance(context, dict) else {}
    default_db = ctx.get("Database") or "default"
    catalog = ctx.get("Catalog") or None
    try:
        sql = bind_parameters(query, execution_parameters)
        unload = parse_unload(_strip_leading_comments(sql))
        if unload is not None:
            execution.otk_unload = True
            if not location:
                raise QueryFailed(
                    "INVALID_REQUEST: UNLOAD needs a query result location (OutputLocation)"
                )
            files = run_unload(
                unload, str(execution.id), default_db, self.account_id, self.region_name, catalog
            )
            manifest = _manifest_location(location, str(execution.id))
            _put_s3(self.account_id, manifest, ("\n".join(files) + "\n").encode())
            execution.otk_manifest = manifest
            self.query_results[execution.id] = QueryResults(rows=[], column_info=[])
            execution.status = "SUCCEEDED"
        else:
            first = (_strip_comments(query).split() or [""])[0].upper()
            if first in _OTHER_STATEMENTS:
                raise QueryFailed(
                    f"NOT_SUPPORTED: the local Athena runs SELECT/WITH/VALUES/UNLOAD queries only, not {first}"
                )
            column_info, rows = run_query(
                sql, default_db, self.account_id, self.region_name, catalog
            )
            header = (
                [{"Data": [{"VarCharValue": c["Name"]} for c in column_info]}]
                if column_info
                else []
            )
            body = [
                {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
            ]
            self.query_results[execution.id] = QueryResults(
                rows=header + body, column_info=column_info
            )
            if location:
                try:
                    _put_s3(self.account_id, location, results_csv(column_info, rows))
                except Exception as exc:  # noqa: BLE001 - reported as Athena does
                    raise QueryFailed(
                        f"Unable to write query results to {location}: {exc}", 1, 401
                    ) from exc
            execution.status = "SUCCEEDED"
    except QueryFailed as exc:
        execution.status = "FAILED"
        execution.otk_error = {
            "ErrorCategory": exc.category,
            "ErrorType": exc.error_type,
            "Retryable": False,
            "ErrorMessage": exc.reason,
        }
    except Exception as exc:  # noqa: BLE001 - never SUCCEEDED with a wrong answer
        LOG.exception("local Athena query failed unexpectedly")
        execution.status = "FAILED"
        execution.otk_error = {
            "ErrorCategory": 1,
            "ErrorType": SYSTEM_ERROR_TYPE,
            "Retryable": False,
            "ErrorMessage": f"INTERNAL_ERROR: {type(exc).__name__}: {exc}",
        }
    execution.start_time = started
    execution.end_time = time.time()
    return str(execution.id)


def _strip_leading_comments(sql: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*", "", sql, flags=re.DOTALL)


def _require_execution(self: Any, exec_id: str) -> None:
    """Athena's answer for an unknown id (moto raises ``KeyError``, a 500)."""
    from moto.core.exceptions import JsonRESTError

    if exec_id not in self.athena_backend.executions:
        raise JsonRESTError("InvalidRequestException", f"QueryExecution {exec_id} was not found")


def get_work_group(self: Any) -> str:
    """Replacement of ``AthenaResponse.get_work_group``: an unknown name is an error, as in Athena.

    moto answers ``{"WorkGroup": null}``; Athena raises ``InvalidRequestException``.
    """
    from moto.core.exceptions import JsonRESTError

    name = self._get_param("WorkGroup")
    if not self.athena_backend.get_work_group(name):
        raise JsonRESTError("InvalidRequestException", f"WorkGroup {name} is not found.")
    return str(_originals["get_work_group"](self))


def get_query_execution(self: Any) -> str:
    """Replacement of ``AthenaResponse.get_query_execution``: adds the failure reason."""
    exec_id = self._get_param("QueryExecutionId")
    _require_execution(self, exec_id)
    body = json.loads(_originals["get_query_execution"](self))
    execution = self.athena_backend.executions.get(exec_id)
    qe = body["QueryExecution"]
    error = getattr(execution, "otk_error", None)
    if error:
        qe["Status"]["StateChangeReason"] = error["ErrorMessage"]
        qe["Status"]["AthenaError"] = error
    if execution is not None:
        elapsed = int(max(0.0, (execution.end_time - execution.start_time)) * 1000)
        qe["Statistics"]["EngineExecutionTimeInMillis"] = elapsed
        qe["Statistics"]["TotalExecutionTimeInMillis"] = elapsed
    if qe.get("ResultConfiguration") is None:
        qe["ResultConfiguration"] = {}
    if getattr(execution, "otk_unload", False):
        qe["StatementType"] = "DML"
        qe["SubstatementType"] = "UNLOAD"
        if execution.otk_manifest:
            qe["Statistics"]["DataManifestLocation"] = execution.otk_manifest
    elif qe["StatementType"] == "DML":
        qe["SubstatementType"] = "SELECT"
    return json.dumps(body)


def get_query_results(self: Any) -> str:
    """Replacement of ``AthenaResponse.get_query_results`` with MaxResults/NextToken paging."""
    from moto.core.exceptions import JsonRESTError

    exec_id = self._get_param("QueryExecutionId")
    _require_execution(self, exec_id)
    max_results = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        raise JsonRESTError(
            "InvalidRequestException", f"MaxResults must be between 1 and {MAX_RESULTS}"
        )
    token = self._get_param("NextToken")
    start = 0
    if token:
        try:
            start = int(token.split(":", 1)[1]) if token.startswith(exec_id + ":") else -1
        except ValueError:
            start = -1
        if start < 0:
            raise JsonRESTError("InvalidRequestException", "Invalid NextToken")
    result = self.athena_backend.get_query_results(exec_id).to_dict()
    rows = result["ResultSet"]["Rows"]
    page = rows[start : start + max_results]
    result["ResultSet"]["Rows"] = page
    result["UpdateCount"] = 0
    if start + max_results < len(rows):
        result["NextToken"] = f"{exec_id}:{start + max_results}"
    return json.dumps(result)


def apply() -> None:
    """Install the replacements (idempotent)."""
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    if AthenaBackend.__dict__.get("start_query_execution") is not start_query_execution:
        _originals["start_query_execution"] = AthenaBackend.__dict__["start_query_execution"]
        AthenaBackend.start_query_execution = start_query_execution  # type: ignore[method-assign]
    if AthenaResponse.__dict__.get("get_query_execution") is not get_query_execution:
        _originals["get_query_execution"] = AthenaResponse.__dict__["get_query_execution"]
        AthenaResponse.get_query_execution = get_query_execution  # type: ignore[method-assign]
    if AthenaResponse.__dict__.get("get_work_group") is not get_work_group:
        _originals["get_work_group"] = AthenaResponse.__dict__["get_work_group"]
        AthenaResponse.get_work_group = get_work_group  # type: ignore[method-assign]
    if AthenaResponse.__dict__.get("get_query_results") is not get_query_results:
        _originals["get_query_results"] = AthenaResponse.__dict__["get_query_results"]
        AthenaResponse.get_query_results = get_query_results  # type: ignore[method-assign]
