"""Upload FASTQ files to the input bucket under names the pair detector recognises.

Two ways: a pair (:func:`upload_pair`, named ``<sample>_R1``/``_R2`` or by its own names), or a
manifest and the files it lists (:func:`upload_manifest`, see
:mod:`omics_toolkit.pipeline.manifest` for the rules of a manifest folder).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import head_object
from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.pipeline.aligned import is_aligned
from omics_toolkit.pipeline.manifest import Manifest, is_manifest, parse_manifest
from omics_toolkit.pipeline.pairs import (
    LanePair,
    base_execution_name,
    execution_name,
    names_sample,
    parse_mate,
)
from omics_toolkit.pipeline.status import iso_time
from omics_toolkit.pipeline.vcf_upload import is_vcf

INPUT_PREFIX = "fastq/"
#: Illumina lane labels (``L001``), kept in the object names ``upload --sample`` gives.
_ILLUMINA_LANE = re.compile(r"L\d{3}")
#: boto3's managed transfer (``upload_file``) default: objects of at least this size are uploaded
#: in parts of this size, and their ETag is ``md5(part md5s)-<parts>``.
MULTIPART_CHUNK_BYTES = 8 * 1024 * 1024
#: User metadata key holding the MD5 of an object uploaded with a manifest: ETags are not MD5s
#: under SSE-KMS, this still tells an unchanged file.
MD5_METADATA = "md5"
#: Execution statuses after which ``runs retry`` may have started ``<name>-r<N>``.
_RETRYABLE = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class UploadPlan:
    """Where each mate goes: ``mate1`` and ``mate2`` are ``(local path, object key)``."""

    sample: str
    mate1: tuple[Path, str]
    mate2: tuple[Path, str]


def plan_upload(
    first: Path, second: Path, sample: str | None, pattern: str | None = None
) -> UploadPlan:
    """Object keys for a pair: ``fastq/<sample>_R1.<ext>`` or the files' own names.

    Without ``sample`` the mates may be given in either order (their names carry the mate number);
    with ``sample`` the first file is mate 1, and a lane the names carry in Illumina form
    (``..._L005_R1_001.fastq.gz``, CASAVA 1.8's ``<sample>_<barcode>_L005_R1_001.fastq.gz``
    included) is kept: ``fastq/<sample>_L005_R1_001.fastq.gz``, which the pair detector reads
    as sample ``<sample>``, lane ``L005``.

    Args:
        pattern: the ``pair_pattern`` setting, as the pair detector applies it.

    Raises:
        UserError: a file is missing, or (without ``sample``) the names are not a recognisable pair.
    """
    for path in (first, second):
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    if sample:
        ext = ".fastq.gz" if first.name.endswith(".gz") else ".fastq"
        m1, m2 = parse_mate(first.name, pattern), parse_mate(second.name, pattern)
        same_lane = m1 and m2 and m1.lane == m2.lane and _ILLUMINA_LANE.fullmatch(m1.lane)
        lane, chunk = (f"_{m1.lane}", "_001") if same_lane and m1 else ("", "")
        return UploadPlan(
            sample,
            (first, f"{INPUT_PREFIX}{sample}{lane}_R1{chunk}{ext}"),
            (second, f"{INPUT_PREFIX}{sample}{lane}_R2{chunk}{ext}"),
        )
    m1, m2 = parse_mate(first.name, pattern), parse_mate(second.name, pattern)
    if not m1 or not m2 or m1.mate_key != m2.key:
        raise UserError(
            f"{first.name} and {second.name} are not a FASTQ pair by name (expected e.g. S_R1.fastq.gz and "
            "S_R2.fastq.gz); pass --sample NAME to upload them under that sample's name, or "
            "list them in a manifest (--manifest)"
        )
    if m1.mate == 2:
        (first, m1), (second, m2) = (second, m2), (first, m1)
    return UploadPlan(m1.sample, (first, INPUT_PREFIX + m1.key), (second, INPUT_PREFIX + m2.key))


def upload_pair(
    s3: Any,
    bucket: str,
    first: Path,
    second: Path,
    sample: str | None = None,
    pattern: str | None = None,
    *,
    sfn: Any = None,
    state_machine_arn: str | None = None,
) -> dict[str, Any]:
    """Upload the mates that differ from what S3 holds; the second upload triggers the run.

    A mate whose object already has the same content (size and MD5: the ETag, multipart ETags
    of 8 MiB parts included, or the ``md5`` metadata this module sets, which survives SSE-KMS)
    is not uploaded again: no new object version. When both are identical and an execution of
    this content exists, nothing is uploaded and its status is reported. When both are identical
    and no execution of them is found, mate 2 is uploaded again so its event starts one.

    Args:
        pattern: the ``pair_pattern`` setting, as the pair detector applies it.
        sfn, state_machine_arn: when given, the execution of this content is looked up before
            anything is put (DescribeExecution; ListExecutions for its ``runs retry``
            executions ``<name>-r<N>`` after a failure), so the execution the upload's own
            event starts is never taken for an earlier one.

    Returns:
        ``{"sample", "r1", "r2", "execution_name", "uploaded": [uri], "unchanged": [uri],
        "status", "execution"}``: ``execution_name`` is the execution this content starts (named
        as the pair detector names it); ``status`` is ``"will start"`` (the upload's event starts
        it), the Step Functions status of the newest execution of this content (``RUNNING``,
        ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``: nothing new starts) or ``None``
        (not looked up: no ``sfn``, or the state machine does not exist); ``execution`` is that newest execution ``{"name", "status",
        "start_date", "stop_date"}`` (ISO 8601 strings; ``stop_date`` ``None`` while running) or
        ``None``.

    Raises:
        UserError: see :func:`plan_upload`.
        AwsError: S3 HeadObject/PutObject or Step Functions ListExecutions failed.
    """
    plan = plan_upload(first, second, sample, pattern)
    mates = (plan.mate1, plan.mate2)
    digests = [local_digest(path) for path, _ in mates]
    heads = [head_object(s3, bucket, key) for _, key in mates]
    same = [_unchanged(h, d) for h, d in zip(heads, digests, strict=True)]
    k1, k2 = plan.mate1[1], plan.mate2[1]
    mate = parse_mate(k1, pattern)
    detected, lane = (mate.sample, mate.lane) if mate else (plan.sample, "1")

    def name_of(etags: list[str]) -> str:
        return execution_name(detected, [LanePair(lane, (k1, etags[0]), (k2, etags[1]))])

    # Decided before anything is put: the upload's own event may start its execution at once,
    # and a lookup after the put would report that new execution as "already ran". The name of
    # the content about to be in S3 is known locally: an unchanged mate keeps its ETag, an
    # uploaded one gets the ETag upload_file gives (its MD5, or the multipart ETag).
    expected = name_of(
        [
            str(head["ETag"]) if unchanged and head else digest[2]
            for head, unchanged, digest in zip(heads, same, digests, strict=True)
        ]
    )
    earlier = _executions_of(sfn, state_machine_arn, expected)
    uploaded: list[str] = []
    if not (all(same) and earlier):
        for (path, key), digest, unchanged in zip(mates, digests, same, strict=True):
            # Both identical yet never run: upload mate 2 again, its event starts the run.
            if not unchanged or (all(same) and key == k2):
                _put(s3, bucket, path, key, digest[1])
                uploaded.append(f"s3://{bucket}/{key}")
    name = expected
    if uploaded:
        # The name as read back: under SSE-KMS an ETag is not the MD5 (and a re-put changes it).
        after = [head_object(s3, bucket, key) for key in (k1, k2)]
        name = name_of([str(h["ETag"]) if h else "" for h in after])
        if name != expected:  # the lookup above was of another name: nothing earlier is known
            earlier = [] if earlier is not None else None
    latest = earlier[0] if earlier else None
    status = latest["status"] if latest else ("will start" if earlier is not None else None)
    return {
        "sample": detected,
        "r1": f"s3://{bucket}/{k1}",
        "r2": f"s3://{bucket}/{k2}",
        "execution_name": name,
        "uploaded": uploaded,
        "unchanged": [
            uri
            for (_, key), u in zip(mates, same, strict=True)
            if u and (uri := f"s3://{bucket}/{key}") not in uploaded
        ],
        "status": status,
        "execution": latest,
    }


def _executions_of(
    sfn: Any, state_machine_arn: str | None, name: str
) -> list[dict[str, Any]] | None:
    """Executions named ``name`` or its retries ``name-r<N>``, newest first.

    One DescribeExecution of ``name``; ListExecutions is read in full only when it ended in a
    retryable status (``FAILED``, ``TIMED_OUT``, ``ABORTED``), for its ``runs retry``
    executions, and for one item when there is no such execution (whether the state machine
    exists: DescribeExecution answers ``ExecutionDoesNotExist`` either way).
    ``[]`` when there is none; ``None`` when ``sfn`` is not given or the state machine does not
    exist (not provisioned).

    Raises:
        AwsError: DescribeExecution or ListExecutions failed otherwise.
    """
    if sfn is None or not state_machine_arn:
        return None
    try:
        with translate("stepfunctions", "DescribeExecution"):
            found = [sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))]
    except ResourceNotFoundError:
        found = []
    if not found:  # no such execution; does the state machine exist? (one short ListExecutions)
        try:
            with translate("stepfunctions", "ListExecutions"):
                sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)
        except ResourceNotFoundError:
            return None
        return []
    if found[0]["status"] in _RETRYABLE:
        try:
            with translate("stepfunctions", "ListExecutions"):
                listed = list_executions(sfn, state_machine_arn)
        except ResourceNotFoundError:
            return None
        found = [e for e in listed if base_execution_name(e["name"]) == name] or found
    return [
        {
            "name": e["name"],
            "status": e["status"],
            "start_date": iso_time(e.get("startDate"), "seconds"),
            "stop_date": iso_time(e.get("stopDate"), "seconds"),
        }
        for e in found
    ]


@dataclass(frozen=True)
class ManifestUploadPlan:
    """A validated manifest and where everything goes.

    Attributes:
        path: the local manifest.
        manifest: the manifest as parsed for its S3 key (same parser as the pair detector).
        files: ``(local path, key)`` of every file listed by a relative path, in manifest order.
    """

    path: Path
    manifest: Manifest
    files: tuple[tuple[Path, str], ...]


def manifest_folder(path: Path) -> str:
    """Default S3 folder of a manifest: ``fastq/<name of its local directory>/``."""
    name = re.sub(r"[^\w.-]", "-", path.resolve().parent.name).strip(".-") or "manifest"
    return f"{INPUT_PREFIX}{name}/"


def plan_manifest_upload(path: Path, bucket: str, folder: str | None = None) -> ManifestUploadPlan:
    """Validate a local manifest for upload to ``folder`` (default :func:`manifest_folder`).

    Raises:
        UserError: the file is missing or not named as a manifest, a listed local file is missing.
        ManifestError: the manifest is invalid (its name, the row and what to fix).
    """
    if not path.is_file():
        raise UserError(f"{path} does not exist")
    if not is_manifest(path.name):
        raise UserError(
            f"{path.name} is not named as a manifest: call it manifest.csv, manifest.json or "
            "samplesheet.csv, or end its name with .manifest.csv, .manifest.json or "
            ".samplesheet.csv"
        )
    folder = manifest_folder(path) if folder is None else folder.strip("/")
    folder = f"{folder}/" if folder and not folder.endswith("/") else folder
    manifest = parse_manifest(
        path.read_bytes(), bucket=bucket, key=folder + path.name, name=str(path)
    )
    files = []
    for sample in manifest.samples:
        for lane in sample.lanes:
            for key in (lane.fastq_1, lane.fastq_2):
                if key not in manifest.relative:
                    continue
                local = path.parent / key[len(folder) :]
                if not local.is_file():
                    raise UserError(
                        f"{path}: {lane.where}: {local} does not exist (paths are relative to "
                        "the manifest's directory)"
                    )
                files.append((local, key))
    return ManifestUploadPlan(path, manifest, tuple(files))


def local_digest(path: Path) -> tuple[int, str, str]:
    """``(size, md5 hex, ETag upload_file gives it)`` of a local file (multipart above 8 MiB)."""
    whole = hashlib.md5(usedforsecurity=False)
    parts = []
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(MULTIPART_CHUNK_BYTES):
            size += len(chunk)
            whole.update(chunk)
            parts.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    md5 = whole.hexdigest()
    if size < MULTIPART_CHUNK_BYTES:
        return size, md5, md5
    combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return size, md5, f"{combined}-{len(parts)}"


def _unchanged(head: dict[str, Any] | None, digest: tuple[int, str, str]) -> bool:
    """True when the object ``head`` describes has the local file's size and MD5."""
    if head is None:
        return False
    size, md5, etag = digest
    if int(head.get("ContentLength", -1)) != size:
        return False
    remote = str(head.get("ETag", "")).strip('"')
    return remote in (md5, etag) or head.get("Metadata", {}).get(MD5_METADATA) == md5


