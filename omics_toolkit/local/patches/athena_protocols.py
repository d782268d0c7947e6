"""Athena on both of its wire protocols: AWS JSON 1.1 and REST-JSON, routed from botocore's model.

Athena's service model moved from the JSON protocol (``POST /`` with ``X-Amz-Target:
AmazonAthena.<Operation>``) to REST-JSON (one method and path per operation, from each
operation's ``http.requestUri``) in botocore 1.44.14. Clients of both kinds exist at once: the
toolkit and PyAthena speak whatever the installed botocore speaks, an AWS CLI or another tool
pointed at the local stack may bundle an older or newer one. moto 5.2 serves Athena on ``/``
only, so a REST-JSON request answers 404.

This patch puts a translation in front of moto's Athena (moto's WSGI dispatcher,
``DomainDispatcherApplication.__call__``), for requests signed for the ``athena`` service:

- **REST-JSON request**: matched on method and raw path against the routes built from the
  installed botocore model (labels ``{Name}`` and greedy ``{Name+}``, querystring and header
  members with their ``locationName`` and type), then handed to moto as the equivalent JSON
  protocol request (every member in the body, ``X-Amz-Target``). moto's answer goes back as
  REST-JSON: output members bound to headers become headers, the operation's ``responseCode``;
  an error carries ``X-Amzn-ErrorType`` and the error shape's members in the body, with the
  shape's ``httpStatusCode`` when the model gives one.
- **JSON protocol request**: handed to moto as it is; an error answer is rewritten to the
  model's error shape (``__type`` plus the shape's members, e.g. ``Message``,
  ``AthenaErrorCode``).

moto picks the operation from ``X-Amz-Target`` (``AthenaResponse._get_action`` is replaced:
moto 5.2.6 routes through the installed model, which no longer has a JSON target prefix).

When the installed model is itself JSON-only (botocore up to 1.44.13) it has no REST routes;
REST-JSON requests then answer ``UnknownOperationException`` saying so.

Patched moto names: :data:`TARGETS`.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module replaces (checked at stack start, see ``patches.guard``).
TARGETS = (
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication.__call__",
    "moto.athena.responses.AthenaResponse._get_action",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.moto_server.werkzeug_app.DomainDispatcherApplication.__call__",
        params=("self", "environ", "start_response"),
    ),
    Needs("moto.athena.responses.AthenaResponse._get_action", params=("self",)),
    Needs("moto.core.responses.BaseResponse.call_action", source=("self._get_action()",)),
)

LOG = logging.getLogger(__name__)

SERVICE = "athena"
#: The JSON protocol's target prefix: Athena's Smithy service shape name, the ``targetPrefix`` of
#: botocore's JSON-protocol Athena model (up to 1.44.13). The REST-JSON model has none; a model
#: that does carry one is used instead (:func:`target_prefix`).
JSON_TARGET_PREFIX = "AmazonAthena"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
REST_CONTENT_TYPE = "application/json"

_originals: dict[str, Any] = {}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@functools.cache
def service_model() -> Any:
    """The installed botocore's Athena ``ServiceModel``."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def target_prefix() -> str:
    """The JSON protocol's ``X-Amz-Target`` prefix (the model's ``targetPrefix`` if it has one)."""
    return str(service_model().metadata.get("targetPrefix") or JSON_TARGET_PREFIX)


