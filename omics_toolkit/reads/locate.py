"""Find a deployment's read sets and where their files can be read.

A read set is named on the command line by its id (digits, as HealthOmics gives them) or by its
sample: a sample's read set is its newest ACTIVE-or-archived one of the wanted kind (aligned BAM or
CRAM for region views and stats; any for export). Files are read through the sequence store's S3
access point: ``GetReadSetMetadata`` -> ``files.{source1,source2,index}.s3Access.s3Uri``.

Sources: HealthOmics API Reference (ListReadSets, GetReadSetMetadata, StartReadSetActivationJob,
GetReadSetActivationJob); developer guide "Accessing HealthOmics read sets with Amazon S3 URIs"
(archived read sets have no S3 access; activation restores the same URI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omics_toolkit.errors import ReadSetArchivedError, ResourceNotFoundError, UserError

#: Read set statuses that allow S3 access to the files (HealthOmics ``ReadSetStatus``).
READABLE = ("ACTIVE",)
#: File types with coordinates (region views, index statistics).
ALIGNED_TYPES = ("BAM", "CRAM")
#: ``ReadSetFiles`` members in the order they are shown and exported.
FILE_SLOTS = ("source1", "source2", "index")
_READ_SET_ID = re.compile(r"^[0-9]{10,36}$")


@dataclass(frozen=True)
class ReadSetFile:
    """One file of a read set (``FileInformation``).

    Attributes:
        slot: ``source1``, ``source2`` or ``index``.
        content_length: bytes.
        part_size: bytes of each GetReadSet part.
        total_parts: number of GetReadSet parts.
        s3_uri: ``s3://<access point alias>/<key>`` (``None`` when the service gave none, e.g.
            while ARCHIVED).
    """

    slot: str
    content_length: int | None
    part_size: int | None
    total_parts: int | None
    s3_uri: str | None


@dataclass
class ReadSet:
    """A read set's metadata (``ReadSetListItem``, plus ``files`` from ``GetReadSetMetadata``).

    Counts (``total_read_count``, ``total_base_count``) are as HealthOmics reports them in
    ``sequenceInformation``; ``None`` when not reported.
    """

    id: str
    arn: str
    sequence_store_id: str
    sample_id: str
    subject_id: str
    file_type: str
    status: str
    name: str | None = None
    reference_arn: str | None = None
    creation_time: datetime | str | None = None
    creation_type: str | None = None
    status_message: str | None = None
    total_read_count: int | None = None
    total_base_count: int | None = None
    generated_from: str | None = None
    alignment: str | None = None
    files: dict[str, ReadSetFile] = field(default_factory=dict)

    @property
    def aligned(self) -> bool:
        """Whether the read set has coordinates (BAM or CRAM)."""
        return self.file_type in ALIGNED_TYPES

    @property
    def size(self) -> int | None:
        """Bytes of the read set's files together (index included), if known."""
        sizes = [f.content_length for f in self.files.values() if f.content_length is not None]
        return sum(sizes) if sizes else None

    def as_row(self) -> dict[str, Any]:
        """A flat JSON-serialisable dict (``--json`` output)."""
        created = self.creation_time
        return {
            "read_set_id": self.id,
            "sample_id": self.sample_id,
            "subject_id": self.subject_id,
            "file_type": self.file_type,
            "status": self.status,
            "name": self.name,
            "reference_arn": self.reference_arn,
            "creation_time": created.isoformat() if isinstance(created, datetime) else created,
            "creation_type": self.creation_type,
            "total_read_count": self.total_read_count,
            "total_base_count": self.total_base_count,
            "generated_from": self.generated_from,
            "alignment": self.alignment,
            "size_bytes": self.size,
            "files": {
                slot: {
                    "content_length": f.content_length,
                    "part_size": f.part_size,
                    "total_parts": f.total_parts,
                    "s3_uri": f.s3_uri,
                }
                for slot, f in self.files.items()
            },
            "status_message": self.status_message,
        }


