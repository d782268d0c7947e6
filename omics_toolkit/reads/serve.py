"""The htsget 1.3 endpoint on HTTP: a FastAPI app over :mod:`omics_toolkit.reads.htsget`.

Routes (https://samtools.github.io/hts-specs/htsget.html):

- ``GET /reads/service-info``, ``GET /variants/service-info``: GA4GH service-info.
- ``GET /reads/{id}``, ``GET /variants/{id}``: a ticket for the query parameters (``id`` may
  hold ``/``).
- ``POST /reads/{id}``, ``POST /variants/{id}``: a ticket for a JSON body with ``regions``.
- ``OPTIONS`` on any of them: the CORS preflight.

Every answer, errors included, is JSON of type ``application/vnd.ga4gh.htsget.v1.3.0+json``;
any other path or method is ``NotFound`` (404), never a redirect.

Browsers: a ticket holds presigned URLs, so which web pages may read tickets matters. Without a
token only loopback pages (``http(s)://localhost``, ``127.0.0.1``, ``[::1]``, any port) and the
``allowed_origins`` get CORS headers; a request carrying another ``Origin`` is refused
(``PermissionDenied``) before any read set is looked up. With a token any origin is echoed (the
token is the protection). ``allowed_hosts`` refuses requests whose ``Host`` is another name
(a DNS-rebinding page reaches a loopback server under its own host name).
The app never reads the genome data itself: ``resolver(kind, id)`` returns a
:class:`~omics_toolkit.reads.htsget.Source` (presigned URL + index) and tickets point at it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from omics_toolkit import __version__
from omics_toolkit.errors import AccessDeniedError, ResourceNotFoundError
from omics_toolkit.reads.htsget import (
    MEDIA_TYPE,
    HtsgetError,
    InvalidAuthenticationError,
    InvalidInputError,
    Kind,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    Source,
    TicketRequest,
    parse_get,
    parse_post,
    service_info,
    ticket,
)

logger = logging.getLogger(__name__)

Resolver = Callable[[Kind, str], Source]
"""``resolver(kind, id) -> Source``; raises :class:`~omics_toolkit.reads.htsget.HtsgetError`
(``NotFoundError``...), or the toolkit's ``ResourceNotFoundError`` / ``AccessDeniedError``,
answered as ``NotFound`` / ``PermissionDenied``."""

CONTENT_TYPE = f"{MEDIA_TYPE}; charset=utf-8"
DEFAULT_MAX_POST_BYTES = 64 * 1024
"""Largest POST body accepted (bytes); larger ones get ``PayloadTooLarge`` (413)."""
PREFLIGHT_MAX_AGE_SECONDS = 30 * 24 * 3600
"""``Access-Control-Max-Age`` of a CORS preflight: 30 days, as the spec's CORS section sets."""
DEFAULT_HOST = "127.0.0.1"
KINDS: tuple[Kind, ...] = ("reads", "variants")
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Host names of the loopback interface: ``allowed_hosts`` for a server bound to loopback."""


def _host_name(value: str) -> str:
    """``Host``/origin authority without its port, lower case, IPv6 without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and parts.hostname in LOOPBACK_HOSTS
        and not parts.path
        and not parts.query
        and not parts.username
    )


def _origin_check(
    allowed_origins: Sequence[str] | None, token: str | None
) -> Callable[[str], bool]:
    explicit = {o.strip().rstrip("/").lower() for o in allowed_origins or ()}

    def allowed(origin: str) -> bool:
        if token is not None:
            return True
        return _loopback_origin(origin) or origin.strip().rstrip("/").lower() in explicit

    return allowed


def _json(content: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        content, status_code=status, headers=headers or None, media_type=CONTENT_TYPE
    )


def _error(exc: HtsgetError) -> JSONResponse:
    extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return _json(exc.body(), exc.status, **extra)


def _translate(exc: Exception) -> HtsgetError | None:
    if isinstance(exc, HtsgetError):
        return exc
    if isinstance(exc, ResourceNotFoundError):
        return NotFoundError(exc.message)
    if isinstance(exc, AccessDeniedError):
        return PermissionDeniedError(exc.message)
    return None


