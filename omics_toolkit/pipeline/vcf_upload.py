"""VCF uploads: a bgzipped VCF in the input bucket goes straight into the variant data.

No workflow runs: the execution imports the file with the back end's own VCF step
(StartVariantImportJob into the variant store, or the ``variant_loader`` Lambda into the S3
Tables ``variants`` table), which validates it as it validates the pipeline's VCFs (records
parsed, every record's contig checked against the deployment's reference). Before that, the
pair detector reads only the header (ranged S3 GetObject of the first BGZF blocks, :mod:`zlib`)
for the sample columns, and refuses at once, as the execution's root error, what no import
takes: not BGZF (a plain gzip file: ``bgzip`` it), not a VCF, no sample column (sites-only).

The run's sample (execution name, ``runs``) is the VCF's one sample column; a multi-sample VCF
takes the file name's part before its first ``.``. The rows carry the sample columns' names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from omics_toolkit.pipeline.aligned import (
    FIRST_READ_BYTES,
    MAX_HEADER_BYTES,
    AlignedInputError,
    inflate_bgzf,
    sample_from_name,
)
from omics_toolkit.pipeline.pairs import safe_sample

#: Object name endings of VCF uploads (the S3 notification suffix filters).
VCF_EXTENSIONS = (".vcf.gz", ".vcf.bgz")


@dataclass(frozen=True)
class VcfHeader:
    """``samples``: the sample columns after FORMAT, in order."""

    samples: list[str]


def is_vcf(key: str) -> bool:
    """True when the key ends like a VCF upload (``.vcf.gz``, ``.vcf.bgz``)."""
    return key.endswith(VCF_EXTENSIONS)


def parse_vcf_header(data: bytes, whole_file: bool = False) -> VcfHeader | None:
    """The header of a bgzipped VCF from its first bytes; ``None`` when more bytes are needed
    (``whole_file``: ``data`` is the whole file, so a header it does not hold is an error).

    Raises:
        AlignedInputError: ``VcfInputInvalid``: not BGZF, or not VCF text (VCFv4.x: the first
            line is ``##fileformat=VCF...``, the header ends with ``#CHROM``).
    """
    try:
        text, _ = inflate_bgzf(data)
        partial = not whole_file
    except AlignedInputError as exc:
        raise AlignedInputError(
            "VcfInputInvalid",
            str(exc).replace("a BAM written by samtools/htslib (samtools view -b)", "a VCF")
            + "; compress VCFs with bgzip (htslib), not gzip",
        ) from exc
    if len(text) >= 16 and not text.startswith(b"##fileformat=VCF"):
        raise AlignedInputError(
            "VcfInputInvalid", "not a VCF: the first line is not ##fileformat=VCFv4.x"
        )
    lines = text.split(b"\n")
    complete, rest = lines[:-1], lines[-1]  # rest: a line without its newline yet
    for line in complete + ([rest] if not partial and rest else []):
        if line.startswith(b"#CHROM"):
            columns = line.decode("utf-8", "replace").rstrip("\r").split("\t")
            return VcfHeader(samples=columns[9:])
        if not line.startswith(b"##"):
            raise AlignedInputError(
                "VcfInputInvalid", "not a VCF: no #CHROM header line before the first record"
            )
    if not partial:
        raise AlignedInputError("VcfInputInvalid", "not a VCF: the file ends inside its header")
    return None


def read_vcf_header(s3: Any, bucket: str, key: str, size: int) -> VcfHeader:
    """The header of ``s3://bucket/key`` from ranged reads of its start (S3 GetObject, Range).

    Raises:
        AlignedInputError: ``VcfInputInvalid`` (see :func:`parse_vcf_header`), or a header over
            :data:`~omics_toolkit.pipeline.aligned.MAX_HEADER_BYTES`.
    """
    want = FIRST_READ_BYTES
    while True:
        end = min(want, size) - 1
        data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{end}")["Body"].read()
        header = parse_vcf_header(data, whole_file=end + 1 >= size)
        if header is not None:
            return header
        if end + 1 >= size:
            raise AlignedInputError("VcfInputInvalid", "not a VCF: the file ends in its header")
        if want >= MAX_HEADER_BYTES:
            raise AlignedInputError(
                "VcfInputInvalid", f"VCF header larger than {MAX_HEADER_BYTES} compressed bytes"
            )
        want *= 2


def vcf_sample(header: VcfHeader, key: str) -> str:
    """The run's sample: the one sample column, else the file name's.

    Raises:
        AlignedInputError: ``VcfInputInvalid`` for a sites-only VCF (no sample column).
    """
    if not header.samples:
        raise AlignedInputError(
            "VcfInputInvalid",
            "a sites-only VCF (no sample columns after FORMAT) has no genotypes to load; "
            "annotation VCFs go through `omics-toolkit annotations import`",
        )
    if len(header.samples) == 1:
        return header.samples[0]
    return sample_from_name(key) or header.samples[0]


def vcf_execution_name(sample: str, key: str, etag: str) -> str:
    """Deterministic execution name of a VCF upload (``<safe sample>-<12 hex digits>``)."""
    payload = json.dumps(["vcf", sample, key, etag.strip('"')], separators=(",", ":"))
    return f"{safe_sample(sample)}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def vcf_execution_input(
    *,
    sample: str,
    bucket: str,
    key: str,
    etag: str,
    name: str,
    poll_interval_seconds: int,
    samples: list[str],
    error: AlignedInputError | None,
) -> dict[str, Any]:
    """The state machine's input for a VCF upload (see statemachines/germline.asl.json).

    Returns:
        ``{"sample", "subjectId", "lanes": [], "variants": {"vcf", "samples"}, "token",
        "pollIntervalSeconds", "source": {"kind": "vcf", "objects": [{"key", "etag"}]}}``, plus
        ``"inputError": {"Error", "Cause"}`` for a refused upload.
    """
    payload: dict[str, Any] = {
        "sample": sample,
        "subjectId": sample,
        "lanes": [],
        "variants": {"vcf": f"s3://{bucket}/{key}", "samples": samples},
        "token": name,
        "pollIntervalSeconds": poll_interval_seconds,
        "source": {"kind": "vcf", "objects": [{"key": key, "etag": etag}]},
    }
    if error is not None:
        payload["inputError"] = {"Error": error.error, "Cause": f"s3://{bucket}/{key}: {error}"}
    return payload
