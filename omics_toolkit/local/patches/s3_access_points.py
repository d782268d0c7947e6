"""S3 requests to a sequence store's access point alias reach the HealthOmics emulator.

HealthOmics serves every ACTIVE read set through the S3 access point of its sequence store
(GetSequenceStore ``s3Access.s3Uri``, GetReadSetMetadata ``files.*.s3Access.s3Uri``: a bucket
named ``<...>-s3alias``, the access point's alias). Clients use the plain S3 API on it: boto3's S3
client, presigned URLs opened by htslib, IGV or urllib. On the local stack their S3 endpoint is
the moto server, which knows no such bucket; the emulator owns the read sets and answers the S3
subset (:mod:`healthomics_emulator.s3_access`: GetObject with Range, HeadObject, ListObjectsV2,
S3's errors, writes refused).

Wraps ``moto.moto_server.werkzeug_app.DomainDispatcherApplication.__call__`` (the WSGI entry of
moto's server) so that a request whose bucket ends with ``-s3alias`` -- path-style
(``/<alias>/<key>``) or virtual-hosted (``Host: <alias>.…``) -- is forwarded as is (method, raw
path and query, headers, body) to the emulator at ``$AWS_ENDPOINT_URL_OMICS`` and its answer
streamed back; every other request goes to moto as before. No bucket name ending with
``-s3alias`` can be created in S3 (bucketnamingrules.html; :mod:`.s3_bucket_names`), so nothing
of moto's is hidden.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from omics_toolkit.local.patches.guard import Needs

#: The moto symbol this module wraps.
TARGET = "moto.moto_server.werkzeug_app.DomainDispatcherApplication.__call__"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (Needs(TARGET, params=("self", "environ", "start_response")),)

ALIAS_SUFFIX = "-s3alias"
#: Where the emulator listens (set by the local stack once it started the emulator).
EMULATOR_ENV = "AWS_ENDPOINT_URL_OMICS"
#: Seconds to wait for the emulator to answer a forwarded request.
TIMEOUT_SECONDS = 120.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "date", "server"}
_CHUNK_BYTES = 256 * 1024

_originals: dict[str, Any] = {}


def addresses_alias(host: str, path: str) -> bool:
    """Whether a request names an access point alias as its bucket (virtual-hosted or
    path-style)."""
    hostname = host.split(":", 1)[0]
    if "." in hostname and hostname.split(".", 1)[0].endswith(ALIAS_SUFFIX):
        return True
    return path.lstrip("/").split("/", 1)[0].endswith(ALIAS_SUFFIX)


def _raw_target(environ: dict[str, Any]) -> str:
    """The request's path and query as the client sent them."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not raw:
        raw = quote(environ.get("PATH_INFO", ""))
        if environ.get("QUERY_STRING"):
            raw += "?" + environ["QUERY_STRING"]
    return str(raw)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


def forward(environ: dict[str, Any], start_response: Any, emulator_url: str) -> Iterable[bytes]:
    """Send the request to the emulator and stream its answer back (WSGI)."""
    target = urlsplit(emulator_url)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    connection = http.client.HTTPConnection(
        target.hostname or "127.0.0.1", target.port, timeout=TIMEOUT_SECONDS
    )
    try:
        connection.request(
            environ["REQUEST_METHOD"], _raw_target(environ), body=body, headers=_headers(environ)
        )
        answer = connection.getresponse()
    except OSError as exc:
        connection.close()
        message = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
            f"<Message>the HealthOmics emulator at {emulator_url} does not answer: {exc}"
            "</Message></Error>"
        ).encode()
        start_response(
            "503 Service Unavailable",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(message)))],
        )
        return [message]
    start_response(
        f"{answer.status} {answer.reason}",
        [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP],
    )

    def stream() -> Iterator[bytes]:
        try:
            while chunk := answer.read(_CHUNK_BYTES):
                yield chunk
        finally:
            connection.close()

    return stream()


def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
    """moto's WSGI entry, with access point alias requests forwarded to the emulator."""
    emulator_url = os.environ.get(EMULATOR_ENV)
    if emulator_url and addresses_alias(environ.get("HTTP_HOST", ""), environ.get("PATH_INFO", "")):
        return forward(environ, start_response, emulator_url)
    return _originals["call"](self, environ, start_response)


def apply() -> None:
    """Install the wrapper (idempotent)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if DomainDispatcherApplication.__call__ is not dispatch:
        _originals["call"] = DomainDispatcherApplication.__call__
        DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