@dataclass(frozen=True)
class Route:
    """One operation's REST-JSON route: ``method`` and ``requestUri`` compiled to ``pattern``."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    literal_chars: int


def _compile(request_uri: str) -> tuple[re.Pattern[str], tuple[str, ...], int]:
    path = request_uri.split("?", 1)[0]
    labels: list[str] = []
    regex = ""
    pos = 0
    for match in re.finditer(r"\{([^}]+)\}", path):
        regex += re.escape(path[pos : match.start()])
        name = match.group(1)
        greedy = name.endswith("+")
        name = name.rstrip("+")
        regex += f"(?P<g{len(labels)}>{'.+' if greedy else '[^/]+'})"
        labels.append(name)
        pos = match.end()
    regex += re.escape(path[pos:])
    literal = len(re.sub(r"\{[^}]+\}", "", path))
    return re.compile(f"^{regex}/?$"), tuple(labels), literal


@functools.cache
def routes() -> tuple[Route, ...]:
    """REST-JSON routes of every operation in the installed model, most specific first.

    Empty when the installed model speaks the JSON protocol only (every ``requestUri`` is ``/``).
    """
    model = service_model()
    if "rest-json" not in (model.metadata.get("protocols") or [model.protocol]):
        return ()
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        pattern, labels, literal = _compile(http["requestUri"])
        found.append(Route(name, http["method"].upper(), pattern, labels, literal))
    return tuple(sorted(found, key=lambda r: (-r.literal_chars, len(r.labels))))


def match_route(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """The operation and URI label values (percent-decoded) of a REST-JSON request, or ``None``."""
    for route in routes():
        if route.method != method.upper():
            continue
        found = route.pattern.match(raw_path)
        if found:
            values = {name: unquote(found.group(f"g{i}")) for i, name in enumerate(route.labels)}
            return route.operation, values
    return None


def _typed(shape: Any, values: list[str]) -> Any:
    kind = shape.type_name
    if kind == "list":
        return [_typed(shape.member, [v]) for v in values]
    value = values[-1]
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value.lower() == "true"
    return value


def rest_to_json_params(
    operation: str,
    labels: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The JSON-protocol parameters of a REST-JSON request (body members plus bound members).

    Raises:
        ValueError: the body is not a JSON object.
    """
    params = json.loads(body) if body.strip() else {}
    if not isinstance(params, dict):
        raise ValueError("the request body is not a JSON object")
    input_shape = service_model().operation_model(operation).input_shape
    if input_shape is None:
        return params
    lowered = {k.lower(): v for k, v in headers.items()}
    for member, shape in input_shape.members.items():
        location = shape.serialization.get("location")
        wire = shape.serialization.get("name", member)
        if location == "uri" and wire in labels:
            params[member] = labels[wire]
        elif location == "querystring" and wire in query:
            params[member] = _typed(shape, query[wire])
        elif location == "header" and wire.lower() in lowered:
            params[member] = _typed(shape, [lowered[wire.lower()]])
    return params


def _error_fields(status: int, body: bytes) -> tuple[str, dict[str, Any]]:
    """The error code and fields of moto's error answer (its several JSON forms, or text)."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = re.sub(r"<[^>]+>", " ", body.decode("utf-8", "replace"))
        text = " ".join(text.split())[:500]
        code = "InternalServerException" if status >= 500 else "InvalidRequestException"
        return code, {"Message": text or f"HTTP {status}"}
    nested = data.get("Error") if isinstance(data.get("Error"), dict) else {}
    code = str(
        data.get("__type") or nested.get("Type") or nested.get("Code") or data.get("code") or ""
    ).split("#")[-1]
    if not code:
        code = "InternalServerException" if status >= 500 else "InvalidRequestException"
    fields = {k: v for k, v in data.items() if k not in ("__type", "Error", "code", "message")}
    message = data.get("Message") or data.get("message") or nested.get("Message")
    if message is not None:
        fields["Message"] = message
    if nested.get("Code") and nested.get("Code") != code:
        fields.setdefault("AthenaErrorCode", nested["Code"])
    return code, fields


def error_answer(protocol: str, status: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """moto's error answer rewritten to the model's error shape in ``protocol``.

    Returns:
        ``(status, headers, body)``: JSON protocol ``{"__type": code, <members>}``; REST-JSON
        ``X-Amzn-ErrorType: code`` and ``{<members>}``. Members not in the error shape are
        dropped; the shape's ``httpStatusCode`` (e.g. 416) replaces moto's status.
    """
    code, fields = _error_fields(status, body)
    model = service_model()
    shape = next((s for s in model.error_shapes if s.name == code), None)
    if shape is not None:
        names = {m.lower(): m for m in shape.members}
        fields = {names[k.lower()]: v for k, v in fields.items() if k.lower() in names}
        status = int((shape.metadata.get("error") or {}).get("httpStatusCode") or status)
    if status < 400:
        status = 400
    if protocol == "json":
        return (
            status,
            {"Content-Type": JSON_CONTENT_TYPE},
            json.dumps({"__type": code, **fields}).encode(),
        )
    return (
        status,
        {"Content-Type": REST_CONTENT_TYPE, "X-Amzn-ErrorType": code},
        json.dumps(fields).encode(),
    )


def rest_success(operation: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """A successful JSON-protocol answer as REST-JSON: header-bound members, ``responseCode``."""
    op = service_model().operation_model(operation)
    status = int(op.http.get("responseCode") or 200)
    headers = {"Content-Type": REST_CONTENT_TYPE}
    if op.output_shape is None or not body.strip():
        return status, headers, body or b"{}"
    data = json.loads(body)
    for member, shape in op.output_shape.members.items():
        if shape.serialization.get("location") == "header" and member in data:
            headers[shape.serialization.get("name", member)] = str(data.pop(member))
    return status, headers, json.dumps(data).encode()


def signed_service(environ: dict[str, Any]) -> str | None:
    """The service of a SigV4 ``Authorization`` header's credential scope (``athena``), if any."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    found = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request", auth)
    return found.group(1).lower() if found else None


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return urlsplit(raw).path
    return str(environ.get("PATH_INFO") or "/")


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if (stream is not None and length > 0) else b""


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers
        return lambda _data: None

    try:
        chunks = app(environ, start_response)
    except Exception as exc:  # noqa: BLE001 - moto's own bug: answer as the service would
        LOG.exception("moto's Athena failed on %s", environ.get("HTTP_X_AMZ_TARGET"))
        body = json.dumps({"__type": "InternalServerException", "Message": repr(exc)})
        return 500, {}, body.encode()
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return captured["status"], dict(captured["headers"]), body


