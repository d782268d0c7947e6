"""S3 helpers: URIs, JSON objects, object tags (merged, never replaced)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from omics_toolkit.aws.errors import error_code, translate
from omics_toolkit.errors import UserError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    Raises:
        UserError: not an ``s3://`` URI with a bucket.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserError(f"{uri!r} is not an S3 URI of the form s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject, or ``None`` when the object does not exist (S3 HeadObject)."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def get_json(s3: Any, uri: str) -> Any:
    """Read and parse a JSON object (S3 GetObject). Raises ResourceNotFoundError if absent."""
    bucket, key = parse_s3_uri(uri)
    with translate("s3", "GetObject"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """All keys under ``prefix`` (ListObjectsV2, paginated)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


def merge_object_tags(s3: Any, uri: str, tags: dict[str, str]) -> dict[str, str]:
    """Add ``tags`` to an object's tag set, keeping its other tags (Get/PutObjectTagging).

    Returns:
        The object's tag set after the merge (at most 10 tags, an S3 limit).

    Raises:
        UserError: the merge would exceed S3's 10-tag limit (nothing is changed).
    """
    bucket, key = parse_s3_uri(uri)
    with translate("s3", "GetObjectTagging"):
        current = {
            t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        }
    merged = {**current, **tags}
    if merged == current:
        return current
    if len(merged) > 10:
        raise UserError(f"{uri}: cannot add tags {sorted(tags)}: S3 allows 10 tags per object")
    with translate("s3", "PutObjectTagging"):
        s3.put_object_tagging(
            Bucket=bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(merged.items())]},
        )
    return merged


#: Longest expiry of a presigned URL signed with SigV4 (S3 User Guide, "Sharing objects with
#: presigned URLs": 7 days); URLs signed with temporary credentials end with the session.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def presign(s3: Any, bucket: str, key: str, expires_in: int) -> str:
    """A presigned GetObject URL for ``s3://bucket/key``, valid ``expires_in`` seconds.

    Anyone holding the URL can read the object (a browser, IGV, htslib with HTTP range requests)
    until it expires; signing sends no request.

    Raises:
        UserError: ``expires_in`` outside 1 .. 604800 seconds (SigV4's limit).

    Source: S3 GetObject presigned with SigV4 (S3 User Guide, "Sharing objects with presigned
    URLs"); botocore ``generate_presigned_url``.
    """
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise UserError(
            f"a presigned URL expires after 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), "
            f"not {expires_in}"
        )
    return str(
        s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
    )
