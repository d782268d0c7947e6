"""Variant stores, annotation stores (VCF and TSV formats) and their import jobs.

API operations: CreateVariantStore, GetVariantStore, ListVariantStores, DeleteVariantStore,
StartVariantImportJob, GetVariantImportJob, ListVariantImportJobs, CreateAnnotationStore,
GetAnnotationStore, ListAnnotationStores, DeleteAnnotationStore, StartAnnotationImportJob,
GetAnnotationImportJob.

Each store is a moto Glue database ``variant_<account>_<storeId>`` (``annotation_...``) in the
catalog of the HealthOmics service account (``Backend.service_account_id``, not the caller's),
shared into the caller's account with an AWS RAM resource share (principal: the caller's account
id; the caller sees a PENDING invitation it must accept, then a FOREIGN database of the service
account's catalog: HealthOmics User Guide, setting-up-lf.html and permissions-resource.html). The
database has one table named after the store whose ``StorageDescriptor.Location`` is
``file://<state_dir>/variant-stores/<storeId>/data/`` (``annotation-stores``); an import job writes
``<jobId>.parquet`` there (see ``vcf_parquet`` for the schema; a TSV annotation store's columns
are its ``tsvStoreOptions.schema``, see ``tsv_parquet``). GFF annotation stores are created but
their imports fail (not emulated).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from healthomics_emulator import tsv_parquet, vcf_parquet
from healthomics_emulator.errors import ImportFailure, OmicsError, conflict, invalid
from healthomics_emulator.helpers import NEW_CUSTOMER_MESSAGE, paginate
from healthomics_emulator.model import now_iso
from healthomics_emulator.references import resolve_reference_arn
from healthomics_emulator.s3io import SourceError, download, require_read

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

log = logging.getLogger(__name__)


class Family:
    """Names that differ between variant and annotation stores."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "variant" | "annotation"
        self.stores = f"{kind}Stores"
        self.jobs = f"{kind}ImportJobs"
        self.arn_type = f"{kind}Store"
        self.folder = f"{kind}-stores"
        self.label = f"{kind.capitalize()} store"
        self.columns = (
            vcf_parquet.VARIANT_COLUMNS if kind == "variant" else vcf_parquet.ANNOTATION_COLUMNS
        )


VARIANT = Family("variant")
ANNOTATION = Family("annotation")


def data_dir(b: Backend, fam: Family, store_id: str) -> Path:
    """``<state_dir>/<kind>-stores/<storeId>/data``."""
    return b.state_dir / fam.folder / store_id / "data"


def database_name(b: Backend, fam: Family, store_id: str) -> str:
    """Glue database of a store: ``<kind>_<account>_<storeId>``."""
    return f"{fam.kind}_{b.account_id}_{store_id}"


def _create_store(b: Backend, fam: Family, p: dict[str, Any]) -> dict[str, Any]:
    if b.options.get("new_customer"):
        # The service refuses accounts that are new since 2025-11-07 (error code assumed: the
        # documentation names no code; AccessDeniedException is the model's 403 error shape).
        raise OmicsError("AccessDeniedException", NEW_CUSTOMER_MESSAGE, 403)
    name = p.get("name")
    if not name:
        raise invalid(
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
        )
    if b.state.get(fam.stores, name) is not None:
        raise conflict(f"{fam.label} with name {name} already exists")
    ref_arn = (p.get("reference") or {}).get("referenceArn")
    if fam is ANNOTATION and p.get("storeFormat") == "TSV":
        problem = tsv_parquet.check_store_options(p.get("storeOptions"))
        if problem:
            raise invalid(problem)
    elif fam is ANNOTATION and p.get("storeOptions"):
        raise invalid(f"storeOptions apply to storeFormat TSV, not {p.get('storeFormat')}")
    if fam is VARIANT and not ref_arn:
        raise invalid("reference.referenceArn is required for a variant store")
    if ref_arn and resolve_reference_arn(b, ref_arn) is None:
        raise invalid(f"Reference {ref_arn} does not exist")
    ident = str(uuid.uuid4())
    now = now_iso()
    rec: dict[str, Any] = {
        "id": ident,
        "name": name,
        "reference": {"referenceArn": ref_arn} if ref_arn else None,
        "status": "CREATING",
        "storeArn": b.arn(f"{fam.arn_type}/{name}"),
        "description": p.get("description") or "",
        "sseConfig": p.get("sseConfig") or {"type": "KMS"},
        "creationTime": now,
        "updateTime": now,
        "statusMessage": "",
        "storeSizeBytes": 0,
    }
    if fam is ANNOTATION:
        rec.update(
            storeFormat=p["storeFormat"],
            storeOptions=p.get("storeOptions"),
            versionName=p.get("versionName") or "default",
            numVersions=1,
        )
    b.state.put(fam.stores, name, rec)
    b.set_tags(rec["storeArn"], p.get("tags"))
    b.submit(_activate, b, fam, name)
    return rec


