"""Private workflows and workflow versions.

API operations: CreateWorkflow, GetWorkflow, ListWorkflows, DeleteWorkflow, CreateWorkflowVersion,
GetWorkflowVersion, ListWorkflowVersions, DeleteWorkflowVersion.

A definition (``definitionZip`` bytes or a ``definitionUri`` ``s3://`` zip in moto S3) is
extracted to ``<state_dir>/workflows/<id>[/versions/<name>]/definition/`` on a worker thread; the
status goes CREATING -> ACTIVE, or FAILED with ``statusMessage`` (no main file, WDL that miniwdl
cannot load, non-WDL engine). Without a ``parameterTemplate`` one is derived from the WDL
workflow's inputs (``optional`` = has a default or an optional type), as the service does.

Container registry map: ``containerRegistryMap`` (validated by the model) or
``containerRegistryMapUri`` (an ``s3://`` JSON document of the same ``ContainerRegistryMap``
shape, read from moto S3 when the workflow is created; unreadable or invalid ->
ValidationException) is stored with the workflow or version and returned by GetWorkflow /
GetWorkflowVersion; runs resolve task images through it (see ``healthomics_emulator.wdl_host``).
Assumptions (not stated by the API reference): giving both members is a ValidationException; a
version created without a map runs with its workflow's map.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, ValidationError, conflict, invalid
from healthomics_emulator.helpers import find_by_client_token, paginate
from healthomics_emulator.model import now_iso
from healthomics_emulator.s3io import SourceError, download, split_s3_uri

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

log = logging.getLogger(__name__)

WORKFLOWS = "workflows"
VERSIONS = "workflowVersions"


class DefinitionError(Exception):
    """The workflow definition is unusable; ``str()`` is the statusMessage."""


def workflow_dir(b: Backend, workflow_id: str, version: str | None = None) -> Path:
    """``<state_dir>/workflows/<id>`` (or ``.../versions/<name>``)."""
    base = b.state_dir / "workflows" / workflow_id
    return base / "versions" / version if version else base


def _check_source(p: dict[str, Any]) -> None:
    if not p.get("definitionZip") and not p.get("definitionUri"):
        raise invalid("Either definitionZip or definitionUri must be provided")
    if p.get("definitionZip") and p.get("definitionUri"):
        raise invalid("Only one of definitionZip and definitionUri may be provided")
    if p.get("definitionUri") and not str(p["definitionUri"]).startswith("s3://"):
        raise invalid(f"definitionUri {p['definitionUri']} must be an s3:// URI")


def registry_map_of(b: Backend, p: dict[str, Any]) -> dict[str, Any] | None:
    """The request's container registry map (inline or read from ``containerRegistryMapUri``).

    Raises ValidationException: both members given, a non-``s3://`` or unreadable URI, a
    document that is not JSON or does not fit the ``ContainerRegistryMap`` shape.
    """
    inline = p.get("containerRegistryMap")
    uri = p.get("containerRegistryMapUri")
    if inline is not None and uri:
        raise invalid(
            "Only one of containerRegistryMap and containerRegistryMapUri may be provided"
        )
    if not uri:
        return dict(inline) if inline is not None else None
    try:
        bucket, key = split_s3_uri(uri)
    except SourceError as exc:
        raise invalid(f"containerRegistryMapUri {uri} must be an s3:// URI") from exc
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = b.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        raise invalid(f"containerRegistryMapUri {uri} is not readable: {code}") from exc
    except BotoCoreError as exc:
        raise invalid(f"containerRegistryMapUri {uri} is not readable: {exc}") from exc
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise invalid(f"containerRegistryMapUri {uri} is not a JSON document: {exc}") from exc
    errors: list[str] = []
    parsed = b.model._from_json(doc, "ContainerRegistryMap", "containerRegistryMap", errors)
    if not errors and isinstance(parsed, dict):
        errors = b.model.validator.validate_shape(
            "ContainerRegistryMap", parsed, "containerRegistryMap"
        )
    if errors:
        raise ValidationError(errors)
    return dict(parsed or {})


def create_workflow(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateWorkflow; the same ``requestId`` returns the workflow created by the first call."""
    existing = find_by_client_token(b, WORKFLOWS, p["requestId"], field="_requestId")
    if existing:
        return existing
    _check_source(p)
    registry_map = registry_map_of(b, p)
    ident = b.state.new_numeric_id(WORKFLOWS, 7)
    rec = {
        "id": ident,
        "arn": b.arn(f"workflow/{ident}"),
        "uuid": str(uuid.uuid4()),
        "status": "CREATING",
        "type": "PRIVATE",
        "name": p.get("name"),
        "description": p.get("description"),
        "engine": p.get("engine") or "WDL",
        "main": p.get("main"),
        "parameterTemplate": p.get("parameterTemplate"),
        "storageCapacity": p.get("storageCapacity"),
        "storageType": p.get("storageType") or "DYNAMIC",
        "accelerators": p.get("accelerators"),
        "containerRegistryMap": registry_map,
        "creationTime": now_iso(),
        "_requestId": p["requestId"],
        "_definitionUri": p.get("definitionUri"),
        "_containerRegistryMapUri": p.get("containerRegistryMapUri"),
    }
    folder = workflow_dir(b, ident)
    folder.mkdir(parents=True, exist_ok=True)
    if p.get("definitionZip"):
        (folder / "definition.zip").write_bytes(p["definitionZip"])
    b.state.put(WORKFLOWS, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    b.submit(_prepare, b, WORKFLOWS, ident, folder)
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def _prepare(b: Backend, collection: str, key: str, folder: Path) -> None:
    """Fetch/extract the definition, find ``main``, load it with miniwdl, set ACTIVE/FAILED."""
    rec = b.state.get(collection, key)
    if rec is None:
        return
    try:
        zpath = folder / "definition.zip"
        if rec.get("_definitionUri"):
            download(b.client("s3"), rec["_definitionUri"], zpath)
        data = zpath.read_bytes()
        target = folder / "definition"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        if data[:2] == b"PK":
            _extract(data, target)
        elif (rec.get("_definitionUri") or "").endswith(".wdl"):
            (target / rec["_definitionUri"].rsplit("/", 1)[-1]).write_bytes(data)
        else:
            raise DefinitionError("workflow definition is not a zip archive")
        main = _find_main(target, rec.get("main"))
        changes: dict[str, Any] = {"main": main, "digest": hashlib.sha256(data).hexdigest()}
        if rec.get("engine") not in ("WDL", "WDL_LENIENT"):
            raise DefinitionError(
                f"the local HealthOmics emulator runs WDL workflows only, not {rec.get('engine')}"
            )
        workflow_name, template = _inspect_wdl(target / main)
        changes["_workflowName"] = workflow_name
        if not rec.get("parameterTemplate"):
            changes["parameterTemplate"] = template
        changes["_definitionDir"] = str(target)
        b.state.update(collection, key, status="ACTIVE", **changes)
    except (DefinitionError, SourceError, OSError) as exc:
        log.info("workflow %s failed: %s", key, exc)
        b.state.update(collection, key, status="FAILED", statusMessage=str(exc))


def _extract(data: bytes, target: Path) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = target.resolve()
            for info in zf.infolist():
                dest = (target / info.filename).resolve()
                if not dest.is_relative_to(root):
                    raise DefinitionError(f"zip entry {info.filename} escapes the archive root")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise DefinitionError(f"invalid workflow definition zip: {exc}") from exc


def _find_main(target: Path, main: str | None) -> str:
    if main:
        if not (target / main).is_file():
            raise DefinitionError(f"main file {main} not found in the workflow definition")
        return main
    for name in ("main.wdl", "main.nf", "main.cwl"):
        if (target / name).is_file():
            return name
    wdls = sorted(p for p in target.rglob("*.wdl"))
    if len(wdls) == 1:
        return str(wdls[0].relative_to(target))
    raise DefinitionError("cannot determine the main workflow file; set 'main'")


def _inspect_wdl(path: Path) -> tuple[str, dict[str, Any]]:
    """Load with miniwdl; return the workflow name and a parameter template from its inputs."""
    import WDL

    try:
        doc = WDL.load(str(path))
    except (
        WDL.Error.SyntaxError,
        WDL.Error.ValidationError,
        WDL.Error.MultipleValidationErrors,
        WDL.Error.ImportError,
    ) as exc:
        raise DefinitionError(f"{path.name}: WDL error: {exc}") from exc
    except Exception as exc:  # miniwdl raises assorted errors for bad documents
        raise DefinitionError(f"{path.name}: WDL error: {exc}") from exc
    if doc.workflow is None:
        raise DefinitionError(f"{path.name} has no workflow")
    required = {binding.name for binding in doc.workflow.required_inputs}
    template: dict[str, Any] = {}
    for binding in doc.workflow.available_inputs:
        if "." in binding.name:
            continue  # call inputs are not exposed as run parameters
        template[binding.name] = {
            "description": str(binding.value.type),
            "optional": binding.name not in required,
        }
    return doc.workflow.name, template


def get_workflow(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetWorkflow (``definition`` is the stored definition's location)."""
    rec = b.require(WORKFLOWS, p["id"], "Workflow")
    rec["definition"] = (
        rec.get("_definitionUri") or f"file://{workflow_dir(b, p['id']) / 'definition.zip'}"
    )
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_workflows(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListWorkflows (filter by ``name``; ``type`` READY2RUN lists nothing)."""
    if p.get("type") == "READY2RUN":
        return {"items": []}
    items = [
        w for w in b.state.values(WORKFLOWS) if not p.get("name") or w.get("name") == p["name"]
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def delete_workflow(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteWorkflow: the workflow and its versions disappear."""
    b.require(WORKFLOWS, p["id"], "Workflow")
    for key, rec in b.state.items(VERSIONS):
        if rec["workflowId"] == p["id"]:
            b.state.delete(VERSIONS, key)
    b.state.delete(WORKFLOWS, p["id"])
    return {}


def create_workflow_version(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateWorkflowVersion; same ``requestId`` -> same version; duplicate name -> Conflict."""
    wf = b.require(WORKFLOWS, p["workflowId"], "Workflow")
    key = f"{p['workflowId']}/{p['versionName']}"
    existing = b.state.get(VERSIONS, key)
    if existing is not None:
        if existing.get("_requestId") == p["requestId"]:
            return existing
        raise conflict(f"Workflow {p['workflowId']} already has a version named {p['versionName']}")
    _check_source(p)
    registry_map = registry_map_of(b, p)
    rec = {
        "arn": f"{wf['arn']}/version/{p['versionName']}",
        "workflowId": p["workflowId"],
        "versionName": p["versionName"],
        "uuid": str(uuid.uuid4()),
        "status": "CREATING",
        "type": "PRIVATE",
        "description": p.get("description"),
        "engine": p.get("engine") or wf.get("engine") or "WDL",
        "main": p.get("main"),
        "parameterTemplate": p.get("parameterTemplate"),
        "storageType": p.get("storageType") or "DYNAMIC",
        "storageCapacity": p.get("storageCapacity"),
        "accelerators": p.get("accelerators"),
        "creationTime": now_iso(),
        "workflowBucketOwnerId": p.get("workflowBucketOwnerId"),
        "containerRegistryMap": registry_map,
        "_requestId": p["requestId"],
        "_definitionUri": p.get("definitionUri"),
        "_containerRegistryMapUri": p.get("containerRegistryMapUri"),
    }
    folder = workflow_dir(b, p["workflowId"], p["versionName"])
    folder.mkdir(parents=True, exist_ok=True)
    if p.get("definitionZip"):
        (folder / "definition.zip").write_bytes(p["definitionZip"])
    b.state.put(VERSIONS, key, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    b.submit(_prepare, b, VERSIONS, key, folder)
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def get_workflow_version(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetWorkflowVersion."""
    b.require(WORKFLOWS, p["workflowId"], "Workflow")
    key = f"{p['workflowId']}/{p['versionName']}"
    rec = b.require(VERSIONS, key, "Workflow version")
    rec["definition"] = (
        rec.get("_definitionUri")
        or f"file://{workflow_dir(b, p['workflowId'], p['versionName']) / 'definition.zip'}"
    )
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_workflow_versions(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListWorkflowVersions."""
    b.require(WORKFLOWS, p["workflowId"], "Workflow")
    items = [v for v in b.state.values(VERSIONS) if v["workflowId"] == p["workflowId"]]
    page, nxt = paginate(items, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def delete_workflow_version(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteWorkflowVersion: the version and its extracted definition disappear."""
    b.require(WORKFLOWS, p["workflowId"], "Workflow")
    key = f"{p['workflowId']}/{p['versionName']}"
    b.require(VERSIONS, key, "Workflow version")
    b.state.delete(VERSIONS, key)
    shutil.rmtree(workflow_dir(b, p["workflowId"], p["versionName"]), ignore_errors=True)
    return {}


def resolve_definition(b: Backend, workflow_id: str, version: str | None) -> dict[str, Any]:
    """The workflow (or version) record a run executes; it must be ACTIVE.

    A version without its own ``containerRegistryMap`` gets its workflow's as
    ``_effectiveContainerRegistryMap``.

    Raises ResourceNotFoundException, or ValidationException when not ACTIVE.
    """
    wf = b.require(WORKFLOWS, workflow_id, "Workflow")
    rec = wf
    if version:
        rec = b.require(VERSIONS, f"{workflow_id}/{version}", "Workflow version")
        rec["name"] = wf.get("name")
        rec["id"] = workflow_id
        if rec.get("containerRegistryMap") is None:
            rec["_effectiveContainerRegistryMap"] = wf.get("containerRegistryMap")
    if rec.get("status") != "ACTIVE":
        raise OmicsError(
            "ValidationException",
            f"Workflow {workflow_id}{' version ' + version if version else ''} is not ACTIVE (status {rec.get('status')})",
        )
    return rec


OPERATIONS = {
    "CreateWorkflow": create_workflow,
    "GetWorkflow": get_workflow,
    "ListWorkflows": list_workflows,
    "DeleteWorkflow": delete_workflow,
    "CreateWorkflowVersion": create_workflow_version,
    "GetWorkflowVersion": get_workflow_version,
    "ListWorkflowVersions": list_workflow_versions,
    "DeleteWorkflowVersion": delete_workflow_version,
}
