"""Read sets after import: GetReadSet parts, activation jobs, export jobs, archiving.

API operations: GetReadSet, StartReadSetActivationJob, GetReadSetActivationJob,
ListReadSetActivationJobs, StartReadSetExportJob, GetReadSetExportJob, ListReadSetExportJobs
(developer guide pages "activating-read-sets", "read-set-exports", "s3-access").

- A read set is ARCHIVED after 30 days without access. Tests cannot wait: the control call
  ``POST /_toolkit/readsets/archive`` (:func:`archive_read_sets`,
  :func:`healthomics_emulator.control.archive_read_sets`) archives read sets at once.
- StartReadSetActivationJob: each ARCHIVED source becomes ACTIVATING, then ACTIVE after
  :data:`ACTIVATION_SECONDS`, at the same S3 URIs ("When a read set is activated, it's restored
  to the same URI path each time"); a source that is not ARCHIVED fails with a status message
  (the service's behaviour for it is not documented). Same ``clientToken`` -> same job.
- StartReadSetExportJob: every file of each read set (source1, source2, index) is written to
  ``<destination>/<readSetId>/<file name>`` in S3 as the job's role (``s3:PutObject``); the
  layout under the destination is not documented, this one keeps the files of a read set
  together under its id. Archived read sets export too (export is a way to get data out).
- GetReadSet: part ``partNumber`` (1-based) of ``file`` (SOURCE1 by default), ``partSize`` bytes
  each but the last; a part past the end is ``RangeNotSatisfiableException`` (416); an ARCHIVED or
  ACTIVATING read set is ``ConflictException`` naming StartReadSetActivationJob (the service's
  answer there is not documented; Conflict is the model's error for a resource in the wrong
  state).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, conflict, invalid
from healthomics_emulator.helpers import find_by_client_token, get_store_job, list_store_jobs
from healthomics_emulator.model import now_iso
from healthomics_emulator.s3io import SourceError, fit_message, upload
from healthomics_emulator.sequences import READSETS, STORES, resolve_read_set

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

log = logging.getLogger(__name__)

ACTIVATION_JOBS = "readSetActivationJobs"
EXPORT_JOBS = "readSetExportJobs"
#: How long a read set stays ACTIVATING (the service takes minutes to hours).
ACTIVATION_SECONDS = 0.5
#: Read set statuses in which its files cannot be read (S3 access or GetReadSet).
NOT_READABLE = ("ARCHIVED", "ACTIVATING")
_SLOTS = {"SOURCE1": "source1", "SOURCE2": "source2", "INDEX": "index"}


def _read_set_files(rs: dict[str, Any]) -> dict[str, Path]:
    """slot (``source1``/``source2``/``index``) -> file path of a read set."""
    return {slot: Path(path) for slot, path in (rs.get("_paths") or {}).items()}


# ---------------------------------------------------------------------- GetReadSet
def get_read_set(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSet: one part of one file, as bytes in ``payload`` (a streaming blob).

    Raises:
        ResourceNotFoundException (store, read set), ValidationException (a file the read set
        does not have), RangeNotSatisfiableException (part past the end), ConflictException
        (ARCHIVED or ACTIVATING).
    """
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    rs = resolve_read_set(b, p["sequenceStoreId"], p["id"])
    if rs["status"] in NOT_READABLE:
        raise conflict(
            f"Read set {rs['id']} is {rs['status']}: activate it with StartReadSetActivationJob "
            "and wait until it is ACTIVE"
        )
    file_kind = p.get("file") or "SOURCE1"
    slot = _SLOTS[file_kind]
    path = _read_set_files(rs).get(slot)
    info = (rs.get("files") or {}).get(slot)
    if path is None or info is None:
        raise invalid(f"Read set {rs['id']} has no {file_kind} file")
    number = int(p["partNumber"])
    if number > info["totalParts"]:
        raise OmicsError(
            "RangeNotSatisfiableException",
            f"partNumber {number} is past the last part ({info['totalParts']}) of {file_kind}",
        )
    with path.open("rb") as fh:
        fh.seek((number - 1) * info["partSize"])
        data = fh.read(info["partSize"])
    return {"payload": data}