def _put(s3: Any, bucket: str, path: Path, key: str, md5: str) -> None:
    with translate("s3", "PutObject"):
        s3.upload_file(str(path), bucket, key, ExtraArgs={"Metadata": {MD5_METADATA: md5}})


def upload_manifest(
    s3: Any,
    bucket: str,
    path: Path,
    *,
    folder: str | None = None,
    sfn: Any = None,
    state_machine_arn: str | None = None,
    report: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Upload a manifest, then the files it lists; say which executions will start.

    The manifest is validated locally first (the pair detector's parser). Then it is uploaded
    first when it is new or changed (its folder becomes a manifest folder before any FASTQ
    lands), the listed local files follow (S3 managed transfer), skipping those already in S3
    with the same size and MD5 (ETag, or the ``md5`` metadata this function sets), and an
    unchanged manifest is uploaded again last, so its event re-checks the folder.

    Args:
        folder: S3 folder for the manifest and its files (default ``fastq/<local dir name>/``).
        sfn, state_machine_arn: when given, each execution's status is looked up
            (DescribeExecution, ListExecutions).
        report: called with ``(action, uri)`` for each object: ``upload`` or ``unchanged``.

    Returns:
        ``{"manifest": uri, "uploaded": [uri], "unchanged": [uri], "executions": [{"sample",
        "execution_name", "lanes", "status", "supersedes"}]}``; ``status`` is ``exists`` (this
        content ran or runs: nothing new starts), ``will start`` (the upload events start it) or
        ``None`` (not looked up).

    Raises:
        UserError: see :func:`plan_manifest_upload`; a file listed by ``s3://`` URI is missing.
    """
    plan = plan_manifest_upload(path, bucket, folder)
    manifest = plan.manifest
    local = {key for _, key in plan.files}
    for sample in manifest.samples:
        for key in sample.keys:
            if key not in local and head_object(s3, bucket, key) is None:
                raise UserError(
                    f"{path}: sample {sample.sample} lists s3://{bucket}/{key}, which does not "
                    "exist: upload it first (files listed by s3:// URI are not uploaded)"
                )
    uploaded: list[str] = []
    unchanged: list[str] = []

    def put(file: Path, key: str, digest: tuple[int, str, str]) -> None:
        uri = f"s3://{bucket}/{key}"
        if _unchanged(head_object(s3, bucket, key), digest):
            unchanged.append(uri)
            if report:
                report("unchanged", uri)
            return
        _put(s3, bucket, file, key, digest[1])
        uploaded.append(uri)
        if report:
            report("upload", uri)

    manifest_digest = local_digest(path)
    manifest_changed = not _unchanged(head_object(s3, bucket, manifest.key), manifest_digest)
    if manifest_changed:
        put(path, manifest.key, manifest_digest)
    for file, key in plan.files:
        put(file, key, local_digest(file))
    if not manifest_changed:
        _put(s3, bucket, path, manifest.key, manifest_digest[1])  # its event re-checks the folder
        unchanged.append(manifest.uri)
        if report:
            report("unchanged", manifest.uri)
    earlier: list[str] | None = None  # None: statuses not looked up
    if sfn is not None and state_machine_arn:
        try:
            with translate("stepfunctions", "ListExecutions"):
                earlier = [e["name"] for e in list_executions(sfn, state_machine_arn)]
        except ResourceNotFoundError:
            earlier = None  # not provisioned yet: nothing to compare with
    executions = []
    for sample in manifest.samples:
        lanes = []
        for lane in sample.lanes:
            heads = [head_object(s3, bucket, k) for k in (lane.fastq_1, lane.fastq_2)]
            etags = [str(h["ETag"]) if h else "" for h in heads]
            lanes.append(LanePair(lane.lane, (lane.fastq_1, etags[0]), (lane.fastq_2, etags[1])))
        name = execution_name(sample.sample, lanes)
        status = None
        if earlier is not None and state_machine_arn:
            status = "exists" if _exists(sfn, state_machine_arn, name) else "will start"
        supersedes = list(
            dict.fromkeys(
                base_execution_name(e)
                for e in earlier or []
                if names_sample(e, sample.sample) and base_execution_name(e) != name
            )
        )
        executions.append(
            {
                "sample": sample.sample,
                "execution_name": name,
                "lanes": [lane.lane for lane in sample.lanes],
                "status": status,
                "supersedes": supersedes if status == "will start" else [],
            }
        )
    return {
        "manifest": manifest.uri,
        "uploaded": uploaded,
        "unchanged": unchanged,
        "executions": executions,
    }


def _exists(sfn: Any, state_machine_arn: str, name: str) -> bool:
    try:
        with translate("stepfunctions", "DescribeExecution"):
            sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))
    except ResourceNotFoundError:
        return False
    return True


#: Folders of the input bucket aligned and VCF uploads go to.
ALIGNED_FOLDER = "aligned/"
VCF_FOLDER = "vcf/"


def upload_file(s3: Any, bucket: str, path: Path, sample: str | None = None) -> dict[str, Any]:
    """Upload an aligned BAM or CRAM, or a bgzipped VCF; the pair detector then starts its execution
    (one per content): the BAM is imported and called, the VCF imported into the variant data.

    The key is ``aligned/<file name>`` or ``vcf/<file name>``; with ``sample``, ``aligned/
    <sample>.bam`` (``.cram``) (a BAM's sample is its file name's part before the first ``.``, else the
    header's ``@RG SM``: :mod:`omics_toolkit.pipeline.aligned`). A VCF's samples are its
    sample columns, so ``sample`` is refused for it. An identical object already there is not
    uploaded again (S3 HeadObject, PutObject).

    Returns:
        ``{"uri", "key", "kind": "aligned"|"vcf", "uploaded": bool}``.

    Raises:
        UserError: neither ``.bam``/``.cram`` nor ``.vcf.gz``/``.vcf.bgz``; ``sample`` with ``.`` or
            ``/``, or given for a VCF.
    """
    if is_aligned(path.name):
        if sample is not None and (not sample or "." in sample or "/" in sample):
            raise UserError(f"--sample {sample!r}: a sample id has no '.' or '/'")
        ext = ".cram" if path.name.endswith(".cram") else ".bam"
        kind, key = "aligned", ALIGNED_FOLDER + (f"{sample}{ext}" if sample else path.name)
    elif is_vcf(path.name):
        if sample is not None:
            raise UserError(
                "--sample does not go with a VCF: its samples are its sample columns "
                "(rename them with bcftools reheader -s)"
            )
        kind, key = "vcf", VCF_FOLDER + path.name
    else:
        raise UserError(
            f"{path}: upload takes a FASTQ pair, an aligned .bam or .cram, or a bgzipped .vcf.gz"
        )
    digest = local_digest(path)
    uploaded = not _unchanged(head_object(s3, bucket, key), digest)
    if uploaded:
        _put(s3, bucket, path, key, digest[1])
    return {"uri": f"s3://{bucket}/{key}", "key": key, "kind": kind, "uploaded": uploaded}
