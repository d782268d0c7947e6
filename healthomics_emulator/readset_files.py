"""Read-set files as the service lays them out: S3 access point names, object keys, parts, index.

Sources (API reference and developer guide, checked late 2026):

- GetSequenceStore ``s3Access`` (``SequenceStoreS3Access``): ``s3Uri`` of the store through its
  S3 access point, ``s3AccessPointArn``, ``accessLogLocation`` when the store was created with
  ``s3AccessConfig.accessLogLocation``. The access point lives in a HealthOmics-owned account and is
  named ``<owner account>-<store id>`` (the default S3 access policy on the "s3-sharing" page:
  ``arn:aws:s3:<region>:<service account>:accesspoint/<account>-<storeId>/object/<account>/
  sequenceStore/<storeId>/*``).
- The bucket in the URI is the access point's alias, as S3 forms every alias: the access point
  name cut to 20 characters, ``-``, 34 lowercase characters of metadata, ``-s3alias`` (a real store:
  ``s3://349696919792-6779198-8h543pfencki8cydnfpcceai4owanuse1b-s3alias/349696919792/
  sequenceStore/6779198914/``). The metadata is random in AWS; here it is derived from the account
  and store id so that a store keeps its alias across restarts.
- Each read-set file is the object ``<account>/sequenceStore/<storeId>/readSet/<readSetId>/<file
  name>`` under that alias, the name being the source's base name (a real read set:
  ``.../readSet/5091960702/HG00405.final.cram``); the index is the source name plus ``.bai`` or
  ``.crai``.
- ``files.*`` (``FileInformation``): ``partSize`` 104857600 (100 MiB, the size GetReadSet parts
  have in the AWS CLI examples), ``totalParts`` = ceil(contentLength / partSize),
  ``contentLength``, ``s3Access.s3Uri``.

BAM, UBAM and CRAM sources are read with pysam (htslib) at import: ``sequenceInformation``
``totalReadCount`` counts primary records (secondary and supplementary alignments are the same
reads again), ``totalBaseCount`` their bases, ``alignment`` is ``ALIGNED`` for BAM/CRAM and
``UNALIGNED`` for FASTQ/UBAM. A coordinate-sorted BAM gets a BAI and a CRAM a CRAI, made with
htslib at import. What HealthOmics does with an aligned BAM that is not coordinate-sorted is not
documented; the emulator imports it without an index (``files.index`` absent), so a region cannot
be read from it by range requests, as on any unindexed BAM.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

#: Size of every part but the last (GetReadSet ``partNumber``), bytes.
PART_SIZE_BYTES = 100 * 1024 * 1024
#: Suffix of every S3 access point alias.
ALIAS_SUFFIX = "-s3alias"
#: Characters S3 keeps of an access point name in its alias, and the metadata length.
_ALIAS_NAME_CHARS = 20
_ALIAS_METADATA_CHARS = 34
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class ReadSetFileError(Exception):
    """A BAM/UBAM/CRAM source htslib cannot read; ``str()`` says why."""


def access_point_name(account_id: str, store_id: str) -> str:
    """``<account>-<storeId>``: the name HealthOmics gives a sequence store's access point."""
    return f"{account_id}-{store_id}"


def alias_bucket(account_id: str, store_id: str, region: str) -> str:
    """The access point alias used as the bucket of the store's S3 URIs (63 characters).

    ``<first 20 characters of the access point name>-<34 characters>-s3alias``; the 34 characters
    are derived from account, store and region (deterministic, lowercase base36).
    """
    name = access_point_name(account_id, store_id)[:_ALIAS_NAME_CHARS]
    digest = int.from_bytes(
        hashlib.sha256(f"{account_id}/{store_id}/{region}".encode()).digest(), "big"
    )
    chars = []
    for _ in range(_ALIAS_METADATA_CHARS):
        digest, rest = divmod(digest, 36)
        chars.append(_BASE36[rest])
    return f"{name}-{''.join(chars)}{ALIAS_SUFFIX}"


