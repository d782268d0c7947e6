"""S3 transfers against moto for imports and runs, with service-style failure messages."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

_S3_URI = re.compile(r"^s3://([^/]+)/?(.*)$")


#: Longest status message of import jobs and their sources (``JobStatusMessage`` shape, max 127).
JOB_MESSAGE_MAX = 127


class SourceError(Exception):
    """A source could not be read; ``str()`` is the status message (``s3://b/k: NoSuchKey``)."""


def fit_message(text: str, limit: int = JOB_MESSAGE_MAX) -> str:
    """``text`` on one line, cut to ``limit`` characters with a trailing ``…`` when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_name(uri: str) -> str:
    """The base name of an S3 object key (``s3://b/reads/NA1_R1.fastq.gz`` -> ``NA1_R1.fastq.gz``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key). Raises ``SourceError`` for other schemes."""
    m = _S3_URI.match(uri)
    if not m:
        raise SourceError(f"{uri}: not an s3:// URI")
    return m.group(1), m.group(2)


def download(s3: Any, uri: str, dest: Path) -> Path:
    """Copy ``s3://bucket/key`` to ``dest`` (parents created).

    Raises ``SourceError`` with ``"<uri>: <S3 error code>"`` (e.g. ``NoSuchKey``, ``NoSuchBucket``).
    """
    bucket, key = split_s3_uri(uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        resp = s3.get_object(Bucket=bucket, Key=key)
        with dest.open("wb") as fh:
            shutil.copyfileobj(resp["Body"], fh, 1024 * 1024)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        raise SourceError(f"{uri}: {code}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"{uri}: {exc}") from exc
    return dest


def require_read(b: Any, role_arn: str, uri: str) -> None:
    """Refuse to read ``uri`` for an import job unless the job's role may ``s3:GetObject`` it
    (:mod:`healthomics_emulator.role_policy`; nothing is checked when the backend's option
    ``evaluate_role_policies`` is off).

    Raises:
        SourceError: ``"<uri>: AccessDenied: role <name> may not s3:GetObject (implicitly
            denied)"`` or ``"<uri>: Unable to assume role <name>"``; the import marks the source
            FAILED with it (HealthOmics fails the job, not the API call).
    """
    from healthomics_emulator.role_policy import AccessDenied, s3_object_arn

    try:
        policies = b.role_policies(role_arn)
        if policies is not None:
            policies.require("s3:GetObject", [s3_object_arn(uri)])
    except AccessDenied as exc:
        raise SourceError(f"{uri}: {exc.short}") from exc


def upload(s3: Any, path: Path, uri: str) -> str:
    """Upload a local file to ``uri``; return the URI. Raises ``SourceError`` on failure."""
    bucket, key = split_s3_uri(uri)
    try:
        s3.upload_file(str(path), bucket, key)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else exc
        raise SourceError(f"{uri}: {code}") from exc
    return uri


def is_gzip(path: Path) -> bool:
    """True if the file starts with the gzip magic bytes."""
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path: Path) -> Any:
    """Open a plain or gzip-compressed text file for reading."""
    if is_gzip(path):
        return gzip.open(path, "rt", errors="replace")
    return path.open("r", errors="replace")
