"""Bootstrap that runs one Lambda invocation in a child Python process (the local stack's runtime).

Started by :mod:`omics_toolkit.local.patches.lambda_exec` as::

    python -S -P lambda_runtime.py --handler app.handler --result /tmp/x/result.json

with ``PYTHONPATH`` = the function's extracted code directory, its layers' ``python`` directories
and the runtime's packages, in that order (``-S``: no site-packages of the environment, ``-P``: not
this file's directory). It reads the event (JSON) from
stdin, imports ``module.func`` from the handler string, calls it with a Lambda-like context and
writes one JSON document to the ``--result`` file (never to stdout, which belongs to the handler)::

    {"ok": true, "payload": <JSON result>}
    {"ok": false, "payload": {"errorMessage": str, "errorType": str, "requestId": str,
                              "stackTrace": [str, ...]}}

The error payload has the shape the AWS Python runtime returns, so Step Functions
``ErrorEquals`` on the exception class name works. Import errors use the runtime's own error
types (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``, ``Runtime.MarshalError``).

This module imports only the standard library: it runs before the handler's code is importable
and must not shadow anything the handler bundles.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The context object passed to handlers (the attributes the AWS Python runtime provides).

    Attributes:
        function_name, function_version, invoked_function_arn: from the function configuration.
        memory_limit_in_mb: configured memory, MB (int).
        aws_request_id: the invocation's request id.
        log_group_name, log_stream_name: CloudWatch Logs destination of this invocation.
    """

    def __init__(self, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("OMICS_TOOLKIT_LAMBDA_ARN", "")
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = env.get("OMICS_TOOLKIT_LAMBDA_REQUEST_ID", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (>= 0)."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(
    exc: BaseException, error_type: str | None = None, message: str | None = None
) -> dict[str, Any]:
    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": os.environ.get("OMICS_TOOLKIT_LAMBDA_REQUEST_ID", ""),
        "stackTrace": [line.rstrip("\n") for line in stack],
    }


def run(handler: str, event: Any, deadline_ms: int) -> dict[str, Any]:
    """Import and call ``handler`` ("module.func", module may be dotted) with ``event``.

    Returns:
        ``{"ok": bool, "payload": ...}`` as described in the module docstring.
    """
    module_name, _, func_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:  # noqa: BLE001 - reported like the AWS runtime does
        return {
            "ok": False,
            "payload": _error(
                exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            ),
        }
    func = getattr(module, func_name, None)
    if func is None:
        return {
            "ok": False,
            "payload": {
                "errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound",
                "requestId": os.environ.get("OMICS_TOOLKIT_LAMBDA_REQUEST_ID", ""),
                "stackTrace": [],
            },
        }
    try:
        result = func(event, LambdaContext(deadline_ms))
    except Exception as exc:  # noqa: BLE001 - an unhandled handler error is the payload
        traceback.print_exc()
        return {"ok": False, "payload": _error(exc)}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return {
            "ok": False,
            "payload": _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"),
        }
    return {"ok": True, "payload": result}


class _BlockedImports:
    """A ``sys.meta_path`` finder failing imports of packages whose binaries the runtime's OS
    cannot load (``OMICS_TOOLKIT_LAMBDA_BLOCKED_IMPORTS``: top-level name -> message), as the
    dynamic loader fails them in AWS (``GLIBC_2.xx not found``)."""

    def __init__(self, blocked: dict[str, str]) -> None:
        self.blocked = blocked

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        message = self.blocked.get(name.split(".", 1)[0])
        if message is not None:
            raise ImportError(message, name=name)
        return None


def install_blocked_imports() -> None:
    """Put :class:`_BlockedImports` first on ``sys.meta_path`` when the variable names any."""
    raw = os.environ.pop("OMICS_TOOLKIT_LAMBDA_BLOCKED_IMPORTS", "")
    blocked = json.loads(raw) if raw else {}
    if blocked:
        sys.meta_path.insert(0, _BlockedImports(blocked))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    import site

    site.setquit()  # ``exit``/``quit``/``help`` builtins, which ``-S`` leaves out
    site.sethelper()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--deadline-ms", type=int, required=True)
    args = parser.parse_args(argv)
    raw = sys.stdin.read()
    event = json.loads(raw) if raw.strip() else {}
    install_blocked_imports()
    outcome = run(args.handler, event, args.deadline_ms)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(args.result, "w", encoding="utf-8") as fh:
        json.dump(outcome, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
