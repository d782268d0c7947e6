"""Objects read by byte range: a local file (tests, benches) or an S3 object (a read set
behind its sequence store's access point, a run output).

Every implementation counts what it moved (``bytes_read``, ``requests``) so commands can say
how much of a file a region view cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from omics_toolkit.aws.errors import translate
from omics_toolkit.errors import UserError


@runtime_checkable
class RangedObject(Protocol):
    """Something with a size that hands out byte ranges.

    Attributes:
        name: what to call it in messages (a path or ``s3://bucket/key``).
        size: total size in bytes.
        bytes_read: bytes returned by :meth:`read` so far.
        requests: calls of :meth:`read` that moved bytes so far (one GET each on S3).
    """

    name: str
    bytes_read: int
    requests: int

    @property
    def size(self) -> int: ...

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` (end exclusive, clamped to :attr:`size`)."""
        ...


def _check_range(obj: RangedObject, start: int, end: int) -> tuple[int, int]:
    if start < 0 or end < start:
        raise ValueError(f"bad byte range [{start}, {end}) of {obj.name}")
    return start, min(end, obj.size)


class LocalObject:
    """A local file read by byte range (the same counters as :class:`S3Object`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: no such file")
        self.name = str(self.path)
        self._size = self.path.stat().st_size
        self.bytes_read = 0
        self.requests = 0

    @property
    def size(self) -> int:
        return self._size

    def read(self, start: int, end: int) -> bytes:
        start, end = _check_range(self, start, end)
        if end == start:
            return b""
        with self.path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
        self.bytes_read += len(data)
        self.requests += 1
        return data


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; the bucket may be an access-point alias
    (HealthOmics read sets: ``s3://<alias>/<account>/sequenceStore/<id>/readSet/<id>/<file>``).

    Raises:
        UserError: not an ``s3://bucket/key`` URI.
    """
    if not uri.startswith("s3://") or "/" not in uri[5:] or uri[5:].startswith("/"):
        raise UserError(f"{uri!r} is not an S3 URI of an object (s3://bucket/key)")
    bucket, key = uri[5:].split("/", 1)
    if not key:
        raise UserError(f"{uri!r} names a bucket, not an object (s3://bucket/key)")
    return bucket, key


class S3Object:
    """An S3 object read with ``GetObject`` + ``Range: bytes=a-b`` (size from ``HeadObject``).

    Args:
        s3_client: a boto3 S3 client made by :mod:`omics_toolkit.aws` (the access point of a
            sequence store answers the plain S3 API: an alias works as the bucket name).
        bucket: bucket name or access-point alias/ARN.
        key: object key.
        size: the size when already known (e.g. ``contentLength`` of GetReadSetMetadata);
            skips the HeadObject.

    Raises (on first use):
        ResourceNotFoundError: no such bucket/key (``NoSuchKey``, ``404``).
        AwsError: anything else S3 answers, e.g. ``AccessDenied`` on an archived read set.

    Source: S3 API GetObject (``Range`` header, RFC 9110 byte ranges, end inclusive),
    HeadObject (``ContentLength``).
    """

    def __init__(self, s3_client: Any, bucket: str, key: str, size: int | None = None) -> None:
        self.client = s3_client
        self.bucket = bucket
        self.key = key
        self.name = f"s3://{bucket}/{key}"
        self._size = size
        self.bytes_read = 0
        self.requests = 0

    @classmethod
    def from_uri(cls, s3_client: Any, uri: str, size: int | None = None) -> S3Object:
        """An :class:`S3Object` for ``s3://bucket/key``."""
        bucket, key = split_s3_uri(uri)
        return cls(s3_client, bucket, key, size)

    @property
    def size(self) -> int:
        if self._size is None:
            with translate("s3", "HeadObject"):
                head = self.client.head_object(Bucket=self.bucket, Key=self.key)
            self._size = int(head["ContentLength"])
        return self._size

    def read(self, start: int, end: int) -> bytes:
        start, end = _check_range(self, start, end)
        if end == start:
            return b""
        with translate("s3", "GetObject"):
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}"
            )
            data: bytes = response["Body"].read()
        if len(data) != end - start:
            raise UserError(
                f"{self.name}: asked for bytes {start}-{end - 1} and got {len(data)} bytes "
                "(the object changed while being read, or the endpoint ignores Range); retry"
            )
        self.bytes_read += len(data)
        self.requests += 1
        return data
