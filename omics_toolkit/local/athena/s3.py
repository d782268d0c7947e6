"""The local Athena's reads and writes in moto's S3 (same process: the moto server's backends).

Table data is read as local files (``file://`` in place, ``s3://`` objects copied to a scratch
directory for DuckDB); results, UNLOAD files and manifests are written as moto S3 objects.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from omics_toolkit.local.athena.errors import QueryFailed


def parquet_files(location: str, account_id: str, scratch: Path) -> list[str]:
    """Local paths of every ``*.parquet`` under ``location`` (``file://`` or moto ``s3://``).

    ``s3://`` objects are copied under ``scratch``.

    Raises:
        QueryFailed: the bucket does not exist, or the location scheme is not file/s3/s3a.
    """
    parsed = urlparse(location)
    if parsed.scheme in ("file", ""):
        root = Path(unquote(parsed.path))
        if root.is_file():
            return [str(root)]
        return (
            sorted(str(p) for p in root.rglob("*.parquet") if p.is_file()) if root.is_dir() else []
        )
    if parsed.scheme in ("s3", "s3a"):
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        bucket = backend.buckets.get(parsed.netloc)
        if bucket is None:
            raise QueryFailed(f"HIVE_PATH_ALREADY_EXISTS: bucket of {location} does not exist")
        prefix = parsed.path.lstrip("/")
        files = []
        for key_name in sorted(bucket.keys.keys()):
            if not key_name.startswith(prefix) or not key_name.endswith(".parquet"):
                continue
            key = bucket.keys[key_name]
            target = scratch / parsed.netloc / key_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(key.value)
            files.append(str(target))
        return files
    raise QueryFailed(f"NOT_SUPPORTED: table location scheme {parsed.scheme!r} ({location})")


def put_s3(account_id: str, location: str, body: bytes) -> None:
    """Write ``body`` to the ``s3://bucket/key`` URI ``location`` in moto S3 of ``account_id``."""
    from moto.s3.models import s3_backends

    parsed = urlparse(location)
    s3_backends[account_id]["aws"].put_object(
        bucket_name=parsed.netloc, key_name=parsed.path.lstrip("/"), value=body
    )
