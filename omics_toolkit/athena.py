"""SQL over the deployment's variant data through Athena, returned as pandas DataFrames.

Parameters are bound by Athena itself (``ExecutionParameters`` with ``?`` placeholders, PyAthena's
``qmark`` paramstyle), never by string formatting. Named parameters (``:contig``) in query files
are rewritten to ``?`` in order of appearance.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings

QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_PARAM_DOC = re.compile(r"^--\s*@param\s+(\w+)\s+(\w+)\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class QueryFile:
    """A documented SQL file from ``queries/``.

    Attributes:
        name: file stem.
        sql: the SQL text with ``:name`` placeholders.
        params: declared parameters ``{name: (type, description)}`` from ``-- @param`` lines.
    """

    name: str
    sql: str
    params: dict[str, tuple[str, str]]


def load_query(name_or_path: str) -> QueryFile:
    """Load ``queries/<name>.sql`` (or a path).

    Raises:
        UserError: no such file.
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = QUERIES_DIR / f"{name_or_path.removesuffix('.sql')}.sql"
    if not path.is_file():
        known = sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))
        raise UserError(f"no query {name_or_path!r}; known queries: {', '.join(known)}")
    sql = path.read_text()
    params = {m[1]: (m[2], m[3].strip()) for m in _PARAM_DOC.finditer(sql)}
    return QueryFile(path.stem, sql, params)


