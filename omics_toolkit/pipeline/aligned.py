"""Aligned uploads (BAM): read the header from the first bytes of the object and decide the run.

An aligned BAM in the input bucket is imported as an aligned read set and called without
alignment. Before a run starts, the pair detector reads only the BAM header (ranged S3
GetObject of the first BGZF blocks, decompressed with :mod:`zlib`, no pysam: the Lambda has no
htslib) and decides:

- the sample: from the file name as for FASTQs (the base name before its first ``.``:
  ``NA12878.chr22.tiny.bam`` is ``NA12878``; ``omics-toolkit upload x.bam --sample S`` stores
  it as ``aligned/S.bam``); a name that gives none (``.bam``) takes the header's ``@RG SM``;
- refusals, each a clear root error of a FAILED execution (so ``runs``, the failure handler and
  the notifications see them): not a BAM, a header larger than :data:`MAX_HEADER_BYTES`,
  several different ``@RG SM`` values (one read set is one sample), contigs not in the
  deployment's reference (``reference/contigs.txt`` in the output bucket).

An unsorted BAM (``@HD SO`` other than ``coordinate``) is accepted: the workflow sorts it
before calling (bcftools mpileup needs a coordinate-sorted, indexed BAM), because a lab's BAM
sorted by name or unsorted is still a valid input and sorting costs less than a failed upload.

Formats: SAM/BAM specification (SAMv1) section 4.1 (BGZF blocks: gzip members with a ``BC``
extra subfield giving the block size) and 4.2 (BAM header: magic ``BAM\\1``, ``l_text``,
``text``, ``n_ref``, then ``l_name``/``name``/``l_ref`` per reference).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from omics_toolkit.constants import REFERENCE_CONTIGS_KEY
from omics_toolkit.errors import AwsError
from omics_toolkit.pipeline.pairs import safe_sample

#: Object name endings of aligned inputs (the S3 notification suffix filters).
ALIGNED_EXTENSIONS = (".bam", ".cram")
#: First ranged read; doubled until the header is complete, up to MAX_HEADER_BYTES.
FIRST_READ_BYTES = 64 * 1024
#: Largest compressed header read (a header of thousands of contigs and read groups fits).
MAX_HEADER_BYTES = 16 * 1024 * 1024


class AlignedInputError(Exception):
    """An aligned upload the pipeline refuses; ``str()`` says what to fix.

    Attributes:
        error: the name the execution fails with (``AlignedInputInvalid``,
            ``ContigMismatch`` or ``SampleAmbiguous``).
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class BamHeader:
    """What the pipeline needs of a BAM header.

    Attributes:
        contigs: ``(name, length)`` of each reference sequence, in header order.
        samples: distinct ``@RG SM`` values, in header order.
        sort_order: ``@HD SO`` (``coordinate``, ``queryname``, ``unsorted``, ``unknown``) or
            ``None`` without an ``@HD`` line.
    """

    contigs: list[tuple[str, int]]
    samples: list[str] = field(default_factory=list)
    sort_order: str | None = None


def is_aligned(key: str) -> bool:
    """True when the key ends like an aligned input the pipeline takes (``.bam``, ``.cram``)."""
    return key.endswith(ALIGNED_EXTENSIONS)


def sample_from_name(key: str) -> str | None:
    """The sample a key's base name gives: the part before its first ``.``; ``None`` if empty."""
    base = key.rsplit("/", 1)[-1]
    return base.split(".", 1)[0] or None