# ---------------------------------------------------------------------- archive (control)
def archive_read_sets(b: Backend, store_id: str, read_set_ids: list[str]) -> list[dict[str, Any]]:
    """Make read sets ARCHIVED now (the service does it after 30 days without access).

    Returns:
        The read set records after the change.

    Raises:
        OmicsError: ``ResourceNotFoundException`` for an unknown store or read set (nothing is
            changed then).
    """
    b.require(STORES, store_id, "Sequence store")
    records = [resolve_read_set(b, store_id, rs_id) for rs_id in read_set_ids]
    for rs in records:
        b.state.update(READSETS, rs["id"], status="ARCHIVED")
    return [resolve_read_set(b, store_id, rs["id"]) for rs in records]


# ---------------------------------------------------------------------- activation
def start_read_set_activation_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartReadSetActivationJob: ARCHIVED -> ACTIVATING -> ACTIVE on a worker thread.

    Raises:
        ResourceNotFoundException (store).
    """
    store_id = p["sequenceStoreId"]
    b.require(STORES, store_id, "Sequence store")
    token = p.get("clientToken")
    existing = find_by_client_token(b, ACTIVATION_JOBS, token, sequenceStoreId=store_id)
    if existing:
        return existing
    ident = b.state.new_numeric_id(ACTIVATION_JOBS, 10)
    rec = {
        "id": ident,
        "sequenceStoreId": store_id,
        "status": "SUBMITTED",
        "creationTime": now_iso(),
        "sources": [{"readSetId": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
        "_clientToken": token,
    }
    b.state.put(ACTIVATION_JOBS, ident, rec)
    b.submit(_run_activation, b, ident)
    return rec


def _run_activation(b: Backend, job_id: str) -> None:
    job = b.state.get(ACTIVATION_JOBS, job_id)
    if job is None:
        return
    b.state.update(ACTIVATION_JOBS, job_id, status="IN_PROGRESS")
    sources = job["sources"]
    activating: list[dict[str, Any]] = []
    for src in sources:
        try:
            rs = resolve_read_set(b, job["sequenceStoreId"], src["readSetId"])
        except OmicsError as exc:
            src.update(status="FAILED", statusMessage=fit_message(exc.message))
            continue
        if rs["status"] != "ARCHIVED":
            src.update(
                status="FAILED",
                statusMessage=fit_message(
                    f"Read set {rs['id']} is {rs['status']}; only ARCHIVED read sets are activated"
                ),
            )
            continue
        b.state.update(READSETS, rs["id"], status="ACTIVATING")
        src["status"] = "IN_PROGRESS"
        activating.append(src)
    b.state.update(ACTIVATION_JOBS, job_id, sources=sources)
    if activating and not b.stopping.wait(ACTIVATION_SECONDS):
        for src in activating:
            b.state.update(READSETS, src["readSetId"], status="ACTIVE")
            src["status"] = "FINISHED"
    _finish(b, ACTIVATION_JOBS, job_id, "sources", sources)


def _finish(b: Backend, jobs: str, job_id: str, field: str, sources: list[dict[str, Any]]) -> None:
    """Record the items (``field``) and the outcome: COMPLETED, COMPLETED_WITH_FAILURES (some
    items failed) or FAILED (all did)."""
    failed = [s for s in sources if s["status"] == "FAILED"]
    status, message = "COMPLETED", None
    if failed:
        status = "FAILED" if len(failed) == len(sources) else "COMPLETED_WITH_FAILURES"
        message = fit_message("; ".join(s.get("statusMessage") or "" for s in failed))
    b.state.update(
        jobs,
        job_id,
        status=status,
        statusMessage=message,
        completionTime=now_iso(),
        **{field: sources},
    )


def _get_job(b: Backend, p: dict[str, Any], jobs: str, label: str) -> dict[str, Any]:
    """One job of a sequence store (``ResourceNotFoundException`` for another store's)."""
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    return get_store_job(b, jobs, p["id"], "sequenceStoreId", p["sequenceStoreId"], label)


def _list_jobs(b: Backend, p: dict[str, Any], jobs: str, member: str) -> dict[str, Any]:
    """A sequence store's jobs, filtered and paginated, under the response member ``member``."""
    found = list_store_jobs(
        b, p, jobs=jobs, stores=STORES, store_key="sequenceStoreId", store_label="Sequence store"
    )
    return {member: found["importJobs"], "nextToken": found["nextToken"]}


def get_read_set_activation_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetActivationJob."""
    return _get_job(b, p, ACTIVATION_JOBS, "Activation job")


def list_read_set_activation_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSetActivationJobs with ``filter`` status/createdAfter/createdBefore."""
    return _list_jobs(b, p, ACTIVATION_JOBS, "activationJobs")


# ---------------------------------------------------------------------- export
def start_read_set_export_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartReadSetExportJob: copy each read set's files to ``<destination>/<readSetId>/``.

    Raises:
        ResourceNotFoundException (store).
    """
    store_id = p["sequenceStoreId"]
    b.require(STORES, store_id, "Sequence store")
    token = p.get("clientToken")
    existing = find_by_client_token(b, EXPORT_JOBS, token, sequenceStoreId=store_id)
    if existing:
        return existing
    ident = b.state.new_numeric_id(EXPORT_JOBS, 10)
    rec = {
        "id": ident,
        "sequenceStoreId": store_id,
        "destination": p["destination"],
        "roleArn": p["roleArn"],
        "status": "SUBMITTED",
        "creationTime": now_iso(),
        "readSets": [{"id": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
        "_clientToken": token,
    }
    b.state.put(EXPORT_JOBS, ident, rec)
    b.submit(_run_export, b, ident)
    return rec


def export_uri(destination: str, read_set_id: str, name: str) -> str:
    """``<destination>/<readSetId>/<name>`` (one ``/`` between the parts)."""
    return f"{destination.rstrip('/')}/{read_set_id}/{name}"


def _run_export(b: Backend, job_id: str) -> None:
    from healthomics_emulator.role_policy import AccessDenied, s3_object_arn

    job = b.state.get(EXPORT_JOBS, job_id)
    if job is None:
        return
    b.state.update(EXPORT_JOBS, job_id, status="IN_PROGRESS")
    items = job["readSets"]
    s3 = b.client("s3")
    for item in items:
        if b.stopping.is_set():
            return
        item["status"] = "IN_PROGRESS"
        b.state.update(EXPORT_JOBS, job_id, readSets=items)
        try:
            rs = resolve_read_set(b, job["sequenceStoreId"], item["id"])
            files = _read_set_files(rs)
            uris = {
                slot: export_uri(job["destination"], rs["id"], p.name) for slot, p in files.items()
            }
            policies = b.role_policies(job["roleArn"])
            if policies is not None:
                policies.require("s3:PutObject", [s3_object_arn(u) for u in uris.values()])
            for slot, path in files.items():
                upload(s3, path, uris[slot])
        except (OmicsError, SourceError, AccessDenied) as exc:
            text = exc.message if isinstance(exc, OmicsError) else getattr(exc, "short", str(exc))
            item.update(status="FAILED", statusMessage=fit_message(str(text)))
            continue
        item["status"] = "FINISHED"
    _finish(b, EXPORT_JOBS, job_id, "readSets", items)


def get_read_set_export_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetExportJob."""
    return _get_job(b, p, EXPORT_JOBS, "Export job")


def list_read_set_export_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSetExportJobs with ``filter`` status/createdAfter/createdBefore."""
    return _list_jobs(b, p, EXPORT_JOBS, "exportJobs")


OPERATIONS = {
    "GetReadSet": get_read_set,
    "StartReadSetActivationJob": start_read_set_activation_job,
    "GetReadSetActivationJob": get_read_set_activation_job,
    "ListReadSetActivationJobs": list_read_set_activation_jobs,
    "StartReadSetExportJob": start_read_set_export_job,
    "GetReadSetExportJob": get_read_set_export_job,
    "ListReadSetExportJobs": list_read_set_export_jobs,
}
