"""The local Lambda refuses what Lambda refuses: blocked runtimes and code + layers over 250 MiB.

Wraps moto's ``LambdaBackend.create_function``, ``update_function_configuration`` and
``update_function_code`` (moto 5.2.x accepts any runtime and any size). Refusals are
``InvalidParameterValueException`` (HTTP 400) with Lambda's own messages:

- a runtime past its "Block function create" date (CreateFunction) or "Block function update"
  date (UpdateFunctionConfiguration with that runtime, or any update of a function that still
  has it; UpdateFunctionCode): ``The runtime parameter of python3.11 is no longer supported for
  creating or updating AWS Lambda functions. We recommend you use the new runtime (python3.14)
  while creating or updating functions.``
- the function's code plus all its layers, unzipped, above 262,144,000 bytes: ``Function code
  combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is N
  bytes.``

The dates and the limit are :mod:`omics_toolkit.lambda_facts` (Lambda developer guide, "Lambda
runtimes", "Lambda quotas"); "today" is the stack's UTC date. Runtimes that are not Python ones
known there are let through (moto's own checks apply). Code given as an S3 object that moto could
not read counts as empty.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from typing import Any

from omics_toolkit.lambda_facts import (
    UNZIPPED_LIMIT_BYTES,
    blocked_runtime_message,
    runtime,
    too_large_message,
)
from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module replaces.
TARGETS = (
    "moto.awslambda.models.LambdaBackend.create_function",
    "moto.awslambda.models.LambdaBackend.update_function_configuration",
    "moto.awslambda.models.LambdaBackend.update_function_code",
)
NEEDS = (
    Needs("moto.awslambda.models.LambdaBackend.create_function", params=("self", "spec")),
    Needs(
        "moto.awslambda.models.LambdaBackend.update_function_configuration",
        params=("self", "function_name", "qualifier", "body"),
    ),
    Needs(
        "moto.awslambda.models.LambdaBackend.update_function_code",
        params=("self", "function_name", "qualifier", "body"),
    ),
    Needs("moto.awslambda.models.LambdaBackend.get_function", params=("self",)),
    Needs("moto.awslambda.models.LambdaBackend.layers_versions_by_arn", params=("self",)),
    Needs("moto.awslambda.exceptions.InvalidParameterValueException"),
)

_originals: dict[str, Any] = {}


def today() -> dt.date:
    """The date the block dates are compared with (UTC)."""
    return dt.datetime.now(dt.UTC).date()


def unzipped_size(data: bytes | None) -> int:
    """Sum of the file sizes in zip ``data`` (0 for no data or a non-zip)."""
    if not data:
        return 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return 0


def _refuse(message: str) -> Exception:
    from moto.awslambda.exceptions import InvalidParameterValueException

    return InvalidParameterValueException(message)


def check_runtime(identifier: str | None, operation: str) -> None:
    """Raise Lambda's refusal when ``identifier`` is blocked for ``operation`` today."""
    facts = runtime(identifier or "")
    if facts is not None and facts.blocked(operation, today()):
        raise _refuse(blocked_runtime_message(str(identifier)))


def layers_size(backend: Any, arns: list[str]) -> int:
    """Unzipped bytes of the layer versions ``arns`` (unknown versions count 0: moto refuses them)."""
    total = 0
    for arn in arns:
        try:
            version = backend.layers_versions_by_arn(arn)
        except (KeyError, ValueError, IndexError):
            version = None
        if version is not None:
            total += unzipped_size(getattr(version, "code_bytes", b""))
    return total


def check_size(code_bytes: int, layer_bytes: int) -> None:
    """Raise Lambda's refusal when code + layers exceed :data:`UNZIPPED_LIMIT_BYTES`."""
    if code_bytes + layer_bytes > UNZIPPED_LIMIT_BYTES:
        raise _refuse(too_large_message(code_bytes + layer_bytes))


def _zip_of(code: dict[str, Any]) -> bytes | None:
    raw = code.get("ZipFile")
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, bytes) else None


def _layer_arns(layers: list[Any]) -> list[str]:
    return [str(x["Arn"]) if isinstance(x, dict) else str(x) for x in layers]


def create_function(self: Any, spec: dict[str, Any]) -> Any:
    check_runtime(spec.get("Runtime"), "create")
    layer_bytes = layers_size(self, _layer_arns(spec.get("Layers") or []))
    code = _zip_of(spec.get("Code") or {})
    if code is not None:
        check_size(unzipped_size(code), layer_bytes)
        return _originals["create_function"](self, spec)
    fn = _originals["create_function"](self, spec)  # S3 code: moto has read it
    try:
        check_size(unzipped_size(getattr(fn, "code_bytes", b"")), layer_bytes)
    except Exception:
        self.delete_function(spec["FunctionName"], None)
        raise
    return fn


def update_function_configuration(
    self: Any, function_name: str, qualifier: Any, body: dict[str, Any]
) -> Any:
    fn = self.get_function(function_name, qualifier)
    check_runtime(body.get("Runtime") or fn.run_time, "update")
    if "Layers" in body:
        check_size(
            unzipped_size(fn.code_bytes), layers_size(self, _layer_arns(body["Layers"] or []))
        )
    return _originals["update_function_configuration"](self, function_name, qualifier, body)


def update_function_code(
    self: Any, function_name: str, qualifier: Any, body: dict[str, Any]
) -> Any:
    fn = self.get_function(function_name, qualifier)
    check_runtime(fn.run_time, "update")
    code = _zip_of(body)
    if code is not None:
        check_size(unzipped_size(code), layers_size(self, _layer_arns(fn.layers or [])))
    return _originals["update_function_code"](self, function_name, qualifier, body)


_REPLACEMENTS = {
    "create_function": create_function,
    "update_function_configuration": update_function_configuration,
    "update_function_code": update_function_code,
}


def apply() -> None:
    """Install the wrappers (idempotent)."""
    from moto.awslambda.models import LambdaBackend

    for name, replacement in _REPLACEMENTS.items():
        current = LambdaBackend.__dict__[name]
        if current is replacement:
            continue
        _originals[name] = current
        setattr(LambdaBackend, name, replacement)
