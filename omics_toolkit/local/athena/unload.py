"""UNLOAD (query) TO 's3://...' WITH (format = 'PARQUET', compression = ...) in the local Athena.

One Parquet file with Athena's column types is written under the location in moto S3; the
location must be empty (Athena's HIVE_PATH_ALREADY_EXISTS otherwise). Other formats and
properties FAIL with NOT_SUPPORTED.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from omics_toolkit.local.athena.engine import run_query_arrow
from omics_toolkit.local.athena.errors import QueryFailed
from omics_toolkit.local.athena.functions import line_col, mask_literals
from omics_toolkit.local.athena.s3 import put_s3


@dataclass
class Unload:
    """A parsed ``UNLOAD (query) TO 's3://...' WITH (format = ..., compression = ...)``."""

    query: str
    location: str
    format: str
    compression: str


_UNLOAD_START = re.compile(r"^\s*UNLOAD\s*\(", re.IGNORECASE)
_UNLOAD_TAIL = re.compile(
    r"^\s*TO\s+'((?:[^']|'')*)'\s*(?:WITH\s*\((.*)\))?\s*;?\s*$", re.IGNORECASE | re.DOTALL
)
_UNLOAD_PROPERTY = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|ARRAY\s*\[[^\]]*\]|[\w.]+)", re.I)
#: UNLOAD compression for Parquet (Athena default GZIP) -> pyarrow codec.
_PARQUET_CODECS = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "NONE": "none"}


def parse_unload(sql: str) -> Unload | None:
    """Parse an UNLOAD statement (``None`` for anything else).

    Raises:
        QueryFailed: malformed UNLOAD, or a format/property the local Athena does not implement.
    """
    head = _UNLOAD_START.match(sql)
    if not head:
        return None
    masked = mask_literals(sql)
    depth, i = 1, head.end()
    while i < len(sql) and depth:
        depth += {"(": 1, ")": -1}.get(masked[i], 0)
        i += 1
    if depth:
        raise QueryFailed(f"SYNTAX_ERROR: {line_col(sql, len(sql))}: mismatched input '<EOF>'")
    query = sql[head.end() : i - 1]
    tail = _UNLOAD_TAIL.match(sql[i:])
    if not tail:
        raise QueryFailed(f"SYNTAX_ERROR: {line_col(sql, i)}: mismatched input. Expecting: 'TO'")
    location = tail.group(1).replace("''", "'")
    props = {
        k.lower(): v.strip("'").replace("''", "'")
        for k, v in _UNLOAD_PROPERTY.findall(tail.group(2) or "")
    }
    fmt = props.pop("format", "PARQUET").upper()
    compression = props.pop("compression", "GZIP").upper()
    if fmt != "PARQUET":
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena writes UNLOAD format PARQUET only, not {fmt}"
        )
    if compression not in _PARQUET_CODECS:
        raise QueryFailed(
            f"INVALID_TABLE_PROPERTY: Unsupported compression {compression} for PARQUET"
        )
    if props:
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena does not implement UNLOAD properties {sorted(props)}"
        )
    if not location.startswith("s3://"):
        raise QueryFailed(
            f"INVALID_TABLE_PROPERTY: UNLOAD location must be an s3:// URI: {location}"
        )
    return Unload(query, location if location.endswith("/") else location + "/", fmt, compression)


def run_unload(
    unload: Unload,
    query_id: str,
    default_db: str,
    account_id: str,
    region: str,
    catalog: str | None,
) -> list[str]:
    """Run an UNLOAD: one Parquet file under ``unload.location`` in moto S3; return its URIs.

    Raises:
        QueryFailed: HIVE_PATH_ALREADY_EXISTS when the location holds objects (Athena requires
            it empty), or any query failure.
    """
    import pyarrow.parquet as pq
    from moto.s3.models import s3_backends

    parsed = urlparse(unload.location)
    bucket = s3_backends[account_id]["aws"].buckets.get(parsed.netloc)
    if bucket is None:
        raise QueryFailed(f"HIVE_FILESYSTEM_ERROR: the bucket of {unload.location} does not exist")
    prefix = parsed.path.lstrip("/")
    if any(key.startswith(prefix) for key in bucket.keys.keys()):
        raise QueryFailed(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: {unload.location}. "
            "You may need to manually clean the data at this location before retrying. "
            "Athena will not delete data in your account."
        )
    table = run_query_arrow(unload.query, default_db, account_id, region, catalog)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=_PARQUET_CODECS[unload.compression], store_schema=False)
    uri = f"{unload.location}{query_id}_00000"
    put_s3(account_id, uri, buf.getvalue())
    return [uri]


def manifest_location(location: str, query_id: str) -> str:
    """The UNLOAD manifest's URI: ``<QueryExecutionId>-manifest.csv`` beside the result location."""
    return location.rsplit("/", 1)[0] + f"/{query_id}-manifest.csv"
