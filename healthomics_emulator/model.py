"""The botocore ``omics`` service model: routing, request parsing, validation, output shaping.

Everything here is derived from ``botocore/data/omics/2022-11-28/service-2.json`` (restJson1):
the HTTP method + ``requestUri`` template of each operation, the ``location``/``locationName`` of
input members (uri, querystring, header, body), and the constraints of the input shapes (required,
enum, pattern, min/max length or value, list/map sizes), checked by the service-agnostic
:mod:`healthomics_emulator.botocore_model`. Output members are filtered to the output
shape and timestamps written in the shape's ``timestampFormat`` (iso8601 throughout this model).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from healthomics_emulator.botocore_model import ShapeValidator, load_service_model
from healthomics_emulator.botocore_model import compile_pattern as compile_pattern  # re-export
from healthomics_emulator.errors import OmicsError, ValidationError

SERVICE = "omics"


def load_model() -> dict[str, Any]:
    """Return the raw ``omics`` service model (a dict with ``operations`` and ``shapes``)."""
    return load_service_model(SERVICE)


@dataclass(frozen=True)
class Route:
    """One operation's HTTP binding: method, compiled path template, label names."""

    operation: str
    method: str
    template: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    literal_chars: int
    response_code: int


@dataclass
class ParsedRequest:
    """A request matched to an operation with its input members parsed (not yet validated)."""

    operation: str
    params: dict[str, Any] = field(default_factory=dict)


