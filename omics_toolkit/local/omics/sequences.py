"""Sequence stores, read sets and read set import jobs.

API operations: CreateSequenceStore, GetSequenceStore, ListSequenceStores, DeleteSequenceStore,
StartReadSetImportJob, GetReadSetImportJob, ListReadSetImportJobs, ListReadSets,
GetReadSetMetadata, BatchDeleteReadSet.

Data: each source item becomes ONE read set (a FASTQ pair: ``source1`` + ``source2``) whose files
are copied to ``<state_dir>/readsets/<readSetId>/`` keeping their S3 base names. FASTQ sources are
checked minimally (gzip readable, first record well formed); BAM/CRAM need ``referenceArn``.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omics_toolkit.local.omics.backend import (
    created_between,
    find_by_client_token,
    get_store_job,
    list_store_jobs,
    paginate,
)
from omics_toolkit.local.omics.errors import OmicsError, conflict, invalid
from omics_toolkit.local.omics.model import now_iso
from omics_toolkit.local.omics.references import resolve_reference_arn
from omics_toolkit.local.omics.s3io import SourceError, download, is_gzip

if TYPE_CHECKING:
    from omics_toolkit.local.omics.backend import Backend

log = logging.getLogger(__name__)

STORES = "sequenceStores"
READSETS = "readSets"
JOBS = "readSetImportJobs"
STORE_ACTIVATION_SECONDS = 0.2


def readset_dir(b: Backend, read_set_id: str) -> Path:
    """``<state_dir>/readsets/<readSetId>``."""
    return b.state_dir / "readsets" / read_set_id


def create_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateSequenceStore: CREATING, ACTIVE shortly after; same ``clientToken`` -> same store."""
    token = p.get("clientToken")
    existing = find_by_client_token(b, STORES, token)
    if existing:
        return existing
    ident = b.state.new_numeric_id(STORES, 10)
    now = now_iso()
    rec = {
        "id": ident,
        "arn": b.arn(f"sequenceStore/{ident}"),
        "name": p["name"],
        "description": p.get("description"),
        "sseConfig": p.get("sseConfig") or {"type": "KMS"},
        "creationTime": now,
        "updateTime": now,
        "fallbackLocation": p.get("fallbackLocation"),
        "eTagAlgorithmFamily": p.get("eTagAlgorithmFamily") or "MD5up",
        "status": "CREATING",
        "propagatedSetLevelTags": p.get("propagatedSetLevelTags"),
        "s3Access": {
            "s3Uri": f"s3://{ident}-{b.account_id}-{b.region}-omics/{ident}/",
            "s3AccessPointArn": f"arn:aws:s3:{b.region}:{b.account_id}:accesspoint/{ident}",
        },
        "_clientToken": token,
    }
    b.state.put(STORES, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    timer = threading.Timer(
        STORE_ACTIVATION_SECONDS,
        lambda: b.state.update(STORES, ident, status="ACTIVE", updateTime=now_iso()),
    )
    timer.daemon = True
    timer.start()
    return rec


def get_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetSequenceStore."""
    return b.require(STORES, p["id"], "Sequence store")


def list_sequence_stores(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListSequenceStores with ``filter`` name/status/created*."""
    flt = p.get("filter") or {}
    items = [
        r
        for r in b.state.values(STORES)
        if (not flt.get("name") or r["name"] == flt["name"])
        and (not flt.get("status") or r["status"] == flt["status"])
        and created_between(r, flt)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"sequenceStores": page, "nextToken": nxt}


def delete_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteSequenceStore; ``ConflictException`` while it still holds read sets."""
    b.require(STORES, p["id"], "Sequence store")
    if any(r["sequenceStoreId"] == p["id"] for r in b.state.values(READSETS)):
        raise conflict(f"Sequence store {p['id']} still contains read sets; delete them first")
    b.state.delete(STORES, p["id"])
    return {}


def start_read_set_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartReadSetImportJob: one read set per source item, copied on a worker thread.

    Errors: ResourceNotFoundException (store), ValidationException (BAM/CRAM without
    ``referenceArn``, ``source2`` on a non-FASTQ source, unknown reference).
    """
    store_id = p["sequenceStoreId"]
    b.require(STORES, store_id, "Sequence store")
    for i, src in enumerate(p["sources"], 1):
        kind = src["sourceFileType"]
        if kind in ("BAM", "CRAM") and not src.get("referenceArn"):
            raise invalid(f"sources.{i}: referenceArn is required for {kind} sources")
        if kind != "FASTQ" and src["sourceFiles"].get("source2"):
            raise invalid(f"sources.{i}: source2 is only allowed for FASTQ sources")
        if src.get("referenceArn") and resolve_reference_arn(b, src["referenceArn"]) is None:
            raise invalid(f"sources.{i}: reference {src['referenceArn']} does not exist")
    token = p.get("clientToken")
    existing = find_by_client_token(b, JOBS, token, sequenceStoreId=store_id)
    if existing:
        return existing
    ident = b.state.new_numeric_id(JOBS, 10)
    sources = [dict(s, status="NOT_STARTED") for s in p["sources"]]
    rec = {
        "id": ident,
        "sequenceStoreId": store_id,
        "roleArn": p["roleArn"],
        "status": "SUBMITTED",
        "creationTime": now_iso(),
        "sources": sources,
        "_clientToken": token,
    }
    b.state.put(JOBS, ident, rec)
    b.submit(_run_import, b, ident)
    return rec


def check_fastq(path: Path, uri: str) -> tuple[int, int]:
    """Check a FASTQ minimally: readable (gzip or plain) and first record well formed.

    Returns (read count, base count) of the whole file. Raises ``SourceError``.
    """
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rt") as fh:  # type: ignore[operator]
            head = [fh.readline() for _ in range(4)]
            if not head[0]:
                raise SourceError(f"{uri}: FASTQ file is empty")
            if not head[0].startswith("@"):
                raise SourceError(f"{uri}: not a FASTQ file: first line does not start with '@'")
            if not head[2].startswith("+"):
                raise SourceError(
                    f"{uri}: malformed FASTQ record: third line does not start with '+'"
                )
            if len(head[1].rstrip("\n")) != len(head[3].rstrip("\n")):
                raise SourceError(
                    f"{uri}: malformed FASTQ record: sequence and quality lengths differ"
                )
            reads, bases = 1, len(head[1].strip())
            for lineno, line in enumerate(fh, 5):
                if lineno % 4 == 2:
                    reads += 1
                    bases += len(line.strip())
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise SourceError(f"{uri}: unreadable FASTQ ({exc})") from exc
    return reads, bases


def _import_source(b: Backend, src: dict[str, Any], rs_id: str) -> dict[str, Any]:
    folder = readset_dir(b, rs_id)
    s3 = b.client("s3")
    files: dict[str, Any] = {}
    paths: dict[str, str] = {}
    reads = bases = 0
    for slot in ("source1", "source2"):
        uri = src["sourceFiles"].get(slot)
        if not uri:
            continue
        name = uri.rstrip("/").rsplit("/", 1)[-1] or slot
        if slot == "source2" and name == Path(paths.get("source1", "")).name:
            name = f"source2_{name}"
        path = download(s3, uri, folder / name)
        if src["sourceFileType"] == "FASTQ":
            n, nb = check_fastq(path, uri)
            reads += n
            bases += nb
        elif src["sourceFileType"] in ("BAM", "UBAM", "CRAM"):
            _check_binary(path, uri, src["sourceFileType"])
        size = path.stat().st_size
        files[slot] = {"totalParts": 1, "partSize": max(size, 1), "contentLength": max(size, 1)}
        paths[slot] = str(path)
    info: dict[str, Any] = {"generatedFrom": src.get("generatedFrom")}
    if reads:
        info.update(totalReadCount=reads, totalBaseCount=bases)
    return {"files": files, "_paths": paths, "sequenceInformation": info}


def _check_binary(path: Path, uri: str, kind: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(4)
    if kind == "CRAM":
        if head != b"CRAM":
            raise SourceError(f"{uri}: not a CRAM file")
    elif head[:2] != b"\x1f\x8b":
        raise SourceError(f"{uri}: not a BGZF-compressed BAM file")


def _run_import(b: Backend, job_id: str) -> None:
    job = b.state.get(JOBS, job_id)
    if job is None:
        return
    b.state.update(JOBS, job_id, status="IN_PROGRESS")
    sources = job["sources"]
    failures: list[str] = []
    for src in sources:
        src["status"] = "IN_PROGRESS"
        b.state.update(JOBS, job_id, sources=sources)
        rs_id = b.state.new_numeric_id(READSETS, 10)
        try:
            details = _import_source(b, src, rs_id)
        except SourceError as exc:
            shutil.rmtree(readset_dir(b, rs_id), ignore_errors=True)
            src["status"] = "FAILED"
            src["statusMessage"] = str(exc)[:127]
            failures.append(str(exc))
            continue
        arn = b.arn(f"sequenceStore/{job['sequenceStoreId']}/readSet/{rs_id}")
        b.state.put(
            READSETS,
            rs_id,
            {
                "id": rs_id,
                "arn": arn,
                "sequenceStoreId": job["sequenceStoreId"],
                "subjectId": src["subjectId"],
                "sampleId": src["sampleId"],
                "status": "ACTIVE",
                "name": src.get("name"),
                "description": src.get("description"),
                "referenceArn": src.get("referenceArn"),
                "fileType": src["sourceFileType"],
                "creationTime": now_iso(),
                "creationType": "IMPORT",
                "creationJobId": job_id,
                **details,
            },
        )
        b.set_tags(arn, src.get("tags"))
        src["status"] = "FINISHED"
        src["readSetId"] = rs_id
    status, message = "COMPLETED", None
    if failures:
        status = "FAILED" if len(failures) == len(sources) else "COMPLETED_WITH_FAILURES"
        message = "; ".join(failures)[:127]
    b.state.update(
        JOBS,
        job_id,
        status=status,
        statusMessage=message,
        sources=sources,
        completionTime=now_iso(),
    )


def get_read_set_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetImportJob."""
    return get_store_job(
        b, JOBS, p["id"], "sequenceStoreId", p["sequenceStoreId"], "Read set import job"
    )


def list_read_set_import_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSetImportJobs with ``filter`` status/created*."""
    return list_store_jobs(
        b, p, jobs=JOBS, stores=STORES, store_key="sequenceStoreId", store_label="Sequence store"
    )


def list_read_sets(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSets with ``filter`` name/status/referenceArn/sampleId/subjectId/generatedFrom."""
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    flt = p.get("filter") or {}

    def keep(r: dict[str, Any]) -> bool:
        for key in ("name", "status", "referenceArn", "sampleId", "subjectId", "creationType"):
            if flt.get(key) and r.get(key) != flt[key]:
                return False
        gen = flt.get("generatedFrom")
        if gen and (r.get("sequenceInformation") or {}).get("generatedFrom") != gen:
            return False
        return created_between(r, flt)

    items = [
        r
        for r in b.state.values(READSETS)
        if r["sequenceStoreId"] == p["sequenceStoreId"] and keep(r)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"readSets": page, "nextToken": nxt}


def _read_set(b: Backend, store_id: str, rs_id: str) -> dict[str, Any]:
    rs = b.state.get(READSETS, rs_id)
    if rs is None or rs["sequenceStoreId"] != store_id:
        raise OmicsError(
            "ResourceNotFoundException", f"Read set {rs_id} not found in store {store_id}"
        )
    return rs


def get_read_set_metadata(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetMetadata."""
    return _read_set(b, p["sequenceStoreId"], p["id"])


def batch_delete_read_set(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """BatchDeleteReadSet: per-id errors (``NotFound``) instead of failing the call."""
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    errors = []
    for rs_id in p["ids"]:
        try:
            _read_set(b, p["sequenceStoreId"], rs_id)
        except OmicsError as exc:
            errors.append({"id": rs_id, "code": "NotFound", "message": exc.message})
            continue
        b.state.delete(READSETS, rs_id)
        shutil.rmtree(readset_dir(b, rs_id), ignore_errors=True)
    return {"errors": errors or None}


def resolve_read_set(b: Backend, store_id: str, rs_id: str) -> dict[str, Any]:
    """The read set record (with ``_paths``) or ``ResourceNotFoundException``."""
    return _read_set(b, store_id, rs_id)


OPERATIONS = {
    "CreateSequenceStore": create_sequence_store,
    "GetSequenceStore": get_sequence_store,
    "ListSequenceStores": list_sequence_stores,
    "DeleteSequenceStore": delete_sequence_store,
    "StartReadSetImportJob": start_read_set_import_job,
    "GetReadSetImportJob": get_read_set_import_job,
    "ListReadSetImportJobs": list_read_set_import_jobs,
    "ListReadSets": list_read_sets,
    "GetReadSetMetadata": get_read_set_metadata,
    "BatchDeleteReadSet": batch_delete_read_set,
}