def database_arn(b: Backend, fam: Family, store_id: str) -> str:
    """The store database's ARN in the service account's catalog (the RAM share's resource)."""
    return (
        f"arn:aws:glue:{b.region}:{b.service_account_id}:database/{database_name(b, fam, store_id)}"
    )


def _activate(b: Backend, fam: Family, name: str) -> None:
    """Create the Glue database and table in the service account's catalog, share the database
    with the caller's account through AWS RAM (CreateResourceShare), then ACTIVE (FAILED with the
    Glue or RAM error)."""
    rec = b.state.get(fam.stores, name)
    if rec is None:
        return
    folder = data_dir(b, fam, rec["id"])
    folder.mkdir(parents=True, exist_ok=True)
    glue = b.service_client("glue")
    db = database_name(b, fam, rec["id"])
    try:
        glue.create_database(
            DatabaseInput={"Name": db, "Description": f"HealthOmics {fam.kind} store {name}"}
        )
        glue.create_table(
            DatabaseName=db,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet"},
                "StorageDescriptor": {
                    "Columns": vcf_parquet.glue_columns(_columns(fam, rec)),
                    "Location": f"file://{folder}/",
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": {
                        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    },
                    "Parameters": {"classification": "parquet"},
                },
            },
        )
    except (ClientError, BotoCoreError) as exc:
        b.state.update(
            fam.stores,
            name,
            status="FAILED",
            statusMessage=f"Glue: {exc}"[:1000],
            updateTime=now_iso(),
        )
        return
    try:
        share = b.service_client("ram").create_resource_share(
            name=db,
            resourceArns=[database_arn(b, fam, rec["id"])],
            principals=[b.account_id],
            allowExternalPrincipals=True,
            clientToken=rec["id"],
        )["resourceShare"]
    except (ClientError, BotoCoreError) as exc:
        b.state.update(
            fam.stores,
            name,
            status="FAILED",
            statusMessage=f"RAM: {exc}"[:1000],
            updateTime=now_iso(),
        )
        return
    b.state.update(
        fam.stores,
        name,
        status="ACTIVE",
        updateTime=now_iso(),
        _shareArn=share["resourceShareArn"],
    )


def _columns(fam: Family, store: dict[str, Any]) -> list[Any]:
    """The table columns of a store: the VCF schemas, or a TSV store's own."""
    if fam is ANNOTATION and store.get("storeFormat") == "TSV":
        return tsv_parquet.store_columns(store["storeOptions"])
    return fam.columns


def _store_size(b: Backend, fam: Family, rec: dict[str, Any]) -> dict[str, Any]:
    folder = data_dir(b, fam, rec["id"])
    rec["storeSizeBytes"] = (
        sum(f.stat().st_size for f in folder.glob("*.parquet")) if folder.is_dir() else 0
    )
    rec["tags"] = b.tags_of(rec["storeArn"])
    return rec


def _get_store(b: Backend, fam: Family, p: dict[str, Any]) -> dict[str, Any]:
    return _store_size(b, fam, b.require(fam.stores, p["name"], fam.label))