def inflate_bgzf(data: bytes) -> tuple[bytes, bool]:
    """Decompress the complete BGZF blocks at the start of ``data``.

    Returns:
        The decompressed bytes and whether ``data`` ended inside a block (more bytes needed).

    Raises:
        AlignedInputError: the bytes are not BGZF (SAMv1 4.1).
    """
    out = bytearray()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 18:
            return bytes(out), True
        if data[pos : pos + 3] == b"\x1f\x8b\x08" and not data[pos + 3] & 0x04:
            raise AlignedInputError(
                "AlignedInputInvalid",
                f"gzip member at byte {pos} without BGZF's extra field: a plain gzip file, "
                "not BGZF",
            )
        if data[pos : pos + 4] != b"\x1f\x8b\x08\x04":
            raise AlignedInputError(
                "AlignedInputInvalid",
                "not a BGZF-compressed BAM file (no BGZF block at byte "
                f"{pos}); upload a BAM written by samtools/htslib (samtools view -b)",
            )
        xlen = struct.unpack_from("<H", data, pos + 10)[0]
        extra = data[pos + 12 : pos + 12 + xlen]
        bsize = None
        i = 0
        while i + 4 <= len(extra):
            si1, si2, slen = extra[i], extra[i + 1], struct.unpack_from("<H", extra, i + 2)[0]
            if (si1, si2, slen) == (66, 67, 2):
                bsize = struct.unpack_from("<H", extra, i + 4)[0]
            i += 4 + slen
        if bsize is None:
            raise AlignedInputError(
                "AlignedInputInvalid",
                f"gzip block at byte {pos} has no BGZF BC field: a plain gzip file, not a BAM",
            )
        end = pos + bsize + 1
        if end > len(data):
            return bytes(out), True
        try:
            out += zlib.decompress(data[pos:end], wbits=31)
        except zlib.error as exc:
            raise AlignedInputError(
                "AlignedInputInvalid", f"corrupt BGZF block at byte {pos}: {exc}"
            ) from exc
        pos = end
    return bytes(out), False


def parse_bam_header(data: bytes, whole_file: bool = False) -> BamHeader | None:
    """Parse the BAM header from the first bytes of a BAM file.

    Args:
        data: the file's first bytes (any length).
        whole_file: ``data`` is the whole file (a header it does not hold is truncated).

    Returns:
        The header, or ``None`` when ``data`` ends before the header does (read more).

    Raises:
        AlignedInputError: not a BAM (BGZF or magic wrong), or truncated (``whole_file``).
    """
    raw, _ = inflate_bgzf(data)
    partial = not whole_file
    if len(raw) >= 4 and raw[:4] != b"BAM\x01":
        raise AlignedInputError(
            "AlignedInputInvalid",
            "BGZF data without the BAM magic BAM\\1: a bgzipped text file, not a BAM",
        )
    if len(raw) < 8:
        return None if partial or not raw else _truncated()
    l_text = struct.unpack_from("<i", raw, 4)[0]
    pos = 8 + l_text
    if len(raw) < pos + 4:
        return None if partial else _truncated()
    text = raw[8:pos].split(b"\0", 1)[0].decode("utf-8", "replace")
    n_ref = struct.unpack_from("<i", raw, pos)[0]
    pos += 4
    contigs: list[tuple[str, int]] = []
    for _ in range(n_ref):
        if len(raw) < pos + 4:
            return None if partial else _truncated()
        l_name = struct.unpack_from("<i", raw, pos)[0]
        if len(raw) < pos + 8 + l_name:
            return None if partial else _truncated()
        name = raw[pos + 4 : pos + 4 + l_name].rstrip(b"\0").decode("ascii", "replace")
        contigs.append((name, struct.unpack_from("<i", raw, pos + 4 + l_name)[0]))
        pos += 8 + l_name
    return parse_sam_text(text, contigs)


def parse_sam_text(text: str, contigs: list[tuple[str, int]] | None = None) -> BamHeader:
    """The SAM header text's ``@SQ`` (unless ``contigs`` is given: a BAM's binary list),
    ``@RG SM`` and ``@HD SO`` (SAMv1 section 1.3)."""
    samples: list[str] = []
    sort_order = None
    listed: list[tuple[str, int]] = []
    for line in text.splitlines():
        fields = dict(f.split(":", 1) for f in line.split("\t")[1:] if ":" in f)
        if line.startswith("@HD"):
            sort_order = fields.get("SO")
        elif line.startswith("@SQ") and "SN" in fields:
            length = fields.get("LN", "0")
            listed.append((fields["SN"], int(length) if length.isdigit() else 0))
        elif line.startswith("@RG") and fields.get("SM") and fields["SM"] not in samples:
            samples.append(fields["SM"])
    return BamHeader(
        contigs=listed if contigs is None else contigs, samples=samples, sort_order=sort_order
    )