def create_app(
    resolver: Resolver,
    *,
    token: str | None = None,
    max_post_bytes: int = DEFAULT_MAX_POST_BYTES,
    max_block_bytes: int | None = None,
    allowed_origins: Sequence[str] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """A FastAPI app answering htsget 1.3 for the ids ``resolver`` knows.

    Args:
        resolver: ``resolver(kind, id) -> Source``, called once per ticket.
        token: if set, every request must carry ``Authorization: Bearer <token>``: none gives
            ``PermissionDenied`` (403), another gives ``InvalidAuthentication`` (401).
        max_post_bytes: larger POST bodies get ``PayloadTooLarge`` (413).
        max_block_bytes: longest byte range in one ticket URL (default
            :data:`~omics_toolkit.reads.htsget.DEFAULT_MAX_BLOCK_BYTES`).
        allowed_origins: without a token, the web origins (``scheme://host[:port]``) besides
            loopback ones whose pages may read tickets; a request with any other ``Origin``
            header gets ``PermissionDenied`` (403) and no CORS headers. Ignored with a token.
        allowed_hosts: if given, the ``Host`` names (port ignored; e.g.
            :data:`LOOPBACK_HOSTS`) this server answers to; another ``Host`` gets
            ``PermissionDenied`` (403). Guards a loopback server against DNS rebinding.

    Returns:
        The app; run it with :func:`serve` or :func:`running`.

    Source: htsget 1.3 "CORS", "Errors"; the Fetch standard's ``Origin`` header.
    """
    app = FastAPI(
        title="omics-toolkit htsget",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    limits = {} if max_block_bytes is None else {"max_block_bytes": max_block_bytes}
    origin_allowed = _origin_check(allowed_origins, token)
    hosts = None if allowed_hosts is None else {_host_name(h) for h in allowed_hosts}

    @app.middleware("http")
    async def cors_and_errors(request: Request, call_next: Callable[[Request], Any]) -> Response:
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if hosts is not None and _host_name(host) not in hosts:
            return _error(
                PermissionDeniedError(
                    f"this server answers to Host {', '.join(sorted(hosts))}, not {host!r}: "
                    "open it by one of those names"
                )
            )
        if origin is not None and not origin_allowed(origin):
            return _error(
                PermissionDeniedError(
                    f"web pages from origin {origin!r} may not read this server's tickets: only "
                    "loopback origins and the server's allowed origins may without a token; "
                    "serve with a token to allow any origin"
                )
            )
        if request.method == "OPTIONS":
            wanted = request.headers.get("access-control-request-method", "")
            if wanted not in ("GET", "POST"):
                return _error(InvalidInputError("a CORS preflight may ask for GET or POST only"))
            headers = {
                "Access-Control-Allow-Origin": origin or "*",
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
                "Vary": "Origin",
            }
            asked = request.headers.get("access-control-request-headers")
            if asked:
                headers["Access-Control-Allow-Headers"] = asked
            return Response(status_code=200, headers=headers)
        try:
            _authorize(request, token)
            response = await call_next(request)
        except HtsgetError as exc:
            response = _error(exc)
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    @app.exception_handler(HtsgetError)
    async def htsget_error(request: Request, exc: HtsgetError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def not_routed(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # unknown path (404) or method (405): htsget JSON, not FastAPI's {"detail": ...}
        if exc.status_code not in (404, 405):
            return _error(InvalidInputError(str(exc.detail)))
        return _error(
            NotFoundError(
                f"no htsget route {request.method} {request.url.path}: this server answers "
                "GET/POST /reads/<id>, /variants/<id> and GET /reads/service-info, "
                "/variants/service-info"
            )
        )

    @app.exception_handler(ResourceNotFoundError)
    @app.exception_handler(AccessDeniedError)
    async def aws_error(request: Request, exc: Exception) -> JSONResponse:
        translated = _translate(exc)
        assert translated is not None
        return _error(translated)

    def _ticket(kind: Kind, id_: str, parsed: TicketRequest) -> JSONResponse:
        if not id_:
            raise NotFoundError(f"no id: ask for /{kind}/<id>")
        source = resolver(kind, id_)
        built = ticket(parsed, source, **limits)
        logger.info(
            "htsget %s %s: %d url(s) covering %d of %d bytes; %d bytes read to cut blocks",
            kind,
            id_,
            len(built.body["htsget"]["urls"]),
            built.bytes_referenced,
            built.file_size,
            built.server_bytes_read,
        )
        return _json(built.body)

    for kind in KINDS:
        _routes(app, kind, _ticket, max_post_bytes)
    return app


def _routes(
    app: FastAPI,
    kind: Kind,
    make: Callable[[Kind, str, TicketRequest], JSONResponse],
    max_post_bytes: int,
) -> None:
    # service-info first: ``{id:path}`` would take it otherwise
    @app.get(f"/{kind}/service-info", name=f"{kind}_service_info")
    def info(request: Request) -> JSONResponse:
        return _json(service_info(kind, url=str(request.base_url), version=__version__))

    @app.get(f"/{kind}/{{id:path}}", name=f"{kind}_get")
    def get_ticket(id: str, request: Request) -> JSONResponse:
        return make(kind, id, parse_get(kind, request.query_params))

    @app.post(f"/{kind}/{{id:path}}", name=f"{kind}_post")
    async def post_ticket(id: str, request: Request) -> JSONResponse:
        if request.query_params:
            raise InvalidInputError(
                "a POST request takes its parameters in the JSON body, not the query string"
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_post_bytes:
            raise PayloadTooLargeError(f"the POST body is over {max_post_bytes} bytes")
        raw = await request.body()
        if len(raw) > max_post_bytes:
            raise PayloadTooLargeError(f"the POST body is over {max_post_bytes} bytes")
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            raise InvalidInputError(f"the POST body is not JSON: {exc}") from exc
        parsed = parse_post(kind, body)
        return await run_in_threadpool(make, kind, id, parsed)


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        return
    given = request.headers.get("authorization")
    if not given:
        raise PermissionDeniedError("this server needs an Authorization: Bearer <token> header")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
        raise InvalidAuthenticationError("the bearer token is not this server's")


def serve(
    app: FastAPI, host: str = DEFAULT_HOST, port: int = 8080, *, log_level: str = "info"
) -> None:
    """Run ``app`` with uvicorn until interrupted (Ctrl-C); bound to 127.0.0.1 unless told."""
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level)).run()


@contextlib.contextmanager
def running(
    app: FastAPI, host: str = DEFAULT_HOST, port: int = 0, *, log_level: str = "warning"
) -> Iterator[str]:
    """Run ``app`` in a background thread for the ``with`` block; yields its base URL.

    ``port=0`` takes a free port. Used by tests and by callers that embed the endpoint.

    Raises:
        RuntimeError: uvicorn did not start within 10 seconds.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError(f"the htsget server did not start on {host}:{port}")
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
