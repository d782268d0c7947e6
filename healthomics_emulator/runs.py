"""Runs and run tasks: the API handlers (execution: :mod:`healthomics_emulator.run_exec`).

API operations: StartRun, GetRun, ListRuns, CancelRun, DeleteRun, ListRunTasks, GetRunTask.

Lifecycle (worker thread): PENDING -> STARTING (inputs staged: ``s3://`` downloaded from moto,
``omics://`` reference / read set URIs resolved to the emulator's files) -> RUNNING (``python -m WDL
run`` subprocess with ``MINIWDL__SCHEDULER__CONTAINER_BACKEND=omics_toolkit_host``) -> COMPLETED
(outputs uploaded to ``{outputUri}/{runId}/out/{output}/[{i}/]{file}`` and
``{outputUri}/{runId}/logs/outputs.json``) or FAILED (``failureReason``/``statusMessage`` name the
failed task and the tail of its stderr; an injected job fault, see ``faults``, fails the run once
it is RUNNING, before miniwdl starts). CancelRun: STOPPING, the process group is killed,
CANCELLED. Run directory: ``<state_dir>/runs/<runId>/`` (``inputs/``, ``inputs.json``, ``wdl/``).

Container images: as HealthOmics does, every task's evaluated ``runtime.docker`` is resolved
through the workflow's ``containerRegistryMap`` and must be a private ECR image of the run's region
that ``omics.amazonaws.com`` may pull (repository policy, or a pull through cache rule with the
registry policy and repository creation template it needs) -- checked in moto ECR by the host
backend (:class:`healthomics_emulator.wdl_host.ImageCheck`). A task that fails the check is FAILED
with ``failureReason`` ``INVALID_ECR_IMAGE_URI`` or ``ECR_PERMISSION_ERROR`` (run failure reasons
of https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html) and the run fails with
the same reason. GetRunTask ``imageDetails`` gives the source and resolved image. The check is on
unless the emulator's environment has ``OMICS_TOOLKIT_LOCAL_CHECK_IMAGES=0`` (read at each run).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, conflict, invalid
from healthomics_emulator.helpers import find_by_client_token, paginate
from healthomics_emulator.model import now_iso
from healthomics_emulator.run_groups import resolve_run_options
from healthomics_emulator.workflows import resolve_definition
from healthomics_facts.instances import static_capacity_gib

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend
from healthomics_emulator.run_model import (
    ACTIVE,
    CHECK_IMAGES_ENV,
    RUNS,
    RunFailure,
    check_images_enabled,
    run_dir,
)

log = logging.getLogger(__name__)

# Names kept importable from here (tests and callers use them).
__all__ = ["ACTIVE", "CHECK_IMAGES_ENV", "RUNS", "RunFailure", "check_images_enabled", "run_dir"]


# ---------------------------------------------------------------------- API handlers
def start_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartRun: check workflow (exists, ACTIVE), parameters vs the parameter template, queue.

    Same ``requestId`` returns the run already started. Errors: ResourceNotFoundException
    (workflow), ValidationException (not ACTIVE, unknown/missing parameter, bad outputUri).
    """
    existing = find_by_client_token(b, RUNS, p["requestId"], field="_requestId")
    if existing:
        return existing
    source_run = None
    if p.get("runId"):
        source_run = b.require(RUNS, p["runId"], "Run")
    workflow_id = p.get("workflowId") or (source_run or {}).get("workflowId")
    if not workflow_id:
        raise invalid("workflowId is required")
    if p.get("workflowType") == "READY2RUN":
        raise invalid("the local HealthOmics emulator has no READY2RUN workflows")
    version = p.get("workflowVersionName") or (source_run or {}).get("workflowVersionName")
    definition = resolve_definition(b, workflow_id, version)
    parameters = p.get("parameters")
    if parameters is None and source_run is not None:
        parameters = source_run.get("parameters")
    parameters = parameters or {}
    if not isinstance(parameters, dict):
        raise invalid("parameters must be a JSON object")
    template = definition.get("parameterTemplate") or {}
    unknown = sorted(k for k in parameters if k not in template)
    if unknown:
        raise invalid(
            f"Parameter(s) not defined in the parameter template of workflow {workflow_id}: "
            + ", ".join(unknown)
        )
    missing = sorted(
        k for k, v in template.items() if not (v or {}).get("optional") and k not in parameters
    )
    if missing:
        raise invalid(
            f"Missing required parameter(s) for workflow {workflow_id}: " + ", ".join(missing)
        )
    run_options = resolve_run_options(b, p)
    # Run storage: the run's type, else the workflow's, else STATIC (the documented default).
    storage_type = p.get("storageType") or definition.get("storageType") or "STATIC"
    capacity = p.get("storageCapacity") or definition.get("storageCapacity")
    if storage_type == "DYNAMIC":
        capacity = None
    else:
        # StartRun rounds a STATIC capacity up to a multiple of 1200 GiB (default 1200 GiB).
        capacity = static_capacity_gib(capacity)
    registry_map = definition.get("containerRegistryMap")
    if registry_map is None:
        registry_map = definition.get("_effectiveContainerRegistryMap")
    output_uri = p["outputUri"]
    if not output_uri.startswith("s3://"):
        raise invalid(f"outputUri {output_uri} must be an s3:// URI")
    ident = b.state.new_numeric_id(RUNS, 7)
    rec = {
        "id": ident,
        "arn": b.arn(f"run/{ident}"),
        "uuid": str(uuid.uuid4()),
        "status": "PENDING",
        "workflowId": workflow_id,
        "workflowType": "PRIVATE",
        "workflowVersionName": version,
        "workflowUuid": definition.get("uuid"),
        "runId": p.get("runId"),
        "roleArn": p["roleArn"],
        "name": p.get("name"),
        **run_options,
        "priority": p.get("priority"),
        "definition": definition.get("_definitionUri") or "definition.zip",
        "digest": definition.get("digest"),
        "parameters": parameters,
        "storageCapacity": capacity,
        "storageType": storage_type,
        "outputUri": output_uri,
        "runOutputUri": f"{output_uri.rstrip('/')}/{ident}",
        "logLevel": p.get("logLevel"),
        "retentionMode": p.get("retentionMode") or "RETAIN",
        "startedBy": f"arn:aws:iam::{b.account_id}:user/local",
        "creationTime": now_iso(),
        "logLocation": {"engineLogStream": f"run/{ident}/engine", "runLogStream": f"run/{ident}"},
        "networkingMode": p.get("networkingMode") or "RESTRICTED",
        "workflowName": definition.get("name"),
        "_requestId": p["requestId"],
        "_workflowName": definition.get("_workflowName"),
        "_main": str(Path(definition["_definitionDir"]) / definition["main"]),
        "_engine": definition.get("engine"),
        "_containerRegistryMap": registry_map or {},
        "_tasks": {},
    }
    b.state.put(RUNS, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    rec["tags"] = b.tags_of(rec["arn"])
    b.submit(b.runner.execute, ident)
    return rec


def get_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRun."""
    rec = b.require(RUNS, p["id"], "Run")
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_runs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRuns, newest first, filtered by name/status/runGroupId."""
    items = [
        r
        for r in reversed(b.state.values(RUNS))
        if (not p.get("name") or r.get("name") == p["name"])
        and (not p.get("status") or r["status"] == p["status"])
        and (not p.get("runGroupId") or r.get("runGroupId") == p["runGroupId"])
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def cancel_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CancelRun: STOPPING, the miniwdl process group is killed, then CANCELLED.

    ConflictException when the run already ended.
    """
    rec = b.require(RUNS, p["id"], "Run")
    if rec["status"] not in ("PENDING", "STARTING", "RUNNING"):
        raise conflict(f"Run {p['id']} cannot be cancelled in status {rec['status']}")
    b.state.update(RUNS, p["id"], status="STOPPING")
    b.runner.cancel(p["id"])
    return {}


def delete_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteRun: only for ended runs (ConflictException otherwise)."""
    rec = b.require(RUNS, p["id"], "Run")
    if rec["status"] in ACTIVE:
        raise conflict(f"Run {p['id']} is {rec['status']}; cancel it before deleting")
    b.state.delete(RUNS, p["id"])
    return {}


def list_run_tasks(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRunTasks (status filter), in order of first appearance."""
    rec = b.require(RUNS, p["id"], "Run")
    tasks = sorted(
        rec.get("_tasks", {}).values(), key=lambda t: (t.get("creationTime") or "", t["taskId"])
    )
    if p.get("status"):
        tasks = [t for t in tasks if t["status"] == p["status"]]
    page, nxt = paginate(tasks, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def get_run_task(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRunTask."""
    rec = b.require(RUNS, p["id"], "Run")
    for task in rec.get("_tasks", {}).values():
        if task["taskId"] == p["taskId"]:
            return task
    raise OmicsError("ResourceNotFoundException", f"Task {p['taskId']} of run {p['id']} not found")


OPERATIONS = {
    "StartRun": start_run,
    "GetRun": get_run,
    "ListRuns": list_runs,
    "CancelRun": cancel_run,
    "DeleteRun": delete_run,
    "ListRunTasks": list_run_tasks,
    "GetRunTask": get_run_task,
}