def _itf8(data: bytes, pos: int) -> tuple[int, int]:
    """CRAM ITF-8 integer at ``pos`` -> ``(value, next pos)`` (CRAMv3 section 2.3)."""
    b0 = data[pos]
    if b0 < 0x80:
        return b0, pos + 1
    if b0 < 0xC0:
        return ((b0 << 8) | data[pos + 1]) & 0x3FFF, pos + 2
    if b0 < 0xE0:
        return ((b0 << 16) | (data[pos + 1] << 8) | data[pos + 2]) & 0x1FFFFF, pos + 3
    if b0 < 0xF0:
        value = int.from_bytes(data[pos : pos + 4], "big") & 0x0FFFFFFF
        return value, pos + 4
    b = data[pos : pos + 5]
    value = ((b[0] & 0x0F) << 28) | (b[1] << 20) | (b[2] << 12) | (b[3] << 4) | (b[4] & 0x0F)
    return value, pos + 5


def _ltf8_end(data: bytes, pos: int) -> int:
    """Position after the CRAM LTF-8 integer at ``pos`` (1 + its leading one bits, at most 9)."""
    b0 = data[pos]
    ones = 0
    while ones < 8 and b0 & (0x80 >> ones):
        ones += 1
    return pos + 1 + ones


def parse_cram_header(data: bytes) -> BamHeader | None:
    """Parse the SAM header of a CRAM 3.x file from its first bytes (CRAMv3 sections 6-8: file
    definition, then the header container whose first block holds the header text, raw or
    gzip). ``None`` when ``data`` ends before the header does.

    Raises:
        AlignedInputError: not CRAM 3, or a header block compressed otherwise than raw/gzip.
    """
    if len(data) >= 4 and data[:4] != b"CRAM":
        raise AlignedInputError(
            "AlignedInputInvalid", "not a CRAM file (no CRAM magic): upload a CRAM 3 file"
        )
    if len(data) < 26:
        return None
    if data[4] != 3:
        raise AlignedInputError(
            "AlignedInputInvalid",
            f"CRAM {data[4]}.{data[5]}: only CRAM 3 is read; convert with samtools view -C",
        )
    try:
        pos = 26 + 4  # container length (int32)
        for _ in range(4):  # reference id, start, span, records
            _, pos = _itf8(data, pos)
        pos = _ltf8_end(data, pos)  # record counter
        pos = _ltf8_end(data, pos)  # bases
        _, pos = _itf8(data, pos)  # blocks
        landmarks, pos = _itf8(data, pos)
        for _ in range(landmarks):
            _, pos = _itf8(data, pos)
        pos += 4  # crc32
        method = data[pos]
        pos += 2  # method, content type
        _, pos = _itf8(data, pos)  # content id
        size, pos = _itf8(data, pos)
        raw_size, pos = _itf8(data, pos)
    except IndexError:
        return None
    if len(data) < pos + size:
        return None
    block = data[pos : pos + size]
    if method == 1:
        try:
            block = zlib.decompress(block, wbits=31)
        except zlib.error as exc:
            raise AlignedInputError(
                "AlignedInputInvalid", f"corrupt CRAM header block: {exc}"
            ) from exc
    elif method != 0:
        raise AlignedInputError(
            "AlignedInputInvalid",
            f"CRAM header block compressed with method {method}: only raw or gzip are read",
        )
    l_text = struct.unpack_from("<i", block, 0)[0]
    return parse_sam_text(block[4 : 4 + l_text].split(b"\0", 1)[0].decode("utf-8", "replace"))


def _truncated() -> None:
    raise AlignedInputError(
        "AlignedInputInvalid", "the file ends inside the BAM header: truncated upload"
    )


def read_bam_header(s3: Any, bucket: str, key: str, size: int) -> BamHeader:
    """The header of the BAM or CRAM (by its key's ending) ``s3://bucket/key`` from ranged
    reads of its start (S3 GetObject, Range).

    Reads :data:`FIRST_READ_BYTES`, doubling until the header is complete.

    Raises:
        AlignedInputError: not a BAM, truncated, or a header over :data:`MAX_HEADER_BYTES`.
        AwsError: the object cannot be read.
    """
    want = FIRST_READ_BYTES
    while True:
        end = min(want, size) - 1
        data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{end}")["Body"].read()
        if key.endswith(".cram"):
            header = parse_cram_header(data)
        else:
            header = parse_bam_header(data, whole_file=end + 1 >= size)
        if header is not None:
            return header
        if end + 1 >= size:
            _truncated()
        if want >= MAX_HEADER_BYTES:
            raise AlignedInputError(
                "AlignedInputInvalid",
                f"BAM header larger than {MAX_HEADER_BYTES} compressed bytes: not supported",
            )
        want *= 2


