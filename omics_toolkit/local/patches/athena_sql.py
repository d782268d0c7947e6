"""Really run Athena SQL in moto: sqlglot (Athena/Trino -> DuckDB) over Glue tables' Parquet data.

Patched moto 5.2.x names:

- ``AthenaBackend.start_query_execution(self, query, context, config, workgroup,
  execution_parameters) -> str``: the query runs synchronously; the execution ends SUCCEEDED
  (rows stored for GetQueryResults, ``<QueryExecutionId>.csv`` written to the output location in
  moto S3) or FAILED (``StateChangeReason`` and ``AthenaError`` carry the reason).
- ``AthenaResponse.get_query_execution``: adds ``Status.StateChangeReason``, ``Status.AthenaError``
  and the effective ``ResultConfiguration.OutputLocation``.
- ``AthenaResponse.get_query_results``: ``MaxResults`` (default and maximum 1000) / ``NextToken``
  pagination; the header row comes first on the first page, as in Athena.

Table resolution: ``[catalog.][database.]table`` (database from the name or
``QueryExecutionContext.Database``, default ``default``; names lowercased) is looked up in moto's
Glue backend, resource links (``TargetTable {CatalogId, DatabaseName, Name}``) are followed, and
a DuckDB view is registered over every ``*.parquet`` under ``StorageDescriptor.Location``
(``file://`` read in place; ``s3://`` copied out of moto S3 for the query). A table without data
files is an empty view with the Glue columns.

Statements: SELECT / WITH / VALUES (and parenthesised queries) run in DuckDB;
``CREATE/DROP DATABASE`` keep moto's behaviour; anything else FAILS with ``NOT_SUPPORTED`` rather
than succeeding with a wrong answer.
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

LOG = logging.getLogger(__name__)

#: The moto symbols this module replaces (checked by tests/unit/local/test_patches_athena_sql.py).
TARGETS = (
    "moto.athena.models.AthenaBackend.start_query_execution",
    "moto.athena.responses.AthenaResponse.get_query_execution",
    "moto.athena.responses.AthenaResponse.get_query_results",
)

#: Athena error category for errors in the query (AthenaError.ErrorCategory; 1 system, 2 user).
USER_ERROR_CATEGORY = 2
#: Athena error type "user error" (Athena error catalog).
USER_ERROR_TYPE = 1000
SYSTEM_ERROR_TYPE = 100
MAX_RESULTS = 1000

_originals: dict[str, Any] = {}


class QueryFailed(Exception):
    """A query failed; ``reason`` is Athena's ``StateChangeReason``."""

    def __init__(
        self, reason: str, category: int = USER_ERROR_CATEGORY, error_type: int = USER_ERROR_TYPE
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category
        self.error_type = error_type


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
    "UNLOAD UPDATE USE VACUUM DEALLOCATE CALL GRANT REVOKE".split()
)
_DATABASE_DDL = re.compile(r"^\s*(create|drop)\s+(database|schema)\b", re.IGNORECASE)


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", sql)


def translate(
    sql: str, default_db: str, account_id: str, region: str, con: Any, scratch: Path
) -> str:
    """Transpile Athena SQL to DuckDB, registering a view for every Glue table referenced.

    Raises:
        QueryFailed: syntax error, unknown schema/table.
    """
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(sql, read="athena")
    except sqlglot.errors.ParseError as exc:
        raise QueryFailed(f"SYNTAX_ERROR: {exc}") from exc
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise QueryFailed("SYNTAX_ERROR: only one statement per query is allowed")
    tree = trees[0]
    if not isinstance(tree, exp.Query | exp.Values):
        first = (sql.split() or [""])[0]
        raise QueryFailed(f"SYNTAX_ERROR: line 1:1: mismatched input '{first}'")
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    views: dict[tuple[str, str], str] = {}
    for table in list(tree.find_all(exp.Table)):
        if not table.name or (not table.db and table.name.lower() in cte_names):
            continue
        if isinstance(table.this, exp.Func | exp.Anonymous) or table.this is None:
            continue  # table functions, UNNEST
        database = (table.db or default_db).lower()
        name = table.name.lower()
        key = (database, name)
        if key not in views:
            resolved = resolve_table(account_id, region, database, name)
            view = f"__athena_{len(views)}_{name}"
            _register_view(
                con, view, resolved, _parquet_files(resolved.location, account_id, scratch)
            )
            views[key] = view
        alias = table.alias
        replacement = exp.Table(this=exp.to_identifier(views[key], quoted=True))
        replacement.set(
            "alias", exp.TableAlias(this=exp.to_identifier(alias or table.name, quoted=True))
        )
        table.replace(replacement)
    try:
        return tree.sql(dialect="duckdb")
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