def _read_set(item: dict[str, Any]) -> ReadSet:
    info = item.get("sequenceInformation") or {}
    files: dict[str, ReadSetFile] = {}
    for slot in FILE_SLOTS:
        f = (item.get("files") or {}).get(slot)
        if not f:
            continue
        files[slot] = ReadSetFile(
            slot=slot,
            content_length=f.get("contentLength"),
            part_size=f.get("partSize"),
            total_parts=f.get("totalParts"),
            s3_uri=(f.get("s3Access") or {}).get("s3Uri"),
        )
    return ReadSet(
        id=str(item["id"]),
        arn=str(item.get("arn", "")),
        sequence_store_id=str(item.get("sequenceStoreId", "")),
        sample_id=str(item.get("sampleId", "")),
        subject_id=str(item.get("subjectId", "")),
        file_type=str(item.get("fileType", "")),
        status=str(item.get("status", "")),
        name=item.get("name"),
        reference_arn=item.get("referenceArn"),
        creation_time=item.get("creationTime"),
        creation_type=item.get("creationType"),
        status_message=item.get("statusMessage"),
        total_read_count=info.get("totalReadCount"),
        total_base_count=info.get("totalBaseCount"),
        generated_from=info.get("generatedFrom"),
        alignment=info.get("alignment"),
        files=files,
    )


def list_read_sets(
    omics: Any, store_id: str, *, sample: str | None = None, with_files: bool = False
) -> list[ReadSet]:
    """The store's read sets, oldest first (ListReadSets, every page; ``filter.sampleId``).

    Returns summaries, whose ``files`` are empty (only GetReadSetMetadata gives them), unless
    ``with_files``: then one GetReadSetMetadata per read set (8 at a time) fills them, so sizes
    are known.
    """
    params: dict[str, Any] = {"sequenceStoreId": store_id}
    if sample:
        params["filter"] = {"sampleId": sample}
    found: list[ReadSet] = []
    for page in omics.get_paginator("list_read_sets").paginate(**params):
        found.extend(_read_set(item) for item in page.get("readSets", []))
    found.sort(key=lambda r: (str(r.creation_time or ""), r.id))
    if with_files and found:
        from concurrent.futures import ThreadPoolExecutor

        def files(rs: ReadSet) -> ReadSet:
            try:
                return get_read_set(omics, store_id, rs.id)
            except UserError:  # deleted since it was listed
                return rs

        with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
            found = list(pool.map(files, found))
    return found


def get_read_set(omics: Any, store_id: str, read_set_id: str) -> ReadSet:
    """One read set with its files (GetReadSetMetadata).

    Raises:
        UserError: no read set ``read_set_id`` in the store.
    """
    try:
        item = omics.get_read_set_metadata(sequenceStoreId=store_id, id=read_set_id)
    except ResourceNotFoundError as exc:
        raise UserError(
            f"no read set {read_set_id} in sequence store {store_id}; "
            "`omics-toolkit reads list` shows the deployment's read sets"
        ) from exc
    return _read_set(item)


def resolve(omics: Any, store_id: str, ref: str, *, aligned: bool = False) -> ReadSet:
    """The read set ``ref`` names: a read set id, or a sample (its newest read set; with
    ``aligned``, its newest BAM or CRAM read set). Returns it with its files.

    Raises:
        UserError: no such read set or sample; the sample has no aligned read set (the message
            lists what it has).
    """
    if _READ_SET_ID.match(ref):
        try:
            rs = get_read_set(omics, store_id, ref)
        except UserError:
            rs = None
        if rs is not None:
            if aligned and not rs.aligned:
                raise UserError(
                    f"read set {ref} is {rs.file_type}, not an aligned BAM or CRAM read set; "
                    f"region views and index statistics need coordinates (sample "
                    f"{rs.sample_id} may have one: `omics-toolkit reads list --sample "
                    f"{rs.sample_id}`)"
                )
            return rs
    candidates = [r for r in list_read_sets(omics, store_id, sample=ref) if r.status != "DELETED"]
    if not candidates:
        raise UserError(
            f"no read set or sample named {ref!r} in sequence store {store_id}; "
            "`omics-toolkit reads list` shows the deployment's read sets and samples"
        )
    chosen = [r for r in candidates if r.aligned] if aligned else candidates
    if not chosen:
        kinds = ", ".join(sorted({f"{r.id} ({r.file_type})" for r in candidates}))
        raise UserError(
            f"sample {ref} has no aligned (BAM or CRAM) read set yet, only {kinds}; its run "
            "imports the BAM when it succeeds (`omics-toolkit runs show "
            f"{ref}`)"
        )
    return get_read_set(omics, store_id, chosen[-1].id)


