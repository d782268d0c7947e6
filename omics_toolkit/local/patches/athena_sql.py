"""Really run Athena SQL in moto: the hooks that hand queries to the local Athena.

Patched moto 5.2.x names:

- ``AthenaBackend.start_query_execution(self, query, context, config, workgroup,
  execution_parameters) -> str``: the query runs synchronously in the local Athena
  (:func:`omics_toolkit.local.athena.execution.execute`); the execution ends SUCCEEDED (rows
  stored for GetQueryResults, ``<QueryExecutionId>.csv`` written to the output location in moto
  S3) or FAILED (``StateChangeReason`` and ``AthenaError`` carry the reason). ``CREATE/DROP
  DATABASE`` keep moto's behaviour. A query that does not parse is refused as Athena refuses it:
  ``InvalidRequestException`` with ``AthenaErrorCode`` ``MALFORMED_QUERY`` and Trino's message
  (:func:`omics_toolkit.local.athena.syntax.syntax_error`); no execution is created.
- ``AthenaResponse.get_query_execution``: adds ``Status.StateChangeReason``, ``Status.AthenaError``
  and the effective ``ResultConfiguration.OutputLocation``.
- ``AthenaResponse.get_work_group``: an unknown workgroup raises ``InvalidRequestException`` (moto
  answers ``{"WorkGroup": null}``); an unknown query execution id too, in the two below (moto: 500).
- ``AthenaResponse.get_query_results``: ``MaxResults`` (default and maximum 1000) / ``NextToken``
  pagination; the header row comes first on the first page, as in Athena.

What runs and how (tables, catalogs, statements, UNLOAD): :mod:`omics_toolkit.local.athena`.
See docs/local-athena.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

from omics_toolkit.local.athena.execution import execute, is_database_ddl
from omics_toolkit.local.athena.syntax import MALFORMED_QUERY, syntax_error
from omics_toolkit.local.patches.guard import Needs

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

#: GetQueryResults ``MaxResults``: its default and its maximum, as in Athena.
MAX_RESULTS = 1000

_originals: dict[str, Any] = {}


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


def _malformed(message: str) -> Exception:
    """Athena's refusal of a query that does not parse (StartQueryExecution, HTTP 400)."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("InvalidRequestException", message)
    error.description = json.dumps(
        {
            "__type": "InvalidRequestException",
            "Message": message,
            "AthenaErrorCode": MALFORMED_QUERY,
        }
    )
    return error


def start_query_execution(
    self: Any,
    query: str,
    context: Any,
    config: dict[str, Any] | None,
    workgroup: str | None,
    execution_parameters: list[str] | None,
) -> str:
    """Replacement of ``AthenaBackend.start_query_execution``: run the query now.

    Raises:
        JsonRESTError: ``InvalidRequestException`` (``MALFORMED_QUERY``) when the query does
            not parse, before any execution exists.
    """
    from moto.athena.models import Execution, QueryResults

    if is_database_ddl(query):
        return _originals["start_query_execution"](
            self, query, context, config, workgroup, execution_parameters
        )
    malformed = syntax_error(query)
    if malformed is not None:
        raise _malformed(malformed)
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
    outcome = execute(
        query,
        execution_parameters,
        str(execution.id),
        location,
        ctx.get("Database") or "default",
        ctx.get("Catalog") or None,
        self.account_id,
        self.region_name,
    )
    if outcome.results is not None:
        rows, column_info = outcome.results
        self.query_results[execution.id] = QueryResults(rows=rows, column_info=column_info)
    execution.status = outcome.status
    execution.otk_error = outcome.error
    execution.otk_manifest = outcome.manifest
    execution.otk_unload = outcome.unload
    execution.start_time = started
    execution.end_time = time.time()
    return str(execution.id)


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