def run_query(
    sql: str, default_db: str, account_id: str, region: str
) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
    """Run Athena SQL; return ``(ColumnInfo list, rows of Athena texts)``.

    Raises:
        QueryFailed: any failure, with Athena-style reason text.
    """
    import duckdb

    scratch = Path(tempfile.mkdtemp(prefix="omics-toolkit-athena-"))
    con = duckdb.connect(":memory:")
    try:
        duck_sql = translate(sql, default_db, account_id, region, con, scratch)
        LOG.debug("athena -> duckdb: %s", duck_sql)
        try:
            rel = con.sql(duck_sql)
            if rel is None:
                return [], []
            names, types = rel.columns, rel.types
            raw_rows = rel.fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(_duck_reason(exc)) from exc
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
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


def _duck_reason(exc: Exception) -> str:
    text = str(exc)
    kind = type(exc).__name__
    if kind in ("ParserException",):
        return f"SYNTAX_ERROR: {text}"
    if kind in ("BinderException", "CatalogException"):
        if "Referenced column" in text or "not found in FROM clause" in text:
            return f"COLUMN_NOT_FOUND: {text}"
        return f"SEMANTIC_ERROR: {text}"
    if kind in ("ConversionException", "InvalidInputException", "OutOfRangeException"):
        return f"INVALID_CAST_ARGUMENT: {text}"
    return f"GENERIC_USER_ERROR: {text}"


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
    started = time.time()
    default_db = (
        (context or {}).get("Database") if isinstance(context, dict) else None
    ) or "default"
    try:
        first = (_strip_comments(query).split() or [""])[0].upper()
        if first in _OTHER_STATEMENTS:
            raise QueryFailed(
                f"NOT_SUPPORTED: the local Athena runs SELECT/WITH/VALUES queries only, not {first}"
            )
        sql = bind_parameters(query, execution_parameters)
        column_info, rows = run_query(sql, default_db, self.account_id, self.region_name)
        header = (
            [{"Data": [{"VarCharValue": c["Name"]} for c in column_info]}] if column_info else []
        )
        body = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
        self.query_results[execution.id] = QueryResults(rows=header + body, column_info=column_info)
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


def get_query_execution(self: Any) -> str:
    """Replacement of ``AthenaResponse.get_query_execution``: adds the failure reason."""
    body = json.loads(_originals["get_query_execution"](self))
    exec_id = self._get_param("QueryExecutionId")
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
    if qe["StatementType"] == "DML":
        qe["SubstatementType"] = "SELECT"
    return json.dumps(body)


def get_query_results(self: Any) -> str:
    """Replacement of ``AthenaResponse.get_query_results`` with MaxResults/NextToken paging."""
    from moto.core.exceptions import JsonRESTError

    exec_id = self._get_param("QueryExecutionId")
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
    if AthenaResponse.__dict__.get("get_query_results") is not get_query_results:
        _originals["get_query_results"] = AthenaResponse.__dict__["get_query_results"]
        AthenaResponse.get_query_results = get_query_results  # type: ignore[method-assign]
