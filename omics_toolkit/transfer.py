"""Resumable, parallel, ranged S3 downloads whose bytes are verified against S3's checksums.

One object is fetched in parts (GetObject with ``Range: bytes=a-b`` and ``If-Match: <ETag>``) by
a thread pool, each part written at its offset (``os.pwrite``) into ``<dest>.part``. A sidecar
``<dest>.part.json`` records the object's ETag and size, the part size and each completed part's
MD5, so an interrupted download resumes without fetching those parts again (each is re-read from
disk and checked against its MD5 first; a damaged one is fetched again). An object whose ETag or
size changed since starts over. When every part is in, the file is verified, then renamed into
place atomically.

Verification, in order of preference (S3 User Guide, "Checking object integrity"):

1. an S3 additional checksum returned by HeadObject with ``ChecksumMode=ENABLED`` that can be
   computed here (SHA-256, SHA-1, CRC32), full-object or composite (the checksum of the parts'
   checksums, ``-N``), the parts' sizes from HeadObject ``PartNumber``;
2. else the ETag, when it is an MD5 (not for SSE-KMS or SSE-C objects): the MD5 of the bytes
   for a single-part upload, the MD5 of the parts' MD5s (``-N``) for a multipart upload;
3. else nothing beyond the size (``verified`` is ``False``).

The client is passed in (one made by :class:`omics_toolkit.aws.session.AwsContext`, whose
errors arrive as the toolkit's kinds and whose retries on throttling and 5xx come from its retry
configuration); this module never imports boto3. Model: the ranged, resumable transfer manager
of awslabs/aws-healthomics-tools (``omics/transfer/manager.py``), for S3 here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zlib
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omics_toolkit.errors import AwsError, ChecksumMismatchError, UserError

MIB = 1 << 20
#: Default part size in bytes (8 MiB, the AWS CLI's and s3transfer's default chunk size).
DEFAULT_PART_SIZE = 8 * MIB
#: Default number of parts fetched at once.
DEFAULT_WORKERS = 4
#: Bytes read from a part's body at a time (bounds memory to ``workers`` x this).
CHUNK = 1 * MIB
#: Version of the sidecar state file's layout.
STATE_VERSION = 1

#: ``progress(bytes_done, bytes_total)``: called once when the download starts (with the bytes
#: already on disk) and after each part is written; an exception it raises stops the download
#: (completed parts are kept for the resume).
Progress = Callable[[int, int], None]

_MULTIPART_ETAG = re.compile(r"^([0-9a-f]{32})-(\d+)$")
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
#: S3 additional checksums this module computes, strongest first (HeadObject member, name).
_CHECKSUMS = (("ChecksumSHA256", "sha256"), ("ChecksumSHA1", "sha1"), ("ChecksumCRC32", "crc32"))


@dataclass
class DownloadResult:
    """What :func:`download` did.

    Attributes:
        source: the object, ``s3://bucket/key``.
        dest: the downloaded file.
        bytes_total: the object's size in bytes.
        bytes_fetched: bytes transferred by this call (0 when ``skipped``).
        parts_total: parts of ``part_size`` bytes the object was split into.
        parts_fetched: parts fetched by this call.
        parts_reused: parts already on disk from an interrupted download, not fetched again.
        part_size: bytes per part (the interrupted download's when resuming).
        checksum_kind: what the file was verified with, e.g. ``"sha256"``, ``"crc32 of 3 part
            crc32s"``, ``"md5 (ETag)"``, ``"md5 of 3 part md5s (ETag)"``, or ``"size only"``.
        checksum: the verified value as S3 gives it (``None`` for ``"size only"``).
        verified: ``True`` when a checksum was compared and matched.
        skipped: ``dest`` already held an identical file; nothing was fetched.
        restarted: why an earlier partial download was discarded (``None`` when it was not).
    """

    source: str
    dest: Path
    bytes_total: int
    bytes_fetched: int
    parts_total: int
    parts_fetched: int
    parts_reused: int
    part_size: int
    checksum_kind: str
    checksum: str | None
    verified: bool
    skipped: bool = False
    restarted: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``dest`` as a string)."""
        return {**self.__dict__, "dest": str(self.dest)}


@dataclass
class Expected:
    """The checksum S3 gives for an object, and how to compute it from the bytes.

    Attributes:
        kind: ``sha256``, ``sha1``, ``crc32`` or ``md5`` (ETag).
        value: as S3 gives it (base64 for checksums, hex for an ETag), without a ``-N`` suffix.
        part_sizes: the upload's part sizes for a composite checksum or multipart ETag; ``None``
            for a full-object checksum or single-part ETag.
        label: how the result names it.
    """

    kind: str
    value: str
    part_sizes: list[int] | None
    label: str


class _Crc32:
    """CRC32 (zlib's polynomial, the one S3 uses for ``ChecksumCRC32``) with hashlib's methods."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _hasher(kind: str) -> Any:
    if kind == "crc32":
        return _Crc32()
    return hashlib.new(kind, usedforsecurity=False)


def _encode(kind: str, digest: bytes) -> str:
    return digest.hex() if kind == "md5" else base64.b64encode(digest).decode()


def compute(path: Path, expected: Expected, size: int) -> str:
    """The checksum of the file at ``path`` in the form of ``expected`` (see :class:`Expected`).

    Raises:
        OSError: the file cannot be read.
    """
    digests = []
    with path.open("rb") as handle:
        for part in expected.part_sizes or [size]:
            h = _hasher(expected.kind)
            remaining = part
            while remaining > 0:
                block = handle.read(min(CHUNK, remaining))
                if not block:
                    break
                h.update(block)
                remaining -= len(block)
            digests.append(h.digest())
    if expected.part_sizes is None:
        return _encode(expected.kind, digests[0])
    outer = _hasher(expected.kind)
    for digest in digests:
        outer.update(digest)
    return _encode(expected.kind, outer.digest())


def _part_sizes(s3: Any, bucket: str, key: str, size: int, count: int) -> list[int]:
    """The sizes of an object's ``count`` upload parts (HeadObject with ``PartNumber``).

    Equal parts but the last (how the AWS CLI, SDKs and s3transfer upload) need one call; any
    other split one call per part.
    """
    first = int(s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["ContentLength"])
    if first > 0 and -(-size // first) == count:
        return [first] * (count - 1) + [size - first * (count - 1)]
    sizes = [first]
    for number in range(2, count + 1):
        head = s3.head_object(Bucket=bucket, Key=key, PartNumber=number)
        sizes.append(int(head["ContentLength"]))
    return sizes


def expected_checksum(s3: Any, bucket: str, key: str, head: dict[str, Any]) -> Expected | None:
    """The checksum to verify a download of ``bucket/key`` with, from its HeadObject answer.

    Args:
        head: HeadObject's answer, asked with ``ChecksumMode=ENABLED``.

    Returns:
        ``None`` when S3 gives nothing that can be computed here (only a CRC32C or CRC64NVME
        checksum, on an SSE-KMS or SSE-C object whose ETag is no MD5).

    Source: S3 HeadObject (``ChecksumSHA256``..., ``ChecksumType``, ``ETag``,
    ``ServerSideEncryption``, ``SSECustomerAlgorithm``; ``PartNumber`` for the part sizes);
    S3 User Guide "Checking object integrity" (full-object and composite checksums, ETags of
    multipart uploads).
    """
    size = int(head["ContentLength"])
    etag = str(head.get("ETag", "")).strip('"')
    multipart = _MULTIPART_ETAG.match(etag)
    checksum_type = head.get("ChecksumType")
    for member, kind in _CHECKSUMS:
        raw = head.get(member)
        if not raw:
            continue
        value, _, suffix = str(raw).partition("-")
        if checksum_type is None and not suffix and multipart:
            # S3 names the type (FULL_OBJECT or COMPOSITE); without it (moto omits it) a
            # multipart object's checksum could be either: verify with the ETag instead.
            break
        if checksum_type == "COMPOSITE" or suffix:
            count = int(suffix) if suffix.isdigit() else int(multipart.group(2)) if multipart else 0
            if count < 1:
                break
            parts = _part_sizes(s3, bucket, key, size, count)
            return Expected(kind, value, parts, f"{kind} of {count} part {kind}s")
        return Expected(kind, value, None, kind)
    sse = head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse")
    if sse or head.get("SSECustomerAlgorithm"):
        return None  # the ETag of an SSE-KMS or SSE-C object is not an MD5 of its bytes
    if multipart:
        count = int(multipart.group(2))
        parts = _part_sizes(s3, bucket, key, size, count)
        return Expected("md5", multipart.group(1), parts, f"md5 of {count} part md5s (ETag)")
    if _MD5_ETAG.match(etag):
        return Expected("md5", etag, None, "md5 (ETag)")
    return None


def _load_state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True))
    os.replace(tmp, path)


def _md5_on_disk(fd: int, start: int, end: int) -> str:
    """MD5 hex of bytes ``start..end-1`` of the open file (``""`` if the file is shorter)."""
    digest = hashlib.md5(usedforsecurity=False)
    offset = start
    while offset < end:
        block = os.pread(fd, min(CHUNK, end - offset), offset)
        if not block:
            return ""
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


def _fetch_part(
    s3: Any, bucket: str, key: str, etag: str, fd: int, start: int, end: int
) -> tuple[str, int]:
    """GetObject bytes ``start..end-1`` (If-Match the ETag), written at ``start``; (md5, bytes)."""
    answer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag)
    body = answer["Body"]
    digest = hashlib.md5(usedforsecurity=False)
    offset = start
    try:
        for block in iter(lambda: body.read(CHUNK), b""):
            if offset + len(block) > end:
                break
            os.pwrite(fd, block, offset)
            digest.update(block)
            offset += len(block)
    finally:
        body.close()
    if offset != end:
        raise UserError(
            f"s3://{bucket}/{key}: GetObject of bytes {start}-{end - 1} did not return "
            f"{end - start} bytes; run the download again to resume"
        )
    return digest.hexdigest(), end - start


def _part_result(future: Future[tuple[str, int]], source: str) -> tuple[str, int]:
    """A part's (md5, bytes); an object changed mid-download becomes a clear UserError."""
    try:
        return future.result()
    except AwsError as exc:
        if exc.code in ("PreconditionFailed", "412"):
            raise UserError(
                f"{source} changed while it was being downloaded (its ETag no longer matches); "
                "run the download again to start over"
            ) from exc
        raise


def download(
    s3: Any,
    bucket: str,
    key: str,
    dest: Path,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    workers: int = DEFAULT_WORKERS,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download ``s3://bucket/key`` to ``dest`` in parallel ranged parts, resumable and verified.

    Args:
        s3: an S3 client (one from ``AwsContext.client("s3")``).
        dest: the file to write (its folder is created).
        part_size: bytes per GetObject range (an interrupted download's part size is kept when
            it resumes).
        workers: parts fetched at once (threads).
        overwrite: replace a different file already at ``dest``.
        progress: see :data:`Progress`.

    Returns:
        :class:`DownloadResult`. An identical file already at ``dest`` (same size and checksum)
        is left alone and reported ``skipped``.

    Raises:
        UserError: ``dest`` holds a different file and ``overwrite`` is false; ``part_size`` or
            ``workers`` below 1; the object changed while it was being downloaded (run again to
            start over).
        ChecksumMismatchError: the downloaded bytes do not match S3's checksum; ``<dest>.part``
            is kept and the next call starts over.
        ResourceNotFoundError, AccessDeniedError, AwsError: HeadObject or GetObject failed
            (after the client's retries); completed parts are kept for the resume.

    Source: S3 HeadObject (``ChecksumMode``, ``PartNumber``), GetObject (``Range``,
    ``IfMatch``); HTTP range requests (RFC 9110 §14).
    """
    if part_size < 1 or workers < 1:
        raise UserError(f"part size ({part_size}) and workers ({workers}) must be at least 1")
    source = f"s3://{bucket}/{key}"
    head = dict(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
    size = int(head["ContentLength"])
    etag = str(head.get("ETag", ""))
    expected = expected_checksum(s3, bucket, key, head)
    dest = Path(dest)
    part_path = dest.with_name(dest.name + ".part")
    state_path = dest.with_name(dest.name + ".part.json")

    if dest.exists():
        same_size = dest.is_file() and dest.stat().st_size == size
        if same_size and expected is not None and compute(dest, expected, size) == expected.value:
            if progress:
                progress(size, size)
            return DownloadResult(
                source, dest, size, 0, 0, 0, 0, part_size, expected.label, expected.value,
                verified=True, skipped=True,
            )  # fmt: skip
        if not overwrite:
            why = "differs from"
            if same_size and expected is None:
                why = "cannot be compared with (S3 gives no checksum computable here)"
            raise UserError(
                f"{dest} already exists and {why} {source}; move it away or pass --overwrite"
            )

    restarted: str | None = None
    state = _load_state(state_path) if part_path.exists() else None
    if state is not None:
        if state.get("failed_verification"):
            restarted = "the previous download failed verification"
        elif (state.get("source"), state.get("etag"), state.get("size")) != (source, etag, size):
            restarted = (
                f"{source} changed since the interrupted download "
                f"(ETag {state.get('etag')} -> {etag}, {state.get('size')} -> {size} bytes)"
            )
        elif part_path.stat().st_size != size:
            restarted = "the partial file is not the object's size"
        if restarted:
            state = None
    elif part_path.exists() or state_path.exists():
        restarted = "the partial download had no readable state file"
    if state is None:
        part_path.unlink(missing_ok=True)
        state = {
            "version": STATE_VERSION,
            "source": source,
            "etag": etag,
            "size": size,
            "part_size": part_size,
            "parts": {},
        }
    part_size = int(state["part_size"])
    parts_total = -(-size // part_size)
    bounds = [(i * part_size, min(size, (i + 1) * part_size)) for i in range(parts_total)]

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(part_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, size)
        done: dict[str, str] = {}
        for index, md5 in dict(state["parts"]).items():  # reused only if still intact on disk
            i = int(index)
            if 0 <= i < parts_total and _md5_on_disk(fd, *bounds[i]) == md5:
                done[index] = md5
        state["parts"] = done
        _save_state(state_path, state)
        reused = len(done)
        bytes_done = sum(bounds[int(i)][1] - bounds[int(i)][0] for i in done)
        fetched_bytes = fetched_parts = 0
        if progress:
            progress(bytes_done, size)
        queue = iter([i for i in range(parts_total) if str(i) not in done])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="download") as pool:
            pending: dict[Future[tuple[str, int]], int] = {}

            def submit() -> None:
                i = next(queue, None)
                if i is not None:
                    future = pool.submit(_fetch_part, s3, bucket, key, etag, fd, *bounds[i])
                    pending[future] = i

            try:
                for _ in range(workers):
                    submit()
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        i = pending.pop(future)
                        md5, n = _part_result(future, source)
                        done[str(i)] = md5
                        _save_state(state_path, state)
                        fetched_parts += 1
                        fetched_bytes += n
                        bytes_done += n
                        if progress:
                            progress(bytes_done, size)
                        submit()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        os.fsync(fd)
    finally:
        os.close(fd)

    if expected is not None:
        actual = compute(part_path, expected, size)
        if actual != expected.value:
            state["failed_verification"] = True
            _save_state(state_path, state)
            raise ChecksumMismatchError(
                str(part_path), source, expected.label, expected.value, actual
            )
    os.replace(part_path, dest)
    state_path.unlink(missing_ok=True)
    return DownloadResult(
        source=source,
        dest=dest,
        bytes_total=size,
        bytes_fetched=fetched_bytes,
        parts_total=parts_total,
        parts_fetched=fetched_parts,
        parts_reused=reused,
        part_size=part_size,
        checksum_kind=expected.label if expected else "size only",
        checksum=expected.value if expected else None,
        verified=expected is not None,
        restarted=restarted,
    )