def require_readable(rs: ReadSet, *slots: str) -> dict[str, str]:
    """The S3 URIs of ``slots`` (default: every file) of an ACTIVE read set.

    Raises:
        ReadSetArchivedError: the read set is ARCHIVED or ACTIVATING (no S3 access until active).
        UserError: another status, or a file without an S3 URI.
    """
    if rs.status in ("ARCHIVED", "ACTIVATING"):
        raise ReadSetArchivedError(rs.id, rs.sample_id, rs.status)
    if rs.status not in READABLE:
        raise UserError(
            f"read set {rs.id} (sample {rs.sample_id}) is {rs.status}; only ACTIVE read sets "
            "can be read"
        )
    wanted = slots or tuple(rs.files)
    uris: dict[str, str] = {}
    for slot in wanted:
        f = rs.files.get(slot)
        if f is None or not f.s3_uri:
            have = ", ".join(rs.files) or "none"
            raise UserError(
                f"read set {rs.id} (sample {rs.sample_id}, {rs.file_type}) has no S3 URI for "
                f"its {slot} file (files: {have})"
                + (
                    "; HealthOmics indexes aligned read sets at import, so a BAM without an "
                    "index was not coordinate-sorted"
                    if slot == "index"
                    else ""
                )
            )
        uris[slot] = f.s3_uri
    return uris


@dataclass(frozen=True)
class ActivationJob:
    """A read set activation job (GetReadSetActivationJob).

    Attributes:
        id: the job id.
        status: SUBMITTED, IN_PROGRESS, CANCELLING, CANCELLED, FAILED, COMPLETED or
            COMPLETED_WITH_FAILURES.
        sources: ``[{"readSetId": ..., "status": ..., "statusMessage": ...}]``.
    """

    id: str
    status: str
    sources: list[dict[str, Any]]
    status_message: str | None = None


def start_activation(omics: Any, store_id: str, read_set_ids: list[str], token: str) -> str:
    """Start activating archived read sets (StartReadSetActivationJob, ``clientToken`` = ``token``
    so a retry starts nothing twice). Returns the job id."""
    resp = omics.start_read_set_activation_job(
        sequenceStoreId=store_id,
        clientToken=token,
        sources=[{"readSetId": rs} for rs in read_set_ids],
    )
    return str(resp["id"])


def activation_job_ids(omics: Any, store_id: str) -> list[str]:
    """Ids of the store's read set activation jobs, sorted (ListReadSetActivationJobs, every
    page)."""
    ids: list[str] = []
    for page in omics.get_paginator("list_read_set_activation_jobs").paginate(
        sequenceStoreId=store_id
    ):
        ids.extend(str(job["id"]) for job in page.get("activationJobs", []))
    return sorted(ids)


def activation_job(omics: Any, store_id: str, job_id: str) -> ActivationJob:
    """The activation job's status (GetReadSetActivationJob)."""
    resp = omics.get_read_set_activation_job(sequenceStoreId=store_id, id=job_id)
    return ActivationJob(
        id=job_id,
        status=str(resp["status"]),
        sources=list(resp.get("sources") or []),
        status_message=resp.get("statusMessage"),
    )


def sequence_store_id(omics: Any, name: str) -> str | None:
    """The id of the sequence store called ``name`` (ListSequenceStores ``filter.name``), or
    ``None`` when there is none (or it is being deleted)."""
    for page in omics.get_paginator("list_sequence_stores").paginate(filter={"name": name}):
        for item in page.get("sequenceStores", []):
            if item.get("name") == name and item.get("status") not in ("DELETING", "DELETED"):
                return str(item["id"])
    return None


#: Extensions that tell the region reader the kind of each file of an aligned read set.
_DATA_EXT = {"BAM": ".bam", "CRAM": ".cram"}
_INDEX_EXT = {"BAM": ".bai", "CRAM": ".crai"}


def read_set_objects(s3: Any, rs: ReadSet) -> tuple[Any, Any]:
    """The aligned read set's data file and index as ranged S3 objects, read through the
    sequence store's S3 access point (sizes from ``files.*.contentLength``, so no HeadObject).

    Returns:
        ``(data, index)`` :class:`omics_toolkit.reads.ranged.S3Object` objects.

    Raises:
        ReadSetArchivedError: the read set is ARCHIVED or ACTIVATING.
        UserError: not an aligned read set, or a file without an S3 URI.
    """
    from omics_toolkit.reads.ranged import S3Object

    if not rs.aligned:
        raise UserError(
            f"read set {rs.id} is {rs.file_type}: region views need an aligned BAM or CRAM read set"
        )
    uris = require_readable(rs, "source1", "index")
    data = S3Object.from_uri(s3, uris["source1"], rs.files["source1"].content_length)
    index = S3Object.from_uri(s3, uris["index"], rs.files["index"].content_length)
    # the kind comes from the read set's fileType, whatever the object keys are called
    if not data.name.lower().endswith(_DATA_EXT[rs.file_type]):
        data.name += _DATA_EXT[rs.file_type]
    if not index.name.lower().endswith(_INDEX_EXT[rs.file_type]):
        index.name += _INDEX_EXT[rs.file_type]
    return data, index