def store_prefix(account_id: str, store_id: str) -> str:
    """``<account>/sequenceStore/<storeId>/``: the store's key prefix under its alias."""
    return f"{account_id}/sequenceStore/{store_id}/"


def object_key(account_id: str, store_id: str, read_set_id: str, name: str) -> str:
    """``<account>/sequenceStore/<storeId>/readSet/<readSetId>/<name>``."""
    return f"{store_prefix(account_id, store_id)}readSet/{read_set_id}/{name}"


def store_s3_access(
    account_id: str,
    service_account_id: str,
    region: str,
    store_id: str,
    access_log_location: str | None = None,
) -> dict[str, Any]:
    """GetSequenceStore ``s3Access``: ``{s3Uri, s3AccessPointArn[, accessLogLocation]}``."""
    access = {
        "s3Uri": f"s3://{alias_bucket(account_id, store_id, region)}/"
        f"{store_prefix(account_id, store_id)}",
        "s3AccessPointArn": f"arn:aws:s3:{region}:{service_account_id}:accesspoint/"
        f"{access_point_name(account_id, store_id)}",
    }
    if access_log_location:
        access["accessLogLocation"] = access_log_location
    return access


def file_information(size: int, s3_uri: str, part_size: int = PART_SIZE_BYTES) -> dict[str, Any]:
    """``FileInformation`` of a file of ``size`` bytes: totalParts, partSize, contentLength,
    s3Access.s3Uri (an empty file still has one part of one byte, as the shapes' minimum is 1)."""
    size = max(size, 1)
    return {
        "totalParts": max(1, math.ceil(size / part_size)),
        "partSize": part_size,
        "contentLength": size,
        "s3Access": {"s3Uri": s3_uri},
    }


def md5_hex(path: Path) -> str:
    """MD5 of a file, hex (streamed)."""
    digest = hashlib.md5()  # noqa: S324 - a content checksum, as S3 ETags are
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def alignment_details(
    path: Path, kind: str, reference_fasta: Path | None
) -> tuple[dict[str, Any], Path | None]:
    """Counts of a BAM/UBAM/CRAM and its index, made beside it when it can be.

    Args:
        path: the imported file.
        kind: ``BAM``, ``UBAM`` or ``CRAM``.
        reference_fasta: the read set's reference (CRAM decoding needs it), or ``None``.

    Returns:
        (``{"totalReadCount", "totalBaseCount", "alignment"}``, the index path or ``None`` when
        the file is not coordinate-sorted or is a UBAM).

    Raises:
        ReadSetFileError: htslib cannot read the file (the message says what failed).
    """
    import pysam

    mode = "rc" if kind == "CRAM" else "rb"
    options: dict[str, Any] = {"check_sq": False}
    if kind == "CRAM" and reference_fasta is not None:
        options["reference_filename"] = str(reference_fasta)
    reads = bases = 0
    coordinate_sorted = True
    last: tuple[int, int] = (-1, -1)
    try:
        with pysam.AlignmentFile(str(path), mode, **options) as aln:
            for record in aln.fetch(until_eof=True):
                if not (record.is_secondary or record.is_supplementary):
                    reads += 1
                    bases += record.query_length or len(record.query_sequence or "")
                position = (
                    (record.reference_id, record.reference_start)
                    if record.reference_id >= 0
                    else (1 << 31, 0)
                )
                if position < last:
                    coordinate_sorted = False
                last = position
    except (
        Exception
    ) as exc:  # htslib's errors arrive as OSError, ValueError, NotImplementedError...
        raise ReadSetFileError(f"unreadable {kind} ({exc})") from exc
    info = {
        "totalReadCount": reads,
        "totalBaseCount": bases,
        "alignment": "UNALIGNED" if kind == "UBAM" else "ALIGNED",
    }
    if kind == "UBAM" or not coordinate_sorted:
        return info, None
    index = path.with_name(path.name + (".crai" if kind == "CRAM" else ".bai"))
    try:
        pysam.index(str(path), str(index))
    except pysam.utils.SamtoolsError as exc:
        raise ReadSetFileError(f"cannot index {kind} ({str(exc).strip()[:80]})") from exc
    return info, index