def to_literal(value: Any) -> str:
    """The Athena SQL literal for a Python value (an ``ExecutionParameters`` entry).

    ``None`` -> ``NULL``; bool -> ``TRUE``/``FALSE``; int/float -> digits; anything else a string
    literal with quotes doubled.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def coerce(name: str, value: Any, kind: str) -> Any:
    """Convert a parameter given as text (CLI ``--param``) to its declared SQL type.

    Raises:
        UserError: the value is not of the declared type.
    """
    try:
        if kind in ("integer", "bigint", "int"):
            return int(value)
        if kind in ("double", "real"):
            return float(value)
        if kind == "boolean" and isinstance(value, str):
            return {"true": True, "false": False}[value.lower()]
    except (KeyError, ValueError) as exc:
        raise UserError(f"parameter {name}={value!r} is not a valid {kind}") from exc
    return value


def bind_named(
    sql: str, values: dict[str, Any], declared: dict[str, tuple[str, str]] | None = None
) -> tuple[str, list[Any]]:
    """Rewrite ``:name`` placeholders to ``?`` and return the parameter values in order.

    Values are coerced to the types declared with ``-- @param`` lines.

    Raises:
        UserError: a placeholder has no value, or a value was given for no placeholder.
    """
    declared = declared or {}
    # Ignore comment lines when finding placeholders.
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    names = _NAMED.findall(body)
    missing = sorted({n for n in names if n not in values})
    if missing:
        raise UserError(
            f"missing query parameter(s): {', '.join(missing)} (pass --param name=value)"
        )
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(
            f"unknown query parameter(s): {', '.join(unknown)}; the query uses {sorted(set(names))}"
        )
    ordered = [coerce(n, values[n], declared.get(n, ("", ""))[0]) for n in names]
    return _NAMED.sub("?", body), ordered


def variant_backend(ctx: AwsContext, settings: Settings) -> str:
    """Where the deployment's variants live: ``"stores"``, ``"s3tables"`` or ``"none"``.

    ``settings.variant_backend`` when explicit; for ``"auto"`` the choice provisioning made,
    read from the state machine's ``omics-toolkit:variant-backend`` tag (Step Functions
    ListTagsForResource, once per context and deployment); ``"stores"`` when the state machine
    is missing or untagged.
    """
    if settings.variant_backend != "auto":
        return settings.variant_backend
    key = f"variant_backend:{settings.deployment}"
    if key not in ctx.memo:
        found = _tagged_backend(ctx, settings)
        if found is None:  # not provisioned (yet): not remembered
            return "stores"
        ctx.memo[key] = found
    return str(ctx.memo[key])


def _tagged_backend(ctx: AwsContext, settings: Settings) -> str | None:
    from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn
    from omics_toolkit.errors import AwsError
    from omics_toolkit.identity import VARIANT_BACKEND_TAG, Names

    names = Names(settings.deployment, ctx.account_id, ctx.region)
    arn = deployment_state_machine_arn(ctx, names.state_machine)
    try:
        tags = ctx.client("stepfunctions").list_tags_for_resource(resourceArn=arn)["tags"]
    except AwsError:
        return None
    found = {t["key"]: t["value"] for t in tags}.get(VARIANT_BACKEND_TAG)
    return found if found in ("stores", "s3tables", "none") else None


def connect(ctx: AwsContext, settings: Settings) -> Any:
    """A PyAthena connection to the deployment's workgroup, catalog and database.

    Variant stores: the Glue database ``<deployment_snake>`` (resource links ``variants``,
    ``annotations_<name>``) in ``AwsDataCatalog``. S3 Tables: the catalog
    ``s3tablescatalog/<deployment>-tables`` and its namespace ``<deployment_snake>``. Either way
    the tables are ``variants`` and ``annotations_<name>``, so the same SQL runs on both.

    Raises:
        UserError: the deployment's variant back end is ``none`` (no tables to query; says why
            and what to change).
    """
    from pyathena import connect as athena_connect

    from omics_toolkit.identity import Names

    names = Names(settings.deployment, ctx.account_id, ctx.region)
    backend = variant_backend(ctx, settings)
    if backend == "none":
        raise UserError(
            f'deployment {settings.deployment} has no variant tables (variant_backend = "none"): '
            f"its VCFs stay in {names.run_output_uri}; to query them, set "
            'variant_backend to "auto" or "s3tables" and run `omics-toolkit provision`'
        )
    kwargs: dict[str, Any] = {}
    if endpoint := ctx.endpoint("athena"):
        kwargs["endpoint_url"] = endpoint
    if backend == "s3tables":
        kwargs.update(catalog_name=names.athena_catalog, schema_name=names.table_namespace)
    else:
        kwargs.update(schema_name=names.glue_database)
    return athena_connect(
        session=ctx.session,
        region_name=ctx.region,
        work_group=names.workgroup,
        s3_staging_dir=names.athena_output_uri,
        poll_interval=ctx.query_poll_seconds,
        **kwargs,
    )


def run_query(
    ctx: AwsContext, settings: Settings, sql: str, parameters: list[Any] | None = None
) -> pd.DataFrame:
    """Run SQL through Athena (StartQueryExecution, GetQueryExecution, S3 result CSV).

    Args:
        sql: Athena (Trino) SQL; ``?`` placeholders when ``parameters`` is given.
        parameters: Python values for the ``?`` placeholders, in order; sent as Athena
            ExecutionParameters (SQL literals made by :func:`to_literal`).

    Returns:
        A DataFrame with Athena's column names and types.

    Raises:
        UserError: the query was refused or failed, in one line that carries Athena's words and
            codes (:func:`execute`).
    """
    from pyathena.pandas.cursor import PandasCursor

    conn = connect(ctx, settings)
    try:
        cursor = conn.cursor(PandasCursor)
        execute(ctx, cursor, sql, parameters)
        return cursor.as_pandas()
    finally:
        conn.close()


def execute(ctx: AwsContext, cursor: Any, sql: str, parameters: Sequence[Any] | None) -> None:
    """Run one statement on a PyAthena cursor; Athena's refusal or failure as one line.

    Args:
        cursor: a PyAthena cursor of :func:`connect`'s connection (any cursor class).
        sql: Athena SQL with ``?`` placeholders for ``parameters`` (Python values, sent as
            ExecutionParameters made by :func:`to_literal`).

    Raises:
        UserError: StartQueryExecution refused the query (:func:`rejection_message`: a syntax
            error is ``InvalidRequestException`` ``MALFORMED_QUERY`` with Trino's ``line L:C:
            mismatched input ...``), or the query FAILED (:func:`failure_message`: the
            ``StateChangeReason`` and ``AthenaError`` type of GetQueryExecution), or another
            Athena call failed.
    """
    from pyathena.error import DatabaseError

    params = [to_literal(p) for p in parameters or []]
    try:
        with _pyathena_quiet():
            if params:
                cursor.execute(sql, params, paramstyle="qmark")
            else:
                cursor.execute(sql)
    except DatabaseError as exc:
        query_id = getattr(cursor, "query_id", None)
        if exc.__cause__ is not None or query_id is None:  # an API call failed
            raise UserError(rejection_message(exc)) from exc
        # the query ran and FAILED: PyAthena kept only the reason; the error type is Athena's
        status = ctx.client("athena").get_query_execution(QueryExecutionId=query_id)[
            "QueryExecution"
        ]["Status"]
        raise UserError(failure_message(status, query_id)) from exc


@contextmanager
def _pyathena_quiet() -> Iterator[None]:
    """Drop PyAthena's error logs (each with a traceback) while a query runs: the failure is
    raised and reported once, in one line, by :func:`execute`."""

    def keep(record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR

    loggers = [logging.getLogger(name) for name in ("pyathena.common", "pyathena.util")]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)


def failure_message(status: dict[str, Any], query_id: str) -> str:
    """One line for a FAILED query: Athena's reason, then its error type and category.

    Args:
        status: ``QueryExecution.Status`` (GetQueryExecution): ``StateChangeReason`` and
            ``AthenaError`` {``ErrorCategory`` 1 system / 2 user / 3 other, ``ErrorType`` (the
            Athena error catalog, e.g. 1006 syntax/analysis), ``Retryable``}.
        query_id: the QueryExecutionId, named so the failure can be looked up.

    Returns:
        ``query failed: COLUMN_NOT_FOUND: line 1:8: ... (Athena error type 1006, user error;
        query <id>)``.
    """
    error = status.get("AthenaError") or {}
    reason = status.get("StateChangeReason") or error.get("ErrorMessage") or status.get("State")
    category = {1: "system error", 2: "user error", 3: "other error"}.get(
        error.get("ErrorCategory"), "error"
    )
    kind = f"Athena error type {error['ErrorType']}, " if "ErrorType" in error else "Athena "
    retry = "; retryable" if error.get("Retryable") else ""
    return f"query failed: {reason} ({kind}{category}{retry}; query {query_id})"


def rejection_message(exc: BaseException) -> str:
    """One line for a query Athena refused at StartQueryExecution (e.g. a syntax error).

    Athena answers ``InvalidRequestException`` with ``AthenaErrorCode`` ``MALFORMED_QUERY`` and
    the parser's message (``line 1:1: mismatched input 'SELEC'. Expecting: ...``); PyAthena
    raises ``DatabaseError`` from botocore's error, whose ``response`` carries both.

    Returns:
        ``query failed: line 1:1: mismatched input 'SELEC'. Expecting: ... (Athena
        InvalidRequestException MALFORMED_QUERY)``; other failures: ``query failed: <text>``.
    """
    response = getattr(exc.__cause__, "response", None)
    if not isinstance(response, dict):
        return f"query failed: {exc}"
    error = response.get("Error") or {}
    code = error.get("Code") or "error"
    message = error.get("Message") or str(exc)
    athena_code = response.get("AthenaErrorCode") or error.get("AthenaErrorCode")
    suffix = f" {athena_code}" if athena_code else ""
    return f"query failed: {message} (Athena {code}{suffix})"
