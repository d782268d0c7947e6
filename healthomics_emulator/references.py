"""Reference stores, references and reference import jobs.

API operations: CreateReferenceStore, GetReferenceStore, ListReferenceStores, DeleteReferenceStore,
StartReferenceImportJob, GetReferenceImportJob, ListReferenceImportJobs, GetReferenceMetadata,
ListReferences, DeleteReference.

Data: an imported FASTA (gzip accepted, stored uncompressed) lives at
``<state_dir>/references/<refId>/reference.fasta`` with ``reference.fasta.fai`` when ``samtools``
is on PATH; the record keeps its contigs (``_contigs``: name -> length).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, conflict
from healthomics_emulator.helpers import (
    created_between,
    find_by_client_token,
    get_store_job,
    list_store_jobs,
    paginate,
)
from healthomics_emulator.model import now_iso
from healthomics_emulator.s3io import (
    JOB_MESSAGE_MAX,
    SourceError,
    download,
    fit_message,
    open_text,
    require_read,
)

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

log = logging.getLogger(__name__)

STORES = "referenceStores"
REFS = "references"
JOBS = "referenceImportJobs"


def reference_dir(backend: Backend, ref_id: str) -> Path:
    """``<state_dir>/references/<refId>``."""
    return backend.state_dir / "references" / ref_id


def create_reference_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateReferenceStore: a store with a 10-digit id; same ``clientToken`` -> same store."""
    token = p.get("clientToken")
    existing = find_by_client_token(b, STORES, token)
    if existing:
        return existing
    ident = b.state.new_numeric_id(STORES, 10)
    rec = {
        "id": ident,
        "arn": b.arn(f"referenceStore/{ident}"),
        "name": p["name"],
        "description": p.get("description"),
        "sseConfig": p.get("sseConfig") or {"type": "KMS"},
        "creationTime": now_iso(),
        "_clientToken": token,
    }
    b.state.put(STORES, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    return rec


def get_reference_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReferenceStore."""
    return b.require(STORES, p["id"], "Reference store")


def list_reference_stores(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReferenceStores with ``filter`` name/createdAfter/createdBefore."""
    flt = p.get("filter") or {}
    items = [
        r
        for r in b.state.values(STORES)
        if (not flt.get("name") or r["name"] == flt["name"]) and created_between(r, flt)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"referenceStores": page, "nextToken": nxt}


def delete_reference_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteReferenceStore; ``ConflictException`` while it still holds references."""
    b.require(STORES, p["id"], "Reference store")
    if any(r["referenceStoreId"] == p["id"] for r in b.state.values(REFS)):
        raise conflict(f"Reference store {p['id']} still contains references; delete them first")
    b.state.delete(STORES, p["id"])
    return {}


def start_reference_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartReferenceImportJob: copy FASTA sources from S3 on a worker thread.

    Same ``clientToken`` for the same store returns the existing job.
    """
    store_id = p["referenceStoreId"]
    b.require(STORES, store_id, "Reference store")
    token = p.get("clientToken")
    existing = find_by_client_token(b, JOBS, token, referenceStoreId=store_id)
    if existing:
        return existing
    ident = b.state.new_numeric_id(JOBS, 10)
    sources = [
        {
            "sourceFile": s["sourceFile"],
            "status": "NOT_STARTED",
            "name": s["name"],
            "description": s.get("description"),
            "tags": s.get("tags"),
        }
        for s in p["sources"]
    ]
    rec = {
        "id": ident,
        "referenceStoreId": store_id,
        "roleArn": p["roleArn"],
        "status": "SUBMITTED",
        "creationTime": now_iso(),
        "sources": sources,
        "_clientToken": token,
    }
    b.state.put(JOBS, ident, rec)
    b.submit(_run_import, b, ident)
    return rec


def _run_import(b: Backend, job_id: str) -> None:
    job = b.state.get(JOBS, job_id)
    if job is None:
        return
    b.state.update(JOBS, job_id, status="IN_PROGRESS")
    sources = job["sources"]
    hit = b.faults.take_job(
        "reference_import", sources=[([s["sourceFile"]], None) for s in sources]
    )
    if hit is not None:
        hit.rule.pause(b.stopping.is_set)
        if hit.fail:
            message = fit_message(hit.fail, JOB_MESSAGE_MAX)
            for src in sources:
                src.update(status="FAILED", statusMessage=message)
            b.state.update(
                JOBS,
                job_id,
                status="FAILED",
                statusMessage=message,
                sources=sources,
                completionTime=now_iso(),
            )
            return
    failures: list[str] = []
    for src in sources:
        src["status"] = "IN_PROGRESS"
        b.state.update(JOBS, job_id, sources=sources)
        ref_id = b.state.new_numeric_id(REFS, 10)
        try:
            require_read(b, job["roleArn"], src["sourceFile"])
            path, contigs = _import_fasta(b, src["sourceFile"], ref_id)
        except SourceError as exc:
            src["status"] = "FAILED"
            src["statusMessage"] = str(exc)[:127]
            failures.append(str(exc))
            shutil.rmtree(reference_dir(b, ref_id), ignore_errors=True)
            continue
        now = now_iso()
        size = path.stat().st_size
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        arn = b.arn(f"referenceStore/{job['referenceStoreId']}/reference/{ref_id}")
        b.state.put(
            REFS,
            ref_id,
            {
                "id": ref_id,
                "arn": arn,
                "referenceStoreId": job["referenceStoreId"],
                "md5": md5,
                "status": "ACTIVE",
                "name": src["name"],
                "description": src.get("description"),
                "creationTime": now,
                "updateTime": now,
                "creationType": "IMPORT",
                "creationJobId": job_id,
                "files": {
                    "source": {
                        "totalParts": 1,
                        "partSize": max(size, 1),
                        "contentLength": max(size, 1),
                    }
                },
                "_path": str(path),
                "_contigs": contigs,
            },
        )
        b.set_tags(arn, src.get("tags"))
        src["status"] = "FINISHED"
        src["referenceId"] = ref_id
    status = "COMPLETED"
    message = None
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


def _import_fasta(b: Backend, uri: str, ref_id: str) -> tuple[Path, dict[str, int]]:
    """Download, decompress and check a FASTA; return its path and contig lengths."""
    folder = reference_dir(b, ref_id)
    raw = download(b.client("s3"), uri, folder / "source.download")
    dest = folder / "reference.fasta"
    contigs: dict[str, int] = {}
    current: str | None = None
    with open_text(raw) as src, dest.open("w") as out:
        for lineno, line in enumerate(src, 1):
            if not line.strip():
                continue
            if line.startswith(">"):
                current = line[1:].split()[0] if line[1:].split() else ""
                if not current:
                    raise SourceError(f"{uri}: FASTA header without a name at line {lineno}")
                contigs[current] = 0
            elif current is None:
                raise SourceError(
                    f"{uri}: not a FASTA file (line {lineno} precedes any '>' header)"
                )
            else:
                contigs[current] += len(line.strip())
            out.write(line if line.endswith("\n") else line + "\n")
    raw.unlink()
    if not contigs:
        raise SourceError(f"{uri}: FASTA file has no sequences")
    samtools = shutil.which("samtools")
    if samtools:
        proc = subprocess.run([samtools, "faidx", str(dest)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SourceError(f"{uri}: samtools faidx failed: {proc.stderr.strip()[-80:]}")
    return dest, contigs


def get_reference_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReferenceImportJob."""
    return get_store_job(
        b, JOBS, p["id"], "referenceStoreId", p["referenceStoreId"], "Reference import job"
    )


def list_reference_import_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReferenceImportJobs with ``filter`` status/createdAfter/createdBefore."""
    return list_store_jobs(
        b, p, jobs=JOBS, stores=STORES, store_key="referenceStoreId", store_label="Reference store"
    )


def _reference(b: Backend, store_id: str, ref_id: str) -> dict[str, Any]:
    ref = b.state.get(REFS, ref_id)
    if ref is None or ref["referenceStoreId"] != store_id:
        raise OmicsError(
            "ResourceNotFoundException", f"Reference {ref_id} not found in store {store_id}"
        )
    return ref


def get_reference_metadata(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReferenceMetadata."""
    return _reference(b, p["referenceStoreId"], p["id"])


def list_references(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReferences with ``filter`` name/md5/createdAfter/createdBefore."""
    b.require(STORES, p["referenceStoreId"], "Reference store")
    flt = p.get("filter") or {}
    items = [
        r
        for r in b.state.values(REFS)
        if r["referenceStoreId"] == p["referenceStoreId"]
        and (not flt.get("name") or r.get("name") == flt["name"])
        and (not flt.get("md5") or r.get("md5") == flt["md5"])
        and created_between(r, flt)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"references": page, "nextToken": nxt}


def delete_reference(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteReference: removes the record and the FASTA."""
    _reference(b, p["referenceStoreId"], p["id"])
    b.state.delete(REFS, p["id"])
    shutil.rmtree(reference_dir(b, p["id"]), ignore_errors=True)
    return {}


def resolve_reference_arn(b: Backend, arn: str) -> dict[str, Any] | None:
    """The reference record for ``arn:...:referenceStore/<store>/reference/<id>``, or ``None``."""
    for ref in b.state.values(REFS):
        if ref["arn"] == arn:
            return ref
    return None


OPERATIONS = {
    "CreateReferenceStore": create_reference_store,
    "GetReferenceStore": get_reference_store,
    "ListReferenceStores": list_reference_stores,
    "DeleteReferenceStore": delete_reference_store,
    "StartReferenceImportJob": start_reference_import_job,
    "GetReferenceImportJob": get_reference_import_job,
    "ListReferenceImportJobs": list_reference_import_jobs,
    "GetReferenceMetadata": get_reference_metadata,
    "ListReferences": list_references,
    "DeleteReference": delete_reference,
}
