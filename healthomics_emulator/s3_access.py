"""The S3 REST subset a sequence store's access point answers (developer guide "s3-access").

Read sets are readable with the plain S3 API through the store's access point alias
(:func:`healthomics_emulator.readset_files.alias_bucket`), path-style
(``/<alias>/<key>``) or virtual-hosted (``Host: <alias>.<anything>``):

- ``GET`` / ``HEAD`` object: ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> 206 with
  ``Content-Range``; an unsatisfiable range -> 416 ``InvalidRange``; several ranges at once are
  not supported by S3, which then answers the whole object (200), as here. Headers:
  ``Content-Length``, ``ETag`` (MD5 of the file, quoted), ``Accept-Ranges: bytes``,
  ``Last-Modified``, ``Content-Type: application/octet-stream``.
- ``GET /<alias>?list-type=2`` (ListObjectsV2: ``prefix``, ``delimiter``, ``max-keys``,
  ``continuation-token``, ``start-after``), ``GET /<alias>`` (ListObjects v1: ``marker``),
  ``HEAD /<alias>`` (HeadBucket), ``GET /<alias>?location`` (GetBucketLocation).
- Presigned URLs: an expired one (SigV4 ``X-Amz-Date`` + ``X-Amz-Expires``, SigV2 ``Expires``)
  is refused with 403 ``AccessDenied`` "Request has expired", as S3 does. Signatures are not
  checked (the local stack checks no signature anywhere).
- Read-only: the store's access point policy allows ``s3:GetObject``, ``s3:GetObjectTagging`` and
  ``s3:ListBucket`` only ("s3-sharing" page), so any write (PUT, POST, DELETE) is 403
  ``AccessDenied``.
- ARCHIVED (and ACTIVATING) read sets: "HealthOmics doesn't support Amazon S3 URI access to
  archived read sets". The exact answer is not documented; the emulator gives what S3 gives for an
  object whose storage class is archived (GetObject on S3 Glacier Flexible Retrieval without a
  restore): 403 ``InvalidObjectState`` "The operation is not valid for the object's storage
  class". Archived read sets are not listed.

Error bodies are S3's XML (``<Error><Code/><Message/>...</Error>``); HEAD answers carry no body.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from healthomics_emulator.readset_files import ALIAS_SUFFIX, md5_hex

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

REQUEST_ID = "0000000000000000"
_QUOT = {'"': "&quot;"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class S3Answer:
    """An HTTP answer: status, headers and either ``body`` bytes or ``file`` bytes
    ``[start, start + length)``."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: Path | None = None
    start: int = 0
    length: int = 0


def alias_of(host: str, path: str) -> tuple[str, str] | None:
    """(alias bucket, URL-decoded key) when the request addresses an access point alias,
    virtual-hosted (``Host: <alias>.…``) or path-style (``/<alias>/<key>``); else ``None``."""
    label = host.split(":", 1)[0].split(".", 1)[0]
    if label.endswith(ALIAS_SUFFIX) and "." in host.split(":", 1)[0]:
        return label, unquote(path.lstrip("/"))
    first, _, rest = path.lstrip("/").partition("/")
    if first.endswith(ALIAS_SUFFIX):
        return first, unquote(rest)
    return None


def error(status: int, code: str, message: str, **extra: str) -> S3Answer:
    """S3's XML error document."""
    parts = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{parts}"
        f"<RequestId>{REQUEST_ID}</RequestId></Error>"
    ).encode()
    return S3Answer(status, {"Content-Type": "application/xml"}, body)


@dataclass
class _Object:
    key: str
    path: Path
    read_set: dict[str, Any]
    slot: str

    @property
    def etag(self) -> str:
        """The object's ETag (MD5 of the file, recorded at import; computed for older state)."""
        recorded = (self.read_set.get("_md5") or {}).get(self.slot)
        return f'"{recorded or md5_hex(self.path)}"'


def _store_of(b: Backend, alias: str) -> dict[str, Any] | None:
    for store in b.state.values("sequenceStores"):
        if store.get("s3Access", {}).get("s3Uri", "").startswith(f"s3://{alias}/"):
            return store
    return None


def _objects(b: Backend, store: dict[str, Any]) -> list[_Object]:
    """Every file of every read set of the store, with its key (sorted by key)."""
    prefix = store["s3Access"]["s3Uri"].split("/", 3)[3]
    found = []
    for rs in b.state.values("readSets"):
        if rs.get("sequenceStoreId") != store["id"]:
            continue
        for slot, path in (rs.get("_paths") or {}).items():
            key = f"{prefix}readSet/{rs['id']}/{Path(path).name}"
            found.append(_Object(key, Path(path), rs, slot))
    return sorted(found, key=lambda o: o.key)


def _expired(query: dict[str, list[str]], now: float) -> bool:
    if "X-Amz-Date" in query and "X-Amz-Expires" in query:
        signed = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
        start = signed.replace(tzinfo=dt.UTC).timestamp()
        return now > start + int(query["X-Amz-Expires"][0])
    if "Expires" in query and "AWSAccessKeyId" in query:
        return now > int(query["Expires"][0])
    return False


