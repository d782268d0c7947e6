"""One Athena query execution, as StartQueryExecution runs it: statement kind, run, outcome.

Statements: SELECT / WITH / VALUES (and parenthesised queries) run in DuckDB
(:mod:`omics_toolkit.local.athena.engine`); ``UNLOAD`` writes Parquet
(:mod:`omics_toolkit.local.athena.unload`) and a manifest; anything else FAILS with
``NOT_SUPPORTED`` rather than succeeding with a wrong answer. ``CREATE/DROP DATABASE`` are left
to moto (:func:`is_database_ddl`). The caller (the moto patch
:mod:`omics_toolkit.local.patches.athena_sql`) keeps the execution record; :func:`execute` says
how it ended.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from omics_toolkit.local.athena.engine import run_query
from omics_toolkit.local.athena.errors import SYSTEM_ERROR_TYPE, QueryFailed
from omics_toolkit.local.athena.results import results_csv
from omics_toolkit.local.athena.s3 import put_s3
from omics_toolkit.local.athena.translate import bind_parameters
from omics_toolkit.local.athena.unload import manifest_location, parse_unload, run_unload

LOG = logging.getLogger(__name__)

_OTHER_STATEMENTS = frozenset(
    "ALTER CREATE DELETE DESCRIBE DROP EXECUTE EXPLAIN INSERT MERGE MSCK OPTIMIZE PREPARE SHOW "
    "UPDATE USE VACUUM DEALLOCATE CALL GRANT REVOKE".split()
)
_DATABASE_DDL = re.compile(r"^\s*(create|drop)\s+(database|schema)\b", re.IGNORECASE)


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", sql)


def _strip_leading_comments(sql: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*", "", sql, flags=re.DOTALL)


def is_database_ddl(query: str) -> bool:
    """True for ``CREATE/DROP DATABASE|SCHEMA`` (comments ignored), which moto itself handles."""
    return bool(_DATABASE_DDL.match(_strip_comments(query)))


@dataclass
class Outcome:
    """How a query execution ended.

    Attributes:
        status: ``"SUCCEEDED"`` or ``"FAILED"`` (``QueryExecution.Status.State``).
        results: ``(ResultSet.Rows, ColumnInfo list)`` for GetQueryResults when the query produced
            them (header row first; empty for UNLOAD), else ``None``.
        error: the ``Status.AthenaError`` shape when FAILED (``ErrorCategory``, ``ErrorType``,
            ``Retryable``, ``ErrorMessage``), else ``None``.
        manifest: the UNLOAD manifest's ``s3://`` URI (``Statistics.DataManifestLocation``).
        unload: the statement is an UNLOAD (``StatementType`` DML, ``SubstatementType`` UNLOAD).
    """

    status: str = "FAILED"
    results: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
    error: dict[str, Any] | None = None
    manifest: str | None = None
    unload: bool = False


def execute(
    query: str,
    execution_parameters: list[str] | None,
    query_id: str,
    location: str | None,
    default_db: str,
    catalog: str | None,
    account_id: str,
    region: str,
) -> Outcome:
    """Run one StartQueryExecution query now; never raises (failures are in the outcome).

    Args:
        query: the QueryString; execution_parameters: ``ExecutionParameters`` (SQL literal texts).
        query_id: the QueryExecutionId (names UNLOAD files and the manifest).
        location: the effective result ``OutputLocation`` (``s3://.../<id>.csv``) or ``None``;
            the result CSV is written there.
        default_db, catalog: ``QueryExecutionContext.Database`` / ``.Catalog``.
    """
    outcome = Outcome()
    try:
        sql = bind_parameters(query, execution_parameters)
        unload = parse_unload(_strip_leading_comments(sql))
        if unload is not None:
            outcome.unload = True
            if not location:
                raise QueryFailed(
                    "INVALID_REQUEST: UNLOAD needs a query result location (OutputLocation)"
                )
            files = run_unload(unload, query_id, default_db, account_id, region, catalog)
            manifest = manifest_location(location, query_id)
            put_s3(account_id, manifest, ("\n".join(files) + "\n").encode())
            outcome.manifest = manifest
            outcome.results = ([], [])
            outcome.status = "SUCCEEDED"
        else:
            first = (_strip_comments(query).split() or [""])[0].upper()
            if first in _OTHER_STATEMENTS:
                raise QueryFailed(
                    f"NOT_SUPPORTED: the local Athena runs SELECT/WITH/VALUES/UNLOAD queries only, not {first}"
                )
            column_info, rows = run_query(sql, default_db, account_id, region, catalog)
            header = (
                [{"Data": [{"VarCharValue": c["Name"]} for c in column_info]}]
                if column_info
                else []
            )
            body = [
                {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
            ]
            outcome.results = (header + body, column_info)
            if location:
                try:
                    put_s3(account_id, location, results_csv(column_info, rows))
                except Exception as exc:  # noqa: BLE001 - reported as Athena does
                    raise QueryFailed(
                        f"Unable to write query results to {location}: {exc}", 1, 401
                    ) from exc
            outcome.status = "SUCCEEDED"
    except QueryFailed as exc:
        outcome.status = "FAILED"
        outcome.error = {
            "ErrorCategory": exc.category,
            "ErrorType": exc.error_type,
            "Retryable": False,
            "ErrorMessage": exc.reason,
        }
    except Exception as exc:  # noqa: BLE001 - never SUCCEEDED with a wrong answer
        LOG.exception("local Athena query failed unexpectedly")
        outcome.status = "FAILED"
        outcome.error = {
            "ErrorCategory": 1,
            "ErrorType": SYSTEM_ERROR_TYPE,
            "Retryable": False,
            "ErrorMessage": f"INTERNAL_ERROR: {type(exc).__name__}: {exc}",
        }
    return outcome