def _list_stores(
    b: Backend, fam: Family, p: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    flt = p.get("filter") or {}
    ids = set(p.get("ids") or [])
    items = [
        _store_size(b, fam, r)
        for r in b.state.values(fam.stores)
        if (not flt.get("status") or r["status"] == flt["status"])
        and (not ids or r["id"] in ids or r["name"] in ids)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return page, nxt


def _delete_store(b: Backend, fam: Family, p: dict[str, Any]) -> dict[str, Any]:
    """Delete one store: its RAM share, its Glue database (and table) in the service account,
    its data directory and jobs' targets."""
    rec = b.require(fam.stores, p["name"], fam.label)
    running = [
        j
        for j in b.state.values(fam.jobs)
        if j["destinationName"] == p["name"] and j["status"] in ("SUBMITTED", "IN_PROGRESS")
    ]
    if running and not p.get("force"):
        raise conflict(f"{fam.label} {p['name']} has import jobs in progress; retry with force")
    if rec.get("_shareArn"):
        try:
            b.service_client("ram").delete_resource_share(resourceShareArn=rec["_shareArn"])
        except ClientError as exc:
            log.info("ram delete_resource_share %s: %s", rec["_shareArn"], exc)
    glue = b.service_client("glue")
    db = database_name(b, fam, rec["id"])
    try:
        glue.delete_table(DatabaseName=db, Name=rec["name"])
    except ClientError as exc:
        log.info("glue delete_table %s: %s", db, exc)
    try:
        glue.delete_database(Name=db)
    except ClientError as exc:
        log.info("glue delete_database %s: %s", db, exc)
    shutil.rmtree(data_dir(b, fam, rec["id"]).parent, ignore_errors=True)
    b.state.delete(fam.stores, p["name"])
    return {"status": "DELETING"}


def _start_import(b: Backend, fam: Family, p: dict[str, Any]) -> dict[str, Any]:
    store = b.require(fam.stores, p["destinationName"], fam.label)
    if store["status"] != "ACTIVE":
        raise invalid(
            f"{fam.label} {p['destinationName']} is not ACTIVE (status {store['status']})"
        )
    job_id = str(uuid.uuid4())
    now = now_iso()
    rec: dict[str, Any] = {
        "id": job_id,
        "destinationName": p["destinationName"],
        "roleArn": p["roleArn"],
        "status": "SUBMITTED",
        "statusMessage": "",
        "creationTime": now,
        "updateTime": now,
        "items": [{"source": i["source"], "jobStatus": "SUBMITTED"} for i in p["items"]],
        "runLeftNormalization": bool(p.get("runLeftNormalization")),
        "annotationFields": p.get("annotationFields"),
    }
    if fam is ANNOTATION:
        rec.update(
            versionName=p.get("versionName") or store.get("versionName") or "default",
            formatOptions=p.get("formatOptions") or None,  # a union: {} does not parse
        )
    b.state.put(fam.jobs, job_id, rec)
    b.submit(_run_import, b, fam, job_id)
    return {"jobId": job_id}


def _run_import(b: Backend, fam: Family, job_id: str) -> None:
    """Read each item's VCF, check contigs, write ``<jobId>.parquet``; set job/item statuses."""
    job = b.state.get(fam.jobs, job_id)
    if job is None:
        return
    b.state.update(fam.jobs, job_id, status="IN_PROGRESS", updateTime=now_iso())
    items = job["items"]
    if _injected_fault(b, fam, job_id, items):
        return
    store = b.state.get(fam.stores, job["destinationName"])
    try:
        if store is None:
            raise ImportFailure(f"{fam.label} {job['destinationName']} no longer exists")
        store_format = store.get("storeFormat", "VCF")
        if store_format not in ("VCF", "TSV"):
            raise ImportFailure(
                f"the local emulator imports VCF and TSV annotation stores, not {store_format}"
            )
        contigs: set[str] | None = None
        ref_arn = (store.get("reference") or {}).get("referenceArn")
        if ref_arn:
            ref = resolve_reference_arn(b, ref_arn)
            if ref is None:
                raise ImportFailure(f"reference {ref_arn} of the store no longer exists")
            contigs = set(ref.get("_contigs", {}))
        batches: list[Any] = []
        with tempfile.TemporaryDirectory(dir=b.state_dir) as tmp:
            for n, item in enumerate(items):
                item["jobStatus"] = "IN_PROGRESS"
                b.state.update(fam.jobs, job_id, items=items)
                name = item["source"].rsplit("/", 1)[-1] or "input.vcf"
                try:
                    require_read(b, job["roleArn"], item["source"])
                    local = download(b.client("s3"), item["source"], Path(tmp) / str(n) / name)
                    if store_format == "TSV":
                        batches.extend(
                            tsv_parquet.read_tsv(
                                local,
                                job_id,
                                store["storeOptions"],
                                job.get("formatOptions"),
                                item["source"],
                            ).to_batches()
                        )
                    else:
                        batches.extend(
                            vcf_parquet.iter_batches(
                                local, job_id, fam is VARIANT, contigs, item["source"]
                            )
                        )
                except (SourceError, ImportFailure) as exc:
                    item["jobStatus"] = "FAILED"
                    item["statusMessage"] = str(exc)
                    raise ImportFailure(str(exc)) from exc
                item["jobStatus"] = "COMPLETED"
        if _cancelled(b, fam, job_id):
            return
        vcf_parquet.write_batches(
            batches, _columns(fam, store), data_dir(b, fam, store["id"]) / f"{job_id}.parquet"
        )
    except ImportFailure as exc:
        if _cancelled(b, fam, job_id):
            return
        for item in items:
            if item["jobStatus"] in ("SUBMITTED", "IN_PROGRESS"):
                item["jobStatus"] = "CANCELLED"
        now = now_iso()
        b.state.update(
            fam.jobs,
            job_id,
            status="FAILED",
            statusMessage=str(exc)[:1000],
            items=items,
            updateTime=now,
            completionTime=now,
        )
        return
    now = now_iso()
    b.state.update(
        fam.jobs, job_id, status="COMPLETED", items=items, updateTime=now, completionTime=now
    )


def _injected_fault(b: Backend, fam: Family, job_id: str, items: list[dict[str, Any]]) -> bool:
    """Apply a job fault rule (``faults``) to an IN_PROGRESS import: stay IN_PROGRESS
    ``delay_seconds`` longer, then fail the matching item (the others CANCELLED) and the job with
    the rule's message. True when the job is over (failed, or cancelled meanwhile)."""
    hit = b.faults.take_job(f"{fam.kind}_import", sources=[([i["source"]], None) for i in items])
    if hit is None:
        return False
    hit.rule.pause(lambda: b.stopping.is_set() or _cancelled(b, fam, job_id))
    if _cancelled(b, fam, job_id):
        return True
    if not hit.fail:
        return False
    for n, item in enumerate(items):
        if n == hit.source_index:
            item.update(jobStatus="FAILED", statusMessage=hit.fail)
        else:
            item["jobStatus"] = "CANCELLED"
    now = now_iso()
    b.state.update(
        fam.jobs,
        job_id,
        status="FAILED",
        statusMessage=hit.fail[:1000],
        items=items,
        updateTime=now,
        completionTime=now,
    )
    return True


def _cancelled(b: Backend, fam: Family, job_id: str) -> bool:
    job = b.state.get(fam.jobs, job_id)
    return job is None or job.get("status") == "CANCELLED"


def _get_job(b: Backend, fam: Family, job_id: str) -> dict[str, Any]:
    rec = b.state.get(fam.jobs, job_id)
    if rec is None:
        raise OmicsError(
            "ResourceNotFoundException", f"{fam.kind.capitalize()} import job {job_id} not found"
        )
    return rec


# ---------------------------------------------------------------------- handlers
def create_variant_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateVariantStore: ConflictException for a duplicate name; Glue objects on activation."""
    return _create_store(b, VARIANT, p)


def get_variant_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetVariantStore (by name)."""
    return _get_store(b, VARIANT, p)


def list_variant_stores(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListVariantStores (filter status, ids)."""
    page, nxt = _list_stores(b, VARIANT, p)
    return {"variantStores": page, "nextToken": nxt}


def delete_variant_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteVariantStore: Glue database/table and Parquet data of this store only."""
    return _delete_store(b, VARIANT, p)


def start_variant_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartVariantImportJob: VCF (s3://, .vcf/.vcf.gz) -> ``<jobId>.parquet``."""
    return _start_import(b, VARIANT, p)


def get_variant_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetVariantImportJob."""
    return _get_job(b, VARIANT, p["jobId"])


def _list_jobs(b: Backend, fam: Family, p: dict[str, Any]) -> tuple[list[Any], str | None]:
    flt = p.get("filter") or {}
    ids = set(p.get("ids") or [])
    items = [
        j
        for j in b.state.values(fam.jobs)
        if (not flt.get("status") or j["status"] == flt["status"])
        and (not flt.get("storeName") or j["destinationName"] == flt["storeName"])
        and (not ids or j["id"] in ids)
    ]
    return paginate(items, p.get("maxResults"), p.get("nextToken"))


def _cancel_job(b: Backend, fam: Family, job_id: str) -> dict[str, Any]:
    """Cancel a SUBMITTED/IN_PROGRESS import (ValidationException otherwise); the worker's
    result is discarded when it finishes."""
    rec = _get_job(b, fam, job_id)
    if rec["status"] not in ("SUBMITTED", "IN_PROGRESS"):
        raise invalid(f"Import job {job_id} is {rec['status']} and cannot be cancelled")
    now = now_iso()
    b.state.update(fam.jobs, job_id, status="CANCELLED", updateTime=now, completionTime=now)
    return {}


def list_variant_import_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListVariantImportJobs (filter status/storeName, ids)."""
    page, nxt = _list_jobs(b, VARIANT, p)
    return {"variantImportJobs": page, "nextToken": nxt}


def cancel_variant_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CancelVariantImportJob."""
    return _cancel_job(b, VARIANT, p["jobId"])


def list_annotation_import_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListAnnotationImportJobs (filter status/storeName, ids)."""
    page, nxt = _list_jobs(b, ANNOTATION, p)
    return {"annotationImportJobs": page, "nextToken": nxt}


def cancel_annotation_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CancelAnnotationImportJob."""
    return _cancel_job(b, ANNOTATION, p["jobId"])


def create_annotation_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateAnnotationStore (VCF and TSV imports are emulated; GFF imports fail)."""
    return _create_store(b, ANNOTATION, p)


def get_annotation_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetAnnotationStore (by name)."""
    return _get_store(b, ANNOTATION, p)


def list_annotation_stores(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListAnnotationStores."""
    page, nxt = _list_stores(b, ANNOTATION, p)
    return {"annotationStores": page, "nextToken": nxt}


def delete_annotation_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteAnnotationStore."""
    return _delete_store(b, ANNOTATION, p)


def start_annotation_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartAnnotationImportJob."""
    return _start_import(b, ANNOTATION, p)


def get_annotation_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetAnnotationImportJob (``completionTime`` is required by the shape: creation time until done)."""
    rec = _get_job(b, ANNOTATION, p["jobId"])
    rec.setdefault("completionTime", rec["creationTime"])
    return rec


OPERATIONS = {
    "CreateVariantStore": create_variant_store,
    "GetVariantStore": get_variant_store,
    "ListVariantStores": list_variant_stores,
    "DeleteVariantStore": delete_variant_store,
    "StartVariantImportJob": start_variant_import_job,
    "GetVariantImportJob": get_variant_import_job,
    "ListVariantImportJobs": list_variant_import_jobs,
    "CancelVariantImportJob": cancel_variant_import_job,
    "ListAnnotationImportJobs": list_annotation_import_jobs,
    "CancelAnnotationImportJob": cancel_annotation_import_job,
    "CreateAnnotationStore": create_annotation_store,
    "GetAnnotationStore": get_annotation_store,
    "ListAnnotationStores": list_annotation_stores,
    "DeleteAnnotationStore": delete_annotation_store,
    "StartAnnotationImportJob": start_annotation_import_job,
    "GetAnnotationImportJob": get_annotation_import_job,
}