def reference_contigs(s3: Any, output_bucket: str) -> list[str] | None:
    """The deployment's reference contig names (``reference/contigs.txt``, S3 GetObject);
    ``None`` when the record does not exist."""
    try:
        body = s3.get_object(Bucket=output_bucket, Key=REFERENCE_CONTIGS_KEY)["Body"].read()
    except AwsError as exc:
        if exc.code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return [line for line in body.decode().splitlines() if line]


def check_header(
    header: BamHeader, name_sample: str | None, reference: Iterable[str] | None
) -> str:
    """The run's sample, after refusing what cannot be called against the deployment.

    Args:
        header: the BAM header.
        name_sample: the sample the file name gives (:func:`sample_from_name`).
        reference: the deployment's contig names (``None``: not recorded, not checked).

    Returns:
        The sample: the file name's, else the header's one ``@RG SM``.

    Raises:
        AlignedInputError: several ``@RG SM`` values; no sample at all; no contigs (an
            unaligned BAM); contigs not in the reference (listed).
    """
    if len(header.samples) > 1:
        raise AlignedInputError(
            "SampleAmbiguous",
            f"the BAM's read groups name {len(header.samples)} samples "
            f"({', '.join(header.samples[:10])}): one upload is one sample's read set; split it "
            "by sample (samtools split) and upload each",
        )
    sample = name_sample or (header.samples[0] if header.samples else None)
    if not sample:
        raise AlignedInputError(
            "AlignedInputInvalid",
            "no sample: the file name gives none and the header has no @RG SM; name the file "
            "<sample>.bam or upload with --sample",
        )
    if not header.contigs:
        raise AlignedInputError(
            "AlignedInputInvalid",
            "the BAM header lists no reference sequences (@SQ): an unaligned BAM; upload the "
            "FASTQ pair instead",
        )
    if reference is not None:
        known = set(reference)
        missing = [name for name, _ in header.contigs if name not in known]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            )
            raise AlignedInputError(
                "ContigMismatch",
                f"{len(missing)} of the BAM's {len(header.contigs)} contigs are not in the "
                f"deployment's reference ({shown}; reference contigs: "
                f"{', '.join(sorted(known)[:10])}): align to the deployment's reference, or "
                "rename the contigs (samtools reheader)",
            )
    return sample


def aligned_execution_name(sample: str, key: str, etag: str) -> str:
    """Deterministic execution name of an aligned upload: ``<safe sample>-<12 hex digits>`` (as
    :func:`omics_toolkit.pipeline.pairs.execution_name`), from the sample, key and ETag: the
    same content always gives the same name, new content a new one."""
    payload = json.dumps(["aligned", sample, key, etag.strip('"')], separators=(",", ":"))
    return f"{safe_sample(sample)}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def aligned_execution_input(
    *,
    sample: str,
    bucket: str,
    key: str,
    etag: str,
    name: str,
    poll_interval_seconds: int,
    header: BamHeader | None,
    error: AlignedInputError | None,
) -> dict[str, Any]:
    """The state machine's input for an aligned upload (see statemachines/germline.asl.json).

    Returns:
        ``{"sample", "subjectId", "lanes": [], "aligned": {"source1", "fileType",
        "sortOrder"}, "token", "pollIntervalSeconds", "source": {"kind": "aligned", "objects":
        [{"key", "etag"}]}}`` plus ``"inputError": {"Error", "Cause"}`` for a refused upload
        (the execution goes straight to the failure handler).
    """
    payload: dict[str, Any] = {
        "sample": sample,
        "subjectId": sample,
        "lanes": [],
        "aligned": {
            "source1": f"s3://{bucket}/{key}",
            "fileType": "CRAM" if key.endswith(".cram") else "BAM",
            "sortOrder": (header.sort_order if header else None) or "unknown",
        },
        "token": name,
        "pollIntervalSeconds": poll_interval_seconds,
        "source": {"kind": "aligned", "objects": [{"key": key, "etag": etag}]},
    }
    if error is not None:
        payload["inputError"] = {"Error": error.error, "Cause": f"s3://{bucket}/{key}: {error}"}
    return payload