def _respond(
    start_response: Callable[..., Any],
    status: int,
    headers: dict[str, str],
    body: bytes,
    passthrough: dict[str, str] | None = None,
) -> list[bytes]:
    from werkzeug.http import HTTP_STATUS_CODES

    out = {k: v for k, v in (passthrough or {}).items() if k.lower().startswith("x-amzn-request")}
    out.update(headers)
    out["Content-Length"] = str(len(body))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", list(out.items()))
    return [body]


def serve(
    environ: dict[str, Any], start_response: Callable[..., Any], app: WsgiApp
) -> Iterable[bytes]:
    """Answer one Athena request of either protocol through moto's JSON-protocol Athena ``app``."""
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    model = service_model()
    if target:
        prefix, _, operation = target.partition(".")
        if prefix != target_prefix() or operation not in model.operation_names:
            status, headers, body = error_answer(
                "json",
                400,
                json.dumps(
                    {"__type": "UnknownOperationException", "Message": f"unknown target {target}"}
                ).encode(),
            )
            return _respond(start_response, status, headers, body)
        status, headers, body = _call(app, environ)
        if status >= 400:
            status, new_headers, body = error_answer("json", status, body)
            return _respond(start_response, status, new_headers, body, headers)
        return _respond(start_response, status, {"Content-Type": JSON_CONTENT_TYPE}, body, headers)

    method = str(environ.get("REQUEST_METHOD") or "GET")
    path = _raw_path(environ)
    matched = match_route(method, path)
    if matched is None:
        why = (
            f"no Athena operation is {method} {path}"
            if routes()
            else "the installed botocore's Athena model speaks the JSON protocol only"
        )
        body = json.dumps({"__type": "UnknownOperationException", "Message": why}).encode()
        status, headers, body = error_answer("rest-json", 404, body)
        return _respond(start_response, status, headers, body)
    operation, labels = matched
    headers_in = {
        key[5:].replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    try:
        params = rest_to_json_params(
            operation,
            labels,
            parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True),
            headers_in,
            _read_body(environ),
        )
    except ValueError as exc:
        body = json.dumps({"__type": "InvalidRequestException", "Message": str(exc)}).encode()
        status, headers, body = error_answer("rest-json", 400, body)
        return _respond(start_response, status, headers, body)
    payload = json.dumps(params).encode()
    inner = dict(environ)
    inner.update(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": JSON_CONTENT_TYPE,
            "CONTENT_LENGTH": str(len(payload)),
            "HTTP_X_AMZ_TARGET": f"{target_prefix()}.{operation}",
            "wsgi.input": io.BytesIO(payload),
        }
    )
    status, headers, body = _call(app, inner)
    if status >= 400:
        status, new_headers, body = error_answer("rest-json", status, body)
    else:
        status, new_headers, body = rest_success(operation, body)
    return _respond(start_response, status, new_headers, body, headers)


def dispatcher_call(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """``DomainDispatcherApplication.__call__``: Athena requests go through :func:`serve`."""
    original = _originals["__call__"]
    if signed_service(environ) != SERVICE:
        return original(self, environ, start_response)
    return serve(environ, start_response, lambda env, sr: original(self, env, sr))


def get_action(self: Any) -> str:
    """``AthenaResponse._get_action``: the operation named by ``X-Amz-Target``."""
    prefix, _, operation = str(self.headers.get("X-Amz-Target") or "").partition(".")
    if prefix == target_prefix() and operation:
        return operation
    return str(_originals["_get_action"](self))


def apply() -> None:
    """Install the translation and the action lookup (idempotent)."""
    from moto.athena.responses import AthenaResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if "__call__" not in _originals:
        _originals["__call__"] = DomainDispatcherApplication.__call__
        _originals["_get_action"] = AthenaResponse._get_action
    DomainDispatcherApplication.__call__ = dispatcher_call  # type: ignore[method-assign]
    AthenaResponse._get_action = get_action  # type: ignore[method-assign]