def handle(
    b: Backend, method: str, host: str, path: str, query: str, headers: dict[str, str]
) -> S3Answer:
    """Answer one S3 request addressed to an access point alias (see the module docstring)."""
    addressed = alias_of(host, path)
    if addressed is None:
        return error(400, "InvalidRequest", "not an access point alias request")
    alias, key = addressed
    qs = parse_qs(query, keep_blank_values=True)
    if _expired(qs, time.time()):
        return error(403, "AccessDenied", "Request has expired")
    store = _store_of(b, alias)
    if store is None:
        return error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=alias)
    if method not in ("GET", "HEAD"):
        return error(403, "AccessDenied", "Access Denied")
    if not key:
        return _bucket(b, store, method, alias, qs)
    obj = next((o for o in _objects(b, store) if o.key == key), None)
    if obj is None:
        return _no_body(
            method, error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        )
    if obj.read_set.get("status") in ("ARCHIVED", "ACTIVATING"):
        answer = error(
            403,
            "InvalidObjectState",
            "The operation is not valid for the object's storage class",
            StorageClass="GLACIER",
        )
        return _no_body(method, answer)
    return _object(method, obj, headers.get("Range") or headers.get("range"))


def _no_body(method: str, answer: S3Answer) -> S3Answer:
    if method == "HEAD":
        answer.body = b""
    return answer


def _object(method: str, obj: _Object, range_header: str | None) -> S3Answer:
    size = obj.path.stat().st_size
    headers = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": obj.etag,
        "Last-Modified": formatdate(obj.path.stat().st_mtime, usegmt=True),
    }
    start, length, status = 0, size, 200
    match = _RANGE.match(range_header.strip()) if range_header else None
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # suffix range: the last n bytes
            start, end = max(size - int(last), 0), size - 1
        if start >= size or (first and last and int(last) < start):
            answer = error(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
                RangeRequested=range_header or "",
                ActualObjectSize=str(size),
            )
            answer.headers["Content-Range"] = f"bytes */{size}"
            return _no_body(method, answer)
        length, status = end - start + 1, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(length)
    if method == "HEAD":
        return S3Answer(status, headers)
    return S3Answer(status, headers, file=obj.path, start=start, length=length)


def _bucket(
    b: Backend, store: dict[str, Any], method: str, alias: str, qs: dict[str, list[str]]
) -> S3Answer:
    if method == "HEAD":
        return S3Answer(200, {"x-amz-bucket-region": b.region})
    if "location" in qs:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{'' if b.region == 'us-east-1' else b.region}</LocationConstraint>"
        )
        return S3Answer(200, {"Content-Type": "application/xml"}, body.encode())
    return _list(b, store, alias, qs)


def _list(b: Backend, store: dict[str, Any], alias: str, qs: dict[str, list[str]]) -> S3Answer:
    def arg(name: str) -> str:
        return qs.get(name, [""])[-1]

    v2 = arg("list-type") == "2"
    prefix, delimiter = arg("prefix"), arg("delimiter")
    try:
        max_keys = min(int(arg("max-keys") or 1000), 1000)
    except ValueError:
        return error(
            400, "InvalidArgument", "Provided max-keys not an integer or within integer range"
        )
    after = arg("continuation-token") or arg("start-after") if v2 else arg("marker")
    active = [
        o
        for o in _objects(b, store)
        if o.read_set.get("status") not in ("ARCHIVED", "ACTIVATING")
        and o.key.startswith(prefix)
        and o.key > after
    ]
    contents: list[_Object] = []
    common: list[str] = []
    last_key = ""
    truncated = False
    for o in active:
        if len(contents) + len(common) >= max_keys:
            truncated = True
            break
        rest = o.key[len(prefix) :]
        if delimiter and delimiter in rest:
            folder = prefix + rest.split(delimiter, 1)[0] + delimiter
            if folder not in common:
                common.append(folder)
            last_key = o.key
            continue
        contents.append(o)
        last_key = o.key
    items = "".join(
        f"<Contents><Key>{escape(o.key)}</Key>"
        f"<LastModified>{_iso(o.path)}</LastModified>"
        f"<ETag>{escape(o.etag, _QUOT)}</ETag><Size>{o.path.stat().st_size}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for o in contents
    )
    folders = "".join(
        f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in common
    )
    paging = ""
    if v2:
        paging = f"<KeyCount>{len(contents) + len(common)}</KeyCount>"
        if truncated:
            paging += f"<NextContinuationToken>{escape(last_key)}</NextContinuationToken>"
        if arg("continuation-token"):
            paging += f"<ContinuationToken>{escape(arg('continuation-token'))}</ContinuationToken>"
    else:
        paging = f"<Marker>{escape(after)}</Marker>"
        if truncated and delimiter:
            paging += f"<NextMarker>{escape(last_key)}</NextMarker>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{alias}</Name><Prefix>{escape(prefix)}</Prefix>{paging}"
        f"<MaxKeys>{max_keys}</MaxKeys>"
        + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
        + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{items}{folders}"
        "</ListBucketResult>"
    )
    return S3Answer(200, {"Content-Type": "application/xml"}, body.encode())


def _iso(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")