class ServiceModel:
    """Routes HTTP requests to operations and (de)serialises their shapes.

    Args:
        model: the raw service model; defaults to botocore's ``omics`` model.
    """

    def __init__(self, model: dict[str, Any] | None = None) -> None:
        self.model = model or load_model()
        self.operations: dict[str, Any] = self.model["operations"]
        self.shapes: dict[str, Any] = self.model["shapes"]
        self.validator = ShapeValidator(self.model)
        self.routes = [self._route(name, op) for name, op in self.operations.items()]

    # ------------------------------------------------------------------ routing
    @staticmethod
    def _route(name: str, op: dict[str, Any]) -> Route:
        http = op["http"]
        template = http["requestUri"].split("?", 1)[0]
        labels: list[str] = []
        parts: list[str] = []
        literal = 0
        for piece in re.split(r"(\{[^}]+\})", template):
            if piece.startswith("{") and piece.endswith("}"):
                label = piece[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                labels.append(label)
                parts.append(f"(?P<l{len(labels) - 1}>{'.+' if greedy else '[^/]+'})")
            else:
                literal += len(piece)
                parts.append(re.escape(piece))
        return Route(
            operation=name,
            method=http["method"],
            template=template,
            regex=re.compile("^" + "".join(parts) + "/?$"),
            labels=tuple(labels),
            literal_chars=literal,
            response_code=int(http.get("responseCode", 200)),
        )

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
        """Find the operation for ``method`` and the (still percent-encoded) ``raw_path``.

        Returns the route and its URI labels (decoded). Raises ``OmicsError`` (404/405-style
        ``ValidationException``/``UnknownOperationException``) when nothing matches.
        """
        best: tuple[Route, re.Match[str]] | None = None
        path_matched = False
        for route in self.routes:
            m = route.regex.match(raw_path)
            if not m:
                continue
            path_matched = True
            if route.method != method.upper():
                continue
            if best is None or route.literal_chars > best[0].literal_chars:
                best = (route, m)
        if best is None:
            if path_matched:
                raise OmicsError(
                    "ValidationException", f"method {method} is not allowed on {raw_path}", 405
                )
            raise OmicsError(
                "UnknownOperationException", f"no omics operation for {method} {raw_path}", 404
            )
        route, m = best
        labels = {name: unquote(m.group(f"l{i}")) for i, name in enumerate(route.labels)}
        return route, labels

    # ------------------------------------------------------------------ parsing
    def input_shape_name(self, operation: str) -> str | None:
        op = self.operations[operation]
        return op.get("input", {}).get("shape")

    def output_shape_name(self, operation: str) -> str | None:
        op = self.operations[operation]
        return op.get("output", {}).get("shape")

    def parse(
        self,
        route: Route,
        labels: dict[str, str],
        query: str,
        headers: dict[str, str],
        body: bytes,
    ) -> ParsedRequest:
        """Build the operation's input parameters from URI labels, query, headers and JSON body.

        Scalars from the URI/query/headers are converted to the member's type; body members are
        taken from the JSON document (blobs base64-decoded, timestamps parsed). Type errors raise
        ``ValidationError``.
        """
        import json

        shape_name = self.input_shape_name(route.operation)
        parsed = ParsedRequest(route.operation)
        if shape_name is None:
            return parsed
        shape = self.shapes[shape_name]
        qs = parse_qs(query, keep_blank_values=True)
        lower_headers = {k.lower(): v for k, v in headers.items()}
        errors: list[str] = []
        body_doc: dict[str, Any] = {}
        payload = shape.get("payload")
        if payload is None and body.strip():
            try:
                body_doc = json.loads(body)
            except ValueError as exc:
                raise OmicsError(
                    "SerializationException", f"request body is not JSON: {exc}"
                ) from exc
            if not isinstance(body_doc, dict):
                raise OmicsError("SerializationException", "request body must be a JSON object")
        for name, member in shape["members"].items():
            location = member.get("location")
            wire = member.get("locationName", name)
            target = self.shapes[member["shape"]]
            if location == "uri":
                if wire in labels:
                    parsed.params[name] = self._from_text(labels[wire], target, name, errors)
            elif location == "querystring":
                if wire in qs:
                    values = qs[wire]
                    if target["type"] == "list":
                        item = self.shapes[target["member"]["shape"]]
                        parsed.params[name] = [
                            self._from_text(v, item, name, errors) for v in values
                        ]
                    else:
                        parsed.params[name] = self._from_text(values[-1], target, name, errors)
            elif location == "header":
                if wire.lower() in lower_headers:
                    parsed.params[name] = self._from_text(
                        lower_headers[wire.lower()], target, name, errors
                    )
            elif payload == name:
                parsed.params[name] = body
            elif name in body_doc:
                parsed.params[name] = self._from_json(body_doc[name], member["shape"], name, errors)
        if errors:
            raise ValidationError(errors)
        return parsed

    def _from_text(self, text: str, shape: dict[str, Any], path: str, errors: list[str]) -> Any:
        kind = shape["type"]
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind == "boolean":
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                return text.lower() == "true"
            if kind == "timestamp":
                return _parse_timestamp(text)
        except ValueError:
            errors.append(
                f"Value '{text}' at '{path}' failed to satisfy constraint: Member must be of type {kind}"
            )
            return None
        return text

    def _from_json(self, value: Any, shape_name: str, path: str, errors: list[str]) -> Any:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if value is None:
            return None
        if kind == "structure":
            if shape.get("document"):
                return value
            if not isinstance(value, dict):
                errors.append(_type_error(value, path, "structure"))
                return None
            out: dict[str, Any] = {}
            for key, item in value.items():
                member = shape["members"].get(key)
                if member is None:
                    continue  # unknown members are ignored, as by the service
                out[key] = self._from_json(item, member["shape"], f"{path}.{key}", errors)
            return out
        if kind == "list":
            if not isinstance(value, list):
                errors.append(_type_error(value, path, "list"))
                return None
            return [
                self._from_json(v, shape["member"]["shape"], f"{path}.{i + 1}.member", errors)
                for i, v in enumerate(value)
            ]
        if kind == "map":
            if not isinstance(value, dict):
                errors.append(_type_error(value, path, "map"))
                return None
            return {
                k: self._from_json(v, shape["value"]["shape"], f"{path}.{k}.member", errors)
                for k, v in value.items()
            }
        if kind == "string":
            if not isinstance(value, str):
                errors.append(_type_error(value, path, "string"))
                return None
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(_type_error(value, path, kind))
                return None
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(_type_error(value, path, kind))
                return None
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                errors.append(_type_error(value, path, "boolean"))
                return None
            return value
        if kind == "blob":
            if not isinstance(value, str):
                errors.append(_type_error(value, path, "blob"))
                return None
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                errors.append(
                    f"Value at '{path}' failed to satisfy constraint: Member must be base64-encoded"
                )
                return None
        if kind == "timestamp":
            try:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
                return _parse_timestamp(str(value))
            except ValueError:
                errors.append(_type_error(value, path, "timestamp"))
                return None
        return value

    # ------------------------------------------------------------------ validation
    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Check ``params`` against the operation's input shape; raise ``ValidationError``.

        Checks (:class:`healthomics_emulator.botocore_model.ShapeValidator`): required members
        (``Value null at 'x' ... must not be null``), enums, patterns (full match), string/blob
        length, integer ranges, list/map sizes, unions, nested structures.
        """
        shape_name = self.input_shape_name(operation)
        if shape_name is None:
            return
        errors = self.validator.validate_shape(shape_name, params)
        if errors:
            raise ValidationError(errors)

    # ------------------------------------------------------------------ output
    def serialize(
        self, operation: str, result: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Shape ``result`` per the output shape: (JSON body, response headers).

        Only members of the output shape are kept; timestamps become iso8601 strings; blobs are
        base64; members bound to headers go to the header dict.
        """
        shape_name = self.output_shape_name(operation)
        if shape_name is None:
            return {}, {}
        shape = self.shapes[shape_name]
        body: dict[str, Any] = {}
        headers: dict[str, str] = {}
        for name, member in shape["members"].items():
            if result.get(name) is None:
                continue
            value = self._to_json(result[name], member["shape"])
            if member.get("location") == "header":
                headers[member.get("locationName", name)] = str(value)
            else:
                body[name] = value
        return body, headers

    def _to_json(self, value: Any, shape_name: str) -> Any:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            if shape.get("document"):
                return value
            return {
                k: self._to_json(value[k], m["shape"])
                for k, m in shape["members"].items()
                if isinstance(value, dict) and value.get(k) is not None
            }
        if kind == "list":
            return [self._to_json(v, shape["member"]["shape"]) for v in value]
        if kind == "map":
            return {k: self._to_json(v, shape["value"]["shape"]) for k, v in value.items()}
        if kind == "timestamp":
            return format_timestamp(value)
        if kind == "blob":
            raw = value.encode() if isinstance(value, str) else value
            return base64.b64encode(raw).decode()
        return value

    def error_status(self, code: str) -> int:
        """HTTP status of an error shape (``error.httpStatusCode``); 400 when unknown."""
        shape = self.shapes.get(code, {})
        return int(shape.get("error", {}).get("httpStatusCode", 400))


def _type_error(value: Any, path: str, kind: str) -> str:
    return (
        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must be of type {kind}"
    )


def _parse_timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
    except ValueError:
        pass
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_timestamp(value: Any) -> str:
    """Render a datetime (or an already-ISO string) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    """Current UTC time in the emulator's stored timestamp format."""
    return format_timestamp(dt.datetime.now(dt.UTC))


def parse_iso(text: str) -> dt.datetime:
    """Parse a stored timestamp string back into an aware datetime."""
    return _parse_timestamp(text)
